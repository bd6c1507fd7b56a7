"""The routes table (bench/routes.py): which artifact to ship, from seg-bench rows and contracts alone."""
from __future__ import annotations

import json

import pytest

from bench.results import Result, write_json
from bench.routes import RouteRow, build_rows, main, markdown, recommend
from export.contract import ModelContract, Postprocess, Preprocess, Source, TensorSpec, write_contract


def row(route, latency, agreement, status="ok", precision="int8"):
    return RouteRow(route, precision, f"{route}.bin", latency, 5.0, 10.0, agreement, 0.9, status)


def test_ships_the_fastest_artifact_that_agrees_with_fp32():
    rows = [row("fast but unfaithful", 10.0, 0.9799), row("faithful", 20.0, 0.985), row("slow", 40.0, 0.999),
            row("failed", 5.0, None, status="failed"), row("exactly at the floor", 30.0, 0.98)]
    assert recommend(rows).route == "faithful"
    assert recommend(rows, floor=0.99).route == "slow"
    assert recommend(rows, floor=0.9995) is None


def test_table_names_the_pick_and_says_when_nothing_qualifies():
    rows = [row("a", 10.0, 0.95), row("b", 12.0, 0.99)]
    text = markdown(rows, recommend(rows), 0.98, "AMD EPYC 9B14", 1)
    assert "Ship: `b.bin` (b, int8)" in text and "| **b** |" in text and "AMD EPYC 9B14, 1 thread(s)" in text
    assert "Ship: none of these" in markdown(rows[:1], None, 0.98, "", None)


def _artifact(folder, name, fmt, tools, layout="NCHW"):
    path = folder / name
    path.write_bytes(b"model")
    shape_in = [1, 3, 64, 64] if layout == "NCHW" else [1, 64, 64, 3]
    shape_out = [1, 1, 64, 64] if layout == "NCHW" else [1, 64, 64, 1]
    write_contract(ModelContract(fmt, "fp32", name, TensorSpec("input", shape_in, layout),
                                 TensorSpec("logits", shape_out, layout), Preprocess([0.5] * 3, [0.5] * 3),
                                 Postprocess(), Source("efficientnet-b0", None, None, False), tools=tools), path)


def test_rows_come_from_bench_results_joined_with_contracts_and_conversion_times(tmp_path, capsys):
    _artifact(tmp_path, "m-fp32.pte", "executorch", {})
    _artifact(tmp_path, "m-fp32-litert-torch.tflite", "tflite", {"converter": "litert-torch"}, "NHWC")
    _artifact(tmp_path, "m-fp32.tflite", "tflite", {"onnx2tf": "2.6.9"}, "NHWC")
    (tmp_path / "conversions.json").write_text(json.dumps({"m-fp32.pte": 44.0}))
    results = [Result("m-fp32.pte", "executorch", "fp32", format="executorch", p50_ms=40.0, file_mb=9.0,
                      parity_mask_iou=1.0, iou_split=0.87, cpu="AMD EPYC", threads=1),
               Result("m-fp32-litert-torch.tflite", "tflite", "fp32", format="tflite", p50_ms=35.0,
                      parity_mask_iou=0.9999, iou_split=0.87),
               Result("m-fp32.tflite", "tflite", "fp32", format="tflite", status="failed", reason="boom"),
               Result("m-fp32.pte", "android", "fp32", format="executorch", mean_ms=12.0),  # not a host row
               Result("m (PyTorch)", "torch-cpu", "fp32", format="torch", p50_ms=50.0, iou_split=0.87)]
    write_json(results, tmp_path / "results.json", {})
    rows = build_rows(results, tmp_path)
    assert [r.route for r in rows] == ["TFLite by LiteRT-Torch", "ExecuTorch (XNNPACK)", "PyTorch eager (reference)",
                                       "TFLite by onnx2tf"]
    assert rows[1].convert_s == 44.0 and rows[3].status == "failed"
    assert main(["table", "--results", str(tmp_path / "results.json"), "--artifacts", str(tmp_path)]) == 0
    assert "Ship: `m-fp32-litert-torch.tflite`" in capsys.readouterr().out


def test_table_without_results_is_one_line(tmp_path, capsys):
    assert main(["table", "--results", str(tmp_path / "none.json"), "--artifacts", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot read seg-bench results" in err
