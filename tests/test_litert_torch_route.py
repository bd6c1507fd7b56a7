"""LiteRT-Torch route: `seg-export --format tflite --converter litert-torch` in its own environment
(export/converter_env.py), fp32 and int8, checked against the ONNX artifact on real photos; and the
environment's failures as one line."""
from __future__ import annotations

from pathlib import Path

import pytest

from export.contract import read_contract
from export.converter_env import create_env, ensure_env, remove_orphans
from export.fidelity import compare_masks
from export.isolated import run_isolated
from test_mediapipe import metadata_disagreements
from train.errors import UserError


def test_environments_of_deleted_main_environments_are_removed(tmp_path):
    def env(name: str, main: Path) -> Path:
        site = tmp_path / name / "lib" / "python3.12" / "site-packages"
        site.mkdir(parents=True)
        (site / "zz-main-environment.pth").write_text(f"import site; site.addsitedir({str(main)!r})\n")
        (tmp_path / f"{name}.lock").touch()
        return tmp_path / name

    alive, orphan = env("litert-torch-aaa", tmp_path), env("litert-torch-bbb", tmp_path / "gone-clone" / "site-packages")
    assert remove_orphans(tmp_path) == [orphan]
    assert alive.is_dir() and not orphan.exists() and not (tmp_path / "litert-torch-bbb.lock").exists()


def test_environment_creation_failing_is_one_clear_line(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("no-such-package-for-seg-export==0.0.1\n")
    target = tmp_path / "envs" / "litert-torch-test"
    with pytest.raises(UserError) as err:
        create_env(target, requirements, pip_args=("--no-index",))  # offline: fails at once
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert message.startswith("could not create the LiteRT-Torch environment: pip install exited with 1: ")
    assert "no-such-package-for-seg-export" in message
    assert not target.exists() and not list(target.parent.glob("*.tmp*"))  # nothing half-made is left


def test_seg_export_with_an_unusable_environment_folder_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    from export.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SEG_CONVERTER_ENVS", str(blocker / "envs"))
    rc = main(["--encoder", "efficientnet-b0", "--checkpoint", "none", "--format", "tflite", "--converter",
               "litert-torch", "--imgsz", "64", "64", "--out", str(tmp_path / "out")])
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[seg-export ")]  # progress
    assert rc == 2 and len(err) == 1 and err[0].startswith("seg-export: error: ")
    err = err[0]
    assert "cannot create the LiteRT-Torch environment under" in err and "SEG_CONVERTER_ENVS" in err


@pytest.mark.parametrize("args, expected", [
    (["--format", "onnx", "--converter", "litert-torch"], "--converter litert-torch is not a route to onnx"),
    (["--format", "tflite", "--converter", "tf"], "--converter tf is not a route to tflite"),
    (["--format", "tflite", "--precision", "int8", "--int8-io", "--converter", "litert-torch"],
     "--int8-io is onnx2tf's"),
    (["--format", "tflite", "--precision", "int8", "--int8-quantizer", "aeq"], "add --converter litert-torch"),
    (["--format", "tflite", "--precision", "fp32", "--converter", "litert-torch", "--int8-quantizer", "aeq"],
     "for int8 only"),
    (["--format", "tflite", "--precision", "fp16", "--converter", "litert-torch"], "not fp16"),
    (["--format", "tflite", "--precision", "int8-dynamic", "--converter", "litert-torch"], "not int8-dynamic"),
    (["--format", "all", "--converter", "litert-torch"], "--format all exports every format by its default"),
])
def test_converter_options_are_checked_in_one_line(args, expected, tmp_path, capsys):
    from export.cli import main

    rc = main(["--encoder", "efficientnet-b0", "--checkpoint", "none", "--imgsz", "64", "64",
               "--out", str(tmp_path), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and expected in err


@pytest.fixture(scope="module")
def litert_torch_export(trained_checkpoint, ccp_dir, tmp_path_factory):
    from export.api import export_model

    ensure_env()  # .ci/install made it; else it is made here, once
    out = tmp_path_factory.mktemp("litert-torch")
    return lambda precision: export_model(
        trained_checkpoint, "efficientnet-b0", "tflite", precision, out_dir=out, converter="litert-torch",
        calib_dir=ccp_dir / "train" / "images", calib_count=16, min_agreement=0)


@pytest.mark.slow
def test_fp32_litert_torch_tflite_masks_match_the_onnx_artifact(litert_torch_export, exported, ccp_dir):
    tflite = litert_torch_export("fp32")
    contract = read_contract(tflite)
    assert tflite.name.endswith("-fp32-litert-torch.tflite") and contract.tools["converter"] == "litert-torch"
    assert (contract.input.layout, contract.input.dtype) == ("NHWC", "float32")
    assert metadata_disagreements(tflite) == []  # MediaPipe's metadata, as the contract says
    photo = sorted((ccp_dir / "test" / "images").iterdir())[0]
    stats = run_isolated(compare_masks, exported("onnx", "fp32"), tflite, [photo], timeout=600)
    assert stats["pooled_iou"] >= 0.999


@pytest.mark.slow
def test_int8_litert_torch_describes_its_int8_io_and_records_its_agreement(litert_torch_export):
    artifact = litert_torch_export("int8")
    contract = read_contract(artifact)
    assert metadata_disagreements(artifact) == []  # int8 tensors: MediaPipe refuses them, the contract says so
    assert any("float32 or uint8" in note or "per channel" in note for note in contract.notes)
    assert contract.fidelity.images > 0 and 0 <= contract.fidelity.agreement <= 1
    for tensor in (contract.input, contract.output):  # litert-torch int8 has int8 I/O: the contract says so
        assert tensor.dtype == "int8" and tensor.quantization is not None and tensor.quantization.scale > 0
    assert any("PT2EQuantizer" in note for note in contract.notes)  # the default quantizer
