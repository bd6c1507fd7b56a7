"""TFLite through onnx2tf: fp32, fp16 (fp16 weights, float32 I/O), full-integer int8 and dynamic-range int8.

Path: the fp32 ONNX export (reused when it already lies beside, else made) -> onnx2tf -> float32
.tflite -> fp16 weights, or one calibration pass over real images and MLIR quantization (float or
int8 I/O; see convert.py), or int8 weights with activations quantized at run time (`int8-dynamic`,
dynamic.py). Inputs and outputs are NHWC; runtimes should address tensors by index, as names may
differ between converters. The other route to the same format, litert-torch, is export/formats/litert_torch
(export/registry.py picks the route by the job's converter).

This package holds the format's entry (here: TFLiteExporter and the int8 float-op search) and its helpers:
- checks.py: what every .tflite is checked by, whichever converter made it (tensors read back, float outputs
  against the fp32 ONNX, int8 masks against it on held-out images with the floor), and that fp32 ONNX itself;
- convert.py: onnx2tf in a child process, int8 calibration and MLIR quantization, the per-process workspace;
- int8_ranges.py: per-image activation ranges, averaged; rewrite.py: small FlatBuffer rewrites;
- dynamic.py: dynamic-range int8 by ai-edge-quantizer, whose in-environment half is dynamic_quantizer.py;
- metadata.py: MediaPipe's TFLite metadata, whose in-environment half is metadata_writer.py;
- runner.py: the one LiteRT runner on the host (export checks, seg-bench, the Android demo's host tools).
The *_quantizer/_writer modules run in the converters' own environments (export/converter_env.py), as
`python -m export.formats.tflite.<module>`; nothing on the host side imports them.
"""
from __future__ import annotations

from pathlib import Path

from train.atomic import atomic_path

from ...contract import ModelContract, write_contract
from ...job import ExportJob, say
from . import convert
from .checks import check_floor, checked_contract, fp32_onnx
from .dynamic import RECIPE as DYNAMIC_RECIPE, dynamic_int8, tool_versions as dynamic_tool_versions
from .int8_ranges import TAIL_PERCENTILE
from .metadata import with_metadata
from .rewrite import float16_weights, op_outputs_in_order

AGREEMENT_GOAL = 0.98  # int8 below it keeps leading ops float (unless --int8-float-ops says how many)
FLOAT_OPS_STEPS = (0, 8, 16, 32, 64, 128)  # leading float ops, tried in turn (CamVid EfficientNet-B0: 0.951 ... 0.986)
MIN_GAIN = 0.01  # below the goal, more float ops must buy at least this much agreement
# the search keeps less than this share of the graph float: beyond it the "int8" model is mostly float, and its
# agreement would hide int8's miss (ResNeXt-50 on CamVid has 95 ops: the 128 step kept every one float)
MAX_FLOAT_SHARE = 0.5
STEM_NOTES = ("the first ", "every op int8")  # the contract note saying how many ops stayed float


class TFLiteExporter:
    name = "tflite"
    suffix = ".tflite"
    precisions = ("fp32", "fp16", "int8", "int8-dynamic")

    def export(self, job: ExportJob) -> Path:
        onnx_path = fp32_onnx(job)
        float32 = convert.onnx_to_tflite(onnx_path)
        notes = [f"converted from {onnx_path.name} by onnx2tf (flatbuffer_direct); NHWC I/O"]
        if job.precision == "int8":
            return export_int8(job, onnx_path, float32, notes)
        tools = convert.tool_versions()
        if job.precision == "fp16":
            model_bytes = float16_weights(float32.read_bytes())
            notes.append("fp16 weights behind DEQUANTIZE ops (unpacked to float32 at load); float32 I/O")
        elif job.precision == "int8-dynamic":
            model_bytes, tools = dynamic_int8(float32), dynamic_tool_versions()
            notes.append(f"int8-dynamic: int8 weights, activations quantized per image at run time "
                         f"(ai-edge-quantizer {DYNAMIC_RECIPE}; no calibration); float32 I/O")
        else:
            model_bytes = float32.read_bytes()
        with atomic_path(job.artifact) as tmp:
            tmp.write_bytes(with_metadata(model_bytes, job))
            contract = checked_contract(tmp, job, onnx_path, tools, notes)
        write_contract(contract, job.artifact)
        return job.artifact


def export_int8(job: ExportJob, onnx_path: Path, float32: Path, notes: list[str]) -> Path:
    """Full-integer int8; where its masks fall below AGREEMENT_GOAL on the held-out images, the graph's first ops
    (the full-resolution stem, where int8 lost most on CamVid: export/INT8.md) stay float, more at each step."""
    calibrated = convert.calibrate(float32, job.calibration, job.preprocess, job.imgsz)
    leading = op_outputs_in_order(float32.read_bytes())
    notes = notes + [f"int8: per-channel weights, per-tensor activations (per-image {TAIL_PERCENTILE}% ranges, "
                     f"averaged), calibrated on {job.calibration.origin}; {'int8' if job.int8_io else 'float32'} I/O"]
    tried = []  # (model bytes, contract) per step
    with atomic_path(job.artifact) as tmp:
        for kept in float_ops_steps(job.float_ops, measurable=bool(job.holdouts), ops=len(leading)):
            kept = min(kept, len(leading))  # --int8-float-ops beyond the graph: every op
            quantized = convert.quantize(calibrated, int8_io=job.int8_io, denylisted_nodes=leading[:kept] or None)
            model_bytes = with_metadata(quantized, job)
            tmp.write_bytes(model_bytes)
            stem = f"the first {kept} of {len(leading)} ops kept float" if kept else "every op int8"
            contract = checked_contract(tmp, job, onnx_path, convert.tool_versions(), notes + [stem], enforce_floor=False)
            contract.fidelity.float_ops = kept
            tried.append((model_bytes, contract))
            agreement = contract.fidelity.agreement
            if agreement is None or agreement >= AGREEMENT_GOAL:
                break
            say(f"tflite: int8 agreement {agreement:.4f} is below {AGREEMENT_GOAL} with {kept} float ops")
        model_bytes, contract = chosen(tried, job.float_ops)
        if model_bytes is not tried[-1][0]:  # an earlier step won: tmp holds the last one tried
            tmp.write_bytes(model_bytes)
        check_floor(contract.fidelity)
    write_contract(contract, job.artifact)
    return job.artifact


def chosen(tried: list, float_ops: int | None) -> tuple[bytes, ModelContract]:
    """The try that reached the goal (the last); else the fewest float ops within MIN_GAIN of the best agreement,
    as float ops cost time (ResNeXt-50 on CamVid: +0.003 for 1.7x the latency). The reason goes in the notes."""
    model_bytes, contract = tried[-1]
    agreement = contract.fidelity.agreement
    if float_ops is not None:
        why = f"--int8-float-ops {float_ops}"
    elif agreement is None:
        why = "agreement not measurable here: no held-out images"
    elif agreement >= AGREEMENT_GOAL:
        why = f"the fewest tried that reach {AGREEMENT_GOAL}"
    else:
        best = max(c.fidelity.agreement for _, c in tried)
        model_bytes, contract = next((b, c) for b, c in tried if c.fidelity.agreement >= best - MIN_GAIN)
        why = f"none tried reached {AGREEMENT_GOAL}: the fewest within {MIN_GAIN} of the best, {best:.4f}"
    contract.notes = [f"{note} ({why})" if note.startswith(STEM_NOTES) else note for note in contract.notes]
    return model_bytes, contract


def float_ops_steps(float_ops: int | None, measurable: bool, ops: int) -> tuple[int, ...]:
    """How many leading ops to keep float, in the order tried: the user's number, else every op int8 first, then
    float stems under MAX_FLOAT_SHARE of the graph's `ops`."""
    if float_ops is not None:
        return (float_ops,)
    return tuple(k for k in FLOAT_OPS_STEPS if k < ops * MAX_FLOAT_SHARE) if measurable else FLOAT_OPS_STEPS[:1]
