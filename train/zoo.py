"""Model zoo: the study's three U-Nets by short name, any other smp encoder passed through."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

# Short names used on the command line -> segmentation-models-pytorch encoder names.
STUDY: dict[str, str] = {
    "resnext50": "resnext50_32x4d",
    "resnet152": "resnet152",
    "efficientnet-b0": "efficientnet-b0",
}
# The mobile tier: encoders a phone runs at MediaPipe's selfie segmenter's cost (timm's, through smp's `tu-`),
# with MOBILE_ARCH's decoder unless the command line sets one. GMAC at 256x256 (U-Net with MOBILE_ARCH):
# 0.17, 0.36 and 0.42; see README's mobile-tier table for their latency beside MediaPipe's.
MOBILE: dict[str, str] = {
    "mobilenetv3-small": "tu-mobilenetv3_small_100",
    "lcnet-100": "tu-lcnet_100",
    "mobilenetv3-large": "tu-mobilenetv3_large_100",
}
ENCODER_ALIASES: dict[str, str] = {**STUDY, **MOBILE}
STUDY_ENCODERS = tuple(STUDY)
MOBILE_ENCODERS = tuple(MOBILE)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def smp_encoder_name(name: str) -> str:
    """Resolve a short name (or pass an smp encoder name through), refusing unknown ones."""
    import segmentation_models_pytorch as smp

    resolved = ENCODER_ALIASES.get(name, name)
    if resolved.startswith("tu-"):
        import timm

        known = timm.is_model(resolved[3:])
    else:
        known = resolved in smp.encoders.get_encoder_names()
    if not known:
        raise UserError(
            f"unknown encoder {name!r}: use one of {', '.join(ENCODER_ALIASES)}, an smp encoder name or tu-<timm model>"
        )
    return resolved


def short_name(encoder: str) -> str:
    """The short name for an smp encoder name, for file names and tables."""
    for short, full in ENCODER_ALIASES.items():
        if full == encoder:
            return short
    return encoder


@dataclass(frozen=True)
class Normalization:
    """Pixels are divided by `pixel_scale`, then `(x - mean) / std` per RGB channel."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    pixel_scale: float = 255.0


MOBILE_NORMALIZATION = Normalization((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def normalization_for(encoder: str) -> Normalization:
    """Input statistics of the encoder's pretraining, known without the network.

    smp 0.6 reads them from the model hub; every native smp encoder was pretrained on ImageNet,
    so use its statistics, and timm's offline config for `tu-` encoders. The mobile tier, trained from
    scratch here, maps 0-255 to [-1, 1] alike on every channel: MediaPipe Tasks' ImageSegmenter
    normalizes all channels by one mean and std, so only such a model loads there unchanged.
    """
    if encoder in MOBILE.values():
        return MOBILE_NORMALIZATION
    if encoder.startswith("tu-"):
        import timm

        cfg = timm.models.get_pretrained_cfg(encoder[3:])
        if cfg is not None:
            return Normalization(tuple(cfg.mean), tuple(cfg.std))
    return Normalization()


DEFAULT_ARCH = {"decoder_channels": [256, 128, 64, 32, 16], "decoder_interpolation": "nearest", "head_stride": 1}
MOBILE_ARCH = {"decoder_channels": [16, 16, 16], "decoder_interpolation": "bilinear", "head_stride": 4}
INTERPOLATIONS = ("nearest", "bilinear")
HEAD_STRIDES = (1, 2, 4)


def default_arch(encoder: str) -> dict:
    """The decoder an encoder gets when none is asked for: the mobile tier's slim one, else smp's."""
    return dict(MOBILE_ARCH if encoder in MOBILE.values() else DEFAULT_ARCH)


def unet_arch(arch: dict | None = None) -> dict:
    """The decoder settings a checkpoint carries so export rebuilds exactly this U-Net (smp's defaults if absent).

    `head_stride` 2 or 4 ends the decoder at 1/2 or 1/4 of the input and upsamples the logits bilinearly:
    the full-resolution decoder blocks cost a mobile encoder more than the encoder itself, so the mobile
    tier drops them (one decoder width per kept block: 5, 4 or 3 widths).
    """
    merged = {**DEFAULT_ARCH, **(arch or {})}
    stride = int(merged["head_stride"])
    if stride not in HEAD_STRIDES:
        raise UserError(f"head stride {stride}: use {', '.join(map(str, HEAD_STRIDES))}")
    blocks = 5 - HEAD_STRIDES.index(stride)
    channels = [int(c) for c in merged["decoder_channels"]]
    if len(channels) != blocks or min(channels) < 1:
        raise UserError(f"decoder channels {channels}: give {blocks} positive numbers for head stride {stride} "
                        f"(e.g. {' '.join(map(str, DEFAULT_ARCH['decoder_channels'][:blocks]))})")
    if merged["decoder_interpolation"] not in INTERPOLATIONS:
        raise UserError(f"decoder interpolation {merged['decoder_interpolation']!r}: use {' or '.join(INTERPOLATIONS)}")
    return {"decoder_channels": channels, "decoder_interpolation": merged["decoder_interpolation"], "head_stride": stride}


def build_unet(encoder: str, encoder_weights: str | None = None, arch: dict | None = None):
    """U-Net with one output channel: the person logit.

    `encoder_weights` is None (random), 'imagenet' (smp's pretrained weights, fetched from
    the hub unless cached) or a path to a local state dict for the encoder. `arch` sets the
    decoder (see `unet_arch`).
    """
    import segmentation_models_pytorch as smp

    arch = unet_arch(arch)
    stride = arch.pop("head_stride")
    dropped = HEAD_STRIDES.index(stride)
    kept = arch["decoder_channels"]
    arch["decoder_channels"] = tuple(kept + [kept[-1]] * dropped)  # the dropped blocks' widths are never used
    if encoder_weights in (None, "", "none"):
        model = smp.Unet(encoder, encoder_weights=None, in_channels=3, classes=1, **arch)
    elif encoder_weights == "imagenet":
        model = _build_with_hub_weights(encoder, arch)
    else:
        model = smp.Unet(encoder, encoder_weights=None, in_channels=3, classes=1, **arch)
        load_encoder_file(model, Path(encoder_weights))
    if dropped:
        _end_decoder_early(model, dropped, kept[-1], stride)
    return model


def _end_decoder_early(model, dropped: int, channels: int, stride: int) -> None:
    from torch import nn

    model.decoder.blocks = model.decoder.blocks[:len(model.decoder.blocks) - dropped]
    model.segmentation_head = nn.Sequential(
        nn.Conv2d(channels, 1, kernel_size=3, padding=1),
        nn.Upsample(scale_factor=stride, mode="bilinear", align_corners=False),
    )


def _build_with_hub_weights(encoder: str, arch: dict):
    import huggingface_hub.constants as hub
    import segmentation_models_pytorch as smp

    # The hub client retries for ~25 s before failing offline: check reachability first and,
    # when offline, let it look in its cache only.
    online = not hub.HF_HUB_OFFLINE and _hub_reachable()
    if not online:
        hub.HF_HUB_OFFLINE = True
    try:
        return smp.Unet(encoder, encoder_weights="imagenet", in_channels=3, classes=1, **arch)
    except Exception as err:  # hub errors come in many types; report them in one line
        if not online:
            raise UserError(
                f"ImageNet weights for {encoder} are not cached and the model hub cannot be reached "
                "(offline); pass --encoder-weights PATH to a local encoder state dict, or 'none'"
            ) from None
        raise UserError(f"could not fetch ImageNet weights for {encoder}: {type(err).__name__}: {err}") from None


def _hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_encoder_file(model, path: Path) -> None:
    """Load a local encoder state dict (a classifier's head keys are dropped)."""
    import torch

    if not path.is_file():
        raise UserError(f"encoder weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"cannot read encoder weights {path}: {err}") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    state = {k.removeprefix("encoder."): v for k, v in state.items()}
    head = {k for k in state if k.split(".")[0] in ("fc", "classifier", "_fc")}
    for key in head:
        state.pop(key)
    # smp encoders override load_state_dict and return None; call the base method for the key report.
    missing, unexpected = torch.nn.Module.load_state_dict(model.encoder, state, strict=False)
    if missing or unexpected:
        raise UserError(
            f"encoder weights {path} do not fit {model.encoder.__class__.__name__}: "
            f"{len(missing)} missing keys (e.g. {missing[:2]}), {len(unexpected)} unexpected"
        )


def count_parameters(model) -> dict[str, int]:
    """Parameter counts of the encoder and of the whole U-Net (study Table 3)."""
    encoder = sum(p.numel() for p in model.encoder.parameters())
    total = sum(p.numel() for p in model.parameters())
    return {"encoder": encoder, "total": total}
