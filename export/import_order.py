"""Load triton before TensorFlow: in this venv, importing triton (via torch._dynamo, torchvision,
torch.export) after TensorFlow segfaults the process (likely clashing bundled LLVMs). coremltools imports
TensorFlow too, so call `before_tensorflow()` before importing either."""
from __future__ import annotations


def before_tensorflow() -> None:
    import importlib

    importlib.import_module("torch._dynamo")  # pulls in triton where installed
