"""`seg-bench --paper`: the study's Tables 3, 4 and 5 beside our numbers (parameters, IoU, GPU latency)."""
from __future__ import annotations

from pathlib import Path

from train.zoo import STUDY_ENCODERS

from .results import Result

STUDY_NAMES = {"resnext50": "ResNeXt-50", "resnet152": "ResNet-152", "efficientnet-b0": "EfficientNet-B0"}
# Table 3: encoder parameters (millions)
STUDY_PARAMS_M = {"resnext50": 22, "resnet152": 60, "efficientnet-b0": 4}
# Table 4: person IoU; the portrait sets (APSIS / EG1800) only as "> 0.96" for all three
STUDY_IOU_PORTRAIT = "> 0.96"
STUDY_IOU_CAMVID = {"resnext50": 0.434, "resnet152": 0.412, "efficientnet-b0": 0.401}
# Table 5: mean GPU inference (ms), RTX 2080 Ti
STUDY_GPU_MS = {"resnext50": 17.3, "resnet152": 30.8, "efficientnet-b0": 19.5}
STUDY_GPU = "RTX 2080 Ti"
GPU_BACKENDS = ("torch-cuda", "ort-cuda", "ort-trt")


def parameter_counts() -> dict[str, dict[str, int]]:
    """Encoder and whole-U-Net parameters of each study encoder (built untrained, no download)."""
    from train.zoo import build_unet, count_parameters, smp_encoder_name

    return {enc: count_parameters(build_unet(smp_encoder_name(enc))) for enc in STUDY_ENCODERS}


def _dataset(result: Result) -> str:
    return result.images.split("/", 1)[0] if "/" in result.images and result.iou_split is not None else ""


def best_iou(results: list[Result], encoder: str, camvid: bool) -> Result | None:
    rows = [r for r in results if r.ok and r.encoder == encoder and r.iou_split is not None
            and ("camvid" in _dataset(r).lower()) == camvid]
    return max(rows, key=lambda r: r.iou_split, default=None)


def fastest(results: list[Result], encoder: str, gpu: bool) -> Result | None:
    rows = [r for r in results if r.ok and r.encoder == encoder and r.mean_ms is not None
            and (r.backend in GPU_BACKENDS) == gpu and r.backend != "android"]
    return min(rows, key=lambda r: r.mean_ms, default=None)


def paper_tables(results: list[Result], params: dict[str, dict[str, int]] | None) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) for Tables 3, 4 and 5, study beside ours; '-' where we have no number yet."""
    def row_tag(r: Result | None, value: str) -> str:
        return "-" if r is None else f"{value} ({r.backend} {r.precision}, {r.model})"

    t3 = [[STUDY_NAMES[e], f"{STUDY_PARAMS_M[e]}M",
           f"{params[e]['encoder'] / 1e6:.1f}M" if params else "-", f"{params[e]['total'] / 1e6:.2f}M" if params else "-"]
          for e in STUDY_ENCODERS]
    t4 = []
    for e in STUDY_ENCODERS:
        portrait, camvid = best_iou(results, e, camvid=False), best_iou(results, e, camvid=True)
        t4.append([STUDY_NAMES[e], STUDY_IOU_PORTRAIT,
                   row_tag(portrait, f"{portrait.iou_split:.3f} on {_dataset(portrait)}") if portrait else "-",
                   f"{STUDY_IOU_CAMVID[e]:.3f}", row_tag(camvid, f"{camvid.iou_split:.3f}") if camvid else "-"])
    t5 = []
    for e in STUDY_ENCODERS:
        gpu, cpu = fastest(results, e, gpu=True), fastest(results, e, gpu=False)
        t5.append([STUDY_NAMES[e], f"{STUDY_GPU_MS[e]:.1f}",
                   row_tag(gpu, f"{gpu.mean_ms:.2f} ms at {gpu.input_size} on {gpu.device}") if gpu else "- (no GPU row)",
                   row_tag(cpu, f"{cpu.mean_ms:.1f} ms at {cpu.input_size}") if cpu else "-"])
    return [
        ("Table 3 - parameters", ["encoder", "study (encoder)", "ours (encoder)", "ours (whole U-Net)"], t3),
        ("Table 4 - person IoU", ["encoder", "study portrait (APSIS/EG1800)", "ours portrait-style",
                                  "study CamVid pedestrians", "ours CamVid"], t4),
        ("Table 5 - mean inference per image", ["encoder", f"study GPU ms ({STUDY_GPU})", "ours GPU (fastest row)",
                                                  "ours CPU (fastest row, for scale)"], t5),
    ]


def print_paper(tables, console) -> None:
    from rich.table import Table

    for title, headers, rows in tables:
        table = Table(title=title, title_justify="left", header_style="bold")
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def paper_markdown(tables) -> str:
    lines = []
    for title, headers, rows in tables:
        lines += [f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def load_results(path: Path) -> list[Result]:
    from .results import read_json

    return read_json(path) if path.is_file() else []
