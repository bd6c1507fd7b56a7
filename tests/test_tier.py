"""bench.tier's table: each file's row beside the peer's, as a ratio read within one run."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.tier import render, table
from train.errors import UserError

PEER = "MediaPipe selfie (256x256 float)"


def _files():
    return {"lcnet-100": (Path("a/lcnet-100-256x256-int8.tflite"), {"encoder": "lcnet-100", "weights": "untrained",
                                                                    "gmac": 0.31, "params_m": 1.17}),
            "default": (Path("b/mobilenetv3-small-256x256-int8.tflite"),
                        {"encoder": "mobilenetv3-small (shipped default)", "weights": "trained", "gmac": 0.13,
                         "params_m": 1.03})}


def test_ratios_are_against_the_peer_row_of_the_same_run():
    rows = [{"model": PEER, "status": "ok", "p50_ms": 5.0},
            {"model": "lcnet-100-256x256-int8.tflite", "status": "ok", "p50_ms": 20.0},
            {"model": "mobilenetv3-small-256x256-int8.tflite", "status": "failed", "p50_ms": None}]
    entries = table(_files(), rows, PEER)
    assert [(e["encoder"], e["vs_peer"]) for e in entries] == [
        (PEER, 1.0), ("lcnet-100", 4.0), ("mobilenetv3-small (shipped default)", None)]
    text = render(entries, "some CPU", 1)
    assert "| lcnet-100 | untrained | 0.31 | 1.17 | 20.00 | 4.00 |" in text and "| - | - |" in text


def test_without_the_peer_row_there_is_no_ratio_to_give():
    with pytest.raises(UserError, match="the peer's row did not run"):
        table(_files(), [{"model": PEER, "status": "failed", "p50_ms": None}], PEER)
