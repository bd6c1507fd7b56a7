"""ONNX Runtime, TensorRT execution provider (engines cached beside the model), CUDA EP as fallback."""
from __future__ import annotations

from .gpu import gpu_name, gpu_used_mb, no_gpu_reason
from .ort_cuda import preload_cuda_libraries
from .ort_session import OrtBackend, missing_provider


class OrtTensorRT(OrtBackend):
    name = "ort-trt"
    provider = "TensorrtExecutionProvider"
    device_io = True

    def available(self) -> str | None:
        reasons = [r for r in (no_gpu_reason(), missing_provider(self.provider, "install onnxruntime-gpu and TensorRT")) if r]
        if not reasons:
            preload_cuda_libraries()
        return "; ".join(reasons) or None

    def load(self, artifact, contract, precision="fp32") -> None:
        self.cache_dir = artifact.parent / ".trt-cache"
        super().load(artifact, contract, precision)

    def provider_list(self) -> list:
        trt = {"device_id": 0, "trt_fp16_enable": self.options.trt_fp16, "trt_engine_cache_enable": True,
               "trt_engine_cache_path": str(self.cache_dir)}
        return [(self.provider, trt), ("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]

    def gpu_memory_mb(self) -> float | None:
        return gpu_used_mb()

    def device(self) -> str:
        return gpu_name()
