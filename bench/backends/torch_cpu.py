"""PyTorch eager on the CPU: the checkpoint itself, the baseline every export is compared with."""
from __future__ import annotations

from pathlib import Path

from export.contract import ModelContract

from ..reference import build_reference_model
from .base import Backend, weights_mb


class TorchCPU(Backend):
    name = "torch-cpu"
    formats = ("torch",)
    precisions = ("fp32",)

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        import torch

        torch.set_num_threads(self.options.cpu_threads)
        self.threads = torch.get_num_threads()
        self.model = build_reference_model(contract.source)
        if self.options.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def prepare(self, x):
        import torch

        t = torch.from_numpy(x)
        return t.contiguous(memory_format=torch.channels_last) if self.options.channels_last else t

    def infer(self, staged):
        import torch

        with torch.inference_mode():
            return self.model(staged)

    def fetch(self, output):
        return output.numpy()

    def row_settings(self) -> dict:
        return {"memory_format": "channels_last" if self.options.channels_last else "contiguous",
                "runtime_options": {"mode": "eager, inference_mode"}}

    def model_mb(self) -> float | None:
        return weights_mb(self.model)

    def versions(self) -> dict[str, str]:
        import torch

        return {"torch": torch.__version__}

    def close(self) -> None:
        self.model = None
