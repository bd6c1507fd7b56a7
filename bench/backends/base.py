"""The one interface every runtime implements; a runtime is one module with one Backend subclass."""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from export.contract import ModelContract


@dataclass
class BackendOptions:
    """Runtime knobs from the command line; each backend reads the ones it understands."""

    threads: int | None = None  # None: every core this process may use
    channels_last: bool = False  # torch: NHWC memory format
    torch_compile: str | None = None  # torch-cuda: torch.compile mode ("default", "reduce-overhead", "max-autotune")
    cuda_graphs: bool = False  # torch-cuda / ort-cuda: capture the forward once, replay it
    cast_weights: bool = False  # torch-cuda fp16/bf16 rows: cast the weights instead of autocast
    trt_fp16: bool = False  # ort-trt: let TensorRT build fp16 kernels
    # android (TFLite benchmark_model over adb)
    benchmark_model: Path | None = None
    serials: list[str] = field(default_factory=list)
    use_gpu: bool = False
    use_nnapi: bool = False
    use_xnnpack: bool | None = None  # None: the binary's default
    runs: int = 30
    warmup: int = 5

    @property
    def cpu_threads(self) -> int:
        return self.threads or len(os.sched_getaffinity(0))


def cpu_name() -> str:
    """'AMD EPYC (2 cores)': the CPU model from /proc/cpuinfo where there is one."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


class Backend:
    """Load an artifact, then stage an input, infer and fetch the output.

    The benchmark times `infer` + `synchronize` only, with the input already staged (like TFLite's
    benchmark_model), so host/device copies stay out of GPU latencies; `run` does all three steps.
    """

    name: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]  # artifact formats it runs; "torch" means the checkpoint itself
    precisions: ClassVar[tuple[str, ...] | None] = None  # for torch backends: the precisions it runs at
    self_timed: ClassVar[bool] = False  # measures itself (benchmark_model); see android.py

    def __init__(self, options: BackendOptions | None = None):
        self.options = options or BackendOptions()
        self.threads: int | None = None

    def available(self) -> str | None:
        """None when it can run here, else the reason in one line."""
        return None

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        raise NotImplementedError

    def prepare(self, x: np.ndarray) -> Any:
        return x

    def infer(self, staged: Any) -> Any:
        raise NotImplementedError

    def fetch(self, output: Any) -> np.ndarray:
        return np.asarray(output)

    def synchronize(self) -> None:
        """Wait for queued device work (GPU backends)."""

    def run(self, x: np.ndarray) -> np.ndarray:
        out = self.infer(self.prepare(x))
        self.synchronize()
        return self.fetch(out)

    def gpu_memory_mb(self) -> float | None:
        """GPU memory in use now (MB), polled during the row; None for CPU backends."""
        return None

    def gpu_peak_mb(self) -> float | None:
        """Exact GPU peak of this row where the runtime tracks it (torch), else None (the poll is used)."""
        return None

    def model_mb(self) -> float | None:
        """Size of the loaded weights where the artifact's file size says nothing (torch), else None."""
        return None

    def device(self) -> str:
        return cpu_name()

    def versions(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        """Free the model; a matrix loads many, one after the other."""


def weights_mb(model) -> float:
    """fp32 parameters and buffers of a torch module, in MB."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20
