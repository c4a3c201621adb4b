#!/bin/bash
# Issue 45: CentipedeFour teachers under the KL rule (wide-256x16 + --desired-kl 0.03; PPO, 5 seeds x 2M,
# native), registered in results/wide-recipe-cells/teachers-kl03: the teachers of a KL-rule MIKT recipe (the
# cells so far read the committed wide-256x16 teachers, trained under the annealed rate). Records in
# teachers-kl03-cell/, beside the annealed-rate teachers' cell results/wide-256x16-2M/cells/CentipedeFour/ppo.
# Rerun to resume.
cd "$(dirname "$0")/../.."
run=runs/cells45/teachers-kl03 records=results/wide-recipe-cells/teachers-kl03-cell
if [ -f "$run/config.json" ]; then args="--resume $run"; else
  args="--method ppo --target CentipedeFour --preset wide-256x16 --timesteps 2000000 --backend mujoco --no-video \
    --seed 0 --seeds 5 --eval-every 25 --desired-kl 0.03 --teacher-store results/wide-recipe-cells/teachers-kl03 \
    --register-teacher --run-dir $run"; fi
mkdir -p runs/cells45
.venv/bin/python -m mjx_mikt.run $args || exit
mkdir -p $records && cp $run/{config.json,summary.json,eval.csv,metrics.csv} $records/
