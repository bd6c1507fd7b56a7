"""Augmentation that shows the model the framings apps see, which CCP alone lacks.

CCP has one framing: a standing full-body person filling a quarter of a portrait photo. A camera
app sees selfies, head-and-shoulders calls, groups, small people far away and landscape frames.
From sources with exact whole-person masks ("people" sources, e.g. CCP) and street scenes with
labelled pedestrians ("scene" sources, e.g. CamVid) this makes, per sample, one of:
  full   a random crop of a people photo (the source's own framing, aspect varied);
  zoom   a crop from the top of a person's box down to chest or waist (head and shoulders);
  paste  1-3 people cut out by their exact masks, at 0.2x-2.4x the frame height, pasted onto a
         scene, another photo or a plain backdrop, often blurred, in portrait/square/landscape;
  scene  a random crop of a street scene with its small pedestrians.
Then flips and photometric noise (albumentations). Every frame is stretched to the training size,
as the model contract's resize stretches a camera frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .cache import DecodedSplit
from .zoo import Normalization

PEOPLE_KINDS = {"full": 0.35, "zoom": 0.3, "paste": 0.35}
SCENE_KINDS = {"scene": 0.5, "paste": 0.5}
CANVAS_ASPECTS = (3 / 4, 1.0, 4 / 3, 16 / 9, 9 / 16)  # width / height of a pasted frame
MIN_PERSON_PX = 48  # cut-outs smaller than this (in height) are too coarse to paste


@dataclass
class Source:
    split: DecodedSplit
    weight: float
    people: bool  # masks cover whole people exactly (CCP-like), so they can be cut out and pasted


def photometric():
    import albumentations as A

    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03, p=0.8),
        A.ToGray(p=0.05),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 7))], p=0.1),
        A.GaussNoise(std_range=(0.01, 0.05), p=0.1),
        A.ImageCompression(quality_range=(40, 95), p=0.2),
    ])


def to_tensors(image: np.ndarray, mask: np.ndarray, norm: Normalization):
    import torch

    mean = np.asarray(norm.mean, np.float32) * norm.pixel_scale
    std = np.asarray(norm.std, np.float32) * norm.pixel_scale
    x = (image.astype(np.float32) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), torch.from_numpy(mask[None].astype(np.float32))


def stretch(image: np.ndarray, mask: np.ndarray, height: int, width: int):
    """Bilinear without antialiasing, as the contract's resize (and so the deployed model) does it."""
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return image, cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def random_crop(image, mask, rng, scale=(0.35, 1.0), aspect=(0.5, 2.0)):
    """A crop covering `scale` of the area with width/height log-uniform in `aspect`."""
    h, w = mask.shape
    area = h * w * rng.uniform(*scale)
    ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
    ch = int(min(h, max(8, round(np.sqrt(area / ratio)))))
    cw = int(min(w, max(8, round(np.sqrt(area * ratio)))))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    return image[y:y + ch, x:x + cw], mask[y:y + ch, x:x + cw]


def person_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def zoom_crop(image, mask, box, rng):
    """Head and shoulders (or down to the waist) of the person in `box`, aspect varied."""
    h, w = mask.shape
    y0, x0, y1, x1 = box
    crop_h = max(16, int((y1 - y0) * rng.uniform(0.22, 0.65)))
    crop_w = max(16, int(crop_h * np.exp(rng.uniform(np.log(0.6), np.log(1.6)))))
    head = mask[y0:y0 + max(1, crop_h // 2), x0:x1]
    cx = x0 + (np.flatnonzero(head.any(0)).mean() if head.any() else (x1 - x0) / 2)
    top = int(y0 - crop_h * rng.uniform(0.02, 0.25))
    left = int(cx - crop_w / 2 + crop_w * rng.uniform(-0.15, 0.15))
    crop_h, crop_w = min(crop_h, h), min(crop_w, w)
    top, left = int(np.clip(top, 0, h - crop_h)), int(np.clip(left, 0, w - crop_w))
    return image[top:top + crop_h, left:left + crop_w], mask[top:top + crop_h, left:left + crop_w]


def plain_backdrop(height: int, width: int, rng) -> np.ndarray:
    """A studio-like backdrop: a two-colour gradient with a little noise."""
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, height if rng.random() < 0.5 else width, dtype=np.float32)
    ramp = a[None] * (1 - t[:, None]) + b[None] * t[:, None]
    grad = np.broadcast_to(ramp[:, None] if len(t) == height else ramp[None], (height, width, 3))
    noise = rng.normal(0, rng.uniform(0, 8), (height, width, 1))
    return np.clip(grad + noise, 0, 255).astype(np.uint8)


def paste_person(canvas, label, cut, cut_mask, rng) -> None:
    """Paste one cut-out person in place, at 0.2x-2.4x the frame height; big ones keep the head in view."""
    ch, cw = label.shape
    rel = np.exp(rng.uniform(np.log(0.2), np.log(2.4)))
    ph = max(8, int(ch * rel))
    pw = max(4, int(cut.shape[1] * ph / cut.shape[0]))
    person = cv2.resize(cut, (pw, ph), interpolation=cv2.INTER_AREA if ph < cut.shape[0] else cv2.INTER_LINEAR)
    alpha = cv2.resize(cut_mask, (pw, ph), interpolation=cv2.INTER_NEAREST)
    top = int(ch * rng.uniform(-0.05, 0.15)) if rel > 1 else int(rng.uniform(0, max(1, ch - 0.7 * ph)))
    low, high = -0.3 * pw, cw - 0.7 * pw
    left = int(rng.uniform(low, high)) if high > low else (cw - pw) // 2  # wider than the frame: centre it
    ys, xs = slice(max(0, top), min(ch, top + ph)), slice(max(0, left), min(cw, left + pw))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return
    part = alpha[ys.start - top:ys.stop - top, xs.start - left:xs.stop - left].astype(bool)
    canvas[ys, xs][part] = person[ys.start - top:ys.stop - top, xs.start - left:xs.stop - left][part]
    label[ys, xs][part] = 1


class PeopleMix:
    """torch-style training set mixing `sources` by weight with the framings above."""

    def __init__(self, sources: list[Source], imgsz: tuple[int, int], norm: Normalization, epoch_size: int | None = None):
        self.sources, self.imgsz, self.norm = sources, tuple(imgsz), norm
        self.length = epoch_size or sum(len(s.split) for s in sources)
        weights = np.array([s.weight for s in sources], np.float64)
        self.weights = weights / weights.sum()
        self.scenes = [s for s in sources if not s.people]
        # Cut-outs: (source, index, box) of every people-source mask with a person big enough to paste.
        self.cutouts = []
        for source in sources:
            if source.people:
                for i in range(len(source.split)):
                    box = person_box(source.split.mask(i))
                    if box is not None and box[2] - box[0] >= MIN_PERSON_PX:
                        self.cutouts.append((source, i, box))
        self.boxes = {(id(s), i): b for s, i, b in self.cutouts}
        self.finish = photometric()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        import torch

        # Worker processes get distinct torch seeds from the loader's seeded generator: reproducible per run.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ())))
        image, mask = self.sample(rng)
        image, mask = stretch(image, mask, *self.imgsz)
        self.finish.set_random_seed(int(rng.integers(2**31 - 1)))
        out = self.finish(image=image, mask=mask)
        return to_tensors(out["image"], out["mask"], self.norm)

    def sample(self, rng) -> tuple[np.ndarray, np.ndarray]:
        """One frame (any size) and its 0/1 person mask."""
        source = self.sources[rng.choice(len(self.sources), p=self.weights)]
        kinds = PEOPLE_KINDS if source.people else SCENE_KINDS
        kind = rng.choice(list(kinds), p=list(kinds.values()))
        if kind == "paste" and self.cutouts:
            return self.paste(source, rng)
        i = int(rng.integers(len(source.split)))
        image, mask = source.split.image(i), source.split.mask(i)
        box = self.boxes.get((id(source), i))
        if kind == "zoom" and box is not None:
            return zoom_crop(image, mask, box, rng)
        if kind == "scene":
            return random_crop(image, mask, rng, scale=(0.25, 1.0), aspect=(0.75, 2.0))
        return random_crop(image, mask, rng, scale=(0.4, 1.0), aspect=(0.5, 1.8))

    def paste(self, source: Source, rng) -> tuple[np.ndarray, np.ndarray]:
        long_side = 2 * max(self.imgsz)
        aspect = CANVAS_ASPECTS[rng.integers(len(CANVAS_ASPECTS))]
        ch, cw = (long_side, int(long_side * aspect)) if aspect < 1 else (int(long_side / aspect), long_side)
        backdrop = rng.random()
        if backdrop < 0.2:
            canvas, label = plain_backdrop(ch, cw, rng), np.zeros((ch, cw), np.uint8)
        else:
            bg = source if not source.people else (self.scenes[rng.integers(len(self.scenes))]
                                                   if self.scenes and backdrop < 0.6 else source)
            i = int(rng.integers(len(bg.split)))
            image, mask = random_crop(bg.split.image(i), bg.split.mask(i), rng, scale=(0.3, 1.0), aspect=(aspect, aspect))
            canvas = np.ascontiguousarray(cv2.resize(image, (cw, ch), interpolation=cv2.INTER_LINEAR))
            label = cv2.resize(mask, (cw, ch), interpolation=cv2.INTER_NEAREST)
            if rng.random() < 0.35:  # shallow depth of field, as in many portraits
                canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(2, 7))
        for _ in range(rng.choice([1, 2, 3], p=[0.6, 0.25, 0.15])):
            src, i, (y0, x0, y1, x1) = self.cutouts[rng.integers(len(self.cutouts))]
            paste_person(canvas, label, src.split.image(i)[y0:y1, x0:x1], src.split.mask(i)[y0:y1, x0:x1], rng)
        return canvas, label


class ArrayDataset:
    """Evaluation (or the study's basic augmentation) over a decoded split: stretch to size, normalize."""

    def __init__(self, split: DecodedSplit, imgsz: tuple[int, int], norm: Normalization, transform=None):
        self.split, self.imgsz, self.norm, self.transform = split, tuple(imgsz), norm, transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        import torch

        image, mask = self.split.image(index), self.split.mask(index)
        if self.transform is not None:
            # albumentations keeps its own RNG: draw its seed from torch's, which the trainer seeds (reproducible runs)
            self.transform.set_random_seed(int(torch.randint(0, 2**31 - 1, ())))
            out = self.transform(image=np.asarray(image), mask=np.asarray(mask))
            image, mask = out["image"], out["mask"]
        if image.shape[:2] != self.imgsz:
            image, mask = stretch(np.asarray(image), np.asarray(mask), *self.imgsz)
        return to_tensors(image, mask, self.norm)
