"""CUDA facts shared by the GPU backends, read through torch (installed with CUDA support here)."""
from __future__ import annotations


def no_gpu_reason() -> str | None:
    try:
        import torch
    except ImportError:
        return "no torch to look for a CUDA GPU"
    if not torch.cuda.is_available():
        return "no CUDA GPU visible (torch.cuda.is_available() is False)"
    return None


def gpu_name() -> str:
    import torch

    props = torch.cuda.get_device_properties(0)
    return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"


def gpu_used_mb() -> float:
    """Memory in use on GPU 0 by every process (cudaMemGetInfo), in MB."""
    import torch

    free, total = torch.cuda.mem_get_info(0)
    return (total - free) / 2**20
