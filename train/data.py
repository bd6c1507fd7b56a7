"""Person-segmentation datasets in the two layouts the field ships, with clear errors for bad data.

- CamVid layout: `{split}/images/*`, `{split}/labels/*.png` holding class indices; the person
  target is one class id (9 = Pedestrian).
- EG1800-style folders: `{split}/images/*`, `{split}/masks/*.png` with 0/1 or 0/255 masks.
Images and labels are matched by file stem.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
LAYOUTS = {"camvid": "labels", "folder": "masks"}
CAMVID_PEDESTRIAN = 9


@dataclass(frozen=True)
class Sample:
    image: Path
    label: Path


def list_samples(root: str | Path, split: str, layout: str) -> list[Sample]:
    """Pair images with labels by stem and check every pair's header; raise naming bad files."""
    if layout not in LAYOUTS:
        raise UserError(f"unknown dataset layout {layout!r}: use {' or '.join(LAYOUTS)}")
    split_dir = Path(root) / split
    image_dir, label_dir = split_dir / "images", split_dir / LAYOUTS[layout]
    for folder in (image_dir, label_dir):
        if not folder.is_dir():
            raise UserError(f"missing folder {folder} (expected the {layout} layout: {split}/images, {split}/{LAYOUTS[layout]})")
    images = {p.stem: p for p in sorted(image_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    if not images:
        raise UserError(f"split {split!r} is empty: no images in {image_dir}")
    labels = {p.stem: p for p in sorted(label_dir.iterdir()) if p.suffix.lower() == ".png"}
    orphans = sorted(set(images) - set(labels))
    if orphans:
        shown = ", ".join(images[s].name for s in orphans[:5])
        more = f" and {len(orphans) - 5} more" if len(orphans) > 5 else ""
        raise UserError(f"{len(orphans)} image(s) in {image_dir} have no {LAYOUTS[layout][:-1]} in {label_dir}: {shown}{more}")
    samples = [Sample(images[s], labels[s]) for s in sorted(images)]
    for sample in samples:
        _check_pair(sample)
    return samples


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            return img.size
    except Exception as err:
        raise UserError(f"unreadable file {path}: {err}") from None


def _check_pair(sample: Sample) -> None:
    image_size, label_size = _image_size(sample.image), _image_size(sample.label)
    if image_size != label_size:
        raise UserError(
            f"mask {sample.label} is {label_size[0]}x{label_size[1]} but its image {sample.image.name} "
            f"is {image_size[0]}x{image_size[1]}"
        )


WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # 16-bit (or 32-bit) greyscale photos
MASK_VALUES = ("strict", "nonzero", "half")


def read_rgb(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB. 16-bit photos are scaled to 8 bits, never clipped."""
    try:
        with Image.open(path) as img:
            if img.mode in WIDE_MODES:
                wide = np.asarray(img).astype(np.float64)
                top = 65535.0 if img.mode != "I" or wide.max() > 255 else 255.0
                grey = np.clip(np.round(wide * 255.0 / top), 0, 255).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(img.convert("RGB"))
    except Exception as err:
        raise UserError(f"unreadable file {path}: {err}") from None


def read_person_mask(path: Path, person_class: int | None, mask_values: str = "strict") -> np.ndarray:
    """HxW uint8 0/1 person mask.

    `person_class` set: CamVid-style class ids, person = that id. None: a binary mask, which must hold
    {0, 1} or {0, 255} (`strict`) unless the user says how to read other values: `nonzero` (any
    value above 0 is person, e.g. labelling tools that write 0/7) or `half` (>= 128, soft edges).
    """
    try:
        with Image.open(path) as img:
            label = np.asarray(img.convert("L") if img.mode not in ("L", "P", "I") else img)
    except Exception as err:
        raise UserError(f"unreadable file {path}: {err}") from None
    if person_class is not None:
        return (label == person_class).astype(np.uint8)
    if mask_values == "nonzero":
        return (label > 0).astype(np.uint8)
    if mask_values == "half":
        return (label >= 128).astype(np.uint8)
    values = np.unique(label)
    if set(values.tolist()) <= {0, 1}:
        return label.astype(np.uint8)
    if set(values.tolist()) <= {0, 255}:
        return (label == 255).astype(np.uint8)
    shown = ", ".join(map(str, values[:6])) + (f" ... ({len(values)} values)" if len(values) > 6 else "")
    raise UserError(f"mask {path} holds values {shown}, not 0/1 or 0/255; "
                    "pass --mask-values nonzero (any value > 0 is person) or half (>= 128) to say how to read it")


def train_transform(height: int, width: int):
    """Flip, scale-crop and colour jitter (albumentations), ending at the training size."""
    import albumentations as A

    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.RandomResizedCrop(size=(height, width), scale=(0.5, 1.0), ratio=(0.6, 1.7)),
        A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p=0.8),
    ])


def person_class_for(layout: str, person_class: int | None) -> int | None:
    """CamVid labels need a class id (default Pedestrian); folder masks are already binary."""
    if layout == "camvid":
        return CAMVID_PEDESTRIAN if person_class is None else person_class
    return None


@dataclass(frozen=True)
class DataSpec:
    """One training source: `DIR[:LAYOUT[:WEIGHT]]` on the command line (`--data` is repeatable)."""

    root: Path
    layout: str = "folder"
    weight: float = 1.0

    @classmethod
    def parse(cls, text: str, default_layout: str = "folder") -> "DataSpec":
        parts = str(text).split(":")
        root, layout, weight = parts[0], default_layout, 1.0
        if len(parts) > 3:
            raise UserError(f"--data {text!r}: use DIR, DIR:LAYOUT or DIR:LAYOUT:WEIGHT")
        if len(parts) >= 2 and parts[1]:
            layout = parts[1]
        if layout not in LAYOUTS:
            raise UserError(f"--data {text!r}: layout {layout!r} is not one of {', '.join(LAYOUTS)}")
        if len(parts) == 3:
            try:
                weight = float(parts[2])
            except ValueError:
                raise UserError(f"--data {text!r}: weight {parts[2]!r} is not a number") from None
            if not weight > 0 or weight == float("inf"):
                raise UserError(f"--data {text!r}: the weight must be a positive number")
        if not Path(root).is_dir():
            raise UserError(f"dataset folder not found: {root}")
        return cls(Path(root), layout, weight)


def eval_split_dir(root: Path) -> tuple[Path, str]:
    """An evaluation folder is a split itself (images/ + masks/) or a root with val/ or test/."""
    root = Path(root)
    if (root / "images").is_dir():
        return root.parent, root.name
    for split in ("val", "test"):
        if (root / split / "images").is_dir():
            return root, split
    raise UserError(f"evaluation set {root}: expected images/ and masks/ in it, or a val/ or test/ split")
