"""The decode cache and the people augmentation mix, on real CCP and CamVid images."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from train.augment import PeopleMix, Source, paste_person, person_box, zoom_crop
from train.cache import cache_key, decode_split
from train.data import list_samples
from train.zoo import Normalization


@pytest.fixture(scope="module")
def ccp_small(ccp_dir, tmp_path_factory):
    return decode_split(list_samples(ccp_dir, "train", "folder")[:12], None, tmp_path_factory.mktemp("cache"), progress=False)


def test_cache_is_decoded_once_and_keyed_by_content(ccp_dir, tmp_path):
    samples = list_samples(ccp_dir, "val", "folder")[:3]
    first = decode_split(samples, None, tmp_path, progress=False)
    second = decode_split(samples, None, tmp_path, progress=False)
    assert isinstance(second.pixels, np.memmap) and len(list(tmp_path.iterdir())) == 1
    for i in range(3):
        assert np.array_equal(first.image(i), second.image(i)) and np.array_equal(first.mask(i), second.mask(i))
        assert set(np.unique(first.mask(i))) <= {0, 1} and first.image(i).shape[:2] == first.mask(i).shape
    # The same names with other bytes make another key: an edited dataset is never read from a stale cache.
    copy = tmp_path / "copy"
    for kind in ("images", "masks"):
        (copy / "val" / kind).mkdir(parents=True)
        for s in samples:
            src = s.image if kind == "images" else s.label
            shutil.copy(src, copy / "val" / kind / src.name)
    edited = list_samples(copy, "val", "folder")
    assert cache_key(edited, None, 1024) == cache_key(samples, None, 1024)
    edited[0].label.write_bytes(samples[1].label.read_bytes())
    assert cache_key(edited, None, 1024) != cache_key(samples, None, 1024)


def test_paste_keeps_pixels_and_mask_aligned():
    rng = np.random.default_rng(0)
    cut_mask = (rng.random((60, 30)) > 0.4).astype(np.uint8)
    cut = np.full((60, 30, 3), 200, np.uint8)
    for _ in range(20):
        canvas, label = np.zeros((80, 120, 3), np.uint8), np.zeros((80, 120), np.uint8)
        paste_person(canvas, label, cut, cut_mask, rng)
        assert np.array_equal(canvas[..., 0] == 200, label == 1)


def test_zoom_crops_frame_the_upper_body(ccp_small):
    rng = np.random.default_rng(1)
    fractions = []
    for i in range(len(ccp_small)):
        box = person_box(ccp_small.mask(i))
        if box is None:
            continue
        image, mask = zoom_crop(ccp_small.image(i), ccp_small.mask(i), box, rng)
        assert image.shape[:2] == mask.shape
        # a head-and-shoulders crop is smaller than the person and mostly person
        assert mask.shape[0] < box[2] - box[0] + 1
        fractions.append(mask.mean())
    assert np.mean(fractions) > 0.3, fractions


def test_people_mix_gives_normalized_batches_with_people(ccp_small, camvid_dir, tmp_path):
    camvid = decode_split(list_samples(camvid_dir, "train", "camvid")[:6], 9, tmp_path, progress=False)
    mix = PeopleMix([Source(ccp_small, 1.0, True), Source(camvid, 0.5, False)], (96, 128), Normalization(), epoch_size=40)
    torch.manual_seed(0)
    samples = [mix[i] for i in range(len(mix))]
    for image, mask in samples:
        assert image.shape == (3, 96, 128) and image.dtype == torch.float32 and mask.shape == (1, 96, 128)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
    coverage = torch.stack([m.mean() for _, m in samples])
    assert 0.1 < coverage.mean() < 0.8 and (coverage > 0).float().mean() > 0.8
    # normalized with ImageNet statistics: roughly zero-centred
    assert abs(torch.stack([i.mean() for i, _ in samples]).mean()) < 1.0
