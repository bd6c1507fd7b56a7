"""What the models are fed: a labelled dataset split, unlabelled photos, or synthetic images."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from train.data import IMAGE_SUFFIXES, LAYOUTS, list_samples, person_class_for, read_person_mask, read_rgb
from train.errors import UserError


@dataclass(frozen=True)
class BenchImage:
    id: str
    image: Path | None  # None for synthetic
    label: Path | None = None
    seed: int = 0


@dataclass
class ImageSet:
    kind: str  # "dataset" | "photos" | "synthetic"
    description: str
    items: list[BenchImage]
    person_class: int | None = None
    synthetic_hw: tuple[int, int] = (512, 512)

    @property
    def has_truth(self) -> bool:
        return self.kind == "dataset"

    def __len__(self) -> int:
        return len(self.items)

    def rgb(self, item: BenchImage) -> np.ndarray:
        if item.image is not None:
            return read_rgb(item.image)
        return _synthetic_rgb(self.synthetic_hw, item.seed)

    def truth(self, item: BenchImage) -> np.ndarray | None:
        return None if item.label is None else read_person_mask(item.label, self.person_class).astype(bool)

    def __iter__(self) -> Iterator[BenchImage]:
        return iter(self.items)


def detect_layout(root: Path, split: str) -> str:
    """camvid when the split has labels/ (class ids), folder when it has masks/ (0/1 or 0/255)."""
    for layout, folder in LAYOUTS.items():
        if (root / split / folder).is_dir():
            return layout
    raise UserError(f"{root / split} has neither labels/ (CamVid) nor masks/ (EG1800 style) beside images/")


def dataset_images(root: Path, split: str, layout: str | None, person_class: int | None,
                   limit: int | None) -> ImageSet:
    if (root / "images").is_dir() and not (root / split).is_dir():  # a split folder itself, e.g. ccp/test
        root, split = root.parent, root.name
    if not (root / split).is_dir():
        raise UserError(f"no split {split!r} in {root}")
    layout = layout or detect_layout(root, split)
    samples = list_samples(root, split, layout)[:limit]
    items = [BenchImage(s.image.stem, s.image, s.label) for s in samples]
    return ImageSet("dataset", f"{root.name}/{split} ({len(items)} images)", items, person_class_for(layout, person_class))


def photo_images(folder: Path, limit: int | None) -> ImageSet:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit] if folder.is_dir() else []
    if not paths:
        raise UserError(f"no images in {folder}")
    return ImageSet("photos", f"photos {folder} ({len(paths)})", [BenchImage(p.stem, p) for p in paths])


def synthetic_images(count: int, hw: tuple[int, int]) -> ImageSet:
    items = [BenchImage(f"synthetic-{i}", None, seed=i) for i in range(count)]
    return ImageSet("synthetic", f"synthetic ({count} images)", items, synthetic_hw=hw)


def _synthetic_rgb(hw: tuple[int, int], seed: int) -> np.ndarray:
    """Smooth colour blobs (not white noise: real-ish activations), reproducible per seed."""
    from export.preprocess import resize_bilinear

    coarse = np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3)).astype(np.float32)
    return np.clip(resize_bilinear(coarse, *hw), 0, 255).astype(np.uint8)


def photos_near(checkpoints: list[str | None]) -> Path | None:
    """Real photos the models were trained near: the val (or test) images of a checkpoint's dataset."""
    from train.checkpoint import load_checkpoint

    for checkpoint in dict.fromkeys(c for c in checkpoints if c):
        try:
            root = Path(load_checkpoint(checkpoint).meta.data_dir)
        except UserError:
            continue
        for split in ("val", "test"):
            if (root / split / "images").is_dir():
                return root / split / "images"
    return None
