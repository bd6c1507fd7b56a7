"""The model contract: everything an app or a benchmark needs to feed an artifact and read it.

One JSON file beside every exported artifact (`<artifact>.json`), read by `seg-bench` and by
the Android demo. Nothing downstream guesses layouts, normalization or thresholds. Schema 2 adds the
artifact's sha256 and size (checked before loading, export/integrity.py) and names files relative to
the contract only; schema 1 contracts (no checksum) are still read.

The one definition of the format is the JSON Schema `export/contract.schema.json`: every contract is
validated against it when written (`to_json`) and when read (`from_dict`), and refused in one line if
it does not conform (an unknown layout, a threshold outside (0, 1), a missing field, ...).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

from train.atomic import write_text_atomic
from train.errors import UserError

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
CONTRACT_SUFFIX = ".json"
SCHEMA_FILE = Path(__file__).with_name("contract.schema.json")

Format = Literal["onnx", "tflite", "coreml", "executorch"]
Precision = Literal["fp32", "fp16", "int8", "int8-dynamic"]
# int8 weights and activations: full-integer (calibrated ranges), or dynamic (each image's ranges, at run time)
INT8_PRECISIONS = ("int8", "int8-dynamic")
Layout = Literal["NCHW", "NHWC"]
DType = Literal["float32", "float16", "int8", "uint8"]
OutputKind = Literal["logits", "probability"]


@dataclass
class Quantization:
    """real = scale * (q - zero_point)."""

    scale: float
    zero_point: int


@dataclass
class TensorSpec:
    name: str
    shape: list[int]
    layout: Layout
    dtype: DType = "float32"
    quantization: Quantization | None = None

    @property
    def height_width(self) -> tuple[int, int]:
        if self.layout == "NCHW":
            return self.shape[2], self.shape[3]
        return self.shape[1], self.shape[2]


@dataclass
class Preprocess:
    """RGB pixels -> resize (bilinear, half-pixel centres, no antialias) -> /pixel_scale -> (x-mean)/std."""

    mean: list[float]
    std: list[float]
    pixel_scale: float = 255.0
    color_order: Literal["RGB"] = "RGB"
    resize: Literal["bilinear"] = "bilinear"


@dataclass
class Postprocess:
    """Output channel 0 is `channel_meaning`; person where sigmoid(logit) > threshold.

    Masks for the original image: resize the logits bilinearly to its size, then threshold.
    """

    kind: OutputKind = "logits"
    threshold: float = 0.5
    channel_meaning: str = "person"
    resize: Literal["bilinear"] = "bilinear"


@dataclass
class Source:
    """Where the weights came from: the checkpoint and what it was trained on."""

    encoder: str
    checkpoint: str | None  # relative to the contract's folder (or the current one), or a bare file name
    checkpoint_sha256: str | None
    trained: bool
    init_seed: int | None = None  # for untrained exports: torch.manual_seed used before building
    dataset: str | None = None
    person_class: int | None = None
    epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Fidelity:
    """int8 exports: how far the masks moved from fp32's on held-out images, and the floor seg-export enforced."""

    metric: str  # what `agreement` is
    agreement: float | None  # None: not measured (untrained weights, or no held-out images with the floor at 0)
    min_agreement: float  # the floor applied at export (0: explicitly unchecked)
    images: int
    held_out: str | None  # the held-out folder (last components only)
    float_ops: int | None = None  # onnx2tf int8: how many of the graph's leading ops stayed float (None: not said)
    sets: list[dict] | None = None  # per held-out set: held_out, agreement, images (`agreement` is their minimum)


@dataclass
class ModelContract:
    format: Format
    precision: Precision
    artifact: str  # file name, relative to the contract
    input: TensorSpec
    output: TensorSpec
    preprocess: Preprocess
    postprocess: Postprocess
    source: Source
    tools: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    artifact_sha256: str | None = None  # of the artifact's bytes (of a folder's files, for .mlpackage)
    artifact_bytes: int | None = None
    fidelity: Fidelity | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.input.height_width

    def to_json(self) -> str:
        """The contract as written to disk; refused (UserError) if it does not conform to the schema."""
        data = asdict(self)
        validate_contract(data)
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict, where: str = "model contract") -> "ModelContract":
        if not isinstance(data, dict):
            raise UserError(f"{where} is not a JSON object")
        if data.get("schema_version") not in READABLE_SCHEMAS:
            raise UserError(f"contract schema {data.get('schema_version')} is not "
                            f"{' or '.join(map(str, READABLE_SCHEMAS))} (re-export, or update this toolkit)")
        validate_contract(data, where)
        try:
            tensors = {}
            for key in ("input", "output"):
                spec = dict(data[key])
                quant = spec.pop("quantization", None)
                tensors[key] = TensorSpec(**spec, quantization=Quantization(**quant) if quant else None)
            sha256, size = data.get("artifact_sha256"), data.get("artifact_bytes")
            if not (sha256 is None or isinstance(sha256, str)) or not (size is None or type(size) is int):
                raise TypeError("artifact_sha256 must be a string and artifact_bytes an integer")
            return cls(
                format=data["format"],
                precision=data["precision"],
                artifact=data["artifact"],
                input=tensors["input"],
                output=tensors["output"],
                preprocess=Preprocess(**data["preprocess"]),
                postprocess=Postprocess(**data["postprocess"]),
                source=Source(**data["source"]),
                tools=dict(data.get("tools", {})),
                notes=list(data.get("notes", [])),
                artifact_sha256=sha256,
                artifact_bytes=size,
                fidelity=Fidelity(**data["fidelity"]) if data.get("fidelity") else None,
            )
        except (KeyError, TypeError) as err:
            raise UserError(f"malformed model contract: {err}") from None


def contract_path(artifact: str | Path) -> Path:
    """The contract of `model.tflite` is `model.tflite.json` (also for `.mlpackage` folders)."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + CONTRACT_SUFFIX)


def write_contract(contract: ModelContract, artifact: str | Path) -> Path:
    """Write the contract beside `artifact` (which must exist), recording the artifact's sha256 and size."""
    from .integrity import artifact_digest

    sha256, size = artifact_digest(artifact)
    return write_text_atomic(contract_path(artifact),
                             replace(contract, artifact_sha256=sha256, artifact_bytes=size).to_json())


def read_contract(artifact: str | Path) -> ModelContract:
    path = contract_path(artifact)
    if not path.is_file():
        raise UserError(f"no model contract beside {artifact} (expected {path})")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"model contract {path} is not valid JSON: {err}") from None
    return ModelContract.from_dict(data, f"model contract {path.name}")


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_contract(data: dict, where: str = "model contract") -> None:
    """Refuse, in one line, contract data that does not conform to export/contract.schema.json."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is None:
        return
    field_name = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    raise UserError(f"{where} does not follow {SCHEMA_FILE.name}: {field_name}: {message}")
