#!/usr/bin/env bash
# The main job: the paper's CentipedeFour -> CentipedeEight MIKT transfer (teacher trained if runs/teachers,
# the store it names, has none: it does not read a committed one),
# with the wide-batch preset wide-256x16 (256 envs x 16 steps, 8 minibatches x 4 epochs): the fastest
# recipe measured on a CPU that keeps transfer ahead of PPO from scratch (docs/scale.md). The paper's
# figures keep the paper's optimisation (preset paper).
# Extra arguments go to `python -m mjx_mikt.run` (try --help) and replace these defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
if [ "$#" -eq 0 ]; then set -- --target CentipedeEight --preset wide-256x16 --teacher-store runs/teachers; fi
exec .venv/bin/python -m mjx_mikt.run "$@"
