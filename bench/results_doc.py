"""docs/RESULTS.md and its plot, generated from docs/results.json rows (`seg-results`); nothing in it is typed by hand.

The study's own figures come from bench/paper.py, each beside ours with the device, size and epochs it was
measured at.
"""
from __future__ import annotations

from pathlib import Path

from train.atomic import atomic_path

from .paper import STUDY_GPU, STUDY_GPU_MS, STUDY_IOU_CAMVID, STUDY_IOU_PORTRAIT, STUDY_NAMES, STUDY_PARAMS_M
from .speed_table import render as render_speed, speed_answer

# the columns of the latency tables: (runtime, precision, label)
LATENCY_COLUMNS = (("torch-cpu", "fp32", "torch fp32"), ("ort-cpu", "fp32", "ORT fp32"), ("tflite", "fp32", "LiteRT fp32"),
                   ("tflite", "fp16", "LiteRT fp16"), ("tflite", "int8", "LiteRT int8"),
                   ("tflite", "int8-dynamic", "LiteRT int8 dynamic"))
PLOT_NAME = "results_iou_vs_latency.png"


def name(encoder: str) -> str:
    return STUDY_NAMES.get(encoder, encoder)


def f3(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def p50(row: dict, runtime: str, precision: str, threads: int | None) -> float | None:
    """p50 of the float-I/O artifact of that runtime and precision at that thread count."""
    for lat in row["latency"]:
        if (lat["runtime"], lat["precision"], lat["threads"]) == (runtime, precision, threads) and "-io8" not in lat["artifact"]:
            return lat["p50_ms"]
    return None


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def thread_counts(rows: list[dict]) -> list[int | None]:
    return sorted({lat["threads"] for r in rows for lat in r["latency"]}, key=lambda t: (t is None, t))


def trained(row: dict) -> str:
    return (f"{row['epochs']} epochs, {row['train_hours']:.2f} h, {row['imgsz'][0]}x{row['imgsz'][1]}, "
            f"{row['recipe'].get('precision', {}).get('amp', '?')}, {row['device']}")


def threads_label(threads: int | None) -> str:
    return "every core" if threads is None else f"{threads} thread{'s' if threads != 1 else ''}"


def answer(rows: list[dict]) -> list[str]:
    """The study's question, asked of the data: is ResNeXt-50 still the best and the fastest? With margins, so
    a tie reads as one."""
    lines = []
    for dataset, split in sorted({(r["dataset"], r["split"]) for r in rows}, key=lambda k: (k[0], k[1] != "test", k[1])):
        group = sorted((r for r in rows if (r["dataset"], r["split"]) == (dataset, split) and r["iou"] is not None),
                       key=lambda r: -r["iou"])
        if not group:
            continue
        best = group[0]
        # each with its training budget: the encoders need not have had the same epochs (the cpu preset aims at
        # about equal CPU time; training_cost says where the hours show otherwise)
        ranking = ", ".join(f"{name(r['encoder'])} {r['iou']:.3f} ({r['epochs']} epochs, {r['train_hours']:.2f} h)"
                            for r in group)
        where = ("test split" if split == "test" else
                 f"models trained on {dataset}, scored on {split}: {best.get('test_images', '?')} images never trained on")
        line = f"- **{dataset if split == 'test' else split}** ({where}, torch fp32 IoU, training): {ranking}."
        if len(group) > 1:
            line += f" Best: {name(best['encoder'])}, by {best['iou'] - group[1]['iou']:.3f}.{training_cost(group)}"
        one = min(thread_counts(group), key=lambda t: (t is None, t), default=None)  # none: scored, not timed
        timed = sorted(((p50(r, "tflite", "int8", one), r) for r in group if p50(r, "tflite", "int8", one) is not None),
                       key=lambda t: t[0])
        one_machine = len({r["bench_cpu"] for _, r in timed}) <= 1  # else their latencies do not compare
        if timed:
            speeds = ", ".join(f"{name(r['encoder'])} {t:.1f} ms" + ("" if one_machine else f" ({r['bench_cpu']})")
                               for t, r in timed)
            line += f" LiteRT int8, {threads_label(one)}, p50: {speeds}."
            if not one_machine:
                line += " Measured on different machines: no speed ratio."
        resnext = next((r for r in group if r["encoder"] == "resnext50"), None)
        if resnext is not None and resnext is not best:
            line += f" ResNeXt-50: {resnext['iou'] - best['iou']:+.3f} IoU against the best"
            if timed and one_machine and timed[0][1] is not resnext:
                resnext_ms = next((t for t, r in timed if r is resnext), None)
                if resnext_ms is not None:
                    line += f", {resnext_ms / timed[0][0]:.1f}x the fastest's int8 latency"
            line += "."
        lines.append(line)
    return lines


UNEQUAL_COST = 1.5  # training-hour ratio on one machine above which the ranking is not at equal cost


def training_cost(group: list[dict]) -> str:
    """Whether the ranking was bought at equal training cost: a preset's epochs are fixed, but what they cost per
    encoder depends on the CPU (EfficientNet-B0's 40 epochs matched the ResNets' 10 on Zen 5, not on Zen 4)."""
    machines = {(r["device"], r["bench_cpu"]) for r in group}  # a study run trains and benches on one machine
    if len(machines) > 1:
        return " Trained on machines the rows name differently: their hours do not compare."
    timed = sorted(((r["train_hours"], r) for r in group if r.get("train_hours")), key=lambda t: t[0])
    if len(timed) > 1 and timed[-1][0] > UNEQUAL_COST * timed[0][0]:
        (least, cheap), (most, dear) = timed[0], timed[-1]
        return (f" Not at equal cost: {name(dear['encoder'])} trained {most / least:.1f}x as long as "
                f"{name(cheap['encoder'])} on the same machine.")
    return ""


def float_ops(row: dict) -> str:
    """The int8 export's leading float ops; '-' for rows exported before it was recorded (TF min/max ranges)."""
    value = row.get("int8_float_ops")
    return "-" if value is None else str(value)


def iou_table(rows: list[dict]) -> list[str]:
    lines = ["| encoder | dataset | study | ours: IoU (split / per image) | int8 mask IoU vs fp32 | int8 ops kept float "
             "| int8 dynamic vs fp32 | best val IoU | trained |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: (r["dataset"], r["split"] != "test", r["split"], r["encoder"])):
        study = STUDY_IOU_CAMVID.get(r["encoder"]) if r["dataset"] == "camvid" else STUDY_IOU_PORTRAIT
        study = f"{study} (pedestrians)" if r["dataset"] == "camvid" else f"{study} (EG1800 portraits)"
        lines.append(f"| {name(r['encoder'])} | {r['dataset']} {r['split']} | {study} | {f3(r['iou'])} / "
                     f"{f3(r['iou_per_image'])} | {f3(r['int8_mask_iou_vs_fp32'])} | {float_ops(r)} "
                     f"| {f3(r.get('int8_dynamic_mask_iou_vs_fp32'))} | {f3(r['val_iou'])} "
                     f"| {trained(r)} |")
    return lines


def timed_rows(rows: list[dict]) -> list[dict]:
    """The rows that carry latency: test splits (a model scored on another set was timed on its test split)."""
    return [r for r in rows if r["split"] == "test"]


def latency_table(rows: list[dict], dataset: str) -> list[str]:
    group = sorted((r for r in timed_rows(rows) if r["dataset"] == dataset), key=lambda r: r["encoder"])
    if not group:
        return []
    size = "x".join(str(v) for v in group[0]["imgsz"])
    machines = sorted({r["bench_cpu"] for r in group})
    where = machines[0] if len(machines) == 1 else "the machine each row names (compare latencies within one machine)"
    lines = [f"p50 ms per image at {size} on {where} (host copies included; bench/README.md has the "
             f"rule), beside the study's mean on an {STUDY_GPU}:", "",
             "| encoder | threads | study GPU | " + " | ".join(label for _, _, label in LATENCY_COLUMNS) + " |"
             + (" measured on |" if len(machines) > 1 else ""),
             "|---|---:|---:|" + "---:|" * len(LATENCY_COLUMNS) + ("---|" if len(machines) > 1 else "")]
    for r in group:
        for t in thread_counts([r]):
            cells = " | ".join(ms(p50(r, rt, pr, t)) for rt, pr, _ in LATENCY_COLUMNS)
            machine = f" {r['bench_cpu']} |" if len(machines) > 1 else ""
            lines.append(f"| {name(r['encoder'])} | {t or 'all'} | {STUDY_GPU_MS.get(r['encoder'], '-')} | {cells} |{machine}")
    return lines


def formats_table(rows: list[dict]) -> list[str]:
    lines = ["| encoder | dataset | artifact | runtime | IoU | mask IoU vs torch fp32 | MB |", "|---|---|---|---|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["dataset"], r["split"] != "test", r["split"], r["encoder"])):
        for f in r["formats"]:
            lines.append(f"| {name(r['encoder'])} | {r['dataset']} {r['split']} | {f['artifact']} | {f['backend']} | {f3(f['iou'])} | "
                         f"{f3(f['mask_iou_vs_fp32'])} | {ms(f['file_mb'])} |")
    return lines


def params_table(rows: list[dict]) -> list[str]:
    params = {r["encoder"]: r["params"] for r in rows}
    lines = ["| encoder | study: encoder | ours: whole U-Net |", "|---|---:|---:|"]
    lines += [f"| {name(e)} | {STUDY_PARAMS_M[e]}M | {params[e] / 1e6:.2f}M |" for e in sorted(params)]
    return lines


def plot(rows: list[dict], path: Path) -> Path:
    """IoU against p50 latency at one thread, one colour per encoder, one marker per format (test splits)."""
    rows = timed_rows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    markers = {label: m for (_, _, label), m in zip(LATENCY_COLUMNS, "osD^vP")}
    for ax, dataset in zip(axes[0], datasets):
        for i, r in enumerate(sorted((r for r in rows if r["dataset"] == dataset), key=lambda r: r["encoder"])):
            one = min(thread_counts([r]), key=lambda t: (t is None, t))
            by_key = {(f["backend"], f["precision"]): f["iou"] for f in r["formats"] if "-io8" not in f["artifact"]}
            for runtime, precision, label in LATENCY_COLUMNS:
                x, y = p50(r, runtime, precision, one), by_key.get((runtime, precision))
                if x is not None and y is not None:
                    ax.scatter(x, y, color=f"C{i}", marker=markers[label], s=50,
                               label=f"{name(r['encoder'])} {label}")
        ax.set_xscale("log")
        ax.set(title=f"{dataset} test", xlabel="p50 latency, ms (1 thread, log)", ylabel="person IoU (over the split)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


def speed_section(speed: list[dict]) -> list[str]:
    """The one-machine speed runs: the only place latencies of different encoders are compared as ratios."""
    if not speed:
        return ["No one-machine speed run yet: `python -m bench.speed`, then `seg-results --speed runs/speed/speed.json`.", ""]
    lines = ["Each run below times every encoder's exports in one seg-bench run per thread count on one machine, so its "
             "ratios compare; the tables above come from the machines their rows name.", ""]
    for run in speed:
        lines += [*render_speed(run), ""]
    return lines


def render(rows: list[dict], doc: Path, speed: list[dict] | None = None) -> list[Path]:
    """Write `doc` and its plot beside it; returns both paths."""
    picture = plot(rows, doc.with_name(PLOT_NAME)) if timed_rows(rows) else None
    machines = sorted({f"trained on {r['device']}, measured on {r['bench_cpu']}" for r in rows})
    text = ["# Results: the study, reduced to what this project's machines can train", "",
            "<!-- generated by `seg-results` from docs/results.json (bench/results_doc.py): do not edit by hand -->", "",
            "Every figure of ours below comes from `docs/results.json`; the study's come from its paper "
            "(bench/paper.py). Machines: " + "; ".join(machines) + ".", "",
            "The shipped default model has its own generated card: "
            "[`train/weights/MODEL_CARD.md`](../train/weights/MODEL_CARD.md).", "",
            "Reproduce: `seg-study --preset cpu` (resumable; hours on 2 cores), then "
            "`seg-results --study runs/study/cpu`.", "",
            "## The study's question: which encoder to ship?", "", *answer(rows), *speed_answer(speed or []), "",
            "## IoU (Table 4)", "", *iou_table(rows), ""]
    for dataset in sorted({r["dataset"] for r in rows}):
        text += [f"## Latency on {dataset} (Table 5)", "", *latency_table(rows, dataset), ""]
    text += ["## Speed on one machine", "", *speed_section(speed or [])]
    if picture:
        text += ["## IoU against latency", "", f"![IoU against latency]({picture.name})", ""]
    text += ["## Every format: IoU and agreement with torch fp32", "", *formats_table(rows), "",
             "## Parameters (Table 3)", "", *params_table(rows), ""]
    with atomic_path(doc) as tmp:
        tmp.write_text("\n".join(text))
    return [doc] + ([picture] if picture else [])
