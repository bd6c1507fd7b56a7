"""Dynamic-range int8 TFLite: int8 weights; activations quantized to int8 at run time, per image, by the kernels.

    python -m export.tflite_dynamic FLOAT32.tflite OUT.tflite     # run in the converter environment

ai-edge-quantizer's `dynamic_wi8_afp32` recipe on the float .tflite, in the converter environment (it needs
ai-edge-litert 2.3; export/converter_env.py). No calibration: each conv's input range is that image's own, so
no image's outliers widen another's range, which is what kept full-integer int8 below 0.98 on CamVid's
pedestrians (export/INT8.md). XNNPACK runs such convs with int8 kernels (its "qd8" GEMMs; ARM sdot/i8mm on
phones); an NPU delegate wants the full-integer `int8` export instead.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from . import tflite_convert as convert
from .converter_env import converter_pins, ensure_env, run_in_env
from .job import say

RECIPE = "dynamic_wi8_afp32"


def dynamic_int8(float32: Path) -> bytes:
    """The float32 .tflite with int8 weights and dynamically quantized activations."""
    python = ensure_env()  # first: a missing environment fails before any work
    work = convert.workspace() / f"dynamic-int8-{time.monotonic_ns()}"
    work.mkdir()
    say(f"tflite: ai-edge-quantizer {RECIPE} on {float32.name}")
    run_in_env([str(python), "-m", "export.tflite_dynamic", str(float32), str(work / "model.tflite")], work,
               "ai-edge-quantizer")
    return (work / "model.tflite").read_bytes()


def tool_versions() -> dict[str, str]:
    """The onnx2tf route's versions, and the quantizer's from the converter environment."""
    return {**convert.tool_versions(), "ai-edge-quantizer": converter_pins()["ai-edge-quantizer"]}


def main(argv: list[str] | None = None) -> int:
    import json

    from ai_edge_quantizer import quantizer, recipe

    source, out = argv if argv is not None else sys.argv[1:]
    qt = quantizer.Quantizer(source)
    qt.load_quantization_recipe(getattr(recipe, RECIPE)())
    Path(out).write_bytes(bytes(qt.quantize(enable_progress_report=False).quantized_model))
    print(json.dumps({"recipe": RECIPE}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
