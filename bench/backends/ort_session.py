"""What the ONNX Runtime backends share: session options, name checks, and device-side I/O binding."""
from __future__ import annotations

from pathlib import Path

from export.contract import ModelContract
from train.errors import UserError

from .base import Backend


def session_options(threads: int):
    """Tuned for batch-1 latency: all graph rewrites (NCHWc layouts on x86), one op at a time, spinning workers."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "1")
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
    device_io = False  # bind input and output on the GPU so timed runs exclude copies

    def provider_list(self) -> list:
        return [self.provider]

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        import onnxruntime as ort

        self.threads = self.options.cpu_threads
        try:
            self.session = ort.InferenceSession(str(artifact), session_options(self.threads), providers=self.provider_list())
        except Exception as err:  # ORT raises its own Fail/InvalidGraph/... types
            raise UserError(f"onnxruntime cannot load {artifact.name}: {str(err).splitlines()[0]}") from None
        used = self.session.get_providers()[0]
        if used != self.provider:
            raise UserError(f"{self.provider} did not take the model (onnxruntime fell back to {used})")
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
        self.device_input.update_inplace(x)  # host -> GPU copy, outside the timed part
        return self.binding

    def infer(self, staged):
        if not self.device_io:
            return self.session.run([self.output_name], staged)[0]
        self.session.run_with_iobinding(staged)  # returns after the GPU work is done
        return staged

    def fetch(self, output):
        return output.copy_outputs_to_cpu()[0] if self.device_io else output

    def versions(self) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__}

    def close(self) -> None:
        self.session = self.binding = self.device_input = self.device_output = None
