"""The one table of export formats. Adding a runtime = one module in export/formats + one line here.

Every exporter has `name`, `suffix` (file or folder ending), `precisions` and `export(job) -> Path`
(writes the artifact atomically at `job.artifact` and its contract beside it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from train.errors import UserError

from .formats.coreml import CoreMLExporter
from .formats.onnx import OnnxExporter
from .formats.tflite import TFLiteExporter


class Exporter(Protocol):
    name: str
    suffix: str
    precisions: tuple[str, ...]

    def export(self, job) -> Path: ...


EXPORTERS: dict[str, Exporter] = {e.name: e for e in (OnnxExporter(), TFLiteExporter(), CoreMLExporter())}
PRECISIONS = ("fp32", "fp16", "int8")


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


def precision_matrix() -> str:
    return "; ".join(f"{e.name}: {'/'.join(e.precisions)}" for e in EXPORTERS.values())


def export_matrix(precision: str | None = None) -> list[tuple[str, str, bool]]:
    """(format, precision, int8 I/O) of everything `--format all` makes; `precision` narrows it."""
    if precision is not None and precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    jobs = []
    for exporter in EXPORTERS.values():
        for p in exporter.precisions:
            if precision in (None, p):
                jobs.append((exporter.name, p, False))
                if exporter.name == "tflite" and p == "int8":
                    jobs.append((exporter.name, p, True))
    return jobs
