"""Activation ranges for int8 that a few extreme pixels do not set.

TensorFlow Lite's calibrator keeps, per tensor, the min and the max over every calibration image, so one
frame with an extreme activation widens that tensor's int8 step for good, and more images make int8
worse. On CamVid's street scenes (EfficientNet-B0, 256x352, 101 val images) the int8 person mask agreed
with fp32 at IoU 0.830 with 64 calibration images and 0.575 with all 367 (export/INT8.md). Here each image
gives its own range (the 0.001% tails cut) and the ranges are averaged over the images: 0.949 with 64.
TF's calibrator still marks which tensors take ranges (a short pass); the values written are these.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from .rewrite import read_model, write_model

TAIL_PERCENTILE = 99.999  # per image; 99.99 cut real signal (0.935) and 99.9 the logits themselves (IoU 0)
SAMPLES_PER_TENSOR = 200_000  # a fixed random subset per tensor and image keeps the percentiles cheap


def ranges_to_replace(calibrated: bytes) -> dict[str, tuple[float, float]]:
    """The tensors TF's calibrator gave a range, with that range: the ones the MLIR quantizer will use."""
    model = read_model(calibrated)
    return {t.name.decode(): (float(t.quantization.min[0]), float(t.quantization.max[0]))
            for graph in model.subgraphs for t in graph.tensors
            if t.quantization is not None and t.quantization.min is not None and len(t.quantization.min) == 1}


def averaged_ranges(float32: Path, inputs: Iterable[np.ndarray], names: set[str],
                    percentile: float = TAIL_PERCENTILE) -> dict[str, tuple[float, float]]:
    """Per image, every named tensor's (100 - p, p) percentiles; then the mean of each over the images."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # no delegate: XNNPACK would keep intermediate tensors to itself
    interpreter = Interpreter(model_path=str(float32), experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    index = {d["name"]: d["index"] for d in interpreter.get_tensor_details() if d["name"] in names}
    feed = interpreter.get_input_details()[0]["index"]
    rng = np.random.default_rng(0)
    sums = {name: np.zeros(2) for name in index}
    count = 0
    for x in inputs:
        interpreter.set_tensor(feed, x[None].astype(np.float32))
        interpreter.invoke()
        for name, i in index.items():
            values = interpreter.get_tensor(i).ravel()
            if values.size > SAMPLES_PER_TENSOR:
                values = values[rng.integers(0, values.size, SAMPLES_PER_TENSOR)]
            sums[name] += np.percentile(values, [100 - percentile, percentile])
        count += 1
    return {name: (float(lo / count), float(hi / count)) for name, (lo, hi) in sums.items()} if count else {}


def with_ranges(calibrated: bytes, ranges: dict[str, tuple[float, float]]) -> bytes:
    """The calibrated model with these ranges in place of the calibrator's (tensors not named keep theirs)."""
    model = read_model(calibrated)
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            name = tensor.name.decode()
            if name in ranges and tensor.quantization is not None and tensor.quantization.min is not None:
                lo, hi = ranges[name]
                tensor.quantization.min = np.array([lo], np.float32)
                tensor.quantization.max = np.array([hi], np.float32)
    return write_model(model)
