"""What a run leaves in its folder after each epoch: last.pt, best.pt, history.csv, curves.png and summary.json.

Each epoch's row is checked before anything is written: weights that are not finite stop the run and
the last good checkpoint stays. Checkpoints are written atomically (checkpoint.py), so a killed run
leaves at most temporary folders, which `remove_debris` clears when a run starts.
"""
from __future__ import annotations

import json
from pathlib import Path

from .checkpoint import CheckpointMeta, package_versions, save_checkpoint
from .curves import plot_curves, write_history_csv
from .devices import device_name
from .errors import UserError
from .evaluation import selection_score
from .zoo import short_name

RUN_FILES = ("last.pt", "best.pt", "history.csv", "summary.json", "curves.png")  # what --force replaces


def remove_debris(out: Path) -> None:
    """Temporary folders a killed write left (atomic_path names them `.NAME.*.tmp`): never a checkpoint."""
    import shutil

    if out.is_dir():
        for tmp in out.glob(".*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)


class Saving:
    """Trainer part: the checkpoint metadata and the end of each epoch (history row, files, the printed line).

    Reads `self.cfg`, `self.model`, `self.optimizer`, `self.scheduler`, `self.scaler`, `self.precision`,
    `self.device`, `self.dist`, `self.norm`, `self.arch`, `self.person_class`, `self.skipped`; updates `self.history`
    and `self.best`.
    """

    def _meta(self, epoch: int, metrics: dict) -> CheckpointMeta:
        cfg = self.cfg
        return CheckpointMeta(
            encoder=cfg.encoder, imgsz=tuple(cfg.imgsz), normalization=self.norm, person_class=self.person_class,
            dataset=cfg.dataset, data_dir=str(cfg.data), epoch=epoch, metrics=metrics, best_metric=self.best,
            encoder_weights=cfg.encoder_weights, recipe=cfg.recipe(), versions=package_versions(), arch=self.arch,
            precision={"amp": self.precision.amp, "memory_format": self.precision.memory_format,
                       "device": device_name(self.device)},
            data_sources=[{"root": str(cfg.data), "layout": cfg.dataset, "weight": 1.0}]
            + [{"root": str(s.root), "layout": s.layout, "weight": s.weight} for s in cfg.extra_data],
        )

    def _end_epoch(self, epoch: int, lr: float, train: dict, val: dict, extra: dict, seconds: float) -> None:
        import torch

        cfg = self.cfg
        row = {"epoch": epoch, "lr": lr, "train_loss": train["loss"], "train_iou": train["iou"],
               "val_loss": val["loss"], "val_iou": val["iou"], "val_iou_per_image": val["iou_per_image"],
               "seconds": round(seconds, 2), "images_per_s": round(train["images"] * self.dist.world / seconds, 2),
               "amp": self.precision.amp, "memory_format": self.precision.memory_format, "skipped_steps": self.skipped}
        for name, result in extra.items():
            row[f"{name}_iou"], row[f"{name}_iou_per_image"] = result["iou"], result["iou_per_image"]
        score = selection_score(cfg.select_on, val, extra)
        row["select_score"] = score
        if not all(torch.isfinite(p).all() for p in self.model.state_dict().values() if p.is_floating_point()):
            raise UserError(f"epoch {epoch} left non-finite weights; not saved (last good checkpoint: {cfg.out / 'last.pt'})")
        self.history.append(row)
        metrics = {k: v for k, v in row.items() if k.endswith(("_loss", "_iou", "_iou_per_image")) or k == "select_score"}
        improved = score > self.best
        self.best = max(self.best, score)
        kwargs = dict(optimizer=self.optimizer, scheduler=self.scheduler, scaler=self.scaler, history=self.history)
        save_checkpoint(cfg.out / "last.pt", self.model, self._meta(epoch, metrics), **kwargs)
        if improved:
            save_checkpoint(cfg.out / "best.pt", self.model, self._meta(epoch, metrics), **kwargs)
        write_history_csv(self.history, cfg.out / "history.csv")
        plot_curves(self.history, cfg.out / "curves.png",
                    f"U-Net {short_name(cfg.encoder)} on {Path(cfg.data).name} ({cfg.imgsz[0]}x{cfg.imgsz[1]}, amp {self.precision.amp})")
        summary = {"encoder": cfg.encoder, "device": device_name(self.device), "precision": self.precision.describe(),
                   "best_select_score": self.best, "select_on": list(cfg.select_on), "last": row}
        (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        evals = "".join(f" | {name} IoU {r['iou']:.3f}" for name, r in extra.items())
        skipped = f" | {self.skipped} steps skipped (non-finite loss)" if self.skipped else ""
        print(f"epoch {epoch}: train loss {row['train_loss']:.4f} IoU {row['train_iou']:.3f} | "
              f"val loss {row['val_loss']:.4f} IoU {row['val_iou']:.3f} (per image {row['val_iou_per_image']:.3f})"
              f"{evals}{' *best' if improved else ''} | {row['images_per_s']:.1f} img/s{skipped}", flush=True)
