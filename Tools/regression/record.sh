#!/usr/bin/env bash
# Records what the tools compute on the bundled model, so that a refactor can be checked to change nothing:
#   Tools/regression/record.sh OUT_DIR [BIN_DIR]        (BIN_DIR: built tools; default: swift build -c release)
#   Tools/regression/compare.sh OLD_DIR NEW_DIR
# Records: the demo's images, `sample` on 3 prompts x 2 seeds, `t2i-evaluate` on 2 prompts per category,
# `evaluate discriminative --count 50`, and the first 20 losses of short `train-t2i` and `train-adapter` runs.
# Each command's stdout/stderr goes to OUT_DIR/<name>.log. Takes about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: record.sh OUT_DIR [BIN_DIR]}
bin=${2:-}
if [ -z "$bin" ]; then
  swift build -c release >/dev/null
  bin=$(swift build -c release --show-bin-path)
fi
model=Models/shapes-t2i
mkdir -p "$out"
out=$(cd "$out" && pwd)
step() {  # $1 = name, rest = command
  local name=$1; shift
  echo "record: $name"
  local start=$SECONDS
  "$@" > "$out/$name.log" 2>&1 || { echo "record: $name failed (see $out/$name.log)"; exit 1; }
  echo "record: $name done ($((SECONDS - start)) s)"
}
step demo "$bin/demo" --model "$model" --out "$out/demo"
step sample "$bin/sample" --model "$model" --prompt "a red circle" --prompt "a blue square left of a green triangle" \
  --prompt "two small yellow triangles" --n 2 --seed 0 --quiet --out "$out/sample"
step t2i-evaluate "$bin/t2i-evaluate" --model "$model" --suite id --prompts-per-category 2 --out "$out/t2i-evaluate"
step discriminative "$bin/evaluate" discriminative --model "$model" --count 50 --out "$out/discriminative.md"
step train-t2i "$bin/train-t2i" --out "$out/train-t2i" --steps 20 --sample-every 0 --checkpoint-every 20 --set log_every=1
# Stage 1 is the `probe` subcommand (before the tool had subcommands: `--stage probe`).
stage=(probe); "$bin/train-adapter" --help 2>&1 | grep -q "SUBCOMMANDS" || stage=(--stage probe)
step train-adapter "$bin/train-adapter" "${stage[@]}" --model "$model" --out "$out/train-adapter" --steps 20 \
  --log-every 1 --checkpoint-every 20 --adapter-out none
echo "record: written to $out"
