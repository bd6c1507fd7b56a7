"""The sets a run trains and evaluates on: splits read (data.py), decoded once (cache.py) and served (augment.py).

`make_dataset` serves one split as the trainer serves its validation set (or with the study's basic
augmentation); `RunData` is the trainer's part that builds its training set (basic recipe or people mix),
its val split and every `--eval` set, and the loaders over them. This module sits above data, cache and
augment, which import none of it.
"""
from __future__ import annotations

from pathlib import Path

from .augment import ArrayDataset, PeopleMix, Source
from .cache import decode_split
from .data import eval_split_dir, list_samples, person_class_for, train_transform
from .errors import UserError
from .zoo import Normalization


def make_dataset(root, split: str, layout: str, imgsz: tuple[int, int], norm: Normalization, *,
                 person_class: int | None = None, augment: bool = False, limit: int | None = None):
    """A split decoded in memory, served as the trainer serves it (augment: the study's basic transform)."""
    h, w = imgsz
    if h % 32 or w % 32:
        raise UserError(f"image size {h}x{w} must be a multiple of 32 (the U-Net downsamples 5 times)")
    samples = list_samples(root, split, layout)[:limit]
    decoded = decode_split(samples, person_class_for(layout, person_class), None, progress=False, label=split)
    return ArrayDataset(decoded, imgsz, norm, train_transform(h, w) if augment else None)


class RunData:
    """Trainer part: `train_set`, `val_set`, `eval_sets` and their loaders, from `self.cfg` (a TrainConfig).

    Reads `self.dist` (only rank 0 shows progress), `self.norm`, and for loaders `self.device` and `self.cuda`.
    """

    def _decode(self, root, split, layout, person_class, limit=None, label=""):
        samples = list_samples(root, split, layout)[:limit]
        pc = person_class_for(layout, person_class)
        return decode_split(samples, pc, self.cfg.cache_dir, progress=self.cfg.progress and self.dist.main,
                            label=label or f"{Path(root).name}/{split}", mask_values=self.cfg.mask_values,
                            skip_bad=self.cfg.skip_bad_images)

    def _data(self) -> None:
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
