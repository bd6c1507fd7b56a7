"""`--time-limit`: the run's epochs fitted to a wall-clock budget from the epoch times measured so far.

How long an epoch takes is known only once one has run (train/lent_gpu.sh fits every run to its minutes),
so the plan is at most `--epochs`, set after the first epoch and revised after each later one; the trainer
calls this before saving, so the checkpoint's recipe records the plan.
"""
from __future__ import annotations


class TimeFit:
    """Trainer part: reads `self.start_epoch` and `self.requested_epochs`; updates `self.cfg.epochs` and
    `self.scheduler` (redrawn by `self._scheduler`, start.py).
    """

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
