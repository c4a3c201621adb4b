#!/bin/bash
# The scale study's longer budget (docs/scale.md): wide-256x16 MIKT CentipedeFour -> CentipedeEight for
# 4M env steps (976 updates, the paper preset's count at 2M) with the wide-256x16 2M teachers.
# Resumes from its checkpoint when run again (--resume FOLDER).
cd "$(dirname "$0")/../.."
OUT=results/scale-pilots/wide-256x16-4M
if [ -d "$OUT/checkpoints" ]; then exec .venv/bin/python -m mjx_mikt.run --resume "$OUT"; fi
exec .venv/bin/python -m mjx_mikt.run --method mikt --target CentipedeEight --source CentipedeFour \
    --teacher-seeds 5 --no-train-teacher --seeds 5 --timesteps 4000000 --preset wide-256x16 --backend mujoco \
    --eval-every 25 --teacher-store results/wide-256x16-2M/teachers --run-dir "$OUT"
