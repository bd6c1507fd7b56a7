"""Training curves like the study's figures 6-13: loss and IoU per epoch, train vs validation."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .atomic import atomic_path, write_text_atomic

COLUMNS = ["epoch", "lr", "train_loss", "train_iou", "val_loss", "val_iou", "val_iou_per_image", "seconds", "images_per_s"]


def write_history_csv(history: list[dict], path: Path) -> None:
    """The fixed columns first, then whatever a run adds (evaluation sets, precision), in first-seen order."""
    extra = [k for row in history for k in row if k not in COLUMNS]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS + list(dict.fromkeys(extra)), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(path, buf.getvalue())


def plot_curves(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_iou) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in history], "s-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="training loss (Dice, or Dice + BCE)", title="loss")
    ax_iou.plot(epochs, [r["train_iou"] for r in history], "o-", label="train")
    ax_iou.plot(epochs, [r["val_iou"] for r in history], "s-", label="validation")
    for key in dict.fromkeys(k for r in history for k in r if k.endswith("_iou") and k not in ("train_iou", "val_iou")):
        ax_iou.plot(epochs, [r.get(key, float("nan")) for r in history], "^--", label=key.removesuffix("_iou"))
    ax_iou.set(xlabel="epoch", ylabel="person IoU", title="IoU", ylim=(0, 1))
    for ax in (ax_loss, ax_iou):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
