"""MediaPipe Tasks' ImageSegmenter (Python, CPU, IMAGE mode): the runtime most Android, iOS and web apps load a
`.tflite` into, doing its own pre- and post-processing from the file's TFLite metadata (export/formats/tflite/metadata.py).

It takes 8-bit RGB frames, so `host_input` turns the model-sized input tensor every row gets back into the frame
it was made from (the contract's normalization inverted, rounded to 0-255 as a camera frame is), before any clock
runs. MediaPipe's resize is then the identity and its mask lines up with every other row's. A timed run: the frame
into an `mp.Image`, `segment()` (MediaPipe's normalization, the model, its activation), the confidence mask copied
out. That mask is P(person) (SIGMOID in our metadata; a probability model's own output): `to_logits` turns it back
into logits for IoU and parity, so the row's |logit difference| saturates where |logit| > ~16 (float32 sigmoid);
its masks, cut at 0.5 as MediaPipe's category mask is, do not. Its Python API sets no thread count: XNNPACK runs
one thread on Linux (MediaPipe's InferenceCalculator default off mobile).
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from export.contract import ModelContract, TensorSpec
from export.formats.tflite.metadata import has_metadata, mediapipe_refusal

from .base import Backend

MEDIAPIPE_THREADS = 1  # GetXnnpackDefaultNumThreads() off Android/iOS/web


def import_mediapipe():
    """`mediapipe` without the TensorFlow it imports only for API-doc decorators when it finds one: seconds of
    start-up, and TensorFlow before torch._dynamo segfaults this venv (export/import_order.py)."""
    blocked = "tensorflow" not in sys.modules
    if blocked:
        sys.modules["tensorflow"] = None  # its optional import then fails as if TensorFlow were not installed
    try:
        import mediapipe
        from mediapipe.tasks.python import vision
    finally:
        if blocked and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
    return mediapipe, vision


class MediaPipe(Backend):
    name = "mediapipe"
    formats = ("tflite",)

    def available(self) -> str | None:
        from importlib.util import find_spec

        if find_spec("mediapipe") is None:  # found, not imported: importing it costs seconds
            return "mediapipe is not installed (.ci/install puts it in: pip install --no-deps, pinned in .ci/constraints.txt)"
        return None

    @classmethod
    def refuses(cls, artifact: Path, contract: ModelContract) -> str | None:
        if not has_metadata(artifact):
            return (f"{artifact.name} has no TFLite metadata, which MediaPipe Tasks needs for its pre- and "
                    "post-processing: re-export it with seg-export (every .tflite it writes now carries it)")
        return mediapipe_refusal(contract)

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        mp, vision = import_mediapipe()
        self._mp = mp
        options = vision.ImageSegmenterOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=str(artifact)),
            running_mode=vision.RunningMode.IMAGE, output_confidence_masks=True, output_category_mask=False)
        self.segmenter = vision.ImageSegmenter.create_from_options(options)
        self.threads = MEDIAPIPE_THREADS

    def host_input(self, x: np.ndarray, contract: ModelContract) -> np.ndarray:
        """The HxWx3 uint8 RGB frame the model-input tensor `x` was made from."""
        pre, spec = contract.preprocess, contract.input
        x = x.astype(np.float32)
        if spec.quantization is not None:
            x = (x - spec.quantization.zero_point) * np.float32(spec.quantization.scale)
        x = x.reshape(spec.shape)[0]
        if spec.layout == "NCHW":
            x = x.transpose(1, 2, 0)
        pixels = (x * np.float32(pre.std) + np.float32(pre.mean)) * np.float32(pre.pixel_scale)
        # packed: mp.Image reads a strided array's memory as if it were packed
        return np.ascontiguousarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))

    def prepare(self, frame: np.ndarray):
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=frame)

    def infer(self, image):
        return self.segmenter.segment(image)

    def fetch(self, result) -> np.ndarray:
        return np.array(result.confidence_masks[0].numpy_view(), copy=True)

    def to_logits(self, raw: np.ndarray, contract: ModelContract) -> np.ndarray:
        from export.preprocess import output_to_logits

        h, w = contract.input_hw  # the frame's size, so the mask's
        confidence = replace(contract, output=TensorSpec("confidence", [1, h, w, 1], "NHWC"),
                             postprocess=replace(contract.postprocess, kind="probability"))
        return output_to_logits(raw, confidence)

    def row_settings(self) -> dict:
        return {"runtime_options": {
            "running_mode": "IMAGE", "output": "confidence mask (category mask: the same cut at 0.5)",
            "delegate": "CPU: XNNPACK in MediaPipe's InferenceCalculator",
            "num_threads": f"{MEDIAPIPE_THREADS} (MediaPipe's default on Linux; its Python API has no setting)"}}

    def versions(self) -> dict[str, str]:
        return {"mediapipe": self._mp.__version__}

    def close(self) -> None:
        segmenter, self.segmenter = getattr(self, "segmenter", None), None
        if segmenter is not None:  # now, not in its __del__ at interpreter exit (which raises there)
            segmenter.close()

