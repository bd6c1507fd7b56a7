"""seg-study's resume, and seg-results: docs/results.json rows, their schema, and RESULTS.md generated from them.

One tiny study runs for real (the session's trained model as its finished training run, ONNX only, 4 test
images): the resume tests watch what it redoes, the generator tests read what it wrote.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

import bench.study as study
from bench.study_results import main as seg_results
from bench.study_results import read_results, validate
from train.errors import UserError

from conftest import DATA, SMALL

TINY = study.Preset(("efficientnet-b0",), ("ccp",), {"ccp": SMALL}, {"ccp": 3}, formats="onnx",
                    backends="torch-cpu,ort-cpu", export_args=("--calib-count", "4"),
                    bench_args=("--runs", "3", "--warmup", "1", "--limit", "6"), threads=(2, 1),
                    latency_only_args=("--limit", "2"), eval_sets={"ccp": ("portraits",)})


def run_study(out, monkeypatch) -> int:
    monkeypatch.setitem(study.PRESETS, "tiny", TINY)
    return study.main(["--preset", "tiny", "--data-root", str(DATA), "--out", str(out)])


@pytest.fixture(scope="module")
def tiny_study(trained_checkpoint, tmp_path_factory):
    """A study folder whose training (3 epochs, the preset's budget) is already finished."""
    out = tmp_path_factory.mktemp("study") / "tiny"
    shutil.copytree(trained_checkpoint.parent, out / "train" / "efficientnet-b0-ccp")
    with pytest.MonkeyPatch.context() as mp:
        assert run_study(out, mp) == 0
    return out


def test_finished_training_is_not_retrained_and_done_steps_are_not_redone(tiny_study, monkeypatch, capsys):
    first = [row["step"] for row in json.loads((tiny_study / "steps.json").read_text())]
    assert not any(step.startswith("train") for step in first)  # 3/3 epochs: trained already
    assert first[0] == "export efficientnet-b0 (ccp)" and "bench ccp (2 threads)" in first and "bench ccp (1 threads)" in first
    assert first[-1] == "score ccp's models on portraits"  # after the test split's benches, never trained on
    ran = []
    monkeypatch.setattr(study.Steps, "run", lambda self, label, cmd: ran.append(label) or True)
    assert run_study(tiny_study, monkeypatch) == 0
    assert ran == []  # same checkpoint, same commands: nothing to redo
    out = capsys.readouterr().out
    assert "already trained (3/3 epochs): not retrained" in out and "not redone" in out


def test_a_bench_whose_inputs_changed_runs_again_over_its_old_results(tiny_study, tmp_path, monkeypatch):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    (copy / "bench" / "ccp" / "t1" / "study-stamp.json").unlink()  # as if its exports had changed
    before = (copy / "bench" / "ccp" / "t1" / "results.json").read_text()
    assert run_study(copy, monkeypatch) == 0
    steps = json.loads((copy / "steps.json").read_text())
    assert [(s["step"], s["rc"]) for s in steps] == [("bench ccp (1 threads)", 0), ("paper tables ccp", 0)]
    assert (copy / "bench" / "ccp" / "t1" / "results.json").read_text() != before  # replaced, not refused


def test_a_stopped_training_resumes_and_a_new_checkpoint_is_exported_again(tiny_study, tmp_path, monkeypatch):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    commands = {}
    monkeypatch.setattr(study.Steps, "run", lambda self, label, cmd: commands.setdefault(label, cmd) and True)
    monkeypatch.setitem(study.PRESETS, "tiny", study.Preset(**{**TINY.__dict__, "epochs": {"ccp": 5}}))
    assert study.main(["--preset", "tiny", "--data-root", str(DATA), "--out", str(copy)]) == 0
    train = commands["train efficientnet-b0 on ccp"]
    assert "--resume" in train and train[train.index("--epochs") + 1] == "5"
    assert "export efficientnet-b0 (ccp)" not in commands  # 3 of 5 epochs: nothing half-trained is exported

    commands.clear()
    monkeypatch.setitem(study.PRESETS, "tiny", TINY)
    best = copy / "train" / "efficientnet-b0-ccp" / "best.pt"
    best.write_bytes(best.read_bytes() + b"\0")  # as if retrained: other bytes at the same path
    assert study.main(["--preset", "tiny", "--data-root", str(DATA), "--out", str(copy)]) == 0
    assert "export efficientnet-b0 (ccp)" in commands


def test_an_export_made_by_other_exporter_code_is_redone(tiny_study, tmp_path, monkeypatch):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    commands = {}
    monkeypatch.setattr(study.Steps, "run", lambda self, label, cmd: commands.setdefault(label, cmd) and True)
    monkeypatch.setattr(study, "exporter_version", lambda: "older seg-export code")
    assert run_study(copy, monkeypatch) == 0
    assert "export efficientnet-b0 (ccp)" in commands  # same checkpoint, other exporter: exported again


def test_an_export_made_with_other_converter_versions_is_redone(tiny_study, tmp_path, monkeypatch):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    commands = {}
    monkeypatch.setattr(study.Steps, "run", lambda self, label, cmd: commands.setdefault(label, cmd) and True)
    assert study.converter_versions()["onnx2tf"] is not None  # the installed pin is what the stamp holds
    older = {**study.converter_versions(), "onnx2tf": "0.0.1"}
    monkeypatch.setattr(study, "converter_versions", lambda: older)
    assert run_study(copy, monkeypatch) == 0
    assert "export efficientnet-b0 (ccp)" in commands


def test_the_exporter_digest_follows_its_code(tmp_path):
    package = tmp_path / "export"
    shutil.copytree(Path(importlib.util.find_spec("export").origin).parent, package)
    assert study.code_digest(package) == study.exporter_version()
    tflite = package / "formats" / "tflite" / "__init__.py"
    tflite.write_text(tflite.read_text() + "# one more line\n")
    assert study.code_digest(package) != study.exporter_version()
    pins = package / "litert_torch_requirements.txt"  # the LiteRT-Torch route's converter pins count as its code
    tflite.write_text(tflite.read_text().removesuffix("# one more line\n"))
    pins.write_text(pins.read_text() + "\n")
    assert study.code_digest(package) != study.exporter_version()
    pins.write_text(pins.read_text().removesuffix("\n"))
    (package / "NOTES.md").write_text("a note\n")  # notes are not code: no re-export for a doc edit
    assert study.code_digest(package) == study.exporter_version()


def test_a_run_planned_for_another_one_cycle_budget_is_kept_aside_and_trained_anew(tiny_study, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    commands = {}
    monkeypatch.setattr(study.Steps, "run", lambda self, label, cmd: commands.setdefault(label, cmd) and True)
    longer = study.Preset(**{**TINY.__dict__, "train_args": ("--schedule", "onecycle"), "encoder_epochs": {"efficientnet-b0": {"ccp": 6}}})
    monkeypatch.setitem(study.PRESETS, "tiny", longer)
    assert study.main(["--preset", "tiny", "--data-root", str(DATA), "--out", str(copy)]) == 0
    train = commands["train efficientnet-b0 on ccp"]
    assert "--resume" not in train and train[train.index("--epochs") + 1] == "6"  # its own budget, from the start
    kept = copy / "train" / "efficientnet-b0-ccp.3-epochs"
    assert (kept / "best.pt").is_file() and not (copy / "train" / "efficientnet-b0-ccp").exists()
    assert f"trained for 3 epochs, the budget is 6: training anew (the old run is kept in {kept})" in capsys.readouterr().out


@pytest.fixture
def collected(tiny_study, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results, doc = tmp_path / "results.json", tmp_path / "RESULTS.md"
    assert seg_results(["--study", str(tiny_study), "--results", str(results), "--doc", str(doc)]) == 0
    return results, doc


def test_rows_come_from_the_study_folder(collected, tiny_study):
    rows = read_results(collected[0])["rows"]
    assert [r["split"] for r in rows] == ["test", "portraits"]
    row = rows[0]
    bench = json.loads((tiny_study / "bench" / "ccp" / "t2" / "results.json").read_text())["results"]
    torch_row = next(r for r in bench if r["backend"] == "torch-cpu")
    assert row["iou"] == torch_row["iou_split"] and row["iou_per_image"] == torch_row["iou_per_image"]
    assert (row["encoder"], row["dataset"], row["split"], row["imgsz"], row["epochs"]) == (
        "efficientnet-b0", "ccp", "test", list(SMALL), 3)
    assert row["test_images"] == 6  # IoU from the bench over every image, not the 2-image latency one
    assert {(lat["runtime"], lat["threads"]) for lat in row["latency"]} == {
        ("torch-cpu", 1), ("torch-cpu", 2), ("ort-cpu", 1), ("ort-cpu", 2)}
    assert row["int8_mask_iou_vs_fp32"] is None and row["int8_float_ops"] is None  # no int8 export: not invented
    assert row["int8_dynamic_mask_iou_vs_fp32"] is None
    assert 6_000_000 < row["params"] < 6_500_000


def test_the_portraits_row_is_the_ccp_model_scored_there_without_latency(collected, tiny_study):
    test_row, portraits = read_results(collected[0])["rows"]
    bench = json.loads((tiny_study / "bench" / "ccp" / "eval-portraits" / "results.json").read_text())
    assert bench["images"] == "portraits/test (6 images)"  # scored on the portraits, not on CCP again
    torch_row = next(r for r in bench["results"] if r["backend"] == "torch-cpu")
    assert (portraits["dataset"], portraits["iou"], portraits["test_images"]) == ("ccp", torch_row["iou_split"], 6)
    assert portraits["iou"] != test_row["iou"] and portraits["latency"] == []
    assert {k: portraits[k] for k in ("epochs", "device", "params")} == {k: test_row[k] for k in ("epochs", "device", "params")}
    text = collected[1].read_text()
    assert (f"- **portraits** (models trained on ccp, scored on portraits: 6 images never trained on, torch fp32 IoU, "
            f"training): EfficientNet-B0 {portraits['iou']:.3f} (3 epochs, ") in text
    assert text.count("| EfficientNet-B0 | 1 |") == 1  # one latency line per thread count: the test row's


def made_before_a_new_export(bench_out):
    """A seg-study bench as it reads once the encoder was exported again after it ran."""
    stamp = bench_out / "study-stamp.json"
    inputs = json.loads(stamp.read_text())
    inputs["exports"]["efficientnet-b0"] = inputs["exports"]["efficientnet-b0"].replace('"checkpoint_sha256"', '"checkpoint_sha256" ', 1)
    stamp.write_text(json.dumps(inputs))


def test_scores_and_latencies_of_older_exports_are_not_collected(tiny_study, tmp_path, capsys):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    made_before_a_new_export(copy / "bench" / "ccp" / "eval-portraits")
    made_before_a_new_export(copy / "bench" / "ccp" / "t1")
    assert seg_results(["--study", str(copy), "--results", str(tmp_path / "r.json"), "--doc", str(tmp_path / "R.md")]) == 0
    rows = read_results(tmp_path / "r.json")["rows"]
    assert [r["split"] for r in rows] == ["test"]
    assert {lat["threads"] for lat in rows[0]["latency"]} == {2}  # t1 timed the exports before these
    out = capsys.readouterr().out
    assert "efficientnet-b0 on portraits left out: scored before its latest export" in out
    assert "efficientnet-b0 on ccp: the latency of t1 left out (measured before its latest export)" in out


def test_a_test_bench_of_older_exports_is_not_collected(tiny_study, tmp_path, capsys):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    stamp = copy / "export" / "ccp" / "efficientnet-b0" / "study-stamp.json"
    stamp.write_text(stamp.read_text().replace('"checkpoint_sha256"', '"checkpoint_sha256" ', 1))  # re-exported since
    assert seg_results(["--study", str(copy), "--results", str(tmp_path / "r.json"), "--doc", str(tmp_path / "R.md")]) == 2
    out, err = capsys.readouterr()
    assert f"efficientnet-b0 on ccp left out: {copy / 'bench' / 'ccp' / 't2'} measured other exports" in out
    assert "no trained and benchmarked encoder" in err and not (tmp_path / "r.json").exists()


def test_a_data_root_without_the_portraits_scores_nothing_there(tiny_study, tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    root.mkdir()
    (root / "ccp").symlink_to(DATA / "ccp")
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    ran = []
    monkeypatch.setattr(study.Steps, "run", lambda self, label, cmd: ran.append(label) or True)
    monkeypatch.setitem(study.PRESETS, "tiny", TINY)
    assert study.main(["--preset", "tiny", "--data-root", str(root), "--out", str(copy)]) == 0
    assert not any(label.startswith("score") for label in ran)
    assert f"no {root / 'portraits' / 'test'}: ccp's models are not scored on portraits" in capsys.readouterr().out


def test_a_run_retrained_since_its_exports_is_not_collected(tiny_study, tmp_path, capsys):
    copy = tmp_path / "study"
    shutil.copytree(tiny_study, copy)
    best = copy / "train" / "efficientnet-b0-ccp" / "best.pt"
    best.write_bytes(best.read_bytes() + b"\0")  # retrained: the benches still measure the old weights
    assert seg_results(["--study", str(copy), "--results", str(tmp_path / "r.json"), "--doc", str(tmp_path / "R.md")]) == 2
    out, err = capsys.readouterr()
    assert "exported from another checkpoint" in out and "no trained and benchmarked encoder" in err
    assert not (tmp_path / "r.json").exists()


def test_results_md_numbers_come_from_the_json(collected):
    results, doc = collected
    document = json.loads(results.read_text())
    row = document["rows"][0]
    row["iou"], row["int8_mask_iou_vs_fp32"], row["int8_float_ops"] = 0.87654, 0.98765, 32
    row["int8_dynamic_mask_iou_vs_fp32"] = 0.99321
    ort_one = next(lat for lat in row["latency"] if lat["runtime"] == "ort-cpu" and lat["threads"] == 1)
    ort_one["p50_ms"] = 4321.0
    row["latency"].append({**ort_one, "runtime": "tflite", "format": "tflite", "precision": "int8-dynamic",
                           "artifact": "x-int8-dynamic.tflite", "p50_ms": 1234.5})
    results.write_text(json.dumps(document))
    assert seg_results(["--results", str(results), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "| 0.877 / " in text and "| 0.988 | 32 | 0.993 |" in text and "| 4321.0 |" in text
    assert "| LiteRT int8 dynamic |" in text and "| 1234.5 |" in text
    assert "(test split, torch fp32 IoU, training): EfficientNet-B0 0.877 (3 epochs, " in text
    assert (doc.parent / "results_iou_vs_latency.png").stat().st_size > 10_000
    assert "do not edit by hand" in text


def test_a_row_missing_a_key_is_refused(collected, capsys):
    results, doc = collected
    document = json.loads(results.read_text())
    del document["rows"][0]["int8_mask_iou_vs_fp32"]
    with pytest.raises(UserError, match="int8_mask_iou_vs_fp32"):
        validate(document, "results.json")
    results.write_text(json.dumps(document))
    before = doc.read_text()
    assert seg_results(["--results", str(results), "--doc", str(doc)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "int8_mask_iou_vs_fp32" in err[0]
    assert doc.read_text() == before  # nothing regenerated from a bad file


def test_collecting_keeps_other_presets_rows_and_replaces_its_own(collected, tiny_study):
    results, doc = collected
    document = json.loads(results.read_text())
    ours = document["rows"][0]
    gpu = {**ours, "device": "NVIDIA H200", "preset": "study", "iou": 0.5}
    older = {**ours, "device": "CPU (another machine, 2 threads)", "epochs": 1, "iou": 0.25}  # same preset, before
    document["rows"] = [older, gpu]
    results.write_text(json.dumps(document))
    assert seg_results(["--study", str(tiny_study), "--results", str(results), "--doc", str(doc)]) == 0
    rows = read_results(results)["rows"]
    assert [(r["device"], r["split"], r["iou"]) for r in rows][:2] == [(ours["device"], "test", ours["iou"]),
                                                                       ("NVIDIA H200", "test", 0.5)]
    assert [r["split"] for r in rows[2:]] == ["portraits"]  # a new key: appended


def test_not_a_study_folder_is_one_line(tmp_path, capsys):
    assert seg_results(["--study", str(tmp_path), "--results", str(tmp_path / "r.json")]) == 2
    assert "not a seg-study folder" in capsys.readouterr().err


def test_the_answer_gives_margins_from_the_rows(collected):
    from bench.results_doc import answer, latency_table

    effb0 = read_results(collected[0])["rows"][0]
    effb0 = {**effb0, "iou": 0.9, "latency": [{**lat, "p50_ms": 10.0} for lat in effb0["latency"]]}
    resnext = {**effb0, "encoder": "resnext50", "iou": 0.85, "latency": [{**lat, "p50_ms": 30.0} for lat in effb0["latency"]]}
    for lat in effb0["latency"] + resnext["latency"]:
        lat.update(runtime="tflite", precision="int8", artifact="x-int8.tflite")
    effb0["epochs"], effb0["train_hours"] = 12, 0.5
    resnext["train_hours"] = 0.5
    line, = answer([resnext, effb0])
    assert "EfficientNet-B0 0.900 (12 epochs, 0.50 h), ResNeXt-50 0.850 (3 epochs, " in line
    assert "Best: EfficientNet-B0, by 0.050." in line
    assert "p50: EfficientNet-B0 10.0 ms, ResNeXt-50 30.0 ms" in line
    assert "ResNeXt-50: -0.050 IoU against the best, 3.0x the fastest's int8 latency." in line
    assert "equal cost" not in line and "name differently" not in line  # one machine, 0.5 h each
    line, = answer([{**resnext, "iou": 0.95}, effb0])
    assert "Best: ResNeXt-50, by 0.050." in line and "against the best" not in line  # not "+0.000 against itself"

    longer = {**effb0, "train_hours": 1.2}  # EfficientNet-B0's epochs cost more on this CPU than the preset assumed
    assert "Not at equal cost: EfficientNet-B0 trained 2.4x as long as ResNeXt-50 on the same machine." in answer([resnext, longer])[0]
    elsewhere_trained = {**resnext, "device": "CPU (AMD EPYC family 26 model 2, 2 threads)"}
    assert "their hours do not compare" in answer([elsewhere_trained, longer])[0]

    elsewhere = {**resnext, "bench_cpu": "AMD EPYC family 26 model 2 (2 cores)"}  # a latency from another machine
    line, = answer([elsewhere, effb0])
    assert "ResNeXt-50 30.0 ms (AMD EPYC family 26 model 2 (2 cores))" in line and "no speed ratio" in line
    assert "x the fastest's" not in line and "ResNeXt-50: -0.050 IoU against the best." in line
    table = latency_table([elsewhere, effb0], effb0["dataset"])
    assert table[2].endswith("| measured on |") and "the machine each row names" in table[0]
    assert all(row.endswith(f"| {r['bench_cpu']} |") for r, row in zip([effb0] * 2 + [elsewhere] * 2, table[4:]))
    assert "measured on" not in "".join(latency_table([resnext, effb0], effb0["dataset"]))  # one machine: no column
