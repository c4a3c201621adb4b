#!/bin/bash
# Issue 45's one-seed pilots: wide-256x16, CentipedeFour -> CentipedeEight, 2M steps, seed 0, native MuJoCo,
# the committed wide teachers (teacher 0). One line of pilots.txt per pilot: NAME METHOD FLAGS...
# Runs every pilot whose record is not yet committed here, one at a time; rerun to resume (a pilot cut
# short restarts from its last checkpoint). Records: NAME/{config.json,summary.json,eval.csv,metrics.csv}.
cd "$(dirname "$0")/../.."
here=results/wide-recipe-pilots
mkdir -p runs/pilots45
while read -r name method flags; do
  case "$name" in ''|'#'*) continue;; esac
  [ -f "$here/$name/summary.json" ] && continue
  target=CentipedeEight
  run=runs/pilots45/$name
  resume=""; [ -f "$run/config.json" ] && resume="--resume $run"
  if [ -n "$resume" ]; then cmd=".venv/bin/python -m mjx_mikt.run $resume"; else
  cmd=".venv/bin/python -m mjx_mikt.run --method $method --source CentipedeFour --target $target --preset wide-256x16 \
    --timesteps 2000000 --backend mujoco --no-video --seed 0 --seeds 1 --teacher-seeds 5 \
    --teacher-store results/wide-256x16-2M/teachers --no-train-teacher --eval-every 25 $flags --run-dir $run"; fi
  echo "$(date +%T) $name: $cmd"
  $cmd > runs/pilots45/$name.log 2>&1 || { echo "$name failed: see runs/pilots45/$name.log"; continue; }
  mkdir -p "$here/$name"
  cp "$run"/{config.json,summary.json,eval.csv,metrics.csv} "$here/$name/"
  echo "$(date +%T) $name done"
done < "$here/pilots.txt"
