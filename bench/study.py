"""`seg-study`: the study end to end - train, export every format, bench every runtime, tables beside the paper's.

It only runs the three commands (`seg-train`, `seg-export`, `seg-bench`) one after another and collects what
they write, so each stage stays independent. Presets:
  quick  the README's main job: the shipped default model (train/weights/, its record names encoder and size) exported to
         every format and benchmarked on CCP's test split (minutes on a CPU); without a dataset it measures
         latency and parity on synthetic input, and says that IoU needs data.
  cpu    all three encoders on CCP and CamVid at a reduced size and epoch count (hours on 2 CPU cores).
  study  the study's recipe and sizes (512x512 portraits, 352x480 CamVid, 150 epochs): for a CUDA GPU.
"""
# (that docstring is --help's description.) The presets themselves are in study_presets.py, how a re-run goes on
# where the last one stopped in study_resume.py; here: the steps and the command.
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from train.checkpoint import file_sha256
from train.errors import UserError, cli_entry

from .study_presets import DATASETS, EVAL_ONLY, EVAL_PREFIX, PRESETS, Preset
from .study_resume import (export_stamps, planned_epochs, portable, set_aside, stamp_matches, trained_epochs,
                           write_stamp)


def _tool(name: str) -> str:
    """The console script beside this interpreter (the venv's), so PATH need not be set."""
    local = Path(sys.executable).with_name(name)
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise UserError(f"{name} is not installed (run: bash .ci/install)")
    return found


class Steps:
    """Runs each command, echoing it, and keeps a log of what ran, how long it took and how it ended."""

    def __init__(self, out: Path):
        self.out, self.rows = out, []

    def run(self, label: str, cmd: list[str]) -> bool:
        print(f"\n=== {label}\n$ {' '.join(cmd)}", flush=True)
        start = time.perf_counter()
        rc = subprocess.call(cmd)
        seconds = time.perf_counter() - start
        self.rows.append({"step": label, "command": " ".join(cmd), "rc": rc, "seconds": round(seconds, 1)})
        (self.out / "steps.json").write_text(json.dumps(self.rows, indent=2) + "\n")
        if rc != 0:
            print(f"seg-study: {label} exited {rc}; going on with the other steps", file=sys.stderr)
        return rc == 0


def train_step(steps: Steps, preset: Preset, encoder: str, dataset: str, root: Path, out: Path, args) -> Path | None:
    """Train to the preset's budget, going on from last.pt after a stop; a finished run is never retrained."""
    run_dir = out / "train" / f"{encoder}-{dataset}"
    (h, w), epochs = preset.imgsz[dataset], preset.budget(encoder, dataset)
    best = run_dir / "best.pt"
    if args.skip_train and best.exists():
        print(f"seg-study: using the existing {best} (--skip-train)")
        return best
    planned = planned_epochs(run_dir) if (run_dir / "last.pt").exists() else None
    if planned is not None and planned != epochs and "onecycle" in preset.train_args:  # its schedule ends elsewhere
        kept = set_aside(run_dir, planned)
        print(f"seg-study: {encoder} on {dataset} was trained for {planned} epochs, the budget is {epochs}: "
              f"training anew (the old run is kept in {kept})")
    done = trained_epochs(run_dir)
    if done >= epochs and best.exists():
        print(f"seg-study: {encoder} on {dataset} already trained ({done}/{epochs} epochs): not retrained")
        return best
    resume = ["--resume"] if (run_dir / "last.pt").exists() else []
    steps.run(f"train {encoder} on {dataset}", [
        _tool("seg-train"), "--encoder", encoder, "--data", str(root), "--dataset", DATASETS[dataset],
        "--imgsz", str(h), str(w), "--epochs", str(epochs), "--out", str(run_dir),
        "--no-progress", *preset.train_args, *resume])
    done = trained_epochs(run_dir)
    if done < epochs or not best.exists():  # stopped short: export nothing half-trained; a re-run goes on
        print(f"seg-study: {encoder} on {dataset} stopped at {done}/{epochs} epochs: not exported")
        return None
    return best


# what an export is made of besides the checkpoint: code, schemas and the converter env's pins, not the .md notes
CODE_SUFFIXES = (".py", ".json", ".txt")
# the main environment's converters and runtimes seg-export calls (the LiteRT-Torch env's pins are a .txt above)
CONVERTERS = ("torch", "onnx", "onnxslim", "onnx2tf", "tensorflow", "ai-edge-litert", "coremltools", "executorch")


def code_digest(package: Path) -> str:
    """A digest of a package's sources: the same digest, the same code."""
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def exporter_version() -> str:
    """The exporter's code as a stamp input: an export made by other seg-export code is redone."""
    return code_digest(Path(importlib.util.find_spec("export").origin).parent)


def converter_versions() -> dict[str, str | None]:
    """The installed converters as a stamp input: an export made with other pinned versions is redone."""
    def installed(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None
    return {name: installed(name) for name in CONVERTERS}


def export_step(steps: Steps, preset: Preset, encoder: str, dataset: str, checkpoint: list[str], out: Path) -> None:
    export_dir = out / "export" / dataset / encoder
    command = [_tool("seg-export"), "--encoder", encoder, "--format", preset.formats, "--out", str(export_dir),
               "--force", "--min-agreement", "0", *checkpoint, *preset.export_args]
    # the study measures every export, int8 included (its bench rows report parity with PyTorch and IoU):
    # int8 exports below seg-export's fidelity floor are kept and measured, their agreement in the contract
    source = Path(checkpoint[1]) if checkpoint[0] == "--checkpoint" else None
    inputs = {"command": portable(command, out),  # a retrained checkpoint at the same path is a new input
              "checkpoint_sha256": file_sha256(source) if source is not None and source.is_file() else None,
              "exporter": exporter_version(), "converters": converter_versions()}
    stamp = export_dir / "study-stamp.json"
    if stamp_matches(stamp, inputs):
        print(f"seg-study: {export_dir} already exported from this checkpoint by this exporter code and converters: not redone")
        return
    if steps.run(f"export {encoder} ({dataset})", command):
        write_stamp(stamp, inputs)


def measure(steps: Steps, label: str, command: list[str], bench_out: Path, out: Path, stamps: dict, always: bool) -> bool:
    """Run one seg-bench unless its stamp says it already measured these exports with this command; False: not run."""
    inputs, stamp = {"command": portable(command, out), "exports": stamps}, bench_out / "study-stamp.json"
    if not always and stamp_matches(stamp, inputs):
        print(f"seg-study: {bench_out} already measured these exports: not redone")
        return False
    if steps.run(label, command):
        write_stamp(stamp, inputs)
    return True


def bench_step(steps: Steps, preset: Preset, encoders, dataset: str, data: list[str], out: Path) -> list[Path]:
    export_root = out / "export" / dataset
    stamps = export_stamps(export_root, encoders)
    outs = []
    for i, threads in enumerate(preset.threads):
        bench_out = out / "bench" / dataset / (f"t{threads}" if threads else "")
        command = [_tool("seg-bench"), "--encoder", ",".join(encoders), "--artifacts", str(export_root),
                   "--backend", preset.backends, "--out", str(bench_out), "--no-progress", "--force", *data,
                   *preset.bench_args, *(["--threads", str(threads)] if threads else []),
                   *(preset.latency_only_args if i and data else [])]  # last: they override; --force: a re-run replaces
        outs.append(bench_out)
        label = f"bench {dataset}" + (f" ({threads} threads)" if threads else "")
        if measure(steps, label, command, bench_out, out, stamps, always=preset.checkpoint is not None):
            steps.run(f"paper tables {dataset}", [_tool("seg-bench"), "--paper", "--results",
                                                  str(bench_out / "results.json"), "--out", str(bench_out)])
    return outs


def eval_step(steps: Steps, preset: Preset, encoders, dataset: str, name: str, root: Path, out: Path) -> None:
    """Score the dataset's exports on another set's test split (IoU and agreement with torch fp32, no latency)."""
    if not (root / "test").is_dir():
        print(f"seg-study: no {root / 'test'}: {dataset}'s models are not scored on {name}")
        return
    export_root, bench_out = out / "export" / dataset, out / "bench" / dataset / f"{EVAL_PREFIX}{name}"
    threads = preset.threads[0]
    command = [_tool("seg-bench"), "--encoder", ",".join(encoders), "--artifacts", str(export_root),
               "--backend", preset.backends, "--out", str(bench_out), "--no-progress", "--force",
               "--data", str(root), "--split", "test", *preset.bench_args, *EVAL_ONLY,
               *(["--threads", str(threads)] if threads else [])]
    measure(steps, f"score {dataset}'s models on {name}", command, bench_out, out,
            export_stamps(export_root, encoders), always=False)


def run_dataset(steps: Steps, preset: Preset, dataset: str, root: Path | None, out: Path, args) -> None:
    encoders = args.encoders or preset.encoders
    have_data = root is not None and (root / "train").is_dir()
    for encoder in encoders:
        if preset.checkpoint:
            checkpoint = ["--checkpoint", preset.checkpoint]
        elif have_data:
            best = train_step(steps, preset, encoder, dataset, root, out, args)
            if best is None:
                continue
            checkpoint = ["--checkpoint", str(best)]
        else:
            h, w = preset.untrained_imgsz
            checkpoint = ["--imgsz", str(h), str(w)]
        export_step(steps, preset, encoder, dataset, checkpoint, out)
    data = ["--data", str(root), "--split", "test"] if have_data else []
    bench_outs = bench_step(steps, preset, encoders, dataset, data, out)
    if have_data and preset.checkpoint is None:  # trained here on this dataset: see how far its models carry
        for name in preset.eval_sets.get(dataset, ()):
            eval_step(steps, preset, encoders, dataset, name, root.parent / name, out)
    if preset.checkpoint == "default":
        say_default_model(bench_outs[0] / "results.json", dataset, have_data)


def say_default_model(results: Path, dataset: str, have_data: bool) -> None:
    """One line on where the model came from, and its IoU on this split as just measured."""
    from train.default_model import DEFAULT_RECORD

    record = json.loads(DEFAULT_RECORD.read_text())
    origin = (f"seg-study: the model is the shipped default ({record['file']}, {record['encoder']} U-Net at "
              f"{record['imgsz'][0]}x{record['imgsz'][1]}, {record['epoch']} epochs on CCP + CamVid; card: "
              "train/weights/MODEL_CARD.md)")
    print(f"\n{origin}")
    if not (have_data and results.is_file()):
        print("seg-study: no test images, so no IoU: pass --data-root with ccp/test")
        return
    rows = [r for r in json.loads(results.read_text())["results"] if r["status"] == "ok" and r.get("iou_split") is not None]
    for r in rows:
        print(f"seg-study: {dataset} test IoU {r['iou_split']:.3f} (per image {r['iou_per_image']:.3f}) "
              f"{r['model']} on {r['backend']}, p50 {r['p50_ms']:.1f} ms")


@cli_entry("seg-study")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seg-study", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=list(PRESETS), default="quick")
    p.add_argument("--data-root", type=Path, default=Path("../shared/data"),
                   help="folder holding ccp/ and camvid/ (a missing one: untrained export, latency only)")
    p.add_argument("--encoders", nargs="+", default=None, help="override the preset's encoders")
    p.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=None, help="override the preset's datasets")
    p.add_argument("--out", type=Path, default=None, help="default runs/study/PRESET")
    p.add_argument("--skip-train", action="store_true", help="reuse existing best.pt files instead of training")
    args = p.parse_args(argv)
    preset = PRESETS[args.preset]
    out = args.out or Path("runs/study") / args.preset
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps(out)
    print(f"seg-study: preset {args.preset} ({preset.note}) -> {out}")
    for dataset in args.datasets or preset.datasets:
        root = args.data_root / dataset
        if not (root / "train").is_dir():
            print(f"seg-study: no dataset at {root}: exporting untrained weights; latency and parity only, no IoU")
        run_dataset(steps, preset, dataset, root if root.is_dir() else None, out, args)
    failed = [r["step"] for r in steps.rows if r["rc"] != 0]
    curves = ", train/*/curves.png" if any(r["step"].startswith("train") for r in steps.rows) else ""
    print(f"\nseg-study: {len(steps.rows) - len(failed)}/{len(steps.rows)} steps ok; results under {out} "
          f"(bench/*/report.md, bench/*/results.csv{curves})")
    if failed:
        print(f"seg-study: failed steps: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
