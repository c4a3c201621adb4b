"""`python -m bench.gym_speed`: the Gymnasium envs' speed beside their yardsticks, in one sitting.

    python -m bench.gym_speed [--robot CentipedeFour] [--batches 64 256] [--steps 200] [--single-steps 5000]
                              [--repeats 3] [--only vector|single] [-o bench/results/gym-speed.json]

- vector: env-steps/s of `gymnasium.make_vec("mjx_mikt/<robot>-v0", num_envs=B)` (mjx_mikt.gym_vector)
  stepped with uniform random actions for --steps steps, beside `bench.envs.measure_native` (what
  `python -m bench.envs --native` prints: the same robot's `mujoco.batch.Batch` of B stepped from a
  Python loop, no task, no resets), and the ratio. The vector env runs in SAME_STEP autoreset mode
  (--autoreset), so every env-step counted is a physics step and resets are extra work.
- single: µs per step of `gymnasium.make("mjx_mikt/<robot>-v0")` with uniform random actions,
  resets included (random actions end a centipede's episode every ~20 steps), beside the plain
  MuJoCo-Python implementation of the same task (bench/plain_env.py: how it is built), made with
  the same `gymnasium.make` wrappers; and the ratio (the issue asks for <= 1.10).

The two sides alternate in each of --repeats rounds and each reports its best round (other work
on a shared machine only ever slows a round down). The load average at the start is printed:
time on a quiet machine. Random actions are drawn beforehand, the same for both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np


def _actions(space, shape, seed: int = 0) -> np.ndarray:
    low, high = space.low.reshape(-1)[: shape[-1]], space.high.reshape(-1)[: shape[-1]]
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def time_vector(robot: str, batch: int, steps: int, autoreset: str = "same_step") -> float:
    """Env-steps/s of the batched vector env, one timed run of `steps` steps after 10 warm-up steps."""
    import gymnasium
    from gymnasium.vector import AutoresetMode

    from mjx_mikt import gym_envs

    mode = AutoresetMode.SAME_STEP if autoreset == "same_step" else AutoresetMode.NEXT_STEP
    env = gymnasium.make_vec(gym_envs.env_id(robot), num_envs=batch, autoreset_mode=mode)
    env.reset(seed=0)
    actions = _actions(env.single_action_space, (steps + 10, batch, env.single_action_space.shape[0]))
    for a in actions[:10]:  # warm-up: the reset sampler's compile, MuJoCo's threads
        env.step(a)
    t0 = time.perf_counter()
    for a in actions[10:]:
        env.step(a)
    rate = steps * batch / (time.perf_counter() - t0)
    env.close()
    return rate


def time_single(gym_id: str, steps: int) -> Dict:
    """µs per step (resets included) of `gymnasium.make(gym_id)` over `steps` random-action steps."""
    import gymnasium

    env = gymnasium.make(gym_id)
    env.reset(seed=0)
    actions = _actions(env.action_space, (steps + 50, env.action_space.shape[0]))
    episodes = 0
    for i, a in enumerate(actions):
        if i == 50:  # warm-up done (the reset sampler's compile): time from here
            t0, episodes = time.perf_counter(), 0
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
            episodes += 1
    elapsed = time.perf_counter() - t0
    env.close()
    return {"us_per_step": 1e6 * elapsed / steps, "episodes": episodes}


def bench_vector(robot: str, batches: List[int], steps: int, repeats: int, autoreset: str) -> List[Dict]:
    from bench.envs import measure_native

    rows = []
    for batch in batches:
        native, ours = [], []
        for _ in range(repeats):
            native.append(measure_native(robot, batch, steps)["env_steps_per_s"])
            ours.append(time_vector(robot, batch, steps, autoreset))
        row = {"robot": robot, "batch": batch, "steps": steps, "autoreset": autoreset,
               "vector_env_steps_per_s": max(ours), "native_env_steps_per_s": max(native),
               "of_native": max(ours) / max(native), "timed_vector": ours, "timed_native": native}
        print(f"{robot} batch {batch:>4}: vector env {row['vector_env_steps_per_s']:>9,.0f} env-steps/s, "
              f"bench.envs --native {row['native_env_steps_per_s']:>9,.0f}: {row['of_native']:.2f} of native",
              flush=True)
        rows.append(row)
    return rows


def bench_single(robot: str, steps: int, repeats: int) -> Dict:
    from bench.plain_env import register_plain
    from mjx_mikt import gym_envs

    ours_id, plain = gym_envs.env_id(robot), register_plain(robot)
    ours, theirs = [], []
    for _ in range(repeats):
        theirs.append(time_single(plain, steps))
        ours.append(time_single(ours_id, steps))
    best = lambda runs: min(runs, key=lambda r: r["us_per_step"])
    row = {"robot": robot, "steps": steps, "single_us_per_step": best(ours)["us_per_step"],
           "plain_us_per_step": best(theirs)["us_per_step"], "single_episodes": best(ours)["episodes"],
           "plain_episodes": best(theirs)["episodes"], "timed_single": ours, "timed_plain": theirs}
    row["ratio"] = row["single_us_per_step"] / row["plain_us_per_step"]
    print(f"{robot} single env: {row['single_us_per_step']:.1f} us/step ({row['single_episodes']} episodes), "
          f"plain MuJoCo-Python {row['plain_us_per_step']:.1f} us/step ({row['plain_episodes']} episodes): "
          f"{row['ratio']:.3f}x", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gym_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="CentipedeFour", help="a centipede (the plain env knows their task)")
    parser.add_argument("--batches", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--steps", type=int, default=200, help="vector env: timed steps per run")
    parser.add_argument("--single-steps", type=int, default=5000, help="single env: timed steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; the best of each side")
    parser.add_argument("--autoreset", choices=("same_step", "next_step"), default="same_step")
    parser.add_argument("--only", choices=("vector", "single"), default=None)
    parser.add_argument("-o", "--out", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    from bench.machine import device_info

    load = os.getloadavg()[0]
    print(f"{device_info()['device']}, {os.cpu_count()} CPUs, load average {load:.1f} at the start", flush=True)
    report: Dict = {"robot": args.robot, "load_average_at_start": load, "device": device_info()["device"]}
    if args.only in (None, "vector"):
        report["vector"] = bench_vector(args.robot, args.batches, args.steps, args.repeats, args.autoreset)
    if args.only in (None, "single"):
        report["single"] = bench_single(args.robot, args.single_steps, args.repeats)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
