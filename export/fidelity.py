"""How faithful is an export? Person-mask agreement of two artifacts on real images, and their latency.

    .venv/bin/python -m export.fidelity REFERENCE CANDIDATE --images DIR [--count N]

Each artifact is fed through its own contract (export.preprocess), so layouts and quantization
are never guessed. Used for the int8 study (export/INT8.md) and the export tests.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from train.atomic import atomic_path
from train.data import IMAGE_SUFFIXES, read_rgb
from train.errors import UserError, cli_entry
from train.metrics import MaskIoU

from .calibration import spread
from .contract import read_contract
from .integrity import verify_artifact
from .formats.tflite.runner import LiteRTRunner
from .preprocess import logits_to_mask, output_to_logits, to_input_tensor

Runner = Callable[[np.ndarray], np.ndarray]  # HxWx3 uint8 RGB -> HxW float32 logits at the model's size


def load_runner(artifact: str | Path, threads: int = 2) -> Runner:
    """A callable running one ONNX, TFLite or ExecuTorch artifact on CPU, as its contract says (checksum checked first)."""
    artifact = Path(artifact)
    contract = read_contract(artifact)
    verify_artifact(artifact, contract)
    if contract.format == "tflite":
        runner = LiteRTRunner(artifact, threads=threads)
        return lambda rgb: output_to_logits(runner.run(to_input_tensor(rgb, contract)), contract)
    if contract.format == "executorch":
        from .formats.executorch.runner import ExecuTorchRunner

        pte = ExecuTorchRunner(artifact, threads=threads)
        return lambda rgb: output_to_logits(pte.run(to_input_tensor(rgb, contract)), contract)
    if contract.format == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])

        def run(rgb: np.ndarray) -> np.ndarray:
            raw = session.run([contract.output.name], {contract.input.name: to_input_tensor(rgb, contract)})[0]
            return output_to_logits(raw, contract)
        return run
    raise UserError(f"{artifact}: {contract.format} artifacts cannot run on this machine")


def compare_masks(reference: str | Path, candidate: str | Path, images: list[Path],
                  reference_cache: Path | None = None) -> dict[str, float]:
    """Mask IoU of `candidate` against `reference` at the model's input size: pooled and per image.

    `reference_cache`: a .npy of the reference's logits on these images, written by the first call and read by the
    next (seg-export's float-op steps all compare against one fp32 model)."""
    post = read_contract(reference).postprocess
    ref_logits, run_cand = reference_logits(reference, images, reference_cache), load_runner(candidate)
    iou, logit_err = MaskIoU(), []
    for path, ref in zip(images, ref_logits):
        cand = run_cand(read_rgb(path))
        iou.add(logits_to_mask(cand, post), logits_to_mask(ref, post))
        logit_err.append(float(np.abs(ref - cand).mean()))
    return {"images": iou.images, "pooled_iou": iou.pooled, "mean_iou": iou.mean_per_image,
            "min_iou": iou.min_per_image, "mean_abs_logit_error": float(np.mean(logit_err))}


def reference_logits(reference: str | Path, images: list[Path], cache: Path | None = None) -> np.ndarray:
    """The reference's logits on `images`, (N, H, W) float32; from `cache` when it holds as many, else run and kept."""
    if cache is not None and cache.is_file():
        cached = np.load(cache)
        if cached.ndim == 3 and len(cached) == len(images):
            return cached
    run = load_runner(reference)
    logits = np.stack([run(read_rgb(path)) for path in images]).astype(np.float32)
    if cache is not None:
        with atomic_path(cache) as tmp, tmp.open("wb") as f:  # a file handle: np.save would add .npy to the name
            np.save(f, logits)
    return logits


def latency_ms(artifact: str | Path, runs: int = 20, threads: int = 2) -> float:
    """Median wall time of one inference on a fixed picture (after two warm-up runs)."""
    run = load_runner(artifact, threads)
    rgb = np.random.default_rng(0).integers(0, 256, size=(*read_contract(artifact).input_hw, 3), dtype=np.uint8)
    for _ in range(2):
        run(rgb)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(rgb)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def list_images(folder: Path, count: int) -> list[Path]:
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise UserError(f"no images in {folder}")
    return spread(images, count)


@cli_entry("export.fidelity")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.fidelity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference", type=Path)
    p.add_argument("candidate", type=Path)
    p.add_argument("--images", type=Path, required=True, help="held-out real images (e.g. ccp/val/images)")
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--runs", type=int, default=20, help="timed inferences per artifact (0: no timing)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    stats = compare_masks(args.reference, args.candidate, list_images(args.images, args.count))
    print(f"{args.candidate.name} vs {args.reference.name} on {stats['images']} images: pooled mask IoU "
          f"{stats['pooled_iou']:.4f}, mean {stats['mean_iou']:.4f}, min {stats['min_iou']:.4f}, "
          f"mean |logit error| {stats['mean_abs_logit_error']:.3f}")
    if args.runs:
        ref_ms, cand_ms = (latency_ms(a, args.runs, args.threads) for a in (args.reference, args.candidate))
        print(f"latency ({args.threads} threads, median of {args.runs}): {args.reference.name} {ref_ms:.1f} ms, "
              f"{args.candidate.name} {cand_ms:.1f} ms, speed-up {ref_ms / cand_ms:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
