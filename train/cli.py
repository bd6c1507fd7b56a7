"""`seg-train`: train a person-segmentation U-Net; the study's recipe by default."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from .errors import UserError, cli_entry
from .data import MASK_VALUES
from .precision import AMP_MODES, MEMORY_FORMATS
from .zoo import HEAD_STRIDES, INTERPOLATIONS, STUDY_ENCODERS, short_name

MAX_SIDE = 2048


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .config import AUGMENTS, LOSSES, OPTIMIZERS, SCHEDULES

    p = argparse.ArgumentParser(prog="seg-train", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--encoder", required=True, help=f"{' | '.join(STUDY_ENCODERS)} or any smp encoder name")
    p.add_argument("--data", required=True, action="append", metavar="DIR[:LAYOUT[:WEIGHT]]",
                   help="dataset root holding train/ and val/; repeat to mix more training sources "
                        "(e.g. --data ccp --data camvid:camvid:0.4; needs --augment people); the first one validates")
    p.add_argument("--dataset", choices=["camvid", "folder"], default="folder",
                   help="layout of --data entries that name none: camvid (labels/ with class ids) or folder (masks/)")
    p.add_argument("--person-class", type=int, default=None, help="person class id in CamVid labels (default 9)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--imgsz", type=int, nargs=2, metavar=("H", "W"), default=(512, 512))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate (the peak one with --schedule onecycle)")
    p.add_argument("--lr-step", type=int, default=50, help="halve the learning rate every N epochs (--schedule step)")
    p.add_argument("--schedule", choices=SCHEDULES, default="step")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--loss", choices=LOSSES, default="dice")
    p.add_argument("--augment", choices=AUGMENTS, default="basic",
                   help="basic: flip, scale-crop, colour (the study's); people: zoom-ins, copy-paste, groups, landscape frames")
    p.add_argument("--epoch-size", type=int, default=None, help="samples per epoch with --augment people")
    p.add_argument("--eval", action="append", default=[], metavar="NAME=DIR",
                   help="an extra evaluation set scored every epoch (a split folder with images/ and masks/)")
    p.add_argument("--select-on", default="val", help="comma list of IoUs ('val', --eval names) whose mean picks best.pt")
    p.add_argument("--decoder-channels", type=int, nargs="+", default=None, metavar="C",
                   help="U-Net decoder widths, one per block (smp default 256 128 64 32 16; 3 with --head-stride 4)")
    p.add_argument("--head-stride", type=int, choices=HEAD_STRIDES, default=None,
                   help="end the decoder at 1/2 or 1/4 of the input and upsample the logits (the mobile tier)")
    p.add_argument("--decoder-interpolation", choices=INTERPOLATIONS, default=None)
    p.add_argument("--amp", choices=AMP_MODES, default="auto",
                   help="auto: bf16 on a CPU with native bf16, fp16 + grad scaler on CUDA, fp32 elsewhere")
    p.add_argument("--memory-format", choices=MEMORY_FORMATS, default="auto")
    p.add_argument("--cache-dir", type=Path, default=Path("runs/cache"), help="decode cache ('none': decode in memory)")
    p.add_argument("--encoder-weights", default="none", help="'none', 'imagenet' (needs the model hub) or a local file")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="fine-tune: start from these U-Net weights ('default': the shipped model) with a fresh "
                        "optimizer and schedule; the architecture comes from the checkpoint")
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/train/ENCODER-DATASETNAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--force", action="store_true", help="replace the run already in --out (its checkpoints are deleted)")
    p.add_argument("--mask-values", choices=MASK_VALUES, default="strict",
                   help="folder masks: strict (0/1 or 0/255, anything else refused), nonzero (> 0 is person), half (>= 128)")
    p.add_argument("--skip-bad-images", action="store_true", help="leave out unreadable images (counted) instead of stopping")
    p.add_argument("--workers", type=int, default=2, help="data-loading processes")
    p.add_argument("--limit-train", type=int, default=None, help="use only the first N training images")
    p.add_argument("--limit-val", type=int, default=None, help="use only the first N validation images")
    p.add_argument("--precise-bn", type=int, default=32, metavar="N",
                   help="re-estimate BatchNorm statistics on N training batches before each validation (0: off)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--data-on-device", action="store_true",
                   help="decode the data once onto the device and run the basic augmentation there (GPU training)")
    p.add_argument("--time-limit", type=float, default=None, metavar="MIN",
                   help="fit the epochs to this many minutes of training, measured on the first epoch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad numbers before any work starts, one line each."""
    h, w = args.imgsz
    if min(h, w) <= 0 or h % 32 or w % 32 or max(h, w) > MAX_SIDE:
        raise UserError(f"--imgsz {h} {w}: each side must be a positive multiple of 32 up to {MAX_SIDE} "
                        "(the U-Net downsamples 5 times)")
    if args.epochs < 1 or args.batch < 1:
        raise UserError("--epochs and --batch must be at least 1")
    if args.workers < 0:
        raise UserError("--workers must be 0 or more")
    for name in ("limit_train", "limit_val", "epoch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    if args.lr_step < 1:
        raise UserError("--lr-step must be at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UserError(f"--lr {args.lr}: the learning rate must be a finite number above 0")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise UserError("--weight-decay must be a finite number, 0 or more")
    if args.time_limit is not None and not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise UserError(f"--time-limit {args.time_limit}: give the minutes as a number above 0")
    if args.precise_bn < 0:
        raise UserError("--precise-bn must be 0 or more")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file, not a folder")
    if args.person_class is not None and not 0 <= args.person_class <= 255:
        raise UserError(f"--person-class {args.person_class}: class ids in 8-bit label images are 0-255")
    if args.init_from is not None and (args.resume or args.init_from == "none"):
        raise UserError("--init-from starts a new run from a checkpoint: not with --resume, and not 'none'")
    if args.resume and args.force:
        raise UserError("--resume continues a run and --force replaces it: give one of them")


def parse_evals(items: list[str]) -> dict[str, Path]:
    evals = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder or not name.isidentifier():
            raise UserError(f"--eval {item!r}: use NAME=DIR with a plain name (e.g. portraits=../shared/data/portraits/test)")
        if name in evals or name in ("val", "train"):
            raise UserError(f"--eval {name}: the name is used twice or is reserved")
        if not Path(folder).is_dir():
            raise UserError(f"--eval {name}: folder not found: {folder}")
        evals[name] = Path(folder)
    return evals


def exit_on_sigterm() -> None:
    """`kill` ends seg-train like Ctrl-C: a checkpoint being written is dropped whole, the last good one stays."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@cli_entry("seg-train")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_args(args)
    exit_on_sigterm()
    from .config import TrainConfig
    from .data import DataSpec
    from .default_model import resolve_checkpoint_arg
    from .loop import Trainer
    from .zoo import smp_encoder_name

    encoder = smp_encoder_name(args.encoder)
    specs = [DataSpec.parse(d, args.dataset) for d in args.data]
    primary = specs[0]
    out = args.out or Path("runs/train") / f"{short_name(encoder)}-{primary.root.resolve().name}"
    arch = {}
    if args.decoder_channels:
        arch["decoder_channels"] = args.decoder_channels
    if args.decoder_interpolation:
        arch["decoder_interpolation"] = args.decoder_interpolation
    if args.head_stride:
        arch["head_stride"] = args.head_stride
    cfg = TrainConfig(
        encoder=encoder, data=primary.root, dataset=primary.layout, imgsz=tuple(args.imgsz), epochs=args.epochs,
        batch=args.batch, lr=args.lr, lr_step=args.lr_step, out=out, person_class=args.person_class,
        encoder_weights=None if args.encoder_weights == "none" else args.encoder_weights, resume=args.resume,
        workers=args.workers, limit_train=args.limit_train, limit_val=args.limit_val, device=args.device,
        seed=args.seed, precise_bn=args.precise_bn, progress=not args.no_progress, loss=args.loss,
        optimizer=args.optimizer, weight_decay=args.weight_decay, schedule=args.schedule, augment=args.augment,
        arch=arch, extra_data=tuple(specs[1:]), eval_sets=parse_evals(args.eval),
        select_on=tuple(s.strip() for s in args.select_on.split(",") if s.strip()) or ("val",),
        epoch_size=args.epoch_size, amp=args.amp, memory_format=args.memory_format,
        cache_dir=None if str(args.cache_dir) == "none" else args.cache_dir,
        data_on_device=args.data_on_device, time_limit=args.time_limit,
        force=args.force, mask_values=args.mask_values, skip_bad_images=args.skip_bad_images,
        init_from=resolve_checkpoint_arg(args.init_from) if args.init_from else None,
    )
    trainer = Trainer(cfg)
    from .devices import device_name
    from .zoo import count_parameters

    params = count_parameters(trainer.model)
    if trainer.dist.main:
        evals = "".join(f" / {len(ds)} {name}" for name, ds in trainer.eval_sets.items())
        print(f"seg-train: U-Net {short_name(encoder)} ({params['encoder'] / 1e6:.1f}M encoder, "
              f"{params['total'] / 1e6:.2f}M total) on {device_name(trainer.device)}, {trainer.precision.describe()}; "
              f"{len(trainer.train_set)} train / {len(trainer.val_set)} val{evals} images at {cfg.imgsz[0]}x{cfg.imgsz[1]}; "
              f"batch {cfg.batch} per process x {trainer.dist.world}; epochs {trainer.start_epoch + 1}-{cfg.epochs} -> {out}",
              flush=True)
    last = trainer.fit()
    if trainer.dist.main and last:
        print(f"seg-train: best {'+'.join(cfg.select_on)} IoU {trainer.best:.4f}; checkpoints in {out} "
              "(best.pt, last.pt), curves.png, history.csv")
    return 0


if __name__ == "__main__":  # `torchrun --nproc_per_node N -m train.cli ...` for multi-GPU (DDP)
    raise SystemExit(main())
