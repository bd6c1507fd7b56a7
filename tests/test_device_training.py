"""What a lent GPU's training needs, checked on the CPU: data decoded onto the device and augmented there, epochs
fitted to a time limit, datasets shrunk to travel, checkpoints slimmed to come back."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from train.zoo import Normalization


@pytest.fixture(scope="module")
def ccp_split(ccp_dir):
    from train.cache import decode_split
    from train.data import list_samples

    return decode_split(list_samples(ccp_dir, "val", "folder")[:6], None, None, progress=False)


def test_device_batches_are_normalized_crops_with_binary_masks(ccp_split):
    from train.augment import ArrayDataset
    from train.device_data import DeviceLoader

    norm = Normalization()
    train = DeviceLoader(ccp_split, (64, 48), norm, torch.device("cpu"), batch=4, train=True)
    assert len(train) == 1  # drop_last, as the CPU loader
    torch.manual_seed(0)
    images, masks = next(iter(train))
    assert images.shape == (4, 3, 64, 48) and masks.shape == (4, 1, 64, 48)
    assert set(masks.unique().tolist()) <= {0.0, 1.0} and 0 < masks.mean() < 1
    pixels = images * torch.tensor(norm.std).view(1, 3, 1, 1) * 255 + torch.tensor(norm.mean).view(1, 3, 1, 1) * 255
    assert pixels.min() >= -1e-3 and pixels.max() <= 255 + 1e-3 and pixels.std() > 10  # real, clamped pixels
    torch.manual_seed(0)
    again, _ = next(iter(train))
    assert torch.equal(images, again)  # the trainer's per-epoch seed fixes the batches

    evaluation = DeviceLoader(ccp_split, (64, 48), norm, torch.device("cpu"), batch=4, train=False)
    assert len(evaluation) == 2
    first, first_masks = next(iter(evaluation))
    reference = ArrayDataset(ccp_split, (64, 48), norm)[0]  # the CPU path's stretch and normalization
    assert torch.allclose(first[0], reference[0], atol=1e-4) and torch.equal(first_masks[0], reference[1])


def test_crops_follow_the_person_mask(ccp_split):
    """The image and mask are resampled by one grid: person pixels stay where the mask says."""
    from train.device_data import DeviceLoader

    loader = DeviceLoader(ccp_split, (64, 64), Normalization((0, 0, 0), (1, 1, 1), 1.0), torch.device("cpu"),
                          batch=6, train=True)
    masks = loader.masks[:1].float().repeat(8, 1, 1, 1)
    torch.manual_seed(1)
    # an image painted from the mask: after one shared resample (and colour jitter) the two still match
    painted = masks.repeat(1, 3, 1, 1) * 200.0
    out_images, out_masks = loader.augment(painted, masks)
    person = out_masks.bool().expand_as(out_images)
    assert out_images[person].mean() > 100 and out_images[~person].mean() < 100


def test_data_on_device_refuses_the_people_mix(ccp_dir, tmp_path, capsys):
    from train.cli import main

    rc = main(["--encoder", "mobilenetv3-small", "--data", str(ccp_dir), "--augment", "people", "--data-on-device",
               "--imgsz", "64", "64", "--epochs", "1", "--limit-train", "4", "--limit-val", "2", "--workers", "0",
               "--no-progress", "--out", str(tmp_path / "run")])
    assert rc == 2
    assert "--data-on-device runs the basic augmentation in one process" in capsys.readouterr().err


def test_a_time_limit_fits_the_epochs_after_the_first_and_records_them(ccp_dir, tmp_path, capsys):
    from train.checkpoint import load_checkpoint
    from train.cli import main

    out = tmp_path / "run"
    rc = main(["--encoder", "mobilenetv3-small", "--data", str(ccp_dir), "--data-on-device", "--imgsz", "64", "64",
               "--epochs", "50", "--batch", "4", "--limit-train", "8", "--limit-val", "4", "--workers", "0",
               "--schedule", "onecycle", "--lr", "1e-3", "--time-limit", "0.001", "--no-progress", "--amp", "off",
               "--out", str(out)])
    assert rc == 0
    assert "min fit 1 epochs at" in capsys.readouterr().out
    last = load_checkpoint(out / "last.pt")
    assert last.meta.epoch == 1 and last.meta.recipe["epochs"] == 1  # a resume continues the fitted plan


def test_transport_shrinks_images_and_keeps_mask_values(ccp_dir, tmp_path):
    import shutil

    import cv2

    from train.transport import main

    src = tmp_path / "src" / "ccp" / "val"
    for sub in ("images", "masks"):
        (src / sub).mkdir(parents=True)
    for stem in ("0801", "0802"):
        shutil.copy(ccp_dir / "val" / "images" / f"{stem}.jpg", src / "images")
        shutil.copy(ccp_dir / "val" / "masks" / f"{stem}.png", src / "masks")
    assert main(["--src", str(tmp_path / "src"), "--dest", str(tmp_path / "dest"), "--split", "ccp/val",
                 "--long-side", "200"]) == 0
    image = cv2.imread(str(tmp_path / "dest" / "ccp" / "val" / "images" / "0801.jpg"))
    mask = cv2.imread(str(tmp_path / "dest" / "ccp" / "val" / "masks" / "0801.png"), cv2.IMREAD_UNCHANGED)
    assert max(image.shape[:2]) == 200 and image.shape[:2] == mask.shape
    assert set(np.unique(mask)) <= {0, 255} and mask.max() == 255


def test_a_slim_checkpoint_loads_and_predicts_like_the_full_one(ccp_dir, tmp_path):
    from train.checkpoint import load_checkpoint, save_checkpoint, CheckpointMeta
    from train.slim import slim_checkpoint
    from train.zoo import build_unet, default_arch, smp_encoder_name

    encoder = smp_encoder_name("mobilenetv3-small")
    torch.manual_seed(0)
    model = build_unet(encoder, arch=default_arch(encoder)).eval()
    optimizer = torch.optim.Adam(model.parameters())
    meta = CheckpointMeta(encoder=encoder, imgsz=(64, 64), normalization=Normalization(), person_class=None,
                          dataset="folder", data_dir=str(ccp_dir), epoch=1, arch=default_arch(encoder))
    full = save_checkpoint(tmp_path / "best.pt", model, meta, optimizer=optimizer)
    slim = slim_checkpoint(full, tmp_path / "best16.pt")
    assert slim.stat().st_size < full.stat().st_size
    restored = load_checkpoint(slim).build_model()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(restored(x), model(x), atol=0.05)
    assert load_checkpoint(slim).state["optimizer"] is None
