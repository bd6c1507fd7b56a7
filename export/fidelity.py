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

from train.data import IMAGE_SUFFIXES, read_rgb
from train.errors import UserError, cli_entry
from train.metrics import MaskIoU

from .calibration import spread
from .contract import read_contract
from .integrity import verify_artifact
from .litert_runner import LiteRTRunner
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
        from .executorch_runner import ExecuTorchRunner

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


def compare_masks(reference: str | Path, candidate: str | Path, images: list[Path]) -> dict[str, float]:
    """Mask IoU of `candidate` against `reference` at the model's input size: pooled and per image."""
    post = read_contract(reference).postprocess
    run_ref, run_cand = load_runner(reference), load_runner(candidate)
    iou, logit_err = MaskIoU(), []
    for path in images:
        rgb = read_rgb(path)
        ref_logits, cand_logits = run_ref(rgb), run_cand(rgb)
        iou.add(logits_to_mask(cand_logits, post), logits_to_mask(ref_logits, post))
        logit_err.append(float(np.abs(ref_logits - cand_logits).mean()))
    return {"images": iou.images, "pooled_iou": iou.pooled, "mean_iou": iou.mean_per_image,
            "min_iou": iou.min_per_image, "mean_abs_logit_error": float(np.mean(logit_err))}


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
