"""Reference pre- and post-processing, exactly as the contract describes it.

This numpy code is the specification the Android core (Java) is tested against: bilinear
resize with half-pixel centres and no antialiasing (torch `interpolate(..., align_corners=False)`,
TF `resize(half_pixel_centers=True)`), then scaling and per-channel normalization.
"""
from __future__ import annotations

import numpy as np

from .contract import ModelContract, Postprocess, Preprocess


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an HxW or HxWxC array with half-pixel-centre bilinear sampling, in float32."""
    src = image.astype(np.float32)
    in_h, in_w = src.shape[:2]
    ys, y0, y1 = _sample_axis(in_h, height)
    xs, x0, x1 = _sample_axis(in_w, width)
    if src.ndim == 3:
        ys, xs = ys[:, None, None], xs[None, :, None]
    else:
        ys, xs = ys[:, None], xs[None, :]
    top = src[y0][:, x0] * (1 - xs) + src[y0][:, x1] * xs
    bottom = src[y1][:, x0] * (1 - xs) + src[y1][:, x1] * xs
    return (top * (1 - ys) + bottom * ys).astype(np.float32)


def _sample_axis(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = size_in / size_out
    pos = (np.arange(size_out, dtype=np.float64) + 0.5) * scale - 0.5
    pos = np.clip(pos, 0, size_in - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, size_in - 1)
    return (pos - lo).astype(np.float32), lo, hi


def normalize(rgb: np.ndarray, pre: Preprocess) -> np.ndarray:
    mean = np.asarray(pre.mean, np.float32)
    std = np.asarray(pre.std, np.float32)
    return ((rgb.astype(np.float32) / np.float32(pre.pixel_scale)) - mean) / std


def to_input_tensor(rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    """HxWx3 uint8 RGB image -> the exact input tensor the artifact takes (batch 1)."""
    h, w = contract.input_hw
    x = normalize(resize_bilinear(rgb, h, w), contract.preprocess)  # HWC float32
    if contract.input.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    x = x[None]
    quant = contract.input.quantization
    if quant is not None:
        info = np.iinfo(np.dtype(contract.input.dtype))
        q = np.round(x / quant.scale) + quant.zero_point
        return np.clip(q, info.min, info.max).astype(contract.input.dtype)
    return x.astype(contract.input.dtype)


def output_to_logits(raw: np.ndarray, contract: ModelContract) -> np.ndarray:
    """The artifact's raw output -> HxW float32 person logits (dequantized, channel 0)."""
    out = raw.astype(np.float32)
    quant = contract.output.quantization
    if quant is not None:
        out = (out - quant.zero_point) * np.float32(quant.scale)
    out = out.reshape(contract.output.shape)
    out = out[0, 0] if contract.output.layout == "NCHW" else out[0, :, :, 0]
    if contract.postprocess.kind == "probability":
        p = np.clip(out, 1e-7, 1 - 1e-7)
        out = np.log(p / (1 - p))
    return out


def logits_to_mask(logits: np.ndarray, post: Postprocess, size: tuple[int, int] | None = None) -> np.ndarray:
    """HxW logits -> boolean person mask, optionally resized (bilinear on logits) to `size`."""
    if size is not None and tuple(size) != logits.shape:
        logits = resize_bilinear(logits, *size)
    logit_threshold = np.log(post.threshold / (1 - post.threshold))
    return logits > logit_threshold
