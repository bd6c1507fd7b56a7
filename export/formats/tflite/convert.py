"""The TFLite side of the export, all starting from one float32 .tflite file.

- onnx2tf (its direct FlatBuffer backend, in a child process) turns the ONNX into float32 TFLite:
  seconds and a few hundred MB, where its TensorFlow-converter backend took minutes and >9 GB
  for ResNet-152 at 512x512.
- fp16: the float32 file with float16 constants (export/formats/tflite/rewrite.py), float32 I/O.
- int8: per-image activation ranges averaged over real images (export/formats/tflite/int8_ranges.py; TF's
  min/max over all images let one outlier set a range), then the MLIR quantizer writes full-integer models
  (float32 or int8 I/O) from that one calibration.
Intermediates live in one temporary workspace per process, keyed by content, so `--format all`
converts each ONNX once and calibrates each model once.
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
from itertools import chain, islice
from pathlib import Path

from train.checkpoint import file_sha256

from ...errors import ConversionError, describe_error
from ...import_order import before_tensorflow
from ...job import say
from .int8_ranges import averaged_ranges, ranges_to_replace, with_ranges
from .rewrite import fix_max_pool_padding

_WORKSPACE: Path | None = None
_FLOAT32: dict[str, "Path | ConversionError"] = {}  # failures too: one try per ONNX
_CALIBRATED: dict[str, bytes] = {}
PROGRESS_EVERY = 0.1  # report onnx2tf progress every 10 % of the graph
MARKING_IMAGES = 2  # TF's calibrator only has to say which tensors take ranges


def workspace() -> Path:
    global _WORKSPACE
    if _WORKSPACE is None:
        _WORKSPACE = Path(tempfile.mkdtemp(prefix="seg-export-"))
        atexit.register(shutil.rmtree, _WORKSPACE, True)
    return _WORKSPACE


def onnx_to_tflite(onnx_path: Path) -> Path:
    """float32 .tflite from onnx2tf, run on a copy (it overwrites its input) in a child process."""
    key = file_sha256(onnx_path)
    if key in _FLOAT32:
        known = _FLOAT32[key]
        if isinstance(known, ConversionError):
            raise known
        return known
    work = workspace() / f"onnx2tf-{key[:16]}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    source = work / "model.onnx"
    shutil.copyfile(onnx_path, source)
    out = work / "tflite"
    bin_dir = str(Path(sys.executable).parent)  # onnx2tf runs `onnxsim` as a program
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2"}
    # -nuo: the ONNX is already simplified by onnxslim; onnx2tf would run onnxsim three more times.
    cmd = [sys.executable, "-m", "onnx2tf", "-i", str(source), "-o", str(out), "-tb", "flatbuffer_direct", "-nuo"]
    say(f"tflite: onnx2tf is converting {onnx_path.name}")
    try:
        tail = _run_with_progress(cmd, env, work / "onnx2tf.log")
        result = out / "model_float32.tflite"
        if not result.is_file():
            raise ConversionError(f"onnx2tf did not write {result.name}: {tail}")
        result.write_bytes(fix_max_pool_padding(result.read_bytes()))
    except ConversionError as err:
        _FLOAT32[key] = err
        raise
    _FLOAT32[key] = result
    return result


def _run_with_progress(cmd: list[str], env: dict, log_path: Path) -> str:
    """Stream the child's log to a file, say how far it is, raise with its last error line."""
    step = re.compile(r"(\d+)\s*/\s*(\d+)")
    last_reported, tail = -1.0, deque(maxlen=40)
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace", preexec_fn=_die_with_parent)
    with open(log_path, "w") as log, child:
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
                elif "complete" in clean.lower() and "INFO:" in clean:
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


def calibrate(float32: Path, calibration, preprocess, imgsz: tuple[int, int]) -> bytes:
    """The float model annotated with activation ranges: TF's calibrator marks the tensors on a few images,
    then every tensor gets its per-image range averaged over all of them (export/formats/tflite/int8_ranges.py)."""
    before_tensorflow()
    from tensorflow.lite.python.optimize import calibrator

    key = hashlib.sha256(repr((file_sha256(float32), calibration, preprocess, imgsz)).encode()).hexdigest()
    if key in _CALIBRATED:
        return _CALIBRATED[key]
    say(f"tflite: calibrating int8 ranges on {calibration.origin}")

    images = calibration.tensors(preprocess, imgsz)
    marking = list(islice(images, MARKING_IMAGES))  # decoded once, used by both passes

    def progress():
        for i, x in enumerate(chain(marking, images), 1):
            if i % 25 == 0:
                say(f"tflite: calibration image {i}/{calibration.count}")
            yield x

    try:
        model = calibrator.add_intermediate_tensors(float32.read_bytes())
        marked = calibrator.Calibrator(model).calibrate(lambda: ([x[None]] for x in marking))
        ranges = averaged_ranges(float32, progress(), set(ranges_to_replace(marked)))
        calibrated = with_ranges(marked, ranges)
    except Exception as err:
        raise ConversionError(f"int8 calibration failed: {describe_error(err)}") from None
    _CALIBRATED[key] = calibrated
    return calibrated


def quantize(calibrated: bytes, *, int8_io: bool, per_channel: bool = True,
             denylisted_nodes: list[str] | None = None) -> bytes:
    """Full-integer int8 from a calibrated model: float32 or int8 input/output.

    `denylisted_nodes` (output tensor names) stay float: selective quantization (export/INT8.md).
    """
    before_tensorflow()
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    io_type = tf.int8 if int8_io else tf.float32
    try:
        return mlir_quantize(calibrated, disable_per_channel=not per_channel, input_data_type=io_type,
                             output_data_type=io_type, denylisted_nodes=denylisted_nodes)
    except Exception as err:
        raise ConversionError(f"int8 quantization failed: {describe_error(err)}") from None


def tool_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("onnx2tf", "tensorflow", "ai-edge-litert")}
