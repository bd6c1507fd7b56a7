"""The one interface every runtime implements; a runtime is one module with one Backend subclass."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from export.contract import ModelContract
from train.errors import UserError
from train.hardware import cpu_name


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
    executor_runner: Path | None = None  # ExecuTorch's, for .pte on the phone
    serials: list[str] = field(default_factory=list)
    use_gpu: bool = False
    use_nnapi: bool = False
    use_xnnpack: bool | None = None  # None: the binary's default
    runs: int = 30
    warmup: int = 5

    @property
    def cpu_threads(self) -> int:
        return self.threads or len(os.sched_getaffinity(0))


class ProviderFallback(UserError):
    """The runtime took the model on another provider than the row's (ONNX Runtime CUDA/TensorRT -> CPU):
    the row gets its own status ('fallback'), never CPU figures under a GPU backend's name."""

    def __init__(self, message: str, used: list[str]):
        super().__init__(message)
        self.used = list(used)


class Backend:
    """Load an artifact, then stage an input, infer and fetch the output.

    The benchmark times `run` (bench/timing.py, the same rule for every backend): `prepare` puts the host
    input into the runtime, `infer` runs, `synchronize` waits for queued device work and `fetch` returns the
    output as a host numpy array the caller owns; copies both ways are part of the timed run.
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

    @classmethod
    def refuses(cls, artifact: Path, contract: ModelContract) -> str | None:
        """Why this runtime cannot take this artifact at all, in one line (checked as rows are planned: the row
        is 'unavailable', not failed); None: it can."""
        return None

    def host_input(self, x: np.ndarray, contract: ModelContract) -> np.ndarray:
        """What an app hands this runtime, made from the model's input tensor before any clock runs: the tensor
        itself, except for runtimes that take images and do their own pre-processing (mediapipe.py)."""
        return x

    def to_logits(self, raw: np.ndarray, contract: ModelContract) -> np.ndarray:
        """`run`'s output as HxW person logits (untimed): as the contract says, unless the runtime post-processes."""
        from ..foreign import read_logits

        return read_logits(raw, contract)

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

    def own_clock_ms(self) -> float | None:
        """The last run's time by the runtime's own clock, where the host's clock would time a harness rather than
        the runtime (browser pages, bench/backends/browser.py); None: the host clock times `run` (the rule)."""
        return None

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

    def row_settings(self) -> dict[str, Any]:
        """Result fields saying how this runtime ran the model (memory_format, compile, cuda_graphs, providers,
        runtime_options); after `load`."""
        return {}

    def versions(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        """Free the model; a matrix loads many, one after the other."""


def weights_mb(model) -> float:
    """fp32 parameters and buffers of a torch module, in MB."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


class RunnerBackend(Backend):
    """A runtime driven through one of export's runners (put, invoke, get: LiteRT's, ExecuTorch's); `load` sets
    `self.runner`. The three phases stay apart because the timing rule times all three."""

    runner: Any = None

    def prepare(self, x: np.ndarray) -> Any:
        self.runner.put(x)

    def infer(self, staged: Any) -> Any:
        self.runner.invoke()

    def fetch(self, output: Any) -> np.ndarray:
        return self.runner.get()

    def close(self) -> None:
        self.runner = None
