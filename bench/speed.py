"""The study's speed question on one machine: the three encoders' exports timed side by side, one seg-bench run per
thread count, so every ratio is read within one run.

    python -m bench.speed [--imgsz 256 256] [--threads 1 2] [--checkpoints runs/study/cpu] [--out runs/speed]
    seg-results --speed runs/speed/speed.json      puts the table and the ratios into docs/results.json and RESULTS.md

Latency depends on the graph, not on the weights: each encoder is exported from its trained checkpoint where the
seg-study folder `--checkpoints` has one on this machine (train/ENCODER-ccp/best.pt), else untrained (seeded); each
row says which. Formats: ONNX fp32 on ONNX Runtime's CPU EP, TFLite fp32 and full int8 on LiteRT.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from train.atomic import write_text_atomic
from train.errors import UserError, cli_entry
from train.hardware import cpu_name
from train.zoo import STUDY_ENCODERS, default_arch, short_name, smp_encoder_name

from .tier import cost

ARTIFACTS = (("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "int8"))  # what each encoder is exported to
COLUMNS = (("ort-cpu", "fp32", "ORT fp32"), ("tflite", "fp32", "LiteRT fp32"), ("tflite", "int8", "LiteRT int8"))


def checkpoint_for(encoder: str, study: Path | None) -> Path | None:
    best = study / "train" / f"{short_name(encoder)}-ccp" / "best.pt" if study else None
    return best if best is not None and best.is_file() else None


def export_encoders(encoders: list[str], imgsz: tuple[int, int], study: Path | None, calib: Path | None,
                    out: Path) -> list[dict]:
    from export.api import export_model

    entries = []
    for encoder in map(smp_encoder_name, encoders):
        checkpoint = checkpoint_for(encoder, study)
        files = []
        for fmt, precision in ARTIFACTS:
            # untrained: nothing to agree with; trained: the study's own export holds the floor, here only speed counts
            files.append(str(export_model(checkpoint or "none", encoder, fmt, precision, out_dir=out / short_name(encoder),
                                          imgsz=None if checkpoint else imgsz, force=True, min_agreement=0,
                                          calib_dir=None if checkpoint else calib)))
        entries.append({"encoder": short_name(encoder), "weights": f"trained ({checkpoint})" if checkpoint else "untrained",
                        **cost(encoder, default_arch(encoder), imgsz), "files": files})
    return entries


def bench(entries: list[dict], threads: int, runs: int, out: Path) -> list[dict]:
    from .cli import main as seg_bench

    args = ["--backend", "ort-cpu,tflite", "--threads", str(threads), "--runs", str(runs), "--warmup", "5",
            "--no-parity", "--no-plots", "--overlays", "0", "--no-progress", "--force", "--out", str(out)]
    for entry in entries:
        for file in entry["files"]:
            args += ["--model", file]
    seg_bench(args)  # non-zero when a row failed: those rows carry why, and the table shows them
    results = out / "results.json"
    if not results.is_file():
        raise UserError(f"seg-bench wrote no {results}; see above")
    return json.loads(results.read_text())["results"]


def latency(entry: dict, rows: list[dict], threads: int) -> tuple[list[dict], list[dict]]:
    """This encoder's p50 per column in one run's rows, and the columns whose row did not run (with why)."""
    names = {Path(f).name for f in entry["files"]}
    timed, failed = [], []
    for runtime, precision, label in COLUMNS:
        row = next((r for r in rows if r["model"] in names and r["backend"] == runtime and r["precision"] == precision), None)
        if row is not None and row["status"] == "ok":
            timed.append({"column": label, "threads": threads, "p50_ms": row["p50_ms"], "mean_ms": row["mean_ms"]})
        elif row is not None:
            failed.append({"column": label, "threads": threads, "why": " ".join(str(row.get("reason") or row["status"]).split())})
    return timed, failed


def measure(encoders: list[str], imgsz: tuple[int, int], thread_counts: list[int], runs: int, study: Path | None,
            calib: Path | None, out: Path) -> dict:
    entries = export_encoders(encoders, imgsz, study, calib, out / "export")
    for entry in entries:
        entry["latency"], entry["failed"] = [], []
    for threads in thread_counts:
        rows = bench(entries, threads, runs, out / f"bench-t{threads}")
        for entry in entries:
            timed, failed = latency(entry, rows, threads)
            entry["latency"] += timed
            entry["failed"] += failed
    for entry in entries:
        del entry["files"]
    return {"machine": cpu_name(), "imgsz": list(imgsz), "runs": runs, "entries": entries}


@cli_entry("bench.speed")
def main(argv: list[str] | None = None) -> int:
    from .speed_table import render

    p = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--encoders", nargs="+", default=list(STUDY_ENCODERS))
    p.add_argument("--imgsz", nargs=2, type=int, default=[256, 256], metavar=("H", "W"))
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--checkpoints", type=Path, default=Path("runs/study/cpu"),
                   help="a seg-study folder whose train/ENCODER-ccp/best.pt are used where present")
    p.add_argument("--calib", type=Path, default=Path("../shared/data/ccp/train/images"),
                   help="int8 calibration photos (untrained weights calibrated on synthetic pictures can give int8 "
                        "ranges LiteRT's XNNPACK refuses; a missing folder falls back to those)")
    p.add_argument("--out", type=Path, default=Path("runs/speed"))
    args = p.parse_args(argv)
    if any(t < 1 for t in args.threads) or args.runs < 1 or min(args.imgsz) < 32:
        raise UserError("--threads and --runs must be >= 1 and --imgsz at least 32 32")
    calib = args.calib if args.calib.is_dir() else None
    result = measure(args.encoders, tuple(args.imgsz), args.threads, args.runs, args.checkpoints, calib, args.out)
    write_text_atomic(args.out / "speed.json", json.dumps(result, indent=1) + "\n")
    print("\n".join(render(result)))
    print(f"\nbench.speed: {args.out / 'speed.json'} (seg-results --speed {args.out / 'speed.json'} puts it in RESULTS.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
