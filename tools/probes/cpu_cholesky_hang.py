"""Reproducer: jaxlib's batched LAPACK Cholesky / triangular solve deadlocks XLA's CPU thread pool.

A `lax.scan` whose body factorises (or solves with) K independent batches of B n x n matrices.
With K >= 2 and a batch big enough for jaxlib to split it into tasks on the intra-op pool, two
calls run at once, each waits for tasks only the other's thread could run, and the program never
returns (no CPU time after the compile). `--fix` runs the same program with
`mjx_mikt.envs.cpu_linalg.install()` (plain XLA code instead of LAPACK): it finishes.
See docs/mjx-cpu-hang.md.

    python tools/probes/cpu_cholesky_hang.py              # hangs on a 2-core machine (kill it; or --timeout)
    python tools/probes/cpu_cholesky_hang.py --fix        # prints "finished in ... s"
    python tools/probes/cpu_cholesky_hang.py --op solve   # the same with cho_solve (trsm)

Exit code 0 when the program finished, 3 when --timeout seconds passed first.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fix", action="store_true", help="install mjx_mikt's pure-XLA lowerings first")
    parser.add_argument("--op", choices=("factor", "solve"), default="factor",
                        help="cho_factor (LAPACK potrf) or cho_solve (BLAS trsm) in the loop")
    parser.add_argument("--batch", type=int, default=None,
                        help="matrices per call (default 1024 for factor, 4096 for solve)")
    parser.add_argument("--n", type=int, default=28, help="matrix size (CentipedeEight: nv = 28)")
    parser.add_argument("--calls", type=int, default=4, help="independent calls per loop step")
    parser.add_argument("--steps", type=int, default=200, help="loop steps")
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="give up after this many seconds, exit 3 (0: wait for ever)")
    args = parser.parse_args(argv)

    import jax
    import jax.numpy as jnp

    if args.fix:
        from mjx_mikt.envs import cpu_linalg

        cpu_linalg.install()
    batch = args.batch or (1024 if args.op == "factor" else 4096)
    x = jax.random.normal(jax.random.PRNGKey(0), (batch, args.n, args.n))
    spd = x @ x.mT + args.n * jnp.eye(args.n)
    factor = jnp.linalg.cholesky(spd)

    def step(carry, _):
        if args.op == "factor":
            out = []
            for a in carry:
                lower, _ = jax.scipy.linalg.cho_factor(a, lower=True)
                out.append(a + 1e-6 * jnp.tril(lower) @ jnp.tril(lower).mT)
            return tuple(out), None
        return tuple(jax.scipy.linalg.cho_solve((factor, True), v) * 1.0001 + 0.1 for v in carry), None

    if args.op == "factor":
        init = tuple(spd * (i + 1.0) for i in range(args.calls))
    else:
        init = tuple(jnp.ones((batch, args.n, 1)) * (i + 1.0) for i in range(args.calls))
    program = jax.jit(lambda *c: jax.lax.scan(step, c, None, args.steps)[0])

    done = threading.Event()
    start = time.time()

    def run():
        jax.block_until_ready(program(*init))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(args.timeout or None):
        print(f"no result after {args.timeout:.0f} s: hung (lowering {'pure XLA' if args.fix else 'LAPACK'})",
              flush=True)
        os._exit(3)  # the hung XLA threads would block a normal interpreter exit
    print(f"finished in {time.time() - start:.1f} s ({args.op}, {args.calls} x {batch} x {args.n}x{args.n}, "
          f"{args.steps} steps, lowering {'pure XLA' if args.fix else 'LAPACK'})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
