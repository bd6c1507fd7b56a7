"""Routes to the phone, side by side, and the one to ship.

    python -m bench.routes export --checkpoint default --encoder efficientnet-b0 --imgsz 256 256 --out DIR
    seg-bench --encoder efficientnet-b0 --artifacts DIR/.. --backend ort-cpu,tflite,executorch,torch-cpu ...
    python -m bench.routes table --results BENCH/results.json --artifacts DIR [--markdown FILE]

`export` makes every route x precision (ONNX, TFLite by onnx2tf and by LiteRT-Torch with each int8 quantizer,
ExecuTorch) with no int8 floor, so that the table can show the unfaithful ones too, and records how long
each took (DIR/conversions.json). `table` joins seg-bench's rows with the contracts and those times: per
route, latency, size, conversion time, mask IoU against the PyTorch fp32 model (seg-bench's parity) and
against ground truth, and names the artifact to ship: the fastest whose masks agree with fp32 at >= 0.98.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from export.contract import contract_path, read_contract
from train.atomic import write_text_atomic
from train.errors import UserError, cli_entry

SHIP_FLOOR = 0.98  # the same floor seg-export puts on int8 (--min-agreement)
CONVERSIONS = "conversions.json"
HOST_BACKEND = {"onnx": "ort-cpu", "tflite": "tflite", "executorch": "executorch"}
# (format, precision, converter, int8 quantizer) of every route `export` makes
ROUTES = [("onnx", "fp32", None, None),
          ("tflite", "fp32", "onnx2tf", None), ("tflite", "int8", "onnx2tf", None),
          ("tflite", "int8-dynamic", "onnx2tf", None),
          ("tflite", "fp32", "litert-torch", None), ("tflite", "int8", "litert-torch", "pt2e"),
          ("tflite", "int8", "litert-torch", "aeq"),
          ("executorch", "fp32", None, None), ("executorch", "int8", None, None)]


@dataclass
class RouteRow:
    route: str  # how the artifact was made and run
    precision: str
    artifact: str
    latency_ms: float | None  # median of the timed runs (bench/timing.py's rule)
    size_mb: float | None
    convert_s: float | None
    agreement: float | None  # pooled person-mask IoU against the PyTorch fp32 model (seg-bench parity)
    iou: float | None  # pooled IoU against ground truth
    status: str = "ok"

    @property
    def shippable(self) -> bool:
        return self.status == "ok" and self.latency_ms is not None and self.agreement is not None


def route_name(contract) -> str:
    """'ExecuTorch (XNNPACK)', 'TFLite by onnx2tf', 'TFLite by LiteRT-Torch (aeq)', 'ONNX Runtime', 'PyTorch'."""
    tools = contract.tools
    if contract.format == "executorch":
        return "ExecuTorch (XNNPACK)"
    if contract.format == "onnx":
        return "ONNX (ONNX Runtime)"
    if contract.format == "tflite" and tools.get("converter") == "litert-torch":
        quantizer = next((n for n in contract.notes if n.startswith("int8 by ")), "")
        tag = " (pt2e)" if "PT2EQuantizer" in quantizer else " (ai-edge-quantizer)" if quantizer else ""
        return f"TFLite by LiteRT-Torch{tag}"
    if contract.format == "tflite":
        return "TFLite by onnx2tf" + (" (int8 I/O)" if contract.input.dtype in ("int8", "uint8") else "")
    return contract.format


def recommend(rows: list[RouteRow], floor: float = SHIP_FLOOR) -> RouteRow | None:
    """The fastest row whose masks agree with fp32 at `floor` or better; None when none does."""
    faithful = [r for r in rows if r.shippable and r.agreement >= floor]
    return min(faithful, key=lambda r: r.latency_ms) if faithful else None


def build_rows(results: list, artifacts: Path) -> list[RouteRow]:
    """One row per artifact measured on its format's host backend, plus the PyTorch reference row."""
    times = _read_conversions(artifacts)
    rows = []
    for r in results:
        if r.backend == "torch-cpu" and r.status == "ok":
            rows.append(RouteRow("PyTorch eager (reference)", r.precision, r.model, r.p50_ms, r.file_mb, None,
                                 1.0, r.iou_split))
            continue
        path = artifacts / r.model
        if HOST_BACKEND.get(r.format) != r.backend or not contract_path(path).is_file():
            continue
        contract = read_contract(path)
        rows.append(RouteRow(route_name(contract), r.precision, r.model, r.p50_ms, r.file_mb, times.get(r.model),
                             r.parity_mask_iou, r.iou_split, r.status))
    if not rows:
        raise UserError(f"no results of {artifacts}'s artifacts on their host backends "
                        f"({', '.join(sorted(set(HOST_BACKEND.values())))}): run seg-bench on them first")
    return sorted(rows, key=lambda r: (r.latency_ms is None, r.latency_ms or 0))


def markdown(rows: list[RouteRow], pick: RouteRow | None, floor: float, cpu: str, threads) -> str:
    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    lines = ["| route | precision | artifact | latency ms (p50) | size MB | conversion s | "
             "mask IoU vs torch fp32 | IoU vs ground truth |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = "**" if r is pick else ""
        lines.append(f"| {mark}{r.route}{mark} | {r.precision} | `{r.artifact}` | {num(r.latency_ms, '.2f')} | "
                     f"{num(r.size_mb, '.1f')} | {num(r.convert_s, '.0f')} | {num(r.agreement, '.4f')} | "
                     f"{num(r.iou, '.4f')} |" + ("" if r.status == "ok" else f" {r.status}"))
    lines.append("")
    if pick is None:
        lines.append(f"Ship: none of these agrees with torch fp32 at >= {floor:g}.")
    else:
        lines.append(f"Ship: `{pick.artifact}` ({pick.route}, {pick.precision}): the fastest whose masks agree with "
                     f"torch fp32 at >= {floor:g} ({pick.agreement:.4f}), {pick.latency_ms:.2f} ms.")
    lines.append(f"Measured on {cpu or 'this host'}, {threads or 'all'} thread(s).")
    return "\n".join(lines) + "\n"


def _read_conversions(folder: Path) -> dict[str, float]:
    path = folder / CONVERSIONS
    return json.loads(path.read_text()) if path.is_file() else {}


def export_routes(args) -> int:
    from export.api import export_model
    from export.errors import describe_error

    times = _read_conversions(args.out)
    failed = 0
    for fmt, precision, converter, quantizer in ROUTES:
        start = time.perf_counter()
        try:
            artifact = export_model(args.checkpoint, args.encoder, fmt, precision, out_dir=args.out,
                                    imgsz=tuple(args.imgsz) if args.imgsz else None, calib_dir=args.calib,
                                    holdout_dir=args.holdout, force=args.force, min_agreement=0,
                                    converter=converter, quantizer=quantizer)
        except UserError:
            raise
        except Exception as err:  # one route failing does not stop the others; it is reported
            failed += 1
            print(f"routes: {fmt} {precision} {converter or ''} {quantizer or ''} failed: {describe_error(err)}")
            continue
        times[artifact.name] = round(time.perf_counter() - start, 1)
        write_text_atomic(args.out / CONVERSIONS, json.dumps(times, indent=2) + "\n")
        print(f"{artifact}  {times[artifact.name]:.0f} s")
    return 1 if failed else 0


def print_table(args) -> int:
    from .results import read_json

    try:
        results = read_json(args.results)
    except (OSError, ValueError, TypeError) as err:
        raise UserError(f"cannot read seg-bench results {args.results}: {err}") from None
    rows = build_rows(results, args.artifacts)
    shippable = [r for r in rows if not r.route.startswith("PyTorch")]  # the reference is not an artifact
    cpu = next((r.cpu for r in results if r.cpu), "")
    threads = next((r.threads for r in results if r.threads), None)
    text = markdown(rows, recommend(shippable, args.min_agreement), args.min_agreement, cpu, threads)
    print(text, end="")
    if args.markdown:
        write_text_atomic(args.markdown, text)
    return 0


@cli_entry("bench.routes")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.routes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="export every route x precision into --out, timing each")
    ex.add_argument("--encoder", required=True)
    ex.add_argument("--checkpoint", default=None)
    ex.add_argument("--imgsz", type=int, nargs=2, default=None)
    ex.add_argument("--calib", type=Path, default=None)
    ex.add_argument("--holdout", type=Path, default=None)
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--force", action="store_true")
    tb = sub.add_parser("table", help="the routes table and the artifact to ship")
    tb.add_argument("--results", type=Path, required=True, help="seg-bench's results.json")
    tb.add_argument("--artifacts", type=Path, required=True, help="the folder `export` filled")
    tb.add_argument("--min-agreement", type=float, default=SHIP_FLOOR)
    tb.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = p.parse_args(argv)
    if args.command == "export":
        return export_routes(args)
    if not args.artifacts.is_dir():
        raise UserError(f"artifact folder not found: {args.artifacts}")
    return print_table(args)


if __name__ == "__main__":
    raise SystemExit(main())
