"""seg-export refuses bad input with one line and exit code 2, and leaves no file behind."""
from __future__ import annotations

from pathlib import Path

import pytest

from export.cli import main


def run(capsys, *args) -> tuple[int, str]:
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err.strip()


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2
    lines = err.splitlines()
    assert lines[-1].startswith("seg-export: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[-1]


@pytest.mark.parametrize("args, needle", [
    (["--format", "tensorrt"], "unknown format 'tensorrt'"),
    (["--format", "onnx", "--precision", "int4"], "unknown precision 'int4'"),
    (["--format", "onnx", "--precision", "int8"], "onnx export supports fp32, not int8"),
    (["--format", "all", "--precision", "bf16"], "unknown precision 'bf16'"),
])
def test_unknown_format_or_precision(capsys, tmp_path, args, needle):
    rc, err = run(capsys, "--encoder", "efficientnet-b0", *args, "--out", tmp_path)
    assert_one_line_error(rc, err, needle)
    assert not any(tmp_path.iterdir())


def test_encoder_that_does_not_match_checkpoint(capsys, tmp_path, trained_checkpoint):
    rc, err = run(capsys, "--encoder", "resnet152", "--checkpoint", trained_checkpoint, "--format", "onnx",
                  "--out", tmp_path)
    assert_one_line_error(rc, err, "efficientnet-b0", "not resnet152")
    assert not any(tmp_path.iterdir())


def test_corrupt_checkpoint(capsys, tmp_path, trained_checkpoint):
    broken = tmp_path / "best.pt"
    broken.write_bytes(trained_checkpoint.read_bytes()[:5000])
    out = tmp_path / "out"
    rc, err = run(capsys, "--encoder", "efficientnet-b0", "--checkpoint", broken, "--format", "onnx", "--out", out)
    assert_one_line_error(rc, err, "corrupt")
    assert not out.exists()


def test_empty_calibration_folder(capsys, tmp_path, trained_checkpoint):
    empty = tmp_path / "calib"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a picture")
    out = tmp_path / "out"
    rc, err = run(capsys, "--encoder", "efficientnet-b0", "--checkpoint", trained_checkpoint, "--format", "tflite",
                  "--precision", "int8", "--calib", empty, "--out", out)
    assert_one_line_error(rc, err, "holds no images")
    assert not out.exists()


@pytest.mark.parametrize("args, needle", [
    (["--format", "tflite", "--precision", "fp32", "--int8-io"], "only offered for tflite int8"),
    (["--format", "tflite", "--precision", "int8-dynamic", "--int8-io"], "only offered for tflite int8"),
    (["--format", "onnx", "--precision", "int8-dynamic"], "not int8-dynamic"),
    (["--format", "onnx", "--imgsz", "100", "128"], "multiples of 32"),
])
def test_impossible_combinations(capsys, tmp_path, trained_checkpoint, args, needle):
    rc, err = run(capsys, "--encoder", "efficientnet-b0", "--checkpoint", trained_checkpoint, *args, "--out", tmp_path)
    assert_one_line_error(rc, err, needle)
    assert not any(tmp_path.iterdir())


def test_existing_output_needs_force(capsys, exported, trained_checkpoint):
    artifact = exported("onnx")
    before = artifact.stat().st_mtime_ns
    rc, err = run(capsys, "--encoder", "efficientnet-b0", "--checkpoint", trained_checkpoint, "--format", "onnx",
                  "--out", artifact.parent)
    assert_one_line_error(rc, err, "already exists", "--force")
    assert artifact.stat().st_mtime_ns == before


class _FakeExporter:
    def __init__(self, name: str, fail: bool):
        self.name, self.fail, self.precisions, self.suffix = name, fail, ("fp32",), f".{name}"

    def export(self, job) -> Path:
        if self.fail:
            raise RuntimeError("converter exploded\nsecond line")
        job.artifact.parent.mkdir(parents=True, exist_ok=True)
        job.artifact.write_bytes(b"x" * 10)
        return job.artifact


def test_format_all_goes_past_a_failure_and_reports_it(capsys, monkeypatch, tmp_path, trained_checkpoint):
    import export.api
    import export.registry

    fakes = {name: _FakeExporter(name, fail) for name, fail in (("good", False), ("bad", True))}
    monkeypatch.setattr(export.registry, "EXPORTERS", fakes)
    monkeypatch.setattr(export.api, "get_exporter", lambda fmt, precision: fakes[fmt])
    rc = main(["--encoder", "efficientnet-b0", "--checkpoint", str(trained_checkpoint), "--format", "all",
               "--out", str(tmp_path)])
    table = capsys.readouterr().out.splitlines()
    assert rc == 1
    assert table[0].split()[:6] == ["format", "precision", "file", "size", "time", "status"]
    good, bad = (next(line for line in table if line.startswith(name)) for name in ("good", "bad"))
    assert good.endswith("ok") and "efficientnet-b0-128x128-fp32.good" in good
    assert "FAILED RuntimeError: converter exploded" in bad and "second line" not in bad
    assert sorted(p.name for p in tmp_path.iterdir()) == ["efficientnet-b0-128x128-fp32.good"]


def test_untrained_export_says_so_loudly_and_records_the_seed(capsys, monkeypatch, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    from export.contract import read_contract
    from train.zoo import build_unet

    monkeypatch.chdir(tmp_path)  # no runs/train/**/best.pt here
    rc = main(["--encoder", "efficientnet-b0", "--format", "onnx", "--imgsz", "64", "64", "--out", "out"])
    captured = capsys.readouterr()
    assert rc == 0 and "UNTRAINED" in captured.err
    artifact = tmp_path / captured.out.strip()
    contract = read_contract(artifact)
    assert (contract.source.trained, contract.source.checkpoint, contract.source.init_seed) == (False, None, 0)
    torch.manual_seed(contract.source.init_seed)  # the recorded seed rebuilds the exported weights
    model = build_unet("efficientnet-b0").eval()
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64), dtype=np.float32)
    got = ort.InferenceSession(str(artifact), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-3 * max(1.0, float(np.abs(want).max())))


def test_interrupted_export_leaves_no_file(monkeypatch, tmp_path, trained_checkpoint):
    import export.formats.onnx as onnx_format
    from export.api import export_model

    def interrupt(*args):
        raise KeyboardInterrupt  # Ctrl-C after the file was written, before it was checked

    monkeypatch.setattr(onnx_format, "compare_with_torch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_model(trained_checkpoint, "efficientnet-b0", "onnx", out_dir=tmp_path / "out", imgsz=(64, 64))
    assert list((tmp_path / "out").iterdir()) == []
