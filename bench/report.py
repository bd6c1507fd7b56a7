"""Readable results: the terminal table (rich) and the Markdown report."""
from __future__ import annotations

from pathlib import Path

from .results import OK, Result

# (header, how to read it from a row); None shows as "-"
COLUMNS = [
    ("model", lambda r: r.model),
    ("backend", lambda r: r.backend),
    ("prec", lambda r: r.precision),
    ("size", lambda r: r.input_size),
    ("status", lambda r: r.status),
    ("thr", lambda r: r.threads),
    ("settings", lambda r: _settings(r)),
    ("MB", lambda r: _f(r.file_mb, 1)),
    ("init ms", lambda r: _f(r.init_ms, 0)),
    ("first ms", lambda r: _f(r.first_ms, 1)),
    ("mean±std ms", lambda r: f"{r.mean_ms:.2f}±{r.std_ms:.2f}" if r.mean_ms is not None and r.std_ms is not None
     else _f(r.mean_ms, 2)),
    ("p50", lambda r: _f(r.p50_ms, 2)),
    ("p90", lambda r: _f(r.p90_ms, 2)),
    ("p99", lambda r: _f(r.p99_ms, 2)),
    ("runs", lambda r: r.runs),
    ("RSS MB", lambda r: _f(r.peak_rss_mb, 0)),
    ("GPU MB", lambda r: _f(r.gpu_peak_mb, 0)),
    ("IoU", lambda r: _f(r.iou_split, 4)),
    ("IoU/img", lambda r: _f(r.iou_per_image, 4)),
    ("parity IoU", lambda r: _f(r.parity_mask_iou, 4)),
    ("equal px", lambda r: _f(r.parity_equal_pixels, 4)),
    ("max abs Δlogit", lambda r: _g(r.parity_max_abs_logit)),
    ("mean abs Δlogit", lambda r: _g(r.parity_mean_abs_logit)),
]


# the terminal shows fewer columns than the Markdown report; the CSV/JSON hold everything
TERMINAL = ("model", "backend", "prec", "status", "thr", "init ms", "p50", "p99", "mean±std ms", "RSS MB", "IoU",
            "IoU/img", "parity IoU", "max abs Δlogit")
NARROW = ("model", "backend", "prec", "status", "p50", "IoU", "parity IoU")  # under 160 columns


def _settings(r: Result) -> str:
    """How the runtime ran it, in a few words: memory format, compile, CUDA graphs, providers used."""
    parts = [r.memory_format if r.memory_format not in ("", "contiguous") else "",
             f"compile {r.compile}" if r.compile else "", "CUDA graphs" if r.cuda_graphs else "",
             r.providers.replace("ExecutionProvider", "")]
    return ", ".join(p for p in parts if p)


def _f(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _g(value) -> str:
    return "-" if value is None else f"{value:.2e}"


def cells(result: Result, only: tuple[str, ...] | None = None) -> list[str]:
    getters = dict(COLUMNS)
    return ["-" if (v := getters[header](result)) is None or v == "" else str(v) for header in (only or getters)]


def explanation(result: Result) -> str:
    return result.reason if not result.ok else "; ".join(result.notes)


def print_table(results: list[Result], console) -> None:
    from rich.table import Table

    shown = TERMINAL if console.width >= 160 else NARROW
    table = Table(header_style="bold", caption="ms per image; IoU vs ground truth (split / mean per image); "
                  "parity vs PyTorch" + ("; every column is in the CSV/Markdown" if shown is NARROW else ""),
                  caption_justify="left")
    for header in shown:
        table.add_column(header, overflow="fold", justify="left" if header in TERMINAL[:4] else "right",
                         min_width=len(header) if header != "model" else 12)
    table.add_column("device / why not", overflow="fold", min_width=10)
    for result in results:
        style = None if result.ok else ("yellow" if result.status in ("unavailable", "fallback") else "red")
        why = result.reason if not result.ok else ""
        table.add_row(*cells(result, shown), f"{result.device}{' - ' if result.device and why else ''}{why}", style=style)
    console.print(table)


def markdown(results: list[Result], meta: dict, pictures: list[Path], out_dir: Path) -> str:
    """A report to read or paste: what ran where, the table, each row's notes, the pictures."""
    lines = ["# seg-bench report", "", f"- command: `{meta.get('command', '')}`", f"- when: {meta.get('timestamp', '')}",
             f"- host: {meta.get('host', '')}; load average (1 min): {meta.get('load_average', '?')}",
             f"- images: {meta.get('images', '')}",
             f"- timing: {meta.get('warmup')} warm-up then {meta.get('runs')} timed runs per row; "
             f"{meta.get('timing', '')}", ""]
    versions = {k: v for r in results for k, v in r.versions.items()}
    lines += ["- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())), ""]
    headers = [h for h, _ in COLUMNS] + ["device", "CPU"]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for result in results:
        lines.append("| " + " | ".join(cells(result) + [result.device or "-", result.cpu or "-"]).replace("\n", " ")
                     + " |")
    notes = [(r, explanation(r)) for r in results if explanation(r)]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{r.model} / {r.backend} / {r.precision}** ({r.status}): {why}" for r, why in notes]
    if not any(r.iou_images for r in results if r.status == OK):
        lines += ["", "IoU against ground truth needs `--data DIR` (a dataset split with masks or labels)."]
    if pictures:
        lines += ["", "## Pictures", ""]
        lines += [f"![{p.stem}]({p.relative_to(out_dir) if p.is_relative_to(out_dir) else p})" for p in pictures]
    return "\n".join(lines) + "\n"
