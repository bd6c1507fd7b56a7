"""The thin trainer: the study's recipe (Dice, Adam 1e-4 halved every 50 epochs, batch 8) by default.

`Trainer` is the orchestration: it places the run (devices.py), picks its precision (precision.py), builds
its data (datasets.py) and its starting point (start.py), then runs epochs: one training pass (epoch.py),
evaluation and the selection score (evaluation.py), `--time-limit` fitting (time_fit.py) and the files
each epoch leaves (saving.py). DDP when launched by torchrun. A non-finite loss is skipped, never saved.
"""
from __future__ import annotations

import time

from .config import TrainConfig
from .data import person_class_for
from .datasets import RunData
from .devices import Distributed, pick_device
from .epoch import EpochPass
from .errors import UserError
from .evaluation import Evaluation
from .precision import Precision, choose_precision
from .saving import Saving
from .start import RunStart
from .time_fit import TimeFit
from .zoo import default_arch, normalization_for, unet_arch

MAX_BAD_STEPS = 20  # consecutive non-finite losses before the run stops


class Trainer(RunData, RunStart, EpochPass, Evaluation, TimeFit, Saving):
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
                val, extra = self._evaluate(epoch, train_loader, val_loader, eval_loaders)
                if cfg.time_limit is not None:  # before saving, so the checkpoint records the fitted plan
                    self.fit_to_time(epoch, time.perf_counter() - started_run)
                self._end_epoch(epoch, lr, train, val, extra, seconds)
            self.dist.barrier()
        return self.history[-1] if self.history else {}
