"""Cholesky and triangular solves for MJX on a CPU without jaxlib's LAPACK kernels (no deadlock).

Why (docs/mjx-cpu-hang.md): on a CPU, `jax.scipy.linalg.cho_factor` / `cho_solve` lower to
jaxlib's LAPACK custom calls (`lapack_spotrf_ffi`, `blas_strsm_ffi`). For a large enough batch
jaxlib splits the batch into tasks on XLA's intra-op thread pool, the pool the call itself runs
on, and blocks until they finish. When two such calls run at once on a 2-thread pool, each parks
a worker and nothing is left to run the tasks: the program never returns. MJX factorises the mass
matrix and the Newton solver's Hessian this way, so vmapped MJX training on a 2-core CPU hung
right after its compile. `tools/probes/cpu_cholesky_hang.py` reproduces it in seconds without MJX.

`install()` replaces the two primitives' CPU lowerings (real dtypes only; complex keeps LAPACK)
for every program lowered afterwards in this process (installed by the entry points and by
`MjxPhysics` on a CPU: mjx_mikt/patches.py, `cpu_linalg`):
- Cholesky: the column (left-looking) algorithm written in JAX, one batched matrix-vector
  product per column (n steps, unrolled for n <= 64), so it is plain XLA code;
- triangular solve: XLA's own `TriangularSolve` op, the lowering JAX uses on accelerators.
Cost, measured with the reproducer beside a training (1 call of 4096 28x28 matrices per loop
step, 600 steps, compile excluded): Cholesky 1.6x and triangular solve 3x LAPACK's time (a
substitution loop written in JAX was slower still).
Numerics: the same factor to rounding (the tests compare it with numpy); a matrix that is not
positive definite gives an all-NaN factor, as the LAPACK lowering does.

Registering a lowering is JAX's private API (`jax._src`): re-check on every jax upgrade
(`tests/test_cpu_linalg.py` and `tests/test_patches.py` fail if a lowered program still calls LAPACK).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

UNROLL_MAX_N = 64  # columns unrolled into straight-line XLA up to this size (MJX models: nv <= ~30)

_installed = False


def column_cholesky(a: jax.Array) -> jax.Array:
    """Lower Cholesky factor of each symmetric positive definite matrix in a (..., n, n).

    Reads only the lower triangle's columns as LAPACK does with uplo=L (the caller, JAX's
    `cholesky`, symmetrises first). Returns (..., n, n), zero above the diagonal; all NaN for a
    matrix that is not positive definite.
    """
    a = jnp.asarray(a)
    n = a.shape[-1]
    rows = jnp.arange(n)

    def column(j, factor):
        # column j of A minus the contribution of the columns already done (those > j are still 0)
        v = a[..., :, j] - jnp.einsum("...ik,...k->...i", factor, factor[..., j, :])
        pivot = jnp.sqrt(v[..., j])
        return factor.at[..., :, j].set(jnp.where(rows >= j, v / pivot[..., None], 0.0))

    factor = jax.lax.fori_loop(0, n, column, jnp.zeros_like(a), unroll=n <= UNROLL_MAX_N)
    ok = jnp.all(jnp.isfinite(factor), axis=(-2, -1), keepdims=True)
    return jnp.where(ok, factor, jnp.nan)


def _is_real(aval) -> bool:
    return np.issubdtype(np.dtype(aval.dtype), np.floating)


def install() -> None:
    """Use the lowerings above for real-valued Cholesky and triangular solves on CPU (idempotent)."""
    global _installed
    if _installed:
        return
    from jax._src.interpreters import mlir
    from jax._src.lax import linalg

    pure_cholesky = mlir.lower_fun(column_cholesky, multiple_results=False)

    def cholesky_lowering(ctx, operand):
        if _is_real(ctx.avals_in[0]):
            return pure_cholesky(ctx, operand)
        return linalg._cholesky_cpu_lowering(ctx, operand)

    def triangular_solve_lowering(ctx, a, b, **params):
        if _is_real(ctx.avals_in[0]):
            return linalg._triangular_solve_lowering(ctx, a, b, **params)
        return linalg._triangular_solve_cpu_lower(ctx, a, b, **params)

    mlir.register_lowering(linalg.cholesky_p, cholesky_lowering, platform="cpu")
    mlir.register_lowering(linalg.triangular_solve_p, triangular_solve_lowering, platform="cpu")
    _installed = True


def install_if_cpu() -> bool:
    """`install()` when JAX's default device is a CPU (MJX there hangs otherwise); True if so."""
    if jax.default_backend() != "cpu":
        return False
    install()
    return True
