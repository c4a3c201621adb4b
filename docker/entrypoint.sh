#!/usr/bin/env bash
# `IMAGE tensorboard` serves /runs on port 6006; `IMAGE experiments ...` is python -m mjx_mikt.experiments;
# `IMAGE bench ...` is python -m bench; anything else goes to python -m mjx_mikt.run
# (runs are written under /runs, the mounted volume; teachers under /runs/runs/teachers).
set -euo pipefail
if [ "${1:-}" = "tensorboard" ]; then
  exec tensorboard --logdir /runs --host 0.0.0.0 --port 6006
fi
if [ "${1:-}" = "experiments" ]; then
  shift
  exec python -m mjx_mikt.experiments "$@"
fi
if [ "${1:-}" = "bench" ]; then
  shift
  exec python -m bench "$@"
fi
exec python -m mjx_mikt.run "$@"
