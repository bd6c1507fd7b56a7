"""seg-bench's numbers on inputs with known answers: latency statistics, IoU, parity, result files."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from bench.foreign import read_logits
from bench.images import dataset_images
from bench.jobs import Job
from bench.metrics import ParityMeter, latency_stats
from bench.plots import pareto_front
from bench.reference import ReferenceLogits
from bench.results import COLUMNS, Result, csv_text, read_json, write_json
from bench.runner import Settings, measure
from bench.backends.base import Backend
from export.contract import ModelContract, Postprocess, Preprocess, Source, TensorSpec
from train.metrics import MaskIoU


def test_latency_stats_of_known_samples():
    stats = latency_stats([float(v) for v in range(1, 101)])
    assert stats["mean_ms"] == pytest.approx(50.5)
    assert stats["min_ms"] == 1 and stats["max_ms"] == 100
    assert stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p90_ms"] == pytest.approx(90.1)
    assert stats["p99_ms"] == pytest.approx(99.01)
    assert stats["std_ms"] == pytest.approx(np.std(np.arange(1, 101)))


def test_iou_per_image_and_over_the_split():
    meter = MaskIoU()
    pred, truth = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    pred[0, :4] = True  # 4 predicted pixels
    truth[0, 2:] = truth[1, 2:] = True  # 4 true pixels, 2 of them predicted
    assert meter.add(pred, truth) == pytest.approx(2 / 6)
    assert meter.add(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0  # nobody, nobody found: perfect
    assert meter.add(np.ones((2, 2), bool), np.zeros((2, 2), bool)) == 0.0  # 4 false positives
    assert meter.mean_per_image == pytest.approx((2 / 6 + 1 + 0) / 3)
    assert meter.min_per_image == 0.0 and meter.images == 3
    assert meter.pooled == pytest.approx(2 / (6 + 0 + 4))
    with pytest.raises(ValueError, match="shapes differ"):
        meter.add(pred, truth[:2])
    assert MaskIoU().pooled is None and MaskIoU().mean_per_image is None  # no images, no figure


def test_shared_iou_is_the_trainers_smp_iou():
    """The trainer's smp reductions (micro; micro-imagewise, zero_division=1) and MaskIoU give the same numbers."""
    import torch

    from train.epoch import confusion_stats
    smp = pytest.importorskip("segmentation_models_pytorch")

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 1, 8, 8)).astype(np.float32) - 0.5
    truth = rng.random((5, 1, 8, 8)) < 0.4
    logits[1], truth[1] = -1.0, False  # nobody, nobody found: 1 per image
    meter = MaskIoU()
    for pred, mask in zip(logits > 0, truth):
        meter.add(pred, mask)
    tp, fp, fn, tn = confusion_stats(torch.from_numpy(logits), torch.from_numpy(truth).long())
    assert meter.pooled == pytest.approx(float(smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro")))
    assert meter.mean_per_image == pytest.approx(
        float(smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro-imagewise", zero_division=1.0)))


def test_parity_meter():
    ref = np.linspace(-2, 2, 16, dtype=np.float32).reshape(4, 4)
    same = ParityMeter()
    same.add(ref.copy(), ref, 0.0)
    assert same.summary()["parity_mask_iou"] == 1.0 and same.summary()["parity_max_abs_logit"] == 0.0
    moved = ParityMeter()
    got = ref.copy()
    got[0, 0] = 3.0  # one background pixel turns person, error 5
    moved.add(got, ref, 0.0)
    s = moved.summary()
    assert s["parity_equal_pixels"] == pytest.approx(15 / 16)
    assert s["parity_mask_iou"] == pytest.approx(8 / 9)
    assert s["parity_max_abs_logit"] == pytest.approx(5.0)
    assert s["parity_mean_abs_logit"] == pytest.approx(5.0 / 16)


def test_pareto_front_keeps_only_undominated_points():
    points = [(10, 0.5), (20, 0.4), (30, 0.9), (5, 0.2), (30, 0.8)]
    assert pareto_front(points) == [(5, 0.2), (10, 0.5), (30, 0.9)]


def _contract(hw=(32, 32), channels=1, layout="NCHW") -> ModelContract:
    h, w = hw
    shape = [1, channels, h, w] if layout == "NCHW" else [1, h, w, channels]
    return ModelContract(format="onnx", precision="fp32", artifact="fake.onnx",
                         input=TensorSpec("input", [1, 3, h, w], "NCHW"), output=TensorSpec("logits", shape, layout),
                         preprocess=Preprocess([0.5] * 3, [0.5] * 3), postprocess=Postprocess(),
                         source=Source("efficientnet-b0", None, None, trained=False))


def test_two_class_outputs_become_person_minus_background():
    contract = _contract((2, 2), channels=2, layout="NHWC")
    raw = np.zeros((1, 2, 2, 2), np.float32)
    raw[..., 0], raw[..., 1] = 1.0, np.array([[3.0, 0.0], [1.0, -1.0]])
    assert np.array_equal(read_logits(raw, contract), [[2.0, -1.0], [0.0, -2.0]])


class LeftHalfPerson(Backend):
    """A fake runtime: person logit +10 on the left half of its 32x32 output, -10 on the right."""

    name, formats = "fake", ("onnx",)

    def load(self, artifact, contract, precision="fp32"):
        self.threads = 1

    def infer(self, staged):
        out = np.full((1, 1, 32, 32), -10.0, np.float32)
        out[..., :16] = 10.0
        return out


def test_iou_is_computed_at_each_images_own_size(tmp_path):
    """Hand-made split: a 48x64 image whose truth is its top-left quarter, a 32x32 one with nobody.

    Predictions (left half, resized back to each image's size) give per-image IoU 0.5 and 0, and over the
    split 768 / (1536 + 512) = 0.375.
    """
    for folder in ("images", "masks"):
        (tmp_path / "test" / folder).mkdir(parents=True)
    truth = np.zeros((48, 64), np.uint8)
    truth[:24, :32] = 255
    for name, (h, w), mask in (("a", (48, 64), truth), ("b", (32, 32), np.zeros((32, 32), np.uint8))):
        Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(tmp_path / "test" / "images" / f"{name}.png")
        Image.fromarray(mask).save(tmp_path / "test" / "masks" / f"{name}.png")
    images = dataset_images(tmp_path, "test", None, None, None)
    job = Job("fake", "fake.onnx", "efficientnet-b0", "onnx", "fp32", tmp_path / "fake.onnx", _contract())
    outcome = measure(job, LeftHalfPerson(), images, Settings(runs=3, warmup=1), ReferenceLogits())
    r = outcome.result
    assert r.ok, r.reason
    assert r.iou_per_image == pytest.approx(0.25) and r.iou_split == pytest.approx(0.375) and r.iou_images == 2
    assert r.runs == 3 and r.min_ms <= r.p50_ms <= r.p99_ms <= r.max_ms
    assert outcome.masks["a"].shape == (48, 64) and outcome.masks["a"][:, :32].all() and not outcome.masks["a"][:, 32:].any()
    assert r.parity_mask_iou is None and any("no parity" in n for n in r.notes)  # no checkpoint, no seed


def test_results_json_and_csv_rows(tmp_path):
    rows = [Result("m.onnx", "ort-cpu", "fp32", p50_ms=1.5, iou_split=0.9, notes=["a", "b"],
                   versions={"onnxruntime": "1.26.0"}, device="cpu"),
            Result("m.tflite", "coreml", "fp32", status="unavailable", reason="Core ML needs macOS")]
    path = write_json(rows, tmp_path / "r.json", {"command": "seg-bench"})
    assert json.loads(path.read_text())["command"] == "seg-bench"
    assert read_json(path) == rows
    table = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert list(table[0]) == COLUMNS and len(table) == 2
    assert table[0]["p50_ms"] == "1.5" and table[0]["versions"] == "onnxruntime=1.26.0" and table[0]["notes"] == "a | b"
    assert table[1]["status"] == "unavailable" and table[1]["mean_ms"] == ""


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter: seconds faster for a toy net
def test_foreign_contract_from_an_onnx_file_and_flags(tmp_path):
    import torch

    from bench.foreign import ForeignFlags, foreign_contract
    from train.errors import UserError

    path = tmp_path / "two-class.onnx"
    torch.onnx.export(torch.nn.Conv2d(3, 2, 3, padding=1).eval(), (torch.zeros(1, 3, 64, 96),), str(path),
                      input_names=["image"], output_names=["scores"], dynamo=False)
    contract = foreign_contract(path, ForeignFlags(output_kind="two-class", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    assert (contract.input.name, contract.input.shape, contract.input.layout) == ("image", [1, 3, 64, 96], "NCHW")
    assert (contract.output.name, contract.output.shape, contract.output.layout) == ("scores", [1, 2, 64, 96], "NCHW")
    assert contract.preprocess.mean == [0.5] * 3 and not any("assumed ImageNet" in n for n in contract.notes)
    with pytest.raises(UserError, match=r"2 channels; --output-kind logits reads 1 \(pass --output-kind two-class\)"):
        foreign_contract(path, ForeignFlags())
