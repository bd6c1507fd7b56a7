"""android_demo/install_model.py: a real exported TFLite model and its contract into the app's assets."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import android_script

from export.contract import ModelContract, contract_path, read_contract

pytestmark = pytest.mark.slow  # needs the session's TFLite exports


@pytest.fixture(scope="module")
def install_main():
    return android_script("install_model", "main")


def test_installs_the_model_and_its_contract(exported, install_main, tmp_path, capsys):
    assets = tmp_path / "assets"
    for precision in ("fp32", "int8"):  # the second replaces the first
        artifact = exported("tflite", precision)
        assert install_main([str(artifact), "--assets", str(assets)]) == 0
        assert (assets / "model.tflite").read_bytes() == artifact.read_bytes()
        installed = ModelContract.from_dict(json.loads((assets / "model.json").read_text()))
        original = read_contract(artifact)
        assert installed.artifact == "model.tflite"
        assert installed.precision == precision
        assert (installed.input, installed.output, installed.preprocess, installed.postprocess) == \
               (original.input, original.output, original.preprocess, original.postprocess)
        assert artifact.name in installed.notes[-1]
    assert sorted(p.name for p in assets.iterdir()) == ["model.json", "model.tflite"]  # no temporary leftovers
    assert "int8" in capsys.readouterr().out


def _copy_with_contract(artifact: Path, folder: Path, edit) -> Path:
    folder.mkdir()
    copy = folder / artifact.name
    shutil.copyfile(artifact, copy)
    data = json.loads(contract_path(artifact).read_text())
    edit(data)
    contract_path(copy).write_text(json.dumps(data))
    return copy


@pytest.mark.parametrize("edit, message", [
    pytest.param(lambda c: c.update(format="onnx"), "format is onnx", id="onnx"),
    pytest.param(lambda c: c["input"].update(layout="NCHW"), "input layout is NCHW", id="nchw"),
    pytest.param(lambda c: c["output"].update(dtype="float16"), "output dtype float16", id="float16-output"),
    pytest.param(lambda c: c["input"].update(shape=[1, 64, 64, 3]), "does not describe the model", id="wrong-shape"),
    pytest.param(lambda c: c.update(schema_version=99), "schema 99", id="schema"),
])
def test_refuses_contracts_the_app_cannot_use(exported, install_main, tmp_path, capsys, edit, message):
    bad = _copy_with_contract(exported("tflite", "fp32"), tmp_path / "bad", edit)
    assets = tmp_path / "assets"
    assert install_main([str(bad), "--assets", str(assets)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("install_model: error:") and message in err and "\n" not in err
    assert not assets.exists()  # nothing half-installed


def test_refuses_a_model_without_contract(exported, install_main, tmp_path, capsys):
    lonely = tmp_path / "lonely.tflite"
    shutil.copyfile(exported("tflite", "fp32"), lonely)
    assert install_main([str(lonely), "--assets", str(tmp_path / "assets")]) == 2
    assert "no model contract beside" in capsys.readouterr().err
