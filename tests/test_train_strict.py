"""Strict data and arguments, no silent overwrite, kill-safe checkpoints (issue: reliability and safety)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from train.checkpoint import load_checkpoint
from train.cli import main as seg_train
from train.data import read_person_mask, read_rgb
from train.errors import UserError

TINY = ["--imgsz", "64", "64", "--batch", "4", "--workers", "0", "--no-progress", "--limit-train", "4",
        "--limit-val", "2", "--precise-bn", "1", "--cache-dir", "none"]


def _train(data, out, *extra):
    return seg_train(["--encoder", "efficientnet-b0", "--data", str(data), "--epochs", "1", "--out", str(out), *TINY, *extra])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("seg-train: error:"), err
    return err


def test_masks_with_other_values_are_refused_or_mapped_on_request(ccp_tiny, tmp_path, capsys):
    victim = sorted((ccp_tiny / "train" / "masks").iterdir())[0]
    mask = np.asarray(Image.open(victim))
    Image.fromarray(np.where(mask > 0, 7, 0).astype(np.uint8)).save(victim)  # a labelling tool's 0/7
    assert _train(ccp_tiny, tmp_path / "a") == 2
    err = _one_line(capsys)
    assert victim.name in err and "0, 7" in err and "--mask-values" in err
    assert not (tmp_path / "a").exists()
    assert np.array_equal(read_person_mask(victim, None, "nonzero"), (mask > 0).astype(np.uint8))
    assert _train(ccp_tiny, tmp_path / "b", "--mask-values", "nonzero") == 0


def test_camvid_class_ids_are_checked_against_the_data(camvid_dir, tmp_path, capsys):
    for pc, needle in (("999", "0-255"), ("200", "no pixel of class 200")):
        rc = seg_train(["--encoder", "efficientnet-b0", "--data", str(camvid_dir), "--dataset", "camvid",
                        "--person-class", pc, "--epochs", "1", "--out", str(tmp_path / pc), *TINY])
        assert rc == 2 and needle in _one_line(capsys)


def test_16_bit_photos_are_scaled_not_clipped(tmp_path):
    wide = np.array([[0, 257, 32896, 65535]], np.uint16)
    Image.fromarray(wide).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    assert read_rgb(tmp_path / "g16.png")[0, :, 0].tolist() == [0, 1, 128, 255]


@pytest.mark.parametrize("args, needle", [
    (["--imgsz", "0", "0"], "positive multiple of 32"),
    (["--imgsz", "-64", "64"], "positive multiple of 32"),
    (["--imgsz", "4096", "4096"], "up to 2048"),
    (["--workers", "-1"], "--workers"),
    (["--limit-train", "0"], "--limit-train"),
    (["--lr-step", "0"], "--lr-step"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--batch", "0"], "--batch"),
    (["--epoch-size", "0"], "--epoch-size"),
])
def test_bad_arguments_fail_at_once_in_one_line(ccp_dir, tmp_path, capsys, args, needle):
    out = tmp_path / "o"
    rc = seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--out", str(out), *args])
    assert rc == 2 and needle in _one_line(capsys) and not out.exists()


def test_an_out_holding_a_checkpoint_is_not_replaced_without_force(ccp_tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(ccp_tiny, out) == 0
    (out / "last.pt").unlink()  # only best.pt left
    before = (out / "best.pt").read_bytes()
    assert _train(ccp_tiny, out) == 2 and "--force" in _one_line(capsys)
    assert (out / "best.pt").read_bytes() == before
    assert _train(ccp_tiny, out, "--force") == 0 and load_checkpoint(out / "last.pt").meta.epoch == 1


def test_out_naming_a_file_is_one_line(ccp_tiny, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep me")
    assert _train(ccp_tiny, target) == 2 and "is a file" in _one_line(capsys)
    assert target.read_text() == "keep me"


def test_sigterm_during_a_checkpoint_write_leaves_the_last_good_one(ccp_tiny, tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert _train(ccp_tiny, out) == 0
    good = (out / "last.pt").read_bytes()
    real_save = torch.save

    def killed_mid_write(obj, f, *a, **k):
        Path(f).write_bytes(b"half a checkpoint")
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # let Python run the handler here, mid-write
            pass

    monkeypatch.setattr(torch, "save", killed_mid_write)
    try:
        with pytest.raises(SystemExit) as stop:
            seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_tiny), "--epochs", "2", "--out", str(out),
                       "--resume", *TINY])
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert stop.value.code == 128 + signal.SIGTERM
    assert (out / "last.pt").read_bytes() == good and not list(out.glob(".*.tmp"))
    monkeypatch.setattr(torch, "save", real_save)
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_tiny), "--epochs", "2", "--out", str(out),
                      "--resume", *TINY]) == 0
    assert load_checkpoint(out / "last.pt").meta.epoch == 2


def test_a_truncated_jpeg_is_named_or_skipped_on_request(ccp_tiny, tmp_path, capsys):
    victim = sorted((ccp_tiny / "train" / "images").iterdir())[1]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 3])
    assert _train(ccp_tiny, tmp_path / "a") == 2
    assert victim.name in _one_line(capsys)
    assert _train(ccp_tiny, tmp_path / "b", "--skip-bad-images") == 0
    assert "skipped 1 unreadable file(s)" in capsys.readouterr().out


def test_checkpoint_without_imgsz_and_plain_state_dict(trained_checkpoint, tmp_path, capsys):
    from export.cli import main as seg_export

    ckpt = load_checkpoint(trained_checkpoint)
    no_size = torch.load(trained_checkpoint, weights_only=True)
    del no_size["meta"]["imgsz"]
    torch.save(no_size, tmp_path / "nosize.pt")
    with pytest.raises(UserError, match="--imgsz"):
        load_checkpoint(tmp_path / "nosize.pt")
    assert load_checkpoint(tmp_path / "nosize.pt", imgsz=(64, 64)).meta.imgsz == (64, 64)
    for name, payload in (("plain.pt", ckpt.state["model"]), ("lightning.ckpt",
                          {"state_dict": {f"model.{k}": v for k, v in ckpt.state["model"].items()}, "epoch": 3})):
        torch.save(payload, tmp_path / name)
        assert seg_export(["--encoder", "efficientnet-b0", "--checkpoint", str(tmp_path / name), "--format", "onnx",
                           "--out", str(tmp_path / name.split(".")[0])]) == 2
        assert "--imgsz" in capsys.readouterr().err
        assert seg_export(["--encoder", "efficientnet-b0", "--checkpoint", str(tmp_path / name), "--format", "onnx",
                           "--imgsz", "64", "64", "--out", str(tmp_path / name.split(".")[0])]) == 0
        loaded = load_checkpoint(tmp_path / name, expect_encoder="efficientnet-b0", imgsz=(64, 64)).build_model()
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), ckpt.build_model().state_dict().values()))


def test_bench_takes_a_split_folder_as_data(ccp_dir):
    from bench.images import dataset_images

    whole = dataset_images(ccp_dir, "test", None, None, 3)
    split = dataset_images(ccp_dir / "test", "test", None, None, 3)  # `--data ccp/test`, as users type it
    assert [i.image for i in split.items] == [i.image for i in whole.items] and split.items[0].label is not None
