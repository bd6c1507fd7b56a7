"""`export_model`: one checkpoint (or seeded untrained weights) -> one artifact plus its contract."""
from __future__ import annotations

from pathlib import Path

from train.checkpoint import find_best_checkpoint, load_checkpoint
from train.default_model import resolve_checkpoint_arg
from train.errors import UserError
from train.zoo import build_unet, default_arch, normalization_for, short_name, smp_encoder_name

from .calibration import resolve_calibration
from .contract import INT8_PRECISIONS, Source, contract_path
from .integrity import portable_path
from .job import ExportJob, artifact_name, say
from .registry import check_converter, get_exporter

UNTRAINED_SEED = 0
DEFAULT_MIN_AGREEMENT = 0.98  # int8: pooled person-mask IoU with fp32 on held-out images, below which export fails
DEFAULT_IMGSZ = (512, 512)  # the study's training size, for untrained exports
_WARNED_UNTRAINED: set[str] = set()


def export_model(checkpoint: Path | None, encoder: str, fmt: str, precision: str = "fp32", *, out_dir: Path,
                 imgsz: tuple[int, int] | None = None, calib_dir: Path | None = None, calib_count: int | None = None,
                 force: bool = False, int8_io: bool = False, min_agreement: float = DEFAULT_MIN_AGREEMENT,
                 holdout_dir: Path | list[Path] | None = None, converter: str | None = None, quantizer: str | None = None,
                 float_ops: int | None = None) -> Path:
    """Export and return the artifact path; its contract is `contract_path(artifact)`.

    `checkpoint` None: the newest best.pt seg-train left for `encoder`, else untrained weights
    (seeded, loudly announced: useful for latency only).

    int8: the person masks are compared with fp32's on held-out images (`holdout_dir`: one folder or several,
    default the checkpoint's val/images); below `min_agreement` on any of them the export fails (export.errors.FidelityError) and
    leaves nothing behind. `min_agreement=0` is the explicit way to keep an unchecked or unfaithful int8.

    `converter`: the route for formats that have several (tflite: onnx2tf, the default, or litert-torch);
    `quantizer`: litert-torch int8's quantizer (pt2e, the default, or aeq).
    `float_ops`: onnx2tf int8's leading ops kept float (None: none, or the fewest that bring the held-out agreement
    to 0.98; export/INT8.md).
    """
    encoder = smp_encoder_name(encoder)
    exporter = get_exporter(fmt, precision)
    if int8_io and not (fmt == "tflite" and precision == "int8"):
        raise UserError("int8 input/output is only offered for tflite int8")
    converter = check_converter(fmt, converter, precision)
    route = _route_tag(converter, quantizer, precision, int8_io)
    ckpt = _resolve_checkpoint(checkpoint, encoder, imgsz)
    imgsz = _check_imgsz(imgsz or (tuple(ckpt.meta.imgsz) if ckpt else DEFAULT_IMGSZ))
    out_dir = Path(out_dir)
    artifact = out_dir / artifact_name(encoder, imgsz, precision, exporter.suffix, int8_io, route)
    if (artifact.exists() or contract_path(artifact).exists()) and not force:
        raise UserError(f"{artifact} already exists (pass --force to replace it)")
    min_agreement = _check_min_agreement(min_agreement)
    calib = resolve_calibration(ckpt, calib_dir, calib_count) if precision == "int8" else None
    holdouts = resolve_holdout(ckpt, holdout_dir, min_agreement) if precision in INT8_PRECISIONS else []

    if ckpt is None:
        import torch

        torch.manual_seed(UNTRAINED_SEED)
        model = build_unet(encoder, arch=default_arch(encoder)).eval()  # the decoder a run of this encoder gets
        norm = normalization_for(encoder)
        source = Source(encoder=encoder, checkpoint=None, checkpoint_sha256=None, trained=False,
                        init_seed=UNTRAINED_SEED)
    else:
        model, norm = ckpt.build_model(), ckpt.meta.normalization
        # relative to the contract's folder (no machine path); the sha256 identifies it wherever it is
        source = Source(encoder=encoder, checkpoint=portable_path(ckpt.path, out_dir), checkpoint_sha256=ckpt.sha256(),
                        trained=True, dataset=ckpt.meta.dataset, person_class=ckpt.meta.person_class,
                        epoch=ckpt.meta.epoch, metrics=dict(ckpt.meta.metrics))
    job = ExportJob(model=model, encoder=encoder, imgsz=imgsz, precision=precision, artifact=artifact,
                    normalization=norm, source=source, checkpoint=ckpt, int8_io=int8_io, calibration=calib,
                    holdouts=tuple(holdouts), min_agreement=min_agreement, converter=converter or "onnx2tf",
                    quantizer=quantizer, float_ops=_check_float_ops(float_ops, fmt, precision, converter))
    return exporter.export(job)


def _route_tag(converter: str, quantizer: str | None, precision: str, int8_io: bool) -> str:
    """The artifact name's converter tag: '' for the default route, 'litert-torch' (+ '-aeq') for the other."""
    from .formats.litert_torch import DEFAULT_QUANTIZER, QUANTIZERS

    if converter != "litert-torch":
        if quantizer is not None:
            raise UserError("--int8-quantizer chooses litert-torch's quantizer: add --converter litert-torch")
        return ""
    if int8_io:
        raise UserError("--int8-io is onnx2tf's option: litert-torch int8 models take the I/O types its "
                        "quantizer gives them, and the contract says which")
    if quantizer is not None and (quantizer not in QUANTIZERS or precision != "int8"):
        raise UserError(f"--int8-quantizer takes {' or '.join(QUANTIZERS)}, for int8 only")
    return "litert-torch" + (f"-{quantizer}" if quantizer not in (None, DEFAULT_QUANTIZER) else "")


def _check_float_ops(value: int | None, fmt: str, precision: str, converter: str | None) -> int | None:
    if value is None:
        return None
    if (fmt, precision, converter or "onnx2tf") != ("tflite", "int8", "onnx2tf"):
        raise UserError("--int8-float-ops goes with --format tflite --precision int8 (the onnx2tf route)")
    if int(value) != value or value < 0:
        raise UserError(f"--int8-float-ops must be a whole number of ops, 0 or more, not {value}")
    return int(value)


def _check_min_agreement(value: float) -> float:
    value = float(value)
    if not 0 <= value <= 1:
        raise UserError(f"--min-agreement must be between 0 and 1 (0: no floor), not {value:g}")
    return value


def resolve_holdout(checkpoint, holdout_dir: Path | list[Path] | None, min_agreement: float) -> list[Path]:
    """Held-out image folders for the int8 agreement check: --holdout DIR (repeatable: the floor holds on each),
    else the checkpoint's val/images.

    Untrained weights have nothing worth comparing ([]: not measured, latency only). A trained checkpoint
    whose held-out images are not here is refused unless the floor is 0."""
    if holdout_dir is not None:
        folders = [Path(d) for d in (holdout_dir if isinstance(holdout_dir, (list, tuple)) else [holdout_dir])]
        for folder in folders:
            if not folder.is_dir():
                raise UserError(f"held-out image folder not found: {folder}")
        return folders
    if checkpoint is None:
        return []
    val = Path(checkpoint.meta.data_dir) / "val" / "images"
    if val.is_dir():
        return [val]
    if min_agreement > 0:
        raise UserError(f"int8 must agree with fp32 on held-out images (--min-agreement {min_agreement:g}), but the "
                        f"checkpoint's {val} is not on this machine: pass --holdout DIR with real pictures, "
                        "or --min-agreement 0 to export it unchecked")
    return []


def default_out_dir(encoder: str) -> Path:
    return Path("runs/export") / short_name(smp_encoder_name(encoder))


def _resolve_checkpoint(checkpoint: Path | str | None, encoder: str, imgsz=None):
    checkpoint = resolve_checkpoint_arg(checkpoint)
    if checkpoint == "none":  # asked for untrained weights: latency runs
        say(f"untrained {encoder} weights (torch seed {UNTRAINED_SEED}), as asked: latency only, no useful masks")
        return None
    if checkpoint is not None:
        return load_checkpoint(checkpoint, expect_encoder=encoder, imgsz=tuple(imgsz) if imgsz else None)
    found = find_best_checkpoint(encoder)
    if found is not None:
        say(f"using {found} (the newest best.pt seg-train left for {encoder})")
        return load_checkpoint(found, expect_encoder=encoder)
    if encoder not in _WARNED_UNTRAINED:  # once per process, not once per format of --format all
        _WARNED_UNTRAINED.add(encoder)
        say("!" * 72)
        say(f"WARNING: no checkpoint given and no runs/train/**/best.pt holds {encoder}.")
        say(f"WARNING: exporting UNTRAINED weights (torch seed {UNTRAINED_SEED}): good for latency, useless for masks.")
        say("!" * 72)
    return None


def _check_imgsz(imgsz) -> tuple[int, int]:
    h, w = (int(v) for v in imgsz)
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise UserError(f"image size {h}x{w} must be positive multiples of 32 (the U-Net downsamples 5 times)")
    return h, w
