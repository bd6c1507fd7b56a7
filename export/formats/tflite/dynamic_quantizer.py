"""Run inside the converter environment (export/converter_env.py), never in the main one: ai-edge-quantizer's
dynamic-range recipe on a float32 .tflite, for export/formats/tflite/dynamic.py.

    ENV/bin/python -m export.formats.tflite.dynamic_quantizer FLOAT32.tflite OUT.tflite

Prints one JSON line with what it did.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .dynamic import RECIPE


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
