#!/bin/bash
# issue 34, next pilot (docs/scale.md, "Where the wide student falls behind"): the wide-256x16 MIKT cell,
# seed 0 alone, with the encoders' and MI decoders' rate at 6x as well as the mixing logits' (the 5-seed
# cell at encoder rate 1: results/wide-256x16-2M/cells/Four-Eight/mikt; seed 0 at mixing x6 alone:
# results/scale-pilots/wide-256x16-mix6-seed0). About 11 min here.
cd "$(dirname "$0")/../.."
mkdir -p runs/diag
.venv/bin/python -m mjx_mikt.run --method mikt --source CentipedeFour --target CentipedeEight --preset wide-256x16 \
    --timesteps 2000000 --backend mujoco --no-video --seed 0 --seeds 1 --teacher-seeds 5 \
    --teacher-store results/wide-256x16-2M/teachers --no-train-teacher --eval-every 25 \
    --encoder-lr-scale 6 --run-dir runs/diag/encoder6 > runs/diag/encoder6.log 2>&1
