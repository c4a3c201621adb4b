"""MJX on a CPU: Cholesky and triangular solves without jaxlib's LAPACK kernels (envs/cpu_linalg.py).

The LAPACK kernels deadlock XLA's 2-thread CPU pool when two large batched calls run at once
(docs/mjx-cpu-hang.md); the replacement must give the same numbers and must not call LAPACK. That
MjxPhysics and the entry points install it is in test_patches.py.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO
from mjx_mikt.envs import cpu_linalg


def spd_batch(shape, n, seed=0):
    x = np.random.default_rng(seed).normal(size=shape + (n, n)).astype(np.float32)
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n, dtype=np.float32)


@pytest.mark.parametrize("n", [1, 7, 28])
def test_column_cholesky_matches_numpy(n):
    a = spd_batch((3, 2), n)
    got = np.asarray(jax.jit(cpu_linalg.column_cholesky)(a))
    np.testing.assert_allclose(got, np.linalg.cholesky(a), rtol=1e-5, atol=1e-5)
    assert np.all(np.triu(got, 1) == 0.0)


def test_column_cholesky_of_a_matrix_that_is_not_positive_definite_is_all_nan():
    a = spd_batch((2,), 5)
    a[1, 3, 3] = -100.0  # indefinite; matrix 0 stays fine
    got = np.asarray(cpu_linalg.column_cholesky(a))
    assert np.isnan(got[1]).all()
    np.testing.assert_allclose(got[0], np.linalg.cholesky(a[0]), rtol=1e-5, atol=1e-5)


def test_installed_lowerings_call_no_lapack_and_solve_the_same_system():
    a, b = spd_batch((64,), 16), np.random.default_rng(1).normal(size=(64, 16, 2)).astype(np.float32)

    def solve(a, b):
        return jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(a), b)

    cpu_linalg.install()  # tests/conftest.py did (JAX's own lowering calls LAPACK: test_patches.py)
    program = jax.jit(lambda a, b: solve(a, b) + 0.0)  # a new function: lowered afresh
    text = program.lower(a, b).as_text()
    assert "lapack" not in text and "custom_call" not in text
    np.testing.assert_allclose(np.asarray(program(a, b)), np.linalg.solve(a, b), rtol=2e-4, atol=2e-5)
    complex_a = jnp.asarray(a, jnp.complex64)  # complex keeps LAPACK (not written by hand)
    assert "lapack" in jax.jit(lambda m: jnp.linalg.cholesky(m) * 1.0).lower(complex_a).as_text()


def test_two_large_batched_cholesky_calls_at_once_finish_with_the_fix():
    """The reproducer that hangs with LAPACK on a 2-core machine (tools/probes/cpu_cholesky_hang.py)
    finishes with the lowerings installed."""
    out = subprocess.run([sys.executable, "tools/probes/cpu_cholesky_hang.py", "--fix", "--calls", "2",
                          "--steps", "100", "--timeout", "300"],
                         cwd=REPO, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "finished in" in out.stdout
