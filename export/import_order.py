"""Load triton before TensorFlow: in this venv, importing triton (via torch._dynamo, torchvision,
torch.export) after TensorFlow segfaults the process (both bundle LLVM). coremltools imports
TensorFlow too, so call `before_tensorflow()` before importing either."""
from __future__ import annotations


def before_tensorflow() -> None:
    import torch._dynamo  # noqa: F401  (pulls in triton where installed)
