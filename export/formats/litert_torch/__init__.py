"""TFLite through Google's LiteRT-Torch (`seg-export --format tflite --converter litert-torch`): fp32 and int8.

PyTorch -> litert_torch.convert -> .tflite with NHWC I/O, run as a subprocess in the converter's own
environment (export/converter_env.py: its packages conflict with onnx2tf's). int8 is calibrated on the same
real training images as the onnx2tf route, by one of two quantizers (convert.py):
`pt2e` (PT2EQuantizer in PyTorch, the default: the more faithful on the default model, README "Routes to the
phone") or `aeq` (ai-edge-quantizer's static_wi8_ai8 on the float .tflite). Input and output dtypes
and quantization are read back from the file into the contract, so int8 I/O is described, never guessed.
The checks are the onnx2tf route's: fp32 against the ONNX, int8 masks against fp32 with the same floor
(export/formats/tflite/checks.py), and export/registry.py sends `--converter litert-torch` jobs here.

This package holds the route's entry (here: export_litert_torch) and convert.py, the conversion itself, which
runs as `python -m export.formats.litert_torch.convert` in the LiteRT-Torch environment and is never imported.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from train.atomic import atomic_path

from ...contract import write_contract
from ...converter_env import converter_pins, ensure_env, run_in_env
from ...job import ExportJob, say
from ..tflite import convert
from ..tflite.checks import checked_contract, fp32_onnx
from ..tflite.metadata import with_metadata

CONVERTER = "litert-torch"
QUANTIZERS = ("pt2e", "aeq")
DEFAULT_QUANTIZER = "pt2e"  # masks closer to fp32 than aeq's on CCP val and test (README "Routes to the phone")


def export_litert_torch(job: ExportJob, quantizer: str = DEFAULT_QUANTIZER) -> Path:
    import torch

    python = ensure_env()  # first: a missing environment fails before any work
    onnx_path = fp32_onnx(job)  # the reference for the checks
    work = convert.workspace() / f"litert-torch-{job.precision}-{time.monotonic_ns()}"
    work.mkdir()
    torch.save(job.model, work / "model.pt")
    h, w = job.imgsz
    cmd = [str(python), "-m", "export.formats.litert_torch.convert", str(work / "model.pt"), str(work / "model.tflite"),
           "--imgsz", str(h), str(w)]
    int8 = job.precision == "int8"
    if int8:
        np.save(work / "calib.npy", np.stack(list(job.calibration.tensors(job.preprocess, job.imgsz))))
        cmd += ["--calib", str(work / "calib.npy"), "--quantizer", quantizer]
    say(f"tflite: litert-torch is converting {job.encoder} at {h}x{w} ({job.precision}"
        f"{', ' + quantizer if int8 else ''})")
    report = run_in_env(cmd, work, CONVERTER)
    notes = [f"converted from PyTorch by litert-torch {report['litert-torch']} (torch.export); NHWC I/O"]
    if int8:
        notes.append(f"int8 by {quantizer_description(quantizer)}, calibrated on {job.calibration.origin}")
    with atomic_path(job.artifact) as tmp:
        tmp.write_bytes(with_metadata((work / "model.tflite").read_bytes(), job))
        contract = checked_contract(tmp, job, onnx_path, tool_versions(), notes)
        if int8:
            contract.notes.append(f"I/O: input {contract.input.dtype}, output {contract.output.dtype} "
                                  "(quantization in the tensors)")
    write_contract(contract, job.artifact)
    return job.artifact


def quantizer_description(quantizer: str) -> str:
    return {"aeq": "ai-edge-quantizer static_wi8_ai8 (int8 weights and activations, min/max)",
            "pt2e": "litert-torch PT2EQuantizer (symmetric, per-channel weights, static activations)"}[quantizer]


def tool_versions() -> dict[str, str]:
    """The converter environment's versions (not the main environment's LiteRT)."""
    pins = converter_pins()
    return {"converter": CONVERTER, **{name: pins[name] for name in ("litert-torch", "ai-edge-quantizer",
                                                                      "ai-edge-litert")}}
