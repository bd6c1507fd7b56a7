"""Dynamic-range int8 TFLite: int8 weights; activations quantized to int8 at run time, per image, by the kernels.

ai-edge-quantizer's `dynamic_wi8_afp32` recipe on the float .tflite, in the converter environment (it needs
ai-edge-litert 2.3; export/converter_env.py), by dynamic_quantizer.py there. No calibration: each conv's input
range is that image's own, so no image's outliers widen another's range, which is what kept full-integer int8
below 0.98 on CamVid's pedestrians (export/INT8.md). XNNPACK runs such convs with int8 kernels (its "qd8"
GEMMs; ARM sdot/i8mm on phones); an NPU delegate wants the full-integer `int8` export instead.
"""
from __future__ import annotations

import time
from pathlib import Path

from ...converter_env import converter_pins, ensure_env, run_in_env
from ...job import say
from .convert import tool_versions as onnx2tf_versions, workspace

RECIPE = "dynamic_wi8_afp32"


def dynamic_int8(float32: Path) -> bytes:
    """The float32 .tflite with int8 weights and dynamically quantized activations."""
    python = ensure_env()  # first: a missing environment fails before any work
    work = workspace() / f"dynamic-int8-{time.monotonic_ns()}"
    work.mkdir()
    say(f"tflite: ai-edge-quantizer {RECIPE} on {float32.name}")
    run_in_env([str(python), "-m", "export.formats.tflite.dynamic_quantizer", str(float32), str(work / "model.tflite")],
               work, "ai-edge-quantizer")
    return (work / "model.tflite").read_bytes()


def tool_versions() -> dict[str, str]:
    """The onnx2tf route's versions, and the quantizer's from the converter environment."""
    return {**onnx2tf_versions(), "ai-edge-quantizer": converter_pins()["ai-edge-quantizer"]}
