"""ONNX Runtime, CPU execution provider."""
from __future__ import annotations

from .ort_session import OrtBackend


class OrtCPU(OrtBackend):
    name = "ort-cpu"
    provider = "CPUExecutionProvider"
