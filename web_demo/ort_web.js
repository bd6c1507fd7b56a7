// The .onnx runtime adapter: ONNX Runtime Web (npm onnxruntime-web, served from /vendor/ort/), wasm or webgpu.
// load(bytes, contract, backend, threads) -> {runtime, version, backend, threads, simd, run(typed) -> typed}.

import { SIMD_PROBE } from './wasm_features.js';

export async function loadOrt(bytes, contract, backend, threads) {
  const ort = await import(backend === 'webgpu' ? '/vendor/ort/ort.webgpu.min.mjs' : '/vendor/ort/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/vendor/ort/';  // the npm package's files, served locally: never a CDN
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [backend], graphOptimizationLevel: 'all' });
  const { input, output } = contract;
  if (!session.inputNames.includes(input.name) || !session.outputNames.includes(output.name)) {
    throw new Error(`the model has inputs [${session.inputNames}] and outputs [${session.outputNames}], ` +
                    `its contract names ${input.name} -> ${output.name}`);
  }
  return {
    runtime: 'onnxruntime-web', version: ort.env.versions.web, backend,
    threads: backend === 'wasm' ? ort.env.wasm.numThreads : null,
    simd: WebAssembly.validate(SIMD_PROBE) ? 'SIMD128 (ort-wasm-simd-threaded)' : 'none',
    async run(data) {
      const results = await session.run({ [input.name]: new ort.Tensor(input.dtype || 'float32', data, input.shape) });
      const out = results[output.name];
      return backend === 'wasm' ? out.data : await out.getData();  // wasm: a copy owned by the page
    },
  };
}
