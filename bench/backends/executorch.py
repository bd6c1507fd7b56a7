"""ExecuTorch on the host: `.pte` programs through `executorch.runtime` (XNNPACK delegate), `--threads`."""
from __future__ import annotations

from pathlib import Path

from export.contract import ModelContract

from .base import RunnerBackend


class ExecuTorch(RunnerBackend):
    name = "executorch"
    formats = ("executorch",)

    def available(self) -> str | None:
        from importlib.util import find_spec

        if find_spec("executorch") is None:  # found, not imported: loading it here could follow TensorFlow
            return "executorch is not installed (pip install executorch)"
        return None

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        from export.formats.executorch.runner import ExecuTorchRunner

        self.runner = ExecuTorchRunner(artifact, threads=self.options.cpu_threads)
        self.threads = self.runner.threads

    def row_settings(self) -> dict:
        return {"runtime_options": {"delegate": "XNNPACK (lowered into the .pte)", "num_threads": str(self.threads)}}

    def versions(self) -> dict[str, str]:
        from export.formats.executorch.runner import runtime_version

        return {"executorch": runtime_version()}
