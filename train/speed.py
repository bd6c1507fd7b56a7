"""Training throughput benchmark: images/second per encoder and input size (`python -m train.speed`).

Times whole optimizer steps (forward, Dice loss, backward, Adam) on one fixed batch, so it measures the
model and device rather than JPEG decoding; the recipe's AMP/channels_last apply on CUDA.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .errors import UserError, cli_entry
from .loop import device_name, pick_device, Distributed
from .zoo import STUDY_ENCODERS, build_unet, smp_encoder_name, short_name


def measure(encoder: str, imgsz: tuple[int, int], batch: int, steps: int, warmup: int, device, compile_model: bool) -> float:
    import torch
    from segmentation_models_pytorch.losses import DiceLoss

    cuda = device.type == "cuda"
    model = build_unet(encoder).to(device).train()
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if compile_model else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = DiceLoss("binary", from_logits=True, eps=1e-6)
    x = torch.randn(batch, 3, *imgsz, device=device)
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    y = (torch.rand(batch, 1, *imgsz, device=device) > 0.7).float()
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            loss = loss_fn(net(x).float(), y)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


@cli_entry("train.speed")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.speed", description=__doc__)
    p.add_argument("--encoder", nargs="+", default=list(STUDY_ENCODERS))
    p.add_argument("--imgsz", type=int, nargs="+", default=[256, 512], help="square sizes to try")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA)")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = p.parse_args(argv)
    if any(s % 32 for s in args.imgsz):
        raise UserError("--imgsz sizes must be multiples of 32")
    device = pick_device(args.device, Distributed())
    where = device_name(device)
    rows = []
    print(f"training throughput on {where}, batch {args.batch}, {args.steps} timed steps after {args.warmup} warm-up")
    print(f"{'encoder':<16}{'size':>9}{'img/s':>10}")
    for encoder in map(smp_encoder_name, args.encoder):
        for size in args.imgsz:
            ips = measure(encoder, (size, size), args.batch, args.steps, args.warmup, device, args.compile)
            rows.append({"encoder": short_name(encoder), "imgsz": size, "batch": args.batch, "images_per_s": round(ips, 2),
                         "device": where, "compiled": args.compile})
            print(f"{short_name(encoder):<16}{f'{size}x{size}':>9}{ips:>10.1f}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
