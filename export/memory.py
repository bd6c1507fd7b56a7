"""The one peak-memory sampler (seg-bench rows and export.cost; here, below bench in the one-way flow): process RSS, optionally its children's, and
GPU memory for GPU backends.

On Linux the process's own peak comes from the kernel's high-water mark (VmHWM in /proc/self/status, reset
through /proc/self/clear_refs where allowed): exact, and nothing has to poll for it. What has no high-water
mark (children's RSS summed, GPU memory in use, or RSS where the OS keeps no mark) is polled on a thread every
`interval_s`; seg-bench therefore samples only in its untimed memory pass (bench/timing.py).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import psutil

MB = 2**20
_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def current_rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def high_water_mark_mb() -> float | None:
    """This process's peak RSS since start (or the last reset), where the OS keeps one (Linux)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MB
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_high_water_mark() -> bool:
    """Start the peak RSS afresh (Linux 4.0+: write 5 to /proc/self/clear_refs); False where not possible."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _rss_with_children_mb() -> float:
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / MB


class PeakMemory:
    """Peak memory from `with` entry to exit (see the module docstring for how each part is measured).

    `include_children`: RSS of this process plus its children (converters run as child processes), polled.
    `gpu_probe`: a callable giving GPU memory in use now (MB), polled. `reset_high_water_mark`: start the
    kernel's peak afresh at entry (False: keep what came before, e.g. a row's load and timed runs).
    """

    def __init__(self, gpu_probe: Callable[[], float | None] | None = None, include_children: bool = False,
                 interval_s: float = 0.01, reset_high_water_mark: bool = True):
        self.gpu_probe, self.include_children, self.interval_s = gpu_probe, include_children, interval_s
        self.reset_mark = reset_high_water_mark
        self.start_rss_mb = self.peak_rss_mb = current_rss_mb()
        self.start_gpu_mb = self.peak_gpu_mb = None
        self.polled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _rss_mb(self) -> float:
        return _rss_with_children_mb() if self.include_children else current_rss_mb()

    def _sample(self) -> None:
        self.peak_rss_mb = max(self.peak_rss_mb, self._rss_mb())
        if self.gpu_probe is not None and (used := self.gpu_probe()) is not None:
            self.start_gpu_mb = used if self.start_gpu_mb is None else self.start_gpu_mb
            self.peak_gpu_mb = max(self.peak_gpu_mb or used, used)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def reset(self) -> None:
        """Start again from now (export.cost: one peak per format)."""
        if self.reset_mark:
            reset_high_water_mark()
        self.start_rss_mb = self.peak_rss_mb = self._rss_mb()
        self.start_gpu_mb = self.peak_gpu_mb = None
        self._sample()

    def __enter__(self) -> "PeakMemory":
        self.reset()
        # the kernel's mark covers this process alone; anything else must be polled
        self.polled = self.include_children or self.gpu_probe is not None or high_water_mark_mb() is None
        if self.polled:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        if not self.include_children and (mark := high_water_mark_mb()) is not None:
            self.peak_rss_mb = max(self.peak_rss_mb, mark)

    @property
    def peak_bytes(self) -> int:
        return int(self.peak_rss_mb * MB)

    @property
    def rss_delta_mb(self) -> float:
        return self.peak_rss_mb - self.start_rss_mb

    @property
    def gpu_delta_mb(self) -> float | None:
        if self.peak_gpu_mb is None:
            return None
        return self.peak_gpu_mb - self.start_gpu_mb
