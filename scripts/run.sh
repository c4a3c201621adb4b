#!/usr/bin/env bash
# The main job: the paper's CentipedeFour -> CentipedeEight MIKT transfer (teacher trained if missing).
# Extra arguments go to `python -m mjx_mikt.run` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
if [ "$#" -eq 0 ]; then set -- --target CentipedeEight; fi
exec .venv/bin/python -m mjx_mikt.run "$@"
