"""One pass over a loader: forward in the run's precision, the loss, and IoU counted from per-image confusion stats.

`EpochPass._run_epoch` serves training (through the trainer's `_step`, which owns the optimizer and skips a
non-finite loss) and evaluation alike, so val IoU is measured exactly as train IoU is. The IoU is smp's,
the same numbers as train/metrics.py's MaskIoU (tests/test_bench_metrics.py pins the two together).
"""
from __future__ import annotations

from .errors import UserError


def confusion_stats(logits, masks):
    """Per-image tp, fp, fn, tn of the person mask (logit > 0) against a 0/1 target.

    Binarize here: smp's get_stats(threshold=t) thresholds the target with t as well, so a logit
    threshold of 0 would turn every target pixel into person.
    """
    import segmentation_models_pytorch as smp

    return smp.metrics.get_stats((logits.detach() > 0).long(), masks.long(), mode="binary")


class EpochPass:
    """Trainer part: the loss and one pass of batches.

    Reads `self.cfg`, `self.net` / `self.model`, `self.device`, `self.precision` and `self.dist`; training
    steps go through `self._step(loss)`.
    """

    def _loss(self, logits, masks):
        import torch.nn.functional as F
        from segmentation_models_pytorch.losses import DiceLoss

        if not hasattr(self, "_dice"):
            self._dice = DiceLoss("binary", from_logits=True, eps=self.cfg.dice_eps)
        loss = self._dice(logits, masks)
        if self.cfg.loss == "dice+bce":
            loss = loss + F.binary_cross_entropy_with_logits(logits, masks)
        return loss

    def _run_epoch(self, loader, train: bool, desc: str) -> dict:
        import segmentation_models_pytorch as smp
        import torch
        from tqdm import tqdm

        # Validation runs on rank 0 alone: use the bare model, since a DDP forward would wait for the other ranks.
        net = self.net if train else self.model
        net.train(train)
        total_loss, seen, stats = 0.0, 0, []
        layout = torch.channels_last if self.precision.channels_last else torch.contiguous_format
        bar = tqdm(loader, desc=desc, leave=False, disable=not (self.cfg.progress and self.dist.main), unit="batch")
        with torch.set_grad_enabled(train):
            for images, masks in bar:
                images = images.to(self.device, non_blocking=True).contiguous(memory_format=layout)
                masks = masks.to(self.device, non_blocking=True)
                with torch.autocast(self.device.type, dtype=self.precision.dtype, enabled=self.precision.enabled):
                    logits = net(images)
                logits = logits.float()  # loss and metrics in fp32
                loss = self._loss(logits, masks)
                if train and not self._step(loss):
                    continue
                total_loss += loss.item() * len(images)
                seen += len(images)
                stats.append(confusion_stats(logits, masks))
                bar.set_postfix(loss=f"{total_loss / max(seen, 1):.4f}")
        if not stats:
            raise UserError(f"{desc}: every step had a non-finite loss; nothing was learnt or saved")
        tp, fp, fn, tn = (torch.cat(s) for s in zip(*stats))
        return {
            "loss": total_loss / max(seen, 1),
            "iou": float(smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro")),
            "iou_per_image": float(smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro-imagewise", zero_division=1.0)),
            "images": seen,
        }
