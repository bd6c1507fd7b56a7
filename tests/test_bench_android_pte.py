"""Android with a .pte: ExecuTorch's executor_runner output parser on recorded outputs, and the adb flow end to
end with the fake `adb` (tests/fixtures/benchmark_model/fake_adb.py) replaying them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.benchmark_model_output import BenchmarkOutputError
from bench.cli import main
from conftest import install_fake_adb
from bench.executor_runner_output import parse_executor_runner_output
from export.contract import ModelContract, Postprocess, Preprocess, Source, TensorSpec, write_contract

FIXTURES = Path(__file__).parent / "fixtures"
OUTPUTS = FIXTURES / "executor_runner"


def test_parser_reads_the_mean_over_all_executions_and_the_threads():
    report = parse_executor_runner_output((OUTPUTS / "ok.txt").read_text())
    assert report.mean_us == pytest.approx(612.458 / 35 * 1000)
    assert report.threads == 4 and report.timed is None


def test_parser_refuses_outputs_without_timings_with_the_runners_error():
    with pytest.raises(BenchmarkOutputError, match="printed no timings"):
        parse_executor_runner_output((OUTPUTS / "no_time.txt").read_text())
    with pytest.raises(BenchmarkOutputError, match=r"^kernel 'aten::upsample_nearest2d.vec_out' not found.$"):
        parse_executor_runner_output((OUTPUTS / "op_missing.txt").read_text())


@pytest.fixture
def phone(tmp_path, monkeypatch):
    """A .pte with its contract, an executor_runner binary, and the fake adb first on PATH."""
    model = tmp_path / "efficientnet-b0-256x256-int8.pte"
    model.write_bytes(b"\x00\x00\x00\x00ET12")  # never opened on the host: android only pushes it
    write_contract(ModelContract(
        format="executorch", precision="int8", artifact=model.name, input=TensorSpec("input", [1, 3, 256, 256], "NCHW"),
        output=TensorSpec("logits", [1, 1, 256, 256], "NCHW"), preprocess=Preprocess([0.5] * 3, [0.5] * 3),
        postprocess=Postprocess(), source=Source("efficientnet-b0", None, None, trained=False)), model)
    runner = tmp_path / "executor_runner"
    runner.write_bytes(b"\x7fELF")
    install_fake_adb(tmp_path, monkeypatch)

    def run(outputs: dict[str, str], *extra: str) -> tuple[int, list[dict]]:
        monkeypatch.setenv("FAKE_ADB_DEVICES", ",".join(f"{s}=device" for s in outputs))
        monkeypatch.setenv("FAKE_ADB_OUTPUTS", ",".join(f"{s}={OUTPUTS / f}" for s, f in outputs.items()))
        out = tmp_path / "out"
        rc = main(["--model", str(model), "--backend", "android", "--out", str(out), "--no-progress", "--no-plots",
                   "--force", *extra])
        rows = json.loads((out / "results.json").read_text())["results"] if (out / "results.json").exists() else []
        return rc, rows

    run.runner, run.model = runner, model
    run.calls = lambda: (tmp_path / "adb-state" / "calls.log").read_text()
    return run


def test_pte_rows_per_device_from_executor_runner(phone):
    rc, rows = phone({"A1": "ok.txt", "B2": "op_missing.txt"}, "--executor-runner", str(phone.runner),
                     "--runs", "30", "--warmup", "5", "--threads", "4")
    assert rc == 1  # B2's run failed
    a1, b2 = rows
    assert a1["status"] == "ok" and a1["mean_ms"] == pytest.approx(612.458 / 35) and a1["runs"] == 35
    assert a1["threads"] == 4 and a1["versions"]["executor_runner"] == "executor_runner"
    assert any("executor_runner" in note for note in a1["notes"])
    assert b2["status"] == "failed"
    assert b2["reason"] == ("executor_runner failed on B2 (exit 134): "
                            "kernel 'aten::upsample_nearest2d.vec_out' not found.")
    calls = phone.calls()
    for flag in (f"--model_path=/data/local/tmp/{phone.model.name}", "--num_executions=35", "--cpu_threads=4"):
        assert flag in calls
    assert f"-s A1 push {phone.runner} /data/local/tmp/executor_runner" in calls


def test_pte_without_executor_runner_says_what_it_needs(phone, tmp_path):
    benchmark_model = tmp_path / "benchmark_model"
    benchmark_model.write_bytes(b"\x7fELF")
    rc, rows = phone({"A1": "ok.txt"}, "--benchmark-model", str(benchmark_model))
    assert rows[0]["status"] == "unavailable"
    assert rows[0]["reason"].startswith("a .pte needs --executor-runner PATH")
