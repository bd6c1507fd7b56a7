"""ONNX: static batch 1, `input` -> `logits`, constant-size resizes, checked and simplified."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

from train.atomic import atomic_path

from ..contract import TensorSpec, write_contract
from ..errors import ConversionError
from ..job import ExportJob, say

INPUT_NAME, OUTPUT_NAME = "input", "logits"
OPSET = 18


class OnnxExporter:
    name = "onnx"
    suffix = ".onnx"
    precisions = ("fp32",)

    def export(self, job: ExportJob) -> Path:
        import onnx
        import onnxslim
        import torch

        h, w = job.imgsz
        with atomic_path(job.artifact) as tmp:
            say(f"onnx: tracing {job.encoder} at {h}x{w} with torch.export (dynamo)")
            example = torch.zeros(1, 3, h, w)
            with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):  # keep stdout for results
                program = torch.onnx.export(job.model, (example,), input_names=[INPUT_NAME],
                                            output_names=[OUTPUT_NAME], opset_version=OPSET, dynamo=True,
                                            optimize=True, verbose=False)
            model = program.model_proto
            onnx.checker.check_model(model, full_check=True)
            say("onnx: simplifying with onnxslim")
            model = onnxslim.slim(model)
            onnx.checker.check_model(model, full_check=True)
            check_static(model, (1, 3, h, w), (1, 1, h, w))
            onnx.save(model, tmp)
            max_diff = compare_with_torch(tmp, job.model, (h, w))
        contract = job.contract(
            self.name, job.artifact,
            TensorSpec(INPUT_NAME, [1, 3, h, w], "NCHW"), TensorSpec(OUTPUT_NAME, [1, 1, h, w], "NCHW"),
            tools={"onnx": onnx.__version__, "onnxslim": onnxslim.__version__, "opset": str(OPSET)},
            notes=[f"max |logit difference| to PyTorch on a random input: {max_diff:.2e}"],
        )
        write_contract(contract, job.artifact)
        return job.artifact


def check_static(model, input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> None:
    """Batch 1, fixed sizes, and every Resize sized by a constant (GPU delegate / NNAPI need it)."""
    def dims(value_info) -> tuple:
        return tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                     for d in value_info.type.tensor_type.shape.dim)

    graph = model.graph
    names = ([i.name for i in graph.input], [o.name for o in graph.output])
    if names != ([INPUT_NAME], [OUTPUT_NAME]):
        raise ConversionError(f"ONNX graph has inputs/outputs {names}, expected {INPUT_NAME}/{OUTPUT_NAME}")
    for value, want in ((graph.input[0], input_shape), (graph.output[0], output_shape)):
        if dims(value) != want:
            raise ConversionError(f"ONNX tensor {value.name} has shape {dims(value)}, expected {want}")
    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    for node in graph.node:
        if node.op_type != "Resize":
            continue
        size_inputs = [name for name in node.input[1:] if name]  # roi, scales, sizes
        dynamic = [name for name in size_inputs if name not in constants]
        if dynamic:
            raise ConversionError(f"ONNX Resize {node.name} is sized at run time by {dynamic}: "
                                  "TFLite's GPU delegate and NNAPI need constant sizes")


def compare_with_torch(path: Path, model, imgsz: tuple[int, int]) -> float:
    """Run the file in ONNX Runtime and PyTorch on one random input; refuse a broken export."""
    import onnxruntime as ort
    import torch

    x = np.random.default_rng(0).standard_normal((1, 3, *imgsz), dtype=np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    diff = float(np.abs(got - want).max())
    tolerance = 1e-3 * max(1.0, float(np.abs(want).max()))
    if not diff <= tolerance:
        raise ConversionError(f"ONNX Runtime output differs from PyTorch by {diff:.3g} (tolerance {tolerance:.3g})")
    return diff
