#!/bin/bash
# Issue 45's queues: wide-256x16, CentipedeFour -> CentipedeEight, 2M steps, native MuJoCo, the committed
# wide teachers (student seed i reads teacher i).
#   run.sh          one-seed pilots (seed 0) of pilots.txt, records here
#   run.sh cells    5-seed cells (seeds 0-4) of results/wide-recipe-cells/cells.txt, records there
# One line per run: NAME METHOD FLAGS... (added to the preset's). Runs every line whose record is not yet
# committed, one at a time; rerun to resume (a run cut short, e.g. by SIGTERM to free the machine, restarts
# from its last checkpoint). Records: NAME/{config.json,summary.json,eval.csv,metrics.csv}.
cd "$(dirname "$0")/../.."
if [ "${1:-}" = cells ]; then here=results/wide-recipe-cells list=cells.txt seeds=5 runs=runs/cells45
else here=results/wide-recipe-pilots list=pilots.txt seeds=1 runs=runs/pilots45; fi
mkdir -p $runs
while read -r name method flags; do
  case "$name" in ''|'#'*) continue;; esac
  [ -f "$here/$name/summary.json" ] && continue
  run=$runs/$name
  if [ -f "$run/config.json" ]; then cmd=".venv/bin/python -m mjx_mikt.run --resume $run"; else
  cmd=".venv/bin/python -m mjx_mikt.run --method $method --source CentipedeFour --target CentipedeEight \
    --preset wide-256x16 --timesteps 2000000 --backend mujoco --no-video --seed 0 --seeds $seeds \
    --teacher-seeds 5 --teacher-store results/wide-256x16-2M/teachers --no-train-teacher --eval-every 25 \
    $flags --run-dir $run"; fi
  echo "$(date +%T) $name: $cmd"
  $cmd > $runs/$name.log 2>&1 || { echo "$name stopped: see $runs/$name.log"; continue; }
  mkdir -p "$here/$name"
  cp "$run"/{config.json,summary.json,eval.csv,metrics.csv} "$here/$name/"
  echo "$(date +%T) $name done"
done < "$here/$list"
