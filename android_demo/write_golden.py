"""Golden fixtures for the Android core's JVM tests (core/src/test/.../GoldenFixturesTest.java).

For every exported TFLite model and image: the image (PNG), the exact input tensor that
export/preprocess.py makes of it, the model's raw output (LiteRT), the logits and the mask at
the image's size. Each image is also used as a small odd-sized crop, so the resize is checked
when upsampling as well as downsampling. Three synthetic cases derived from the first contract
cover what real exports may not: int8 input/output tensors, smooth logits whose mask has long
boundaries, and a uint8 probability output.

    .venv/bin/python android_demo/write_golden.py runs/export/efficientnet-b0/*.tflite \
        --image ../shared/data/ccp/test/images/0901.jpg --out android_demo/core/build/golden

Each case is a folder: case.json (which files it has), contract.json and little-endian raw arrays.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from export.contract import ModelContract, Quantization, contract_path
from export.preprocess import logits_to_mask, output_to_logits, resize_bilinear, to_input_tensor
from tflite_io import load_checked, read_app_contract  # beside this script, on sys.path when run as one
from train.atomic import atomic_path
from train.data import read_rgb
from train.errors import UserError, cli_entry

CROP = (75, 101)  # (H, W) of the odd-sized crop: smaller than any export, so the input resize upsamples
MASK_SIZE = (301, 93)  # synthetic masks: taller (upsampled) and narrower (downsampled) than the output
SEED = 0


def write_golden(artifacts: list[Path], images: list[Path], out_dir: Path) -> list[str]:
    """Write every case into `out_dir` (created atomically, replacing it); returns the case names."""
    if not artifacts or not images:
        raise UserError("write_golden needs at least one model and one image")
    pictures = {}
    for image in images:
        rgb = read_rgb(Path(image))
        pictures[f"{Path(image).stem}-full"] = rgb
        pictures[f"{Path(image).stem}-crop"] = _odd_crop(rgb)
    with atomic_path(out_dir, is_dir=True) as tmp:
        names = []
        first: tuple[ModelContract, np.ndarray] | None = None
        for artifact in artifacts:
            artifact = Path(artifact)
            contract = read_app_contract(artifact)
            runner = load_checked(artifact, contract)
            original_json = contract_path(artifact).read_text()
            for label, rgb in pictures.items():
                name = f"{artifact.stem}-{label}"
                tensor = to_input_tensor(rgb, contract)
                raw = runner.run(tensor)
                _write_case(tmp / name, original_json, contract, image=rgb, tensor=tensor, raw=raw)
                names.append(name)
                if first is None and contract.input.dtype == "float32" and contract.output.dtype == "float32":
                    first = (contract, raw)
        if first is None:
            raise UserError("the synthetic cases need one model with float input and output")
        names += _synthetic_cases(tmp, *first, crop=next(v for k, v in pictures.items() if k.endswith("-crop")))
    return names


def _synthetic_cases(out: Path, contract: ModelContract, float_output: np.ndarray, crop: np.ndarray) -> list[str]:
    # int8 I/O with typical calibration parameters; the output is the real model's, quantized.
    int8_io = dataclasses.replace(
        contract, precision="int8",
        input=dataclasses.replace(contract.input, dtype="int8", quantization=Quantization(0.018658, -14)),
        output=dataclasses.replace(contract.output, dtype="int8", quantization=Quantization(0.0625, 3)))
    quant = int8_io.output.quantization
    raw = np.clip(np.round(float_output / np.float32(quant.scale)) + quant.zero_point, -128, 127).astype(np.int8)
    _write_case(out / "synthetic-int8-io", int8_io.to_json(), int8_io, image=crop,
                tensor=to_input_tensor(crop, int8_io), raw=raw)

    # Smooth logits around the threshold: a mask with long boundaries, where any resize error shows.
    h, w = contract.output.height_width
    coarse = np.random.default_rng(SEED).normal(0, 4, (h // 16 + 2, w // 16 + 2)).astype(np.float32)
    field = resize_bilinear(coarse, h, w)
    _write_case(out / "synthetic-logits", contract.to_json(), contract, logits=field)

    # A uint8 probability output (a softmax/sigmoid head quantized to 1/255 steps), with 0 and 1 in it.
    prob = dataclasses.replace(
        contract, output=dataclasses.replace(contract.output, dtype="uint8", quantization=Quantization(1 / 255, 0)),
        postprocess=dataclasses.replace(contract.postprocess, kind="probability", threshold=0.4))
    probabilities = np.round(255 / (1 + np.exp(-field))).astype(np.uint8)
    probabilities[0, :2] = (0, 255)  # the clipping at both ends
    _write_case(out / "synthetic-uint8-probability", prob.to_json(), prob,
                raw=probabilities.reshape(contract.output.shape))
    return ["synthetic-int8-io", "synthetic-logits", "synthetic-uint8-probability"]


def _write_case(case_dir: Path, contract_json: str, contract: ModelContract, *, image: np.ndarray | None = None,
                tensor: np.ndarray | None = None, raw: np.ndarray | None = None,
                logits: np.ndarray | None = None) -> None:
    """One case: the mask is at the image's size, or MASK_SIZE when there is no image."""
    from PIL import Image

    case_dir.mkdir(parents=True)
    (case_dir / "contract.json").write_text(contract_json)
    meta = {"image": None, "input": None, "output": None, "logits": "logits.bin", "mask": "mask.bin"}
    if image is not None:
        Image.fromarray(image).save(case_dir / "image.png")
        meta["image"] = "image.png"
        meta["input"] = _save(case_dir / "input.bin", tensor)
    if raw is not None:
        meta["output"] = _save(case_dir / "output.bin", raw)
        logits = output_to_logits(raw, contract)
    size = image.shape[:2] if image is not None else MASK_SIZE
    mask = logits_to_mask(logits, contract.postprocess, size)
    _save(case_dir / "logits.bin", logits.astype(np.float32))
    _save(case_dir / "mask.bin", mask.astype(np.uint8))
    meta["mask_size"] = [int(size[0]), int(size[1])]
    meta["person_fraction"] = round(float(mask.mean()), 4)
    (case_dir / "case.json").write_text(json.dumps(meta, indent=2) + "\n")


def _save(path: Path, array: np.ndarray) -> str:
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    path.write_bytes(little.tobytes())
    return path.name


def _odd_crop(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    ch, cw = min(CROP[0], h), min(CROP[1], w)
    top, left = (h - ch) // 3, (w - cw) // 2
    return np.ascontiguousarray(rgb[top:top + ch, left:left + cw])


@cli_entry("write_golden")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="write_golden", description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="exported .tflite files (contract beside each)")
    parser.add_argument("--image", type=Path, action="append", required=True, help="an RGB image (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="fixture folder (replaced)")
    args = parser.parse_args(argv)
    names = write_golden(args.models, args.image, args.out)
    print(f"write_golden: {len(names)} cases in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
