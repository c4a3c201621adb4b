#!/bin/bash
# The scale study's longer budget (docs/scale.md): wide-256x16, 4M env steps (976 updates, the paper
# preset's count at 2M), 5 seeds, CentipedeEight:
#   run-4M.sh        MIKT from CentipedeFour with the wide-256x16 2M teachers -> wide-256x16-4M
#   run-4M.sh ppo    PPO from scratch under the same recipe (issue 45's 4M row) -> wide-256x16-4M-ppo
# Resumes from its checkpoint when run again (--resume FOLDER).
cd "$(dirname "$0")/../.."
if [ "${1:-mikt}" = ppo ]; then
  OUT=results/scale-pilots/wide-256x16-4M-ppo
  ARGS="--method ppo --target CentipedeEight --no-register-teacher --no-video"
else
  OUT=results/scale-pilots/wide-256x16-4M
  ARGS="--method mikt --target CentipedeEight --source CentipedeFour --teacher-seeds 5 --no-train-teacher \
    --teacher-store results/wide-256x16-2M/teachers"
fi
if [ -d "$OUT/checkpoints" ]; then exec .venv/bin/python -m mjx_mikt.run --resume "$OUT"; fi
exec .venv/bin/python -m mjx_mikt.run $ARGS --seeds 5 --timesteps 4000000 --preset wide-256x16 --backend mujoco \
    --eval-every 25 --run-dir "$OUT"
