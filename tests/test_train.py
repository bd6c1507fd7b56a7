"""seg-train on real CCP / CamVid images: learning, checkpoints, resume, and bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from train.checkpoint import load_checkpoint
from train.cli import main as seg_train
from train.data import read_person_mask
from train.datasets import make_dataset
from train.zoo import build_unet, count_parameters, normalization_for

TINY = ["--imgsz", "64", "64", "--batch", "4", "--workers", "0", "--no-progress", "--limit-train", "8", "--limit-val", "4"]


def test_dice_loss_goes_down_on_real_images(ccp_dir):
    from segmentation_models_pytorch.losses import DiceLoss

    torch.manual_seed(0)
    data = make_dataset(ccp_dir, "train", "folder", (64, 64), normalization_for("efficientnet-b0"), limit=8)
    images, masks = map(torch.stack, zip(*(data[i] for i in range(len(data)))))
    model, loss_fn = build_unet("efficientnet-b0").train(), DiceLoss("binary", from_logits=True, eps=1e-6)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = loss_fn(model(images), masks)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses


def test_train_writes_checkpoints_curves_and_reloads_identically(trained_checkpoint, ccp_dir):
    run = trained_checkpoint.parent
    for name in ("best.pt", "last.pt", "history.csv", "curves.png", "summary.json"):
        assert (run / name).is_file(), name
    ckpt = load_checkpoint(trained_checkpoint, expect_encoder="efficientnet-b0")
    meta = ckpt.meta
    assert meta.imgsz == (128, 128) and meta.dataset == "folder" and meta.person_class is None
    assert 0.0 <= meta.metrics["val_iou"] <= 1.0 and meta.best_metric == max(r["val_iou"] for r in ckpt.history)
    assert meta.versions["torch"] == torch.__version__ and meta.recipe["dice_eps"] == 1e-6
    assert len((run / "history.csv").read_text().strip().splitlines()) == 1 + 3
    # The saved weights give the same outputs once reloaded into a fresh model.
    data = make_dataset(ccp_dir, "val", "folder", (128, 128), meta.normalization, limit=2)
    x = torch.stack([data[0][0], data[1][0]])
    a, b = ckpt.build_model(), load_checkpoint(trained_checkpoint).build_model()
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_resume_continues_from_saved_epoch(ccp_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "1", "--out", str(out), *TINY]) == 0
    first = load_checkpoint(out / "last.pt")
    assert first.meta.epoch == 1
    # Starting again into the same folder without --resume is refused rather than overwriting the run.
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "2", "--out", str(out), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "2", "--out", str(out),
                      "--resume", *TINY]) == 0
    second = load_checkpoint(out / "last.pt")
    assert second.meta.epoch == 2 and [r["epoch"] for r in second.history] == [1, 2]
    assert second.history[0] == first.history[0]
    assert second.state["optimizer"]["state"], "optimizer state restored and advanced"
    assert "epochs 2-2" in capsys.readouterr().out


def test_resume_refuses_another_encoder(ccp_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "1", "--out", str(out), *TINY]) == 0
    rc = seg_train(["--encoder", "resnet18", "--data", str(ccp_dir), "--epochs", "2", "--out", str(out), "--resume", *TINY])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "efficientnet-b0" in err and "resnet18" in err and len(err.splitlines()) == 1


def test_resume_refuses_to_stretch_a_one_cycle_run(ccp_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--out", str(out), "--schedule", "onecycle", *TINY]
    assert seg_train([*args, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert seg_train([*args, "--epochs", "3", "--resume"]) == 2  # its lr already fell to the end of a 1-epoch cycle
    err = capsys.readouterr().err.strip()
    assert "planned for 1 epochs" in err and "--epochs 1" in err and len(err.splitlines()) == 1
    assert load_checkpoint(out / "last.pt").meta.epoch == 1  # the run is left as it was


def test_camvid_pedestrians_train(camvid_dir, tmp_path):
    out = tmp_path / "camvid"
    assert seg_train(["--encoder", "efficientnet-b0", "--data", str(camvid_dir), "--dataset", "camvid",
                      "--epochs", "1", "--out", str(out), *TINY]) == 0
    meta = load_checkpoint(out / "best.pt").meta
    assert meta.person_class == 9 and meta.dataset == "camvid"


def test_camvid_labels_become_pedestrian_masks(camvid_dir):
    label = sorted((camvid_dir / "train" / "labels").glob("*.png"))[0]
    raw = np.asarray(Image.open(label))
    mask = read_person_mask(label, 9)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    assert mask.sum() == (raw == 9).sum() > 0


def test_folder_masks_accept_0_1_and_0_255(tmp_path):
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 3:7] = 1
    for scale, name in ((1, "a.png"), (255, "b.png")):
        Image.fromarray(mask * scale).save(tmp_path / name)
        assert np.array_equal(read_person_mask(tmp_path / name, None), mask)


def test_parameter_counts_match_the_study():
    expected = {"resnext50_32x4d": (22.98, 32.0), "resnet152": (58.1, 67.2), "efficientnet-b0": (4.0, 6.25)}
    for encoder, (enc_m, total_m) in expected.items():
        counts = count_parameters(build_unet(encoder))
        assert counts["encoder"] / 1e6 == pytest.approx(enc_m, abs=0.1), encoder
        assert counts["total"] / 1e6 == pytest.approx(total_m, abs=0.05), encoder


def test_local_encoder_weights_load_and_imagenet_fails_fast_offline(tmp_path, monkeypatch):
    import train.zoo as zoo

    source = build_unet("resnet18")
    path = tmp_path / "enc.pth"
    state = {**source.encoder.state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    torch.save(state, path)
    loaded = build_unet("resnet18", str(path))
    assert torch.equal(loaded.encoder.conv1.weight, source.encoder.conv1.weight)
    bad = tmp_path / "bad.pth"
    torch.save({"nope": torch.zeros(1)}, bad)
    with pytest.raises(zoo.UserError, match="do not fit"):
        build_unet("resnet18", str(bad))
    monkeypatch.setattr(zoo, "_hub_reachable", lambda *a, **k: False)
    with pytest.raises(zoo.UserError, match="offline"):
        build_unet("resnet18", "imagenet")


def _bad_data_cases(root: Path) -> dict[str, tuple[Path, str]]:
    """Damage copies of a tiny CCP subset, one way each; name -> (data dir, text the error must carry)."""
    cases = {}

    def variant(name: str) -> Path:
        dst = root / name
        shutil.copytree(root / "base", dst)
        return dst

    d = variant("missing_val")
    shutil.rmtree(d / "val")
    cases["missing split"] = (d, "val")
    d = variant("empty_train")
    for f in (d / "train" / "images").iterdir():
        f.unlink()
    cases["empty split"] = (d, "empty")
    d = variant("orphan")
    victim = sorted((d / "train" / "masks").iterdir())[1]
    victim.unlink()
    cases["image without mask"] = (d, victim.stem)
    d = variant("unreadable")
    victim = sorted((d / "train" / "images").iterdir())[2]
    victim.write_bytes(b"not a jpeg")
    cases["unreadable file"] = (d, victim.name)
    d = variant("size")
    victim = sorted((d / "train" / "masks").iterdir())[0]
    Image.open(victim).resize((40, 30)).save(victim)
    cases["mask size differs"] = (d, victim.name)
    return cases


def test_bad_data_gives_one_line_and_no_checkpoint(ccp_tiny, tmp_path, capsys):
    shutil.copytree(ccp_tiny, tmp_path / "base")
    for case, (data, needle) in _bad_data_cases(tmp_path).items():
        out = tmp_path / f"out-{data.name}"
        rc = seg_train(["--encoder", "efficientnet-b0", "--data", str(data), "--epochs", "1", "--out", str(out), *TINY])
        err = capsys.readouterr().err.strip()
        assert rc == 2, case
        assert len(err.splitlines()) == 1 and err.startswith("seg-train: error:") and needle in err, (case, err)
        assert not list(out.glob("*.pt")) if out.exists() else True


@pytest.mark.parametrize("args, needle", [
    (["--encoder", "no-such-encoder"], "unknown encoder"),
    (["--encoder", "efficientnet-b0", "--imgsz", "100", "100"], "multiple of 32"),
    (["--encoder", "efficientnet-b0", "--dataset", "camvid"], "labels"),
])
def test_bad_arguments_give_one_line(ccp_dir, tmp_path, capsys, args, needle):
    rc = seg_train([*args, "--data", str(ccp_dir), "--epochs", "1", "--out", str(tmp_path / "o"), "--workers", "0"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and needle in err and len(err.splitlines()) == 1


def test_checkpoint_write_is_atomic(trained_checkpoint, tmp_path, monkeypatch):
    from train import checkpoint as ck

    ckpt = load_checkpoint(trained_checkpoint)
    target = tmp_path / "best.pt"

    def crash(obj, f, *a, **k):
        Path(f).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(target, ckpt.build_model(), ckpt.meta)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_corrupt_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(Exception, match="corrupt"):
        load_checkpoint(bad)


def test_torchrun_ddp_on_cpu(ccp_dir, tmp_path):
    """The DDP path (torchrun, gloo on CPU) trains and only rank 0 writes the run."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "train.cli", "--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--epochs", "1",
           "--out", str(out), "--device", "cpu", *TINY]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("epoch 1:") == 1  # one rank reports and writes
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt.meta.epoch == 1 and ckpt.history[0]["images_per_s"] > 0


def test_confusion_stats_count_person_pixels():
    """Hand-made 1x1x2x3 case: logits > 0 are person; the 0/1 target stays as it is."""
    from train.epoch import confusion_stats

    logits = torch.tensor([[[[2.0, -1.0, 0.5], [-3.0, 1.0, -0.2]]]])
    target = torch.tensor([[[[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]]])
    tp, fp, fn, tn = (int(t) for t in confusion_stats(logits, target))
    assert (tp, fp, fn, tn) == (2, 1, 1, 2)


def test_precise_bn_averages_running_statistics():
    """Running stats become the plain average over the given batches; momentum is restored."""
    from train.evaluation import recalibrate_batchnorm

    norm = torch.nn.BatchNorm2d(2, momentum=0.01)
    model = torch.nn.Sequential(norm)
    batches = [(torch.full((4, 2, 3, 3), float(v)), None) for v in (1.0, 3.0, 8.0)]
    recalibrate_batchnorm(model, batches, max_batches=2, device="cpu")
    assert torch.allclose(norm.running_mean, torch.tensor([2.0, 2.0]))  # the third batch is not used
    assert norm.momentum == 0.01 and int(norm.num_batches_tracked) == 2
