"""Core ML through coremltools (prediction runs on macOS only), all compute units."""
from __future__ import annotations

import platform
from pathlib import Path

from export.contract import ModelContract

from .base import Backend


class CoreML(Backend):
    name = "coreml"
    formats = ("coreml",)

    def available(self) -> str | None:
        if platform.system() != "Darwin":
            return f"Core ML needs macOS (this is {platform.system()})"
        try:
            import coremltools  # noqa: F401
        except ImportError:
            return "coremltools is not installed"
        return None

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        import coremltools as ct

        self.model = ct.models.MLModel(str(artifact), compute_units=ct.ComputeUnit.ALL)
        self.input_name, self.output_name = contract.input.name, contract.output.name

    def prepare(self, x):
        return {self.input_name: x}

    def infer(self, staged):
        return self.model.predict(staged)

    def fetch(self, output):
        return output[self.output_name]

    def device(self) -> str:
        return f"{platform.machine()} Mac, Core ML (all compute units)"

    def versions(self) -> dict[str, str]:
        import coremltools as ct

        return {"coremltools": ct.__version__, "macos": platform.mac_ver()[0]}

    def close(self) -> None:
        self.model = None
