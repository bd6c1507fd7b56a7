"""The TensorFlow side of the TFLite export: onnx2tf in a child process, int8 calibration and quantization.

Intermediates (SavedModels, calibrated models) live in one temporary workspace per process, keyed
by content, so `--format all` converts each ONNX once and calibrates each model once.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from train.checkpoint import file_sha256

from .errors import ConversionError
from .import_order import before_tensorflow
from .job import say

_WORKSPACE: Path | None = None
_SAVED_MODELS: dict[str, "SavedModel | ConversionError"] = {}  # failures too: one try per ONNX
_CALIBRATED: dict[str, bytes] = {}
PROGRESS_EVERY = 0.1  # report onnx2tf progress every 10 % of the graph


def workspace() -> Path:
    global _WORKSPACE
    if _WORKSPACE is None:
        _WORKSPACE = Path(tempfile.mkdtemp(prefix="seg-export-"))
        atexit.register(shutil.rmtree, _WORKSPACE, True)
    return _WORKSPACE


@dataclass
class SavedModel:
    saved_model: Path
    float32: Path  # .tflite, float32 weights and I/O
    float16: Path  # .tflite, float16 weights, float32 I/O


def onnx_to_tensorflow(onnx_path: Path) -> SavedModel:
    """Run onnx2tf on a copy (it overwrites its input) in a child process (memory returns to the OS)."""
    key = file_sha256(onnx_path)
    if key in _SAVED_MODELS:
        known = _SAVED_MODELS[key]
        if isinstance(known, ConversionError):
            raise known
        return known
    work = workspace() / f"onnx2tf-{key[:16]}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    source = work / "model.onnx"
    shutil.copyfile(onnx_path, source)
    out = work / "saved_model"
    bin_dir = str(Path(sys.executable).parent)  # onnx2tf runs `onnxsim` as a program
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2"}
    # -nuo: the ONNX is already simplified by onnxslim; onnx2tf would run onnxsim three more times.
    cmd = [sys.executable, "-m", "onnx2tf", "-i", str(source), "-o", str(out), "-tb", "tf_converter", "-nuo"]
    say(f"tflite: onnx2tf is converting {onnx_path.name} to TensorFlow (minutes for big encoders)")
    try:
        tail = _run_with_progress(cmd, env, work / "onnx2tf.log")
        result = SavedModel(out, out / "model_float32.tflite", out / "model_float16.tflite")
        missing = [p.name for p in (result.saved_model / "saved_model.pb", result.float32, result.float16)
                   if not p.exists()]
        if missing:
            raise ConversionError(f"onnx2tf did not write {', '.join(missing)}: {tail}")
    except ConversionError as err:
        _SAVED_MODELS[key] = err
        raise
    _SAVED_MODELS[key] = result
    return result


def _run_with_progress(cmd: list[str], env: dict, log_path: Path) -> str:
    """Stream the child's log to a file, say how far it is, raise with its last error line."""
    step = re.compile(r"(\d+)\s*/\s*(\d+)")
    last_reported, tail = -1.0, deque(maxlen=40)
    with open(log_path, "w") as log, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                      text=True, errors="replace", preexec_fn=_die_with_parent) as child:
        try:
            for line in child.stdout:
                log.write(line)
                clean = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
                if clean:
                    tail.append(clean)
                match = step.search(clean) if "INFO:" in clean and "onnx_op_type" not in clean else None
                if match and int(match.group(2)) > 0:
                    done = int(match.group(1)) / int(match.group(2))
                    if done - last_reported >= PROGRESS_EVERY or done == 1.0:
                        last_reported = done
                        say(f"tflite: onnx2tf {done:.0%} of {match.group(2)} ops")
                elif "output started" in clean or "output complete" in clean:
                    say(f"tflite: onnx2tf {clean.split('INFO:')[-1].strip(' =')}")
            child.wait()
        except BaseException:
            child.kill()
            raise
    if child.returncode < 0:
        raise ConversionError(f"onnx2tf was killed by signal {-child.returncode}"
                              f"{' (out of memory?)' if child.returncode == -9 else ''}")
    if child.returncode != 0:
        errors = [line for line in tail if "error" in line.lower()] or list(tail)
        raise ConversionError(f"onnx2tf exited with {child.returncode}: {errors[-1] if errors else 'no output'}")
    return tail[-1] if tail else ""


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies, so no converter outlives seg-export (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def calibrate(saved_model: Path, calibration, preprocess, imgsz: tuple[int, int]) -> bytes:
    """One pass over the calibration images: a float model annotated with activation ranges."""
    before_tensorflow()
    import tensorflow as tf

    key = hashlib.sha256(repr((str(saved_model), calibration, preprocess, imgsz)).encode()).hexdigest()
    if key in _CALIBRATED:
        return _CALIBRATED[key]
    say(f"tflite: calibrating int8 ranges on {calibration.origin}")

    def representative_dataset():
        for i, x in enumerate(calibration.tensors(preprocess, imgsz), 1):
            if i % 50 == 0:
                say(f"tflite: calibration image {i}/{calibration.count}")
            yield [x[None]]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = representative_dataset
    converter._experimental_calibrate_only = True  # quantize later, once per variant, without re-calibrating
    try:
        calibrated = converter.convert()
    except Exception as err:
        raise ConversionError(f"int8 calibration failed: {type(err).__name__}: {str(err).splitlines()[0]}") from None
    _CALIBRATED[key] = calibrated
    return calibrated


def quantize(calibrated: bytes, *, int8_io: bool, per_channel: bool = True, denylisted_nodes: list[str] | None = None) -> bytes:
    """Full-integer int8 from a calibrated model: float32 or int8 input/output."""
    before_tensorflow()
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    io_type = tf.int8 if int8_io else tf.float32
    try:
        return mlir_quantize(calibrated, disable_per_channel=not per_channel, input_data_type=io_type,
                             output_data_type=io_type, denylisted_nodes=denylisted_nodes)
    except Exception as err:
        raise ConversionError(f"int8 quantization failed: {type(err).__name__}: {str(err).splitlines()[0]}") from None


def tool_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("onnx2tf", "tensorflow", "ai-edge-litert")}
