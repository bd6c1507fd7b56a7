"""`seg-results`: a seg-study folder as data (docs/results.json), and docs/RESULTS.md generated from that data.

    seg-results --study runs/study/cpu     collect the study's rows into docs/results.json, then regenerate
    seg-results --speed runs/speed/speed.json   add a one-machine speed run (python -m bench.speed), then regenerate
    seg-results                            regenerate docs/RESULTS.md and its plot from docs/results.json alone

A row is one encoder x dataset x split of one preset: how it was trained (epochs, optimizer hours,
recipe), its IoU against ground truth (torch fp32, over the split and per image), every exported format's
IoU and mask agreement with torch fp32, and every latency row with its settings. Rows are validated
against bench/results.schema.json on write and on read; collecting replaces the rows of the same preset,
encoder, dataset, split and size (whatever machine made them: each row names its own) and keeps the others
(a GPU study's rows beside the CPU's).
"""
from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

from train.atomic import atomic_path
from train.errors import UserError, cli_entry
from train.zoo import STUDY_ENCODERS

from .study_presets import EVAL_PREFIX

SCHEMA = Path(__file__).with_name("results.schema.json")
RESULTS_JSON, RESULTS_MD = Path("docs/results.json"), Path("docs/RESULTS.md")
ROW_KEY = ("encoder", "dataset", "split", "imgsz", "preset")  # a preset's newest run replaces its older one
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def validate(document: dict, source: Path | str) -> dict:
    """The document if it follows the schema; else one line naming the first problem and where."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise UserError(f"{source}: not a results file ({where}: {error.message})")
    return document


def read_results(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"{path}: no results file (collect one with: seg-results --study runs/study/cpu)")
    try:
        document = json.loads(path.read_text())
    except ValueError as e:
        raise UserError(f"{path}: not JSON ({e})") from None
    return validate(document, path)


def write_results(path: Path, rows: list[dict], speed: list[dict]) -> None:
    document = validate({"schema_version": 1, "generated_by": "seg-results --study (bench/study_results.py)",
                         "rows": rows, **({"speed": speed} if speed else {})}, path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=1) + "\n")


def merge_speed(old: list[dict], new: dict) -> list[dict]:
    """Speed runs of other machines or sizes kept; one of the same machine and size replaced."""
    return [run for run in old if (run["machine"], run["imgsz"]) != (new["machine"], new["imgsz"])] + [new]


def read_speed(path: Path) -> dict:
    """One bench/speed.py speed.json, checked against the schema's speed entry."""
    try:
        run = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a speed.json of python -m bench.speed ({e})") from None
    validate({"schema_version": 1, "rows": [], "speed": [run]}, path)
    return run


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    """Old rows, each replaced by a new row with the same key; new keys appended."""
    key = lambda row: json.dumps([row[k] for k in ROW_KEY])  # noqa: E731
    fresh = {key(r): r for r in new}
    kept = [fresh.pop(key(r), r) for r in old]
    return kept + list(fresh.values())


def training_summary(run_dir: Path) -> dict:
    """Epochs, optimizer hours, best validation IoU, device, recipe and parameter count of one run."""
    from train.checkpoint import load_checkpoint

    summary = json.loads((run_dir / "summary.json").read_text())
    with (run_dir / "history.csv").open() as f:
        history = list(csv.DictReader(f))
    best = load_checkpoint(run_dir / "best.pt")
    params = sum(t.numel() for k, t in best.state["model"].items() if not k.endswith(BUFFERS))
    return {"epochs": int(summary["last"]["epoch"]),
            "train_hours": round(sum(float(r["seconds"]) for r in history) / 3600, 3),
            "val_iou": best.meta.metrics.get("val_iou"), "best_epoch": best.meta.epoch,
            "device": summary["device"], "recipe": {**best.meta.recipe, "precision": best.meta.precision},
            "params": int(params)}


def bench_rows(path: Path, encoder: str) -> list[dict]:
    """The rows of one seg-bench results.json that measured this encoder."""
    results = json.loads(path.read_text())["results"]
    return [r for r in results if r.get("encoder") == encoder and r.get("status") == "ok"]


def format_rows(results: list[dict]) -> list[dict]:
    return [{"artifact": r["model"], "format": r["format"], "precision": r["precision"], "backend": r["backend"],
             "iou": r.get("iou_split"), "iou_per_image": r.get("iou_per_image"),
             "mask_iou_vs_fp32": r.get("parity_mask_iou"), "file_mb": r.get("file_mb")} for r in results]


def latency_rows(results: list[dict]) -> list[dict]:
    return [{"runtime": r["backend"], "format": r["format"], "precision": r["precision"], "artifact": r["model"],
             "threads": r.get("threads"), "p50_ms": r["p50_ms"], "mean_ms": r["mean_ms"],
             "settings": {"memory_format": r.get("memory_format", ""), "providers": r.get("providers", ""),
                          "runtime_options": r.get("runtime_options", {}), "input_size": r.get("input_size", "")}}
            for r in results if r.get("p50_ms")]


def is_int8_float_io(row: dict) -> bool:
    return row["format"] == "tflite" and row["precision"] == "int8" and "-io8" not in row["artifact"]


OLD_FLOAT_OPS_NOTE = re.compile(r"^the first (\d+) of \d+ ops kept float")


def int8_float_ops(export_dir: Path, artifact: str | None) -> int | None:
    """How many leading ops the int8 export kept float, as its contract says (None: not recorded)."""
    from export.contract import contract_path, read_contract

    if not artifact or not contract_path(export_dir / artifact).is_file():
        return None
    contract = read_contract(export_dir / artifact)
    if contract.fidelity is not None and contract.fidelity.float_ops is not None:
        return contract.fidelity.float_ops
    for note in contract.notes:  # contracts written before fidelity.float_ops said it only in a note
        if note.startswith("every op int8"):
            return 0
        if match := OLD_FLOAT_OPS_NOTE.match(note):
            return int(match.group(1))
    return None


def unmatched(run_dir: Path, export_dir: Path) -> str | None:
    """Why this run's bench rows do not describe it, if they do not: a training short of its planned epochs, or
    exports (and so benches) made from another checkpoint, as after a retraining that has not been exported yet."""
    from train.checkpoint import file_sha256

    from .study_resume import planned_epochs, trained_epochs

    planned, done = planned_epochs(run_dir), trained_epochs(run_dir)
    if planned is not None and done < planned:
        return f"trained {done} of {planned} epochs"
    try:
        exported_from = json.loads((export_dir / "study-stamp.json").read_text())["checkpoint_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"no seg-study export stamp in {export_dir}"
    if exported_from != file_sha256(run_dir / "best.pt"):
        return f"{export_dir} was exported from another checkpoint than {run_dir / 'best.pt'}"
    return None


def stale_bench(bench_out: Path, export_dir: Path) -> str | None:
    """Why a seg-study bench does not describe the encoder's current exports, if it does not: it ran before they
    were remade (or holds no stamp of what it measured)."""
    if measured_these_exports(bench_out, export_dir):
        return None
    return f"{bench_out} measured other exports than those now in {export_dir}"


def images_scored(results_json: Path) -> int:
    return max((r.get("iou_images") or 0 for r in json.loads(results_json.read_text())["results"]), default=0)


def collect(study: Path, preset: str) -> list[dict]:
    """One row per trained encoder x dataset whose test-split bench exists; the first bench folder (every
    image) gives IoU, every bench folder that measured the encoder's current exports gives latency."""
    rows = []
    for bench_dir in sorted(p for p in (study / "bench").glob("*") if p.is_dir()):
        dataset = bench_dir.name
        runs = sorted((p for p in bench_dir.glob("**/results.json") if not p.parent.name.startswith(EVAL_PREFIX)),
                      key=lambda p: p.parent.name)
        if not runs:
            continue
        full = max(runs, key=images_scored)
        for encoder in STUDY_ENCODERS:
            run_dir, export_dir = study / "train" / f"{encoder}-{dataset}", study / "export" / dataset / encoder
            results = bench_rows(full, encoder)
            if not (run_dir / "best.pt").is_file() or not results:
                continue
            why_not = unmatched(run_dir, export_dir) or stale_bench(full.parent, export_dir)
            if why_not:
                print(f"seg-results: {encoder} on {dataset} left out: {why_not} (run seg-study again to finish it)")
                continue
            train = training_summary(run_dir)
            formats = format_rows(results)
            scores, int8 = split_scores(formats)
            measured = [run for run in runs if not stale_bench(run.parent, export_dir)]
            if stale := [run.parent.name for run in runs if run not in measured]:
                print(f"seg-results: {encoder} on {dataset}: the latency of {', '.join(stale)} left out "
                      "(measured before its latest export)")
            latency = [lat for run in measured for lat in latency_rows(bench_rows(run, encoder))]
            h, w = (int(v) for v in results[0]["input_size"].split("x"))
            row = {"encoder": encoder, "dataset": dataset, "split": "test", "imgsz": [h, w],
                   "epochs": train["epochs"], "train_hours": train["train_hours"],
                   **scores,
                   "int8_float_ops": int8_float_ops(export_dir, int8 and int8["artifact"]),
                   "device": train["device"],
                   "bench_cpu": results[0].get("device", ""), "preset": preset, "recipe": train["recipe"],
                   "val_iou": train["val_iou"], "best_epoch": train["best_epoch"], "params": train["params"],
                   "test_images": images_scored(full), "formats": formats, "latency": latency}
            rows += [row, *eval_rows(row, bench_dir, export_dir)]
    return rows


def split_scores(formats: list[dict]) -> tuple[dict, dict | None]:
    """A split's headline scores from its format rows: torch fp32's IoU against the ground truth, and the mask
    agreement with it of full-integer int8 (float I/O) and of dynamic-range int8 (None where the bench had none);
    also that full-integer int8 row."""
    torch_row = next((f for f in formats if f["backend"].startswith("torch") and f["precision"] == "fp32"), None)
    int8 = next((f for f in formats if is_int8_float_io(f)), None)
    dynamic = next((f for f in formats if f["format"] == "tflite" and f["precision"] == "int8-dynamic"), None)
    return {"iou": torch_row and torch_row["iou"], "iou_per_image": torch_row and torch_row["iou_per_image"],
            "int8_mask_iou_vs_fp32": int8 and int8["mask_iou_vs_fp32"],
            "int8_dynamic_mask_iou_vs_fp32": dynamic and dynamic["mask_iou_vs_fp32"]}, int8


def eval_rows(row: dict, bench_dir: Path, export_dir: Path) -> list[dict]:
    """The test row's model scored on other sets (bench_dir/eval-NAME): one row per set, split NAME, its IoU and
    agreement there and no latency (the test row has it). A score of older exports than these is left out."""
    rows = []
    for results in sorted(bench_dir.glob(f"{EVAL_PREFIX}*/results.json")):
        split = results.parent.name.removeprefix(EVAL_PREFIX)
        measured = bench_rows(results, row["encoder"])
        if not measured:
            continue
        if not measured_these_exports(results.parent, export_dir):
            print(f"seg-results: {row['encoder']} on {split} left out: scored before its latest export "
                  "(run seg-study again to score it)")
            continue
        formats = format_rows(measured)
        rows.append({**row, "split": split, **split_scores(formats)[0], "test_images": images_scored(results),
                     "formats": formats, "latency": []})
    return rows


def measured_these_exports(bench_out: Path, export_dir: Path) -> bool:
    """Whether a seg-study bench's stamp names the export stamp the encoder's folder holds now."""
    try:
        measured = json.loads((bench_out / "study-stamp.json").read_text())["exports"][export_dir.name]
        return measured == (export_dir / "study-stamp.json").read_text()
    except (OSError, ValueError, KeyError, TypeError):
        return False


@cli_entry("seg-results")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seg-results", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", type=Path, default=None, help="a seg-study folder to collect (default: only regenerate)")
    p.add_argument("--speed", type=Path, default=None, help="a speed.json of python -m bench.speed to add")
    p.add_argument("--results", type=Path, default=RESULTS_JSON)
    p.add_argument("--doc", type=Path, default=RESULTS_MD, help="the Markdown generated from --results")
    args = p.parse_args(argv)
    adding = args.study is not None or args.speed is not None
    # regenerating alone needs the file (read_results says so); adding may start it
    document = read_results(args.results) if args.results.is_file() or not adding else {"rows": []}
    rows, speed = document["rows"], document.get("speed", [])
    if args.study is not None:
        if not (args.study / "bench").is_dir():
            raise UserError(f"{args.study}: not a seg-study folder (no bench/ inside)")
        new = collect(args.study, args.study.name)
        if not new:
            raise UserError(f"{args.study}: no trained and benchmarked encoder yet (train/*/best.pt with bench/*/results.json)")
        rows = merge(rows, new)
        print(f"seg-results: {len(new)} rows from {args.study} -> {args.results}")
    if args.speed is not None:
        speed = merge_speed(speed, read_speed(args.speed))
        print(f"seg-results: the speed run of {args.speed} -> {args.results}")
    if adding:
        write_results(args.results, rows, speed)  # validated before it is written
    from .results_doc import render

    written = render(rows, args.doc, speed)
    print(f"seg-results: {', '.join(str(w) for w in written)} regenerated from {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
