"""Mixed precision per device (CPU flags and GPUs faked) and the non-finite-loss rule, on real CCP images."""
from __future__ import annotations

import csv

import pytest
import torch

from train.checkpoint import load_checkpoint
from train.cli import main as seg_train
from train.errors import UserError
from train.precision import choose_precision

TINY = ["--imgsz", "64", "64", "--batch", "4", "--workers", "0", "--no-progress", "--limit-train", "8",
        "--limit-val", "4", "--precise-bn", "1"]
ZEN4 = frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"})
SAPPHIRE_RAPIDS = frozenset({"avx2", "avx512f", "amx_bf16", "amx_int8"})
AVX2_ONLY = frozenset({"avx2", "fma"})


@pytest.mark.parametrize("flags, amp", [(ZEN4, "bf16"), (SAPPHIRE_RAPIDS, "bf16"), (AVX2_ONLY, "off"), (frozenset(), "off")])
def test_auto_on_cpu_takes_bf16_only_where_native(flags, amp):
    chosen = choose_precision("auto", "cpu", flags=flags)
    assert chosen.amp == amp and chosen.channels_last
    assert chosen.grad_scaling is False


def test_cuda_auto_is_fp16_with_scaler_and_bf16_only_when_native():
    auto = choose_precision("auto", "cuda", cuda_bf16=True)
    assert auto.amp == "fp16" and auto.grad_scaling and auto.dtype == torch.float16
    assert choose_precision("bf16", "cuda", cuda_bf16=True).amp == "bf16"
    with pytest.raises(UserError, match="no native bf16"):
        choose_precision("bf16", "cuda", cuda_bf16=False)


def test_explicit_choices_are_kept_and_described():
    emulated = choose_precision("bf16", "cpu", flags=AVX2_ONLY)
    assert emulated.amp == "bf16" and "emulated" in emulated.why
    assert choose_precision("off", "cpu", "contiguous", flags=ZEN4).describe().startswith("amp off, contiguous")
    with pytest.raises(UserError):
        choose_precision("int4", "cpu")


def test_bf16_trains_end_to_end_and_records_the_setting(ccp_dir, tmp_path):
    out = tmp_path / "bf16"
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "2", "--amp", "bf16",
                      "--out", str(out), "--lr", "1e-3", *TINY]) == 0
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt.meta.precision["amp"] == "bf16" and ckpt.meta.precision["memory_format"] == "channels_last"
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert [r["amp"] for r in rows] == ["bf16", "bf16"]
    assert all(float(r["train_loss"]) == float(r["train_loss"]) for r in rows)  # finite (NaN != NaN)
    assert all(torch.isfinite(v).all() for v in ckpt.state["model"].values() if v.is_floating_point())


def _nan_losses(monkeypatch, which):
    """Make the loss NaN on the training steps `which(step)` picks; validation keeps real losses."""
    from train import loop

    real, calls = loop.Trainer._loss, {"n": 0}

    def loss(self, logits, masks):
        value = real(self, logits, masks)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if which(calls["n"]):
                return value * float("nan")
        return value

    monkeypatch.setattr(loop.Trainer, "_loss", loss)


def test_a_non_finite_loss_is_skipped_and_counted(ccp_dir, tmp_path, monkeypatch, capsys):
    _nan_losses(monkeypatch, lambda step: step == 1)
    out = tmp_path / "skip"
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "1", "--out", str(out), *TINY]) == 0
    assert "step skipped" in capsys.readouterr().out
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt.history[0]["skipped_steps"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt.state["model"].values() if v.is_floating_point())


def test_a_loss_that_stays_non_finite_stops_the_run_without_a_checkpoint(ccp_dir, tmp_path, monkeypatch, capsys):
    from train import loop

    monkeypatch.setattr(loop, "MAX_BAD_STEPS", 2)
    _nan_losses(monkeypatch, lambda step: True)
    out = tmp_path / "nan"
    rc = seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "1", "--out", str(out), *TINY])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "not finite in 2 steps in a row" in err and len(err.splitlines()) == 1
    assert not list(out.glob("*.pt"))


def test_init_from_fine_tunes_with_the_checkpoint_architecture(trained_checkpoint, ccp_dir, tmp_path):
    out = tmp_path / "ft"
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "1", "--out", str(out),
                      "--init-from", str(trained_checkpoint), "--lr", "1e-5", *TINY]) == 0
    start, tuned = load_checkpoint(trained_checkpoint), load_checkpoint(out / "last.pt")
    assert tuned.meta.recipe["init_from"] == str(trained_checkpoint) and tuned.meta.arch == start.meta.arch
    # one epoch at a tiny lr moves the weights a little, not back to a random init
    a, b = start.state["model"], tuned.state["model"]
    key = "segmentation_head.0.weight"
    assert not torch.equal(a[key], b[key]) and torch.allclose(a[key], b[key], atol=0.05)
