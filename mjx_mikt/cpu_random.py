"""JAX's Threefry random bits as straight-line code on the CPU, not a 5-step loop.

On a CPU, JAX lowers its Threefry-2x32 hash (behind every `jax.random` call) as a `fori_loop` of
5 steps of 4 rounds, to keep compiles short; on accelerators it unrolls all 20 rounds. XLA:CPU runs
each loop step as separate small kernels, and the training loop draws random numbers at every env
step (auto-reset candidates, the policy's actions) and every minibatch (MIKT's sampling), so the
loop overhead showed up in profiles: 7 such loops per env step at 40 envs (`jax.profiler` trace,
CentipedeFour, 2026-12-04). Unrolled (the accelerators' lowering), A/B in one process beside a
training (so ratios only): the env step at 40 envs 1.10x as fast, MIKT's update at 64 x 32 (one
seed) 1.24x, PPO's at 8 x 256 (five seeds) 1.01x; compiles were no slower.

The random bits are the same (same hash); XLA fuses the code around them differently, so float
results can differ in the last bit (a reward 2.4e-7 apart after one step), and a run is not
bit-identical to one made before this lowering (each is deterministic).

`install()` registers the unrolled lowering for every program lowered afterwards in this process
(JAX's private API `jax._src`: re-check on a jax upgrade; without it, nothing changes). The entry
points install it (mjx_mikt/patches.py: `cpu_random`); importing this module does not.
"""

from __future__ import annotations

_installed = False


def install() -> bool:
    """Use the unrolled Threefry lowering on the CPU from now on; True if it is (idempotent)."""
    global _installed
    if _installed:
        return True
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32
        rule = threefry2x32._threefry2x32_lowering_rule  # the unrolled one, used on GPU and TPU
        mlir.register_lowering(threefry2x32.threefry2x32_p, rule, platform="cpu")
    except (ImportError, AttributeError):  # another jax: keep its own lowering
        return False
    _installed = True
    return True
