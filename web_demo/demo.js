// seg-demo's page: reads the model contract beside the artifact, runs the artifact with ONNX Runtime Web (.onnx)
// or LiteRT.js (.tflite) on photos or the webcam, and draws the person mask over them. Nothing leaves the page.
// The contract's pre- and post-processing are in contract.js, each runtime's adapter in ort_web.js and
// litert_web.js. window.segDemo is the hook seg-bench's browser backends and the tests use.

import { heightWidth, inputTensor, outputLogits, personMask } from './contract.js';
import { loadLiteRt } from './litert_web.js';
import { loadOrt } from './ort_web.js';
import { threadsPossible } from './wasm_features.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const LOAD_TIMEOUT_MS = 120000;

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
