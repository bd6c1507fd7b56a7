"""The shipped default model: checksum-verified safe loading, `--checkpoint default|none`, real masks."""
from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from train import default_model
from train.checkpoint import load_checkpoint
from train.datasets import make_dataset
from train.errors import UserError


def test_default_is_small_safe_and_verified():
    assert default_model.DEFAULT_WEIGHTS.stat().st_size <= default_model.MAX_BYTES
    record = json.loads(default_model.DEFAULT_RECORD.read_text())
    ckpt = load_checkpoint(default_model.resolve_checkpoint_arg("default"), expect_encoder=record["encoder"])
    assert default_model.default_encoder() == record["encoder"]
    assert default_model.DEFAULT_WEIGHTS.name == default_model.weights_name(record["encoder"], record["imgsz"])
    assert ckpt.sha256() == record["sha256"] and ckpt.meta.imgsz == tuple(record["imgsz"])
    assert ckpt.meta.arch == record["arch"]  # the checkpoint carries its whole architecture


def test_a_damaged_default_is_refused(tmp_path, monkeypatch):
    weights, rec = tmp_path / default_model.DEFAULT_WEIGHTS.name, tmp_path / "default.json"
    shutil.copy(default_model.DEFAULT_WEIGHTS, weights)
    shutil.copy(default_model.DEFAULT_RECORD, rec)
    monkeypatch.setattr(default_model, "DEFAULT_WEIGHTS", weights)
    monkeypatch.setattr(default_model, "DEFAULT_RECORD", rec)
    load_checkpoint(weights)  # intact copy: fine
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="sha256"):
        load_checkpoint(weights)


def test_default_model_finds_people_in_ccp_test(ccp_dir):
    """A broken or swapped default fails here: real masks on held-out photos at its own size."""
    ckpt = load_checkpoint(default_model.DEFAULT_WEIGHTS)
    data = make_dataset(ccp_dir, "test", "folder", ckpt.meta.imgsz, ckpt.meta.normalization, limit=8)
    images, masks = map(torch.stack, zip(*(data[i] for i in range(len(data)))))
    with torch.no_grad():
        pred = ckpt.build_model()(images) > 0
    truth = masks > 0.5
    iou = (pred & truth).sum().item() / (pred | truth).sum().item()
    assert iou > 0.8, iou


def test_seg_export_default_int8_at_256(tmp_path):
    """`--checkpoint default` alone: the encoder, size and decoder come from the default's own record."""
    from export.cli import main as seg_export
    from export.contract import contract_path, read_contract

    assert seg_export(["--checkpoint", "default", "--format", "tflite", "--precision", "int8", "--calib-count", "8",
                       "--out", str(tmp_path), "--min-agreement", "0"]) == 0  # the plumbing, not the fidelity
    (artifact,) = tmp_path.glob("*.tflite")
    contract = read_contract(artifact)
    assert contract_path(artifact).is_file() and contract.source.trained and contract.input_hw == (256, 256)
    record = json.loads(default_model.DEFAULT_RECORD.read_text())
    assert contract.source.checkpoint_sha256 == record["sha256"] and contract.source.encoder == record["encoder"]
    origin = " ".join(contract.notes)  # int8 calibrated on every source the default trained on
    sources = [Path(s["root"]).name for s in load_checkpoint(default_model.DEFAULT_WEIGHTS).meta.data_sources]
    assert len(sources) > 1 and all(f"{name}/train/images" in origin for name in sources), origin


def test_checkpoint_none_exports_untrained_and_says_so(tmp_path, capsys):
    from export.cli import main as seg_export
    from export.contract import read_contract

    assert seg_export(["--encoder", "efficientnet-b0", "--checkpoint", "none", "--format", "onnx",
                       "--imgsz", "64", "64", "--out", str(tmp_path)]) == 0
    (artifact,) = tmp_path.glob("*.onnx")
    assert not read_contract(artifact).source.trained and read_contract(artifact).source.init_seed == 0
    assert "untrained" in capsys.readouterr().err


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_before_it_runs(tmp_path):
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"format": "seg-train-checkpoint/1", "meta": _RunsCode(marker)}, evil, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(UserError, match="refused") as err:
        load_checkpoint(evil)
    assert len(str(err.value).splitlines()) == 1
    assert not marker.exists()


def test_android_install_takes_the_default(tmp_path, monkeypatch, capsys):
    from conftest import android_script

    install_main = android_script("install_model", "main")
    monkeypatch.chdir(tmp_path)
    assert install_main(["--assets", str(tmp_path / "assets"), "--min-agreement", "0"]) == 0
    installed = json.loads((tmp_path / "assets" / "model.json").read_text())
    assert installed["precision"] == "int8" and installed["source"]["trained"]
    assert np.fromfile(tmp_path / "assets" / "model.tflite", np.uint8).size > 1000
