#!/usr/bin/env bash
# The whole DPT chain on ShapesWorld, from a clean clone: base model (bundled, or retrained with RETRAIN=1),
# stage 1 (probe) with its random-U-Net control, the discriminative evaluation and probing sweep, stage 2 (LoRA
# tuning), and the generation evaluation of the four variants, writing every table and figure under Docs/results/
# (and the run folders under runs/). Sizes are environment variables; the defaults are the ones Docs/RESULTS.md
# reports (a few hours on 2 cores). `make reproduce` runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-Models/shapes-t2i}
PPC=${PPC:-5}                 # prompts per category of each suite in the generation evaluation (60 = full suites)
COUNT=${COUNT:-200}            # samples per split of the discriminative evaluation
SWEEP_TAPS=${SWEEP_TAPS:-down2,mid,up0}
SWEEP_STEPS=${SWEEP_STEPS:-100}
ETA=${ETA:-0.5}
OUT=${OUT:-Docs/results}
mkdir -p "$OUT" runs

swift build -c release --product train-t2i --product train-adapter --product evaluate --product sample
BIN=.build/release

if [ "${RETRAIN:-0}" = 1 ]; then
  $BIN/train-t2i --out runs/shapes-t2i --resume
  MODEL=runs/shapes-t2i/model
fi

# Stage 1: the probe on the first cross-attention up block, and the control on a random U-Net.
$BIN/train-adapter --stage probe --model "$MODEL" --out runs/probe --adapter-out none --resume
$BIN/train-adapter --stage probe --model "$MODEL" --random-unet-seed 1 --out runs/probe-control --adapter-out none --resume
$BIN/evaluate discriminative --model "$MODEL" --adapter runs/probe/adapter --adapter runs/probe-control/adapter \
  --split test-id,test-ood --count "$COUNT" --out "$OUT/discriminative.md"
$BIN/evaluate sweep --model "$MODEL" --taps "$SWEEP_TAPS" --steps "$SWEEP_STEPS" --count 100 --out runs/sweep
cp runs/sweep/sweep.md "$OUT/sweep.md"; cp runs/sweep/heatmap.png "$OUT/sweep-heatmap.png"

# Stage 2: LoRA + adapter with ITM + REC + denoising MSE, starting from the stage-1 adapter.
$BIN/train-adapter --stage tune --model "$MODEL" --adapter runs/probe/adapter --out runs/tune --resume
$BIN/evaluate discriminative --model "$MODEL" --adapter runs/tune/adapter --lora runs/tune/unet_lora \
  --split test-id,test-ood --count "$COUNT" --out "$OUT/discriminative-stage2.md"

# Generation: four variants, identical prompts and seeds.
for suite in id ood; do
  common=(--model "$MODEL" --suite "$suite" --prompts-per-category "$PPC" --out runs/generation)
  $BIN/evaluate generation "${common[@]}" --variant base --no-lora
  $BIN/evaluate generation "${common[@]}" --variant base-sc --no-lora --self-correct --eta "$ETA" --adapter runs/probe/adapter
  $BIN/evaluate generation "${common[@]}" --variant dpt --lora runs/tune/unet_lora
  $BIN/evaluate generation "${common[@]}" --variant dpt-sc --lora runs/tune/unet_lora --self-correct --eta "$ETA" --adapter runs/tune/adapter
done
$BIN/evaluate generation-report --results runs/generation --out "$OUT/generation.md"
echo "done: tables and figures in $OUT"
