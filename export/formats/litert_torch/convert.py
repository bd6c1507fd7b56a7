"""Run inside the LiteRT-Torch environment (export/converter_env.py), never in the main one:

    ENV/bin/python -m export.formats.litert_torch.convert MODEL.pt OUT.tflite --imgsz H W
        [--calib X.npy --quantizer pt2e|aeq]

MODEL.pt is the pickled U-Net (torch.save), X.npy the calibration inputs (N, H, W, 3) float32, already
normalized as the contract says. I/O is made NHWC (`to_channel_last_io`) like the onnx2tf route, so apps
feed both the same way. int8:
- pt2e: litert-torch's PT2EQuantizer (symmetric, per-channel weights, static activations) in PyTorch;
- aeq: ai-edge-quantizer's `static_wi8_ai8` recipe on the float .tflite, calibrated by its own interpreter.
Prints one JSON line with what it did; errors go to stderr, the last line being the one to show.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def convert(model_path: Path, out: Path, imgsz: tuple[int, int], calib: Path | None, quantizer: str) -> dict:
    from export.import_order import before_tensorflow

    before_tensorflow()  # litert_torch may load TensorFlow; dynamo must come first (export/import_order.py)
    import litert_torch
    import torch

    model = torch.load(model_path, weights_only=False).eval()
    nhwc = litert_torch.to_channel_last_io(model, args=[0], outputs=[0]).eval()
    example = (torch.zeros(1, *imgsz, 3),)
    samples = np.load(calib) if calib is not None else None
    if samples is not None and quantizer == "pt2e":
        edge = litert_torch.convert(pt2e_quantized(nhwc, example, samples), example,
                                    quant_config=_pt2e_config())
    else:
        edge = litert_torch.convert(nhwc, example)
    edge.export(str(out))
    if samples is not None and quantizer == "aeq":
        out.write_bytes(aeq_static_int8(out, samples))
    return {"litert-torch": litert_torch.__version__, "quantizer": quantizer if samples is not None else None}


def _pt2e_quantizer():
    from litert_torch.quantize import pt2e_quantizer

    return pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))


def _pt2e_config():
    from litert_torch.quantize.quant_config import QuantConfig

    return QuantConfig(pt2e_quantizer=_pt2e_quantizer())


def pt2e_quantized(module, example, samples: np.ndarray):
    import torch
    from torchao.quantization.pt2e import quantize_pt2e

    graph = torch.export.export(module, example).module()
    prepared = quantize_pt2e.prepare_pt2e(graph, _pt2e_quantizer())
    with torch.no_grad():
        for x in samples:
            prepared(torch.from_numpy(np.ascontiguousarray(x[None])))
    return quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)


def aeq_static_int8(float_model: Path, samples: np.ndarray) -> bytes:
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    signatures = Interpreter(model_path=str(float_model)).get_signature_list()
    (key, signature), = signatures.items()
    (input_name,) = signature["inputs"]
    qt = quantizer.Quantizer(str(float_model))
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    result = qt.calibrate({key: [{input_name: x[None]} for x in samples]})
    return bytes(qt.quantize(result, enable_progress_report=False).quantized_model)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.formats.litert_torch.convert")
    p.add_argument("model", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--imgsz", type=int, nargs=2, required=True)
    p.add_argument("--calib", type=Path, default=None)
    p.add_argument("--quantizer", choices=["pt2e", "aeq"], default="pt2e")
    args = p.parse_args(argv)
    try:
        report = convert(args.model, args.out, tuple(args.imgsz), args.calib, args.quantizer)
    except Exception as err:  # noqa: BLE001 - the parent shows this last line
        lines = str(err).strip().splitlines()
        print(f"{type(err).__name__}: {lines[0] if lines else ''}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
