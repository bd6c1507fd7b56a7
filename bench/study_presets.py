"""seg-study's presets: which encoders and datasets each one takes, at what size, for how many epochs, with which
seg-train, seg-export and seg-bench arguments (what each preset is for: bench/study.py, seg-study --help)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from train.default_model import default_encoder
from train.zoo import short_name

DATASETS = {"ccp": "folder", "camvid": "camvid"}  # folder name under --data-root -> seg-train --dataset


@dataclass(frozen=True)
class Preset:
    encoders: tuple[str, ...]
    datasets: tuple[str, ...]
    imgsz: dict[str, tuple[int, int]]
    epochs: dict[str, int]  # the training budget per dataset
    train_args: tuple[str, ...] = ()
    export_args: tuple[str, ...] = ()
    bench_args: tuple[str, ...] = ()
    backends: str = "torch-cpu,ort-cpu,tflite"
    formats: str = "all"  # seg-export --format
    note: str = ""
    untrained_imgsz: tuple[int, int] = (256, 256)
    checkpoint: str | None = None  # 'default': use the shipped model instead of training
    threads: tuple[int | None, ...] = (None,)  # one bench per thread count (None: every core)
    latency_only_args: tuple[str, ...] = ("--limit", "16")  # benches after the first: IoU is the first one's
    # dataset -> folders beside it under --data-root whose test split its models are also scored on, never
    # trained on (portraits: CCP's models on half-body framing, the study's EG1800 setting)
    eval_sets: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # encoder -> dataset -> epochs, where an encoder's budget is not the dataset's
    encoder_epochs: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def budget(self, encoder: str, dataset: str) -> int:
        return self.encoder_epochs.get(encoder, {}).get(dataset, self.epochs[dataset])


STUDY = ("resnext50", "resnet152", "efficientnet-b0")
EVAL_PREFIX = "eval-"  # bench/DATASET/eval-NAME: the dataset's models scored on another set's test split
EVAL_ONLY = ("--runs", "1", "--warmup", "0")  # IoU and agreement only: latency is the test split's benches'
# from scratch (no ImageNet weights offline), so a short one-cycle at 20x the study's lr replaces its 150 epochs
CPU_RECIPE = ("--optimizer", "adamw", "--schedule", "onecycle", "--lr", "2e-3", "--loss", "dice+bce", "--amp", "auto")
PRESETS = {
    "quick": Preset((short_name(default_encoder()),), ("ccp",), {"ccp": (256, 256)}, {"ccp": 0}, (),
                    ("--calib-count", "32"), ("--runs", "20", "--warmup", "3"), checkpoint="default",
                    note="the shipped default model (train/weights/default.json names it), every format, CCP test split"),
    # cheapest first after ResNeXt-50, so a study stopped early has the ranking's ends. EfficientNet-B0 gets 40
    # epochs, the ResNets 20: at 10 they stopped short (CCP test IoU 0.884-0.891 against the 0.92 goal; on CamVid
    # train IoU 0.16-0.17, test 0.09-0.16, int8 agreement 0.95). The epoch cost ratio depends on the CPU (Zen 4,
    # `python -m train.speed` at 288x288 bf16: 5.55 vs 3.24 / 1.89 img/s; CamVid's 10 ResNet epochs 0.55 / 0.66 h
    # against EfficientNet-B0's 40 in 1.25 h), so the epochs stay fixed for reproducibility and RESULTS.md says
    # the hours. At 20 CCP epochs the ResNets still missed 0.92 (test 0.916 / 0.905), so they get 30 there;
    # at 30 ResNet-152 still did (0.915, best val at the last epoch, 1.70 h on an AMX Xeon), so it gets 40.
    # One-cycle runs are not extended but retrained.
    "cpu": Preset(("resnext50", "efficientnet-b0", "resnet152"), ("ccp", "camvid"), {"ccp": (256, 256), "camvid": (256, 352)}, {"ccp": 20, "camvid": 20},
                  CPU_RECIPE, ("--calib-count", "64"), ("--runs", "30", "--warmup", "5"), threads=(2, 1),
                  encoder_epochs={"efficientnet-b0": {"ccp": 40, "camvid": 40},
                                  "resnext50": {"ccp": 30}, "resnet152": {"ccp": 40}},
                  eval_sets={"ccp": ("portraits",)},
                  note="the study reduced for 2 CPU cores: from scratch, 256x256 CCP and 256x352 CamVid, 30 CCP epochs for "
                       "ResNeXt-50 and 40 for ResNet-152, 20 CamVid epochs for the ResNets, 40 on each for EfficientNet-B0, one-cycle "
                       "AdamW 2e-3, Dice+BCE, bf16 where the CPU has it"),
    "study": Preset(STUDY, ("ccp", "camvid"), {"ccp": (512, 512), "camvid": (352, 480)}, {"ccp": 150, "camvid": 150}, (),
                    ("--calib-count", "300"),
                    ("--runs", "100", "--warmup", "20", "--row-timeout", "3600"),  # 512x512 CPU rows are slow
                    backends="all", eval_sets={"ccp": ("portraits",)}, note="the study's recipe: Dice, Adam 1e-4 halved every 50 epochs, batch 8, 150 epochs"),
}
