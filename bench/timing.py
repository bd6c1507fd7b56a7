"""The one timing rule, for every backend (seg-bench rows and `python -m bench.runtime_speed` alike).

A timed run is `Backend.run(x)`: put the input (a host numpy array) into the runtime, run, and get the
output back as a host numpy array the caller owns; copies both ways are inside the timed region for every
runtime (torch's from_numpy/.numpy(), ONNX Runtime's feeds and fetches or its GPU I/O binding copies, LiteRT's
set_tensor/get_tensor, torch-cuda's host<->GPU copies). Loading (`init_ms`) and the first run (`first_ms`)
are timed apart; then `warmup` untimed runs; then `runs` timed runs, from which mean, std, min, max and every
percentile come; browser backends (ort-web, litert-web) time that span with the page's own clock
(`Backend.own_clock_ms`, bench/backends/browser.py says what it covers). Nothing else runs meanwhile: peak
memory is measured afterwards, in its own untimed pass
(export/memory.py, `memory_pass`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

TIMING_RULE = ("timed run = input from host -> run -> output on host (copies both ways), after warm-up; "
               "load and first run timed apart; memory measured in a separate untimed pass")

clock: Callable[[], float] = time.perf_counter


def timed_ms(fn: Callable[[], object]) -> float:
    start = clock()
    fn()
    return (clock() - start) * 1000


def one_run(backend, x: np.ndarray) -> np.ndarray:
    """The timed unit: host input in, host output out (`Backend.run`: prepare, infer, synchronize, fetch)."""
    return backend.run(x)


def one_run_ms(backend, x: np.ndarray) -> float:
    ms = timed_ms(lambda: one_run(backend, x))
    # browser backends time the same span inside the page: the host's clock would time WebDriver's transport
    own = getattr(backend, "own_clock_ms", lambda: None)()
    return ms if own is None else own


@dataclass
class Timing:
    init_ms: float
    first_ms: float
    warmup: int
    samples_ms: list[float]


def time_backend(backend, load: Callable[[], None], x: np.ndarray, warmup: int, runs: int,
                 step: Callable[[str], None] = lambda _: None) -> Timing:
    """Load (timed), first run (timed apart), `warmup` untimed runs, `runs` timed runs: all by the rule above."""
    init_ms = timed_ms(load)
    first_ms = one_run_ms(backend, x)
    for _ in range(warmup):
        one_run(backend, x)
    step(f"{runs} timed runs")
    samples = [one_run_ms(backend, x) for _ in range(runs)]
    return Timing(init_ms, first_ms, warmup, samples)


def memory_pass(backend, x: np.ndarray, runs: int, gpu_probe=None):
    """The untimed memory pass after timing: `runs` more runs under the sampler; returns the PeakMemory."""
    from export.memory import PeakMemory

    with PeakMemory(gpu_probe=gpu_probe, reset_high_water_mark=False) as memory:
        for _ in range(max(1, runs)):
            one_run(backend, x)
    return memory
