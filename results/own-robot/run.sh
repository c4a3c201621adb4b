#!/bin/bash
# Issue 33's demo, outside the paper: MIKT from CentipedeFour to Gymnasium's half_cheetah.xml (the
# generic task of envs/mjcf.py), against PPO from scratch on the cheetah, 3 seeds x 1M env steps,
# paper preset, native physics. Three cells, one after the other (the CentipedeFour teachers first);
# run again to resume. `bash results/own-robot/run.sh status` and `... report` take the same cells.
set -e
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
CHEETAH=$($PY -c "import gymnasium, pathlib; print(pathlib.Path(gymnasium.__file__).parent / 'envs/mujoco/assets/half_cheetah.xml')")
exec $PY -m mjx_mikt.experiments "${1:-run}" fig3 --pairs "Four:$CHEETAH" --methods mikt,ppo \
    --seeds 3 --timesteps 1e6 --out results/own-robot-1M
