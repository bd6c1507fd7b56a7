"""Shared fixtures: real data from ../shared/data, one small trained model, its exports.

Everything is small (EfficientNet-B0 at 128x128, a few images) so the suite stays fast on 2 cores.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEG_DATA", ROOT.parent / "shared" / "data"))
SMALL = (128, 128)


def _need(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"dataset not found at {path} (set SEG_DATA)")
    return path


@pytest.fixture(scope="session")
def ccp_dir() -> Path:
    return _need(DATA / "ccp")


@pytest.fixture(scope="session")
def camvid_dir() -> Path:
    return _need(DATA / "camvid")


@pytest.fixture(scope="session")
def trained_checkpoint(ccp_dir, tmp_path_factory) -> Path:
    """EfficientNet-B0 U-Net trained 3 short epochs on 24 CCP images at 128x128 (best.pt).

    fp32, not bf16: the int8 fidelity tests measure this barely trained model, and bf16's run-to-run
    differences moved its activation ranges enough to make them flaky.
    """
    from train.cli import main

    out = tmp_path_factory.mktemp("train") / "effb0-ccp"
    rc = main(["--encoder", "efficientnet-b0", "--data", str(ccp_dir), "--imgsz", *map(str, SMALL),
               "--epochs", "3", "--batch", "4", "--lr", "1e-3", "--limit-train", "24", "--limit-val", "8",
               "--workers", "0", "--no-progress", "--out", str(out), "--amp", "off"])  # fp32: reproducible run to run
    assert rc == 0
    return out / "best.pt"


@pytest.fixture(scope="session")
def exported(trained_checkpoint, ccp_dir, tmp_path_factory):
    """exported(fmt, precision) -> artifact path, converted once per session from trained_checkpoint.

    Calibration for int8 uses a few real CCP training images. The model is barely trained, so its int8 masks
    agree with fp32's far below the 0.98 floor: these exports pass `min_agreement=0` (they test conversion,
    contracts and runtimes; the floor has its own tests in test_int8_floor.py) and TFLite int8 keeps no op float.
    """
    from export.api import export_model

    out_dir = tmp_path_factory.mktemp("export")
    cache: dict[tuple[str, str], Path] = {}

    def get(fmt: str, precision: str = "fp32") -> Path:
        key = (fmt, precision)
        if key not in cache:
            # every op int8 (float_ops=0): the fewest-float-ops search has its own test in test_int8_ranges.py
            float_ops = 0 if key == ("tflite", "int8") else None
            cache[key] = export_model(trained_checkpoint, "efficientnet-b0", fmt, precision, out_dir=out_dir,
                                      calib_dir=ccp_dir / "train" / "images", calib_count=16, min_agreement=0,
                                      float_ops=float_ops)
        return cache[key]

    return get


def android_script(module: str, name: str):
    """A function from one of android_demo's scripts (they are scripts, not an installed package)."""
    import importlib

    folder = str(ROOT / "android_demo")
    sys.path.insert(0, folder)
    try:
        return getattr(importlib.import_module(module), name)
    finally:
        sys.path.remove(folder)


@pytest.fixture
def ccp_tiny(ccp_dir, tmp_path) -> Path:
    """A 4-image copy of CCP's train and val splits, for tests that damage data or fill --out."""
    base = tmp_path / "ccp"
    for split in ("train", "val"):
        for kind in ("images", "masks"):
            (base / split / kind).mkdir(parents=True)
            for f in sorted((ccp_dir / split / kind).iterdir())[:4]:
                shutil.copy(f, base / split / kind / f.name)
    return base


@pytest.fixture
def copy_tree(tmp_path):
    """Copy a (small) folder into tmp_path, for tests that damage data."""
    def copy(src: Path, name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst)
        return dst
    return copy


def install_fake_adb(tmp_path: Path, monkeypatch) -> None:
    """tests/fixtures/benchmark_model/fake_adb.py as `adb`, first on PATH, its device state under tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(f"#!/bin/sh\nexec {sys.executable} {ROOT / 'tests' / 'fixtures' / 'benchmark_model' / 'fake_adb.py'} \"$@\"\n")
    adb.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_STATE", str(tmp_path / "adb-state"))
