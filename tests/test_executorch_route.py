"""ExecuTorch route: seg-export --format executorch (fp32, int8) and seg-bench --backend executorch, on the shared
small trained model (128x128) and real CCP photos; the backend against the one timing rule on a fake clock."""
from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest
from test_bench_timing import H, IN_S, LOAD_S, OUT_S, W, _check_rule, _FakeOutput, _row, clock  # noqa: F401

from export.contract import read_contract
from export.fidelity import compare_masks
from export.isolated import run_isolated


@pytest.mark.slow
def test_fp32_pte_masks_equal_the_onnx_artifact_on_a_real_photo(exported, ccp_dir):
    pte, onnx = exported("executorch", "fp32"), exported("onnx", "fp32")
    contract = read_contract(pte)
    assert pte.suffix == ".pte" and contract.format == "executorch"
    assert (contract.input.layout, contract.input.dtype, contract.input.shape) == ("NCHW", "float32", [1, 3, 128, 128])
    assert any("XNNPACK runs" in note for note in contract.notes)
    photo = sorted((ccp_dir / "test" / "images").iterdir())[0]
    stats = run_isolated(compare_masks, onnx, pte, [photo], timeout=600)  # own process: TensorFlow may be loaded here
    assert stats["pooled_iou"] >= 0.999


@pytest.mark.slow
def test_int8_pte_records_its_agreement_with_fp32(exported):
    pte = exported("executorch", "int8")
    fidelity = read_contract(pte).fidelity
    assert fidelity.images > 0 and 0 <= fidelity.agreement <= 1 and fidelity.min_agreement == 0
    assert pte.stat().st_size < exported("executorch", "fp32").stat().st_size / 2


@pytest.mark.slow
def test_seg_bench_executorch_rows_have_latency_iou_and_parity(exported, ccp_dir, tmp_path):
    from bench.cli import main

    models = [exported("executorch", p) for p in ("fp32", "int8")]
    out = tmp_path / "bench"
    rc = main(["--model", str(models[0]), "--model", str(models[1]), "--backend", "executorch", "--data",
               str(ccp_dir), "--limit", "2", "--runs", "3", "--warmup", "1", "--threads", "1", "--out", str(out),
               "--no-progress", "--no-plots"])
    rows = json.loads((out / "results.json").read_text())["results"]
    assert rc == 0 and [(r["precision"], r["status"]) for r in rows] == [("fp32", "ok"), ("int8", "ok")]
    for r in rows:
        assert r["p50_ms"] > 0 and r["iou_split"] is not None and r["parity_mask_iou"] is not None
    assert rows[0]["parity_mask_iou"] >= 0.999 and rows[0]["versions"]["executorch"]


def test_executorch_backend_follows_the_timing_rule(clock, monkeypatch, tmp_path):  # noqa: F811
    import torch

    import export.formats.executorch.runner as runner

    class Method:
        def execute(self, inputs):
            assert tuple(inputs[0].shape) == (1, 3, H, W)
            clock.compute()
            return [_FakeOutput(clock)]

    class Runtime:
        @staticmethod
        def get():
            return Runtime()

        def load_program(self, path):
            clock.spend(LOAD_S)
            return types.SimpleNamespace(load_method=lambda name: Method())

    # a fake executorch.runtime: the real one must not load in a process that may hold TensorFlow
    monkeypatch.setitem(sys.modules, "executorch.runtime", types.SimpleNamespace(Runtime=Runtime))
    monkeypatch.setattr(runner, "set_threads", lambda threads: threads)
    monkeypatch.setattr(runner, "dynamo_too_late", lambda: False)
    real_from_numpy = torch.from_numpy

    def from_numpy(array):
        clock.spend(IN_S)
        return real_from_numpy(array)

    monkeypatch.setattr(torch, "from_numpy", from_numpy)
    result = _row("executorch", "executorch", "NCHW", tmp_path)
    _check_rule(result, clock, IN_S + OUT_S)
    assert result.threads == 1 and "XNNPACK" in result.runtime_options["delegate"]


def test_executorch_after_tensorflow_is_refused_in_one_line_not_a_crash(tmp_path):
    code = ("import tensorflow\nfrom export.formats.executorch.runner import ExecuTorchRunner\n"
            "from train.errors import UserError\n"
            "try:\n    ExecuTorchRunner('m.pte')\nexcept UserError as err:\n    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip().startswith("ExecuTorch cannot load in a process that imported TensorFlow first")
