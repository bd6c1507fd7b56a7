"""PyTorch on a CUDA GPU, with the knobs a GPU session tries: channels_last, fp16/bf16 autocast (or
weights cast to that type), torch.compile and CUDA graphs."""
from __future__ import annotations

from pathlib import Path

from export.contract import ModelContract
from train.errors import UserError

from ..reference import build_reference_model
from .base import Backend, weights_mb
from .gpu import gpu_name, no_gpu_reason


class TorchCUDA(Backend):
    name = "torch-cuda"
    formats = ("torch",)
    precisions = ("fp32", "fp16", "bf16")  # fp16/bf16: autocast over fp32 weights

    def available(self) -> str | None:
        return no_gpu_reason()

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        import torch

        if self.options.cuda_graphs and self.options.torch_compile in ("reduce-overhead", "max-autotune"):
            # those modes capture CUDA graphs themselves: a capture around them would nest and re-capture
            raise UserError(f"--compile {self.options.torch_compile} already uses CUDA graphs: drop --cuda-graphs, "
                            "or use --compile default with it")
        if precision == "bf16" and not torch.cuda.is_bf16_supported(including_emulation=False):
            raise UserError(f"{gpu_name()} has no bf16 support")
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest kernels
        torch.set_float32_matmul_precision("high")  # TF32 on Ampere and newer
        torch.cuda.reset_peak_memory_stats()
        self.threads = torch.get_num_threads()
        self.memory_format = torch.channels_last if self.options.channels_last else torch.contiguous_format
        self.model = model = build_reference_model(contract.source).cuda().to(memory_format=self.memory_format)
        self.autocast = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
        in_dtype = torch.float32
        if self.autocast is not None and self.options.cast_weights:  # no per-op casts: less launch overhead
            model, in_dtype, self.autocast = model.to(self.autocast), self.autocast, None
        self.weights_dtype = in_dtype
        self.forward_fn = torch.compile(model, mode=self.options.torch_compile) if self.options.torch_compile else model
        self.static_in = torch.zeros(contract.input.shape, device="cuda", dtype=in_dtype).to(memory_format=self.memory_format)
        self.graph = None
        if self.options.cuda_graphs:
            self._capture(torch)

    def _forward(self, x):
        import torch

        with torch.no_grad(), torch.autocast("cuda", dtype=self.autocast or torch.float16, enabled=self.autocast is not None):
            return self.forward_fn(x)

    def _capture(self, torch) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up (and compile) outside the capture
            for _ in range(3):
                self._forward(self.static_in)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_out = self._forward(self.static_in)

    def prepare(self, x):
        import torch

        self.static_in.copy_(torch.from_numpy(x))
        return self.static_in

    def infer(self, staged):
        if self.graph is not None:
            self.graph.replay()
            return self.static_out
        return self._forward(staged)

    def synchronize(self) -> None:
        import torch

        torch.cuda.synchronize()

    def fetch(self, output):
        return output.float().cpu().numpy()

    def gpu_peak_mb(self) -> float | None:
        import torch

        return torch.cuda.max_memory_allocated() / 2**20

    def device(self) -> str:
        return gpu_name()

    def row_settings(self) -> dict:
        options = {"autocast": str(self.autocast).replace("torch.", "") if self.autocast is not None else "off",
                   "weights": str(self.weights_dtype).replace("torch.", ""), "cudnn.benchmark": "True",
                   "float32_matmul_precision": "high"}
        return {"memory_format": "channels_last" if self.options.channels_last else "contiguous",
                "compile": self.options.torch_compile or "", "cuda_graphs": self.options.cuda_graphs,
                "runtime_options": options}

    def model_mb(self) -> float | None:
        return weights_mb(self.model)

    def versions(self) -> dict[str, str]:
        import torch

        return {"torch": torch.__version__, "cuda": str(torch.version.cuda), "cudnn": str(torch.backends.cudnn.version())}

    def close(self) -> None:
        import torch

        self.model = self.forward_fn = self.static_in = self.graph = self.static_out = None
        torch.cuda.empty_cache()
