// The .tflite runtime adapter: LiteRT.js (npm @litertjs/core, served from /vendor/litert/), wasm with XNNPACK.
// load(bytes, contract, backend, threads) -> {runtime, version, backend, threads, simd, run(typed) -> typed}.

import { SIMD_PROBE, threadsPossible } from './wasm_features.js';

export async function loadLiteRt(bytes, contract, backend, threads) {
  if (contract.input.dtype === 'int8' || contract.output.dtype === 'int8') {  // LiteRT.js 2.5: float32, int32, uint8 only
    throw new Error('LiteRT.js has no int8 tensors for its inputs and outputs: export without --int8-io for the browser');
  }
  const litert = await import('/vendor/litert/index.js');
  const relaxed = await litert.supportsFeature('relaxedSimd');
  const threaded = threads > 1 && relaxed && threadsPossible();  // LiteRT.js threads need relaxed SIMD too
  await litert.loadLiteRt('/vendor/litert/wasm/', { threads: threaded });
  const model = await litert.loadAndCompile(bytes, { accelerator: backend, cpuOptions: { numThreads: threaded ? threads : 1 } });
  const ins = model.getInputDetails(), outs = model.getOutputDetails();
  const sameSize = (a, b) => a.reduce((p, v) => p * v, 1) === b.reduce((p, v) => p * v, 1);
  if (ins.length !== 1 || !sameSize(Array.from(ins[0].shape), contract.input.shape)) {
    throw new Error(`the model's inputs [${ins.map((d) => `[${d.shape}]`)}] are not its contract's [${contract.input.shape}]`);
  }
  const index = outs.findIndex((d) => sameSize(Array.from(d.shape), contract.output.shape));
  if (index < 0) throw new Error(`no output of the model has the contract's shape [${contract.output.shape}]`);
  return {
    runtime: 'LiteRT.js', version: null, backend, threads: backend === 'wasm' ? (threaded ? threads : 1) : null,
    simd: relaxed ? 'SIMD128 + relaxed SIMD' : (WebAssembly.validate(SIMD_PROBE) ? 'SIMD128 (compat build)' : 'none'),
    async run(data) {
      let input = new litert.Tensor(data, contract.input.shape);  // copies into the wasm heap
      if (backend !== 'wasm') input = await input.moveTo(backend);
      let results;
      try {
        results = await model.run(input);
      } finally {
        input.delete();
      }
      const host = backend === 'wasm' ? results[index] : await results[index].copyTo('wasm');
      const values = host.toTypedArray();  // a copy out of the wasm heap
      if (host !== results[index]) host.delete();
      results.forEach((t) => t.delete());
      return values;
    },
  };
}
