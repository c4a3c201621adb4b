#!/bin/bash
# A lent GPU machine (the workplace's `device` tool) in one prepared command: `python -m bench.device`
# with the packages that machine's image lacks, its output unbuffered and its report under $OUT.
#
#   bash bench/device_lease.sh --fetch-wheels     # here, once: the wheels into .whl/ (.gitignore has it)
#   bash bench/device_lease.sh [bench.device flags]   # there: run(command=..., carry=[".whl"])
#
# With no flags it runs the next lease's plan (docs/performance.md): MIKT CentipedeFour ->
# CentipedeEight on wide-1024x8 for 1M steps, reading the committed teachers, no physics rows.
# Give the `run` a timeout_s of at least the budget + 60 s (SIGTERM grace, pip).
# What the image lacks (seen 2026-12-04 on an H200): mujoco 4.0.0 (+ mujoco-core, glfw, pyopengl),
# mujoco-mjx 3.17.0 (+ trimesh) and tensorboardX; it has jax 0.11.2 with CUDA, flax, optax, orbax.
set -euo pipefail
SITE=${TMPDIR:-/tmp}/mjx-mikt-site   # the carried wheels, installed on the lent machine
cd "$(dirname "$0")/.."
WHEELS=(mujoco==4.0.0 mujoco-core==4.0.0 mujoco-mjx==3.17.0 glfw==2.11.0 pyopengl==3.1.10 trimesh==5.2.0
        tensorboardX==2.6.5)

if [ "${1:-}" = "--fetch-wheels" ]; then
  for wheel in "${WHEELS[@]}"; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 -d .whl "$wheel"
  done
  ls .whl
  exit 0
fi

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
export PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1
# no libEGL on that machine: rendering off (the package would pick it, this says so up front)
export MUJOCO_GL=disable
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
nvidia-smi -L || true
python3 -c "import jax, mujoco; print('jax', jax.__version__, 'mujoco', mujoco.__version__, jax.devices())"
if [ $# -eq 0 ]; then
  set -- --sizes '' --preset wide-1024x8 --timesteps 1e6 --teacher-store results/wide-1024x8-2M/teachers \
         --budget-s 480
fi
python3 -m bench.device "$@" --out "$OUT/device-report" 2>&1 | tee "$OUT/device.log"
