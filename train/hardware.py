"""What machine this is: the one place that names the CPU and reads its feature flags.

Lives in `train/` (the bottom of the one-way flow) so export and bench can use it too.
"""
from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


@lru_cache(maxsize=None)
def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """'AMD EPYC 9R14' or whatever the OS calls it; the architecture where it says nothing. A name without a model
    number ('AMD EPYC' on some VMs, both Zen 4 and Zen 5) gets the family and model: 'AMD EPYC family 25 model 17'."""
    name = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    family, model = _cpuinfo_field("cpu family"), _cpuinfo_field("model")
    if not any(c.isdigit() for c in name) and family and model:
        name = f"{name} family {family} model {model}"
    return name


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags (/proc/cpuinfo 'flags'); empty where the OS does not list them."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_name() -> str:
    """'AMD EPYC (2 cores)': model and the cores this process may use."""
    return f"{cpu_model()} ({cpu_cores()} cores)"


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """bf16 matrix instructions (AVX512-BF16 on Zen 4 / Cooper Lake, AMX-BF16 on Sapphire Rapids)."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def notable_cpu_flags(flags: frozenset[str] | None = None) -> list[str]:
    """The flags that decide ML speed here (for result rows): AVX2/512, VNNI, BF16, AMX."""
    flags = cpu_flags() if flags is None else flags
    keep = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_fp16")
    return [f for f in keep if f in flags]
