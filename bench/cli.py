"""`seg-bench`: run exported person-segmentation models on each runtime and measure latency, memory,
IoU against ground truth and parity with the PyTorch model they came from."""
# (that docstring is --help's description.) The flags and their checks are in cli_args.py; here: the models and
# images they name, the rows, each run in its own process, and the report.
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

from .backends import BACKENDS, make_backend
from .cli_args import backend_names, backend_options, check_args, check_out, parse_args, parse_precisions
from .foreign import ForeignFlags

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
    args = parse_args(argv, __doc__)
    from rich.console import Console

    # a pipe or log file gets a wide table rather than one folded to 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=240)
    log = Console(stderr=True)
    if args.paper:
        return _paper(args, console)
    check_args(args)
    names, explicit = backend_names(args.backend)
    precisions = parse_precisions(args.precision)
    options = backend_options(args)
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

    check_out(args.out)
    path = args.results or args.out / "results.json"
    results = load_results(path)
    if not results:
        console.print(f"(no results at {path}: only the study's numbers and our parameter counts)")
    tables = paper_tables(results, parameter_counts())
    print_paper(tables, console)
    write_text_atomic(args.out / "paper.md", paper_markdown(tables))
    return 0
