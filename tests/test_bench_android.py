"""Android through benchmark_model: the output parser on every recorded format, and the adb flow end to
end with a fake `adb` on PATH (tests/fixtures/benchmark_model/fake_adb.py) replaying those outputs."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.benchmark_model_output import BenchmarkOutputError, parse_benchmark_output
from bench.cli import main
from conftest import install_fake_adb
from export.contract import ModelContract, Postprocess, Preprocess, Source, TensorSpec, write_contract

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark_model"


@pytest.mark.parametrize("name, runs, mean_us, warmup_runs, first_us, init_us, median_us, peak_mb, delta_mb", [
    ("percentiles.txt", 124, 8021.6, 61, 12904, 52817, 7962, 51.1055, 46.9727),
    ("info_prefix.txt", 251, 3981.3, 121, 9518, 1436920, None, 126.379, 118.742),
    ("plain_enotation.txt", 20, 2.13388e6, 3, 2.41913e6, 1.27551e6, None, None, 395.809),
    ("oldest.txt", 20, 14878.5, 1, 19042, 61340, None, None, None),
])
def test_parser_reads_every_format(name, runs, mean_us, warmup_runs, first_us, init_us, median_us, peak_mb, delta_mb):
    report = parse_benchmark_output((FIXTURES / name).read_text())
    assert report.timed.count == runs and report.mean_us == pytest.approx(mean_us)
    assert report.warmup.count == warmup_runs
    assert report.first_us == pytest.approx(first_us) and report.init_us == pytest.approx(init_us)
    assert report.timed.median_us == (pytest.approx(median_us) if median_us else None)
    assert report.memory_peak_mb == (pytest.approx(peak_mb) if peak_mb else None)
    assert report.memory_overall_mb == (pytest.approx(delta_mb) if delta_mb else None)


def test_parser_without_timed_lines_and_with_prefix_variants():
    text = "INFO: Inference timings in us: Init: 1.5e+03, First inference: 9, Warmup (avg): 8, Inference (avg): 7.5\n"
    report = parse_benchmark_output(text)
    assert (report.init_us, report.first_us, report.mean_us) == (1500, 9, 7.5) and report.timed is None
    old = parse_benchmark_output("Average inference timings in us: Warmup: 20, Init: 30, no stats: 10.5")
    assert (old.warmup_avg_us, old.init_us, old.mean_us) == (20, 30, 10.5)


def test_parser_reports_the_tools_error():
    with pytest.raises(BenchmarkOutputError, match="Didn't find op for builtin opcode 'CONV_2D'"):
        parse_benchmark_output((FIXTURES / "model_rejected.txt").read_text())
    with pytest.raises(BenchmarkOutputError, match="no timings"):
        parse_benchmark_output("STARTING!\n")


@pytest.fixture
def phone(tmp_path, monkeypatch):
    """A .tflite with its contract, a benchmark_model binary, and a fake adb first on PATH."""
    model = tmp_path / "effb0-128x128-fp32.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3")  # never opened on the host: android only pushes it
    write_contract(ModelContract(
        format="tflite", precision="fp32", artifact=model.name, input=TensorSpec("input", [1, 128, 128, 3], "NHWC"),
        output=TensorSpec("logits", [1, 128, 128, 1], "NHWC"), preprocess=Preprocess([0.5] * 3, [0.5] * 3),
        postprocess=Postprocess(), source=Source("efficientnet-b0", None, None, trained=False)), model)
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    install_fake_adb(tmp_path, monkeypatch)

    def run(devices: dict[str, str], outputs: dict[str, str], *extra: str) -> tuple[int, list[dict]]:
        monkeypatch.setenv("FAKE_ADB_DEVICES", ",".join(f"{s}={st}" for s, st in devices.items()))
        monkeypatch.setenv("FAKE_ADB_OUTPUTS", ",".join(f"{s}={FIXTURES / f}" for s, f in outputs.items()))
        out = tmp_path / "out"
        rc = main(["--model", str(model), "--backend", "android", "--benchmark-model", str(binary), "--out", str(out),
                   "--no-progress", "--no-plots", *extra])
        rows = json.loads((out / "results.json").read_text())["results"] if (out / "results.json").exists() else []
        return rc, rows

    run.calls = lambda: (tmp_path / "adb-state" / "calls.log").read_text()
    run.binary, run.model = binary, model
    return run


def test_one_row_per_device_from_each_output_format(phone):
    rc, rows = phone({"A1": "device", "B2": "device", "C3": "device"},
                     {"A1": "percentiles.txt", "B2": "plain_enotation.txt", "C3": "oldest.txt"},
                     "--runs", "7", "--warmup", "2", "--threads", "4", "--use-gpu", "--no-use-xnnpack")
    assert rc == 0
    assert [r["status"] for r in rows] == ["ok"] * 3
    a1, b2, c3 = rows
    assert a1["device"] == "Google Pixel-1 (Tensor G2) [A1]" and a1["versions"]["android"] == "14"
    assert (a1["runs"], a1["mean_ms"], a1["p50_ms"], a1["p95_ms"]) == (124, pytest.approx(8.0216), 7.962, 8.561)
    assert a1["peak_rss_mb"] == 51.1055 and a1["init_ms"] == pytest.approx(52.817) and a1["threads"] == 4
    assert b2["mean_ms"] == pytest.approx(2133.88) and b2["min_ms"] == pytest.approx(2109.82)
    assert c3["first_ms"] == pytest.approx(19.042) and c3["p50_ms"] is None
    calls = phone.calls()
    for flag in ("--num_runs=7", "--warmup_runs=2", "--num_threads=4", "--use_gpu=true", "--use_nnapi=false",
                 "--use_xnnpack=false", "--report_peak_memory_footprint=true",
                 f"--graph=/data/local/tmp/{phone.model.name}"):
        assert flag in calls
    assert f"-s B2 push {phone.binary} /data/local/tmp/benchmark_model" in calls


def test_chosen_serials_only_and_device_problems_become_rows(phone):
    rc, rows = phone({"A1": "device", "B2": "unauthorized", "C3": "device", "D4": "offline"},
                     {"A1": "info_prefix.txt", "C3": "percentiles.txt"},
                     "--serial", "A1", "--serial", "B2", "--serial", "D4", "--serial", "Z9")
    assert rc == 0  # unavailable devices are reported, not failures
    assert [r["status"] for r in rows] == ["ok", "unavailable", "unavailable", "unavailable"]
    assert "B2 is unauthorized: unlock it and accept the USB debugging prompt" in rows[1]["reason"]
    assert "D4 is offline" in rows[2]["reason"] and "Z9 is not connected" in rows[3]["reason"]
    assert "-s C3" not in phone.calls()


def test_rejected_model_fails_its_row_with_the_tools_error(phone):
    rc, rows = phone({"A1": "device"}, {"A1": "model_rejected.txt"})
    assert rc == 1
    assert rows[0]["status"] == "failed"
    assert rows[0]["reason"].startswith("benchmark_model failed on A1 (exit 1): Didn't find op for builtin opcode")


@pytest.mark.parametrize("case, expected", [
    ("no device", "no adb device connected"),
    ("binary missing", "benchmark_model binary not found"),
    ("no binary flag", "needs --benchmark-model PATH"),
    ("adb missing", "adb not found on PATH"),
])
def test_unavailable_android_says_why(phone, monkeypatch, case, expected):
    devices = {} if case == "no device" else {"A1": "device"}
    if case == "binary missing":
        phone.binary.unlink()
    if case == "adb missing":
        monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not Path(p, "adb").exists()))
    if case == "no binary flag":
        monkeypatch.setenv("FAKE_ADB_DEVICES", "A1=device")
        out = phone.model.parent / "out"
        rc = main(["--model", str(phone.model), "--backend", "android", "--out", str(out), "--no-progress", "--no-plots"])
        rows = json.loads((out / "results.json").read_text())["results"]
    else:
        rc, rows = phone(devices, {"A1": "percentiles.txt"})
    assert rc == 1  # nothing ran
    assert len(rows) == 1 and rows[0]["status"] == "unavailable" and expected in rows[0]["reason"]
    assert "\n" not in rows[0]["reason"]
