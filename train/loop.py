"""The thin trainer: the study's recipe (Dice, Adam 1e-4 halved every 50 epochs, batch 8).

CUDA with AMP and channels_last when present, CPU otherwise; DDP when launched by torchrun.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import CheckpointMeta, load_checkpoint, package_versions, save_checkpoint
from .curves import plot_curves, write_history_csv
from .data import make_dataset, person_class_for
from .errors import UserError
from .zoo import build_unet, normalization_for, short_name


@dataclass
class TrainConfig:
    encoder: str  # smp encoder name
    data: Path
    dataset: str = "folder"
    imgsz: tuple[int, int] = (512, 512)
    epochs: int = 100
    batch: int = 8
    lr: float = 1e-4
    lr_step: int = 50
    lr_gamma: float = 0.5
    dice_eps: float = 1e-6
    out: Path = Path("runs/train/run")
    person_class: int | None = None
    encoder_weights: str | None = None
    resume: bool = False
    workers: int = 2
    limit_train: int | None = None
    limit_val: int | None = None
    device: str = "auto"
    seed: int = 0
    precise_bn: int = 32  # batches for re-estimating BatchNorm statistics before validation (0: off)
    progress: bool = True
    recipe_keys: tuple = field(default=("batch", "lr", "lr_step", "lr_gamma", "dice_eps", "epochs", "precise_bn"), repr=False)

    def recipe(self) -> dict:
        return {k: getattr(self, k) for k in self.recipe_keys}


def confusion_stats(logits, masks):
    """Per-image tp, fp, fn, tn of the person mask (logit > 0) against a 0/1 target.

    Binarize here: smp's get_stats(threshold=t) thresholds the target with t as well, so a logit
    threshold of 0 would turn every target pixel into person.
    """
    import segmentation_models_pytorch as smp

    return smp.metrics.get_stats((logits.detach() > 0).long(), masks.long(), mode="binary")


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


class Distributed:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; without them this is a single process."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def setup(self, device_type: str) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.init_process_group("nccl" if device_type == "cuda" else "gloo")

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def pick_device(name: str, dist: Distributed):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda asked for, but no CUDA GPU is visible to torch")
        torch.cuda.set_device(dist.local_rank)
        return torch.device("cuda", dist.local_rank)
    return torch.device(name)


class Trainer:
    def __init__(self, cfg: TrainConfig):
        import torch
        from segmentation_models_pytorch.losses import DiceLoss

        self.cfg, self.dist = cfg, Distributed()
        self.device = pick_device(cfg.device, self.dist)
        self.dist.setup(self.device.type)
        torch.manual_seed(cfg.seed + self.dist.rank)
        self.norm = normalization_for(cfg.encoder)
        self.person_class = person_class_for(cfg.dataset, cfg.person_class)
        self.train_set = make_dataset(cfg.data, "train", cfg.dataset, cfg.imgsz, self.norm,
                                      person_class=cfg.person_class, augment=True, limit=cfg.limit_train)
        self.val_set = make_dataset(cfg.data, "val", cfg.dataset, cfg.imgsz, self.norm,
                                    person_class=cfg.person_class, limit=cfg.limit_val)
        self.loss_fn = DiceLoss("binary", from_logits=True, eps=cfg.dice_eps)
        self.history: list[dict] = []
        self.start_epoch, self.best = 0, float("-inf")
        self.cuda = self.device.type == "cuda"
        self.amp_dtype = (torch.bfloat16 if self.cuda and torch.cuda.is_bf16_supported() else torch.float16)
        self._build(torch)

    def _build(self, torch) -> None:
        cfg = self.cfg
        last = cfg.out / "last.pt"
        if cfg.resume:
            ckpt = load_checkpoint(last, expect_encoder=cfg.encoder)
            if tuple(ckpt.meta.imgsz) != tuple(cfg.imgsz):
                raise UserError(f"{last} was trained at {ckpt.meta.imgsz}, not {tuple(cfg.imgsz)}")
            self.model = build_unet(cfg.encoder)
            self.model.load_state_dict(ckpt.state["model"])
        elif last.exists():
            raise UserError(f"{cfg.out} already holds a run: pass --resume to continue it, or another --out")
        else:
            ckpt = None
            self.model = build_unet(cfg.encoder, cfg.encoder_weights)
        self.model.to(self.device)
        if self.cuda:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, cfg.lr_step, cfg.lr_gamma)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.cuda and self.amp_dtype == torch.float16)
        if ckpt is not None:
            self.optimizer.load_state_dict(ckpt.state["optimizer"])
            self.scheduler.load_state_dict(ckpt.state["scheduler"])
            if ckpt.state.get("scaler"):
                self.scaler.load_state_dict(ckpt.state["scaler"])
            self.history = ckpt.history
            self.start_epoch, self.best = ckpt.meta.epoch, ckpt.meta.best_metric
        self.net = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[self.dist.local_rank] if self.cuda else None)

    def _loader(self, dataset, train: bool):
        import torch
        from torch.utils.data import DataLoader, DistributedSampler

        sampler = DistributedSampler(dataset, shuffle=train) if (train and self.dist.enabled) else None
        return DataLoader(dataset, batch_size=self.cfg.batch, shuffle=train and sampler is None, sampler=sampler,
                          num_workers=self.cfg.workers, pin_memory=self.cuda, drop_last=train and len(dataset) > self.cfg.batch,
                          persistent_workers=self.cfg.workers > 0, generator=torch.Generator().manual_seed(self.cfg.seed))

    def _run_epoch(self, loader, train: bool, desc: str) -> dict:
        import segmentation_models_pytorch as smp
        import torch
        from tqdm import tqdm

        # Validation runs on rank 0 alone: use the bare model, since a DDP forward would wait for the other ranks.
        net = self.net if train else self.model
        net.train(train)
        total_loss, seen, stats = 0.0, 0, []
        bar = tqdm(loader, desc=desc, leave=False, disable=not (self.cfg.progress and self.dist.main), unit="batch")
        with torch.set_grad_enabled(train):
            for images, masks in bar:
                images = images.to(self.device, non_blocking=True)
                masks = masks.to(self.device, non_blocking=True)
                if self.cuda:
                    images = images.contiguous(memory_format=torch.channels_last)
                with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.cuda):
                    logits = net(images)
                    loss = self.loss_fn(logits.float(), masks)
                if train:
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scaler.scale(loss).backward()
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                total_loss += loss.item() * len(images)
                seen += len(images)
                stats.append(confusion_stats(logits, masks))
                bar.set_postfix(loss=f"{total_loss / seen:.4f}")
        tp, fp, fn, tn = (torch.cat(s) for s in zip(*stats))
        return {
            "loss": total_loss / max(seen, 1),
            "iou": float(smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro")),
            "iou_per_image": float(smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro-imagewise", zero_division=1.0)),
            "images": seen,
        }

    def _meta(self, epoch: int, metrics: dict) -> CheckpointMeta:
        cfg = self.cfg
        return CheckpointMeta(
            encoder=cfg.encoder, imgsz=tuple(cfg.imgsz), normalization=self.norm, person_class=self.person_class,
            dataset=cfg.dataset, data_dir=str(cfg.data), epoch=epoch, metrics=metrics, best_metric=self.best,
            encoder_weights=cfg.encoder_weights, recipe=cfg.recipe(), versions=package_versions(),
        )

    def fit(self) -> dict:
        cfg = self.cfg
        if self.start_epoch >= cfg.epochs:
            raise UserError(f"{cfg.out / 'last.pt'} already finished {self.start_epoch} epochs; raise --epochs to go on")
        train_loader = self._loader(self.train_set, train=True)
        val_loader = self._loader(self.val_set, train=False)
        for epoch in range(self.start_epoch + 1, cfg.epochs + 1):
            if self.dist.enabled:
                train_loader.sampler.set_epoch(epoch)
            lr = self.optimizer.param_groups[0]["lr"]
            started = time.perf_counter()
            train = self._run_epoch(train_loader, True, f"epoch {epoch}/{cfg.epochs} train")
            seconds = time.perf_counter() - started
            self.scheduler.step()
            if self.dist.main:
                recalibrate_batchnorm(self.model, train_loader, cfg.precise_bn, self.device)
                val = self._run_epoch(val_loader, False, f"epoch {epoch}/{cfg.epochs} val")
                self._end_epoch(epoch, lr, train, val, seconds)
            self.dist.barrier()
        return self.history[-1] if self.history else {}

    def _end_epoch(self, epoch: int, lr: float, train: dict, val: dict, seconds: float) -> None:
        cfg = self.cfg
        row = {"epoch": epoch, "lr": lr, "train_loss": train["loss"], "train_iou": train["iou"],
               "val_loss": val["loss"], "val_iou": val["iou"], "val_iou_per_image": val["iou_per_image"],
               "seconds": round(seconds, 2), "images_per_s": round(train["images"] * self.dist.world / seconds, 2)}
        self.history.append(row)
        metrics = {k: row[k] for k in ("train_loss", "train_iou", "val_loss", "val_iou", "val_iou_per_image")}
        improved = val["iou"] > self.best
        self.best = max(self.best, val["iou"])
        kwargs = dict(optimizer=self.optimizer, scheduler=self.scheduler, scaler=self.scaler, history=self.history)
        save_checkpoint(cfg.out / "last.pt", self.model, self._meta(epoch, metrics), **kwargs)
        if improved:
            save_checkpoint(cfg.out / "best.pt", self.model, self._meta(epoch, metrics), **kwargs)
        write_history_csv(self.history, cfg.out / "history.csv")
        plot_curves(self.history, cfg.out / "curves.png",
                    f"U-Net {short_name(cfg.encoder)} on {Path(cfg.data).name} ({cfg.imgsz[0]}x{cfg.imgsz[1]})")
        summary = {"encoder": cfg.encoder, "device": device_name(self.device), "best_val_iou": self.best, "last": row}
        (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"epoch {epoch}: train loss {row['train_loss']:.4f} IoU {row['train_iou']:.3f} | "
              f"val loss {row['val_loss']:.4f} IoU {row['val_iou']:.3f} (per image {row['val_iou_per_image']:.3f})"
              f"{' *best' if improved else ''} | {row['images_per_s']:.1f} img/s", flush=True)


def device_name(device) -> str:
    import platform

    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
