"""ExecuTorch: torch.export -> XNNPACK-delegated `.pte`; fp32, or int8 by pt2e with XNNPACKQuantizer.

int8 is calibrated on the same real training images as the TFLite int8 (export/calibration.py) and its
masks are checked against the fp32 ONNX on held-out images, with the same floor (--min-agreement).
I/O stays NCHW float32 `input` -> `logits` like the ONNX export: the int8 graph quantizes inside.
The lowering runs in a spawned child (export/isolated.py): torch._dynamo must not load after TensorFlow
in one process (export/import_order.py), and a native crash ends the export in one line.

This package holds the format's entry (here: ExecuTorchExporter, the lowering and its checks) and runner.py,
the one ExecuTorch runner on the host (the export checks, export.fidelity, seg-bench's executorch backend).
The held-out agreement, the floor and the fp32 ONNX reference are the TFLite routes' (export/formats/tflite/checks.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from train.atomic import atomic_path

from ...contract import TensorSpec, write_contract
from ...errors import ConversionError
from ...job import ExportJob, say
from ..onnx import INPUT_NAME, OUTPUT_NAME
from ..tflite.checks import describe_fidelity, fp32_onnx, held_out_agreement, isolated_check

FP32_TOLERANCE = 1e-3  # max |logit difference| to the ONNX, relative to the largest logit


class ExecuTorchExporter:
    name = "executorch"
    suffix = ".pte"
    precisions = ("fp32", "int8")
    # not in `--format all` (hence not in seg-study) yet: it adds minutes per encoder on 2 cores (README "Routes")
    in_format_all = False

    def export(self, job: ExportJob) -> Path:
        onnx_path = fp32_onnx(job)  # the reference for the checks below
        h, w = job.imgsz
        calibration = job.calibration if job.precision == "int8" else None
        say(f"executorch: torch.export and XNNPACK lowering of {job.encoder} at {h}x{w} ({job.precision})")
        with atomic_path(job.artifact) as tmp:
            graph = isolated_check("the ExecuTorch lowering", lower_to_pte, job.model, job.imgsz, tmp,
                                   calibration, job.preprocess)
            say(f"executorch: {graph}")
            notes = [f"torch.export -> to_edge_transform_and_lower(XnnpackPartitioner) -> .pte; {graph}",
                     "NCHW float32 I/O"]
            if calibration is not None:
                notes.append("int8: pt2e with XNNPACKQuantizer (symmetric, per-channel weights, static per-tensor "
                             f"activations), calibrated on {calibration.origin}; quantize/dequantize inside the graph")
            contract = job.contract(self.name, job.artifact, TensorSpec(INPUT_NAME, [1, 3, h, w], "NCHW"),
                                    TensorSpec(OUTPUT_NAME, [1, 1, h, w], "NCHW"), tools=tool_versions(), notes=notes)
            if job.precision == "int8":
                contract.fidelity = held_out_agreement(tmp, contract, onnx_path, job, fmt=self.name)
                contract.notes.append(describe_fidelity(contract.fidelity))
            else:
                contract.notes.append(isolated_check("the ExecuTorch check against ONNX", check_against_onnx,
                                                     tmp, onnx_path, job.imgsz))
        write_contract(contract, job.artifact)
        return job.artifact


def lower_to_pte(model, imgsz: tuple[int, int], out: Path, calibration, preprocess) -> str:
    """In the child: export, (quantize,) lower to XNNPACK and write the program; returns a graph summary."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = (torch.zeros(1, 3, *imgsz),)
    model = model.eval()
    with torch.no_grad():
        program = torch.export.export(model, example)
        if calibration is not None:
            program = torch.export.export(quantize_pt2e(program.module(), calibration, preprocess, imgsz), example)
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        summary = delegation_summary(edge.exported_program().graph_module)
        Path(out).write_bytes(edge.to_executorch().buffer)
    return summary


def quantize_pt2e(graph_module, calibration, preprocess, imgsz):
    """Observers in, one pass over the calibration images, quantize/dequantize pairs out."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(graph_module, quantizer)
    for x in calibration.tensors(preprocess, imgsz):  # HWC float32, normalized like the runtime's input
        prepared(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None])))
    return convert_pt2e(prepared)


def delegation_summary(graph_module) -> str:
    """'XNNPACK runs 1 segment(s); 0 op(s) left to portable kernels': what the partitioner left outside."""
    calls = [str(n.target) for n in graph_module.graph.nodes
             if n.op == "call_function" and "getitem" not in str(n.target)]
    delegated = [t for t in calls if "call_delegate" in t]
    left = [t for t in calls if "call_delegate" not in t]
    if not delegated:
        raise ConversionError("the XNNPACK partitioner delegated nothing")
    names = sorted({t.replace("aten.", "").split(".")[0] for t in left})  # e.g. upsample_nearest2d
    rest = f" ({', '.join(names)})" if names else ""
    return f"XNNPACK runs {len(delegated)} segment(s); {len(left)} op(s) left to portable kernels{rest}"


def check_against_onnx(path: Path, onnx_path: Path, imgsz: tuple[int, int]) -> str:
    """In a child: the .pte and the ONNX on one random input; refuse an fp32 export that drifted."""
    import onnxruntime as ort

    from .runner import ExecuTorchRunner

    x = np.random.default_rng(0).standard_normal((1, 3, *imgsz), dtype=np.float32)
    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {INPUT_NAME: x})[0]
    got = ExecuTorchRunner(path).run(x)
    scale = max(1.0, float(np.abs(want).max()))
    max_diff = float(np.abs(got - want).max())
    if not max_diff <= FP32_TOLERANCE * scale:
        raise ConversionError(f"ExecuTorch output differs from ONNX by {max_diff:.3g} "
                              f"(tolerance {FP32_TOLERANCE * scale:.3g})")
    return f"|logit difference| to the fp32 ONNX on a random input: max {max_diff:.2e} (logits up to {scale:.1f})"


def tool_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("executorch", "torchao")}
