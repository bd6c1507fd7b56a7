"""The mobile tier measured beside the peer: GMAC, parameters and LiteRT int8 latency in one seg-bench run.

    python -m bench.tier --peer-model selfie_segmentation.tflite [--encoders mobilenetv3-small lcnet-100 ...]

Latency needs no trained weights, so each encoder is exported untrained (seeded) to int8 TFLite at 256x256 with
its tier decoder; the shipped default (trained) joins as itself. One `seg-bench` run times every file and the peer
(MediaPipe's selfie segmenter) on the same machine and threads, so the ratios are read within one run. Writes
`runs/tier/tier.json` and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from train.errors import UserError, cli_entry
from train.hardware import cpu_name
from train.zoo import MOBILE_ENCODERS, build_unet, default_arch, short_name, smp_encoder_name

SIZE = (256, 256)


def cost(encoder: str, arch: dict, size=SIZE) -> dict:
    """GMAC of one forward at `size` and parameters in millions."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = build_unet(encoder, arch=arch).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, *size))
    return {"gmac": round(counter.get_total_flops() / 2e9, 3),
            "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2)}


def export_tier(encoders: list[str], out: Path) -> dict[str, tuple[Path, dict]]:
    from export.api import export_model
    from train.checkpoint import load_checkpoint
    from train.default_model import DEFAULT_WEIGHTS

    default = load_checkpoint(DEFAULT_WEIGHTS)
    files = {}
    for name in encoders:
        encoder = smp_encoder_name(name)
        if encoder == default.meta.encoder:  # the shipped default stands for its encoder (and files share a name)
            continue
        artifact = export_model("none", encoder, "tflite", "int8", out_dir=out / name, imgsz=SIZE, force=True,
                                min_agreement=0)  # untrained: latency only, nothing to agree with
        files[name] = (artifact, {"encoder": name, "weights": "untrained", **cost(encoder, default_arch(encoder))})
    artifact = export_model("default", default.meta.encoder, "tflite", "int8", out_dir=out / "default", force=True,
                            min_agreement=0)  # the card's export holds the floor; here only its speed is read
    files["default"] = (artifact, {"encoder": f"{short_name(default.meta.encoder)} (shipped default)",
                                   "weights": "trained", **cost(default.meta.encoder, default.meta.arch)})
    return files


def run_bench(files: dict, peer: Path, out: Path, threads: int, runs: int) -> list[dict]:
    from .cli import main as seg_bench

    args = ["--backend", "tflite", "--threads", str(threads), "--runs", str(runs), "--warmup", "10", "--no-parity",
            "--no-plots", "--overlays", "0", "--no-progress", "--out", str(out), "--peer", "mediapipe", str(peer)]
    for artifact, _ in files.values():
        args += ["--model", str(artifact)]
    if seg_bench(args) != 0:
        raise UserError("seg-bench failed; see above")
    return json.loads((out / "results.json").read_text())["results"]


def table(files: dict, rows: list[dict], peer_label: str) -> list[dict]:
    by_file = {r["model"]: r for r in rows if r["status"] == "ok"}  # a row's model is its artifact's file name
    peer_row = next((r for r in rows if r["model"] == peer_label and r["status"] == "ok"), None)
    if peer_row is None:
        raise UserError("the peer's row did not run; see the seg-bench output above")
    out = [{"encoder": peer_label, "weights": "trained", "gmac": None, "params_m": None,
            "p50_ms": peer_row["p50_ms"], "vs_peer": 1.0}]
    for artifact, info in files.values():
        row = by_file.get(artifact.name)
        p50 = row["p50_ms"] if row else None
        out.append({**info, "p50_ms": p50, "vs_peer": round(p50 / peer_row["p50_ms"], 2) if p50 else None})
    return out


def render(entries: list[dict], machine: str, threads: int) -> str:
    lines = [f"LiteRT int8 (peer: its own float file), 256x256, p50 at {threads} thread(s), one seg-bench run on {machine}:",
             "", "| encoder | weights | GMAC | params (M) | p50 ms | vs peer |", "|---|---|---:|---:|---:|---:|"]
    for e in entries:
        cells = [e["encoder"], e["weights"], e["gmac"], e["params_m"], e["p50_ms"], e["vs_peer"]]
        lines.append("| " + " | ".join("-" if c is None else f"{c:.2f}" if isinstance(c, float) else str(c)
                                       for c in cells) + " |")
    return "\n".join(lines)


@cli_entry("bench.tier")
def main(argv: list[str] | None = None) -> int:
    from .peers import peer

    p = argparse.ArgumentParser(prog="python -m bench.tier", description=__doc__.split("\n\n")[0])
    p.add_argument("--peer-model", type=Path, required=True, help="MediaPipe's selfie_segmentation.tflite")
    p.add_argument("--encoders", nargs="+", default=list(MOBILE_ENCODERS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--out", type=Path, default=Path("runs/tier"))
    args = p.parse_args(argv)
    if not args.peer_model.is_file():
        raise UserError(f"--peer-model {args.peer_model}: file not found (python -m bench.peers mediapipe fetches it)")
    files = export_tier(args.encoders, args.out / "export")
    entries = table(files, run_bench(files, args.peer_model, args.out / "bench", args.threads, args.runs),
                    peer("mediapipe").label)
    machine = cpu_name()
    (args.out / "tier.json").write_text(json.dumps({"machine": machine, "threads": args.threads,
                                                    "entries": entries}, indent=2) + "\n")
    print(render(entries, machine, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
