"""What an export costs: conversion time and peak memory per encoder and format, on this machine.

    .venv/bin/python -m export.cost [--encoders resnet152 ...] [--imgsz 512 512] [--checkpoint PATH]

Runs what `seg-export --format all` runs, in one process (so the ONNX and the TensorFlow
intermediates are shared as in real use), sampling the resident memory of the process and its
children (onnx2tf). Without a checkpoint it exports seeded untrained weights calibrated on
synthetic pictures: the cost is the same, the masks are not. Heavy: run it alone.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from train.errors import cli_entry

from .errors import describe_error
from .memory import PeakMemory

GOAL_SECONDS, GOAL_BYTES = 300, 8 * 2**30  # all formats of ResNet-152 at 512x512


@dataclass
class Step:
    encoder: str
    fmt: str
    precision: str
    int8_io: bool
    seconds: float
    peak_bytes: int
    size_bytes: int | None
    error: str | None = None


def measure(encoder: str, imgsz: tuple[int, int], checkpoint: Path | None, out_dir: Path,
            calib_dir: Path | None, calib_count: int | None) -> list[Step]:
    from .api import export_model
    from .cli import _size
    from .registry import export_matrix

    steps = []
    with PeakMemory(include_children=True, interval_s=0.1) as memory:  # onnx2tf runs as a child process
        for fmt, precision, int8_io in export_matrix():
            memory.reset()
            start = time.perf_counter()
            artifact, error = None, None
            try:
                artifact = export_model(checkpoint, encoder, fmt, precision, out_dir=out_dir, imgsz=imgsz,
                                        calib_dir=calib_dir, calib_count=calib_count, force=True, int8_io=int8_io,
                                        min_agreement=0)  # the cost of converting, whatever the masks
            except Exception as err:  # measure the rest even if one format fails
                error = describe_error(err)
            steps.append(Step(encoder, fmt, precision, int8_io, time.perf_counter() - start, memory.peak_bytes,
                              _size(artifact) if artifact else None, error))
            print(_row(steps[-1]), flush=True)
    return steps


def _row(step: Step) -> str:
    name = f"{step.fmt} {step.precision}{' int8-I/O' if step.int8_io else ''}"
    size = f"{step.size_bytes / 1e6:7.1f} MB" if step.size_bytes else "      -   "
    status = "ok" if not step.error else f"FAILED {step.error}"
    peak = step.peak_bytes / 2**30
    return f"{step.encoder:16s} {name:22s} {step.seconds:7.1f} s  peak {peak:5.2f} GiB  {size}  {status}"


def machine() -> str:
    from train.hardware import cpu_name

    return f"{cpu_name()}, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"


@cli_entry("export.cost")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.cost", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoders", nargs="+", default=["resnet152"])
    p.add_argument("--imgsz", type=int, nargs=2, default=(512, 512), metavar=("H", "W"))
    p.add_argument("--checkpoint", type=Path, default=None, help="only with a single encoder")
    p.add_argument("--calib", type=Path, default=None)
    p.add_argument("--calib-count", type=int, default=None)
    p.add_argument("--json", type=Path, default=None, help="also write the measurements here")
    args = p.parse_args(argv)
    from train.errors import UserError

    from .cli import exit_on_sigterm

    exit_on_sigterm()

    if args.checkpoint and len(args.encoders) != 1:
        raise UserError("--checkpoint needs exactly one encoder")
    print(f"export cost on {machine()}, {args.imgsz[0]}x{args.imgsz[1]}", flush=True)
    results = []
    for encoder in args.encoders:
        with tempfile.TemporaryDirectory(prefix="export-cost-") as out_dir:
            steps = measure(encoder, tuple(args.imgsz), args.checkpoint, Path(out_dir), args.calib, args.calib_count)
        total, peak = sum(s.seconds for s in steps), max(s.peak_bytes for s in steps)
        verdict = "within" if total <= GOAL_SECONDS and peak <= GOAL_BYTES else "OVER"
        print(f"{encoder}: all formats {total:.0f} s, peak {peak / 2**30:.2f} GiB "
              f"({verdict} the goal of {GOAL_SECONDS} s / {GOAL_BYTES / 2**30:.0f} GiB)", flush=True)
        results.append({"encoder": encoder, "total_seconds": total, "peak_bytes": peak,
                        "steps": [asdict(s) for s in steps]})
    if args.json:
        from train.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps({"machine": machine(), "imgsz": list(args.imgsz),
                                                  "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
