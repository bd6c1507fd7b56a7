"""One result row per model x backend x precision (x device), and its JSON and CSV files."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from train.atomic import write_text_atomic

RESULTS_FORMAT = "seg-bench-results/1"
OK, UNAVAILABLE, FAILED = "ok", "unavailable", "failed"
FALLBACK = "fallback"  # the runtime put the model on another provider than the row's (e.g. ORT CUDA -> CPU): not measured


@dataclass
class Result:
    model: str  # artifact file name (or the checkpoint for torch rows)
    backend: str
    precision: str
    status: str = OK  # ok | unavailable | failed | fallback
    reason: str = ""  # why not ok, in one line
    encoder: str = ""
    format: str = ""
    device: str = ""
    cpu: str = ""  # the host's CPU model (train.hardware), also on GPU rows
    input_size: str = ""  # HxW the model runs at
    threads: int | None = None
    # how the runtime ran it: torch memory format, torch.compile mode, CUDA graphs, ONNX Runtime providers actually
    # used, and every other option given to the runtime (session options, TensorRT options, delegates, autocast)
    memory_format: str = ""
    compile: str = ""
    cuda_graphs: bool | None = None
    providers: str = ""
    runtime_options: dict[str, str] = field(default_factory=dict)
    file_mb: float | None = None
    # latency (ms): load, first inference, then `warmup` untimed and `runs` timed inferences
    init_ms: float | None = None
    first_ms: float | None = None
    warmup: int | None = None
    runs: int | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    # memory (MB): process RSS peak and its rise during this row, and GPU memory peak
    peak_rss_mb: float | None = None
    rss_delta_mb: float | None = None
    gpu_peak_mb: float | None = None
    # accuracy against ground truth, masks resized back to each image's size
    images: str = ""  # what the model was fed: dataset split, photos or synthetic
    iou_per_image: float | None = None
    iou_split: float | None = None
    iou_images: int | None = None
    # parity against the PyTorch model of the same checkpoint, at the model's resolution
    parity_mask_iou: float | None = None
    parity_equal_pixels: float | None = None
    parity_max_abs_logit: float | None = None
    parity_mean_abs_logit: float | None = None
    parity_images: int | None = None
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    host: str = ""
    timestamp: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK


COLUMNS = [f.name for f in fields(Result)]


def write_json(results: list[Result], path: Path, meta: dict) -> Path:
    payload = {"format": RESULTS_FORMAT, **meta, "results": [asdict(r) for r in results]}
    return write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


def read_json(path: Path) -> list[Result]:
    data = json.loads(Path(path).read_text())
    if data.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path} is not a seg-bench results file")
    return [Result(**row) for row in data["results"]]


def csv_text(results: list[Result]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    for result in results:
        row = asdict(result)
        row["notes"] = " | ".join(result.notes)
        row["versions"] = "; ".join(f"{k}={v}" for k, v in result.versions.items())
        row["runtime_options"] = "; ".join(f"{k}={v}" for k, v in result.runtime_options.items())
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def write_csv(results: list[Result], path: Path) -> Path:
    return write_text_atomic(path, csv_text(results))
