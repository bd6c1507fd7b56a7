"""Slim a seg-train checkpoint for transport: fp16 model weights, meta and history; no optimizer state.

A GPU run's best.pt carries Adam's moments (twice the weights again); what comes back from a lent
machine is capped in size, and export needs only the weights and the meta. The result loads with
`load_checkpoint` like any checkpoint (weights are cast back to fp32 when the model is built).

    python -m train.slim runs/train/RUN/best.pt best-fp16.pt
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .atomic import atomic_path
from .errors import cli_entry


def slim_checkpoint(source: Path, dest: Path) -> Path:
    import torch

    from .checkpoint import load_checkpoint

    state = load_checkpoint(source).state
    model = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    payload = {**state, "model": model, "optimizer": None, "scheduler": None, "scaler": None}
    with atomic_path(dest) as tmp:
        torch.save(payload, tmp)
    return dest


@cli_entry("train.slim")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.slim", description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path)
    p.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    out = slim_checkpoint(args.source, args.dest)
    print(f"train.slim: {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
