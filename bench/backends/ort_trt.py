"""ONNX Runtime, TensorRT execution provider, CUDA EP as fallback. Engines are cached beside the model, in a
folder keyed by a hash of the model's bytes and the TensorRT options, so a new model (or new options) at the same
path never reuses a stale engine."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .gpu import gpu_name, gpu_used_mb, no_gpu_reason
from .ort_cuda import preload_cuda_libraries
from .ort_session import OrtBackend, missing_provider

CACHE_DIR = ".trt-cache"


def engine_cache_dir(artifact: Path, options: dict) -> Path:
    """`<model folder>/.trt-cache/<model stem>-<16 hex>`: the hash covers the model's bytes and `options`."""
    from export.integrity import artifact_digest

    sha256, _ = artifact_digest(artifact)
    key = hashlib.sha256((sha256 + json.dumps(options, sort_keys=True, default=str)).encode()).hexdigest()[:16]
    return Path(artifact).parent / CACHE_DIR / f"{Path(artifact).stem}-{key}"


class OrtTensorRT(OrtBackend):
    name = "ort-trt"
    provider = "TensorrtExecutionProvider"
    device_io = True

    def available(self) -> str | None:
        reasons = [r for r in (no_gpu_reason(), missing_provider(self.provider, "install onnxruntime-gpu and TensorRT")) if r]
        if not reasons:
            preload_cuda_libraries()
        return "; ".join(reasons) or None

    def trt_options(self) -> dict:
        """What decides the engine (the cache key hashes these with the model)."""
        return {"device_id": 0, "trt_fp16_enable": self.options.trt_fp16}

    def load(self, artifact, contract, precision="fp32") -> None:
        self.cache_dir = engine_cache_dir(artifact, self.trt_options())
        super().load(artifact, contract, precision)

    def provider_list(self) -> list:
        trt = {**self.trt_options(), "trt_engine_cache_enable": True, "trt_engine_cache_path": str(self.cache_dir)}
        return [(self.provider, trt), ("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]

    def gpu_memory_mb(self) -> float | None:
        return gpu_used_mb()

    def device(self) -> str:
        return gpu_name()
