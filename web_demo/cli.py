"""`seg-demo`: serve a local page that runs an exported model in the browser, on the webcam or on photos.

    seg-demo --model runs/export/efficientnet-b0          # every .onnx / .tflite there (a menu on the page)
    seg-demo --model model.onnx --port 8000

The page reads each artifact's contract, runs .onnx with ONNX Runtime Web and .tflite with LiteRT.js (both
from npm, installed by `npm ci` in web_demo/), and draws the mask. Nothing leaves the browser.
"""
from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from train.errors import UserError, cli_entry

from .server import FORMATS, DemoServer, ServedModel, check_model, runtimes_missing


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seg-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True,
                   help="an exported .onnx or .tflite (its contract beside it), or a folder of them")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (another than loopback exposes the page)")
    p.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    return p.parse_args(argv)


def find_models(path: Path) -> list[ServedModel]:
    """The artifacts to serve: the file, or the .onnx/.tflite files of the folder (else of its subfolders,
    seg-export's ENCODER/ layout), ONNX first, each with its contract checked."""
    if path.is_file():
        if path.suffix.lower() not in FORMATS:
            raise UserError(f"{path.name}: the browser runs .onnx and .tflite artifacts only")
        return [check_model(path)]
    if not path.is_dir():
        raise UserError(f"no such file or folder: {path}")
    found = [p for p in path.iterdir() if p.suffix.lower() in FORMATS and p.is_file()]
    if not found:
        found = [p for p in path.glob("*/*") if p.suffix.lower() in FORMATS and p.is_file()]
    if not found:
        raise UserError(f"no .onnx or .tflite artifact in {path} (export one: seg-export --checkpoint default "
                        "--format onnx)")
    found.sort(key=lambda p: (p.suffix.lower() != ".onnx", "int8" in p.name, "fp16" in p.name, str(p)))
    return [check_model(p) for p in found]


@cli_entry("seg-demo")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise UserError("--port must be between 0 and 65535")
    if (problem := runtimes_missing()) is not None:
        raise UserError(problem)
    models = find_models(args.model)
    for model in models:
        if model.problem:  # still served: the page says it too
            print(f"seg-demo: {model.artifact.name}: {model.problem}", file=sys.stderr)
    try:
        server = DemoServer(models, args.host, args.port, quiet=not args.verbose)
    except OSError as err:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err} (try --port 0)") from None
    if not _is_loopback(args.host):
        print(f"seg-demo: listening on {args.host}: the page and the model are reachable from the network",
              file=sys.stderr)
    names = ", ".join(m.artifact.name for m in models)
    print(f"seg-demo: serving {names} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


if __name__ == "__main__":
    sys.exit(main())
