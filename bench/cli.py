"""`seg-bench`: run exported person-segmentation models on each runtime and measure latency, memory,
IoU against ground truth and parity with the PyTorch model they came from."""
from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from export.integrity import verify_artifact, with_local_checkpoint
from train.errors import UserError, cli_entry

from .backends import BACKENDS, BackendOptions, make_backend
from .foreign import OUTPUT_KINDS, ForeignFlags

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int8-dynamic")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seg-bench", description=__doc__,
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


def _check(args: argparse.Namespace) -> None:
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
    _check_out(args.out)
    existing = [p for p in _result_files(args) if p.exists()]
    if existing and not args.force:
        names = ", ".join(str(p) if p.parent != args.out else p.name for p in existing)
        raise UserError(f"{args.out} already holds results ({names}): pass --force to replace them, or another --out")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")


def _result_files(args: argparse.Namespace) -> list[Path]:
    """The files a run writes whose loss would hurt: the results and the report."""
    return [args.json or args.out / "results.json", args.csv or args.out / "results.csv", args.out / "report.md"]


def _backend_names(spec: str) -> tuple[list[str], bool]:
    """(names, explicit): 'auto' and 'all' expand; a list is checked against the table."""
    if spec in ("auto", "all"):
        return list(BACKENDS), spec == "all"
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise UserError(f"unknown backend {', '.join(unknown) or spec!r}: use auto, all or {', '.join(BACKENDS)}")
    return names, True


def _precisions(spec: str) -> set[str] | None:
    if spec == "all":
        return None
    wanted = {p.strip() for p in spec.split(",") if p.strip()}
    unknown = sorted(wanted - set(PRECISIONS))
    if unknown or not wanted:
        raise UserError(f"unknown precision {', '.join(map(repr, unknown)) or repr(spec)}: use all or {', '.join(PRECISIONS)}")
    return wanted


def _options(args: argparse.Namespace) -> BackendOptions:
    return BackendOptions(
        threads=args.threads, channels_last=args.channels_last, torch_compile=args.compile, cuda_graphs=args.cuda_graphs,
        cast_weights=args.cast_weights, trt_fp16=args.trt_fp16, benchmark_model=args.benchmark_model,
        executor_runner=args.executor_runner,
        serials=args.serial, use_gpu=args.use_gpu, use_nnapi=args.use_nnapi, use_xnnpack=args.use_xnnpack,
        runs=args.runs, warmup=args.warmup)


def _model_groups(args: argparse.Namespace) -> tuple[list[tuple[str, list, str | None]], dict[Path, str]]:
    """(label, [(artifact, contract)], problem) per encoder or for the --model files, and the artifacts
    refused because they do not match their contract's checksum (artifact -> one-line reason)."""
    groups = _find_models(args)
    refused: dict[Path, str] = {}
    for index, (label, models, problem) in enumerate(groups):
        checked = []
        for path, contract in models:
            try:
                verify_artifact(path, contract)
            except UserError as err:
                refused[path] = str(err)
            if args.checkpoint is None:  # the contract's checkpoint, relative to its folder
                contract = with_local_checkpoint(contract, path)
            checked.append((path, contract))
        groups[index] = (label, checked, problem)
    return groups, refused


def _find_models(args: argparse.Namespace) -> list[tuple[str, list, str | None]]:
    """(label, [(artifact, contract)], problem) per encoder or for the --model files."""
    from train.zoo import STUDY_ENCODERS, short_name, smp_encoder_name

    from .jobs import find_artifacts, load_models

    flags = ForeignFlags(tuple(args.input_size) if args.input_size else None, args.input_layout,
                         tuple(args.mean) if args.mean else None, tuple(args.std) if args.std else None,
                         args.pixel_scale, args.output_kind, args.threshold)
    if args.model:
        return [("models", load_models(args.model, flags, args.checkpoint), None)]
    encoders = list(STUDY_ENCODERS) if args.encoder == "all" else [e.strip() for e in args.encoder.split(",")]
    groups = []
    for short in [short_name(smp_encoder_name(e)) for e in encoders]:
        root = args.artifacts or Path("runs/export")
        # DIR/<encoder>/ when it exists (seg-export's layout), else DIR itself, keeping this encoder's files
        folder = root / short if (root / short).is_dir() or args.artifacts is None else root
        models = [(p, c) for p, c in load_models(find_artifacts(folder), flags, args.checkpoint)
                  if short_name(c.source.encoder) == short]
        problem = None if models else (f"no exported {short} artifacts in {folder} "
                                       f"(run: seg-export --encoder {short} --format all)")
        groups.append((short, models, problem))
    return groups


def _peer_jobs(peers: list[list[str]], names: list[str], reasons: dict[str, str | None]) -> list:
    """Each --peer on every backend of this run that takes its file: rows labelled as the peer, without parity."""
    from .jobs import build_jobs
    from .peers import peer, peer_model

    jobs = []
    for name, path in peers:
        for job in build_jobs([peer_model(name, Path(path))], names, None, reasons, explicit=False):
            if job.artifact is not None:  # its rows (or a backend's refusal of the file), not "backend unavailable"
                job.model, job.parity = peer(name).label, False
                jobs.append(job)
    return jobs


def _images(args: argparse.Namespace, contracts: list):
    from .images import dataset_images, photo_images, photos_near, synthetic_images

    if args.data is not None:
        return dataset_images(args.data, args.split, args.layout, args.person_class, args.limit)
    if args.images is not None:
        return photo_images(args.images, args.limit or 8)
    folder = photos_near([c.source.checkpoint for c in contracts])
    if folder is not None:
        return photo_images(folder, args.limit or 8)
    sizes = [c.input_hw for c in contracts]
    return synthetic_images(args.limit or 8, max(sizes) if sizes else (512, 512))


@cli_entry("seg-bench")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rich.console import Console

    # a pipe or log file gets a wide table rather than one folded to 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=240)
    log = Console(stderr=True)
    if args.paper:
        return _paper(args, console)
    _check(args)
    names, explicit = _backend_names(args.backend)
    precisions = _precisions(args.precision)
    options = _options(args)
    groups, refused = _model_groups(args)
    from .jobs import Job, build_jobs
    from .results import FAILED

    reasons = {name: make_backend(name, options).available() for name in names}
    if not explicit:
        names = [n for n in names if reasons[n] is None]
    jobs: list[Job] = []
    for label, models, problem in groups:
        if problem:
            jobs.append(Job("-", label, label, problem=problem))
        else:
            jobs += build_jobs(models, names, precisions, reasons, explicit=explicit)
    jobs += _peer_jobs(args.peer, names, reasons)
    if not jobs:
        raise UserError("nothing to measure: no backend here runs these models (try --backend all to see why)")
    for reason in refused.values():  # never loaded: one line each, and a failed row per backend
        print(f"seg-bench: refused: {reason}", file=sys.stderr)
    for job in jobs:
        if job.artifact in refused:  # over a backend's refusal too: a file that is not what its contract says
            job.problem, job.problem_status = refused[job.artifact], FAILED
    images = _images(args, [c for _, models, _ in groups for _, c in models])
    log.print(f"seg-bench: {len(jobs)} measurement(s); images: {images.description}")
    if not images.has_truth and any(not j.problem and not BACKENDS[j.backend].self_timed for j in jobs):
        log.print("seg-bench: no --data: latency and parity only; IoU against ground truth needs --data DIR")
    load_before = os.getloadavg()[0]
    outcomes = _run(jobs, options, images, args, log)
    meta = {"command": "seg-bench " + shlex.join(sys.argv[1:] if argv is None else argv),
            # timings on a shared machine mean little without it
            "load_average": f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs)"}
    return _report(outcomes, images, args, meta, console, log)


def _run(jobs, options, images, args, log) -> list:
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .results import Result
    from .runner import Outcome, Settings, measure_isolated

    settings = Settings(runs=args.runs, warmup=args.warmup, previews=args.overlays, parity=not args.no_parity)
    outcomes = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # each row in its own process: PyTorch reference logits are shared between them through this folder
    with tempfile.TemporaryDirectory(prefix="seg-bench-reference-") as references, \
            Progress(*columns, console=log, transient=True, disable=args.no_progress) as progress:
        task = progress.add_task("rows", total=len(jobs))
        for job in jobs:
            name = f"{job.model} on {job.backend} {job.precision}"
            progress.update(task, description=name)
            if job.problem:
                result = Result(model=job.model, backend=job.backend, precision=job.precision or "-",
                                encoder=job.encoder, format=job.fmt, status=job.problem_status, reason=job.problem)
                outcomes.append(Outcome(result))
            else:
                step = lambda what: progress.update(task, description=f"{name}: {what}")  # noqa: E731
                outcomes += measure_isolated(job, options, images, settings, Path(references),
                                             args.row_timeout or None, step)
            last = outcomes[-1].result
            if args.no_progress:
                log.print(f"  {name}: {last.status}{' - ' + last.reason if last.reason else ''}")
            progress.advance(task)
    return outcomes


def _report(outcomes, images, args, meta, console, log) -> int:
    from train.atomic import write_text_atomic

    from train.hardware import cpu_name

    from .plots import overlay_figure, pareto_plot
    from .report import markdown, print_table
    from .results import FAILED, write_csv, write_json
    from .timing import TIMING_RULE

    results = [o.result for o in outcomes]
    meta.update(timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                host=f"{socket.gethostname()}, {cpu_name()}", images=images.description, runs=args.runs, warmup=args.warmup,
                timing=TIMING_RULE)
    out = args.out
    json_path, csv_path = args.json or out / "results.json", args.csv or out / "results.csv"
    write_json(results, json_path, meta)
    write_csv(results, csv_path)
    pictures = []
    if not args.no_plots:
        pictures.append(pareto_plot(results, out / "pareto.png"))
        if args.overlays:
            columns = _overlay_columns(outcomes)
            pictures.append(overlay_figure(columns, images, out / "overlays.png"))
    pictures = [p for p in pictures if p is not None]
    report = write_text_atomic(out / "report.md", markdown(results, meta, pictures, out))
    print_table(results, console)
    log.print(f"seg-bench: wrote {json_path}, {csv_path}, {report}" + "".join(f", {p}" for p in pictures))
    ok = sum(r.ok for r in results)
    failed = sum(r.status == FAILED for r in results)
    return 1 if failed or not ok else 0


def _overlay_columns(outcomes) -> list:
    """One column per model file (its first host row with masks), PyTorch rows included."""
    columns, seen = [], set()
    for outcome in outcomes:
        r = outcome.result
        if r.ok and outcome.masks and r.model not in seen:
            seen.add(r.model)
            columns.append((f"{Path(r.model).stem}\n{r.backend}", outcome.masks))
    return columns


def _paper(args, console) -> int:
    from train.atomic import write_text_atomic

    from .paper import load_results, paper_markdown, paper_tables, parameter_counts, print_paper

    _check_out(args.out)
    path = args.results or args.out / "results.json"
    results = load_results(path)
    if not results:
        console.print(f"(no results at {path}: only the study's numbers and our parameter counts)")
    tables = paper_tables(results, parameter_counts())
    print_paper(tables, console)
    write_text_atomic(args.out / "paper.md", paper_markdown(tables))
    return 0
