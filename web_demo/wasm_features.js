// What this browser's WebAssembly can do, as both runtime adapters and the page report it: SIMD, threads.

// wasm-feature-detect's SIMD probe (v128.const + i8x16.popcnt)
export const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
  65, 0, 253, 15, 253, 98, 11]);
export const threadsPossible = () => self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
