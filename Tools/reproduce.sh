#!/usr/bin/env bash
# The whole DPT chain on ShapesWorld, from a clean clone: base model (bundled, or retrained with RETRAIN=1),
# stage 1 (probe) with its random-U-Net control, the discriminative evaluation and probing sweep, stage 2 (LoRA
# tuning), and the generation evaluation of the four variants, writing every table and figure under Docs/results/
# (and the run folders under runs/), then the ablations (one component swapped per run: no ITM, no REC, LoRA rank,
# tap block, eta, correction mode; ABLATIONS picks them). Sizes are environment variables; the defaults are the ones Docs/RESULTS.md
# reports (about two and a half hours on 2 cores). `make reproduce` runs this script.
# QUICK=1 checks the wiring in a few minutes: a few training steps per stage, one prompt per category, a scratch
# output folder (runs/reproduce-quick) instead of Docs/results; its numbers mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-Models/shapes-t2i}
PPC=${PPC:-5}                 # prompts per category of each suite in the generation evaluation (60 = full suites)
IPP=${IPP:-4}                 # images (seeds) per prompt
COUNT=${COUNT:-200}            # samples per split of the discriminative evaluation
SWEEP_TAPS=${SWEEP_TAPS:-down0,down1,down2,mid,up0}   # up1, up2 (32x32) cost about 20 minutes each: left out
SWEEP_STEPS=${SWEEP_STEPS:-150}
SWEEP_COUNT=${SWEEP_COUNT:-200}
REC_HEAD=${REC_HEAD:-heatmap-text}   # stage-1 REC head: heatmap-text (the shipped one), heatmap, or detr (the release's)
ETA=${ETA:-0.5}
GUIDANCE=${GUIDANCE:-}         # sampling guidance of the generation runs (empty: the model's default, 1.5 for the bundled model)
ABLATIONS=${ABLATIONS-no-itm no-rec rank tap eta}   # which ablations to run ("" for none)
SWEEP=${SWEEP:-1}              # 0 skips the probing sweep
ABLATION_RANK=${ABLATION_RANK:-16}
ABLATION_TAP=${ABLATION_TAP:-mid}
ABLATION_ETAS=${ABLATION_ETAS:-0.1 0.25 1.0}
OUT=${OUT:-Docs/results}
RUNS=${RUNS:-runs}
PROBE_SET=(); TUNE_SET=(); T2I_SET=()
if [ "${QUICK:-0}" = 1 ]; then
  PPC=1; IPP=1; COUNT=8; SWEEP_STEPS=2; SWEEP_COUNT=8; T2I_SET=(--steps 4 --batch-size 2 --sample-every 0); OUT=runs/reproduce-quick/results; RUNS=runs/reproduce-quick
  PROBE_SET=(--set steps=3 --set batch_size=2 --set checkpoint_every=2)
  TUNE_SET=(--set steps=2 --set batch_size=1 --set checkpoint_every=1)
fi
mkdir -p "$OUT" "$RUNS"
case "$REC_HEAD" in
  heatmap-text) echo '{"rec_head": "heatmap", "heatmap_text": true}' > "$RUNS/stage1-head.json" ;;
  heatmap) echo '{"rec_head": "heatmap"}' > "$RUNS/stage1-head.json" ;;
  detr) echo '{"rec_head": "detr"}' > "$RUNS/stage1-head.json" ;;
  *) echo "REC_HEAD '$REC_HEAD' is not heatmap-text, heatmap or detr" >&2; exit 2 ;;
esac
HEAD=(--config "$RUNS/stage1-head.json")
GEN=(); [ -n "$GUIDANCE" ] && GEN=(--guidance "$GUIDANCE")   # extra flags of every `evaluate generation`

swift build -c release --product train-t2i --product train-adapter --product evaluate --product sample
BIN=.build/release

if [ "${RETRAIN:-0}" = 1 ]; then
  $BIN/train-t2i --out $RUNS/shapes-t2i --resume "${T2I_SET[@]}"
  MODEL=$RUNS/shapes-t2i/model
fi

# Stage 1: the probe on the first cross-attention up block, and the control on a random U-Net.
$BIN/train-adapter probe --model "$MODEL" --out $RUNS/probe --adapter-out none --resume "${HEAD[@]}" "${PROBE_SET[@]}"
$BIN/train-adapter probe --model "$MODEL" --random-unet-seed 1 --out $RUNS/probe-control --adapter-out none --resume "${HEAD[@]}" "${PROBE_SET[@]}"
$BIN/evaluate discriminative --model "$MODEL" --adapter $RUNS/probe/adapter --adapter $RUNS/probe-control/adapter \
  --split test-id,test-ood --count "$COUNT" --t 150 --t 500 --out "$OUT/discriminative.md"
if [ "$SWEEP" = 1 ]; then
  $BIN/evaluate sweep --model "$MODEL" "${HEAD[@]}" --taps "$SWEEP_TAPS" --steps "$SWEEP_STEPS" --count "$SWEEP_COUNT" --out $RUNS/sweep
  $BIN/evaluate sweep --model "$MODEL" "${HEAD[@]}" --taps "$SWEEP_TAPS" --steps "$SWEEP_STEPS" --count "$SWEEP_COUNT" \
    --random-unet-seed 1 --out $RUNS/sweep-control
  $BIN/evaluate sweep-compare --trained $RUNS/sweep --control $RUNS/sweep-control --out "$OUT/probing-map"
  cp $RUNS/sweep/sweep.md "$OUT/sweep.md"; cp $RUNS/sweep/heatmap.png "$OUT/sweep-heatmap.png"
fi

# Stage 2: LoRA + adapter with ITM + REC + denoising MSE, starting from the stage-1 adapter.
$BIN/train-adapter tune --model "$MODEL" --adapter $RUNS/probe/adapter --out $RUNS/tune --resume "${TUNE_SET[@]}"
$BIN/evaluate discriminative --model "$MODEL" --adapter $RUNS/tune/adapter --lora $RUNS/tune/unet_lora \
  --split test-id,test-ood --count "$COUNT" --out "$OUT/discriminative-stage2.md"

# Generation: four variants, identical prompts and seeds.
for suite in id ood; do
  common=(--model "$MODEL" --suite "$suite" --prompts-per-category "$PPC" --images-per-prompt "$IPP" --out $RUNS/generation "${GEN[@]}")
  $BIN/evaluate generation "${common[@]}" --variant base --no-lora
  $BIN/evaluate generation "${common[@]}" --variant base-sc --no-lora --self-correct --eta "$ETA" --adapter $RUNS/probe/adapter
  $BIN/evaluate generation "${common[@]}" --variant dpt --lora $RUNS/tune/unet_lora
  $BIN/evaluate generation "${common[@]}" --variant dpt-sc --lora $RUNS/tune/unet_lora --self-correct --eta "$ETA" --adapter $RUNS/tune/adapter
done

# Ablations, one component swapped per run; generation on both suites, the same prompts and seeds as above.
# ABLATIONS lists the ones to run (default all): no-itm no-rec rank tap eta.
ablation() { case " $ABLATIONS " in *" $1 "*) return 0;; *) return 1;; esac; }
gen_both() {  # variant, then evaluate-generation flags
  local variant=$1; shift
  for suite in id ood; do
    $BIN/evaluate generation --model "$MODEL" --suite "$suite" --prompts-per-category "$PPC" --images-per-prompt "$IPP" \
      --out $RUNS/generation "${GEN[@]}" --variant "$variant" "$@"
  done
}
tune_ablation() {  # name, stage-1 adapter, then train-adapter settings; trains, evaluates discriminatively, generates
  local name=$1 adapter=$2; shift 2
  $BIN/train-adapter tune --model "$MODEL" --adapter "$adapter" --out $RUNS/tune-$name --resume "$@" "${TUNE_SET[@]}"
  $BIN/evaluate discriminative --model "$MODEL" --adapter $RUNS/tune-$name/adapter --lora $RUNS/tune-$name/unet_lora \
    --split test-id,test-ood --count "$COUNT" --out "$OUT/discriminative-$name.md"
  gen_both dpt-$name --lora $RUNS/tune-$name/unet_lora
}
if ablation no-rec; then
  tune_ablation no-rec $RUNS/probe/adapter --set rec_weight=0
  gen_both dpt-sc-no-rec --lora $RUNS/tune-no-rec/unet_lora --self-correct --eta "$ETA" --adapter $RUNS/tune-no-rec/adapter
fi
if ablation no-itm; then tune_ablation no-itm $RUNS/probe/adapter --set itm_weight=0; fi
if ablation eta; then
  # Self-correction strength and mode (stage-1 adapter on the base model, id suite).
  common=(--model "$MODEL" --suite id --prompts-per-category "$PPC" --images-per-prompt "$IPP" --out $RUNS/generation "${GEN[@]}"
          --no-lora --self-correct --adapter $RUNS/probe/adapter)
  for eta in $ABLATION_ETAS; do
    $BIN/evaluate generation "${common[@]}" --variant base-sc-eta$eta --eta "$eta"
  done
  $BIN/evaluate generation "${common[@]}" --variant base-sc-paper --eta "$ETA" --correction-mode paper
fi
if ablation rank; then tune_ablation r$ABLATION_RANK $RUNS/probe/adapter --set lora_rank=$ABLATION_RANK; fi
if ablation tap; then
  # Another tap block: stage 1 and stage 2 on it.
  $BIN/train-adapter probe --model "$MODEL" --taps "$ABLATION_TAP" --out $RUNS/probe-$ABLATION_TAP --adapter-out none --resume "${PROBE_SET[@]}"
  tune_ablation $ABLATION_TAP $RUNS/probe-$ABLATION_TAP/adapter
  $BIN/evaluate discriminative --model "$MODEL" --adapter $RUNS/probe-$ABLATION_TAP/adapter \
    --split test-id,test-ood --count "$COUNT" --out "$OUT/discriminative-probe-$ABLATION_TAP.md"
fi
$BIN/evaluate generation-report --results $RUNS/generation --out "$OUT/generation.md"
echo "done: tables and figures in $OUT"
