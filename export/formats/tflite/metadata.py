"""TFLite metadata in every .tflite that seg-export writes, so that MediaPipe Tasks' ImageSegmenter (Android, iOS,
web, Python) reads the model's pre- and post-processing from the file, as it does for MediaPipe's own models.

Written by MediaPipe's image_segmenter metadata writer (metadata_writer.py, run in its own environment), from
the contract:
- input: an RGB image, NormalizationOptions mean = contract mean x pixel_scale and std = contract std x pixel_scale
  (MediaPipe normalizes 0-255 pixels, (p - mean) / std, which is the contract's (p / pixel_scale - mean) / std); the
  image size is the input tensor's shape, where MediaPipe reads it.
- output: a segmentation mask, one label per channel. Our models give one channel, the person logit, so its one
  label is the contract's channel meaning ("person"; MediaPipe's own selfie model labels its channel "selfie"), with
  activation SIGMOID: MediaPipe's confidence mask is then P(person), and its category mask cuts that at 0.5 (the
  contract's threshold), giving 0 for person and 255 for background, MediaPipe's rule for one-channel masks.
MediaPipe Tasks itself takes one mean/std for all three channels and float32 or uint8 input tensors only:
`mediapipe_refusal` says when a model falls outside that, and the contract notes it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

METADATA_NAME = b"TFLITE_METADATA"  # the model's metadata entry (TFLite's schema)
ENV_WHAT = "mediapipe-metadata"  # names the writer's log in its work folder
MEDIAPIPE_THRESHOLD = 0.5  # where MediaPipe's category mask cuts a one-channel confidence mask
WRITER = "export.formats.tflite.metadata_writer"  # run with -m in the writer's environment


def metadata_spec(preprocess, postprocess) -> dict:
    """What the writer is told, from the contract's pre- and post-processing."""
    scale = float(preprocess.pixel_scale)
    return {"mean": [float(m) * scale for m in preprocess.mean], "std": [float(s) * scale for s in preprocess.std],
            "labels": [postprocess.channel_meaning],
            "activation": "SIGMOID" if postprocess.kind == "logits" else "NONE"}


def with_metadata(model_bytes: bytes, job) -> bytes:
    """The model with its metadata (and its labels file packed in), by MediaPipe's writer in its own environment:
    called where an exporter makes its final bytes, before they are checked and their sha256 goes in the contract."""
    from ...converter_env import MEDIAPIPE_METADATA, ensure_env, run_in_env
    from .convert import workspace
    from .rewrite import inline_buffers

    python = ensure_env(MEDIAPIPE_METADATA)
    work = workspace() / f"tflite-metadata-{time.monotonic_ns()}"
    work.mkdir()
    (work / "in.tflite").write_bytes(inline_buffers(model_bytes))  # the writer rewrites the FlatBuffer alone
    spec = json.dumps(metadata_spec(job.preprocess, job.postprocess))
    run_in_env([str(python), "-m", WRITER, "write", "in.tflite", "out.tflite", spec], work, ENV_WHAT)
    return (work / "out.tflite").read_bytes()


def read_metadata(path: Path) -> dict:
    """{"metadata": the displayer's JSON (the segmenter's options decoded), "files": packed file -> text}."""
    import tempfile

    from ...converter_env import MEDIAPIPE_METADATA, ensure_env, run_in_env

    python = ensure_env(MEDIAPIPE_METADATA)
    with tempfile.TemporaryDirectory(prefix="seg-metadata-") as work:
        return run_in_env([str(python), "-m", WRITER, "read", str(Path(path).resolve())],
                          Path(work), ENV_WHAT)


def has_metadata(path: Path) -> bool:
    """Whether the .tflite holds a TFLITE_METADATA entry (read with LiteRT's own schema, without loading the model)."""
    import mmap

    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        model = schema.Model.GetRootAs(data, 0)
        return any(model.Metadata(i).Name() == METADATA_NAME for i in range(model.MetadataLength()))


def mediapipe_refusal(contract) -> str | None:
    """Why MediaPipe Tasks cannot run this model unchanged (None: it can)."""
    pre, tensors = contract.preprocess, (contract.input, contract.output)
    if len(set(pre.mean)) > 1 or len(set(pre.std)) > 1:
        return (f"MediaPipe Tasks takes one mean/std for all channels, and this model normalizes per channel "
                f"(mean {list(pre.mean)}, std {list(pre.std)}): its ImageSegmenter refuses it")
    if any(t.dtype not in ("float32", "uint8") for t in tensors):
        return (f"MediaPipe Tasks takes float32 or uint8 tensors, and this model's are {contract.input.dtype} in, "
                f"{contract.output.dtype} out (an int8 export with float32 I/O runs)")
    return None


def metadata_note(contract) -> str:
    spec = metadata_spec(contract.preprocess, contract.postprocess)
    note = (f"TFLite metadata (MediaPipe's image_segmenter writer): RGB, mean {_short(spec['mean'])}, std "
            f"{_short(spec['std'])} on 0-255 pixels, one output label {spec['labels'][0]!r}, activation "
            f"{spec['activation']}: MediaPipe's category mask is 0 for {spec['labels'][0]}, 255 for background")
    if contract.postprocess.threshold != MEDIAPIPE_THRESHOLD:
        note += f" (cut at {MEDIAPIPE_THRESHOLD}: threshold the confidence mask at {contract.postprocess.threshold})"
    refusal = mediapipe_refusal(contract)
    return f"{note}; {refusal}" if refusal else note


def tool_versions() -> dict[str, str]:
    from ...converter_env import MEDIAPIPE_METADATA, converter_pins

    return {"mediapipe-metadata-writer": converter_pins(MEDIAPIPE_METADATA.requirements)["mediapipe"]}


def _short(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"
