"""Where a run executes: torchrun's ranks (`Distributed`), the device each rank trains on, and that device's name.

Shared by the trainer and `python -m train.speed`, so a throughput measurement runs where training would and
names the device the same way checkpoints and summaries do.
"""
from __future__ import annotations

import os

from .errors import UserError


class Distributed:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; without them this is a single process."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def setup(self, device_type: str) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.init_process_group("nccl" if device_type == "cuda" else "gloo")

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def pick_device(name: str, dist: Distributed):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda asked for, but no CUDA GPU is visible to torch")
        torch.cuda.set_device(dist.local_rank)
        torch.backends.cudnn.benchmark = True  # the input size is fixed: let cuDNN pick the fastest kernels once
        return torch.device("cuda", dist.local_rank)
    return torch.device(name)


def device_name(device) -> str:
    import torch

    from .hardware import cpu_model

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_model()}, {torch.get_num_threads()} threads)"
