"""The toolkit's one shipped model: a person U-Net at 256x256, fp16 safetensors (its card: weights/MODEL_CARD.md).

`--checkpoint default` in seg-export and seg-bench means this file; `--checkpoint none` means
untrained weights (latency only). The file's SHA-256 is recorded in `default.json` beside it and
verified on every load, so a damaged or swapped file is refused. Stored as safetensors: loading it
never runs code.

    python -m train.default_model --from runs/train/default-effb0/best.pt   # package a trained run

Here: the record and the safetensors format, which checkpoint.py needs to load the default. Packaging a
run needs checkpoint.py in turn, so it lives in `__main__.py` (what `python -m train.default_model` runs):
checkpoint -> default_model <- default_model.__main__ -> checkpoint, no circle.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_path
from ..errors import UserError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
REPO_ROOT = WEIGHTS_DIR.parents[1]
DEFAULT_RECORD = WEIGHTS_DIR / "default.json"


def _recorded_file() -> str:
    """The weights file the record names (the record is the one place that says which model is the default)."""
    try:
        return json.loads(DEFAULT_RECORD.read_text())["file"]
    except (OSError, ValueError, KeyError):
        return "missing.safetensors"  # resolve_checkpoint_arg then says the checkout is incomplete


DEFAULT_WEIGHTS = WEIGHTS_DIR / _recorded_file()


def default_encoder() -> str:
    """The shipped default's encoder (smp name), from its record: callers never name it themselves."""
    if not DEFAULT_RECORD.is_file():
        raise UserError(f"the default model's record is missing ({DEFAULT_RECORD}); this checkout is incomplete")
    return json.loads(DEFAULT_RECORD.read_text())["encoder"]
MAX_BYTES = 15 * 2**20  # the one weight file the repository holds stays small


def resolve_checkpoint_arg(value: str | Path | None) -> Path | None | str:
    """'default' -> the shipped weights; 'none' -> the string 'none' (untrained); else a path (or None)."""
    if value is None:
        return None
    if str(value) == "default":
        if not DEFAULT_WEIGHTS.is_file() or not DEFAULT_RECORD.is_file():
            raise UserError(f"the default model is missing ({DEFAULT_WEIGHTS}); this checkout is incomplete")
        return DEFAULT_WEIGHTS
    if str(value) == "none":
        return "none"
    return Path(value)


def expected_sha256(path: Path) -> str | None:
    """The recorded checksum when `path` is the shipped default, else None (nothing to check against)."""
    if Path(path).resolve() != DEFAULT_WEIGHTS or not DEFAULT_RECORD.is_file():
        return None
    return json.loads(DEFAULT_RECORD.read_text())["sha256"]


def save_safetensors(path: Path, state: dict, meta: dict, dtype=None) -> None:
    """Weights (cast to `dtype` if given, floats only) plus the checkpoint metadata as JSON, atomically."""
    from safetensors.torch import save_file

    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"seg_meta": json.dumps(meta)})


def load_safetensors(path: Path) -> tuple[dict, dict]:
    """(fp32 state dict, metadata dict); raises UserError for a file that is not ours or is damaged."""
    import torch
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("seg_meta", "null"))
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as err:
        raise UserError(f"weights {path} are corrupt or unreadable ({type(err).__name__})") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path} has no seg-train metadata (not made by this toolkit)")
    return {k: v.float() if v.is_floating_point() and v.dtype != torch.float32 else v for k, v in state.items()}, meta


def weights_name(encoder: str, imgsz) -> str:
    from ..zoo import short_name

    return f"person-{short_name(encoder)}-{imgsz[0]}{'' if imgsz[0] == imgsz[1] else f'x{imgsz[1]}'}.safetensors"
