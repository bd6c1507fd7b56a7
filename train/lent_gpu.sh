#!/usr/bin/env bash
# One call on a lent GPU machine (see ../shared/gpu/README.md and docs/GPU.md): training throughput of the
# study's encoders, then in parallel, each fitted to $TRAIN_MINUTES (--time-limit): the mobile candidates for
# the default model (people mix of CCP, DAVIS people and CamVid at 256x256) and the study's recipe at 512x512 on
# CCP with the data decoded onto the GPU. Brings back metrics, curves, logs and fp16 checkpoints under $OUT.
# Needs .whl/ (smp, albumentations and their missing dependencies) and .gpu/data/ (python -m train.transport),
# both carried. Test it on a CPU with: PATH=.venv/bin:$PATH TRAIN_MINUTES=0.3 SMOKE=1 OUT=/tmp/out bash train/lent_gpu.sh
set -uo pipefail
T=${TRAIN_MINUTES:-6}
SMOKE=${SMOKE:-0}
SITE=/tmp/site
[ "$SMOKE" = 1 ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE .whl/*.whl || exit 1
export PYTHONPATH=$SITE:$PWD PYTHONUNBUFFERED=1
D=$PWD/.gpu/data
R=${RUNS:-/dev/shm/seg-runs}
rm -rf "$R"; mkdir -p "$R" "$OUT"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi"; nproc
 python3 -c "import torch, timm, segmentation_models_pytorch as smp; print('torch', torch.__version__, 'timm', timm.__version__, 'smp', smp.__version__)") > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

if [ "$SMOKE" = 1 ]; then SIZE="64 64"; BIG=96; LIMIT="--limit-train 16 --limit-val 8"; STUDY_ENC="efficientnet-b0"; STEPS=2
else SIZE="256 256"; BIG=512; LIMIT=""; STUDY_ENC="resnext50 resnet152 efficientnet-b0"; STEPS=30; fi

python3 -m train.speed --encoder $STUDY_ENC --imgsz $BIG --batch 8 --steps $STEPS --warmup 5 --compare \
  --json "$R/speed.json" > "$R/speed.log" 2>&1
cat "$R/speed.log"

MIX="--data $D/ccp --data $D/davis_people:folder:0.5 --data $D/camvid:camvid:0.35 --augment people --epoch-size 2000
  --eval davis=$D/davis_people/val --select-on val,davis --imgsz $SIZE --loss dice+bce --optimizer adamw
  --weight-decay 1e-4 --schedule onecycle --lr 3e-3 --batch 32 --workers 4 --decoder-interpolation bilinear
  --head-stride 4 --decoder-channels 32 24 16 --precise-bn 8 --epochs 400 --time-limit $T --no-progress $LIMIT"
mobile() { python3 -m train.cli --encoder "$1" $MIX --cache-dir "/tmp/cache-$2" --out "$R/$2" > "$R/$2.log" 2>&1; }
study() { python3 -m train.cli --encoder "$1" --data "$D/ccp" --imgsz $BIG $BIG --epochs 150 --data-on-device \
  --time-limit $T --no-progress --workers 0 $LIMIT --cache-dir "/tmp/cache-$2" --out "$R/$2" > "$R/$2.log" 2>&1; }
mobile mobilenetv3-small mobile-mnv3s &
mobile lcnet-100 mobile-lcnet &
mobile mobilenetv3-large mobile-mnv3l &
for enc in $STUDY_ENC; do study "$enc" "study-$enc" & done
wait
tail -n 3 "$R"/*.log

cd "$R" && tar czf "$OUT/metrics.tgz" speed.json *.log */history.csv */summary.json */curves.png 2>/dev/null
for run in mobile-mnv3s mobile-lcnet mobile-mnv3l study-efficientnet-b0; do
  [ -f "$R/$run/best.pt" ] && (cd "$OLDPWD" && python3 -m train.slim "$R/$run/best.pt" "$OUT/$run-best16.pt")
done
ls -la "$OUT"
