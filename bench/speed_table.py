"""The one-machine speed table (bench/speed.py's speed.json) as Markdown: p50 per encoder, runtime and thread count,
and the ratios of the study's question, each read within one run (never across machines)."""
from __future__ import annotations

from .paper import STUDY_GPU, STUDY_GPU_MS, STUDY_NAMES

RATIO_ORDER = ("resnext50", "efficientnet-b0", "resnet152")  # the and the study's order of the question
RATIO_COLUMN = "LiteRT int8"


def p50(entry: dict, column: str, threads: int) -> float | None:
    return next((lat["p50_ms"] for lat in entry["latency"] if (lat["column"], lat["threads"]) == (column, threads)), None)


def cell(entry: dict, column: str, threads: int) -> str:
    if (value := p50(entry, column, threads)) is not None:
        return f"{value:.1f}"
    failed = any((f["column"], f["threads"]) == (column, threads) for f in entry.get("failed", []))
    return "failed" if failed else "-"


def columns(result: dict) -> list[str]:
    return list(dict.fromkeys(lat["column"] for e in result["entries"] for lat in e["latency"]))


def thread_counts(result: dict) -> list[int]:
    return sorted({lat["threads"] for e in result["entries"] for lat in e["latency"]})


def ratios(result: dict, column: str = RATIO_COLUMN, threads: int | None = None) -> str | None:
    """'ResNeXt-50 1.00 : EfficientNet-B0 0.52 : ResNet-152 1.10' (ResNeXt-50 = 1), or None when one is missing."""
    threads = threads if threads is not None else min(thread_counts(result), default=1)
    by_encoder = {e["encoder"]: p50(e, column, threads) for e in result["entries"]}
    times = [by_encoder.get(e) for e in RATIO_ORDER]
    if any(t is None for t in times):
        return None
    return " : ".join(f"{STUDY_NAMES.get(e, e)} {t / times[0]:.2f}" for e, t in zip(RATIO_ORDER, times))


def study_ratios() -> str:
    base = STUDY_GPU_MS[RATIO_ORDER[0]]
    return " : ".join(f"{STUDY_NAMES[e]} {STUDY_GPU_MS[e] / base:.2f}" for e in RATIO_ORDER)


def render(result: dict) -> list[str]:
    h, w = result["imgsz"]
    cols, counts = columns(result), thread_counts(result)
    lines = [f"p50 ms per image at {h}x{w}, one seg-bench run per thread count on {result['machine']} "
             f"({result['runs']} timed runs each):", "",
             "| encoder | weights | GMAC | params (M) | threads | " + " | ".join(cols) + " |",
             "|---|---|---:|---:|---:|" + "---:|" * len(cols)]
    for e in result["entries"]:
        for t in counts:
            cells = " | ".join(cell(e, c, t) for c in cols)
            lines.append(f"| {STUDY_NAMES.get(e['encoder'], e['encoder'])} | {e['weights']} | {e['gmac']:.2f} | "
                         f"{e['params_m']:.2f} | {t} | {cells} |")
    lines.append("")
    for e in result["entries"]:
        for f in e.get("failed", []):
            lines.append(f"- {STUDY_NAMES.get(e['encoder'], e['encoder'])} {f['column']}, {f['threads']} thread(s), did "
                         f"not run: {f['why']}")
    for t in counts:
        for c in cols:
            if (line := ratios(result, c, t)) is not None:
                lines.append(f"- {c}, {t} thread{'s' if t != 1 else ''}: {line} (ResNeXt-50 = 1)")
    lines.append(f"- the study, mean GPU inference on an {STUDY_GPU}: {study_ratios()}")
    return lines


def speed_answer(speed: list[dict]) -> list[str]:
    """The answer's speed bullet per one-machine run: the int8 ratios at the fewest threads, beside the study's."""
    lines = []
    for run in speed:
        # int8 where every encoder ran it, else the first column that all ran
        preferred = [RATIO_COLUMN] + [c for c in columns(run) if c != RATIO_COLUMN]
        column = next((c for c in preferred if ratios(run, c) is not None), None)
        if column is not None:
            line = ratios(run, column)
            weights = sorted({e["weights"].split(" ")[0] for e in run["entries"]})
            lines.append(f"- **speed** ({column}, {min(thread_counts(run))} thread, {run['imgsz'][0]}x"
                         f"{run['imgsz'][1]}, one run on {run['machine']}, {' and '.join(weights)} weights): {line}; "
                         f"the study on its GPU: {study_ratios()}.")
    return lines
