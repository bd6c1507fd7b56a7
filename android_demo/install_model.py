"""Put an exported TFLite model and its contract into the Android demo's assets.

    .venv/bin/python android_demo/install_model.py runs/export/efficientnet-b0/efficientnet-b0-256x256-int8.tflite

Checks that the contract is one the app can run (TFLite, NHWC RGB input, float32/int8/uint8 I/O)
and that it describes the model (LiteRT reads the model's tensors), then writes
app/src/main/assets/model.tflite and model.json, each atomically. Rebuild the app afterwards.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path

from export.contract import ModelContract
from tflite_io import load_checked, read_app_contract  # beside this script, on sys.path when run as one
from train.atomic import atomic_path, write_text_atomic
from train.errors import cli_entry

ASSETS = Path(__file__).resolve().parent / "app" / "src" / "main" / "assets"
MODEL_ASSET, CONTRACT_ASSET = "model.tflite", "model.json"  # the names SegmentationEngine.java opens


def install_model(artifact: Path, assets: Path = ASSETS) -> ModelContract:
    """Copy `artifact` and its contract into `assets`; returns the contract as installed."""
    artifact = Path(artifact)
    contract = read_app_contract(artifact)
    load_checked(artifact, contract)
    installed = dataclasses.replace(
        contract, artifact=MODEL_ASSET,
        notes=[*contract.notes, f"installed from {artifact.name} by android_demo/install_model.py"])
    model_path, contract_file = assets / MODEL_ASSET, assets / CONTRACT_ASSET
    with atomic_path(model_path) as tmp:
        shutil.copyfile(artifact, tmp)
    write_text_atomic(contract_file, installed.to_json())  # second, so a finished contract means a finished model
    return installed


@cli_entry("install_model")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="an exported .tflite (its contract <model>.tflite.json beside it)")
    parser.add_argument("--assets", type=Path, default=ASSETS, help="the app's assets folder")
    args = parser.parse_args(argv)
    contract = install_model(args.model, args.assets)
    h, w = contract.input_hw
    print(f"install_model: {contract.source.encoder} {contract.precision} {h}x{w} "
          f"({contract.input.dtype} in, {contract.output.dtype} out) -> {args.assets}/{MODEL_ASSET} + {CONTRACT_ASSET}; "
          "rebuild the app (Android Studio: Run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
