"""`seg-train`: train a person-segmentation U-Net with the study's recipe."""
from __future__ import annotations

import argparse
from pathlib import Path

from .errors import UserError, cli_entry
from .zoo import STUDY_ENCODERS, short_name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seg-train", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--encoder", required=True, help=f"{' | '.join(STUDY_ENCODERS)} or any smp encoder name")
    p.add_argument("--data", required=True, type=Path, help="dataset root holding train/ and val/")
    p.add_argument("--dataset", choices=["camvid", "folder"], default="folder",
                   help="camvid: labels/ with class ids; folder: masks/ with 0/1 or 0/255 (EG1800 style)")
    p.add_argument("--person-class", type=int, default=None, help="person class id in CamVid labels (default 9)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--imgsz", type=int, nargs=2, metavar=("H", "W"), default=(512, 512))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-step", type=int, default=50, help="halve the learning rate every N epochs")
    p.add_argument("--encoder-weights", default="none", help="'none', 'imagenet' (needs the model hub) or a local file")
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/train/ENCODER-DATASETNAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--workers", type=int, default=2, help="data-loading processes")
    p.add_argument("--limit-train", type=int, default=None, help="use only the first N training images")
    p.add_argument("--limit-val", type=int, default=None, help="use only the first N validation images")
    p.add_argument("--precise-bn", type=int, default=32, metavar="N",
                   help="re-estimate BatchNorm statistics on N training batches before each validation (0: off)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    return p.parse_args(argv)


@cli_entry("seg-train")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .loop import Trainer, TrainConfig
    from .zoo import smp_encoder_name

    encoder = smp_encoder_name(args.encoder)
    if args.epochs < 1 or args.batch < 1:
        raise UserError("--epochs and --batch must be at least 1")
    if not args.data.is_dir():
        raise UserError(f"dataset folder not found: {args.data}")
    out = args.out or Path("runs/train") / f"{short_name(encoder)}-{args.data.resolve().name}"
    cfg = TrainConfig(
        encoder=encoder, data=args.data, dataset=args.dataset, imgsz=tuple(args.imgsz), epochs=args.epochs,
        batch=args.batch, lr=args.lr, lr_step=args.lr_step, out=out, person_class=args.person_class,
        encoder_weights=None if args.encoder_weights == "none" else args.encoder_weights, resume=args.resume,
        workers=args.workers, limit_train=args.limit_train, limit_val=args.limit_val, device=args.device,
        seed=args.seed, precise_bn=args.precise_bn, progress=not args.no_progress,
    )
    trainer = Trainer(cfg)
    from .loop import device_name
    from .zoo import count_parameters

    params = count_parameters(trainer.model)
    if trainer.dist.main:
        print(f"seg-train: U-Net {short_name(encoder)} ({params['encoder'] / 1e6:.1f}M encoder, "
              f"{params['total'] / 1e6:.2f}M total) on {device_name(trainer.device)}; "
              f"{len(trainer.train_set)} train / {len(trainer.val_set)} val images at {cfg.imgsz[0]}x{cfg.imgsz[1]}; "
              f"epochs {trainer.start_epoch + 1}-{cfg.epochs} -> {out}", flush=True)
    last = trainer.fit()
    if trainer.dist.main and last:
        print(f"seg-train: best val IoU {trainer.best:.4f}; checkpoints in {out} (best.pt, last.pt), curves.png, history.csv")
    return 0


if __name__ == "__main__":  # `torchrun --nproc_per_node N -m train.cli ...` for multi-GPU (DDP)
    raise SystemExit(main())
