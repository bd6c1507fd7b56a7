"""ONNX Runtime, CUDA execution provider, inputs and outputs bound on the GPU."""
from __future__ import annotations

from .gpu import gpu_name, gpu_used_mb, no_gpu_reason
from .ort_session import OrtBackend, missing_provider


def preload_cuda_libraries() -> None:
    """Load the CUDA/cuDNN libraries of the pip `nvidia-*` wheels (torch's) so the EP finds them."""
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()
        except Exception:  # best effort: the EP then reports what is missing itself
            pass


class OrtCUDA(OrtBackend):
    name = "ort-cuda"
    provider = "CUDAExecutionProvider"
    device_io = True

    def available(self) -> str | None:
        reasons = [r for r in (no_gpu_reason(), missing_provider(self.provider)) if r]
        if not reasons:
            preload_cuda_libraries()
        return "; ".join(reasons) or None

    def provider_list(self) -> list:
        options = {"device_id": 0, "cudnn_conv_algo_search": "EXHAUSTIVE", "do_copy_in_default_stream": True}
        if self.options.cuda_graphs:
            options["enable_cuda_graph"] = True  # needs the fixed addresses that the I/O binding gives
        return [(self.provider, options), "CPUExecutionProvider"]

    def gpu_memory_mb(self) -> float | None:
        return gpu_used_mb()

    def device(self) -> str:
        return gpu_name()
