"""TFLite through onnx2tf: fp32, fp16 (fp16 weights, float32 I/O) and full-integer int8.

Path: the fp32 ONNX export (reused when it already lies beside, else made) -> a copy -> onnx2tf
with the TensorFlow converter backend (SavedModel + float32/float16 .tflite) -> for int8, one
calibration pass over real images, then MLIR quantization (float or int8 I/O). Inputs and outputs
are NHWC; tensors are addressed by index, as their names differ between files.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from train.atomic import atomic_path

from ..contract import Quantization, TensorSpec, read_contract, write_contract
from ..errors import ConversionError
from ..job import ExportJob, artifact_name, say
from .. import tflite_convert as convert
from .onnx import OnnxExporter


class TFLiteExporter:
    name = "tflite"
    suffix = ".tflite"
    precisions = ("fp32", "fp16", "int8")

    def export(self, job: ExportJob) -> Path:
        onnx_path = fp32_onnx(job)
        saved = convert.onnx_to_tensorflow(onnx_path)
        notes = [f"converted from {onnx_path.name} by onnx2tf (TensorFlow converter backend)"]
        if job.precision == "int8":
            calibrated = convert.calibrate(saved.saved_model, job.calibration, job.preprocess, job.imgsz)
            model_bytes = convert.quantize(calibrated, int8_io=job.int8_io)
            notes.append(f"int8 per-channel weights, per-tensor activations; calibrated on {job.calibration.origin}")
        else:
            model_bytes = (saved.float32 if job.precision == "fp32" else saved.float16).read_bytes()
            if job.precision == "fp16":
                notes.append("fp16 weights dequantized at load; float32 I/O")
        with atomic_path(job.artifact) as tmp:
            tmp.write_bytes(model_bytes)
            input_spec, output_spec = describe(tmp, job.imgsz)
        contract = job.contract(self.name, job.artifact, input_spec, output_spec,
                                tools=convert.tool_versions(), notes=notes)
        write_contract(contract, job.artifact)
        return job.artifact


def fp32_onnx(job: ExportJob) -> Path:
    """The fp32 ONNX of the same weights and size: the artifact beside if it matches, else a fresh one."""
    beside = job.artifact.with_name(artifact_name(job.encoder, job.imgsz, "fp32", OnnxExporter.suffix))
    if beside.is_file():
        try:
            contract = read_contract(beside)
        except Exception:
            contract = None
        if contract is not None and contract.source == job.source and contract.input_hw == tuple(job.imgsz):
            say(f"tflite: reusing {beside.name}")
            return beside
    work = convert.workspace() / f"onnx-{id(job)}"
    work.mkdir()
    onnx_job = dataclasses.replace(job, precision="fp32", int8_io=False, artifact=work / beside.name)
    return OnnxExporter().export(onnx_job)


def describe(path: Path, imgsz: tuple[int, int]) -> tuple[TensorSpec, TensorSpec]:
    """Input/output specs read back from the file by LiteRT, refusing unexpected shapes."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    h, w = imgsz
    specs = []
    for details, want in ((interpreter.get_input_details(), [1, h, w, 3]),
                          (interpreter.get_output_details(), [1, h, w, 1])):
        if len(details) != 1:
            raise ConversionError(f"TFLite model has {len(details)} inputs/outputs where one was expected")
        detail = details[0]
        shape = [int(v) for v in detail["shape"]]
        if shape != want:
            raise ConversionError(f"TFLite tensor {detail['name']} has shape {shape}, expected NHWC {want}")
        dtype = np.dtype(detail["dtype"]).name
        scale, zero_point = detail["quantization"]
        quant = Quantization(float(scale), int(zero_point)) if dtype in ("int8", "uint8") else None
        specs.append(TensorSpec(detail["name"], shape, "NHWC", dtype, quant))
    return specs[0], specs[1]
