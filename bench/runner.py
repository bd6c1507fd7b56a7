"""Measure one row: load, first inference, warm-up, timed runs (bench/timing.py's one rule), an untimed memory
pass, then accuracy and parity over the images.

`measure_isolated` runs a row in its own process (export/isolated.py): a runtime that crashes, hangs
or runs out of memory fails that row only, with the reason ('crashed: SIGSEGV', 'timed out after 600 s').
"""
from __future__ import annotations

import math
import platform
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from export.memory import current_rss_mb, reset_high_water_mark
from export.preprocess import logits_to_mask, to_input_tensor
from train.errors import UserError
from train.hardware import cpu_model
from train.metrics import MaskIoU

from .backends import Backend, BackendOptions, ProviderFallback, make_backend
from .images import ImageSet
from .jobs import Job
from .metrics import ParityMeter, latency_stats
from .reference import ReferenceLogits
from .results import FAILED, FALLBACK, Result
from .timing import memory_pass, time_backend


@dataclass
class Settings:
    runs: int = 30
    warmup: int = 5
    previews: int = 3  # masks kept per row for the overlay figure
    parity: bool = True
    memory_runs: int = 5  # runs of the untimed memory pass after the timed ones


@dataclass
class Outcome:
    result: Result
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # image id -> person mask at the image's size


def base_result(job: Job, images: ImageSet) -> Result:
    c = job.contract
    return Result(
        model=job.model, backend=job.backend, precision=job.precision, encoder=job.encoder, format=job.fmt,
        input_size="x".join(map(str, c.input_hw)) if c else "", images=images.description,
        host=socket.gethostname(), cpu=cpu_model(), timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions={"python": platform.python_version(), "numpy": np.__version__},
        notes=[f"contract: {note}" for note in (c.notes if c else [])],
    )


def model_mb(path: Path | None) -> float | None:
    if path is None or not path.exists():
        return None
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def one_line(err: Exception) -> str:
    """A user error as it reads; anything else with its type, first line only."""
    if isinstance(err, UserError):
        return str(err)
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def measure(job: Job, backend: Backend, images: ImageSet, settings: Settings, references: ReferenceLogits,
            step: Callable[[str], None] = lambda _: None) -> Outcome:
    """One row; any error becomes a failed row with its reason, never an exception."""
    result = base_result(job, images)
    outcome = Outcome(result)
    try:
        _latency(job, backend, images, settings, result, step)
        _quality(job, backend, images, settings, references, outcome, step)
    except ProviderFallback as err:  # its own status: never a CPU row under a GPU backend's name
        result.status, result.reason = FALLBACK, str(err)
        result.providers = ",".join(err.used)
    except Exception as err:  # a runtime's own error types too: report it, go on with the next row
        result.status, result.reason = FAILED, one_line(err)
    finally:
        backend.close()
    return outcome


def _latency(job: Job, backend: Backend, images: ImageSet, settings: Settings, result: Result, step) -> None:
    x = backend.host_input(to_input_tensor(images.rgb(images.items[0]), job.contract), job.contract)
    step("loading")
    rss_before = current_rss_mb()
    reset_high_water_mark()  # the row's peak RSS starts here (Linux); nothing samples while the clock runs
    timing = time_backend(backend, lambda: backend.load(job.artifact, job.contract, job.precision), x,
                          settings.warmup, settings.runs, step)
    result.init_ms, result.first_ms = timing.init_ms, timing.first_ms
    result.warmup, result.runs = timing.warmup, len(timing.samples_ms)
    for key, value in latency_stats(timing.samples_ms).items():
        setattr(result, key, value)
    step("memory pass (untimed)")
    memory = memory_pass(backend, x, min(settings.memory_runs, settings.runs), backend.gpu_memory_mb)
    result.threads, result.device = backend.threads, backend.device()
    for key, value in backend.row_settings().items():
        setattr(result, key, value)
    result.file_mb = backend.model_mb() or model_mb(job.artifact)
    result.peak_rss_mb, result.rss_delta_mb = memory.peak_rss_mb, memory.peak_rss_mb - rss_before
    result.gpu_peak_mb = backend.gpu_peak_mb() or memory.gpu_delta_mb
    result.versions.update(backend.versions())


def _quality(job: Job, backend: Backend, images: ImageSet, settings: Settings, references: ReferenceLogits,
             outcome: Outcome, step) -> None:
    contract, result = job.contract, outcome.result
    iou, parity = MaskIoU(), ParityMeter()
    threshold = math.log(contract.postprocess.threshold / (1 - contract.postprocess.threshold))
    compare = settings.parity and job.parity
    for index, item in enumerate(images):
        step(f"image {index + 1}/{len(images)}")
        rgb = images.rgb(item)
        logits = backend.to_logits(backend.run(backend.host_input(to_input_tensor(rgb, contract), contract)), contract)
        mask = logits_to_mask(logits, contract.postprocess, size=rgb.shape[:2])
        if (truth := images.truth(item)) is not None:
            iou.add(mask, truth)
        if index < settings.previews:
            outcome.masks[item.id] = mask
        if compare:
            try:
                parity.add(logits, references.get(contract, item.id, rgb), threshold)
            except UserError as err:
                compare = False
                result.notes.append(f"no parity: {err}")
    result.iou_per_image, result.iou_split = iou.mean_per_image, iou.pooled
    result.iou_images = iou.images or None
    for key, value in parity.summary().items():
        setattr(result, key, value)
    if not images.has_truth:
        result.notes.append("IoU against ground truth needs --data")


def measure_isolated(job: Job, options: BackendOptions, images: ImageSet, settings: Settings,
                     reference_cache: Path | None, timeout: float | None,
                     step: Callable[[str], None] = lambda _: None) -> list[Outcome]:
    """One row (one per device for self-timed backends) in a child process; its death is a failed row."""
    from export.isolated import IsolationError, run_isolated

    try:
        return run_isolated(_measure_row, job, options, images, settings, reference_cache,
                            timeout=timeout, on_progress=step)
    except IsolationError as err:
        reason = str(err)
    except Exception as err:  # the worker could not start or answer: still only this row
        reason = one_line(err)
    result = base_result(job, images)
    result.status, result.reason = FAILED, reason
    return [Outcome(result)]


def _measure_row(job: Job, options: BackendOptions, images: ImageSet, settings: Settings,
                 reference_cache: Path | None) -> list[Outcome]:
    """Inside the worker: the row as `measure` / `measure_on_devices` make it in-process."""
    from export.isolated import progress

    backend = make_backend(job.backend, options)
    if backend.self_timed:
        return measure_on_devices(job, backend, images)
    return [measure(job, backend, images, settings, ReferenceLogits(reference_cache), progress)]


def measure_on_devices(job: Job, backend, images: ImageSet) -> list[Outcome]:
    """Self-timed backends (benchmark_model over adb): one row per device, numbers from the tool's output."""
    from .results import UNAVAILABLE

    outcomes = []
    try:
        runs = backend.device_runs(job.artifact, job.contract)
    except Exception as err:  # adb itself failing (UserError) or not starting (OSError): one failed row
        result = base_result(job, images)
        result.status, result.reason = FAILED, one_line(err)
        return [Outcome(result)]
    for run in runs:
        result = base_result(job, images)
        tool = "executor_runner" if job.fmt == "executorch" else "benchmark_model"
        result.images = f"{tool}'s own input"
        result.device, result.file_mb = run.device or run.serial, model_mb(job.artifact)
        result.cpu = ""  # the phone's, not this host's
        result.threads = backend.options.threads
        result.versions.update(run.versions or {})
        if run.problem:
            result.status, result.reason = (UNAVAILABLE if run.unavailable else FAILED), run.problem
        else:
            _fill_from_report(result, run.report, backend.options, tool)
        outcomes.append(Outcome(result))
    return outcomes


def _fill_from_report(result: Result, report, options, tool: str = "benchmark_model") -> None:
    ms = lambda us: None if us is None else us / 1000  # noqa: E731
    result.init_ms, result.first_ms = ms(report.init_us), ms(report.first_us)
    result.warmup = report.warmup.count if report.warmup else None
    timed = report.timed
    if timed is not None:
        result.runs = timed.count
        result.std_ms, result.min_ms, result.max_ms = ms(timed.std_us), ms(timed.min_us), ms(timed.max_us)
        result.p50_ms, result.p95_ms = ms(timed.median_us), ms(timed.p95_us)
    result.mean_ms = ms(report.mean_us)
    result.peak_rss_mb, result.rss_delta_mb = report.memory_peak_mb, report.memory_overall_mb
    if report.threads is not None and report.threads > 0:
        result.threads = report.threads
    if tool == "executor_runner":
        result.runs = options.warmup + options.runs
        result.runtime_options = {"delegates": "XNNPACK (lowered into the .pte)"}
        result.notes.append("timed on the phone by executor_runner: mean of execute() over its runs, the first "
                            "included (its own rule): not comparable with host rows' timed runs; "
                            "parity and IoU come from the host backends")
        return
    delegates = [name for name, on in (("GPU", options.use_gpu), ("NNAPI", options.use_nnapi),
                                       ("XNNPACK", options.use_xnnpack)) if on]
    result.runtime_options = {"delegates": ", ".join(delegates) or "benchmark_model's defaults"}
    result.notes.append(f"timed on the phone by benchmark_model ({', '.join(delegates) or 'default delegates'}), "
                        "by its own rule (invoke alone, input staged): not comparable with host rows' timed runs; "
                        "memory is its footprint report; parity and IoU come from the host backends")
