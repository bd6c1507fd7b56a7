"""The numbers a benchmark row reports: latency statistics, IoU against ground truth, parity with PyTorch.

IoU itself is train.metrics.MaskIoU, shared with export's fidelity check."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from train.metrics import MaskIoU

PERCENTILES = (50, 90, 95, 99)


def latency_stats(samples_ms: list[float]) -> dict[str, float]:
    """mean, std, min, max and percentiles (linear interpolation) of timed runs, in ms."""
    if not samples_ms:
        raise ValueError("no timed runs")
    arr = np.asarray(samples_ms, np.float64)
    stats = {"mean_ms": arr.mean(), "std_ms": arr.std(), "min_ms": arr.min(), "max_ms": arr.max()}
    stats.update({f"p{q}_ms": v for q, v in zip(PERCENTILES, np.percentile(arr, PERCENTILES))})
    return {k: float(v) for k, v in stats.items()}


@dataclass
class ParityMeter:
    """Agreement of an artifact's logits with the PyTorch model's on the same input tensors."""

    masks: MaskIoU = field(default_factory=MaskIoU)
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
        return {"parity_mask_iou": self.masks.pooled, "parity_equal_pixels": self.equal / self.pixels,
                "parity_max_abs_logit": self.max_abs, "parity_mean_abs_logit": self.abs_sum / self.pixels,
                "parity_images": self.masks.images}
