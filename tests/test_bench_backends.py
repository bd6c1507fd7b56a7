"""seg-bench on the backends that run here (torch-cpu, ort-cpu, tflite) with a small trained export and
real CCP images; the matrix, foreign models, the unavailable backends and bad input."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from bench.backends import BACKENDS, make_backend
from bench.cli import main
from export.contract import read_contract
from export.integrity import artifact_digest
from export.preprocess import logits_to_mask, output_to_logits, to_input_tensor
from train.data import list_samples, read_person_mask, read_rgb

HOST = ("torch-cpu", "ort-cpu", "tflite")


def _rows(out):
    return json.loads((out / "results.json").read_text())["results"]


@pytest.fixture(scope="module")
def host_run(exported, ccp_dir, tmp_path_factory):
    """The small trained EfficientNet-B0 as ONNX and TFLite, on 3 CCP test images, 3 timed runs each."""
    onnx, tflite = exported("onnx"), exported("tflite")
    out = tmp_path_factory.mktemp("bench")
    rc = main(["--model", str(onnx), "--model", str(tflite), "--backend", ",".join(HOST), "--data", str(ccp_dir),
               "--limit", "3", "--runs", "3", "--warmup", "1", "--overlays", "2", "--out", str(out), "--no-progress"])
    return rc, out, onnx


@pytest.mark.slow
def test_host_backends_stats_parity_and_iou(host_run):
    rc, out, _ = host_run
    assert rc == 0
    rows = _rows(out)
    assert [r["backend"] for r in rows] == list(HOST)  # one PyTorch row: both files share checkpoint and size
    for r in rows:
        assert r["status"] == "ok", r["reason"]
        assert r["runs"] == 3 and r["warmup"] == 1 and r["threads"] >= 1
        assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["init_ms"] > 0 and r["first_ms"] > 0 and r["peak_rss_mb"] > 0 and r["file_mb"] > 0
        assert r["parity_images"] == 3 and r["iou_images"] == 3 and r["images"] == "ccp/test (3 images)"
        assert r["parity_mask_iou"] >= 0.99 and r["parity_equal_pixels"] >= 0.999  # fp32: the same masks
        assert r["parity_max_abs_logit"] < 1e-2
        assert 0 <= r["iou_split"] <= 1 and r["iou_per_image"] is not None
        assert r["cpu"] and r["runtime_options"]  # the settings it ran with are on the row
    assert (rows[0]["memory_format"], rows[1]["providers"]) == ("contiguous", "CPUExecutionProvider")
    assert rows[1]["runtime_options"]["intra_op_num_threads"] == str(rows[1]["threads"])
    assert rows[2]["runtime_options"]["num_threads"] == str(rows[2]["threads"])
    assert abs(rows[1]["iou_split"] - rows[0]["iou_split"]) < 1e-3 and abs(rows[2]["iou_split"] - rows[0]["iou_split"]) < 1e-2
    table = list(csv.DictReader((out / "results.csv").open()))
    assert [t["backend"] for t in table] == list(HOST) and table[1]["model"].endswith(".onnx")
    assert all((out / name).stat().st_size > 0 for name in ("report.md", "pareto.png", "overlays.png"))
    assert "| ort-cpu |" in (out / "report.md").read_text()


@pytest.mark.slow
def test_iou_matches_a_direct_computation(host_run, ccp_dir):
    """The ort-cpu row's split IoU, recomputed here straight from ONNX Runtime and the masks."""
    import onnxruntime as ort

    _, out, onnx = host_run
    contract = read_contract(onnx)
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    tp = union = 0
    for sample in list_samples(ccp_dir, "test", "folder")[:3]:
        rgb = read_rgb(sample.image)
        raw = session.run(None, {"input": to_input_tensor(rgb, contract)})[0]
        pred = logits_to_mask(output_to_logits(raw, contract), contract.postprocess, size=rgb.shape[:2])
        truth = read_person_mask(sample.label, None).astype(bool)
        tp, union = tp + np.count_nonzero(pred & truth), union + np.count_nonzero(pred | truth)
    row = next(r for r in _rows(out) if r["backend"] == "ort-cpu")
    assert row["iou_split"] == pytest.approx(tp / union)


def test_foreign_onnx_takes_its_contract_from_the_file_and_flags(exported, trained_checkpoint, tmp_path):
    foreign = tmp_path / "someone-elses.onnx"
    shutil.copy(exported("onnx"), foreign)  # no contract beside it
    out = tmp_path / "out"
    rc = main(["--model", str(foreign), "--backend", "ort-cpu", "--checkpoint", str(trained_checkpoint),
               "--limit", "2", "--runs", "2", "--warmup", "0", "--out", str(out), "--no-progress", "--no-plots"])
    assert rc == 0
    (row,) = _rows(out)
    assert row["status"] == "ok" and row["input_size"] == "128x128"
    assert row["images"].startswith("photos")  # no --data: the checkpoint's own val photos
    assert row["parity_mask_iou"] >= 0.99 and row["iou_split"] is None
    assert any("assumed ImageNet" in n for n in row["notes"]) and any("needs --data" in n for n in row["notes"])


def test_matrix_reports_every_backend_and_missing_encoders(exported, trained_checkpoint, tmp_path):
    root = tmp_path / "artifacts"
    (root / "efficientnet-b0").mkdir(parents=True)
    onnx = exported("onnx")
    for path in (onnx, onnx.with_name(onnx.name + ".json")):
        shutil.copy(path, root / "efficientnet-b0" / path.name)
    broken = root / "efficientnet-b0" / "broken.onnx"  # one failure must not stop the others
    broken.write_bytes(b"not a model")
    contract = json.loads(onnx.with_name(onnx.name + ".json").read_text())
    contract["artifact_sha256"], contract["artifact_bytes"] = artifact_digest(broken)  # so the runtime gets to load it
    broken.with_name("broken.onnx.json").write_text(json.dumps(contract))
    out = tmp_path / "out"
    # copied without their checkpoint (the contracts name it relative to where they were exported): name it here
    rc = main(["--encoder", "all", "--backend", "all", "--artifacts", str(root), "--runs", "2", "--warmup", "0",
               "--limit", "1", "--checkpoint", str(trained_checkpoint), "--out", str(out), "--no-progress", "--no-plots"])
    rows = _rows(out)
    assert rc == 1  # two encoders have no artifacts
    missing = [r for r in rows if "no exported" in r["reason"]]
    assert sorted(r["model"] for r in missing) == ["resnet152", "resnext50"]
    failed = {r["backend"]: r for r in rows if r["status"] == "failed" and r["model"] == "broken.onnx"}
    assert failed["ort-cpu"]["reason"].startswith("onnxruntime cannot load broken.onnx")
    assert set(failed) <= {"ort-cpu", "ort-web"}  # ort-web too where Chromium is installed
    if "ort-web" in failed:
        assert failed["ort-web"]["reason"].startswith("broken.onnx: onnxruntime-web cannot run it: ")
    effb0 = {r["backend"]: r for r in rows if r["encoder"] == "efficientnet-b0" and r["model"] != "broken.onnx"}
    assert set(effb0) == set(BACKENDS)
    assert effb0["ort-cpu"]["status"] == effb0["torch-cpu"]["status"] == "ok"
    assert effb0["tflite"]["reason"] == "nothing to run: no .tflite artifacts"
    for name, row in effb0.items():
        if row["status"] != "ok":
            assert row["status"] == "unavailable" and row["reason"] and "\n" not in row["reason"]


def test_unavailable_backends_say_why_in_one_line():
    import torch

    reasons = {name: make_backend(name).available() for name in BACKENDS}
    assert reasons["torch-cpu"] is None and reasons["ort-cpu"] is None and reasons["tflite"] is None
    if not torch.cuda.is_available():
        assert reasons["torch-cuda"] == "no CUDA GPU visible (torch.cuda.is_available() is False)"
        assert "no CUDA GPU" in reasons["ort-cuda"] and "no CUDA GPU" in reasons["ort-trt"]
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert "no CUDA EP in this onnxruntime" in reasons["ort-cuda"]
    if "TensorrtExecutionProvider" not in ort.get_available_providers():
        assert "no TensorRT EP in this onnxruntime" in reasons["ort-trt"]
    assert reasons["coreml"] == "Core ML needs macOS (this is Linux)"
    assert all("\n" not in r for r in reasons.values() if r)


@pytest.mark.parametrize("argv, message", [
    (["--model", "nowhere.onnx"], "model not found: nowhere.onnx"),
    (["--encoder", "efficientnet-b0", "--backend", "tpu"], "unknown backend 'tpu'"),
    (["--encoder", "efficientnet-b0", "--runs", "0"], "--runs must be at least 1"),
    (["--encoder", "efficientnet-b0", "--precision", "fp8"], "unknown precision 'fp8'"),
    (["--encoder", "mobilenet_v9"], "unknown encoder 'mobilenet_v9'"),
    (["--encoder", "efficientnet-b0", "--data", "no/such/dir"], "dataset folder not found"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seg-bench: error:") and message in err[0]


def test_paper_prints_the_study_beside_ours(tmp_path, capsys, monkeypatch):
    from bench import paper
    from bench.results import Result, write_json

    monkeypatch.setattr(paper, "parameter_counts", lambda: {e: {"encoder": 1_000_000, "total": 2_500_000}
                                                             for e in paper.STUDY_ENCODERS})
    rows = [Result("r.onnx", "ort-cpu", "fp32", encoder="resnet152", images="camvid/test (5 images)",
                   iou_split=0.3, mean_ms=900.0, input_size="512x512"),
            Result("r.pt", "torch-cuda", "fp16", encoder="resnet152", mean_ms=1.4, input_size="512x512", device="H100")]
    write_json(rows, tmp_path / "results.json", {})
    assert main(["--paper", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "paper.md").read_text()
    assert "| ResNet-152 | 60M | 1.0M | 2.50M |" in text
    assert "| ResNet-152 | > 0.96 | - | 0.412 | 0.300 (ort-cpu fp32, r.onnx) |" in text
    assert "1.40 ms at 512x512 on H100 (torch-cuda fp16, r.pt)" in text and "30.8" in text
