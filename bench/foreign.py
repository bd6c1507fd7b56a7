"""Contracts for foreign models (no contract beside them): read what the file says, take the rest from flags."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from export.contract import ModelContract, Postprocess, Preprocess, Quantization, Source, TensorSpec
from export.preprocess import output_to_logits
from train.errors import UserError
from train.zoo import IMAGENET_MEAN, IMAGENET_STD

OUTPUT_KINDS = ("logits", "probability", "two-class")
_PRECISIONS = {"float32": "fp32", "float16": "fp16", "int8": "int8", "uint8": "int8"}
FORMATS = {".onnx": "onnx", ".tflite": "tflite", ".mlpackage": "coreml", ".pte": "executorch"}


@dataclass
class ForeignFlags:
    input_size: tuple[int, int] | None = None  # default: the model's own input shape
    layout: str | None = None  # NCHW | NHWC; default: where the model's 3 channels are
    mean: tuple[float, float, float] | None = None  # default ImageNet (said in the notes)
    std: tuple[float, float, float] | None = None
    pixel_scale: float = 255.0
    output_kind: str = "logits"  # two-class: channels (background, person) as logits
    threshold: float = 0.5


@dataclass
class _Tensor:
    name: str
    shape: list[int]
    dtype: str
    quantization: Quantization | None = None


def format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path.name}: not a model file (use .onnx, .tflite, .mlpackage or .pte)")
    return fmt


def _inspect(path: Path, fmt: str) -> tuple[_Tensor | None, _Tensor | None]:
    if fmt == "onnx":
        import onnx
        from onnx.helper import tensor_dtype_to_np_dtype

        graph = onnx.load(str(path), load_external_data=False).graph
        weights = {init.name for init in graph.initializer}

        def spec(value) -> _Tensor:
            t = value.type.tensor_type
            dims = [d.dim_value if d.dim_value > 0 else -1 for d in t.shape.dim]  # -1: dynamic
            return _Tensor(value.name, [1, *dims[1:]], str(tensor_dtype_to_np_dtype(t.elem_type)))

        inputs = [spec(v) for v in graph.input if v.name not in weights]
        return inputs[0], spec(graph.output[0])
    if fmt == "tflite":  # in a child process: a damaged file can crash LiteRT natively
        from export.isolated import IsolationError, run_isolated

        try:
            return run_isolated(_tflite_tensors, path, timeout=300)
        except (IsolationError, ValueError, RuntimeError) as err:
            lines = str(err).strip().splitlines()
            raise UserError(f"LiteRT cannot read {path.name}: {lines[0] if lines else type(err).__name__}") from None
    return None, None  # Core ML: reading the spec needs coremltools, which only runs models on macOS


def _tflite_tensors(path: Path) -> tuple[_Tensor, _Tensor]:
    from export.formats.tflite.runner import LiteRTRunner

    runner = LiteRTRunner(path, allocate=False)  # tensor details only: nothing runs

    def spec(d: dict) -> _Tensor:
        scale, zero = d["quantization"]
        quant = Quantization(float(scale), int(zero)) if scale else None
        return _Tensor(d["name"], [int(s) for s in d["shape"]], str(np.dtype(d["dtype"])), quant)

    return spec(runner.input), spec(runner.output)


def _input_layout(shape: list[int]) -> str:
    if len(shape) == 4 and shape[1] == 3 and shape[3] != 3:
        return "NCHW"
    if len(shape) == 4 and shape[3] == 3:
        return "NHWC"
    raise UserError(f"cannot tell the layout of the input {shape}: pass --input-layout NCHW|NHWC")


def _output(found: _Tensor | None, layout: str, hw: tuple[int, int], kind: str) -> TensorSpec:
    """The output spec: a full-size mask with 1 channel (2 for two-class), its layout found by where H, W are."""
    wanted = 2 if kind == "two-class" else 1
    if found is None or min(found.shape) < 1:  # not in the file (Core ML) or dynamic: as the input
        shape = [1, wanted, *hw] if layout == "NCHW" else [1, *hw, wanted]
        return TensorSpec(found.name if found else "output", shape, layout, found.dtype if found else "float32")
    shape = list(found.shape)
    if len(shape) == 3:  # [1, H, W]: one channel without its axis
        shape = [1, 1, *shape[1:]] if layout == "NCHW" else [*shape, 1]
    if len(shape) == 4 and shape[2:4] == list(hw):
        out_layout, channels = "NCHW", shape[1]
    elif len(shape) == 4 and shape[1:3] == list(hw):
        out_layout, channels = "NHWC", shape[3]
    else:
        raise UserError(f"output {found.shape} is not a {hw[0]}x{hw[1]} mask: seg-bench reads full-size outputs only")
    if channels != wanted:
        hint = " (pass --output-kind two-class)" if channels == 2 else ""
        raise UserError(f"the output has {channels} channels; --output-kind {kind} reads {wanted}{hint}")
    return TensorSpec(found.name, shape, out_layout, found.dtype, found.quantization)


def foreign_contract(path: Path, flags: ForeignFlags) -> ModelContract:
    """A contract for a model exported elsewhere; what the file does not say comes from the flags."""
    fmt = format_of(path)
    if flags.output_kind not in OUTPUT_KINDS:
        raise UserError(f"unknown --output-kind {flags.output_kind!r}: use {', '.join(OUTPUT_KINDS)}")
    found_in, found_out = _inspect(path, fmt)
    if found_in is None and (flags.input_size is None or flags.layout is None):
        raise UserError(f"{path.name} has no contract beside it: pass --input-size H W and --input-layout")
    layout = flags.layout or _input_layout(found_in.shape)
    if found_in is not None and flags.input_size is None:
        h, w = found_in.shape[2:4] if layout == "NCHW" else found_in.shape[1:3]
    else:
        h, w = flags.input_size
    if h < 1 or w < 1:
        raise UserError(f"{path.name} takes any input size: pass --input-size H W")
    in_shape = [1, 3, h, w] if layout == "NCHW" else [1, h, w, 3]
    notes = [f"foreign model: contract from the file and flags (layout {layout}, output {flags.output_kind})"]
    if flags.mean is None or flags.std is None:
        notes.append("normalization not given: assumed ImageNet mean/std (--mean/--std to set it)")
    return ModelContract(
        format=fmt, precision=_PRECISIONS.get(found_in.dtype if found_in else "float32", "fp32"),
        artifact=path.name,
        input=TensorSpec(found_in.name if found_in else "input", in_shape, layout,
                         found_in.dtype if found_in else "float32", found_in.quantization if found_in else None),
        output=_output(found_out, layout, (h, w), flags.output_kind),
        preprocess=Preprocess(list(flags.mean or IMAGENET_MEAN), list(flags.std or IMAGENET_STD), flags.pixel_scale),
        postprocess=Postprocess(kind="probability" if flags.output_kind == "probability" else "logits",
                                threshold=flags.threshold),
        source=Source(encoder="unknown", checkpoint=None, checkpoint_sha256=None, trained=False),
        notes=notes,
    )


def is_two_class(contract: ModelContract) -> bool:
    channel_axis = 1 if contract.output.layout == "NCHW" else 3
    return contract.output.shape[channel_axis] == 2


def read_logits(raw: np.ndarray, contract: ModelContract) -> np.ndarray:
    """HxW person logits from a raw output; two-class outputs (background, person) become one logit channel."""
    if not is_two_class(contract):
        return output_to_logits(raw, contract)
    out = raw.astype(np.float32).reshape(contract.output.shape)
    if (quant := contract.output.quantization) is not None:
        out = (out - quant.zero_point) * np.float32(quant.scale)
    axis = 1 if contract.output.layout == "NCHW" else 3
    background, person = np.take(out, 0, axis=axis), np.take(out, 1, axis=axis)
    if contract.postprocess.kind == "probability":  # softmax outputs: the logit of person vs background
        background, person = np.log(np.clip(background, 1e-7, None)), np.log(np.clip(person, 1e-7, None))
    logit = np.expand_dims(person - background, axis)
    single = replace(contract, output=replace(contract.output, shape=list(logit.shape), quantization=None),
                     postprocess=replace(contract.postprocess, kind="logits"))
    return output_to_logits(logit, single)
