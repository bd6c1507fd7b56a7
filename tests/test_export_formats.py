"""Every format exported from the small trained model loads back, matches its contract and agrees with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from export.contract import ModelContract, Preprocess, Postprocess, Source, TensorSpec, read_contract
from export.preprocess import output_to_logits, to_input_tensor
from train.checkpoint import file_sha256, load_checkpoint
from train.data import read_rgb

SIZE = [128, 128]


@pytest.fixture(scope="module")
def val_rgbs(ccp_dir) -> list[np.ndarray]:
    return [read_rgb(p) for p in sorted((ccp_dir / "val" / "images").iterdir())[:4]]


@pytest.fixture(scope="module")
def torch_logits(trained_checkpoint, val_rgbs) -> list[np.ndarray]:
    """PyTorch's HxW logits for each validation picture, fed as the fp32 ONNX contract says."""
    import torch

    model = load_checkpoint(trained_checkpoint).build_model()
    contract = _nchw_contract(load_checkpoint(trained_checkpoint).meta.normalization)
    with torch.no_grad():
        return [model(torch.from_numpy(to_input_tensor(rgb, contract)))[0, 0].numpy() for rgb in val_rgbs]


def _nchw_contract(norm, layout="NCHW") -> ModelContract:
    shape = [1, 3, *SIZE] if layout == "NCHW" else [1, *SIZE, 3]
    return ModelContract("onnx", "fp32", "x", TensorSpec("input", shape, layout), TensorSpec("logits", shape, layout),
                         Preprocess(list(norm.mean), list(norm.std), norm.pixel_scale), Postprocess(),
                         Source("efficientnet-b0", None, None, False))


def _run_tflite(artifact, rgbs) -> list[np.ndarray]:
    from export.formats.tflite.runner import LiteRTRunner

    contract, runner = read_contract(artifact), LiteRTRunner(artifact)
    return [output_to_logits(runner.run(to_input_tensor(rgb, contract)), contract) for rgb in rgbs]


def _scale(reference: list[np.ndarray]) -> float:
    return max(1.0, max(float(np.abs(r).max()) for r in reference))


def test_onnx_contract_and_agreement(exported, trained_checkpoint, val_rgbs, torch_logits):
    import onnx
    import onnxruntime as ort

    from export.formats.onnx import check_static

    artifact = exported("onnx")
    assert artifact.name == "efficientnet-b0-128x128-fp32.onnx"
    contract = read_contract(artifact)
    meta = load_checkpoint(trained_checkpoint).meta
    assert (contract.format, contract.precision, contract.artifact) == ("onnx", "fp32", artifact.name)
    assert (contract.input.name, contract.input.shape, contract.input.layout) == ("input", [1, 3, *SIZE], "NCHW")
    assert (contract.output.name, contract.output.shape) == ("logits", [1, 1, *SIZE])
    assert contract.postprocess.kind == "logits" and contract.postprocess.channel_meaning == "person"
    assert contract.preprocess.mean == list(meta.normalization.mean)
    assert contract.preprocess.std == list(meta.normalization.std)
    assert contract.source.checkpoint_sha256 == file_sha256(trained_checkpoint) and contract.source.trained
    assert {"torch", "onnx", "onnxslim"} <= set(contract.tools)

    model = onnx.load(artifact)
    check_static(model, (1, 3, *SIZE), (1, 1, *SIZE))
    assert sum(node.op_type == "Resize" for node in model.graph.node) == 5  # one per decoder block
    session = ort.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
    for rgb, want in zip(val_rgbs, torch_logits):
        got = output_to_logits(session.run(None, {"input": to_input_tensor(rgb, contract)})[0], contract)
        np.testing.assert_allclose(got, want, atol=1e-3 * _scale(torch_logits))


def test_check_static_refuses_resize_sized_at_run_time():
    from onnx import TensorProto, helper

    from export.errors import ConversionError
    from export.formats.onnx import check_static

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 4, 4])
    graph = helper.make_graph([helper.make_node("Shape", ["input"], ["size"]),
                               helper.make_node("Resize", ["input", "", "", "size"], ["logits"], name="up")],
                              "g", [x], [y])
    with pytest.raises(ConversionError, match="sized at run time"):
        check_static(helper.make_model(graph), (1, 3, 4, 4), (1, 3, 4, 4))


def test_tflite_fp32_matches_pytorch(exported, val_rgbs, torch_logits):
    artifact = exported("tflite", "fp32")
    contract = read_contract(artifact)
    assert (contract.format, contract.precision) == ("tflite", "fp32")
    assert (contract.input.shape, contract.input.layout, contract.input.dtype) == ([1, *SIZE, 3], "NHWC", "float32")
    assert (contract.output.shape, contract.output.layout) == ([1, *SIZE, 1], "NHWC")
    for got, want in zip(_run_tflite(artifact, val_rgbs), torch_logits):
        np.testing.assert_allclose(got, want, atol=1e-3 * _scale(torch_logits))


def test_tflite_fp16_has_float_io_and_stays_close(exported, val_rgbs, torch_logits):
    artifact = exported("tflite", "fp16")
    contract = read_contract(artifact)
    assert (contract.input.dtype, contract.output.dtype, contract.precision) == ("float32", "float32", "fp16")
    assert artifact.stat().st_size < 0.6 * exported("tflite", "fp32").stat().st_size  # weights stored in fp16
    for got, want in zip(_run_tflite(artifact, val_rgbs), torch_logits):
        assert np.abs(got - want).max() < 0.05 * _scale(torch_logits)


def test_tflite_int8_is_integer_inside_and_near_fp32(exported, val_rgbs, torch_logits):
    from export.formats.tflite.runner import LiteRTRunner

    artifact = exported("tflite", "int8")
    contract = read_contract(artifact)
    assert (contract.input.dtype, contract.output.dtype, contract.precision) == ("float32", "float32", "int8")
    assert any("calibrated on 16 of" in note for note in contract.notes)
    details = LiteRTRunner(artifact, allocate=False).interpreter.get_tensor_details()
    kernels = [d for d in details if len(d["shape"]) == 4 and d["shape"][0] > 1]
    assert kernels and all(d["dtype"] == np.int8 for d in kernels)  # every conv kernel quantized
    errors = [np.abs(got - want).mean() for got, want in zip(_run_tflite(artifact, val_rgbs), torch_logits)]
    spread = np.mean([want.std() for want in torch_logits])
    assert np.mean(errors) < 0.25 * spread, (errors, spread)


def test_tflite_int8_dynamic_keeps_int8_weights_and_is_closer_to_fp32_than_full_int8(exported, val_rgbs,
                                                                                      torch_logits):
    from export.formats.tflite.runner import LiteRTRunner

    artifact = exported("tflite", "int8-dynamic")
    contract = read_contract(artifact)
    assert (contract.input.dtype, contract.output.dtype, contract.precision) == ("float32", "float32", "int8-dynamic")
    assert not any("calibrated on" in note for note in contract.notes)  # each image's own ranges, at run time
    details = LiteRTRunner(artifact, allocate=False).interpreter.get_tensor_details()
    kernels = [d for d in details if len(d["shape"]) == 4 and d["shape"][0] > 1]
    assert kernels and all(d["dtype"] == np.int8 for d in kernels)  # every conv kernel stored int8
    assert artifact.stat().st_size < 0.4 * exported("tflite", "fp32").stat().st_size
    # measured on held-out CCP images like full-integer int8, and nearer fp32 than it on this barely trained model
    full_int8 = read_contract(exported("tflite", "int8")).fidelity
    assert contract.fidelity.images == full_int8.images > 0
    assert contract.fidelity.agreement > full_int8.agreement, (contract.fidelity, full_int8)
    errors = [np.abs(got - want).mean() for got, want in zip(_run_tflite(artifact, val_rgbs), torch_logits)]
    assert np.mean(errors) < 0.05 * np.mean([want.std() for want in torch_logits]), errors


def test_tflite_int8_io_variant_takes_quantized_tensors(exported, trained_checkpoint, ccp_dir, val_rgbs):
    from export.api import export_model

    float_io = exported("tflite", "int8")
    artifact = export_model(trained_checkpoint, "efficientnet-b0", "tflite", "int8", out_dir=float_io.parent,
                            calib_dir=ccp_dir / "train" / "images", calib_count=16, int8_io=True,
                            min_agreement=0, float_ops=0)
    assert artifact.name == "efficientnet-b0-128x128-int8-io8.tflite"
    contract = read_contract(artifact)
    assert (contract.input.dtype, contract.output.dtype) == ("int8", "int8")
    assert contract.input.quantization.scale > 0 and contract.output.quantization.scale > 0
    step = contract.output.quantization.scale
    for got, want in zip(_run_tflite(artifact, val_rgbs), _run_tflite(float_io, val_rgbs)):
        assert np.abs(got - want).mean() <= step  # same integer network, only the I/O conversion moved out


def test_calibration_is_what_the_runtime_feeds(ccp_dir, trained_checkpoint):
    from export.calibration import resolve_calibration

    ckpt = load_checkpoint(trained_checkpoint)
    calib = resolve_calibration(ckpt, None, 3)
    assert len(calib.images) == 3 and all(p.parent == ccp_dir / "train" / "images" for p in calib.images)
    contract = _nchw_contract(ckpt.meta.normalization, layout="NHWC")
    for x, path in zip(calib.tensors(contract.preprocess, tuple(SIZE)), calib.images):
        np.testing.assert_array_equal(x[None], to_input_tensor(read_rgb(path), contract))


def test_coreml_spec(exported):
    import coremltools as ct

    from export.formats.coreml import weight_dtypes

    artifact = exported("coreml", "fp16")
    assert artifact.is_dir() and artifact.suffix == ".mlpackage"
    contract = read_contract(artifact)
    assert (contract.format, contract.precision, contract.input.layout) == ("coreml", "fp16", "NCHW")
    assert any("macOS" in note for note in contract.notes)
    spec = ct.utils.load_spec(str(artifact))
    assert spec.specificationVersion >= 7  # iOS 16
    assert [(f.name, list(f.type.multiArrayType.shape)) for f in spec.description.input] == [("input", [1, 3, *SIZE])]
    assert [(f.name, list(f.type.multiArrayType.shape)) for f in spec.description.output] == [("logits", [1, 1, *SIZE])]
    assert {dtype for dtype, rank in weight_dtypes(spec) if rank == 4} == {"FLOAT16"}
