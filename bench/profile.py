"""Where an update's time goes: `python -m bench.profile [--robot CentipedeEight] [--shape 8x256] [--seeds 5]`.

For one cell shape (all seeds vmapped, as `experiments run` trains them) each
row times one part of an update, the median of `--repeats` calls after the
compile, with min and max:

- physics: `rollout_length` control steps of the env batch with zero actions
  (the native backend's host-callback crossings included);
- rollout: the trainer's rollout (physics + normalisation + policy forward for
  the action and for V(final obs));
- learn (per method): GAE, then epochs x minibatches of the method's loss
  forward/backward and Adam, on one fixed trajectory.

The learn rows of ppo, mlpp, mikt-no-mi, mikt-no-kl and mikt differ only in
the loss terms they compute, so their differences are the cost of those
terms. MIKT is timed in its teacher phase (the expensive program), with
random teachers (the time does not depend on their weights).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable, Dict, List

import jax
import jax.numpy as jnp

from bench.cell import build_cell, cell_arguments
from mjx_mikt.envs.base import SEED_AXIS, batched
from mjx_mikt.compiles import compiler_options

LEARN_METHODS = ("ppo", "mlpp", "mikt-no-mi", "mikt-no-kl", "mikt")


def _time(fn: Callable, arg, repeats: int) -> Dict[str, float]:
    """Compile-and-first seconds, then the median/min/max of `repeats` calls of fn(arg)."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(arg))
    first = time.perf_counter() - t0
    times: List[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "first_s": first}


def profile(robot: str, num_envs: int, rollout_length: int, num_seeds: int, repeats: int = 5,
            methods=LEARN_METHODS) -> List[Dict]:
    """The rows described in the module docstring (seconds per update, all seeds together)."""
    rows = []
    shape = {"robot": robot, "shape": f"{num_envs}x{rollout_length}", "seeds": num_seeds, "repeats": repeats}
    env, trainer, state = build_cell(robot, "ppo", num_envs, rollout_length, num_seeds)

    def physics(env_state):
        def step(s, _):
            return batched(env.step)(s, jnp.zeros((num_envs, env.action_size))), None
        return jax.lax.scan(step, env_state, None, length=rollout_length)[0].obs

    rows.append(dict(shape, part="physics", **_time(jax.jit(batched(physics, SEED_AXIS)), state.env_state, repeats)))
    for method in methods:
        _, trainer, state = build_cell(robot, method, num_envs, rollout_length, num_seeds)
        use_teacher = trainer.agent.uses_teacher
        options = compiler_options(num_seeds)  # as the training loop compiles them
        rollout = jax.jit(jax.vmap(lambda ts: trainer._rollout(ts, use_teacher)), compiler_options=options)
        if method in ("ppo", "mikt"):  # the rollouts of the other methods cost what one of these does
            rows.append(dict(shape, part="rollout", method=method, **_time(rollout, state, repeats)))
        state, traj = rollout(state)
        learn = jax.jit(jax.vmap(lambda pair: trainer.learn(pair[0], pair[1], use_teacher)), compiler_options=options)
        rows.append(dict(shape, part="learn", method=method, **_time(learn, (state, traj), repeats)))
    return rows


def markdown(rows: List[Dict]) -> str:
    head = rows[0]
    lines = [f"{head['robot']}, {head['shape']} envs x steps, {head['seeds']} seeds vmapped; seconds per update "
             f"(all seeds), median of {head['repeats']} [min, max]", "",
             "| part | method | median s | min s | max s |", "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['part']} | {r.get('method', '-')} | {r['median_s']:.3f} | {r['min_s']:.3f} | "
                     f"{r['max_s']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    cell_arguments(parser, shape="8x256", seeds=5, repeats=5, repeats_help="timed calls after the compile",
                   methods=",".join(LEARN_METHODS))
    parser.add_argument("--json", default="", help="append the rows as JSON lines to this file")
    args = parser.parse_args(argv)
    n, t = args.shape
    rows = profile(args.robot, n, t, args.seeds, args.repeats, tuple(args.methods.split(",")))
    print(markdown(rows), end="", flush=True)
    if args.json:
        with open(args.json, "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
