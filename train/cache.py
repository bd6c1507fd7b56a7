"""Decode cache: every image and mask of a split decoded once into memory-mapped arrays.

On 2 cores, JPEG decoding costs as much as a bf16 training step of a small U-Net, so each file
is decoded once per (split, person class, size cap, file contents) and later epochs and runs read
raw pixels from a memory map. The key hashes the files' bytes, so an edited dataset is decoded
again, never silently misread from a stale cache.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .data import Sample, read_person_mask, read_rgb
from .errors import UserError

CACHE_VERSION = 2


def cache_key(samples: list[Sample], person_class: int | None, max_side: int, mask_values: str = "strict") -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}|{person_class}|{max_side}|{mask_values}".encode())
    for sample in samples:
        for path in (sample.image, sample.label):
            digest.update(path.name.encode())
            digest.update(hashlib.sha1(path.read_bytes()).digest())
    return digest.hexdigest()[:20]


def fit_long_side(image: np.ndarray, max_side: int, nearest: bool) -> np.ndarray:
    """Shrink (never enlarge) so the long side is at most `max_side`: area filter for pixels, nearest for labels."""
    import cv2

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


@dataclass
class DecodedSplit:
    """Decoded RGB images and 0/1 person masks, each at its own size (long side <= max_side)."""

    names: list[str]
    shapes: np.ndarray  # N x 2 (h, w)
    offsets: np.ndarray  # N + 1 pixel offsets into the flat arrays
    pixels: np.ndarray  # flat uint8, 3 values per pixel
    masks: np.ndarray  # flat uint8, 1 value per pixel

    def __len__(self) -> int:
        return len(self.names)

    def image(self, index: int) -> np.ndarray:
        h, w = self.shapes[index]
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.pixels[start * 3:end * 3].reshape(h, w, 3)

    def mask(self, index: int) -> np.ndarray:
        h, w = self.shapes[index]
        return self.masks[self.offsets[index]:self.offsets[index + 1]].reshape(h, w)


def decode_split(samples: list[Sample], person_class: int | None, cache_dir: Path | None,
                 max_side: int = 1024, progress: bool = True, label: str = "", mask_values: str = "strict",
                 skip_bad: bool = False) -> DecodedSplit:
    """Decode `samples` (or map a cache made earlier). `cache_dir` None keeps everything in memory.

    An unreadable image or mask stops with its name, or with `skip_bad` is left out and counted.
    """
    if not samples:
        raise UserError("nothing to decode: the split is empty")
    folder = None
    if cache_dir is not None:
        if Path(cache_dir).exists() and not Path(cache_dir).is_dir():
            raise UserError(f"cache folder {cache_dir} is a file")
        folder = Path(cache_dir) / cache_key(samples, person_class, max_side, mask_values)
        if (folder / "index.json").is_file():
            return _open(folder)
    samples, images, masks = _decode_all(samples, person_class, max_side, progress, label, mask_values, skip_bad)
    if person_class is not None and not any(m.any() for m in masks):
        raise UserError(f"no pixel of class {person_class} in any label of {label or 'the split'}: "
                        "check --person-class against the dataset's class ids")
    shapes = np.array([m.shape for m in masks], np.int64)
    offsets = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])]).astype(np.int64)
    names = [s.image.name for s in samples]  # the samples actually kept
    if folder is None:
        return DecodedSplit(names, shapes, offsets, np.concatenate([i.ravel() for i in images]),
                            np.concatenate([m.ravel() for m in masks]))
    with atomic_path(folder, is_dir=True) as tmp:
        _write_flat(tmp / "pixels.u8", images)
        _write_flat(tmp / "masks.u8", masks)
        np.save(tmp / "shapes.npy", shapes)
        (tmp / "index.json").write_text(json.dumps({"version": CACHE_VERSION, "names": names,
                                                    "person_class": person_class, "max_side": max_side}))
    return _open(folder)


def _decode_all(samples, person_class, max_side, progress, label, mask_values, skip_bad):
    from tqdm import tqdm

    kept, images, masks, skipped = [], [], [], []
    for sample in tqdm(samples, desc=f"decoding {label}".strip(), unit="img", disable=not progress, leave=False):
        try:
            image, mask = read_rgb(sample.image), read_person_mask(sample.label, person_class, mask_values)
        except UserError as err:
            if not skip_bad or "unreadable" not in str(err):
                raise
            skipped.append(sample.image.name)
            continue
        if image.shape[:2] != mask.shape:
            raise UserError(f"mask {sample.label} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                            f"{image.shape[1]}x{image.shape[0]}")
        kept.append(sample)
        images.append(np.ascontiguousarray(fit_long_side(image, max_side, nearest=False)))
        masks.append(np.ascontiguousarray(fit_long_side(mask, max_side, nearest=True)))
    if skipped:
        print(f"seg-train: skipped {len(skipped)} unreadable file(s) in {label}: {', '.join(skipped[:5])}"
              f"{' ...' if len(skipped) > 5 else ''}", flush=True)
    if not kept:
        raise UserError(f"no readable images left in {label}")
    return kept, images, masks


def _write_flat(path: Path, arrays: list[np.ndarray]) -> None:
    with open(path, "wb") as fh:
        for array in arrays:
            fh.write(array.tobytes())


def _open(folder: Path) -> DecodedSplit:
    index = json.loads((folder / "index.json").read_text())
    shapes = np.load(folder / "shapes.npy")
    offsets = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])]).astype(np.int64)
    pixels = np.memmap(folder / "pixels.u8", np.uint8, mode="r")
    masks = np.memmap(folder / "masks.u8", np.uint8, mode="r")
    if masks.size != offsets[-1] or pixels.size != 3 * offsets[-1]:
        raise UserError(f"decode cache {folder} is damaged (sizes do not match its index); delete that folder")
    return DecodedSplit(index["names"], shapes, offsets, pixels, masks)
