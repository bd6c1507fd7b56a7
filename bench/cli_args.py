"""seg-bench's command line: its flags, their checks (before anything runs), and what they name: the backends,
the precisions and the BackendOptions every row runs with."""
from __future__ import annotations

import argparse
from pathlib import Path

from train.errors import UserError

from .backends import BACKENDS, BackendOptions
from .foreign import OUTPUT_KINDS

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int8-dynamic")


def parse_args(argv: list[str] | None, description: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seg-bench", description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--encoder", help="resnext50, resnet152, efficientnet-b0 (comma-separated) or 'all': "
                                        "its exported artifacts (see --artifacts)")
    what.add_argument("--model", type=Path, action="append", help="any .onnx/.tflite/.mlpackage/.pte (repeatable)")
    what.add_argument("--paper", action="store_true", help="print the study's Tables 3, 4, 5 beside ours (from --results)")
    p.add_argument("--peer", nargs=2, action="append", metavar=("NAME", "PATH"), default=[],
                   help="another segmenter as rows of the same run, labelled as the peer, with its own normalization "
                        "and output kind (repeatable): 'mediapipe selfie_segmentation.tflite' (python -m bench.peers "
                        "mediapipe fetches it)")
    p.add_argument("--backend", default="auto",
                   help=f"'auto' (every one that can run here), 'all' (unavailable ones become rows saying why), "
                        f"or a comma-separated list of: {', '.join(BACKENDS)}")
    p.add_argument("--precision", default="all", help=f"'all' or a comma-separated list of {', '.join(PRECISIONS)}")
    p.add_argument("--artifacts", type=Path, default=None,
                   help="folder holding ENCODER/ artifact folders (seg-export's layout) or the artifacts themselves "
                        "(default runs/export)")
    p.add_argument("--checkpoint", default=None,
                   help="PyTorch reference for parity instead of the contract's: a checkpoint, 'default' "
                        "(the shipped model) or 'none' (the encoder's seeded untrained weights)")
    data = p.add_argument_group("images")
    data.add_argument("--data", type=Path, default=None, help="dataset root with SPLIT/images and masks/ or labels/")
    data.add_argument("--split", default="test")
    data.add_argument("--layout", choices=["camvid", "folder"], default=None, help="default: from the folder names")
    data.add_argument("--person-class", type=int, default=None, help="person class id in CamVid labels (default 9)")
    data.add_argument("--images", type=Path, default=None, help="unlabelled photos for parity when there is no --data")
    data.add_argument("--limit", type=int, default=None, help="use the first N images (default all of --data, 8 otherwise)")
    timing = p.add_argument_group("timing")
    timing.add_argument("--runs", type=int, default=30, help="timed inferences per row")
    timing.add_argument("--warmup", type=int, default=5, help="untimed inferences before them")
    timing.add_argument("--threads", type=int, default=None, help="CPU threads (default: every core)")
    timing.add_argument("--no-parity", action="store_true", help="skip the comparison with the PyTorch model")
    timing.add_argument("--row-timeout", type=float, default=600, metavar="SECONDS",
                        help="each row runs in its own process; one that takes longer (load, timing, IoU and "
                             "parity) is stopped and reported as failed (0: no limit)")
    gpu = p.add_argument_group("GPU backends")
    gpu.add_argument("--channels-last", action="store_true",
                     help="torch-cpu / torch-cuda: NHWC memory format (recorded on the row as memory_format)")
    gpu.add_argument("--compile", default=None, choices=["default", "reduce-overhead", "max-autotune"],
                     help="torch-cuda: torch.compile mode")
    gpu.add_argument("--cuda-graphs", action="store_true", help="torch-cuda / ort-cuda: capture once, replay")
    gpu.add_argument("--cast-weights", action="store_true",
                     help="torch-cuda fp16/bf16 rows: cast weights and input to that type instead of autocast")
    gpu.add_argument("--trt-fp16", action="store_true", help="ort-trt: allow fp16 TensorRT kernels")
    android = p.add_argument_group("android (TFLite benchmark_model or ExecuTorch executor_runner over adb)")
    android.add_argument("--benchmark-model", type=Path, default=None, help="benchmark_model binary built for the phone")
    android.add_argument("--executor-runner", type=Path, default=None,
                         help="ExecuTorch's executor_runner built for the phone (XNNPACK), for .pte models")
    android.add_argument("--serial", action="append", default=[], help="device serial (repeatable; default every device)")
    android.add_argument("--use-gpu", action="store_true")
    android.add_argument("--use-nnapi", action="store_true")
    android.add_argument("--use-xnnpack", action=argparse.BooleanOptionalAction, default=None)
    foreign = p.add_argument_group("foreign models (no contract beside them)")
    foreign.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None)
    foreign.add_argument("--input-layout", choices=["NCHW", "NHWC"], default=None)
    foreign.add_argument("--mean", type=float, nargs=3, default=None)
    foreign.add_argument("--std", type=float, nargs=3, default=None)
    foreign.add_argument("--pixel-scale", type=float, default=255.0)
    foreign.add_argument("--output-kind", choices=OUTPUT_KINDS, default="logits")
    foreign.add_argument("--threshold", type=float, default=0.5)
    out = p.add_argument_group("outputs")
    out.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for the report and pictures")
    out.add_argument("--json", type=Path, default=None, help="results JSON (default OUT/results.json)")
    out.add_argument("--csv", type=Path, default=None, help="results CSV (default OUT/results.csv)")
    out.add_argument("--results", type=Path, default=None, help="--paper: results JSON to read (default OUT/results.json)")
    out.add_argument("--overlays", type=int, default=3, help="images per model in the overlay figure (0: none)")
    out.add_argument("--no-plots", action="store_true")
    out.add_argument("--no-progress", action="store_true")
    out.add_argument("--force", action="store_true", help="replace results already in --out (or at --json/--csv)")
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    for name, low in (("runs", 1), ("warmup", 0), ("threads", 1), ("limit", 1), ("overlays", 0)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise UserError(f"--{name} must be at least {low}")
    if not 0 < args.threshold < 1:
        raise UserError("--threshold must be between 0 and 1")
    if args.row_timeout < 0:
        raise UserError("--row-timeout must be at least 0 (0: no limit)")
    if args.data is not None and not args.data.is_dir():
        raise UserError(f"dataset folder not found: {args.data}")
    check_out(args.out)
    existing = [p for p in result_files(args) if p.exists()]
    if existing and not args.force:
        names = ", ".join(str(p) if p.parent != args.out else p.name for p in existing)
        raise UserError(f"{args.out} already holds results ({names}): pass --force to replace them, or another --out")


def check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")


def result_files(args: argparse.Namespace) -> list[Path]:
    """The files a run writes whose loss would hurt: the results and the report."""
    return [args.json or args.out / "results.json", args.csv or args.out / "results.csv", args.out / "report.md"]


def backend_names(spec: str) -> tuple[list[str], bool]:
    """(names, explicit): 'auto' and 'all' expand; a list is checked against the table."""
    if spec in ("auto", "all"):
        return list(BACKENDS), spec == "all"
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise UserError(f"unknown backend {', '.join(unknown) or spec!r}: use auto, all or {', '.join(BACKENDS)}")
    return names, True


def parse_precisions(spec: str) -> set[str] | None:
    if spec == "all":
        return None
    wanted = {p.strip() for p in spec.split(",") if p.strip()}
    unknown = sorted(wanted - set(PRECISIONS))
    if unknown or not wanted:
        raise UserError(f"unknown precision {', '.join(map(repr, unknown)) or repr(spec)}: use all or {', '.join(PRECISIONS)}")
    return wanted


def backend_options(args: argparse.Namespace) -> BackendOptions:
    return BackendOptions(
        threads=args.threads, channels_last=args.channels_last, torch_compile=args.compile, cuda_graphs=args.cuda_graphs,
        cast_weights=args.cast_weights, trt_fp16=args.trt_fp16, benchmark_model=args.benchmark_model,
        executor_runner=args.executor_runner,
        serials=args.serial, use_gpu=args.use_gpu, use_nnapi=args.use_nnapi, use_xnnpack=args.use_xnnpack,
        runs=args.runs, warmup=args.warmup)
