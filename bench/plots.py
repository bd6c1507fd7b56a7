"""Pictures: latency vs IoU per backend (the Pareto view) and mask overlays like the study's figures 14-15."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from train.atomic import atomic_path

from .images import ImageSet
from .results import Result

MARKERS = "osD^v<>PX*"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    _pyplot().close(fig)
    return path


def quality_of(results: list[Result]) -> tuple[list[tuple[Result, float]], str]:
    """(row, IoU) pairs: IoU against ground truth when measured, else parity with PyTorch. Rows without it
    (benchmark_model on a phone) borrow it from another row of the same model file."""
    ok = [r for r in results if r.ok and r.p50_ms is not None]
    use_truth = any(r.iou_split is not None for r in ok)
    key, label = (("iou_split", "person IoU against ground truth (whole split)") if use_truth
                  else ("parity_mask_iou", "mask IoU against the PyTorch model (parity)"))
    by_model = {r.model: getattr(r, key) for r in ok if getattr(r, key) is not None}
    pairs = [(r, getattr(r, key) if getattr(r, key) is not None else by_model.get(r.model)) for r in ok]
    return [(r, q) for r, q in pairs if q is not None], label


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both latency (lower) and IoU (higher), by latency."""
    front, best = [], -np.inf
    for latency, iou in sorted(points, key=lambda p: (p[0], -p[1])):
        if iou > best:
            front.append((latency, iou))
            best = iou
    return front


def pareto_plot(results: list[Result], path: Path) -> Path | None:
    pairs, ylabel = quality_of(results)
    if not pairs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for i, backend in enumerate(sorted({r.backend for r, _ in pairs})):
        mine = [(r, q) for r, q in pairs if r.backend == backend]
        ax.scatter([r.p50_ms for r, _ in mine], [q for _, q in mine], marker=MARKERS[i % len(MARKERS)],
                   s=60, label=backend, alpha=0.85)
        for r, q in mine:
            name = Path(r.model).stem if r.precision in r.model else f"{Path(r.model).stem} {r.precision}"
            ax.annotate(name, (r.p50_ms, q), fontsize=7, xytext=(4, 3), textcoords="offset points")
    front = pareto_front([(r.p50_ms, q) for r, q in pairs])
    ax.plot(*zip(*front), "k--", lw=1, alpha=0.6, label="Pareto front", drawstyle="steps-post")
    ax.set(xscale="log", xlabel="median latency per image (ms, log scale)", ylabel=ylabel,
           title="Latency vs IoU per backend")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _overlay(rgb: np.ndarray, mask: np.ndarray, colour=(255, 40, 40), alpha: float = 0.5) -> np.ndarray:
    out = rgb.astype(np.float32).copy()
    out[mask] = out[mask] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return out.astype(np.uint8)


def overlay_figure(columns: list[tuple[str, dict[str, np.ndarray]]], images: ImageSet, path: Path) -> Path | None:
    """Rows: images; columns: the photo, its ground truth (when known), then each model's mask."""
    ids = [item for item in images.items if any(item.id in masks for _, masks in columns)]
    if not ids or not columns:
        return None
    plt = _pyplot()
    panels = (["image"] + (["ground truth"] if images.has_truth else []) + [name for name, _ in columns])
    fig, axes = plt.subplots(len(ids), len(panels), figsize=(2.6 * len(panels), 2.4 * len(ids)), squeeze=False)
    for row, item in enumerate(ids):
        rgb = images.rgb(item)
        shown = [rgb] + ([_overlay(rgb, images.truth(item), (40, 200, 40))] if images.has_truth else [])
        shown += [_overlay(rgb, masks[item.id]) if item.id in masks else np.zeros_like(rgb) for _, masks in columns]
        for col, picture in enumerate(shown):
            ax = axes[row][col]
            ax.imshow(picture)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(panels[col], fontsize=8)
        axes[row][0].set_ylabel(item.id, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
