"""One export job: the model to convert, where it goes, and the contract fields every format shares."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.checkpoint import Checkpoint, package_versions
from train.zoo import Normalization, short_name

from .contract import ModelContract, Postprocess, Preprocess, Source, TensorSpec

INT8_IO_SUFFIX = "-io8"


def artifact_name(encoder: str, imgsz: tuple[int, int], precision: str, suffix: str, int8_io: bool = False,
                  route: str = "") -> str:
    """`efficientnet-b0-128x128-int8-io8.tflite`: encoder, input size, precision, integer I/O, and the converter
    where a format has several (`-litert-torch`; the default converter adds nothing)."""
    io = INT8_IO_SUFFIX if int8_io else ""
    return f"{short_name(encoder)}-{imgsz[0]}x{imgsz[1]}-{precision}{io}{'-' + route if route else ''}{suffix}"


def say(message: str) -> None:
    """Progress for long conversions, on stderr so stdout stays for results."""
    print(f"[seg-export {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class ExportJob:
    model: Any  # torch U-Net in eval mode on CPU
    encoder: str  # smp encoder name
    imgsz: tuple[int, int]  # (H, W) of the exported input
    precision: str
    artifact: Path  # final path; exporters write it atomically
    normalization: Normalization
    source: Source
    checkpoint: Checkpoint | None = None
    int8_io: bool = False  # int8 input/output tensors (TFLite int8 only)
    calibration: Any = None  # export.calibration.Calibration, for int8
    holdouts: tuple[Path, ...] = ()  # int8: held-out image sets for the mask agreement with fp32, the floor held
    # on every one (empty: not measurable)
    min_agreement: float = 0.0  # int8: the floor that agreement must reach (0: explicitly unchecked)
    converter: str = "onnx2tf"  # tflite: onnx2tf or litert-torch
    quantizer: str | None = None  # litert-torch int8: aeq or pt2e (None: the default)
    float_ops: int | None = None  # onnx2tf int8: leading ops kept float (None: the fewest that reach the goal)

    @property
    def preprocess(self) -> Preprocess:
        norm = self.normalization
        return Preprocess(mean=list(norm.mean), std=list(norm.std), pixel_scale=norm.pixel_scale)

    @property
    def postprocess(self) -> Postprocess:
        return Postprocess()  # every export: one channel, the person logit, cut at sigmoid 0.5

    def contract(self, fmt: str, artifact: Path, input: TensorSpec, output: TensorSpec, *,
                 tools: dict[str, str], notes: list[str] | None = None) -> ModelContract:
        versions = package_versions()
        return ModelContract(
            format=fmt, precision=self.precision, artifact=artifact.name, input=input, output=output,
            preprocess=self.preprocess, postprocess=self.postprocess, source=self.source,
            tools={"torch": versions["torch"], "smp": versions["smp"], **tools}, notes=list(notes or []),
        )
