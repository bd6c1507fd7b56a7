"""The PyTorch model an artifact was exported from: the parity reference and what torch backends run."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from export.contract import ModelContract, Source, TensorSpec
from export.preprocess import to_input_tensor
from train.atomic import atomic_path
from train.errors import UserError


def torch_contract(contract: ModelContract) -> ModelContract:
    """The contract of the PyTorch model behind `contract`: same size and pre-processing, NCHW float32 logits."""
    h, w = contract.input_hw
    return replace(
        contract, format="torch", precision="fp32", artifact=Path(contract.source.checkpoint or "").name,
        input=TensorSpec("input", [1, 3, h, w], "NCHW"), output=TensorSpec("logits", [1, 1, h, w], "NCHW"),
        postprocess=replace(contract.postprocess, kind="logits"), notes=[],
    )


def source_key(source: Source) -> tuple:
    return (source.encoder, source.checkpoint, source.checkpoint_sha256, source.init_seed)


def build_reference_model(source: Source):
    """The U-Net in eval mode on CPU: the checkpoint's weights (sha256 checked) or the seeded untrained init."""
    import torch

    from train.checkpoint import file_sha256, load_checkpoint
    from train.zoo import build_unet, default_arch

    if source.checkpoint:
        path = Path(source.checkpoint)
        if not path.is_file():
            raise UserError(f"checkpoint {path} named by the contract is not here (pass --checkpoint to name it)")
        if source.checkpoint_sha256 and file_sha256(path) != source.checkpoint_sha256:
            raise UserError(f"checkpoint {path} changed since the export (sha256 differs)")
        return load_checkpoint(path, expect_encoder=source.encoder).build_model()
    if source.init_seed is not None:
        torch.manual_seed(source.init_seed)  # export built the untrained net right after the same seed
        return build_unet(source.encoder, arch=default_arch(source.encoder)).eval()
    raise UserError("the contract names no checkpoint and no init seed (pass --checkpoint to compare)")


class ReferenceLogits:
    """PyTorch logits per image, computed once and shared by every row of the same source and size.

    With `cache_dir`, the logits are also kept there as .npy files, so rows measured in separate worker
    processes (one per row) share them and the PyTorch model is built only by the first row that needs it.
    """

    def __init__(self, cache_dir: Path | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._key: tuple | None = None
        self._model = None
        self._logits: dict[tuple, np.ndarray] = {}

    def _model_for(self, source: Source):
        key = source_key(source)
        if key != self._key:  # rows come grouped by source: hold one model and its logits at a time
            self._key, self._model, self._logits = None, None, {}
            self._model = build_reference_model(source)
            self._key = key
        return self._model

    def get(self, contract: ModelContract, image_id: str, rgb: np.ndarray) -> np.ndarray:
        import torch

        key = (tuple(contract.input_hw), tuple(contract.preprocess.mean), tuple(contract.preprocess.std),
               contract.preprocess.pixel_scale, image_id)
        if source_key(contract.source) == self._key and key in self._logits:
            return self._logits[key]
        cached = self._cache_file(contract.source, key)
        if cached is not None and cached.is_file():
            return np.load(cached)
        model = self._model_for(contract.source)
        x = to_input_tensor(rgb, torch_contract(contract))
        with torch.inference_mode():
            logits = model(torch.from_numpy(x))[0, 0].numpy()
        self._logits[key] = logits
        if cached is not None:
            with atomic_path(cached) as tmp:
                np.save(tmp, logits)
        return logits

    def _cache_file(self, source: Source, key: tuple) -> Path | None:
        if self.cache_dir is None:
            return None
        name = hashlib.sha256(repr((source_key(source), key)).encode()).hexdigest()[:32]
        return self.cache_dir / f"{name}.npy"
