"""The thin trainer: the study's recipe (Dice, Adam 1e-4 halved every 50 epochs, batch 8) by default.

Mixed precision per device (`train/precision.py`), decoded images cached once (`train/cache.py`),
the study's basic augmentation or the people mix (`train/augment.py`), extra evaluation sets per
epoch, and DDP when launched by torchrun. A non-finite loss is skipped, never saved.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import CheckpointMeta, load_checkpoint, package_versions, save_checkpoint
from .curves import plot_curves, write_history_csv
from .data import DataSpec, eval_split_dir, list_samples, person_class_for
from .errors import UserError
from .precision import Precision, choose_precision
from .zoo import build_unet, default_arch, normalization_for, short_name, unet_arch

LOSSES = ("dice", "dice+bce")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("step", "onecycle")
AUGMENTS = ("basic", "people")
MAX_BAD_STEPS = 20  # consecutive non-finite losses before the run stops


@dataclass
class TrainConfig:
    encoder: str  # smp encoder name
    data: Path  # the primary dataset: its val split selects the model
    dataset: str = "folder"
    imgsz: tuple[int, int] = (512, 512)
    epochs: int = 100
    batch: int = 8
    lr: float = 1e-4
    lr_step: int = 50
    lr_gamma: float = 0.5
    dice_eps: float = 1e-6
    loss: str = "dice"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "step"
    augment: str = "basic"
    arch: dict = field(default_factory=dict)  # decoder settings (zoo.unet_arch)
    extra_data: tuple[DataSpec, ...] = ()  # more training sources (the people mix)
    eval_sets: dict = field(default_factory=dict)  # name -> folder, evaluated every epoch
    select_on: tuple[str, ...] = ("val",)  # the mean of these IoUs picks best.pt
    epoch_size: int | None = None
    amp: str = "auto"
    memory_format: str = "auto"
    cache_dir: Path | None = Path("runs/cache")
    out: Path = Path("runs/train/run")
    person_class: int | None = None
    encoder_weights: str | None = None
    init_from: Path | None = None  # start from these weights (fine-tuning): fresh optimizer and schedule
    resume: bool = False
    force: bool = False  # replace a run already in `out`
    mask_values: str = "strict"  # how folder masks are read (data.read_person_mask)
    skip_bad_images: bool = False
    workers: int = 2
    limit_train: int | None = None
    limit_val: int | None = None
    device: str = "auto"
    seed: int = 0
    precise_bn: int = 32  # batches for re-estimating BatchNorm statistics before validation (0: off)
    progress: bool = True
    data_on_device: bool = False  # basic augmentation on the device from data decoded there once (device_data.py)
    time_limit: float | None = None  # minutes: the epochs are fitted to it after the first one (see fit_to_time)
    recipe_keys: tuple = field(default=("batch", "lr", "lr_step", "lr_gamma", "dice_eps", "epochs", "precise_bn", "loss",
                                        "optimizer", "weight_decay", "schedule", "augment", "epoch_size", "select_on",
                                        "seed", "init_from"), repr=False)

    def recipe(self) -> dict:
        def plain(value):  # checkpoints hold plain types only (they load with weights_only=True)
            return list(value) if isinstance(value, tuple) else str(value) if isinstance(value, Path) else value

        return {k: plain(getattr(self, k)) for k in self.recipe_keys}


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
        torch.backends.cudnn.benchmark = True  # the input size is fixed: let cuDNN pick the fastest kernels once
        return torch.device("cuda", dist.local_rank)
    return torch.device(name)


class Trainer:
    def __init__(self, cfg: TrainConfig):
        import torch

        self.cfg, self.dist = cfg, Distributed()
        self.requested_epochs = cfg.epochs  # --time-limit plans at most these
        self.device = pick_device(cfg.device, self.dist)
        self.dist.setup(self.device.type)
        torch.manual_seed(cfg.seed + self.dist.rank)
        self.precision: Precision = choose_precision(cfg.amp, self.device.type, cfg.memory_format)
        self.arch = unet_arch({**default_arch(cfg.encoder), **cfg.arch})
        self.norm = normalization_for(cfg.encoder)
        self.person_class = person_class_for(cfg.dataset, cfg.person_class)
        # Rank 0 fills the decode cache first; the other ranks then map what it wrote instead of racing it.
        if not self.dist.main:
            self.dist.barrier()
        self._data()
        if self.dist.main:
            self.dist.barrier()
        self.history: list[dict] = []
        self.start_epoch, self.best = 0, float("-inf")
        self.cuda = self.device.type == "cuda"
        self.bad_steps = 0
        self._build(torch)

    def _decode(self, root, split, layout, person_class, limit=None, label=""):
        from .cache import decode_split

        samples = list_samples(root, split, layout)[:limit]
        pc = person_class_for(layout, person_class)
        return decode_split(samples, pc, self.cfg.cache_dir, progress=self.cfg.progress and self.dist.main,
                            label=label or f"{Path(root).name}/{split}", mask_values=self.cfg.mask_values,
                            skip_bad=self.cfg.skip_bad_images)

    def _data(self) -> None:
        from .augment import ArrayDataset, PeopleMix, Source
        from .data import train_transform

        cfg = self.cfg
        size = tuple(cfg.imgsz)
        primary = self._decode(cfg.data, "train", cfg.dataset, cfg.person_class, cfg.limit_train)
        if cfg.augment == "people":
            sources = [Source(primary, 1.0, people=cfg.dataset == "folder")]
            for spec in cfg.extra_data:
                split = self._decode(spec.root, "train", spec.layout, None, cfg.limit_train)
                sources.append(Source(split, spec.weight, people=spec.layout == "folder"))
            self.train_set = PeopleMix(sources, size, self.norm, cfg.epoch_size)
        else:
            if cfg.extra_data:
                raise UserError("more than one --data needs --augment people (the basic recipe trains on one dataset)")
            self.train_set = ArrayDataset(primary, size, self.norm, train_transform(*size))
        self.val_set = ArrayDataset(self._decode(cfg.data, "val", cfg.dataset, cfg.person_class, cfg.limit_val), size, self.norm)
        self.eval_sets = {}
        for name, folder in cfg.eval_sets.items():
            root, split = eval_split_dir(folder)
            self.eval_sets[name] = ArrayDataset(self._decode(root, split, "folder", None, cfg.limit_val, label=name), size, self.norm)
        if cfg.data_on_device and (cfg.augment != "basic" or self.dist.enabled):
            raise UserError("--data-on-device runs the basic augmentation in one process: not with --augment people or torchrun")
        if cfg.time_limit is not None and self.dist.enabled:
            raise UserError("--time-limit fits one process's epochs: not with torchrun")
        unknown = set(cfg.select_on) - {"val", *self.eval_sets}
        if unknown:
            raise UserError(f"--select-on {','.join(sorted(unknown))}: not 'val' or a name given to --eval")

    def _build(self, torch) -> None:
        cfg = self.cfg
        last = cfg.out / "last.pt"
        remove_debris(cfg.out)
        if cfg.force and not cfg.resume:
            for name in ("last.pt", "best.pt", "history.csv", "summary.json", "curves.png"):
                (cfg.out / name).unlink(missing_ok=True)
        if cfg.resume:
            ckpt = load_checkpoint(last, expect_encoder=cfg.encoder)
            if tuple(ckpt.meta.imgsz) != tuple(cfg.imgsz):
                raise UserError(f"{last} was trained at {ckpt.meta.imgsz}, not {tuple(cfg.imgsz)}")
            planned = ckpt.meta.recipe.get("epochs")
            if cfg.schedule == "onecycle" and planned not in (None, cfg.epochs):  # its lr ends at the planned epoch
                raise UserError(f"{last} is a one-cycle run planned for {planned} epochs: resume it with --epochs "
                                f"{planned}, or start a new run (--force or another --out) for {cfg.epochs}")
            self.arch = unet_arch(ckpt.meta.arch)
            self.model = build_unet(cfg.encoder, arch=self.arch)
            self.model.load_state_dict(ckpt.state["model"])
        elif last.exists() or (cfg.out / "best.pt").exists():
            raise UserError(f"{cfg.out} already holds a run: pass --resume to continue it, --force to replace it, "
                            "or another --out")
        elif cfg.init_from is not None:
            start = load_checkpoint(cfg.init_from, expect_encoder=cfg.encoder)
            if tuple(start.meta.imgsz) != tuple(cfg.imgsz):
                print(f"seg-train: {cfg.init_from} was trained at {start.meta.imgsz}; fine-tuning at {tuple(cfg.imgsz)}")
            self.arch = unet_arch(start.meta.arch)
            self.model = start.build_model()
            ckpt = None
        else:
            ckpt = None
            self.model = build_unet(cfg.encoder, cfg.encoder_weights, arch=self.arch)
        self.model.to(self.device)
        if self.precision.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = self._optimizer(torch)
        self.scheduler = self._scheduler(torch)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.grad_scaling)
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

    def _optimizer(self, torch):
        cfg = self.cfg
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _scheduler(self, torch):
        cfg = self.cfg
        if cfg.schedule == "onecycle":  # stepped per batch, over the whole run
            steps = cfg.epochs * self.steps_per_epoch()
            return torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
        return torch.optim.lr_scheduler.StepLR(self.optimizer, cfg.lr_step, cfg.lr_gamma)

    def steps_per_epoch(self) -> int:
        per_rank = math.ceil(len(self.train_set) / self.dist.world)
        return max(1, per_rank // self.cfg.batch if per_rank > self.cfg.batch else 1)

    def _loader(self, dataset, train: bool):
        import torch
        from torch.utils.data import DataLoader, DistributedSampler

        if self.cfg.data_on_device:
            from .device_data import DeviceLoader

            return DeviceLoader(dataset.split, dataset.imgsz, dataset.norm, self.device, self.cfg.batch, train)

        sampler = DistributedSampler(dataset, shuffle=train) if (train and self.dist.enabled) else None
        return DataLoader(dataset, batch_size=self.cfg.batch, shuffle=train and sampler is None, sampler=sampler,
                          num_workers=self.cfg.workers, pin_memory=self.cuda, drop_last=train and len(dataset) > self.cfg.batch,
                          persistent_workers=self.cfg.workers > 0, generator=torch.Generator().manual_seed(self.cfg.seed))

    def _loss(self, logits, masks):
        import torch.nn.functional as F
        from segmentation_models_pytorch.losses import DiceLoss

        if not hasattr(self, "_dice"):
            self._dice = DiceLoss("binary", from_logits=True, eps=self.cfg.dice_eps)
        loss = self._dice(logits, masks)
        if self.cfg.loss == "dice+bce":
            loss = loss + F.binary_cross_entropy_with_logits(logits, masks)
        return loss

    def _step(self, loss) -> bool:
        """One optimizer step; a non-finite loss is skipped (and counted) so it never reaches the weights."""
        import torch

        self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            self.bad_steps += 1
            self.skipped += 1
            print(f"seg-train: non-finite loss ({loss.item()}): step skipped ({self.bad_steps} in a row)", flush=True)
            if self.bad_steps >= MAX_BAD_STEPS:
                raise UserError(f"the loss was not finite in {MAX_BAD_STEPS} steps in a row; lower --lr or try --amp off "
                                f"(last good checkpoint: {self.cfg.out / 'last.pt'})")
            return False
        self.bad_steps = 0
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.cfg.schedule == "onecycle" and self.scheduler.last_epoch < self.scheduler.total_steps - 1:
            self.scheduler.step()
        return True

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

    def fit(self) -> dict:
        import torch

        cfg = self.cfg
        if self.start_epoch >= cfg.epochs:
            raise UserError(f"{cfg.out / 'last.pt'} already finished {self.start_epoch} epochs; raise --epochs to go on")
        train_loader = self._loader(self.train_set, train=True)
        val_loader = self._loader(self.val_set, train=False)
        eval_loaders = {name: self._loader(ds, train=False) for name, ds in self.eval_sets.items()}
        started_run = time.perf_counter()
        epoch = self.start_epoch
        while epoch < cfg.epochs:
            epoch += 1
            if self.dist.enabled:
                train_loader.sampler.set_epoch(epoch)
            torch.manual_seed(cfg.seed * 1000 + epoch)  # a resumed run draws the same augmentations
            lr = self.optimizer.param_groups[0]["lr"]
            self.skipped = 0
            started = time.perf_counter()
            train = self._run_epoch(train_loader, True, f"epoch {epoch}/{cfg.epochs} train")
            seconds = time.perf_counter() - started
            if cfg.schedule == "step":
                self.scheduler.step()
            if self.dist.main:
                recalibrate_batchnorm(self.model, train_loader, cfg.precise_bn, self.device)
                val = self._run_epoch(val_loader, False, f"epoch {epoch}/{cfg.epochs} val")
                extra = {name: self._run_epoch(loader, False, f"epoch {epoch}/{cfg.epochs} {name}")
                         for name, loader in eval_loaders.items()}
                if cfg.time_limit is not None:  # before saving, so the checkpoint records the fitted plan
                    self.fit_to_time(epoch, time.perf_counter() - started_run)
                self._end_epoch(epoch, lr, train, val, extra, seconds)
            self.dist.barrier()
        return self.history[-1] if self.history else {}

    def fit_to_time(self, epoch: int, elapsed: float) -> None:
        """Plan the epochs that fit in --time-limit at this process's mean epoch time so far (at most --epochs).

        Set after the first epoch, cut whenever later epochs run slower, and extended when they run faster by
        at least a tenth (a CPU shared at the start) before the plan's last quarter; a one-cycle schedule is
        redrawn over each new plan, so its lr still anneals to the end. The checkpoint's recipe records the
        plan, so a resume continues it.
        """
        cfg = self.cfg
        done_here = epoch - self.start_epoch
        per_epoch = elapsed / done_here
        fitted = min(self.requested_epochs, self.start_epoch + max(done_here, int(cfg.time_limit * 60 / per_epoch)))
        # extend only by a tenth or more, and never in the plan's last quarter, where the lr is annealing
        grows = fitted - cfg.epochs >= max(2, cfg.epochs // 10) and epoch < 0.75 * cfg.epochs
        if fitted == cfg.epochs or (fitted > cfg.epochs and not grows):
            return
        print(f"seg-train: {cfg.time_limit:g} min fit {fitted} epochs at {per_epoch:.1f} s each "
              f"(planned {cfg.epochs})", flush=True)
        cfg.epochs = fitted
        if cfg.schedule == "onecycle" and fitted > epoch:
            import warnings

            import torch

            steps = self.scheduler.last_epoch
            self.scheduler = self._scheduler(torch)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # stepping the fresh schedule up to where the run is
                for _ in range(steps):
                    self.scheduler.step()

    def _end_epoch(self, epoch: int, lr: float, train: dict, val: dict, extra: dict, seconds: float) -> None:
        import torch

        cfg = self.cfg
        row = {"epoch": epoch, "lr": lr, "train_loss": train["loss"], "train_iou": train["iou"],
               "val_loss": val["loss"], "val_iou": val["iou"], "val_iou_per_image": val["iou_per_image"],
               "seconds": round(seconds, 2), "images_per_s": round(train["images"] * self.dist.world / seconds, 2),
               "amp": self.precision.amp, "memory_format": self.precision.memory_format, "skipped_steps": self.skipped}
        for name, result in extra.items():
            row[f"{name}_iou"], row[f"{name}_iou_per_image"] = result["iou"], result["iou_per_image"]
        ious = {"val": val["iou"], **{name: r["iou"] for name, r in extra.items()}}
        score = sum(ious[k] for k in cfg.select_on) / len(cfg.select_on)
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


def remove_debris(out: Path) -> None:
    """Temporary folders a killed write left (atomic_path names them `.NAME.*.tmp`): never a checkpoint."""
    import shutil

    if out.is_dir():
        for tmp in out.glob(".*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)


def device_name(device) -> str:
    import torch

    from .hardware import cpu_model

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_model()}, {torch.get_num_threads()} threads)"
