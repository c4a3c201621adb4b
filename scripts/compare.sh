#!/usr/bin/env bash
# MIKT vs PPO from scratch on one pair, same budget and seeds; then a learning-curve plot.
#   bash scripts/compare.sh [TARGET] [SOURCE] [TIMESTEPS] [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-CentipedeSix}"; source="${2:-CentipedeFour}"; steps="${3:-1000000}"; seeds="${4:-2}"
stamp=$(date +%Y%m%d-%H%M%S)
for method in mikt ppo; do
  .venv/bin/python -m mjx_mikt.run --target "$target" --source "$source" --method "$method" \
    --timesteps "$steps" --seeds "$seeds" --run-dir "runs/compare-$stamp/$target-$method"
done
.venv/bin/python -m mjx_mikt.plot "runs/compare-$stamp/$target-mikt" "runs/compare-$stamp/$target-ppo" \
  -o "runs/compare-$stamp/curves.png" || true
