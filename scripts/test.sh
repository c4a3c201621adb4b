#!/usr/bin/env bash
# The test suite (CPU; about as long as noted in docs/testing.md). Extra arguments go to pytest.
# Test files run in parallel, one pytest-xdist worker per core, each file whole on one worker (its
# module fixtures, e.g. a tiny trained experiment, are built once); `-n 0` runs them in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
exec .venv/bin/python -m pytest -q -n auto --dist loadfile "$@"
