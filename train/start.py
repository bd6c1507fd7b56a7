"""Where a run starts: resumed from its last.pt, fine-tuned from `--init-from`, or fresh; with its optimizer and schedule.

A resume restores everything (weights, optimizer, schedule, grad scaler, history, best score) and refuses a
checkpoint of another size or a one-cycle plan of another length; `--init-from` takes only the weights and
their architecture, with a fresh optimizer and schedule. A folder that already holds a run is never
overwritten unless `--force` says so.
"""
from __future__ import annotations

import math

from .checkpoint import load_checkpoint
from .errors import UserError
from .saving import RUN_FILES, remove_debris
from .zoo import build_unet, unet_arch


class RunStart:
    """Trainer part: sets `self.model`, `self.net` (DDP-wrapped when distributed), `self.optimizer`, `self.scheduler`,
    `self.scaler` and, on a resume, `self.history`, `self.start_epoch`, `self.best` and `self.arch`.

    Reads `self.cfg`, `self.arch`, `self.device`, `self.precision`, `self.dist`, `self.cuda` and `self.train_set`.
    """

    def _build(self, torch) -> None:
        cfg = self.cfg
        last = cfg.out / "last.pt"
        remove_debris(cfg.out)
        if cfg.force and not cfg.resume:
            for name in RUN_FILES:
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
