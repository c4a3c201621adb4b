"""Physics-only throughput: env-steps/s of `jit(scan(vmap(env.step)))` with random actions.

    python -m bench.envs [--robots ...] [--backends mujoco mjx mjx-warp] [--batches 64 256 1024] [--steps N]

Env-steps/s counts control steps (5 substeps for the centipedes and Ant) summed over the batch.
`--native` adds the reference: native MuJoCo's `mujoco.batch.Batch` stepped from a Python loop,
outside JAX, and each backend's ratio to it ("of native": for the jitted native step, the share of
the physics speed the JAX glue leaves). That floor steps other states than the env does (no
resets, no reset noise), and contact-rich states cost more, so the jitted native step also reports
"in MuJoCo": the share of its own wall time spent inside MuJoCo's step, the glue ratio on the
same physics workload (issue 30: >= 0.90). MJX and MuJoCo-Warp run with the solver / line-search
iterations a training run uses (`RunConfig`'s defaults) unless overridden.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict

import jax
import numpy as np

from mjx_mikt import envs
from mjx_mikt.envs.base import batched
from mjx_mikt.config import RunConfig


def measure(robot: str, backend: str, batch: int, steps: int = 100, repeats: int = 1, **physics_options) -> Dict:
    """Compile time and env-steps/s of `steps` control steps of `batch` envs: the best of `repeats`
    timed calls (other work on a shared machine only ever slows a call down)."""
    env = envs.make(robot, backend=backend, **physics_options)
    reset = jax.jit(jax.vmap(env.reset))

    @jax.jit
    def rollout(state, key):
        def body(s, k):
            action = jax.random.uniform(k, (batch, env.action_size), minval=-1.0, maxval=1.0)
            s = batched(env.step)(s, action)  # named, as the trainer maps its envs
            return s, s.reward

        return jax.lax.scan(body, state, jax.random.split(key, steps))

    state = reset(jax.random.split(jax.random.PRNGKey(0), batch))
    t0 = time.perf_counter()
    compiled = rollout.lower(state, jax.random.PRNGKey(1)).compile()
    compile_s = time.perf_counter() - t0
    state, rewards = compiled(state, jax.random.PRNGKey(1))  # warm-up (first contacts, thread start)
    jax.block_until_ready(rewards)
    rates, shares = [], []
    for repeat in range(repeats):
        in_mujoco = getattr(env.physics, "mujoco_seconds", None)
        t0 = time.perf_counter()
        state, rewards = compiled(state, jax.random.PRNGKey(2 + repeat))
        jax.block_until_ready(rewards)
        wall = time.perf_counter() - t0
        rates.append(steps * batch / wall)
        if in_mujoco is not None:
            shares.append((env.physics.mujoco_seconds - in_mujoco) / wall)
    row = {"robot": robot, "backend": backend, "batch": batch, "steps": steps,
           "env_steps_per_s": max(rates), "timed_env_steps_per_s": rates, "compile_s": compile_s,
           "options": {k: v for k, v in physics_options.items()}}
    if shares:  # the native backend: the share of the same run's wall time spent inside MuJoCo
        row["in_mujoco"] = shares[rates.index(max(rates))]
        row["timed_in_mujoco"] = shares
    return row


def measure_native(robot: str, batch: int, steps: int = 100, repeats: int = 1) -> Dict:
    """Reference: mujoco.batch.Batch from Python, no JAX (random controls, no resets); the best of
    `repeats` timed runs of `steps` control steps."""
    from mujoco import batch as mj_batch

    env = envs.make(robot, backend="mujoco")
    model = env.physics.model
    sims = mj_batch.Batch(model, batch, nthread=os.cpu_count() or 1)
    qpos, ctrl = sims.bind("qpos"), sims.bind("ctrl")
    qpos[:] = model.qpos0
    sims.forward()
    rng = np.random.default_rng(0)
    for _ in range(10):
        ctrl[:] = rng.uniform(-1, 1, ctrl.shape)
        sims.step(nstep=env.n_substeps)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            ctrl[:] = rng.uniform(-1, 1, ctrl.shape)
            sims.step(nstep=env.n_substeps)
        rates.append(steps * batch / (time.perf_counter() - t0))
    return {"robot": robot, "backend": "native-outside-jax", "batch": batch, "steps": steps,
            "env_steps_per_s": max(rates), "timed_env_steps_per_s": rates, "compile_s": 0.0, "options": {}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.envs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", default=["CentipedeFour", "CentipedeEight"])
    parser.add_argument("--backends", nargs="+", default=["mujoco"], choices=["mujoco", "mjx", "mjx-warp"])
    parser.add_argument("--batches", nargs="+", type=int, default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--native", action="store_true", help="also measure native MuJoCo outside JAX")
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed runs per row, the best reported (default 1; 3 on a shared machine)")
    parser.add_argument("--solver-iterations", type=int, default=RunConfig.mjx_solver_iterations,
                        help="mjx, mjx-warp: opt.iterations (default: a training run's; 0: the model's)")
    parser.add_argument("--ls-iterations", type=int, default=RunConfig.mjx_ls_iterations,
                        help="mjx, mjx-warp: opt.ls_iterations (default: a training run's; 0: the model's)")
    parser.add_argument("-o", "--out", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for robot in args.robots:
        for batch in args.batches:
            if args.native:
                rows.append(measure_native(robot, batch, args.steps, args.repeats))
            for backend in args.backends:
                options = {}
                if backend in ("mjx", "mjx-warp"):
                    options = {"solver_iterations": args.solver_iterations or None,
                               "ls_iterations": args.ls_iterations or None}
                if backend == "mjx-warp":
                    options["max_worlds"] = batch  # contact capacity for one call of the whole batch
                rows.append(measure(robot, backend, batch, args.steps, args.repeats, **options))
            group = rows[-(len(args.backends) + args.native):]
            native = group[0]["env_steps_per_s"] if args.native else None
            for row in group:
                if native and row["backend"] != "native-outside-jax":
                    row["of_native"] = row["env_steps_per_s"] / native  # the glue ratio (issue 30: >= 0.90)
                ratio = f"  {row['of_native']:.2f} of native" if "of_native" in row else ""
                if "in_mujoco" in row:
                    ratio += f"  {row['in_mujoco']:.2f} in MuJoCo"
                print(f"{row['robot']:>16} {row['backend']:>18} batch {row['batch']:>5}: "
                      f"{row['env_steps_per_s']:>9,.0f} env-steps/s  compile {row['compile_s']:.1f} s{ratio}",
                      flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
