"""The one-machine speed run (bench/speed.py): real exports timed in one seg-bench run, into results.json and
RESULTS.md through seg-results --speed, ratios read within one run only."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.speed import main as bench_speed
from bench.speed_table import ratios, render
from bench.study_results import main as seg_results
from bench.study_results import merge_speed, read_results

ROOT = Path(__file__).resolve().parents[1]


def run_of(machine: str, ms: dict[str, float], imgsz=(256, 256)) -> dict:
    return {"machine": machine, "imgsz": list(imgsz), "runs": 30, "entries": [
        {"encoder": e, "weights": "untrained", "gmac": 1.0, "params_m": 1.0,
         "latency": [{"column": "LiteRT int8", "threads": 1, "p50_ms": t, "mean_ms": t}]} for e, t in ms.items()]}


def test_ratios_are_read_within_one_run_against_resnext50():
    run = run_of("CPU A", {"resnext50": 10.0, "efficientnet-b0": 5.0, "resnet152": 20.0})
    assert ratios(run) == "ResNeXt-50 1.00 : EfficientNet-B0 0.50 : ResNet-152 2.00"
    assert ratios(run_of("CPU A", {"resnext50": 10.0, "resnet152": 20.0})) is None  # no ratio with one missing
    assert any("untrained" in line and "10.0" in line for line in render(run))


def test_a_new_run_replaces_only_its_own_machine_and_size():
    old = [run_of("CPU A", {"resnext50": 10.0}), run_of("CPU B", {"resnext50": 30.0}),
           run_of("CPU A", {"resnext50": 12.0}, imgsz=(256, 352))]
    merged = merge_speed(old, run_of("CPU A", {"resnext50": 9.0}))
    assert [(r["machine"], r["imgsz"], r["entries"][0]["latency"][0]["p50_ms"]) for r in merged] == [
        ("CPU B", [256, 256], 30.0), ("CPU A", [256, 352], 12.0), ("CPU A", [256, 256], 9.0)]


def test_a_broken_speed_file_is_one_line_and_leaves_the_results_alone(tmp_path, capsys):
    results = tmp_path / "results.json"
    shutil.copy(ROOT / "docs" / "results.json", results)
    before = results.read_text()
    bad = tmp_path / "speed.json"
    bad.write_text(json.dumps({"machine": "x", "imgsz": [256], "runs": 1, "entries": []}))
    assert seg_results(["--speed", str(bad), "--results", str(results), "--doc", str(tmp_path / "R.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert "speed.json" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert results.read_text() == before and not (tmp_path / "R.md").exists()


@pytest.mark.slow
def test_a_real_speed_run_lands_in_results_md(tmp_path):
    out = tmp_path / "speed"
    assert bench_speed(["--encoders", "efficientnet-b0", "--imgsz", "64", "64", "--threads", "1", "--runs", "2",
                        "--checkpoints", str(tmp_path / "no-study"), "--out", str(out)]) == 0
    run = json.loads((out / "speed.json").read_text())
    (entry,) = run["entries"]
    assert entry["weights"] == "untrained" and entry["gmac"] > 0
    assert {lat["column"] for lat in entry["latency"]} == {"ORT fp32", "LiteRT fp32", "LiteRT int8"}
    assert all(lat["threads"] == 1 and lat["p50_ms"] > 0 for lat in entry["latency"])
    results, doc = tmp_path / "results.json", tmp_path / "RESULTS.md"
    shutil.copy(ROOT / "docs" / "results.json", results)
    before = read_results(results)
    assert seg_results(["--speed", str(out / "speed.json"), "--results", str(results), "--doc", str(doc)]) == 0
    document = read_results(results)
    # the study's rows and the committed 256x256 speed run kept beside it (another size)
    assert document["rows"] == before["rows"] and document["speed"] == before.get("speed", []) + [run]
    text = doc.read_text()
    section = text.split("## Speed on one machine")[1]
    assert run["machine"] in section and "| EfficientNet-B0 | untrained |" in section


def test_a_row_that_did_not_run_shows_and_the_answer_falls_back_to_a_column_every_encoder_ran():
    from bench.speed_table import speed_answer

    run = run_of("CPU A", {"resnext50": 10.0, "efficientnet-b0": 5.0, "resnet152": 20.0})
    for e in run["entries"]:
        e["latency"].append({"column": "LiteRT fp32", "threads": 1, "p50_ms": 2 * e["latency"][0]["p50_ms"],
                             "mean_ms": 1.0})
    resnet = run["entries"][2]
    resnet["latency"] = [lat for lat in resnet["latency"] if lat["column"] != "LiteRT int8"]
    resnet["failed"] = [{"column": "LiteRT int8", "threads": 1, "why": "XNNPACK refused it"}]
    text = "\n".join(render(run))
    assert "| ResNet-152 | untrained | 1.00 | 1.00 | 1 | failed | 40.0 |" in text and "XNNPACK refused it" in text
    (answer,) = speed_answer([run])
    assert "LiteRT fp32" in answer and "ResNeXt-50 1.00 : EfficientNet-B0 0.50 : ResNet-152 2.00" in answer
