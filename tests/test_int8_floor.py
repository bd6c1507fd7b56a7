"""seg-export's int8 floor: the masks of an int8 export must agree with fp32's on held-out images, or the export
fails and leaves nothing that looks like a good artifact; the contract records the agreement and the floor."""
from __future__ import annotations

import pytest

from export.contract import contract_path, read_contract

FLOOR_STATS = {"images": 8, "mean_iou": 0.9, "min_iou": 0.8, "mean_abs_logit_error": 0.1}


def _agree_at_0970(reference, candidate, images, reference_cache=None):  # module level: the check runs in a spawned process
    return {**FLOOR_STATS, "pooled_iou": 0.970}


def _agree_at_0985(reference, candidate, images, reference_cache=None):
    return {**FLOOR_STATS, "pooled_iou": 0.985}


def _seg_export(trained_checkpoint, ccp_dir, out, *extra: str) -> int:
    from export.cli import main

    return main(["--encoder", "efficientnet-b0", "--checkpoint", str(trained_checkpoint), "--format", "tflite",
                 "--precision", "int8", "--calib", str(ccp_dir / "train" / "images"), "--calib-count", "16",
                 "--out", str(out), *extra])


def _left_in(out) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_the_floor_must_be_a_share(tmp_path, capsys):
    from export.cli import main

    rc = main(["--encoder", "efficientnet-b0", "--checkpoint", "none", "--format", "tflite", "--precision", "int8",
               "--min-agreement", "1.5", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1] == "seg-export: error: --min-agreement must be between 0 and 1 (0: no floor), not 1.5"
    assert _left_in(tmp_path / "out") == []


def test_a_missing_holdout_folder_is_refused_before_converting(trained_checkpoint, ccp_dir, tmp_path, capsys):
    rc = _seg_export(trained_checkpoint, ccp_dir, tmp_path / "out", "--holdout", str(tmp_path / "nowhere"))
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("seg-export: error: held-out image folder not found")


@pytest.mark.slow
def test_the_session_export_records_its_measured_agreement_and_no_floor(exported):
    fidelity = read_contract(exported("tflite", "int8")).fidelity
    assert fidelity.min_agreement == 0  # conftest asks for no floor: the model is barely trained
    assert fidelity.images > 0 and fidelity.held_out.endswith("ccp/val/images")
    assert 0 <= fidelity.agreement < 1
    assert read_contract(exported("tflite", "fp32")).fidelity is None


@pytest.mark.slow
def test_an_int8_export_below_the_floor_exits_non_zero_and_leaves_nothing(exported, trained_checkpoint, ccp_dir,
                                                                         tmp_path, capsys):
    """The real measurement: the barely trained model's int8 masks cannot agree with fp32's at 0.9999."""
    exported("tflite", "int8")  # converted and calibrated once in this process: the export below reuses it
    out = tmp_path / "out"
    assert _seg_export(trained_checkpoint, ccp_dir, out, "--min-agreement", "0.9999") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("seg-export: tflite int8 failed: int8 masks agree with fp32 at 0.")
    assert "below --min-agreement 0.9999: no artifact written" in err[-1] and "Traceback" not in "\n".join(err)
    assert [name for name in _left_in(out) if not name.endswith(".onnx") and not name.endswith(".onnx.json")] == []


@pytest.mark.slow
def test_a_dynamic_int8_export_is_held_to_the_same_floor(exported, trained_checkpoint, ccp_dir, tmp_path, capsys):
    exported("tflite", "int8-dynamic")  # its float32 .tflite is converted once in this process
    out = tmp_path / "out"
    assert _seg_export(trained_checkpoint, ccp_dir, out, "--precision", "int8-dynamic", "--min-agreement", "0.9999") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("seg-export: tflite int8-dynamic failed: int8 masks agree with fp32 at 0.")
    assert [name for name in _left_in(out) if not name.endswith(".onnx") and not name.endswith(".onnx.json")] == []


@pytest.mark.slow
def test_the_default_floor_is_098_and_is_recorded(exported, trained_checkpoint, ccp_dir, tmp_path, monkeypatch, capsys):
    import export.fidelity

    exported("tflite", "int8")
    monkeypatch.setattr(export.fidelity, "compare_masks", _agree_at_0970)
    below = tmp_path / "below"
    assert _seg_export(trained_checkpoint, ccp_dir, below) == 1
    assert "at 0.9700 (pooled IoU on 8 held-out images of ccp/val/images), below --min-agreement 0.98" in \
           capsys.readouterr().err
    assert not list(below.glob("*.tflite*"))

    monkeypatch.setattr(export.fidelity, "compare_masks", _agree_at_0985)
    above = tmp_path / "above"
    assert _seg_export(trained_checkpoint, ccp_dir, above) == 0
    (artifact,) = above.glob("*.tflite")
    fidelity = read_contract(artifact).fidelity
    assert (fidelity.agreement, fidelity.min_agreement, fidelity.images) == (0.985, 0.98, 8)
    assert fidelity.held_out.endswith("ccp/val/images") and contract_path(artifact).is_file()

    monkeypatch.setattr(export.fidelity, "compare_masks", _agree_at_0970)
    explicit = tmp_path / "explicit"  # --min-agreement 0: the explicit way to keep it, and it says so
    assert _seg_export(trained_checkpoint, ccp_dir, explicit, "--min-agreement", "0") == 0
    fidelity = read_contract(next(explicit.glob("*.tflite"))).fidelity
    assert (fidelity.agreement, fidelity.min_agreement) == (0.970, 0.0)


def _portraits_at_0970(reference, candidate, images, reference_cache=None):  # ccp val agrees, the portraits do not
    return {**FLOOR_STATS, "pooled_iou": 0.970 if "portraits" in str(images[0]) else 0.995}


@pytest.mark.slow
def test_the_floor_holds_on_every_holdout_set_and_each_is_recorded(exported, trained_checkpoint, ccp_dir, tmp_path,
                                                                  monkeypatch, capsys):
    import export.fidelity

    portraits = ccp_dir.parent / "portraits" / "test" / "images"
    if not portraits.is_dir():
        pytest.skip("no portraits set in the shared data")
    exported("tflite", "int8")
    monkeypatch.setattr(export.fidelity, "compare_masks", _portraits_at_0970)
    sets = ("--holdout", str(ccp_dir / "val" / "images"), "--holdout", str(portraits))
    refused = tmp_path / "refused"
    assert _seg_export(trained_checkpoint, ccp_dir, refused, *sets) == 1
    assert "at 0.9700 (pooled IoU on 8 held-out images of portraits/test/images)" in capsys.readouterr().err
    assert not list(refused.glob("*.tflite*"))

    kept = tmp_path / "kept"
    assert _seg_export(trained_checkpoint, ccp_dir, kept, *sets, "--min-agreement", "0.96") == 0
    fidelity = read_contract(next(kept.glob("*.tflite"))).fidelity
    assert fidelity.agreement == 0.970 and fidelity.held_out.endswith("portraits/test/images")
    assert [(s["held_out"].split("/")[-3], s["agreement"]) for s in fidelity.sets] == [("ccp", 0.995), ("portraits", 0.970)]
