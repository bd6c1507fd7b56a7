"""Mixed precision per device: which autocast dtype, grad scaling and memory format a run uses.

`--amp auto` picks bf16 on a CPU with native bf16 (AVX512-BF16 or AMX-BF16: 2-3x faster training
than fp32 there), fp16 with a grad scaler on CUDA, and fp32 elsewhere. bf16 on CUDA is taken only
where the GPU runs it natively (Ampere and newer), never emulated. Loss and metrics stay fp32.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError
from .hardware import cpu_has_native_bf16, cpu_flags

AMP_MODES = ("auto", "bf16", "fp16", "off")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")


@dataclass(frozen=True)
class Precision:
    amp: str  # "bf16", "fp16" or "off": what autocast actually does
    memory_format: str  # "channels_last" or "contiguous"
    why: str  # one phrase, printed and stored with the run

    @property
    def enabled(self) -> bool:
        return self.amp != "off"

    @property
    def dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.amp, torch.float32)

    @property
    def grad_scaling(self) -> bool:
        """fp16's narrow range needs loss scaling; bf16 has fp32's range and does not."""
        return self.amp == "fp16"

    @property
    def channels_last(self) -> bool:
        return self.memory_format == "channels_last"

    def describe(self) -> str:
        return f"amp {self.amp}, {self.memory_format} ({self.why})"


def cuda_bf16_native() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def choose_precision(requested: str, device_type: str, memory_format: str = "auto", *,
                     flags: frozenset[str] | None = None, cuda_bf16: bool | None = None) -> Precision:
    """Resolve `--amp` and `--memory-format` for a device ('cpu' or 'cuda').

    `flags` (CPU feature flags) and `cuda_bf16` (native bf16 on the GPU) default to this machine's;
    tests pass them to fake other hardware.
    """
    if requested not in AMP_MODES:
        raise UserError(f"--amp {requested!r}: use one of {', '.join(AMP_MODES)}")
    if memory_format not in MEMORY_FORMATS:
        raise UserError(f"--memory-format {memory_format!r}: use one of {', '.join(MEMORY_FORMATS)}")
    # channels_last was faster for every encoder on every device measured (CPU 1.2-1.7x in fp32).
    layout = "channels_last" if memory_format == "auto" else memory_format
    if device_type == "cuda":
        native = cuda_bf16_native() if cuda_bf16 is None else cuda_bf16
        if requested in ("auto", "fp16"):
            return Precision("fp16", layout, "CUDA: fp16 autocast with a grad scaler")
        if requested == "bf16":
            if not native:
                raise UserError("--amp bf16: this GPU has no native bf16 (it would be emulated); use --amp fp16 or auto")
            return Precision("bf16", layout, "CUDA with native bf16")
        return Precision("off", layout, "fp32, as asked")
    native = cpu_has_native_bf16(cpu_flags() if flags is None else flags)
    if requested == "auto":
        if native:
            return Precision("bf16", layout, "CPU with native bf16")
        return Precision("off", layout, "CPU without native bf16: fp32")
    if requested == "bf16":
        return Precision("bf16", layout, "CPU with native bf16" if native else "CPU bf16 emulated: slower than fp32 here")
    if requested == "fp16":
        return Precision("fp16", layout, "CPU fp16 autocast with a grad scaler")
    return Precision("off", layout, "fp32, as asked")
