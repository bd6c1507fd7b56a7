"""Checkpoints: weights plus everything export needs, written atomically, read defensively."""
from __future__ import annotations

import hashlib
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .errors import UserError
from .zoo import Normalization, build_unet, short_name

CHECKPOINT_FORMAT = "seg-train-checkpoint/1"


@dataclass
class CheckpointMeta:
    encoder: str  # smp encoder name
    imgsz: tuple[int, int]  # (H, W) the model was trained at
    normalization: Normalization
    person_class: int | None  # label id of "person" in the source dataset (None for 0/1 masks)
    dataset: str  # "camvid" or "folder"
    data_dir: str
    epoch: int  # epochs completed
    metrics: dict[str, float] = field(default_factory=dict)  # validation metrics of this epoch
    best_metric: float = float("-inf")  # best val IoU so far in the run
    encoder_weights: str | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)  # decoder settings; empty: smp's defaults
    precision: dict[str, str] = field(default_factory=dict)  # amp, memory format and device it trained with
    data_sources: list[dict[str, Any]] = field(default_factory=list)  # every training source with its weight

    @property
    def encoder_short(self) -> str:
        return short_name(self.encoder)


def package_versions() -> dict[str, str]:
    import segmentation_models_pytorch as smp
    import timm
    import torch

    return {"python": platform.python_version(), "torch": str(torch.__version__), "smp": str(smp.__version__), "timm": str(timm.__version__)}


def save_checkpoint(path: str | Path, model, meta: CheckpointMeta, *, optimizer=None, scheduler=None,
                    scaler=None, history: list[dict] | None = None) -> Path:
    """Write atomically: a crash mid-write never leaves a truncated checkpoint under `path`."""
    import torch

    model = getattr(model, "module", model)  # unwrap DDP
    model = getattr(model, "_orig_mod", model)  # unwrap torch.compile
    payload = {
        "format": CHECKPOINT_FORMAT,
        "meta": {**asdict(meta), "normalization": asdict(meta.normalization)},
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "history": history or [],
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


@dataclass
class Checkpoint:
    path: Path
    meta: CheckpointMeta
    state: dict  # the whole payload (model, optimizer, scheduler, history)

    def build_model(self):
        """The U-Net with these weights, in eval mode on CPU."""
        model = build_unet(self.meta.encoder, arch=self.meta.arch)
        model.load_state_dict(self.state["model"])
        return model.eval()

    @property
    def history(self) -> list[dict]:
        return list(self.state.get("history") or [])

    def sha256(self) -> str:
        return file_sha256(self.path)


def load_checkpoint(path: str | Path, expect_encoder: str | None = None, imgsz: tuple[int, int] | None = None) -> Checkpoint:
    """Read a checkpoint; refuse corrupt files and ones whose encoder is not `expect_encoder`.

    A checkpoint is data, never code: `weights_only=True` unpickles tensors and plain types only, so a
    file whose pickle would run something is refused before any of it runs.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        return _load_safetensors_checkpoint(path, expect_encoder, imgsz)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(f"checkpoint {path} holds Python objects beyond weights and plain data; "
                        "refused (loading it could run code)") from None
    except Exception as err:
        raise UserError(f"checkpoint {path} is corrupt or unreadable ({type(err).__name__})") from None
    if isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT:
        return Checkpoint(path, _meta_from_dict(state["meta"], path, expect_encoder, imgsz), state)
    weights = plain_state_dict(state)
    if weights is None:
        raise UserError(f"{path} is not a seg-train checkpoint nor a segmentation-models-pytorch state_dict")
    return _from_state_dict(path, weights, expect_encoder, imgsz)


def plain_state_dict(state) -> dict | None:
    """The U-Net weights of a plain smp `state_dict`, a `{"state_dict": ...}` file or a Lightning one."""
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        return None
    for prefix in ("model.", "net.", "module."):  # Lightning modules and DDP wrappers
        if all(str(k).startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    if not any(str(k).startswith("encoder.") for k in state) or not any(str(k).startswith("decoder.") for k in state):
        return None
    return state


def _from_state_dict(path: Path, weights: dict, encoder: str | None, imgsz) -> Checkpoint:
    """A bare state_dict carries no metadata: the encoder comes from --encoder, the size from --imgsz."""
    from .zoo import normalization_for

    if encoder is None:
        raise UserError(f"{path} is a plain state_dict: pass --encoder to say which encoder it holds")
    if imgsz is None:
        raise UserError(f"{path} is a plain state_dict and records no image size: pass --imgsz H W")
    blocks = sorted(k for k in weights if k.startswith("decoder.blocks.") and k.endswith(".conv1.0.weight"))
    arch = {"decoder_channels": [int(weights[k].shape[0]) for k in blocks]} if len(blocks) == 5 else {}
    meta = CheckpointMeta(encoder=encoder, imgsz=tuple(imgsz), normalization=normalization_for(encoder),
                          person_class=None, dataset="folder", data_dir="", epoch=0, arch=arch)
    ckpt = Checkpoint(path, meta, {"model": weights, "history": []})
    try:
        ckpt.build_model()
    except RuntimeError as err:
        raise UserError(f"{path} does not fit a U-Net with a {encoder} encoder: {str(err).splitlines()[0]}") from None
    return ckpt


def _meta_from_dict(raw: dict, path: Path, expect_encoder: str | None, imgsz=None) -> CheckpointMeta:
    raw = dict(raw)
    if "encoder" not in raw or "normalization" not in raw:
        raise UserError(f"{path} is not a seg-train checkpoint (no encoder or normalization in its metadata)")
    if "imgsz" not in raw:
        if imgsz is None:
            raise UserError(f"{path} does not record the image size it was trained at: pass --imgsz H W")
        raw["imgsz"] = imgsz
    raw["normalization"] = Normalization(**{k: tuple(v) if isinstance(v, list) else v
                                            for k, v in raw["normalization"].items()})
    raw["imgsz"] = tuple(raw["imgsz"])
    known = set(CheckpointMeta.__dataclass_fields__)
    meta = CheckpointMeta(**{k: v for k, v in raw.items() if k in known})
    if expect_encoder is not None and expect_encoder != meta.encoder:
        raise UserError(
            f"checkpoint {path} holds a {meta.encoder} U-Net, not {expect_encoder}"
        )
    return meta


def _load_safetensors_checkpoint(path: Path, expect_encoder: str | None, imgsz=None) -> Checkpoint:
    """The shipped default (or any weights packaged like it): checksum verified where one is recorded."""
    from .default_model import expected_sha256, load_safetensors

    expected = expected_sha256(path)
    if expected is not None and file_sha256(path) != expected:
        raise UserError(f"{path} does not match its recorded sha256 (damaged or replaced); restore it with git checkout")
    state, raw = load_safetensors(path)
    if expected is not None:  # the shipped default names its data relative to the repository, not to the cwd
        from .default_model import REPO_ROOT

        def anchored(folder: str) -> str:
            return folder if not folder or Path(folder).is_absolute() else str(REPO_ROOT / folder)

        raw["data_dir"] = anchored(raw.get("data_dir") or "")
        raw["data_sources"] = [{**s, "root": anchored(s["root"])} for s in raw.get("data_sources") or []]
    meta = _meta_from_dict(raw, path, expect_encoder, imgsz)
    return Checkpoint(path, meta, {"model": state, "history": raw.get("history", [])})


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_best_checkpoint(encoder: str, runs_dir: str | Path = "runs/train") -> Path | None:
    """The newest `best.pt` under `runs_dir` that holds this encoder (what seg-train leaves)."""
    candidates = sorted(Path(runs_dir).glob("**/best.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        try:
            if load_checkpoint(path).meta.encoder == encoder:
                return path
        except UserError:
            continue
    return None
