"""MediaPipe Tasks: the TFLite metadata every .tflite export carries, read back with MediaPipe's displayer against
the contract; the export in MediaPipe's ImageSegmenter against our reference post-processing; `seg-bench --backend
mediapipe` beside the `tflite` rows, MediaPipe's selfie segmenter as a peer in the same run, and the one-line
answers for exports MediaPipe cannot take. A small untrained model at 64x64 whose encoder normalizes all channels
alike (MediaPipe Tasks takes no per-channel normalization), on real CCP photos."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.backends.mediapipe import MediaPipe, import_mediapipe
from bench.cli import main as seg_bench
from bench.peers import PEERS, fetch
from conftest import ROOT
from export.contract import TensorSpec, contract_path, read_contract
from export.integrity import verify_artifact
from export.formats.tflite.runner import LiteRTRunner
from export.preprocess import logits_to_mask, output_to_logits, resize_bilinear, to_input_tensor
from export.formats.tflite.metadata import has_metadata, read_metadata
from train.data import read_rgb
from train.errors import UserError

ENCODER = "tu-tf_mobilenetv3_small_minimal_100"  # timm's config: mean = std = 0.5 on every channel
IMGSZ = 64
PEER = PEERS["mediapipe"]


def metadata_disagreements(artifact: Path) -> list[str]:
    """Where the metadata MediaPipe's displayer reads from `artifact` differs from its contract (empty: nowhere)."""
    contract, found = read_contract(artifact), read_metadata(artifact)
    graph = found["metadata"]["subgraph_metadata"][0]
    image = graph["input_tensor_metadata"][0]
    norm = next(u["options"] for u in image["process_units"] if u["options_type"] == "NormalizationOptions")
    scale = contract.preprocess.pixel_scale  # MediaPipe normalizes 0-255 pixels
    pre = contract.preprocess
    wanted = {"mean": [m * scale for m in pre.mean], "std": [s * scale for s in pre.std]}
    problems = [f"{key} {norm[key]} != {want}" for key, want in wanted.items()
                if not np.allclose(norm[key], want, rtol=1e-6)]
    if image["content"]["content_properties"]["color_space"] != "RGB":
        problems.append(f"colour space {image['content']['content_properties']['color_space']}")
    labels = found["files"].get("labels.txt", "").split()
    if labels != [contract.postprocess.channel_meaning]:  # one label per output channel
        problems.append(f"labels {labels}")
    activation = {m["name"]: m["data"] for m in graph.get("custom_metadata", [])}["SEGMENTER_METADATA"]["activation"]
    if activation != ("SIGMOID" if contract.postprocess.kind == "logits" else "NONE"):
        problems.append(f"activation {activation} for {contract.postprocess.kind}")
    return problems


@pytest.fixture(scope="module")
def uniform_export(tmp_path_factory) -> Path:
    from export.cli import main as seg_export

    out = tmp_path_factory.mktemp("mediapipe-export")
    assert seg_export(["--checkpoint", "none", "--encoder", ENCODER, "--imgsz", str(IMGSZ), str(IMGSZ),
                       "--format", "tflite", "--out", str(out)]) == 0
    (artifact,) = out.glob("*.tflite")
    return artifact


@pytest.fixture(scope="module")
def legacy_export(uniform_export, tmp_path_factory) -> Path:
    """The same model exported as before this toolkit wrote metadata, renamed so its rows stand apart."""
    from export.cli import main as seg_export

    out = tmp_path_factory.mktemp("legacy-export")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("export.formats.tflite.with_metadata", lambda model_bytes, job: model_bytes)
        assert seg_export(["--checkpoint", "none", "--encoder", ENCODER, "--imgsz", str(IMGSZ), str(IMGSZ),
                           "--format", "tflite", "--out", str(out)]) == 0
    (made,) = out.glob("*.tflite")
    legacy = made.with_name(f"legacy-{made.name}")
    contract = json.loads(contract_path(made).read_text())
    made.rename(legacy)
    contract_path(legacy).write_text(json.dumps({**contract, "artifact": legacy.name}))
    contract_path(made).unlink()
    return legacy


def fetch_selfie() -> Path | str:
    """MediaPipe's selfie segmenter, cached under runs/ (from PyPI once), or why it could not be had."""
    try:
        return fetch("mediapipe", ROOT / "runs" / "cache" / "peers")
    except (UserError, OSError) as err:
        return f"MediaPipe's selfie segmenter could not be fetched: {err}"


@pytest.fixture(scope="module")
def selfie() -> Path:
    found = fetch_selfie()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def bench_run(uniform_export, legacy_export, ccp_dir, tmp_path_factory):
    """Our export and the legacy one on mediapipe and tflite, and the peer when it could be fetched: one run."""
    selfie = fetch_selfie()
    peer = [] if isinstance(selfie, str) else ["--peer", "mediapipe", str(selfie)]
    out = tmp_path_factory.mktemp("mediapipe-bench")
    rc = seg_bench(["--model", str(uniform_export), "--model", str(legacy_export), *peer,
                    "--backend", "mediapipe,tflite",
                    "--data", str(ccp_dir), "--limit", "4", "--runs", "3", "--warmup", "1", "--out", str(out),
                    "--no-plots", "--overlays", "0", "--no-progress"])
    rows = json.loads((out / "results.json").read_text())["results"]
    return rc, {(r["model"], r["backend"]): r for r in rows}


def test_the_metadata_mediapipe_reads_back_is_the_contracts(uniform_export):
    assert has_metadata(uniform_export)
    assert metadata_disagreements(uniform_export) == []
    contract = read_contract(uniform_export)
    verify_artifact(uniform_export, contract)  # the checksum covers the bytes with their metadata
    assert contract.tools["mediapipe-metadata-writer"] and any("TFLite metadata" in n for n in contract.notes)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8", "int8-dynamic"])
def test_every_tflite_precision_carries_its_contracts_metadata(exported, precision):
    artifact = exported("tflite", precision)  # ImageNet normalization: per channel, as the contract says
    assert metadata_disagreements(artifact) == []
    assert any("refuses it" in n for n in read_contract(artifact).notes)  # and the contract says MediaPipe cannot


def test_image_segmenter_category_mask_is_the_reference_mask(uniform_export, ccp_dir):
    mp, vision = import_mediapipe()
    contract, runner = read_contract(uniform_export), LiteRTRunner(uniform_export)
    options = vision.ImageSegmenterOptions(base_options=mp.tasks.BaseOptions(model_asset_path=str(uniform_export)),
                                           output_confidence_masks=True, output_category_mask=True)
    segmenter = vision.ImageSegmenter.create_from_options(options)
    try:
        assert segmenter.labels == ["person"]
        for photo in sorted((ccp_dir / "test" / "images").iterdir())[:3]:
            # a frame at the model's size: MediaPipe's resize is then the identity, what is left is its processing
            frame = np.clip(np.rint(resize_bilinear(read_rgb(photo), IMGSZ, IMGSZ)), 0, 255).astype(np.uint8)
            frame = np.ascontiguousarray(frame)  # mp.Image reads a strided array's memory as if it were packed
            result = segmenter.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame))
            logits = output_to_logits(runner.run(to_input_tensor(frame, contract)), contract)
            reference = logits_to_mask(logits, contract.postprocess)
            confidence = result.confidence_masks[0].numpy_view().reshape(IMGSZ, IMGSZ)
            person = result.category_mask.numpy_view().reshape(IMGSZ, IMGSZ) == 0  # 0: the one label, 255: none
            assert np.abs(confidence - 1 / (1 + np.exp(-logits))).max() < 1e-4  # MediaPipe's sigmoid of our logit
            clear = np.abs(logits) > 1e-3  # pixels float rounding cannot flip
            assert np.array_equal(person[clear], reference[clear]) and 0 < reference.mean() < 1
    finally:
        segmenter.close()


def test_mediapipe_rows_match_the_tflite_rows(bench_run, uniform_export):
    _, rows = bench_run
    ours, tflite = rows[(uniform_export.name, "mediapipe")], rows[(uniform_export.name, "tflite")]
    assert ours["status"] == "ok", ours["reason"]
    assert ours["versions"]["mediapipe"] == import_mediapipe()[0].__version__ and ours["threads"] == 1
    assert ours["iou_images"] == 4 and abs(ours["iou_split"] - tflite["iou_split"]) < 0.02
    # 8-bit frames against float input: an untrained model's near-zero logits flip a few pixels
    assert ours["parity_mask_iou"] >= 0.97 and tflite["parity_mask_iou"] >= 0.999
    assert ours["runs"] == 3 and 0 < ours["p50_ms"] and "IMAGE" in ours["runtime_options"]["running_mode"]


def test_an_export_without_metadata_gets_one_line_saying_to_re_export(bench_run, legacy_export, tmp_path, capsys):
    _, rows = bench_run
    row = rows[(legacy_export.name, "mediapipe")]
    assert row["status"] == "unavailable" and "\n" not in row["reason"]
    assert "no TFLite metadata" in row["reason"] and "re-export" in row["reason"]
    assert rows[(legacy_export.name, "tflite")]["status"] == "ok"  # LiteRT itself needs none
    capsys.readouterr()
    rc = seg_bench(["--model", str(legacy_export), "--backend", "mediapipe", "--out", str(tmp_path / "out"),
                    "--no-plots", "--no-progress"])
    printed = capsys.readouterr()
    assert rc == 1 and "Traceback" not in printed.out + printed.err  # nothing ran: non-zero, said in one row


def test_the_peer_is_a_row_of_the_same_run(bench_run, selfie):
    rc, rows = bench_run
    assert rc == 0
    peer_rows = [rows[(PEER.label, backend)] for backend in ("mediapipe", "tflite")]
    for row in peer_rows:
        assert row["status"] == "ok", row["reason"]
        assert row["iou_split"] > 0.85  # MediaPipe's model on CCP photos (0.93 on these four)
        assert row["parity_mask_iou"] is None and any(n.startswith("contract: peer:") for n in row["notes"])
    assert abs(peer_rows[0]["iou_split"] - peer_rows[1]["iou_split"]) < 0.01  # its own runtime and LiteRT agree


def test_models_mediapipe_cannot_take_are_refused_in_one_line(uniform_export):
    contract = read_contract(uniform_export)
    imagenet = replace(contract, preprocess=replace(contract.preprocess, mean=[0.485, 0.456, 0.406]))
    assert "normalizes per channel" in MediaPipe.refuses(uniform_export, imagenet)
    int8_io = replace(contract, input=TensorSpec("input", contract.input.shape, "NHWC", "int8"))
    assert "float32 or uint8" in MediaPipe.refuses(uniform_export, int8_io)
    assert MediaPipe.refuses(uniform_export, contract) is None


def test_an_unknown_peer_or_a_missing_file_is_one_line(uniform_export, tmp_path, capsys):
    for peer, problem in ((["nosuch", str(uniform_export)], "unknown peer 'nosuch'"),
                          (["mediapipe", str(tmp_path / "none.tflite")], "file not found")):
        capsys.readouterr()
        rc = seg_bench(["--model", str(uniform_export), "--peer", *peer, "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and problem in err[0]

