"""`seg-export`: turn a seg-train checkpoint into ONNX, TFLite and Core ML artifacts with their contracts."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from train.errors import UserError, cli_entry

from .errors import ConversionError, describe_error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seg-export", description=__doc__)  # the help texts name the defaults
    p.add_argument("--encoder", default=None,
                   help="resnext50 | resnet152 | efficientnet-b0 | mobilenetv3-small ... or an smp encoder name "
                        "(default: the one --checkpoint was trained with)")
    p.add_argument("--checkpoint", default=None,
                   help="a seg-train checkpoint, 'default' (the shipped person model) or 'none' "
                        "(untrained, latency only); unset: the newest runs/train/**/best.pt for the encoder, else untrained")
    p.add_argument("--format", required=True, help="onnx | tflite | coreml | executorch | all")
    p.add_argument("--precision", default=None,
                   help="fp32 | fp16 | int8 | int8-dynamic (tflite: int8 weights, activations quantized per image at "
                        "run time, no calibration) (default: the format's first; with --format all: every one)")
    p.add_argument("--imgsz", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="input size (default: the checkpoint's training size, 512 512 untrained)")
    p.add_argument("--calib", type=Path, default=None,
                   help="int8 calibration images (default: the checkpoint's train/images)")
    p.add_argument("--calib-count", type=int, default=None, help="calibration images to use (default 32)")
    p.add_argument("--int8-io", action="store_true", help="tflite int8 with int8 input/output tensors")
    p.add_argument("--converter", default=None,
                   help="tflite's route: onnx2tf (default) or litert-torch (Google's PyTorch converter, in its own "
                        "environment made on first use; see README 'Routes to the phone')")
    p.add_argument("--int8-quantizer", default=None,
                   help="litert-torch int8: pt2e (PT2EQuantizer, default: the more faithful here) or aeq "
                        "(ai-edge-quantizer static_wi8_ai8)")
    p.add_argument("--int8-float-ops", type=_whole_number, default=None, metavar="N",
                   help="tflite int8 (onnx2tf): keep the graph's first N ops float (default: none, or the fewest of "
                        "8/16/32/64/128 that bring the held-out agreement to 0.98; 0: every op int8, as NPUs want)")
    p.add_argument("--min-agreement", type=float, default=None,
                   help="int8: the pooled person-mask IoU with fp32 on held-out images below which the export fails "
                        "and leaves nothing (default 0.98; 0: export without the floor)")
    p.add_argument("--holdout", type=Path, action="append", default=None,
                   help="int8: held-out images for that check (default: the checkpoint's val/images); repeat it to "
                        "hold the floor on several sets (e.g. CCP val and the portraits)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/export/ENCODER)")
    p.add_argument("--force", action="store_true", help="replace existing artifacts")
    return p.parse_args(argv)


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of ops, not {text!r}") from None


@dataclass
class Outcome:
    fmt: str
    precision: str
    int8_io: bool
    artifact: Path | None = None
    seconds: float = 0.0
    error: str | None = None


@cli_entry("seg-export")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    args.encoder = args.encoder or checkpoint_encoder(args.checkpoint)
    from .api import default_out_dir, export_model
    from .registry import get_exporter

    out_dir = args.out or default_out_dir(args.encoder)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file, not a folder")
    from .api import DEFAULT_MIN_AGREEMENT

    min_agreement = DEFAULT_MIN_AGREEMENT if args.min_agreement is None else args.min_agreement
    options = dict(out_dir=out_dir, imgsz=tuple(args.imgsz) if args.imgsz else None, calib_dir=args.calib,
                   calib_count=args.calib_count, force=args.force, min_agreement=min_agreement,
                   holdout_dir=args.holdout, float_ops=args.int8_float_ops)
    if args.format != "all":
        precision = args.precision or _default_precision(args.format)
        get_exporter(args.format, precision)
        try:
            artifact = export_model(args.checkpoint, args.encoder, args.format, precision, int8_io=args.int8_io,
                                    converter=args.converter, quantizer=args.int8_quantizer, **options)
        except ConversionError as err:
            print(f"seg-export: {args.format} {precision} failed: {err}", file=sys.stderr)
            return 1
        print(artifact)
        return 0

    if args.converter or args.int8_quantizer:
        raise UserError("--format all exports every format by its default route: --converter and --int8-quantizer "
                        "go with one --format")
    from train.checkpoint import load_checkpoint
    from train.zoo import smp_encoder_name

    from train.default_model import resolve_checkpoint_arg

    encoder = smp_encoder_name(args.encoder)  # fail once here, not once per format
    checkpoint = resolve_checkpoint_arg(args.checkpoint)
    if checkpoint not in (None, "none"):
        load_checkpoint(checkpoint, expect_encoder=encoder, imgsz=tuple(args.imgsz) if args.imgsz else None)
    outcomes = [_run_one(args, fmt, precision, int8_io, options) for fmt, precision, int8_io in _matrix(args)]
    print_table(outcomes)
    return 1 if any(o.error for o in outcomes) else 0


def checkpoint_encoder(checkpoint: str | None) -> str:
    """The encoder a trained checkpoint carries (its record says it all: encoder, size, decoder)."""
    from train.checkpoint import load_checkpoint
    from train.default_model import resolve_checkpoint_arg

    resolved = resolve_checkpoint_arg(checkpoint)
    if resolved in (None, "none"):
        raise UserError("give --encoder, or --checkpoint with a trained model (it carries its encoder)")
    return load_checkpoint(resolved).meta.encoder


def exit_on_sigterm() -> None:
    """`kill` ends seg-export like Ctrl-C would: temporary files removed, converters stopped."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _default_precision(fmt: str) -> str:
    from .registry import EXPORTERS

    if fmt not in EXPORTERS:
        raise UserError(f"unknown format {fmt!r}: use {', '.join(EXPORTERS)} or all")
    return EXPORTERS[fmt].precisions[0]


def _matrix(args) -> list[tuple[str, str, bool]]:
    from .registry import export_matrix

    jobs = [job for job in export_matrix(args.precision) if job[2] or not args.int8_io]
    if not jobs:
        raise UserError(f"no format exports {args.precision}")
    return jobs


def _run_one(args, fmt: str, precision: str, int8_io: bool, options: dict) -> Outcome:
    from .api import export_model

    outcome, start = Outcome(fmt, precision, int8_io), time.perf_counter()
    if (fmt, precision) != ("tflite", "int8"):
        options = {**options, "float_ops": None}  # --int8-float-ops is the TFLite int8's alone
    try:
        outcome.artifact = export_model(args.checkpoint, args.encoder, fmt, precision, int8_io=int8_io, **options)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # --format all goes on past any failing format and reports it
        outcome.error = describe_error(err)
    outcome.seconds = time.perf_counter() - start
    return outcome


def print_table(outcomes: list[Outcome]) -> None:
    rows = [("format", "precision", "file", "size", "time", "status")]
    for o in outcomes:
        precision = o.precision + (" (int8 I/O)" if o.int8_io else "")
        name = o.artifact.name if o.artifact else "-"
        size = f"{_size(o.artifact) / 1e6:.1f} MB" if o.artifact else "-"
        rows.append((o.fmt, precision, name, size, f"{o.seconds:.0f} s", "ok" if not o.error else f"FAILED {o.error}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
