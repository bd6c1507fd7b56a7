"""What a training run is asked to do: `TrainConfig`, the settings `seg-train` collects, and the choices it offers.

Plain data: the command line fills it in, the trainer's parts read it, and `recipe()` is the part of it that
every checkpoint records as its recipe (so a resumed or packaged run says how it was trained).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .data import DataSpec

LOSSES = ("dice", "dice+bce")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("step", "onecycle")
AUGMENTS = ("basic", "people")


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
    time_limit: float | None = None  # minutes: the epochs are fitted to it after the first one (time_fit.py)
    recipe_keys: tuple = field(default=("batch", "lr", "lr_step", "lr_gamma", "dice_eps", "epochs", "precise_bn", "loss",
                                        "optimizer", "weight_decay", "schedule", "augment", "epoch_size", "select_on",
                                        "seed", "init_from"), repr=False)

    def recipe(self) -> dict:
        def plain(value):  # checkpoints hold plain types only (they load with weights_only=True)
            return list(value) if isinstance(value, tuple) else str(value) if isinstance(value, Path) else value

        return {k: plain(getattr(self, k)) for k in self.recipe_keys}
