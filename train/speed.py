"""Training throughput benchmark: images/second per encoder, size and precision (`python -m train.speed`).

Times whole optimizer steps (forward, Dice loss, backward, Adam) on one fixed batch, so it measures the
model and device, not JPEG decoding. `--compare` also times the old path (fp32, contiguous NCHW) in
the same run and prints the ratio; `--data DIR` adds the loader alone (decode cache + augmentation).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from .errors import UserError, cli_entry
from .hardware import cpu_model, notable_cpu_flags
from .devices import Distributed, device_name, pick_device
from .precision import AMP_MODES, MEMORY_FORMATS, Precision, choose_precision
from .zoo import STUDY_ENCODERS, build_unet, default_arch, short_name, smp_encoder_name, unet_arch

OLD_PATH = Precision("off", "contiguous", "the old trainer's path: fp32, NCHW")


def measure(encoder: str, imgsz: tuple[int, int], batch: int, steps: int, warmup: int, device,
            precision: Precision, compile_model: bool = False, arch: dict | None = None) -> float:
    from segmentation_models_pytorch.losses import DiceLoss

    layout = torch.channels_last if precision.channels_last else torch.contiguous_format
    model = build_unet(encoder, arch=arch).to(device).train().to(memory_format=layout)
    net = torch.compile(model) if compile_model else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.grad_scaling)
    loss_fn = DiceLoss("binary", from_logits=True, eps=1e-6)
    x = torch.randn(batch, 3, *imgsz, device=device).contiguous(memory_format=layout)
    y = (torch.rand(batch, 1, *imgsz, device=device) > 0.7).float()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=precision.dtype, enabled=precision.enabled):
            logits = net(x)
        scaler.scale(loss_fn(logits.float(), y)).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure_loader(data: Path, imgsz: tuple[int, int], batch: int, workers: int, batches: int) -> float:
    """Images/s of the training loader alone: decode cache + people augmentation, no model."""
    from .cache import decode_split
    from .augment import PeopleMix, Source
    from .data import list_samples
    from .zoo import Normalization

    split = decode_split(list_samples(data, "train", "folder"), None, Path("runs/cache"), label=data.name)
    mix = PeopleMix([Source(split, 1.0, True)], imgsz, Normalization())
    loader = torch.utils.data.DataLoader(mix, batch_size=batch, num_workers=workers, shuffle=True)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batch * batches / (time.perf_counter() - start)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m train.speed", description=__doc__)
    p.add_argument("--encoder", nargs="+", default=list(STUDY_ENCODERS))
    p.add_argument("--imgsz", type=int, nargs="+", default=[256], help="square sizes to try")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--amp", choices=AMP_MODES, default="auto")
    p.add_argument("--memory-format", choices=MEMORY_FORMATS, default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--compare", action="store_true", help="also time the old fp32 NCHW path and print the ratio")
    p.add_argument("--decoder-channels", type=int, nargs="+", default=None, metavar="C",
                   help="decoder widths (default: the encoder's own, the mobile tier's slim one for mobile encoders)")
    p.add_argument("--data", type=Path, default=None, help="also time the loader alone on this folder dataset")
    p.add_argument("--workers", type=int, default=1, help="loader processes for --data")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = p.parse_args(argv)
    if any(s % 32 or s <= 0 for s in args.imgsz):
        raise UserError("--imgsz sizes must be positive multiples of 32")
    if min(args.batch, args.steps) < 1 or args.warmup < 0:
        raise UserError("--batch and --steps must be at least 1, --warmup at least 0")
    return args


@cli_entry("train.speed")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = pick_device(args.device, Distributed())
    precision = choose_precision(args.amp, device.type, args.memory_format)
    widths = {"decoder_channels": args.decoder_channels} if args.decoder_channels else {}
    where = device_name(device)
    setting = {"batch": args.batch, "threads": torch.get_num_threads(), "compiled": args.compile, "device": where,
               "cpu": cpu_model(), "cpu_flags": notable_cpu_flags()}
    print(f"training throughput on {where} [{' '.join(setting['cpu_flags'])}], batch {args.batch}, "
          f"{args.steps} timed steps after {args.warmup} warm-up; chosen path: {precision.describe()}")
    paths = [OLD_PATH, precision] if args.compare else [precision]
    rows = []
    for encoder in map(smp_encoder_name, args.encoder):
        arch = unet_arch({**default_arch(encoder), **widths})
        for size in args.imgsz:
            speeds = []
            for path in paths:
                ips = measure(encoder, (size, size), args.batch, args.steps, args.warmup, device, path, args.compile, arch)
                speeds.append(ips)
                rows.append({"encoder": short_name(encoder), "imgsz": size, "amp": path.amp, "arch": arch,
                             "memory_format": path.memory_format, "images_per_s": round(ips, 2), **setting})
                print(f"  {short_name(encoder):<16}{size}x{size}  amp {path.amp:<4} {path.memory_format:<14}"
                      f"{ips:8.2f} img/s", flush=True)
            if args.compare:
                rows[-1]["speedup_vs_fp32_nchw"] = round(speeds[1] / speeds[0], 2)
                print(f"  {short_name(encoder):<16}{size}x{size}  ratio {speeds[1] / speeds[0]:.2f}x over fp32 NCHW")
    if args.data:
        ips = measure_loader(args.data, (args.imgsz[0], args.imgsz[0]), args.batch, args.workers, 20)
        rows.append({"encoder": "loader", "imgsz": args.imgsz[0], "workers": args.workers, "images_per_s": round(ips, 2),
                     **setting})
        print(f"  loader alone ({args.workers} worker(s), {args.data.name}, people augmentation): {ips:.1f} img/s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
