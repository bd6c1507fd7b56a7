"""The numbers a benchmark row reports: latency statistics, IoU against ground truth, parity with PyTorch."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PERCENTILES = (50, 90, 95, 99)


def latency_stats(samples_ms: list[float]) -> dict[str, float]:
    """mean, std, min, max and percentiles (linear interpolation) of timed runs, in ms."""
    if not samples_ms:
        raise ValueError("no timed runs")
    arr = np.asarray(samples_ms, np.float64)
    stats = {"mean_ms": arr.mean(), "std_ms": arr.std(), "min_ms": arr.min(), "max_ms": arr.max()}
    stats.update({f"p{q}_ms": v for q, v in zip(PERCENTILES, np.percentile(arr, PERCENTILES))})
    return {k: float(v) for k, v in stats.items()}


def _confusion(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if pred.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {truth.shape}")
    tp = int(np.count_nonzero(pred & truth))
    return tp, int(np.count_nonzero(pred & ~truth)), int(np.count_nonzero(~pred & truth))


@dataclass
class IoUMeter:
    """Person IoU per image (mean; an image without person in either mask counts 1) and over the whole split.

    The same definitions as the trainer's `micro-imagewise` (zero_division=1) and `micro` smp reductions.
    """

    per_image: list[float] = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, pred: np.ndarray, truth: np.ndarray) -> float:
        tp, fp, fn = _confusion(pred, truth)
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
        union = tp + fp + fn
        iou = tp / union if union else 1.0
        self.per_image.append(iou)
        return iou

    @property
    def images(self) -> int:
        return len(self.per_image)

    @property
    def mean_per_image(self) -> float | None:
        return float(np.mean(self.per_image)) if self.per_image else None

    @property
    def split(self) -> float | None:
        if not self.per_image:
            return None
        union = self.tp + self.fp + self.fn
        return self.tp / union if union else 1.0


@dataclass
class ParityMeter:
    """Agreement of an artifact's logits with the PyTorch model's on the same input tensors."""

    masks: IoUMeter = field(default_factory=IoUMeter)
    equal: int = 0
    pixels: int = 0
    max_abs: float = 0.0
    abs_sum: float = 0.0

    def add(self, logits: np.ndarray, reference: np.ndarray, logit_threshold: float) -> None:
        if logits.shape != reference.shape:
            raise ValueError(f"logit shapes differ: {logits.shape} vs reference {reference.shape}")
        pred, ref = logits > logit_threshold, reference > logit_threshold
        self.masks.add(pred, ref)
        self.equal += int(np.count_nonzero(pred == ref))
        self.pixels += pred.size
        err = np.abs(logits.astype(np.float64) - reference.astype(np.float64))
        self.max_abs = max(self.max_abs, float(err.max()))
        self.abs_sum += float(err.sum())

    def summary(self) -> dict[str, float | int | None]:
        if not self.pixels:
            return {}
        return {"parity_mask_iou": self.masks.split, "parity_equal_pixels": self.equal / self.pixels,
                "parity_max_abs_logit": self.max_abs, "parity_mean_abs_logit": self.abs_sum / self.pixels,
                "parity_images": self.masks.images}
