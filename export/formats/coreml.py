"""Core ML: an iOS 16+ `.mlpackage` ML program with float32 I/O named like the ONNX export.

coremltools converts on Linux, but Core ML prediction runs only on Apple platforms: here the
spec (names, shapes, dtypes, op types, weight precision) is validated; numeric checks need a Mac.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from train.atomic import atomic_path

from ..contract import TensorSpec, write_contract
from ..errors import ConversionError
from ..import_order import before_tensorflow
from ..job import ExportJob, say
from .onnx import INPUT_NAME, OUTPUT_NAME

MAC_ONLY_NOTE = "Core ML prediction runs only on macOS/iOS: this export was validated by its spec, not numerically"
# fp16 weights and compute (what the Neural Engine runs), float32 I/O. An fp32 entry ("FLOAT32") would
# work too; it is left out to keep `--format all` for ResNet-152 at 512x512 near 5 minutes.
COMPUTE_PRECISION = {"fp16": "FLOAT16"}


class CoreMLExporter:
    name = "coreml"
    suffix = ".mlpackage"
    precisions = tuple(COMPUTE_PRECISION)

    def export(self, job: ExportJob) -> Path:
        before_tensorflow()  # coremltools imports TensorFlow
        import coremltools as ct
        import numpy as np
        import torch

        h, w = job.imgsz
        say(f"coreml: tracing and converting {job.encoder} at {h}x{w} ({job.precision} ML program, iOS 16+)")
        example = torch.zeros(1, 3, h, w)
        with torch.no_grad():
            traced = torch.jit.trace(job.model, example)
        precision = getattr(ct.precision, COMPUTE_PRECISION[job.precision])
        mlmodel = ct.convert(
            traced, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16,
            inputs=[ct.TensorType(name=INPUT_NAME, shape=(1, 3, h, w), dtype=np.float32)],
            outputs=[ct.TensorType(name=OUTPUT_NAME, dtype=np.float32)],
            compute_precision=precision, skip_model_load=True,
        )
        with atomic_path(job.artifact) as tmp:
            mlmodel.save(str(tmp))
            op_counts = validate_spec(ct.utils.load_spec(str(tmp)), (h, w), job.precision)
        say(f"coreml: spec ok ({sum(n for op, n in op_counts.items() if op != 'const')} ops); {MAC_ONLY_NOTE}")
        contract = job.contract(
            self.name, job.artifact,
            TensorSpec(INPUT_NAME, [1, 3, h, w], "NCHW"), TensorSpec(OUTPUT_NAME, [1, 1, h, w], "NCHW"),
            tools={"coremltools": ct.__version__, "minimum_deployment_target": "iOS16"},
            notes=[MAC_ONLY_NOTE, "ops: " + ", ".join(f"{op} x{n}" for op, n in sorted(op_counts.items())
                                                      if op != "const")],
        )
        write_contract(contract, job.artifact)
        return job.artifact


def program_ops(spec) -> Counter:
    """Op types of the ML program's main function."""
    main = spec.mlProgram.functions["main"]
    block = main.block_specializations[main.opset]
    return Counter(op.type for op in block.operations)


def weight_dtypes(spec) -> list[tuple[str, int]]:
    """(data type, rank) of every constant tensor in the program."""
    from coremltools.proto import MIL_pb2

    main = spec.mlProgram.functions["main"]
    types = [op.outputs[0].type.tensorType for op in main.block_specializations[main.opset].operations
             if op.type == "const"]
    return [(MIL_pb2.DataType.Name(t.dataType), len(t.dimensions)) for t in types]


def validate_spec(spec, imgsz: tuple[int, int], precision: str) -> Counter:
    """Refuse a package whose I/O, target or weight precision is not what the contract will say."""
    from coremltools.proto import FeatureTypes_pb2 as ft

    h, w = imgsz
    if not spec.WhichOneof("Type") == "mlProgram":
        raise ConversionError("Core ML export is not an ML program")
    if spec.specificationVersion < 7:
        raise ConversionError(f"Core ML spec version {spec.specificationVersion} is older than iOS 16 (7)")
    for features, name, shape in ((spec.description.input, INPUT_NAME, [1, 3, h, w]),
                                  (spec.description.output, OUTPUT_NAME, [1, 1, h, w])):
        if [f.name for f in features] != [name]:
            raise ConversionError(f"Core ML features are {[f.name for f in features]}, expected [{name!r}]")
        array = features[0].type.multiArrayType
        if array.dataType != ft.ArrayFeatureType.FLOAT32:
            raise ConversionError(f"Core ML {name} is not float32")
        if list(array.shape) != shape:
            raise ConversionError(f"Core ML {name} has shape {list(array.shape)}, expected {shape}")
    ops = program_ops(spec)
    if ops["conv"] == 0:
        raise ConversionError("Core ML program has no convolutions")
    weight_types = {dtype for dtype, rank in weight_dtypes(spec) if rank == 4}  # conv kernels
    expected = COMPUTE_PRECISION[precision]  # the weights' MIL data type matches the compute precision
    if weight_types != {expected}:
        raise ConversionError(f"Core ML conv weights are {sorted(weight_types)}, expected {expected} for {precision}")
    return ops
