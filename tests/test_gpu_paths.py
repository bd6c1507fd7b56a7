"""GPU paths that can be checked without a GPU (the rest skip cleanly): the TensorRT engine cache key, torch.compile
with CUDA graphs, bf16 only where native, and the `gpu` extra."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bench.backends import BackendOptions, make_backend
from bench.backends.ort_trt import engine_cache_dir
from train.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def test_the_tensorrt_engine_cache_is_keyed_by_the_model_and_its_options(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model one")
    first = engine_cache_dir(model, {"trt_fp16_enable": False})
    assert first.parent == tmp_path / ".trt-cache" and first.name.startswith("m-")
    assert engine_cache_dir(model, {"trt_fp16_enable": False}) == first  # the same model and options: reused
    assert engine_cache_dir(model, {"trt_fp16_enable": True}) != first  # other options: another engine
    model.write_bytes(b"model two")  # a new model at the same path never meets the old engine
    assert engine_cache_dir(model, {"trt_fp16_enable": False}) != first


def test_the_trt_backend_loads_with_its_keyed_cache(tmp_path, monkeypatch):
    """load() itself hands onnxruntime the cache keyed by the model's bytes (no GPU: the session is a fake)."""
    import onnxruntime

    given = []

    def session(path, options=None, providers=None):
        given.append(providers)
        raise RuntimeError("fake session: stop after the providers")

    monkeypatch.setattr(onnxruntime, "InferenceSession", session)
    backend = make_backend("ort-trt", BackendOptions(trt_fp16=True))
    model = tmp_path / "m.onnx"
    for content in (b"model one", b"model two"):
        model.write_bytes(content)
        with pytest.raises(UserError, match="fake session"):
            backend.load(model, None)
    caches = []
    for providers in given:
        (provider, options), *_ = providers
        assert provider == "TensorrtExecutionProvider" and options["trt_fp16_enable"] is True
        caches.append(options["trt_engine_cache_path"])
    assert caches[1] == str(engine_cache_dir(model, backend.trt_options())) != caches[0]  # new bytes, new engine


def test_compile_modes_that_capture_cuda_graphs_are_not_captured_again():
    backend = make_backend("torch-cuda", BackendOptions(torch_compile="reduce-overhead", cuda_graphs=True))
    with pytest.raises(UserError, match="--compile reduce-overhead already uses CUDA graphs"):
        backend.load(Path("x"), None)  # refused before anything touches CUDA


def test_the_gpu_extra_installs_onnxruntime_gpu_instead_of_the_cpu_build():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda reqs: {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in reqs}  # noqa: E731
    assert "onnxruntime" not in names(project["dependencies"])  # else both builds would be installed together
    assert names(project["optional-dependencies"]["gpu"]) == {"onnxruntime-gpu"}
    assert names(project["optional-dependencies"]["cpu"]) == {"onnxruntime"}
    assert "'.[test,cpu]'" in (ROOT / ".ci" / "install").read_text()


def test_bf16_counts_only_native_support_on_a_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    backend = make_backend("torch-cuda")
    native = torch.cuda.is_bf16_supported(including_emulation=False)
    if native:
        pytest.skip(f"{torch.cuda.get_device_name(0)} has native bf16")
    with pytest.raises(UserError, match="no bf16 support"):
        backend.load(Path("x"), None, "bf16")
