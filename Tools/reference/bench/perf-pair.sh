#!/usr/bin/env bash
# Paired Swift / PyTorch training-step and sampling timings on the bundled model's folder (idle machine).
cd "$(dirname "$0")/../../.."   # the repository root; needs the release build and Tools/reference/.venv
PY=Tools/reference/.venv/bin/python
for r in 1 2; do
  echo "== round $r: Swift"; chrt -r 2 .build/release/bench-t2i 20 2>&1 | tail -4
  echo "== round $r: PyTorch"; chrt -r 2 $PY Tools/reference/bench_train_t2i.py Models/shapes-t2i --batch 16 --steps 20 2>&1 | tail -4
done
echo "== sampling: Swift"; chrt -r 2 .build/release/bench-t2i 2 --sample 32 2>&1 | tail -3
echo "== sampling: PyTorch"; chrt -r 2 $PY Tools/reference/bench_train_t2i.py Models/shapes-t2i --batch 16 --steps 3 --sample-images 32 --sample-steps 20 2>&1 | tail -3
