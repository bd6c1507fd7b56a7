"""The one timing rule (bench/timing.py), backend by backend: each runtime is replaced by a fake whose every call
costs a known time on a fake clock, so the row's figures must be exactly what the rule says they cover.

Rule: load timed alone (init), the first run timed alone, warm-up untimed, then each timed run = input in
(host copy) + run + output out (host copy); percentiles from those same runs; the memory sampler only in a
separate pass afterwards.
"""
from __future__ import annotations

import numpy as np
import pytest

import bench.timing
import export.memory
from bench.backends import BackendOptions, make_backend
from bench.images import synthetic_images
from bench.jobs import Job
from bench.reference import ReferenceLogits
from bench.runner import Settings, measure
from export.contract import ModelContract, Postprocess, Preprocess, Source, TensorSpec

H = W = 8
LOAD_S, IN_S, OUT_S = 0.400, 0.002, 0.003
COMPUTE_S = [0.010, 0.020, 0.030, 0.040, 0.050, 0.060, 0.070, 0.080, 0.090, 0.100, 0.110, 0.120]  # call by call
SETTINGS = Settings(runs=6, warmup=2, previews=0, parity=False, memory_runs=3)


class FakeClock:
    """time.perf_counter for bench.timing: it moves only when a fake runtime spends time."""

    def __init__(self):
        self.now = 0.0
        self.sampling = False  # is the memory sampler running (set by the patched PeakMemory)
        self.calls: list[bool] = []  # per compute call: was the sampler running

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds

    def compute(self) -> None:
        self.calls.append(self.sampling)
        self.spend(COMPUTE_S[min(len(self.calls) - 1, len(COMPUTE_S) - 1)])


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # the torch-cpu backend sets this process's thread count


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bench.timing, "clock", clock)
    enter, exit_ = export.memory.PeakMemory.__enter__, export.memory.PeakMemory.__exit__

    def entering(self):
        clock.sampling = True
        return enter(self)

    def exiting(self, *exc):
        clock.sampling = False
        return exit_(self, *exc)

    monkeypatch.setattr(export.memory.PeakMemory, "__enter__", entering)
    monkeypatch.setattr(export.memory.PeakMemory, "__exit__", exiting)
    return clock


def _contract(fmt: str, layout: str) -> ModelContract:
    shape_in = [1, 3, H, W] if layout == "NCHW" else [1, H, W, 3]
    shape_out = [1, 1, H, W] if layout == "NCHW" else [1, H, W, 1]
    return ModelContract(fmt, "fp32", "m", TensorSpec("input", shape_in, layout), TensorSpec("logits", shape_out, layout),
                         Preprocess([0.5] * 3, [0.5] * 3), Postprocess(), Source("efficientnet-b0", None, None, False))


def _row(backend_name: str, fmt: str, layout: str, tmp_path, options: BackendOptions | None = None):
    artifact = tmp_path / f"m.{fmt}"
    artifact.write_bytes(b"fake")
    job = Job(backend_name, artifact.name, "efficientnet-b0", fmt, "fp32", artifact, _contract(fmt, layout))
    outcome = measure(job, make_backend(backend_name, options or BackendOptions(threads=1)),
                      synthetic_images(1, (H, W)), SETTINGS, ReferenceLogits(None))
    return outcome.result


def _check_rule(result, clock: FakeClock, copies_s: float) -> None:
    """init = load alone; first = first run alone; timed runs = copies + compute of calls 4..9 (after 1 first and
    2 warm-up runs); percentiles of exactly those; the sampler on only after them (memory pass and IoU pass)."""
    assert result.status == "ok", result.reason
    assert result.init_ms == pytest.approx(LOAD_S * 1000)
    assert result.first_ms == pytest.approx((COMPUTE_S[0] + copies_s) * 1000)
    timed = [(c + copies_s) * 1000 for c in COMPUTE_S[3:3 + SETTINGS.runs]]
    assert (result.runs, result.warmup) == (SETTINGS.runs, SETTINGS.warmup)
    assert result.min_ms == pytest.approx(min(timed)) and result.max_ms == pytest.approx(max(timed))
    assert result.mean_ms == pytest.approx(np.mean(timed))
    assert result.p50_ms == pytest.approx(np.percentile(timed, 50))
    assert result.p99_ms == pytest.approx(np.percentile(timed, 99))
    timed_calls = 1 + SETTINGS.warmup + SETTINGS.runs
    assert clock.calls[:timed_calls] == [False] * timed_calls  # nothing sampled memory while the clock ran
    assert clock.calls[timed_calls:timed_calls + SETTINGS.memory_runs] == [True] * SETTINGS.memory_runs
    assert result.peak_rss_mb > 0


class _FakeOutput:
    """What the fake torch model returns: `.numpy()` is the host copy out."""

    def __init__(self, clock):
        self.clock = clock

    def numpy(self):
        self.clock.spend(OUT_S)
        return np.zeros((1, 1, H, W), np.float32)


def test_torch_cpu_times_the_host_copies_and_records_its_memory_format(clock, monkeypatch, tmp_path):
    import torch

    import bench.backends.torch_cpu as torch_cpu

    class FakeModel(torch.nn.Module):
        def forward(self, x):
            assert x.shape == (1, 3, H, W)
            clock.compute()
            return _FakeOutput(clock)

    def build(source):
        clock.spend(LOAD_S)
        return FakeModel()

    real_from_numpy = torch.from_numpy

    def from_numpy(array):
        clock.spend(IN_S)
        return real_from_numpy(array)

    monkeypatch.setattr(torch_cpu, "build_reference_model", build)
    monkeypatch.setattr(torch, "from_numpy", from_numpy)
    result = _row("torch-cpu", "torch", "NCHW", tmp_path, BackendOptions(threads=1, channels_last=True))
    _check_rule(result, clock, IN_S + OUT_S)
    assert result.memory_format == "channels_last" and result.cpu and result.threads == 1
    plain = _row("torch-cpu", "torch", "NCHW", tmp_path)
    assert plain.memory_format == "contiguous"


class _FakeSession:
    """onnxruntime.InferenceSession: load, then `run` (feeds copied in, outputs copied out inside it)."""

    clock: FakeClock
    providers = ["CPUExecutionProvider"]

    def __init__(self, path, options=None, providers=None):
        self.clock.spend(LOAD_S)

    def get_providers(self):
        return list(self.providers)

    def get_inputs(self):
        return [type("I", (), {"name": "input"})()]

    def get_outputs(self):
        return [type("O", (), {"name": "logits"})()]

    def run(self, names, feeds):
        self.clock.spend(IN_S)
        self.clock.compute()
        self.clock.spend(OUT_S)
        return [np.zeros((1, 1, H, W), np.float32)]

    # I/O binding (ort-cuda, ort-trt): the copies are the binding's calls
    def io_binding(self):
        clock = self.clock

        class Binding:
            def bind_ortvalue_input(self, *a):
                pass

            def bind_ortvalue_output(self, *a):
                pass

            def copy_outputs_to_cpu(self):
                clock.spend(OUT_S)
                return [np.zeros((1, 1, H, W), np.float32)]
        return Binding()

    def run_with_iobinding(self, binding):
        self.clock.compute()


def test_ort_cpu_times_feeds_and_fetches_and_records_its_session(clock, monkeypatch, tmp_path):
    import onnxruntime

    monkeypatch.setattr(_FakeSession, "clock", clock, raising=False)
    monkeypatch.setattr(onnxruntime, "InferenceSession", _FakeSession)
    result = _row("ort-cpu", "onnx", "NCHW", tmp_path)
    _check_rule(result, clock, IN_S + OUT_S)
    assert result.providers == "CPUExecutionProvider"
    assert result.runtime_options["graph_optimization_level"] == "ORT_ENABLE_ALL"
    assert result.runtime_options["intra_op_num_threads"] == "1"


def test_ort_cuda_times_the_gpu_copies_both_ways(clock, monkeypatch, tmp_path):
    """Without a GPU: the session and its device values are fakes; the host->GPU and GPU->host copies of the
    I/O binding are inside each timed run (they were outside before)."""
    import onnxruntime

    class FakeValue:
        def update_inplace(self, x):
            clock.spend(IN_S)

    class CudaSession(_FakeSession):
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]

    monkeypatch.setattr(_FakeSession, "clock", clock, raising=False)
    monkeypatch.setattr(onnxruntime, "InferenceSession", CudaSession)
    monkeypatch.setattr(onnxruntime.OrtValue, "ortvalue_from_shape_and_type", lambda *a: FakeValue())
    monkeypatch.setattr("bench.backends.ort_cuda.gpu_used_mb", lambda: None)
    monkeypatch.setattr("bench.backends.ort_cuda.gpu_name", lambda: "fake GPU")
    result = _row("ort-cuda", "onnx", "NCHW", tmp_path, BackendOptions(threads=1, cuda_graphs=True))
    _check_rule(result, clock, IN_S + OUT_S)
    assert result.providers == "CUDAExecutionProvider,CPUExecutionProvider" and result.cuda_graphs is True
    assert result.runtime_options["CUDA.enable_cuda_graph"] == "True" and result.device == "fake GPU"


def test_an_ort_provider_fallback_is_its_own_status(clock, monkeypatch, tmp_path):
    import onnxruntime

    class FellBack(_FakeSession):
        providers = ["CPUExecutionProvider"]

    monkeypatch.setattr(_FakeSession, "clock", clock, raising=False)
    monkeypatch.setattr(onnxruntime, "InferenceSession", FellBack)
    result = _row("ort-cuda", "onnx", "NCHW", tmp_path)
    assert result.status == "fallback" and result.providers == "CPUExecutionProvider"
    assert result.reason.startswith("CUDAExecutionProvider did not take the model: onnxruntime fell back to "
                                    "CPUExecutionProvider") and result.p50_ms is None


def test_tflite_times_set_tensor_and_get_tensor_not_invoke_alone(clock, monkeypatch, tmp_path):
    import ai_edge_litert.interpreter

    class FakeInterpreter:
        def __init__(self, model_path, num_threads=None):
            clock.spend(LOAD_S)

        def allocate_tensors(self):
            pass

        def get_input_details(self):
            return [{"index": 0, "name": "in", "shape": np.array([1, H, W, 3]), "dtype": np.float32,
                     "quantization": (0.0, 0)}]

        def get_output_details(self):
            return [{"index": 1, "name": "out", "shape": np.array([1, H, W, 1]), "dtype": np.float32,
                     "quantization": (0.0, 0)}]

        def set_tensor(self, index, value):
            clock.spend(IN_S)

        def invoke(self):
            clock.compute()

        def get_tensor(self, index):
            clock.spend(OUT_S)
            return np.zeros((1, H, W, 1), np.float32)

    monkeypatch.setattr(ai_edge_litert.interpreter, "Interpreter", FakeInterpreter)
    result = _row("tflite", "tflite", "NHWC", tmp_path)
    _check_rule(result, clock, IN_S + OUT_S)
    assert result.runtime_options["delegate"].startswith("XNNPACK")


def test_runtime_speed_prints_only_what_it_measured():
    import bench.runtime_speed as runtime_speed
    from bench.runtime_speed import Row, summary

    assert not [name for name in vars(runtime_speed) if name.endswith("_MS")]  # no figures typed into the code
    rows = [Row("effb0", "torch eager", 200.0, 190.0, 201.0, 3, 0.1, {"backend": "torch-cpu", "threads": 2}),
            Row("effb0", "ort-cpu", 100.0, 95.0, 101.0, 3, 0.1,
                {"backend": "ort-cpu", "threads": 2, "runtime_options": {"execution_mode": "ORT_SEQUENTIAL"}})]
    text = "\n".join(summary(rows))
    numbers = {float(n) for n in __import__("re").findall(r"\d+\.\d+", text)}
    assert numbers <= {200.0, 190.0, 100.0, 95.0, 1.0, 2.0, 1.5}, numbers  # measured figures, ratios and the goal
    assert "ort tuned" not in text and "ORT CPU is 2.00x torch eager (meets the 1.5x goal)" in text
    assert "ort-cpu: ort-cpu, 2 threads, execution_mode=ORT_SEQUENTIAL" in text


def test_mediapipe_times_image_in_segment_and_mask_out_not_the_frame_it_is_handed(clock, monkeypatch, tmp_path):
    import types

    import bench.backends.mediapipe as backend

    class FakeMask:
        def numpy_view(self):
            clock.spend(OUT_S)
            return np.full((H, W, 1), 0.5, np.float32)

    class FakeSegmenter:
        labels = ["person"]

        @classmethod
        def create_from_options(cls, options):
            clock.spend(LOAD_S)
            return cls()

        def segment(self, image):
            clock.compute()
            return types.SimpleNamespace(confidence_masks=[FakeMask()])

        def close(self):
            pass

    def fake_image(image_format, data):
        assert data.dtype == np.uint8 and data.shape == (H, W, 3) and data.flags["C_CONTIGUOUS"]
        clock.spend(IN_S)

    options = lambda **kw: kw  # noqa: E731
    mp = types.SimpleNamespace(Image=fake_image, ImageFormat=types.SimpleNamespace(SRGB=1), __version__="fake",
                               tasks=types.SimpleNamespace(BaseOptions=options))
    vision = types.SimpleNamespace(ImageSegmenter=FakeSegmenter, ImageSegmenterOptions=options,
                                   RunningMode=types.SimpleNamespace(IMAGE="IMAGE"))
    monkeypatch.setattr(backend, "import_mediapipe", lambda: (mp, vision))
    to_frame = backend.MediaPipe.host_input

    def slow_frame(self, x, contract):  # the frame an app would hold already: never inside the clock
        clock.spend(1.0)
        return to_frame(self, x, contract)

    monkeypatch.setattr(backend.MediaPipe, "host_input", slow_frame)
    result = _row("mediapipe", "tflite", "NHWC", tmp_path)
    _check_rule(result, clock, IN_S + OUT_S)
    assert result.threads == 1 and result.versions["mediapipe"] == "fake"
