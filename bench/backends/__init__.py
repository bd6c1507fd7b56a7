"""The backend table: `--backend NAME` -> its class. Adding a runtime = one module + one line here."""
from __future__ import annotations

from train.errors import UserError

from .android import Android
from .base import Backend, BackendOptions, ProviderFallback
from .coreml import CoreML
from .executorch import ExecuTorch
from .litert_web import LiteRTWeb
from .mediapipe import MediaPipe
from .ort_cpu import OrtCPU
from .ort_cuda import OrtCUDA
from .ort_trt import OrtTensorRT
from .ort_web import OrtWeb
from .tflite import TFLite
from .torch_cpu import TorchCPU
from .torch_cuda import TorchCUDA

BACKENDS: dict[str, type[Backend]] = {cls.name: cls for cls in (
    TorchCPU, TorchCUDA, OrtCPU, OrtCUDA, OrtTensorRT, TFLite, MediaPipe, CoreML, ExecuTorch, Android,
    OrtWeb, LiteRTWeb,  # headless Chromium (browser.py)
)}


def make_backend(name: str, options: BackendOptions | None = None) -> Backend:
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}: use {', '.join(BACKENDS)} or all")
    return BACKENDS[name](options)


def backends_for(fmt: str) -> list[str]:
    """Backends that run artifacts of this format ("torch" = the checkpoint)."""
    return [name for name, cls in BACKENDS.items() if fmt in cls.formats]


__all__ = ["BACKENDS", "Backend", "BackendOptions", "ProviderFallback", "backends_for", "make_backend"]
