"""After each epoch's training: precise BatchNorm, the val split and every `--eval` set, and the score that picks best.pt.

Evaluation runs on rank 0 alone with the bare model (epoch.py); the selection score is the mean IoU of the
sets `--select-on` names, so best.pt can be chosen on the data the model is meant for, not only on val.
"""
from __future__ import annotations


def recalibrate_batchnorm(model, loader, max_batches: int, device) -> None:
    """Re-estimate BatchNorm running statistics as a plain average over up to `max_batches` batches.

    smp's EfficientNet encoder uses BN momentum 0.01, so after short epochs its running statistics
    still sit near their initial values and the eval-mode model predicts nothing ("precise BN").
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or max_batches <= 0:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for index, (images, _) in enumerate(loader):
            if index >= max_batches:
                break
            model(images.to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


def selection_score(select_on, val: dict, extra: dict) -> float:
    """The mean IoU over the sets named in `select_on` ('val' or names given to --eval)."""
    ious = {"val": val["iou"], **{name: r["iou"] for name, r in extra.items()}}
    return sum(ious[k] for k in select_on) / len(select_on)


class Evaluation:
    """Trainer part: evaluates the epoch's model; reads `self.cfg`, `self.model`, `self.device`, uses `_run_epoch`."""

    def _evaluate(self, epoch: int, train_loader, val_loader, eval_loaders: dict) -> tuple[dict, dict]:
        """(val results, {eval name: results}), after re-estimating BN statistics on training batches."""
        cfg = self.cfg
        recalibrate_batchnorm(self.model, train_loader, cfg.precise_bn, self.device)
        val = self._run_epoch(val_loader, False, f"epoch {epoch}/{cfg.epochs} val")
        extra = {name: self._run_epoch(loader, False, f"epoch {epoch}/{cfg.epochs} {name}")
                 for name, loader in eval_loaders.items()}
        return val, extra
