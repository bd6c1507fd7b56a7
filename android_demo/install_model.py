"""Put an exported TFLite model and its contract into the Android demo's assets.

    .venv/bin/python android_demo/install_model.py            # the shipped default model, int8
    .venv/bin/python android_demo/install_model.py runs/export/efficientnet-b0/efficientnet-b0-256x256-int8.tflite

Checks the model against its contract's sha256 and size, that the contract is one the app can run
(TFLite, NHWC RGB input, float32/int8/uint8 I/O) and that it describes the model (LiteRT reads the
model's tensors), then writes
app/src/main/assets/model.tflite and model.json, each atomically. Rebuild the app afterwards.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path

from export.contract import ModelContract
from export.integrity import artifact_digest
from tflite_io import load_checked, read_app_contract  # beside this script, on sys.path when run as one
from train.atomic import atomic_path, write_text_atomic
from train.errors import UserError, cli_entry

ASSETS = Path(__file__).resolve().parent / "app" / "src" / "main" / "assets"
MODEL_ASSET, CONTRACT_ASSET = "model.tflite", "model.json"  # the names SegmentationEngine.java opens


def install_model(artifact: Path, assets: Path = ASSETS) -> ModelContract:
    """Copy `artifact` and its contract into `assets`; returns the contract as installed."""
    artifact = Path(artifact)
    contract = read_app_contract(artifact)
    load_checked(artifact, contract)
    sha256, size = artifact_digest(artifact)  # the app checks the asset against these (recorded for old contracts too)
    installed = dataclasses.replace(
        contract, artifact=MODEL_ASSET, artifact_sha256=sha256, artifact_bytes=size,
        notes=[*contract.notes, f"installed from {artifact.name} by android_demo/install_model.py"])
    model_path, contract_file = assets / MODEL_ASSET, assets / CONTRACT_ASSET
    with atomic_path(model_path) as tmp:
        shutil.copyfile(artifact, tmp)
    write_text_atomic(contract_file, installed.to_json())  # second, so a finished contract means a finished model
    return installed


def export_default(out_dir: Path = Path("runs/export/default"), min_agreement: float | None = None) -> Path:
    """The shipped default model as int8 TFLite (float I/O), exported afresh so it always matches the weights.

    seg-export's int8 floor applies (its masks must agree with fp32's): a refusal is one line."""
    from export.api import DEFAULT_MIN_AGREEMENT, export_model
    from export.errors import ConversionError
    from train.default_model import default_encoder

    floor = DEFAULT_MIN_AGREEMENT if min_agreement is None else min_agreement
    try:
        return export_model("default", default_encoder(), "tflite", "int8", out_dir=out_dir, force=True,
                            min_agreement=floor)
    except ConversionError as err:
        raise UserError(f"the default model's int8 export failed: {err}") from None


@cli_entry("install_model")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?", default=None,
                        help="an exported .tflite (its contract <model>.tflite.json beside it); "
                             "default: the shipped default model, exported to int8 TFLite first")
    parser.add_argument("--assets", type=Path, default=ASSETS, help="the app's assets folder")
    parser.add_argument("--min-agreement", type=float, default=None,
                        help="when exporting the default: seg-export's int8 floor (default 0.98; 0: none)")
    args = parser.parse_args(argv)
    contract = install_model(args.model or export_default(min_agreement=args.min_agreement), args.assets)
    h, w = contract.input_hw
    print(f"install_model: {contract.source.encoder} {contract.precision} {h}x{w} "
          f"({contract.input.dtype} in, {contract.output.dtype} out) -> {args.assets}/{MODEL_ASSET} + {CONTRACT_ASSET}; "
          "rebuild the app (Android Studio: Run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
