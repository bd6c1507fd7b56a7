"""Person-mask IoU, defined once for every caller that compares masks on the host.

Against ground truth (seg-bench) and between two models (seg-bench parity, export fidelity and the
int8 floor). Pooled is smp's `micro` reduction, mean per image its `micro-imagewise` with
zero_division=1.0 (two empty masks agree fully); the trainer gets the same numbers from smp on its
tensors (tests/test_bench_metrics.py pins the two together). Lives in train/ so export and bench can
import it without train importing them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def confusion(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """tp, fp, fn of two boolean masks of the same shape (refused otherwise: a resize was forgotten)."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if pred.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {truth.shape}")
    tp = int(np.count_nonzero(pred & truth))
    return tp, int(np.count_nonzero(pred & ~truth)), int(np.count_nonzero(~pred & truth))


def _iou(tp: int, fp: int, fn: int) -> float:
    union = tp + fp + fn
    return tp / union if union else 1.0


@dataclass
class MaskIoU:
    """Accumulates IoU image by image: pooled over all pixels, and per image (mean, min)."""

    per_image: list[float] = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, pred: np.ndarray, truth: np.ndarray) -> float:
        """Adds one image's masks; returns its IoU."""
        tp, fp, fn = confusion(pred, truth)
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
        self.per_image.append(_iou(tp, fp, fn))
        return self.per_image[-1]

    @property
    def images(self) -> int:
        return len(self.per_image)

    @property
    def pooled(self) -> float | None:
        return _iou(self.tp, self.fp, self.fn) if self.per_image else None

    @property
    def mean_per_image(self) -> float | None:
        return float(np.mean(self.per_image)) if self.per_image else None

    @property
    def min_per_image(self) -> float | None:
        return float(np.min(self.per_image)) if self.per_image else None
