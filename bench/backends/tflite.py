"""LiteRT (TFLite) interpreter on the host, XNNPACK delegate (the interpreter's default), `--threads`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from export.contract import ModelContract
from train.errors import UserError

from .base import RunnerBackend


class TFLite(RunnerBackend):
    name = "tflite"
    formats = ("tflite",)

    def available(self) -> str | None:
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError:
            return "ai-edge-litert is not installed (pip install ai-edge-litert)"
        return None

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        from export.formats.tflite.runner import LiteRTRunner

        self.threads = self.options.cpu_threads
        runner = self.runner = LiteRTRunner(artifact, threads=self.threads)
        # tensor names differ between converter versions: address them by index, checked against the contract
        runner.input = _only_match(runner.inputs, contract.input.shape, contract.input.dtype, "input", artifact)
        runner.output = _only_match(runner.outputs, contract.output.shape, contract.output.dtype, "output", artifact)

    def row_settings(self) -> dict:
        return {"runtime_options": {"delegate": "XNNPACK (the interpreter's default)",
                                    "num_threads": str(self.threads)}}

    def versions(self) -> dict[str, str]:
        import ai_edge_litert

        return {"ai-edge-litert": getattr(ai_edge_litert, "__version__", "?")}


def _only_match(details: list[dict], shape: list[int], dtype: str, what: str, artifact: Path) -> dict:
    """The one tensor with the contract's shape and dtype (or, for foreign models whose contract adds a
    missing channel axis, the one with as many elements)."""
    typed = [d for d in details if np.dtype(d["dtype"]) == np.dtype(dtype)]
    matches = [d for d in typed if list(d["shape"]) == list(shape)]
    if not matches:
        matches = [d for d in typed if int(np.prod(d["shape"])) == int(np.prod(shape))]
    if len(matches) != 1:
        found = ", ".join(f"{list(d['shape'])} {np.dtype(d['dtype'])}" for d in details)
        raise UserError(f"{artifact.name}: the contract's {what} is {shape} {dtype}, the model has {found}")
    return matches[0]
