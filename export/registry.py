"""The one table of export formats. Adding a runtime = one module (or package) in export/formats + one line here.

Every exporter has `name`, `suffix` (file or folder ending), `precisions` and `export(job) -> Path`
(writes the artifact atomically at `job.artifact` and its contract beside it). A format with several
converters (CONVERTERS) is routed here by the job's converter: litert-torch builds on tflite's checks, so
tflite itself never imports it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from train.errors import UserError

from .formats.coreml import CoreMLExporter
from .formats.executorch import ExecuTorchExporter
from .formats.litert_torch import DEFAULT_QUANTIZER, export_litert_torch
from .formats.onnx import OnnxExporter
from .formats.tflite import TFLiteExporter


class Exporter(Protocol):
    name: str
    suffix: str
    precisions: tuple[str, ...]

    def export(self, job) -> Path: ...


class TFLiteRoutes(TFLiteExporter):
    """tflite by the job's converter: onnx2tf (export/formats/tflite) or litert-torch (export/formats/litert_torch)."""

    def export(self, job) -> Path:
        if job.converter == "litert-torch":  # the other route to the same format, its own package
            return export_litert_torch(job, job.quantizer or DEFAULT_QUANTIZER)
        return super().export(job)


EXPORTERS: dict[str, Exporter] = {e.name: e for e in (OnnxExporter(), TFLiteRoutes(), CoreMLExporter(),
                                                    ExecuTorchExporter())}
PRECISIONS = ("fp32", "fp16", "int8", "int8-dynamic")
CONVERTERS = {"tflite": ("onnx2tf", "litert-torch")}  # formats with more than one route; the first is the default


def get_exporter(fmt: str, precision: str) -> Exporter:
    """The exporter for `fmt`, refusing unknown formats and precisions it cannot do."""
    if fmt not in EXPORTERS:
        raise UserError(f"unknown format {fmt!r}: use {', '.join(EXPORTERS)} or all")
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    exporter = EXPORTERS[fmt]
    if precision not in exporter.precisions:
        raise UserError(f"{fmt} export supports {', '.join(exporter.precisions)}, not {precision} "
                        f"(see the matrix: {precision_matrix()})")
    return exporter


def check_converter(fmt: str, converter: str | None, precision: str) -> str:
    """The converter for `fmt` (its default when None), refusing one the format does not have."""
    routes = CONVERTERS.get(fmt, ())
    if converter is None:
        return routes[0] if routes else ""
    if converter not in routes:
        offered = f"tflite has {', '.join(CONVERTERS['tflite'])}" if fmt != "tflite" else ", ".join(routes)
        raise UserError(f"--converter {converter} is not a route to {fmt} ({offered})")
    if converter == "litert-torch" and precision not in ("fp32", "int8"):
        raise UserError(f"--converter litert-torch exports fp32 and int8, not {precision}")
    return converter


def precision_matrix() -> str:
    return "; ".join(f"{e.name}: {'/'.join(e.precisions)}" for e in EXPORTERS.values())


def export_matrix(precision: str | None = None) -> list[tuple[str, str, bool]]:
    """(format, precision, int8 I/O) of everything `--format all` makes; `precision` narrows it."""
    if precision is not None and precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    jobs = []
    for exporter in EXPORTERS.values():
        if not getattr(exporter, "in_format_all", True):  # asked for by name only (see the exporter)
            continue
        for p in exporter.precisions:
            if precision in (None, p):
                jobs.append((exporter.name, p, False))
                if exporter.name == "tflite" and p == "int8":
                    jobs.append((exporter.name, p, True))
    return jobs
