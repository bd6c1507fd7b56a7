"""Re-encode dataset splits small enough to travel to a lent GPU machine (one call carries 64 MiB).

Images are shrunk to a long side (JPEG, given quality), labels and masks resized with nearest
neighbour (class ids and 0/255 stay exact values) and written as PNG, in the same folder layout, so
`seg-train --data` reads the copy as it reads the original. Training at 256 or 512 loses nothing a
long side of 512-640 keeps.

    python -m train.transport --src ../shared/data --dest .gpu/data --long-side 512 \\
        --split ccp/train ccp/val davis_people/train camvid/train
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .cache import fit_long_side
from .errors import UserError, cli_entry

LABEL_DIRS = ("masks", "labels")


def shrink_split(src: Path, dest: Path, long_side: int, quality: int) -> int:
    import cv2

    images = sorted((src / "images").glob("*"))
    if not images:
        raise UserError(f"{src}/images holds no images")
    labels = next((d for d in LABEL_DIRS if (src / d).is_dir()), None)
    if labels is None:
        raise UserError(f"{src} has neither masks/ nor labels/")
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / labels).mkdir(parents=True, exist_ok=True)
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        label_path = src / labels / f"{path.stem}.png"
        label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
        if image is None or label is None:
            raise UserError(f"unreadable image or label: {path.name}")
        image, label = fit_long_side(image, long_side, nearest=False), fit_long_side(label, long_side, nearest=True)
        cv2.imwrite(str(dest / "images" / f"{path.stem}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        cv2.imwrite(str(dest / labels / f"{path.stem}.png"), label)
    return len(images)


@cli_entry("train.transport")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.transport", description=__doc__.split("\n\n")[0])
    p.add_argument("--src", type=Path, required=True, help="the datasets' root")
    p.add_argument("--dest", type=Path, required=True)
    p.add_argument("--split", nargs="+", required=True, metavar="SET/SPLIT")
    p.add_argument("--long-side", type=int, default=512)
    p.add_argument("--quality", type=int, default=90)
    args = p.parse_args(argv)
    if not 64 <= args.long_side <= 4096 or not 10 <= args.quality <= 100:
        raise UserError("--long-side must be 64-4096 and --quality 10-100")
    for split in args.split:
        count = shrink_split(args.src / split, args.dest / split, args.long_side, args.quality)
        print(f"train.transport: {split}: {count} images -> {args.dest / split}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
