"""Data decoded once onto the training device and augmented there (`seg-train --data-on-device`).

On a GPU the study's basic augmentation (flip, scale-crop, colour) done by CPU workers starves the
device: an H200 steps a ResNeXt-50 U-Net faster than 16 cores decode and crop JPEGs. Here every image
is stretched once to a stored size, kept as uint8 on the device, and each batch is cropped, flipped
and jittered by one affine resample and a few tensor ops. Evaluation sets are stretched to the
training size exactly as `ArrayDataset` (and the model contract) stretches them.
"""
from __future__ import annotations

import math

import numpy as np

from .augment import stretch
from .cache import DecodedSplit
from .zoo import Normalization

STORE_SCALE = 1.25  # stored side / training side: a crop of half the area keeps ~0.9 px per output px
CROP_AREA = (0.5, 1.0)  # as data.train_transform's RandomResizedCrop
CROP_ASPECT = (0.6, 1.7)
JITTER = 0.2  # brightness, contrast, saturation factors in [1 - JITTER, 1 + JITTER], p = 0.8 (hue is not jittered)


class DeviceLoader:
    """Batches of (normalized NCHW float images, N1HW 0/1 masks) already on `device`."""

    def __init__(self, split: DecodedSplit, imgsz: tuple[int, int], norm: Normalization, device, batch: int,
                 train: bool):
        import torch

        self.imgsz, self.batch, self.train, self.device = tuple(imgsz), batch, train, device
        h, w = self.imgsz
        store = (math.ceil(h * STORE_SCALE), math.ceil(w * STORE_SCALE)) if train else (h, w)
        images = np.empty((len(split), store[0], store[1], 3), np.uint8)
        masks = np.empty((len(split), store[0], store[1]), np.uint8)
        for i in range(len(split)):
            images[i], masks[i] = stretch(np.asarray(split.image(i)), np.asarray(split.mask(i)), *store)
        self.images = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).contiguous()  # N3HW uint8
        self.masks = torch.from_numpy(masks).to(device)[:, None]  # N1HW uint8
        scale = norm.pixel_scale
        self.mean = torch.tensor(norm.mean, device=device).view(1, 3, 1, 1) * scale
        self.std = torch.tensor(norm.std, device=device).view(1, 3, 1, 1) * scale

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch if self.train and n > self.batch else math.ceil(n / self.batch)

    def __iter__(self):
        import torch

        n = len(self.images)
        # torch's global generator, which the trainer seeds per epoch: a resumed run draws the same batches.
        order = torch.randperm(n).to(self.device) if self.train else torch.arange(n, device=self.device)
        for b in range(len(self)):
            index = order[b * self.batch:(b + 1) * self.batch]
            images, masks = self.images[index].float(), self.masks[index].float()
            if self.train:
                images, masks = self.augment(images, masks)
            yield (images - self.mean) / self.std, masks

    def augment(self, images, masks):
        """One random scale-crop and flip per sample (an affine resample), then colour jitter."""
        import torch
        import torch.nn.functional as F

        n, device = len(images), images.device
        area = torch.empty(n, device=device).uniform_(*CROP_AREA)
        log_aspect = torch.empty(n, device=device).uniform_(math.log(CROP_ASPECT[0]), math.log(CROP_ASPECT[1]))
        width = torch.sqrt(area * log_aspect.exp()).clamp(max=1.0)  # of the stored frame, 1 = whole
        height = torch.sqrt(area / log_aspect.exp()).clamp(max=1.0)
        cx = (torch.rand(n, device=device) * 2 - 1) * (1 - width)
        cy = (torch.rand(n, device=device) * 2 - 1) * (1 - height)
        flip = torch.where(torch.rand(n, device=device) < 0.5, -1.0, 1.0)
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0], theta[:, 0, 2] = width * flip, cx
        theta[:, 1, 1], theta[:, 1, 2] = height, cy
        grid = F.affine_grid(theta, (n, 3, *self.imgsz), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
        masks = F.grid_sample(masks, grid, mode="nearest", padding_mode="border", align_corners=False)
        return colour_jitter(images), masks


def colour_jitter(images):
    """Brightness, contrast and saturation per sample (0-255 floats), each applied with p = 0.8."""
    import torch

    n, device = len(images), images.device

    def factor():
        f = torch.empty(n, 1, 1, 1, device=device).uniform_(1 - JITTER, 1 + JITTER)
        return torch.where(torch.rand(n, 1, 1, 1, device=device) < 0.8, f, torch.ones_like(f))

    weights = torch.tensor([0.299, 0.587, 0.114], device=device).view(1, 3, 1, 1)
    images = images * factor()
    gray = (images * weights).sum(1, keepdim=True)
    images = (images - gray.mean((2, 3), keepdim=True)) * factor() + gray.mean((2, 3), keepdim=True)
    gray = (images * weights).sum(1, keepdim=True)
    images = gray + (images - gray) * factor()
    return images.clamp(0, 255)
