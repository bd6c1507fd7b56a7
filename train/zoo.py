"""Model zoo: the study's three U-Nets by short name, any other smp encoder passed through."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

# Short names used on the command line -> segmentation-models-pytorch encoder names.
ENCODER_ALIASES: dict[str, str] = {
    "resnext50": "resnext50_32x4d",
    "resnet152": "resnet152",
    "efficientnet-b0": "efficientnet-b0",
}
STUDY_ENCODERS = tuple(ENCODER_ALIASES)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def smp_encoder_name(name: str) -> str:
    """Resolve a short name (or pass an smp encoder name through), refusing unknown ones."""
    import segmentation_models_pytorch as smp

    resolved = ENCODER_ALIASES.get(name, name)
    if resolved not in smp.encoders.get_encoder_names():
        raise UserError(
            f"unknown encoder {name!r}: use one of {', '.join(STUDY_ENCODERS)} or an smp encoder name"
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


def normalization_for(encoder: str) -> Normalization:
    """Input statistics of the encoder's pretraining, known without the network.

    smp 0.6 reads them from the model hub; every native smp encoder was pretrained on ImageNet,
    so use its statistics, and timm's offline config for `tu-` encoders.
    """
    if encoder.startswith("tu-"):
        import timm

        cfg = timm.models.get_pretrained_cfg(encoder[3:])
        if cfg is not None:
            return Normalization(tuple(cfg.mean), tuple(cfg.std))
    return Normalization()


DEFAULT_ARCH = {"decoder_channels": [256, 128, 64, 32, 16], "decoder_interpolation": "nearest"}
INTERPOLATIONS = ("nearest", "bilinear")


def unet_arch(arch: dict | None = None) -> dict:
    """The decoder settings a checkpoint carries so export rebuilds exactly this U-Net (smp's defaults if absent)."""
    merged = {**DEFAULT_ARCH, **(arch or {})}
    channels = [int(c) for c in merged["decoder_channels"]]
    if len(channels) != 5 or min(channels) < 1:
        raise UserError(f"decoder channels {channels}: give 5 positive numbers, e.g. 256 128 64 32 16")
    if merged["decoder_interpolation"] not in INTERPOLATIONS:
        raise UserError(f"decoder interpolation {merged['decoder_interpolation']!r}: use {' or '.join(INTERPOLATIONS)}")
    return {"decoder_channels": channels, "decoder_interpolation": merged["decoder_interpolation"]}


def build_unet(encoder: str, encoder_weights: str | None = None, arch: dict | None = None):
    """U-Net with one output channel: the person logit.

    `encoder_weights` is None (random), 'imagenet' (smp's pretrained weights, fetched from
    the hub unless cached) or a path to a local state dict for the encoder. `arch` sets the
    decoder (see `unet_arch`).
    """
    import segmentation_models_pytorch as smp

    arch = unet_arch(arch)
    arch["decoder_channels"] = tuple(arch["decoder_channels"])
    if encoder_weights in (None, "", "none"):
        return smp.Unet(encoder, encoder_weights=None, in_channels=3, classes=1, **arch)
    if encoder_weights == "imagenet":
        return _build_with_hub_weights(encoder, arch)
    model = smp.Unet(encoder, encoder_weights=None, in_channels=3, classes=1, **arch)
    load_encoder_file(model, Path(encoder_weights))
    return model


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
