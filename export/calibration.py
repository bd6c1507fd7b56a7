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
    """--calib DIR, else the checkpoint's training images (every source it trained on, by weight), else
    (untrained weights) synthetic pictures."""
    count = DEFAULT_CALIB_COUNT if count is None else int(count)
    if count < 1:
        raise UserError(f"calibration image count must be at least 1, not {count}")
    if calib_dir is None and checkpoint is not None:
        return training_mix(checkpoint, count)
    if calib_dir is None:
        say("WARNING: untrained weights and no --calib: int8 is calibrated on synthetic pictures (latency only)")
        return Calibration([], count, f"{count} synthetic pictures (seed {SYNTHETIC_SEED}); latency only")
    calib_dir = Path(calib_dir)
    if not calib_dir.is_dir():
        raise UserError(f"calibration folder not found: {calib_dir}")
    images = folder_images(calib_dir)
    picked = spread(images, count)
    return Calibration(picked, len(picked), f"{len(picked)} of {len(images)} images in {display_path(calib_dir)}")


def training_mix(checkpoint, count: int) -> Calibration:
    """`count` training images drawn from every source the model trained on, in proportion to the sources'
    weights (at least one each): int8 ranges then cover every framing the model sees, not the first set's alone."""
    sources = checkpoint.meta.data_sources or [{"root": checkpoint.meta.data_dir, "weight": 1.0}]
    present = [s for s in sources if (Path(s["root"]) / "train" / "images").is_dir()]
    if not present:
        raise UserError(f"int8 needs calibration images: the checkpoint's training images "
                        f"({', '.join(str(Path(s['root']) / 'train' / 'images') for s in sources)}) are not on this "
                        "machine; pass --calib DIR with a few hundred real pictures")
    for source in sources:
        if source not in present:
            say(f"WARNING: int8 calibration leaves out {source['root']} (not on this machine); the contract says so")
    sources = present
    folders = [Path(s["root"]) / "train" / "images" for s in sources]
    weights = np.array([float(s.get("weight", 1.0)) for s in sources])
    shares = np.maximum(1, np.round(count * weights / weights.sum())).astype(int)
    picked, parts = [], []
    for folder, share in zip(folders, shares):
        images = folder_images(folder)
        chosen = spread(images, int(share))
        picked += chosen
        parts.append(f"{len(chosen)} of {len(images)} in {display_path(folder)}")
    return Calibration(picked, len(picked), f"{len(picked)} training images ({'; '.join(parts)})")


def folder_images(folder: Path) -> list[Path]:
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise UserError(f"calibration folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


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
