#!/usr/bin/env bash
# Compares two folders written by Tools/regression/record.sh (see there): images, model weights and checkpoints
# byte for byte, reports (JSON, Markdown) and training metrics line for line with the timing fields removed.
# Prints one line per differing file and a summary; exits 1 when anything differs.
set -uo pipefail
old=${1:?usage: compare.sh OLD_DIR NEW_DIR}; new=${2:?usage: compare.sh OLD_DIR NEW_DIR}
# Fields that measure time, not computation.
timing='"(seconds|seconds_per_step|images_per_second|samples_per_second|eta_seconds|elapsed_seconds|wall_seconds|seconds_per_image|image_seconds)": *[-0-9.e+]+,? *'
strip() { sed -E "s/$timing//g; s/, *}/}/g" "$1"; }
same=0; differ=0
while IFS= read -r rel; do
  a="$old/$rel" b="$new/$rel"
  if [ ! -f "$b" ]; then echo "missing in $new: $rel"; differ=$((differ + 1)); continue; fi
  case "$rel" in
    *.log) continue ;;   # progress output: rates and times
    *.jsonl|*.json|*.md|*.txt)
      if diff -q <(strip "$a") <(strip "$b") >/dev/null; then same=$((same + 1)); else
        echo "differs: $rel"; diff <(strip "$a") <(strip "$b") | head -n 6; differ=$((differ + 1)); fi ;;
    *)
      if cmp -s "$a" "$b"; then same=$((same + 1)); else echo "differs (bytes): $rel"; differ=$((differ + 1)); fi ;;
  esac
done < <(cd "$old" && find . -type f | sed 's|^\./||' | sort)
while IFS= read -r rel; do [ -f "$old/$rel" ] || { echo "new in $new: $rel"; differ=$((differ + 1)); }; done \
  < <(cd "$new" && find . -type f ! -name '*.log' | sed 's|^\./||' | sort)
echo "compare: $same files the same, $differ differ"
[ "$differ" = 0 ]
