"""The TFLite model behind a contract, on the host: is the contract one the app can run, does it
describe the model, and what does the model output (LiteRT's Python interpreter).

Shared by install_model.py and write_golden.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from export.contract import ModelContract, TensorSpec, read_contract
from export.integrity import verify_artifact
from export.formats.tflite.runner import LiteRTRunner
from train.errors import UserError

APP_DTYPES = ("float32", "int8", "uint8")  # what the app's Java core feeds and reads


def read_app_contract(artifact: Path) -> ModelContract:
    """The contract beside `artifact`, refused unless the app can run it (TFLite, NHWC RGB input) and the
    artifact is the one it describes (size and sha256, checked before anything loads it)."""
    artifact = Path(artifact)
    if not artifact.is_file():
        raise UserError(f"model not found: {artifact}")
    contract = read_contract(artifact)
    verify_artifact(artifact, contract)
    problems = []
    if contract.format != "tflite":
        problems.append(f"format is {contract.format}, the app runs tflite")
    if contract.input.layout != "NHWC":
        problems.append(f"input layout is {contract.input.layout}, the app feeds NHWC")
    if len(contract.input.shape) != 4 or contract.input.shape[-1] != 3:
        problems.append(f"input shape {contract.input.shape} is not 1xHxWx3")
    for name, spec in (("input", contract.input), ("output", contract.output)):
        if spec.dtype not in APP_DTYPES:
            problems.append(f"{name} dtype {spec.dtype} is not one of {', '.join(APP_DTYPES)}")
        if (spec.dtype != "float32") != (spec.quantization is not None):
            problems.append(f"{name} is {spec.dtype} {'without' if spec.quantization is None else 'with'} quantization")
    if problems:
        raise UserError(f"{artifact.name}: the Android demo cannot use this contract: {'; '.join(problems)}")
    return contract


def load_checked(artifact: Path, contract: ModelContract) -> LiteRTRunner:
    """LiteRT runner for `artifact` (one thread), after checking its one input and output against the
    contract; `.run(tensor)` gives the model's raw output."""
    runner = LiteRTRunner(artifact, threads=1)
    for what, details, spec in (("input", runner.inputs, contract.input), ("output", runner.outputs, contract.output)):
        if len(details) != 1:
            raise UserError(f"{Path(artifact).name} has {len(details)} {what}s; the app expects exactly one")
        mismatch = _mismatch(details[0], spec)
        if mismatch:
            raise UserError(f"{Path(artifact).name}: the contract's {what} does not describe the model: {mismatch}")
    return runner


def _mismatch(detail: dict, spec: TensorSpec) -> str | None:
    shape, dtype = list(detail["shape"]), np.dtype(detail["dtype"]).name
    if shape != list(spec.shape) or dtype != spec.dtype:
        return f"contract says {spec.shape} {spec.dtype}, model has {shape} {dtype}"
    if spec.quantization is not None:
        scale, zero_point = detail["quantization"]
        q = spec.quantization
        if zero_point != q.zero_point or not np.isclose(scale, q.scale, rtol=1e-6, atol=0):
            return f"contract quantization ({q.scale}, {q.zero_point}) != model ({scale}, {zero_point})"
    return None
