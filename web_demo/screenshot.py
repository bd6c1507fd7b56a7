"""A PNG of seg-demo's page with the mask over a photo, made in headless Chromium (the README's picture).

    python -m web_demo.screenshot --model runs/web/efficientnet-b0-256x256-fp32.onnx \
        --photo ../shared/data/ccp/test/images/0901.jpg --out docs/web_demo.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.errors import UserError, cli_entry


def capture(model: Path, photo: Path, out: Path, window: tuple[int, int] = (1100, 820)) -> Path:
    """Load the page for `model`, segment `photo` through its file input, save the window as `out`."""
    from .driver import Page, browser_missing

    if (problem := browser_missing()) is not None:
        raise UserError(problem)
    if not photo.is_file():
        raise UserError(f"no such photo: {photo}")
    page = Page(model, query="", window=window)
    try:
        page.segment_photo(photo)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not page.driver.save_screenshot(str(out)):
            raise UserError(f"could not write {out}")
    finally:
        page.close()
    return out


@cli_entry("web_demo.screenshot")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m web_demo.screenshot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="an exported .onnx or .tflite with its contract")
    p.add_argument("--photo", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("docs/web_demo.png"))
    args = p.parse_args(argv)
    print(capture(args.model, args.photo, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
