#!/bin/bash
# Issue 45's 5-seed cells of the pilots that screened best: wide-256x16, CentipedeFour -> CentipedeEight,
# 2M steps, seeds 0-4, native MuJoCo, the committed wide teachers (student seed i reads teacher i). The PPO
# arm under the same recipe is the committed cell results/wide-256x16-2M/cells/CentipedeEight/ppo (the
# coupling and fade flags do not touch PPO). One line of cells.txt per cell: NAME METHOD FLAGS...
# Runs every cell whose record is not yet committed here, one at a time; rerun to resume (a cell cut short,
# e.g. by SIGTERM to free the machine, restarts from its last checkpoint).
cd "$(dirname "$0")/../.."
here=results/wide-recipe-cells
mkdir -p runs/cells45
while read -r name method flags; do
  case "$name" in ''|'#'*) continue;; esac
  [ -f "$here/$name/summary.json" ] && continue
  run=runs/cells45/$name
  if [ -f "$run/config.json" ]; then cmd=".venv/bin/python -m mjx_mikt.run --resume $run"; else
  cmd=".venv/bin/python -m mjx_mikt.run --method $method --source CentipedeFour --target CentipedeEight \
    --preset wide-256x16 --timesteps 2000000 --backend mujoco --no-video --seed 0 --seeds 5 --teacher-seeds 5 \
    --teacher-store results/wide-256x16-2M/teachers --no-train-teacher --eval-every 25 $flags --run-dir $run"; fi
  echo "$(date +%T) $name: $cmd"
  $cmd > runs/cells45/$name.log 2>&1 || { echo "$name stopped: see runs/cells45/$name.log"; continue; }
  mkdir -p "$here/$name"
  cp "$run"/{config.json,summary.json,eval.csv,metrics.csv} "$here/$name/"
  echo "$(date +%T) $name done"
done < "$here/cells.txt"
