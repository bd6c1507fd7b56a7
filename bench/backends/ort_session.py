"""What the ONNX Runtime backends share: session options, name checks, and device-side I/O binding."""
from __future__ import annotations

from pathlib import Path

from export.contract import ModelContract
from train.errors import UserError

from .base import Backend, ProviderFallback


def session_settings(threads: int) -> dict[str, str]:
    """The session options every ORT row uses, as recorded on the row: batch-1 latency, all graph rewrites
    (NCHWc layouts on x86), one op at a time, spinning intra-op workers (ORT's defaults, threads set)."""
    return {"graph_optimization_level": "ORT_ENABLE_ALL", "execution_mode": "ORT_SEQUENTIAL",
            "intra_op_num_threads": str(threads), "inter_op_num_threads": "1",
            "session.intra_op.allow_spinning": "1"}


def session_options(threads: int):
    """`session_settings` as an onnxruntime.SessionOptions."""
    import onnxruntime as ort

    settings = session_settings(threads)
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, settings["graph_optimization_level"])
    so.execution_mode = getattr(ort.ExecutionMode, settings["execution_mode"])
    so.intra_op_num_threads = int(settings["intra_op_num_threads"])
    so.inter_op_num_threads = int(settings["inter_op_num_threads"])
    so.add_session_config_entry("session.intra_op.allow_spinning", settings["session.intra_op.allow_spinning"])
    so.log_severity_level = 3  # errors only: ORT warns about every CPU fallback node
    return so


def missing_provider(provider: str, hint: str = "install onnxruntime-gpu") -> str | None:
    import onnxruntime as ort

    if provider not in ort.get_available_providers():
        short = {"CUDAExecutionProvider": "CUDA", "TensorrtExecutionProvider": "TensorRT"}.get(provider, provider)
        return f"no {short} EP in this onnxruntime {ort.__version__} ({hint})"
    return None


class OrtBackend(Backend):
    formats = ("onnx",)
    provider: str = "CPUExecutionProvider"
    device_io = False  # input and output bound on the GPU at fixed addresses (CUDA graphs need that)

    def provider_list(self) -> list:
        return [self.provider]

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        import onnxruntime as ort

        self.threads = self.options.cpu_threads
        try:
            self.session = ort.InferenceSession(str(artifact), session_options(self.threads), providers=self.provider_list())
        except Exception as err:  # ORT raises its own Fail/InvalidGraph/... types
            raise UserError(f"onnxruntime cannot load {artifact.name}: {str(err).splitlines()[0]}") from None
        self.used_providers = list(self.session.get_providers())
        if self.used_providers[0] != self.provider:
            raise ProviderFallback(f"{self.provider} did not take the model: onnxruntime fell back to "
                                   f"{', '.join(self.used_providers)}; not measured", self.used_providers)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if contract.input.name not in inputs or contract.output.name not in outputs:
            raise UserError(f"{artifact.name} has inputs {inputs} and outputs {outputs}, "
                            f"but its contract names {contract.input.name!r} -> {contract.output.name!r}")
        self.input_name, self.output_name = contract.input.name, contract.output.name
        if self.device_io:
            self._bind_on_gpu(ort, contract)

    def _bind_on_gpu(self, ort, contract: ModelContract) -> None:
        """Input and output live on the GPU at fixed addresses (CUDA graphs need that), bound once."""
        import numpy as np

        self.binding = self.session.io_binding()
        self.device_input = ort.OrtValue.ortvalue_from_shape_and_type(
            contract.input.shape, np.dtype(contract.input.dtype), "cuda", 0)
        self.device_output = ort.OrtValue.ortvalue_from_shape_and_type(
            contract.output.shape, np.dtype(contract.output.dtype), "cuda", 0)
        self.binding.bind_ortvalue_input(self.input_name, self.device_input)
        self.binding.bind_ortvalue_output(self.output_name, self.device_output)

    def prepare(self, x):
        if not self.device_io:
            return {self.input_name: x}
        self.device_input.update_inplace(x)  # host -> GPU copy (inside the timed run, like every backend's)
        return self.binding

    def infer(self, staged):
        if not self.device_io:
            return self.session.run([self.output_name], staged)[0]
        self.session.run_with_iobinding(staged)  # returns after the GPU work is done
        return staged

    def fetch(self, output):
        return output.copy_outputs_to_cpu()[0] if self.device_io else output

    def provider_settings(self) -> dict[str, str]:
        """Options given to the row's provider (recorded on the row), beyond the session options."""
        options = next((opts for p in self.provider_list() if isinstance(p, tuple) and p[0] == self.provider
                        for opts in [p[1]]), {})
        return {f"{self.provider.removesuffix('ExecutionProvider')}.{k}": str(v) for k, v in options.items()}

    def row_settings(self) -> dict:
        options = {**session_settings(self.threads), **self.provider_settings()}
        if self.device_io:
            options["io_binding"] = "input and output on the GPU, copied from/to the host in each timed run"
        return {"providers": ",".join(self.used_providers), "runtime_options": options,
                "cuda_graphs": bool(self.options.cuda_graphs) if self.device_io else None}

    def versions(self) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__}

    def close(self) -> None:
        self.session = self.binding = self.device_input = self.device_output = None
