"""The mobile tier: encoders registered by short name, a decoder that ends early (head stride), checkpoints that
carry it through export, and int8 calibrated on every source the model trained on."""
from __future__ import annotations

import pytest
import torch

from train.errors import UserError
from train.zoo import (MOBILE_ARCH, MOBILE_ENCODERS, STUDY_ENCODERS, build_unet, default_arch, normalization_for,
                       short_name, smp_encoder_name, unet_arch)


def test_mobile_encoders_resolve_and_keep_their_short_names():
    for name in MOBILE_ENCODERS:
        encoder = smp_encoder_name(name)
        assert encoder.startswith("tu-") and short_name(encoder) == name
        assert default_arch(encoder) == MOBILE_ARCH
        norm = normalization_for(encoder)  # one mean and std for every channel: what MediaPipe Tasks can apply
        assert len(set(norm.mean)) == 1 and len(set(norm.std)) == 1
    assert default_arch(smp_encoder_name(STUDY_ENCODERS[0]))["head_stride"] == 1
    with pytest.raises(UserError, match="unknown encoder 'tu-no-such-net'"):
        smp_encoder_name("tu-no-such-net")


@pytest.mark.parametrize("stride, channels", [(1, [16, 16, 16, 8, 8]), (2, [16, 16, 8, 8]), (4, [16, 16, 8])])
def test_the_head_stride_drops_decoder_blocks_and_still_gives_a_full_size_logit(stride, channels):
    arch = unet_arch({"decoder_channels": channels, "decoder_interpolation": "bilinear", "head_stride": stride})
    model = build_unet(smp_encoder_name("mobilenetv3-small"), arch=arch).eval()
    assert len(model.decoder.blocks) == len(channels)
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 96, 64)).shape == (1, 1, 96, 64)


def test_decoder_widths_must_match_the_head_stride():
    with pytest.raises(UserError, match="give 3 positive numbers for head stride 4"):
        unet_arch({"decoder_channels": [32, 24, 16, 8, 8], "head_stride": 4})
    with pytest.raises(UserError, match="head stride 3"):
        unet_arch({"decoder_channels": [32, 24, 16], "head_stride": 3})
    assert unet_arch({})["head_stride"] == 1  # checkpoints older than the head stride keep smp's decoder


@pytest.fixture(scope="module")
def mobile_checkpoint(ccp_dir, tmp_path_factory):
    """A mobile-tier U-Net trained one short epoch on two real sources (CCP people, CamVid streets)."""
    from train.cli import main

    out = tmp_path_factory.mktemp("mobile") / "run"
    camvid = ccp_dir.parent / "camvid"
    rc = main(["--encoder", "mobilenetv3-small", "--data", str(ccp_dir), "--data", f"{camvid}:camvid:0.5",
               "--augment", "people", "--epoch-size", "16", "--imgsz", "64", "64", "--epochs", "1", "--batch", "8",
               "--limit-train", "16", "--limit-val", "4", "--workers", "0", "--no-progress", "--amp", "off",
               "--out", str(out)])
    assert rc == 0
    return out / "best.pt"


def test_a_mobile_checkpoint_carries_its_arch_and_seg_export_needs_no_encoder(mobile_checkpoint, tmp_path, capsys):
    from export.cli import main
    from export.contract import read_contract
    from train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(mobile_checkpoint)
    assert ckpt.meta.arch == MOBILE_ARCH and short_name(ckpt.meta.encoder) == "mobilenetv3-small"
    assert main(["--checkpoint", str(mobile_checkpoint), "--format", "onnx", "--out", str(tmp_path)]) == 0
    artifact = capsys.readouterr().out.strip().splitlines()[-1]
    contract = read_contract(artifact)
    assert contract.source.encoder == ckpt.meta.encoder and contract.input_hw == (64, 64)


def test_seg_export_without_encoder_or_trained_checkpoint_says_what_to_give(tmp_path, capsys):
    from export.cli import main

    assert main(["--checkpoint", "none", "--format", "onnx", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "seg-export: error: give --encoder, or --checkpoint with a trained model (it carries its encoder)")


def test_int8_calibration_draws_from_every_training_source_by_weight(mobile_checkpoint):
    from export.calibration import resolve_calibration
    from train.checkpoint import load_checkpoint

    calib = resolve_calibration(load_checkpoint(mobile_checkpoint), None, 12)
    sources = [path.parents[2].name for path in calib.images]
    assert sources.count("ccp") == 8 and sources.count("camvid") == 4  # weights 1.0 and 0.5
    assert "8 of 800 in" in calib.origin and "4 of 367 in" in calib.origin
