"""Reliability and safety (issue 11): a crashing runtime is one failed row, artifacts are checksummed and
relocatable, and seg-bench never silently replaces results."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import android_script

from export.contract import ModelContract, contract_path, read_contract
from export.integrity import artifact_digest, locate_checkpoint, portable_path, verify_artifact
from export.isolated import IsolationError, progress, run_isolated
from train.checkpoint import file_sha256
from train.errors import UserError

FAST = ["--runs", "1", "--warmup", "0", "--limit", "1", "--no-plots", "--no-progress"]


# Module-level, so the child process of run_isolated can import them by name.
def _double(x):
    progress("halfway")
    return 2 * x


def _raise():
    raise UserError("a one-line problem")


def _segfault(*_):
    os.kill(os.getpid(), signal.SIGSEGV)


def _abort():
    os.abort()


def _hang():
    time.sleep(120)


def _crash_on_tflite(job, *rest):
    """A worker whose TFLite runtime dies with SIGSEGV; every other row is measured for real."""
    from bench.runner import _measure_row

    if job.backend == "tflite":
        _segfault()
    return _measure_row(job, *rest)


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- isolation ---------------------------------------------------------------------------------------------

def test_isolated_call_returns_raises_and_survives_native_deaths():
    said = []
    assert run_isolated(_double, 21, on_progress=said.append) == 42 and said == ["halfway"]
    with pytest.raises(UserError, match="a one-line problem"):  # errors come back as themselves
        run_isolated(_raise)
    for target, reason in ((_segfault, "crashed: SIGSEGV"), (_abort, "crashed: SIGABRT")):
        with pytest.raises(IsolationError) as err:
            run_isolated(target)
        assert str(err.value) == reason
    start = time.monotonic()
    with pytest.raises(IsolationError, match=r"^timed out after 1\.5 s$"):
        run_isolated(_hang, timeout=1.5)
    assert time.monotonic() - start < 30  # the hung child was killed, not waited for


def test_a_crashing_worker_is_one_failed_row(monkeypatch):
    import bench.runner as runner
    from bench.backends import BackendOptions
    from bench.images import synthetic_images
    from bench.jobs import Job

    monkeypatch.setattr(runner, "_measure_row", _segfault)
    job = Job("tflite", "m.tflite", "efficientnet-b0", "tflite", "fp32", Path("m.tflite"))
    (outcome,) = runner.measure_isolated(job, BackendOptions(), synthetic_images(1, (64, 64)), runner.Settings(), None, 60)
    assert (outcome.result.status, outcome.result.reason) == ("failed", "crashed: SIGSEGV")
    assert outcome.result.model == "m.tflite" and outcome.result.backend == "tflite"


# --- output folders ----------------------------------------------------------------------------------------

def test_out_naming_a_file_is_one_line_and_exit_2(tmp_path, capsys):
    from bench.cli import main as bench
    from export.cli import main as export

    file = tmp_path / "results"
    file.write_text("not a folder")
    for main, argv, prog in ((bench, ["--model", "m.onnx"], "seg-bench"), (bench, ["--paper"], "seg-bench"),
                             (export, ["--encoder", "efficientnet-b0", "--format", "onnx"], "seg-export")):
        assert main([*argv, "--out", str(file)]) == 2
        line = _one_line(capsys.readouterr().err)
        assert line == f"{prog}: error: --out {file} is a file, not a folder"
    assert file.read_text() == "not a folder"


def test_seg_bench_refuses_to_replace_results_without_force(exported, tmp_path, capsys):
    from bench.cli import main

    onnx = exported("onnx")
    out = tmp_path / "out"
    argv = ["--model", str(onnx), "--backend", "ort-cpu", "--no-parity", *FAST, "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"results.json", "results.csv", "report.md"} <= set(before)
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("seg-bench: error:") and "already holds results" in line and "--force" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    report = out / "report.md"
    report.unlink()  # one of the three is enough to refuse
    (out / "elsewhere.json").write_text("{}")
    assert main([*argv, "--json", str(out / "elsewhere.json")]) == 2
    assert "elsewhere.json" in _one_line(capsys.readouterr().err)
    assert main([*argv, "--force"]) == 0
    assert json.loads((out / "results.json").read_text())["results"][0]["status"] == "ok" and report.exists()


# --- checksummed, relocatable contracts ----------------------------------------------------------------------

def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_contract_records_checksum_and_no_absolute_path(exported, trained_checkpoint):
    onnx = exported("onnx")
    data = json.loads(contract_path(onnx).read_text())
    assert data["schema_version"] == 2
    assert (data["artifact_sha256"], data["artifact_bytes"]) == (file_sha256(onnx), onnx.stat().st_size)
    for text in _strings(data):
        assert not any(os.path.isabs(word.strip("(),;:")) for word in text.split()), text
    checkpoint = data["source"]["checkpoint"]
    assert (onnx.parent / checkpoint).resolve() == trained_checkpoint.resolve()  # relative to the contract
    assert locate_checkpoint(checkpoint, onnx.parent).resolve() == trained_checkpoint.resolve()


@pytest.mark.slow
def test_tflite_contracts_name_no_machine_path(exported):
    for precision in ("fp32", "int8"):
        artifact = exported("tflite", precision)
        data = json.loads(contract_path(artifact).read_text())
        assert (data["artifact_sha256"], data["artifact_bytes"]) == artifact_digest(artifact)
        for text in _strings(data):  # notes included: calibration and held-out folders by their last parts
            assert not any(os.path.isabs(word.strip("(),;:")) for word in text.split()), text


def test_relocated_artifacts_still_find_their_checkpoint(tmp_path, monkeypatch):
    (tmp_path / "runs" / "train" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "export" / "effb0").mkdir(parents=True)
    ckpt = tmp_path / "runs" / "train" / "a" / "best.pt"
    ckpt.write_bytes(b"weights")
    name = portable_path(ckpt, tmp_path / "runs" / "export" / "effb0")
    assert name == "../../train/a/best.pt"
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "runs", moved / "runs")  # the whole tree moved: still found beside the contract
    assert locate_checkpoint(name, moved / "runs" / "export" / "effb0") == moved / "runs" / "train" / "a" / "best.pt"
    monkeypatch.chdir(tmp_path)  # or as given, relative to the current directory
    assert locate_checkpoint("runs/train/a/best.pt", tmp_path / "nowhere") == Path("runs/train/a/best.pt")
    from train.default_model import DEFAULT_WEIGHTS, expected_sha256

    if DEFAULT_WEIGHTS.is_file():  # the shipped default is also found by its checksum
        assert locate_checkpoint("x.safetensors", tmp_path, expected_sha256(DEFAULT_WEIGHTS)) == DEFAULT_WEIGHTS
    assert portable_path("/opt/models/best.pt", tmp_path) == "best.pt"  # nothing shared but the root: the name


def test_schema_1_contracts_are_still_read(exported, tmp_path):
    onnx = exported("onnx")
    data = json.loads(contract_path(onnx).read_text())
    for key in ("artifact_sha256", "artifact_bytes"):
        del data[key]
    data["schema_version"] = 1
    old = ModelContract.from_dict(data)
    assert old.artifact_sha256 is None
    verify_artifact(onnx, old)  # nothing recorded: nothing to refuse
    data["schema_version"] = 3
    with pytest.raises(UserError, match="contract schema 3 is not 1 or 2"):
        ModelContract.from_dict(data)


def _damaged_copy(artifact: Path, folder: Path, keep: float = 0.5) -> Path:
    """The artifact cut to `keep` of its size, with the original's contract beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"truncated{artifact.suffix}"
    data = artifact.read_bytes()
    copy.write_bytes(data[:int(len(data) * keep)])
    shutil.copyfile(contract_path(artifact), contract_path(copy))
    return copy


def test_verify_artifact_refuses_in_one_line(exported, tmp_path):
    onnx = exported("onnx")
    short = _damaged_copy(onnx, tmp_path)
    with pytest.raises(UserError) as err:
        verify_artifact(short, read_contract(short))
    assert "truncated.onnx does not match its contract: it has" in str(err.value) and "\n" not in str(err.value)
    flipped = tmp_path / "flipped.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    shutil.copyfile(contract_path(onnx), contract_path(flipped))
    with pytest.raises(UserError, match="its sha256 differs from the contract's"):
        verify_artifact(flipped, read_contract(flipped))
    folder = tmp_path / "m.mlpackage"  # folder artifacts (Core ML) are hashed file by file
    (folder / "Data").mkdir(parents=True)
    (folder / "Data" / "w.bin").write_bytes(b"12345")
    sha, size = artifact_digest(folder)
    (folder / "Data" / "w.bin").write_bytes(b"12346")
    changed, same_size = artifact_digest(folder)
    assert same_size == size == 5 and changed != sha


# --- the done-when command, and a runtime that really crashes --------------------------------------------------

def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """seg-bench as a user runs it: its own process, so a signal death would show as a negative return code."""
    seg_bench = Path(sys.executable).with_name("seg-bench")
    if not seg_bench.exists():
        pytest.skip(f"{seg_bench} is not installed (bash .ci/install)")
    return subprocess.run([str(seg_bench), *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def _rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())["results"]


@pytest.mark.slow
def test_truncated_tflite_is_one_failed_row_and_the_other_is_kept(exported, tmp_path):
    """The issue's done-when: good.onnx + truncated.tflite (its contract copied) on ort-cpu and tflite."""
    good = tmp_path / "models" / "good.onnx"
    good.parent.mkdir()
    shutil.copyfile(exported("onnx"), good)
    shutil.copyfile(contract_path(exported("onnx")), contract_path(good))
    truncated = _damaged_copy(exported("tflite"), tmp_path / "models")
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        done = _bench("--backend", "ort-cpu,tflite", "--model", str(good), "--model", str(truncated), "--json",
                      str(out / "rows.json"), "--out", str(out), "--no-parity", *FAST, cwd=tmp_path)
        assert done.returncode == 1, done.stderr[-3000:]  # a failed row: exit 1, never a signal
        assert "Traceback" not in done.stderr + done.stdout
        rows = _rows(out / "rows.json")
        assert [(r["model"], r["backend"], r["status"]) for r in rows] == \
               [("good.onnx", "ort-cpu", "ok"), ("truncated.tflite", "tflite", "failed")]
        assert "truncated.tflite does not match its contract" in rows[1]["reason"]
        refused = [line for line in done.stderr.splitlines() if line.startswith("seg-bench: refused:")]
        assert len(refused) == 1 and "does not match its contract" in refused[0]


@pytest.mark.slow
def test_a_truncated_tflite_that_reaches_the_runtime_fails_only_its_row(exported, tmp_path):
    """The same file with its checksum re-recorded, so LiteRT really loads it: an error or a crash, one row."""
    good = exported("onnx")
    truncated = _damaged_copy(exported("tflite"), tmp_path / "models")
    data = json.loads(contract_path(truncated).read_text())
    data["artifact_sha256"], data["artifact_bytes"] = artifact_digest(truncated)
    contract_path(truncated).write_text(json.dumps(data))
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        done = _bench("--backend", "ort-cpu,tflite", "--model", str(good), "--model", str(truncated),
                      "--out", str(out), "--no-parity", *FAST, cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
        ok, failed = _rows(out / "results.json")
        assert (ok["status"], failed["status"], failed["model"]) == ("ok", "failed", "truncated.tflite")
        assert failed["reason"] and "\n" not in failed["reason"]


@pytest.mark.slow
def test_a_runtime_killed_by_sigsegv_is_one_failed_row(exported, tmp_path, monkeypatch, capsys):
    import bench.runner
    from bench.cli import main

    monkeypatch.setattr(bench.runner, "_measure_row", _crash_on_tflite)
    out = tmp_path / "out"
    rc = main(["--backend", "ort-cpu,tflite", "--model", str(exported("onnx")), "--model", str(exported("tflite")),
               "--out", str(out), *FAST])
    assert rc == 1
    rows = _rows(out / "results.json")
    assert [(r["backend"], r["status"], r["reason"]) for r in rows] == \
           [("ort-cpu", "ok", ""), ("tflite", "failed", "crashed: SIGSEGV")]
    assert rows[0]["parity_images"] == 1  # the PyTorch reference, found through the contract's relative path
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
def test_a_crash_in_the_int8_fidelity_check_is_one_line(exported, trained_checkpoint, ccp_dir, tmp_path, monkeypatch,
                                                        capsys):
    import export.fidelity
    from export.cli import main

    exported("tflite", "int8")  # calibrated once in this process: the export below reuses it
    monkeypatch.setattr(export.fidelity, "compare_masks", _segfault)
    out = tmp_path / "out"
    rc = main(["--encoder", "efficientnet-b0", "--checkpoint", str(trained_checkpoint), "--format", "tflite",
               "--precision", "int8", "--calib", str(ccp_dir / "train" / "images"), "--calib-count", "16",
               "--out", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "seg-export: tflite int8 failed: the int8 fidelity check crashed: SIGSEGV"
    assert "Traceback" not in err
    assert not out.exists() or not [p for p in out.iterdir() if p.suffix == ".tflite"]


@pytest.mark.slow
def test_install_model_refuses_a_damaged_model(exported, tmp_path, capsys):
    install = android_script("install_model", "main")
    damaged = _damaged_copy(exported("tflite"), tmp_path / "models", keep=0.9)
    assets = tmp_path / "assets"
    assert install([str(damaged), "--assets", str(assets)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("install_model: error: truncated.tflite does not match its contract")
    assert not assets.exists()
    good = exported("tflite")
    assert install([str(good), "--assets", str(assets)]) == 0
    installed = json.loads((assets / "model.json").read_text())
    assert (installed["artifact_sha256"], installed["artifact_bytes"]) == artifact_digest(assets / "model.tflite")


@pytest.mark.slow
def test_a_truncated_foreign_tflite_is_one_line(exported, tmp_path):
    """No contract beside it: seg-bench reads its tensors in a child process, so even a crash there is one line."""
    foreign = tmp_path / "foreign.tflite"
    foreign.write_bytes(exported("tflite").read_bytes()[:100_000])
    for attempt in range(2):
        done = _bench("--model", str(foreign), "--backend", "tflite", "--out", str(tmp_path / f"out{attempt}"), *FAST,
                      cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
        ours = [line for line in done.stderr.splitlines() if line.startswith("seg-bench:")]  # LiteRT may log too
        assert len(ours) == 1 and ours[0].startswith("seg-bench: error: LiteRT cannot read foreign.tflite"), ours
