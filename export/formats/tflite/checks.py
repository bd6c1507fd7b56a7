"""The checks every .tflite passes, whichever converter made it (onnx2tf here, litert-torch in
export/formats/litert_torch), and the fp32 ONNX they are measured against; ExecuTorch's int8 uses the same
held-out agreement and floor.

- checked_contract: the contract of a .tflite just written, tensors read back from the file, float outputs
  checked against the fp32 ONNX on a random input, int8 masks against it on held-out real images;
- fp32_onnx: that reference, the ONNX export beside the artifact when it matches, else a fresh one;
- held_out_agreement, check_floor, describe_fidelity: int8 vs fp32 masks and the --min-agreement floor;
- isolated_check: a check that loads the new model runs in its own process (a native crash fails in one line).
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from train.checkpoint import file_sha256
from train.errors import UserError

from ...contract import (INT8_PRECISIONS, Fidelity, ModelContract, Quantization, TensorSpec, read_contract,
                         write_contract)
from ...errors import ConversionError, FidelityError
from ...integrity import display_path, verify_artifact
from ...isolated import IsolationError, run_isolated
from ...job import ExportJob, artifact_name, say
from ..onnx import OnnxExporter
from .convert import workspace
from .metadata import metadata_note, tool_versions as metadata_tools
from .runner import LiteRTRunner

# held-out images for the int8-vs-fp32 mask check that picks the float ops and goes into the contract; 8 or 16
# swung by +-0.015 on CamVid's small pedestrians (another split can still differ: export/INT8.md)
FIDELITY_IMAGES = 64
AGREEMENT_METRIC = "pooled person-mask IoU, int8 vs the fp32 ONNX, at the model's input size"
CHECK_TIMEOUT_S = 1800  # a check that loads the new model runs in its own process, within this time


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
    made = workspace() / f"onnx-{weights[:16]}" / beside.name
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
    from ...preprocess import output_to_logits

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
    from ...fidelity import compare_masks, list_images

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
    return workspace() / f"reference-logits-{key}.npy"


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
