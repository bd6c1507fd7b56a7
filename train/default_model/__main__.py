"""`python -m train.default_model --from RUN/best.pt`: package a trained run as the shipped default model.

Writes the run's weights as fp16 safetensors beside the record (train/weights/) and rewrites the record:
checksum, metadata and every training stage behind the run (`lineage`, following `--init-from`). It reads
checkpoints, and checkpoint.py reads the record to load the default, so this lives here, apart from the
record in `__init__.py`, which imports no checkpoint code.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import default_model as shipped  # its names read at call time, so a patched path is seen here too
from ..atomic import write_text_atomic
from ..checkpoint import file_sha256, load_checkpoint
from ..errors import UserError, cli_entry


def package(checkpoint: Path, dest: Path | None = None, record: Path = shipped.DEFAULT_RECORD) -> dict:
    """Write `checkpoint`'s model as fp16 safetensors (default: weights/person-ENCODER-SIZE.safetensors) and its
    record (checksum, metadata); a default of another name that the record named before is removed."""
    import dataclasses

    import torch

    ckpt = load_checkpoint(checkpoint)
    dest = dest or record.parent / shipped.weights_name(ckpt.meta.encoder, ckpt.meta.imgsz)
    previous = record.parent / json.loads(record.read_text())["file"] if record.is_file() else None
    meta = dataclasses.asdict(ckpt.meta)
    meta["source_checkpoint"] = Path(checkpoint).name
    shipped.save_safetensors(dest, ckpt.state["model"], meta, dtype=torch.float16)
    size = dest.stat().st_size
    if size > shipped.MAX_BYTES:
        dest.unlink()
        raise UserError(f"{dest.name} would be {size / 2**20:.1f} MiB, over the {shipped.MAX_BYTES / 2**20:.0f} MiB the repository allows")
    stages = lineage(ckpt)
    entry = {"file": dest.name, "sha256": file_sha256(dest), "bytes": size, "encoder": ckpt.meta.encoder,
             "imgsz": list(ckpt.meta.imgsz), "arch": ckpt.meta.arch, "epoch": sum(st["epochs"] for st in stages),
             "train_hours": round(sum(st["hours"] for st in stages), 2), "val_metrics": ckpt.meta.metrics,
             "stages": stages}
    write_text_atomic(record, json.dumps(entry, indent=2) + "\n")
    if previous is not None and previous.resolve() != dest.resolve():
        previous.unlink(missing_ok=True)  # one default: the retired one stays reproducible through its recipe
    return entry


def lineage(ckpt) -> list[dict]:
    """Every training stage behind `ckpt`, oldest first, following `--init-from` while those files are here."""
    parent = ckpt.meta.recipe.get("init_from")
    earlier = lineage(load_checkpoint(parent)) if parent and Path(parent).is_file() else []
    history = ckpt.history[:ckpt.meta.epoch]
    return earlier + [{"checkpoint": Path(ckpt.path).name, "run": Path(ckpt.path).parent.name, "epochs": ckpt.meta.epoch,
                       "hours": sum(r.get("seconds", 0) for r in history) / 3600, "recipe": ckpt.meta.recipe,
                       "precision": ckpt.meta.precision, "history": history}]


@cli_entry("train.default_model")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.default_model", description=shipped.__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="source", type=Path, required=True, help="a seg-train checkpoint (best.pt)")
    p.add_argument("--force", action="store_true", help="replace the shipped default")
    args = p.parse_args(argv)
    if shipped.DEFAULT_WEIGHTS.exists() and not args.force:
        raise UserError(f"{shipped.DEFAULT_WEIGHTS} exists (pass --force to replace the shipped default)")
    entry = package(args.source)
    print(f"default model: {entry['file']} ({entry['bytes'] / 2**20:.1f} MiB, sha256 {entry['sha256'][:12]}...) "
          f"from {args.source}, epoch {entry['epoch']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
