"""Load triton before TensorFlow: in this venv, importing triton (via torch._dynamo, torchvision,
torch.export) after TensorFlow segfaults the process (likely clashing bundled LLVMs). coremltools imports
TensorFlow too, so call `before_tensorflow()` before importing either."""
from __future__ import annotations


def before_tensorflow() -> None:
    import importlib

    importlib.import_module("torch._dynamo")  # pulls in triton where installed


def dynamo_too_late() -> bool:
    """True when TensorFlow is loaded and torch._dynamo is not: loading dynamo now (torch.export, ExecuTorch's
    runtime) would segfault, so callers refuse in one line instead."""
    import sys

    return "tensorflow" in sys.modules and "torch._dynamo" not in sys.modules
