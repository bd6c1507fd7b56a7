"""Peak memory while a row runs: this process's RSS (psutil) and, for GPU backends, GPU memory, polled."""
from __future__ import annotations

import threading
from typing import Callable

import psutil

MB = 2**20


class PeakMemory:
    """Poll RSS (and an optional GPU probe) every `interval_s` on a thread, from `with` entry to exit."""

    def __init__(self, gpu_probe: Callable[[], float | None] | None = None, interval_s: float = 0.01):
        self.process = psutil.Process()
        self.gpu_probe, self.interval_s = gpu_probe, interval_s
        self.start_rss_mb = self.peak_rss_mb = self.process.memory_info().rss / MB
        self.start_gpu_mb = self.peak_gpu_mb = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> None:
        self.peak_rss_mb = max(self.peak_rss_mb, self.process.memory_info().rss / MB)
        if self.gpu_probe is not None and (used := self.gpu_probe()) is not None:
            self.start_gpu_mb = used if self.start_gpu_mb is None else self.start_gpu_mb
            self.peak_gpu_mb = max(self.peak_gpu_mb or used, used)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> "PeakMemory":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def rss_delta_mb(self) -> float:
        return self.peak_rss_mb - self.start_rss_mb

    @property
    def gpu_delta_mb(self) -> float | None:
        if self.peak_gpu_mb is None:
            return None
        return self.peak_gpu_mb - self.start_gpu_mb
