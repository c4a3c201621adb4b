#!/usr/bin/env bash
# The main job: the paper's CentipedeFour -> CentipedeEight MIKT transfer (teacher trained if missing),
# with the paper's optimisation from 64 envs x 32 steps (preset paper-wide: PPO learned at least as
# well per sample as from 8 x 256 and runs faster; docs/results.md, "Rollout shape").
# Extra arguments go to `python -m mjx_mikt.run` (try --help) and replace these defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
if [ "$#" -eq 0 ]; then set -- --target CentipedeEight --preset paper-wide; fi
exec .venv/bin/python -m mjx_mikt.run "$@"
