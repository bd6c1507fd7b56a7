"""The one ExecuTorch runner on the host: load a .pte through `executorch.runtime` (XNNPACK and the portable
kernels are built into the pip wheel), feed its input, read its output.

Used by the export checks, export.fidelity and seg-bench's executorch backend. The three phases stay
separate because seg-bench times them (bench/timing.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from train.errors import UserError

from ...import_order import before_tensorflow, dynamo_too_late

METHOD = "forward"


def set_threads(threads: int | None) -> int:
    """Size ExecuTorch's one process-wide threadpool (XNNPACK uses it); returns the count in force."""
    from executorch.extension.pybindings import portable_lib

    if threads:
        portable_lib._unsafe_reset_threadpool(int(threads))
    return int(portable_lib._threadpool_get_thread_count())


class ExecuTorchRunner:
    def __init__(self, artifact: str | Path, threads: int | None = None):
        if dynamo_too_late():  # executorch.runtime loads torch._dynamo: after TensorFlow, that segfaults
            raise UserError("ExecuTorch cannot load in a process that imported TensorFlow first "
                            "(export/import_order.py): run it in its own process")
        before_tensorflow()
        from executorch.runtime import Runtime

        self.artifact = Path(artifact)
        self.threads = set_threads(threads)
        try:
            program = Runtime.get().load_program(self.artifact)
            self.method = program.load_method(METHOD)
        except (RuntimeError, ValueError) as err:
            lines = str(err).strip().splitlines()
            raise UserError(f"ExecuTorch cannot load {self.artifact.name}: "
                            f"{lines[0] if lines else type(err).__name__}") from None
        if self.method is None:
            raise UserError(f"{self.artifact.name} has no {METHOD!r} method")
        self._input = self._output = None

    def put(self, x: np.ndarray) -> None:
        import torch

        self._input = torch.from_numpy(np.ascontiguousarray(x))

    def invoke(self) -> None:
        self._output = self.method.execute([self._input])

    def get(self) -> np.ndarray:
        return self._output[0].numpy().copy()  # the runtime may reuse its output buffer on the next run

    def run(self, x: np.ndarray) -> np.ndarray:
        self.put(x)
        self.invoke()
        return self.get()


def runtime_version() -> str:
    from importlib.metadata import version

    return version("executorch")
