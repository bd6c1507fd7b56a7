// seg-demo's page: reads the model contract beside the artifact, runs the artifact with ONNX Runtime Web (.onnx)
// or LiteRT.js (.tflite) on photos or the webcam, and draws the person mask over them. Nothing leaves the page.
// Pre- and post-processing follow export/preprocess.py (the reference): half-pixel bilinear resize without
// antialias, /pixel_scale, (x - mean) / std, the contract's layout and quantization; logits resized bilinearly
// to the image, then thresholded. window.segDemo is the hook seg-bench's browser backends and the tests use.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const LOAD_TIMEOUT_MS = 120000;

// ---------------------------------------------------------------- contract: pixels -> tensor, tensor -> mask

function sampleAxis(sizeIn, sizeOut) {
  const frac = new Float32Array(sizeOut), lo = new Int32Array(sizeOut), hi = new Int32Array(sizeOut);
  const scale = sizeIn / sizeOut;
  for (let i = 0; i < sizeOut; i++) {
    const pos = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), sizeIn - 1);
    lo[i] = Math.floor(pos);
    hi[i] = Math.min(lo[i] + 1, sizeIn - 1);
    frac[i] = pos - lo[i];
  }
  return { frac, lo, hi };
}

// Bilinear, half-pixel centres, no antialias; `src` holds `stride` values per pixel, the first `channels` are used.
function resizeBilinear(src, inH, inW, stride, channels, outH, outW) {
  const ys = sampleAxis(inH, outH), xs = sampleAxis(inW, outW);
  const out = new Float32Array(outH * outW * channels);
  for (let y = 0; y < outH; y++) {
    const fy = ys.frac[y], row0 = ys.lo[y] * inW, row1 = ys.hi[y] * inW;
    for (let x = 0; x < outW; x++) {
      const fx = xs.frac[x], a = (row0 + xs.lo[x]) * stride, b = (row0 + xs.hi[x]) * stride;
      const c = (row1 + xs.lo[x]) * stride, d = (row1 + xs.hi[x]) * stride, o = (y * outW + x) * channels;
      for (let k = 0; k < channels; k++) {
        const top = src[a + k] * (1 - fx) + src[b + k] * fx;
        const bottom = src[c + k] * (1 - fx) + src[d + k] * fx;
        out[o + k] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

const heightWidth = (spec) => (spec.layout === 'NCHW' ? [spec.shape[2], spec.shape[3]] : [spec.shape[1], spec.shape[2]]);
const channelsOf = (spec) => (spec.layout === 'NCHW' ? spec.shape[1] : spec.shape[3]);
const roundHalfEven = (v) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));  // numpy's np.round

// RGBA pixels (height x width) -> the exact input the artifact takes, in its dtype.
function inputTensor(rgba, height, width, contract) {
  const spec = contract.input, [h, w] = heightWidth(spec);
  const { mean, std, pixel_scale: scale } = contract.preprocess;
  const hwc = resizeBilinear(rgba, height, width, 4, 3, h, w);
  const x = new Float32Array(h * w * 3), plane = h * w, nchw = spec.layout === 'NCHW';
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) x[nchw ? c * plane + i : i * 3 + c] = (hwc[i * 3 + c] / scale - mean[c]) / std[c];
  }
  return encodeInput(x, spec);
}

function encodeInput(x, spec) {
  if (spec.dtype === undefined || spec.dtype === 'float32') return x;
  if (spec.dtype === 'float16') {
    if (typeof Float16Array !== 'function') throw new Error('this browser has no Float16Array for the fp16 input');
    return Float16Array.from(x);
  }
  const { scale, zero_point: zero } = spec.quantization;
  const [low, high, Typed] = spec.dtype === 'int8' ? [-128, 127, Int8Array] : [0, 255, Uint8Array];
  const q = new Typed(x.length);
  for (let i = 0; i < x.length; i++) q[i] = Math.min(high, Math.max(low, roundHalfEven(x[i] / scale) + zero));
  return q;
}

// The artifact's raw output -> person logits (channel 0, dequantized; probabilities turned into logits).
function outputLogits(raw, contract) {
  const spec = contract.output, [h, w] = heightWidth(spec), channels = channelsOf(spec);
  const expected = spec.shape.reduce((a, b) => a * b, 1);
  if (raw.length !== expected) {
    throw new Error(`the model gave ${raw.length} output values, its contract's shape [${spec.shape}] has ${expected}`);
  }
  const q = spec.quantization, probability = contract.postprocess.kind === 'probability';
  const logits = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) {
    let v = Number(raw[spec.layout === 'NCHW' ? i : i * channels]);
    if (q) v = (v - q.zero_point) * q.scale;
    if (probability) {
      const p = Math.min(Math.max(v, 1e-7), 1 - 1e-7);
      v = Math.log(p / (1 - p));
    }
    logits[i] = v;
  }
  return { logits, h, w };
}

function personMask({ logits, h, w }, height, width, threshold) {
  const limit = Math.log(threshold / (1 - threshold));
  const full = h === height && w === width ? logits : resizeBilinear(logits, h, w, 1, 1, height, width);
  const mask = new Uint8Array(height * width);
  for (let i = 0; i < mask.length; i++) mask[i] = full[i] > limit ? 1 : 0;
  return mask;
}

// ---------------------------------------------------------------- runtimes: load(bytes) -> {run(typed) -> typed}

// wasm-feature-detect's SIMD probe (v128.const + i8x16.popcnt)
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
  65, 0, 253, 15, 253, 98, 11]);
const threadsPossible = () => self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';

async function loadOrt(bytes, contract, backend, threads) {
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

async function loadLiteRt(bytes, contract, backend, threads) {
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

// ---------------------------------------------------------------- page state

const state = { models: [], runtimes: {}, contract: null, model: null, runtime: null, busy: false, stream: null };

function setState(name) {
  document.body.dataset.state = name;
}

function fail(message) {
  const text = String(message).split('\n')[0];
  $('message').textContent = text;
  $('message').hidden = false;
  window.segDemo.error = text;
  setState('error');
  return { error: text };
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s ${what}`)), ms); });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function fetchOk(url, what) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`could not fetch ${what} (HTTP ${response.status})`);
  return response;
}

// Load model number `model` on `backend` with `threads`: the page's own start and seg-bench both call this.
async function load({ model = 0, backend = 'wasm', threads = navigator.hardwareConcurrency || 1 } = {}) {
  const entry = state.models[model];
  if (!entry) return fail(`no model number ${model} on this page`);
  $('stat-model').textContent = entry.name;
  if (entry.problem) return fail(entry.problem);  // the server's check, as seg-bench says it
  if (backend === 'webgpu' && !navigator.gpu) return fail('WebGPU is not available in this browser: choose wasm');
  setState('loading');
  try {
    state.contract = await (await fetchOk(entry.contract, `the contract of ${entry.name}`)).json();
    const bytes = new Uint8Array(await (await fetchOk(entry.artifact, entry.name)).arrayBuffer());
    const loader = entry.format === 'onnx' ? loadOrt : loadLiteRt;
    state.runtime = await withTimeout(loader(bytes, state.contract, backend, threads), LOAD_TIMEOUT_MS, `loading ${entry.name}`);
  } catch (err) {
    const runtime = entry.format === 'onnx' ? 'onnxruntime-web' : 'LiteRT.js';
    return fail(`${entry.name}: ${runtime} cannot run it: ${err && err.message ? err.message : err}`);
  }
  const rt = state.runtime;
  rt.version = rt.version || state.runtimes[entry.format === 'onnx' ? 'onnxruntime-web' : '@litertjs/core'] || '?';
  state.model = entry;
  const [h, w] = heightWidth(state.contract.input);
  $('stat-runtime').textContent = `${rt.runtime} ${rt.version}`;
  $('stat-backend').textContent = backend;
  $('stat-wasm').textContent = `${rt.simd}; ${rt.threads > 1 ? `${rt.threads} threads` : '1 thread'}`;
  $('stat-input').textContent = `${w}x${h} ${state.contract.input.layout} ${state.contract.input.dtype || 'float32'}`;
  setState('ready');
  return {
    runtime: rt.runtime, version: rt.version, backend, threads: rt.threads, simd: rt.simd,
    threads_possible: threadsPossible(), cross_origin_isolated: self.crossOriginIsolated === true,
    user_agent: navigator.userAgent,
  };
}

// ---------------------------------------------------------------- segmenting photos and webcam frames

const view = $('view');
const context = view.getContext('2d', { willReadFrequently: true });

async function segment(source, width, height) {
  view.width = width;
  view.height = height;
  context.drawImage(source, 0, 0, width, height);
  const frame = context.getImageData(0, 0, width, height);
  const start = performance.now();
  const input = inputTensor(frame.data, height, width, state.contract);
  const before = performance.now();
  const raw = await state.runtime.run(input);
  const inferMs = performance.now() - before;
  const mask = personMask(outputLogits(raw, state.contract), height, width, state.contract.postprocess.threshold);
  const px = frame.data;
  for (let i = 0; i < mask.length; i++) {  // tint the person
    if (mask[i]) {
      px[4 * i] = 0.5 * px[4 * i] + 20;
      px[4 * i + 1] = 0.5 * px[4 * i + 1] + 110;
      px[4 * i + 2] = 0.5 * px[4 * i + 2] + 70;
    }
  }
  context.putImageData(frame, 0, 0);
  const frameMs = performance.now() - start;
  $('stat-infer').textContent = `${inferMs.toFixed(1)} ms`;
  $('stat-frame').textContent = `${frameMs.toFixed(1)} ms`;
  view.hidden = false;
  $('hint').hidden = true;
  return { mask, width, height, inferMs, frameMs };
}

async function segmentFile(file) {
  if (!state.runtime || state.busy) return;
  stopCamera();
  state.busy = true;
  setState('busy');
  try {
    const bitmap = await createImageBitmap(file);
    const result = await segment(bitmap, bitmap.width, bitmap.height);
    bitmap.close();
    window.segDemo.last = { width: result.width, height: result.height, mask: toBase64(result.mask),
                            infer_ms: result.inferMs, frame_ms: result.frameMs, file: file.name };
    setState('done');
  } catch (err) {
    fail(`${file.name}: ${err && err.message ? err.message : err}`);
  } finally {
    state.busy = false;
  }
}

async function startCamera() {
  if (state.stream) return stopCamera();
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    return fail(`no webcam: ${err.message || err}`);
  }
  const video = $('video');
  video.srcObject = state.stream;
  await video.play();
  $('camera').textContent = 'Stop webcam';
  const step = async () => {
    if (!state.stream) return;
    if (!state.busy && video.videoWidth) {
      state.busy = true;
      try {
        await segment(video, video.videoWidth, video.videoHeight);
      } catch (err) {
        stopCamera();
        fail(`webcam frame: ${err.message || err}`);
      }
      state.busy = false;
    }
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

function stopCamera() {
  if (!state.stream) return;
  state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  $('camera').textContent = 'Webcam';
}

// ---------------------------------------------------------------- seg-bench's hook: raw tensors in and out

function fromBase64(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const binary = atob(text), bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBase64(bytes) {
  if (bytes.toBase64) return bytes.toBase64();
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const TYPED = { float32: Float32Array, int8: Int8Array, uint8: Uint8Array };

// One run on a raw input (base64 of the contract's dtype, row-major): the timed span is the runtime's
// input tensor in, run, output out as an array the page owns; base64 on either side is outside it.
async function runBase64(text) {
  try {
    const bytes = fromBase64(text);
    const Typed = TYPED[state.contract.input.dtype || 'float32'];
    if (!Typed) throw new Error(`the bench does not feed ${state.contract.input.dtype} inputs`);
    const data = new Typed(bytes.buffer, bytes.byteOffset, bytes.byteLength / Typed.BYTES_PER_ELEMENT);
    const start = performance.now();
    const raw = await state.runtime.run(data);
    const ms = performance.now() - start;
    return { output: toBase64(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)), ms };
  } catch (err) {
    return fail(`${state.model ? state.model.name : 'model'}: run failed: ${err && err.message ? err.message : err}`);
  }
}

window.segDemo = { load, runBase64, last: null, error: null, ready: null };

// ---------------------------------------------------------------- start

function wireControls() {
  $('file').addEventListener('change', (event) => event.target.files[0] && segmentFile(event.target.files[0]));
  $('camera').addEventListener('click', startCamera);
  const stage = $('stage');
  stage.addEventListener('dragover', (event) => { event.preventDefault(); stage.classList.add('over'); });
  stage.addEventListener('dragleave', () => stage.classList.remove('over'));
  stage.addEventListener('drop', (event) => {
    event.preventDefault();
    stage.classList.remove('over');
    const file = event.dataTransfer.files[0];
    if (file) segmentFile(file);
  });
  const reload = () => {  // one runtime per page: a new choice is a new page
    const next = new URLSearchParams(location.search);
    next.set('model', $('model').value);
    next.set('backend', $('backend').value);
    location.search = next.toString();
  };
  $('model').addEventListener('change', reload);
  $('backend').addEventListener('change', reload);
}

async function start() {
  wireControls();
  try {
    const listing = await (await fetchOk('/models.json', 'the model list')).json();
    state.models = listing.models;
    state.runtimes = listing.runtimes;
  } catch (err) {
    return fail(`seg-demo's server did not answer: ${err.message || err}`);
  }
  state.models.forEach((entry, index) => $('model').add(new Option(entry.name, String(index))));
  const model = Number(params.get('model') || 0), backend = params.get('backend') || 'wasm';
  $('model').value = String(model);
  $('backend').value = backend;
  setState('idle');
  if (params.get('autoload') === '0') return null;  // seg-bench loads with its own settings
  const threads = Number(params.get('threads') || 0) || navigator.hardwareConcurrency || 1;
  return load({ model, backend, threads });
}

window.addEventListener('unhandledrejection', (event) => fail(event.reason && event.reason.message ? event.reason.message : event.reason));
window.segDemo.ready = start();
