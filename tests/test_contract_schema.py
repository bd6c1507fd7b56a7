"""export/contract.schema.json is the one definition of the model contract: Python refuses, in one line,
every contract that does not follow it, when writing and when reading (seg-bench included)."""
from __future__ import annotations

import copy
import json
from dataclasses import asdict

import pytest

from export.contract import (SCHEMA_FILE, Fidelity, ModelContract, Postprocess, Preprocess, Quantization, Source,
                             TensorSpec, contract_path, read_contract, write_contract)
from train.errors import UserError


def _contract(**changes) -> ModelContract:
    base = dict(format="tflite", precision="int8", artifact="m.tflite",
                input=TensorSpec("input", [1, 64, 64, 3], "NHWC", "int8", Quantization(0.02, -3)),
                output=TensorSpec("logits", [1, 64, 64, 1], "NHWC"),
                preprocess=Preprocess([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), postprocess=Postprocess(),
                source=Source("efficientnet-b0", "best.pt", "ab" * 32, True, dataset="ccp", epoch=3,
                              metrics={"val_iou": 0.5}),
                fidelity=Fidelity("pooled person-mask IoU vs fp32", 0.99, 0.98, 8, "ccp/val/images", float_ops=16))
    base.update(changes)
    return ModelContract(**base)


def _valid_dict() -> dict:
    return json.loads(_contract(artifact_sha256="cd" * 32, artifact_bytes=3).to_json())


def _set(data: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()
BAD = {  # path -> (value, what the one-line refusal names)
    "input.layout": ("nhwc_sideways", "input.layout: 'nhwc_sideways' is not one of ['NCHW', 'NHWC']"),
    "postprocess.threshold": (1.0, "postprocess.threshold: 1.0 is greater than or equal to the maximum of 1"),
    "output.dtype": ("float64", "output.dtype: 'float64' is not one of"),
    "format": ("pb", "format: 'pb' is not one of"),
    "preprocess.std": ([0.2, 0.0, 0.2], "preprocess.std.1"),
    "preprocess.pixel_scale": (0, "preprocess.pixel_scale: 0 is less than or equal to the minimum of 0"),
    "input.shape": ([1, 64, 64], "input.shape: [1, 64, 64] is too short"),
    "artifact_sha256": ("ABC", "artifact_sha256"),
    "fidelity.agreement": (1.5, "fidelity"),
    "fidelity.float_ops": (-8, "fidelity"),
}
MISSING = ["postprocess.threshold", "input", "source.encoder", "preprocess.mean", "output.layout"]


def test_the_schema_is_valid_and_the_exporters_contracts_follow_it():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))
    data = _valid_dict()
    assert ModelContract.from_dict(data) == _contract(artifact_sha256="cd" * 32, artifact_bytes=3)
    del data["fidelity"]["float_ops"]  # written before the field: read as not said
    assert ModelContract.from_dict(data).fidelity.float_ops is None
    data["fidelity"] = None  # float exports record none
    assert ModelContract.from_dict(data).fidelity is None


@pytest.mark.parametrize("path", list(BAD))
def test_a_contract_off_the_schema_is_refused_on_read_in_one_line(path):
    value, message = BAD[path]
    with pytest.raises(UserError) as err:
        ModelContract.from_dict(_set(_valid_dict(), path, value), "model contract m.tflite.json")
    text = str(err.value)
    assert text.startswith("model contract m.tflite.json does not follow contract.schema.json: ")
    assert message in text and "\n" not in text


@pytest.mark.parametrize("path", MISSING)
def test_a_missing_field_is_refused(path):
    field = path.rsplit(".", 1)[-1]
    with pytest.raises(UserError, match=f"'{field}' is a required property"):
        ModelContract.from_dict(_set(_valid_dict(), path, _DELETE))


def test_quantized_tensors_need_their_quantization_and_float_ones_have_none():
    data = _valid_dict()
    data["input"]["quantization"] = None
    with pytest.raises(UserError, match="input.quantization"):
        ModelContract.from_dict(data)
    data = _valid_dict()
    data["output"]["quantization"] = {"scale": 0.1, "zero_point": 0}
    with pytest.raises(UserError, match="output.quantization"):
        ModelContract.from_dict(data)


def test_unknown_fields_are_refused():
    with pytest.raises(UserError, match=r"Additional properties are not allowed \('colour' was unexpected\)"):
        ModelContract.from_dict(_set(_valid_dict(), "preprocess.colour", "RGB"))


def test_nothing_off_the_schema_is_written(tmp_path):
    artifact = tmp_path / "m.tflite"
    artifact.write_bytes(b"abc")
    for bad in (_contract(postprocess=Postprocess(threshold=0.0)),
                _contract(input=TensorSpec("input", [1, 64, 64, 3], "nhwc_sideways"))):  # type: ignore[arg-type]
        with pytest.raises(UserError, match="does not follow contract.schema.json"):
            write_contract(bad, artifact)
        assert not contract_path(artifact).exists()
    write_contract(_contract(), artifact)
    assert read_contract(artifact).artifact_bytes == 3


def test_schema_1_contracts_follow_the_schema_too():
    data = _valid_dict()
    for key in ("artifact_sha256", "artifact_bytes", "fidelity"):
        del data[key]
    data["schema_version"] = 1
    assert ModelContract.from_dict(data).artifact_sha256 is None


@pytest.mark.parametrize("edit", ["layout", "threshold", "missing"])
def test_seg_bench_refuses_a_contract_off_the_schema_in_one_line(tmp_path, capsys, edit):
    from bench.cli import main

    model = tmp_path / "x.onnx"
    model.write_bytes(b"not really onnx")
    data = json.loads(_contract(format="onnx", precision="fp32", artifact="x.onnx",
                                input=TensorSpec("input", [1, 3, 64, 64], "NCHW"),
                                output=TensorSpec("logits", [1, 1, 64, 64], "NCHW"), fidelity=None).to_json())
    bad = copy.deepcopy(data)
    {"layout": lambda: _set(bad, "input.layout", "nhwc_sideways"),
     "threshold": lambda: _set(bad, "postprocess.threshold", 1.0),
     "missing": lambda: _set(bad, "postprocess.threshold", _DELETE)}[edit]()
    contract_path(model).write_text(json.dumps(bad))
    rc = main(["--model", str(model), "--backend", "ort-cpu", "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) == 1 and err[0].startswith("seg-bench: error: model contract x.onnx.json does not follow "
                                               "contract.schema.json: postprocess" if edit != "layout" else
                                               "seg-bench: error: model contract x.onnx.json does not follow "
                                               "contract.schema.json: input.layout"), err
    assert not (tmp_path / "out" / "results.json").exists()
    assert asdict(ModelContract.from_dict(data))["input"]["layout"] == "NCHW"  # the unedited one is fine
