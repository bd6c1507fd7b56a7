"""TFLite through onnx2tf: fp32, fp16 (fp16 weights, float32 I/O), full-integer int8 and dynamic-range int8.

Path: the fp32 ONNX export (reused when it already lies beside, else made) -> onnx2tf -> float32
.tflite -> fp16 weights, or one calibration pass over real images and MLIR quantization (float or
int8 I/O; see export/tflite_convert.py), or int8 weights with activations quantized at run time
(`int8-dynamic`, export/tflite_dynamic.py). Inputs and outputs are NHWC; runtimes should address
tensors by index, as names may differ between converters.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from train.atomic import atomic_path
from train.checkpoint import file_sha256
from train.errors import UserError

from .. import tflite_convert as convert
from ..contract import INT8_PRECISIONS, Fidelity, ModelContract, Quantization, TensorSpec, read_contract, write_contract
from ..errors import ConversionError, FidelityError
from ..int8_ranges import TAIL_PERCENTILE
from ..integrity import display_path, verify_artifact
from ..isolated import IsolationError, run_isolated
from ..job import ExportJob, artifact_name, say
from ..litert_runner import LiteRTRunner
from ..tflite_dynamic import RECIPE as DYNAMIC_RECIPE, dynamic_int8, tool_versions as dynamic_tool_versions
from ..tflite_metadata import metadata_note, tool_versions as metadata_tools, with_metadata
from ..tflite_rewrite import float16_weights, op_outputs_in_order
from .onnx import OnnxExporter

# held-out images for the int8-vs-fp32 mask check that picks the float ops and goes into the contract; 8 or 16
# swung by +-0.015 on CamVid's small pedestrians (another split can still differ: export/INT8.md)
FIDELITY_IMAGES = 64
AGREEMENT_METRIC = "pooled person-mask IoU, int8 vs the fp32 ONNX, at the model's input size"
AGREEMENT_GOAL = 0.98  # int8 below it keeps leading ops float (unless --int8-float-ops says how many)
FLOAT_OPS_STEPS = (0, 8, 16, 32, 64, 128)  # leading float ops, tried in turn (CamVid EfficientNet-B0: 0.951 ... 0.986)
MIN_GAIN = 0.01  # below the goal, more float ops must buy at least this much agreement
# the search keeps less than this share of the graph float: beyond it the "int8" model is mostly float, and its
# agreement would hide int8's miss (ResNeXt-50 on CamVid has 95 ops: the 128 step kept every one float)
MAX_FLOAT_SHARE = 0.5
STEM_NOTES = ("the first ", "every op int8")  # the contract note saying how many ops stayed float
CHECK_TIMEOUT_S = 1800  # a check that loads the new model runs in its own process, within this time


class TFLiteExporter:
    name = "tflite"
    suffix = ".tflite"
    precisions = ("fp32", "fp16", "int8", "int8-dynamic")

    def export(self, job: ExportJob) -> Path:
        if job.converter == "litert-torch":  # the other route to the same format, its own module
            from .litert_torch import DEFAULT_QUANTIZER, export_litert_torch

            return export_litert_torch(job, job.quantizer or DEFAULT_QUANTIZER)
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


def checked_contract(tmp: Path, job: ExportJob, onnx_path: Path, tools: dict, notes: list[str],
                     enforce_floor: bool = True) -> ModelContract:
    """The contract of the .tflite just written at `tmp` (by either converter, its metadata in): tensors read from
    the file, int8 masks held to the floor against the fp32 ONNX on real images, float outputs checked against the
    ONNX."""
    input_spec, output_spec = describe(tmp, job.imgsz)
    contract = job.contract("tflite", job.artifact, input_spec, output_spec, tools={**tools, **metadata_tools()},
                            notes=notes)
    contract.notes.append(metadata_note(contract))
    if job.precision in INT8_PRECISIONS:  # a random input says little about int8: real images do
        contract.fidelity = held_out_agreement(tmp, contract, onnx_path, job, enforce_floor=enforce_floor)
        contract.notes.append(describe_fidelity(contract.fidelity))
    else:
        contract.notes.append(isolated_check("the TFLite check against ONNX", check_against_onnx,
                                             tmp, contract, onnx_path, job.precision))
    return contract


def isolated_check(what: str, check, *args):
    """Run a check that loads the new model in a child process: a native crash or hang fails the export in one line."""
    try:
        return run_isolated(check, *args, timeout=CHECK_TIMEOUT_S)
    except IsolationError as err:
        raise ConversionError(f"{what} {err}") from None


def _intact(path: Path, job: ExportJob | None = None) -> bool:
    """An ONNX with its contract, matching its checksum (and, with `job`, the same weights and size)."""
    if not path.is_file():
        return False
    try:
        contract = read_contract(path)
        verify_artifact(path, contract)
    except UserError as err:
        say(f"tflite: not reusing {path.name}: {err}")
        return False
    return job is None or (contract.source == job.source and contract.input_hw == tuple(job.imgsz))


def fp32_onnx(job: ExportJob) -> Path:
    """The fp32 ONNX of the same weights and size: the artifact beside if it matches, else a fresh one."""
    beside = job.artifact.with_name(artifact_name(job.encoder, job.imgsz, "fp32", OnnxExporter.suffix))
    if _intact(beside, job):
        say(f"tflite: reusing {beside.name}")
        return beside
    weights = job.source.checkpoint_sha256 or f"seed{job.source.init_seed}"
    made = convert.workspace() / f"onnx-{weights[:16]}" / beside.name
    if _intact(made):
        return made
    onnx_job = dataclasses.replace(job, precision="fp32", int8_io=False, artifact=made)
    return OnnxExporter().export(onnx_job)


def describe(path: Path, imgsz: tuple[int, int]) -> tuple[TensorSpec, TensorSpec]:
    """Input/output specs read back from the file by LiteRT, refusing unexpected shapes."""
    try:
        runner = LiteRTRunner(path, allocate=False)
    except UserError as err:  # the converter's own output: a conversion failure, not the user's
        raise ConversionError(str(err)) from None
    h, w = imgsz
    specs = []
    for details, want in ((runner.inputs, [1, h, w, 3]), (runner.outputs, [1, h, w, 1])):
        if len(details) != 1:
            raise ConversionError(f"TFLite model has {len(details)} inputs/outputs where one was expected")
        detail = details[0]
        shape = [int(v) for v in detail["shape"]]
        if shape != want:
            raise ConversionError(f"TFLite tensor {detail['name']} has shape {shape}, expected NHWC {want}")
        dtype = np.dtype(detail["dtype"]).name
        scale, zero_point = detail["quantization"]
        quant = Quantization(float(scale), int(zero_point)) if dtype in ("int8", "uint8") else None
        specs.append(TensorSpec(detail["name"], shape, "NHWC", dtype, quant))
    return specs[0], specs[1]


def check_against_onnx(path: Path, contract: ModelContract, onnx_path: Path, precision: str) -> str:
    """Run both on one random input; refuse a float export that drifted from the ONNX."""
    import onnxruntime as ort

    h, w = contract.input_hw
    x = np.random.default_rng(0).standard_normal((1, h, w, 3), dtype=np.float32)
    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.transpose(0, 3, 1, 2)})[0][0, 0]
    from ..preprocess import output_to_logits

    got = output_to_logits(LiteRTRunner(path).run(x), contract)
    scale = max(1.0, float(np.abs(want).max()))
    max_diff, mean_diff = float(np.abs(got - want).max()), float(np.abs(got - want).mean())
    tolerance = {"fp32": 1e-3, "fp16": 5e-2}[precision]
    if max_diff > tolerance * scale:
        raise ConversionError(f"TFLite {precision} output differs from ONNX by {max_diff:.3g} "
                              f"(tolerance {tolerance * scale:.3g})")
    return (f"|logit difference| to the fp32 ONNX on a random input: max {max_diff:.2e}, mean {mean_diff:.2e} "
            f"(logits up to {scale:.1f})")


def held_out_agreement(path: Path, contract: ModelContract, onnx_path: Path, job: ExportJob,
                       fmt: str = "tflite", enforce_floor: bool = True) -> Fidelity:
    """int8 vs fp32 person masks on a few held-out real images; FidelityError below `job.min_agreement`.

    The artifact is still the temporary file here: raising leaves neither it nor its contract behind."""
    from ..fidelity import compare_masks, list_images

    if not job.holdouts:  # untrained weights, or a checkpoint without held-out images and the floor at 0
        say(f"{fmt}: int8 agreement with fp32 not measured (no held-out images)")
        return Fidelity(AGREEMENT_METRIC, None, job.min_agreement, 0, None)
    write_contract(contract, path)  # beside the temporary file, so the runner can read it
    sets = []
    for folder in job.holdouts:
        images = list_images(folder, FIDELITY_IMAGES)
        stats = isolated_check("the int8 fidelity check", compare_masks, onnx_path, path, images,
                               reference_cache(onnx_path, images))
        sets.append({"held_out": display_path(folder), "agreement": float(stats["pooled_iou"]),
                     "images": int(stats["images"])})
    worst = min(sets, key=lambda entry: entry["agreement"])  # the floor holds on every set: the weakest decides
    fidelity = Fidelity(AGREEMENT_METRIC, worst["agreement"], job.min_agreement, worst["images"], worst["held_out"],
                        sets=sets if len(sets) > 1 else None)
    say(f"{fmt}: {describe_fidelity(fidelity)}")
    if enforce_floor:
        check_floor(fidelity)
    return fidelity


def reference_cache(onnx_path: Path, images: list[Path]) -> Path:
    """Where the fp32 ONNX's logits on these images are kept for the next float-op step (this export's workspace)."""
    # the sha256 its contract records (checked when fp32_onnx() picked it): no ~250 MB hash at every step; only
    # contracts older than checksums make us hash the file
    onnx_sha = read_contract(onnx_path).artifact_sha256 or file_sha256(onnx_path)
    key = hashlib.sha256("\n".join([onnx_sha, *map(str, images)]).encode()).hexdigest()[:16]
    return convert.workspace() / f"reference-logits-{key}.npy"


def check_floor(fidelity: Fidelity) -> None:
    if fidelity.agreement is not None and fidelity.agreement < fidelity.min_agreement:
        raise FidelityError(f"int8 masks agree with fp32 at {fidelity.agreement:.4f} (pooled IoU on {fidelity.images} "
                            f"held-out images of {fidelity.held_out}), below --min-agreement {fidelity.min_agreement:g}: "
                            "no artifact written (see export/INT8.md; --min-agreement 0 keeps it anyway)")


def describe_fidelity(fidelity: Fidelity) -> str:
    floor = f"floor {fidelity.min_agreement:g}" if fidelity.min_agreement > 0 else "no floor (--min-agreement 0)"
    if fidelity.agreement is None:
        return f"int8 agreement with fp32 not measured: no held-out images ({floor})"
    if fidelity.sets:
        each = ", ".join(f"{entry['held_out']} {entry['agreement']:.4f} ({entry['images']})" for entry in fidelity.sets)
        return f"int8 vs fp32 ONNX person masks, pooled IoU per held-out set: {each}; lowest {fidelity.agreement:.4f} ({floor})"
    return (f"int8 vs fp32 ONNX person masks on {fidelity.images} held-out images of {fidelity.held_out}: "
            f"pooled IoU {fidelity.agreement:.4f} ({floor})")
