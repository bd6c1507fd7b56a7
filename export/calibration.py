"""Calibration images for int8: real pictures, pre-processed exactly as the runtime feeds them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from train.data import IMAGE_SUFFIXES, read_rgb
from train.errors import UserError

from .contract import Preprocess
from .integrity import display_path
from .job import say
from .preprocess import normalize, resize_bilinear

# CCP: 16, 50 and 200 images gave the same IoU (INT8.md); ranges are averaged over images, so more do not widen them
DEFAULT_CALIB_COUNT = 32
SYNTHETIC_SEED = 0


@dataclass
class Calibration:
    images: list[Path]  # empty: synthetic images (untrained weights only)
    count: int
    origin: str  # for the contract's notes

    @property
    def synthetic(self) -> bool:
        return not self.images

    def tensors(self, pre: Preprocess, imgsz: tuple[int, int]) -> Iterator[np.ndarray]:
        """HxWx3 float32 per image: bilinear resize, scale, normalize, as export.preprocess.to_input_tensor."""
        h, w = imgsz
        pictures = synthetic_pictures(self.count, h, w) if self.synthetic else map(read_rgb, self.images)
        for rgb in pictures:
            yield normalize(resize_bilinear(rgb, h, w), pre)


def resolve_calibration(checkpoint, calib_dir: Path | None, count: int | None) -> Calibration:
    """--calib DIR, else the checkpoint's training images, else (untrained weights) synthetic pictures."""
    count = DEFAULT_CALIB_COUNT if count is None else int(count)
    if count < 1:
        raise UserError(f"calibration image count must be at least 1, not {count}")
    if calib_dir is None and checkpoint is not None:
        calib_dir = Path(checkpoint.meta.data_dir) / "train" / "images"
        if not calib_dir.is_dir():
            raise UserError(f"int8 needs calibration images: the checkpoint's training images {calib_dir} "
                            "are not on this machine; pass --calib DIR with a few hundred real pictures")
    if calib_dir is None:
        say("WARNING: untrained weights and no --calib: int8 is calibrated on synthetic pictures (latency only)")
        return Calibration([], count, f"{count} synthetic pictures (seed {SYNTHETIC_SEED}); latency only")
    calib_dir = Path(calib_dir)
    if not calib_dir.is_dir():
        raise UserError(f"calibration folder not found: {calib_dir}")
    images = sorted(p for p in calib_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise UserError(f"calibration folder {calib_dir} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    picked = spread(images, count)
    return Calibration(picked, len(picked), f"{len(picked)} of {len(images)} images in {display_path(calib_dir)}")


def spread(items: list, count: int) -> list:
    """`count` items evenly spread over the sorted list (deterministic, not just the first ones)."""
    if count >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def synthetic_pictures(count: int, h: int, w: int):
    """Smooth random colour fields with noise: plausible pixel statistics, no dataset needed."""
    rng = np.random.default_rng(SYNTHETIC_SEED)
    for _ in range(count):
        coarse = rng.uniform(0, 255, size=(8, 8, 3)).astype(np.float32)
        smooth = resize_bilinear(coarse, h, w)
        yield np.clip(smooth + rng.normal(0, 12, size=smooth.shape), 0, 255).astype(np.uint8)
