// The model contract in the page: pixels -> the exact input tensor, the raw output -> a person mask. It follows
// export/preprocess.py (the reference): half-pixel bilinear resize without antialias, /pixel_scale,
// (x - mean) / std, the contract's layout and quantization; logits resized bilinearly to the image, then
// thresholded.

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

export const heightWidth = (spec) => (spec.layout === 'NCHW' ? [spec.shape[2], spec.shape[3]] : [spec.shape[1], spec.shape[2]]);
const channelsOf = (spec) => (spec.layout === 'NCHW' ? spec.shape[1] : spec.shape[3]);
const roundHalfEven = (v) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));  // numpy's np.round

// RGBA pixels (height x width) -> the exact input the artifact takes, in its dtype.
export function inputTensor(rgba, height, width, contract) {
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
export function outputLogits(raw, contract) {
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

export function personMask({ logits, h, w }, height, width, threshold) {
  const limit = Math.log(threshold / (1 - threshold));
  const full = h === height && w === width ? logits : resizeBilinear(logits, h, w, 1, 1, height, width);
  const mask = new Uint8Array(height * width);
  for (let i = 0; i < mask.length; i++) mask[i] = full[i] > limit ? 1 : 0;
  return mask;
}
