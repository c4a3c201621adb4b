"""Throughput of one experiment cell: all its seeds vmapped in one program, as `experiments run` runs it.

`python -m bench.cell [--robot CentipedeEight] [--method mikt] [--shapes 8x256,64x32] [--seeds 1,5]`
times `--updates` single-update calls after the compile and prints the median
and spread of env-steps/s (summed over seeds) and per seed, per rollout shape.
With `--shapes` the optimisation is the paper's for every shape (2048 samples, 64-sample
minibatches, 10 epochs); only how many envs produce the 2048 samples changes.
`--presets paper-wide,wide-256x16` instead measures each preset as it is (its shape and its
optimisation): the loop throughput the scale study's time-to-return divides by.
MIKT gets randomly initialised teachers (one per seed): throughput does not
depend on their weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from typing import Dict, List

import jax

from bench.training import TEACHER_ROBOT, random_teacher
from mjx_mikt import run_folder, teachers as teachers_lib
from mjx_mikt.config import PRESETS, Config, RunConfig, preset_mikt
from mjx_mikt.envs.base import SEED_AXIS, batched
from mjx_mikt.compiles import compiler_options


def cell_arguments(parser: argparse.ArgumentParser, *, shape: str, seeds: int, repeats: int, repeats_help: str,
                   methods: str) -> None:
    """The options of the tools that study one cell's update (`bench.profile`, `bench.ops`)."""
    parser.add_argument("--robot", default="CentipedeEight", help="student robot (default CentipedeEight)")
    parser.add_argument("--shape", default=shape, type=parse_shape,
                        help=f"ENVSxSTEPS giving 2048 samples (default {shape})")
    parser.add_argument("--seeds", type=int, default=seeds, help=f"seeds vmapped in one program (default {seeds})")
    parser.add_argument("--repeats", type=int, default=repeats, help=f"{repeats_help} (default {repeats})")
    parser.add_argument("--methods", default=methods, help=f"methods, comma separated (default {methods})")


def parse_shape(text: str):
    """'64x32' -> (64, 32): envs x steps per rollout."""
    try:
        envs_, steps = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {text!r} is not ENVSxSTEPS, e.g. 64x32") from None
    return envs_, steps


def build_cell(robot: str, method: str, num_envs: int, rollout_length: int, num_seeds: int,
               backend: str = "mujoco", preset: str = "paper"):
    """(env, trainer, state) of one cell: `preset`'s optimisation (default the paper's) from
    num_envs x rollout_length, num_seeds seeds initialised in one vmapped program, random teachers
    (one per seed) for MIKT."""
    ppo = dataclasses.replace(PRESETS[preset], num_envs=num_envs, rollout_length=rollout_length)
    source = (TEACHER_ROBOT,) if method != "ppo" else ()
    run = RunConfig(target=robot, method=method, source=source, backend=backend, num_seeds=num_seeds,
                    teacher_seeds=num_seeds, total_timesteps=100 * ppo.batch_size)
    config = Config(run=run, ppo=ppo, mikt=preset_mikt(preset))
    teacher_set = teachers_lib.TeacherSet(((tuple(random_teacher(config, seed=s) for s in range(num_seeds)),)
                                           if source else ()))
    trainer = run_folder.build_trainer(config, teacher_set.firsts)  # as the CLI builds it
    stacked = teacher_set.stacked(trainer.agent, config)
    state = trainer.seed_batched_init()(run_folder.seed_keys(config), stacked)
    return trainer.env, trainer, state


def measure_cell(robot: str, method: str, num_envs: int, rollout_length: int, num_seeds: int,
                 updates: int = 5, backend: str = "mujoco", preset: str = "paper") -> Dict[str, float]:
    """Median, min and max seconds of `updates` single-update calls after the compile (the coupled phase)."""
    _, trainer, state = build_cell(robot, method, num_envs, rollout_length, num_seeds, backend, preset)
    ppo = trainer.ppo
    step = jax.jit(batched(lambda s: trainer.run(s, 1, trainer.agent.uses_teacher), SEED_AXIS),
                   compiler_options=compiler_options(num_seeds))
    t0 = time.perf_counter()
    state, metrics = step(state)
    jax.block_until_ready(metrics)
    first = time.perf_counter() - t0
    times: List[float] = []
    for _ in range(updates):
        t0 = time.perf_counter()
        state, metrics = step(state)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    samples = ppo.batch_size * num_seeds
    return {
        "robot": robot, "method": method, "preset": preset, "shape": f"{num_envs}x{rollout_length}",
        "seeds": num_seeds, "samples_per_update": ppo.batch_size,
        "updates_timed": updates, "seconds_per_update_median": median,
        "seconds_per_update_min": min(times), "seconds_per_update_max": max(times),
        "env_steps_per_s": samples / median, "env_steps_per_s_per_seed": ppo.batch_size / median,
        "compile_and_first_s": first,
    }


def table(rows: List[Dict]) -> str:
    """Markdown table of measure_cell rows (as appended to --json)."""
    lines = ["| robot | method | preset | envs x steps | seeds | env-steps/s (all seeds) | per seed | s/update median "
             "[min, max] | compile+first s | est. 2M-step cell |", "|---|---|---|---|---|---:|---:|---|---:|---:|"]
    for r in rows:
        updates_at_2m = 2_000_000 // r.get("samples_per_update", 2048)
        cell_minutes = updates_at_2m * r["seconds_per_update_median"] / 60
        lines.append(f"| {r['robot']} | {r['method']} | {r.get('preset', 'paper')} | {r['shape']} | {r['seeds']} | {r['env_steps_per_s']:,.0f} | "
                     f"{r['env_steps_per_s_per_seed']:,.0f} | {r['seconds_per_update_median']:.2f} "
                     f"[{r['seconds_per_update_min']:.2f}, {r['seconds_per_update_max']:.2f}] | "
                     f"{r['compile_and_first_s']:.0f} | {cell_minutes:.0f} min |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cell", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="CentipedeEight", help="student robot (default CentipedeEight)")
    parser.add_argument("--method", default="mikt", help="mikt, ppo, mlpp, ... (default mikt)")
    parser.add_argument("--shapes", default="8x256,32x64,64x32",
                        help="rollout shapes ENVSxSTEPS, comma separated; each must give 2048 samples")
    parser.add_argument("--presets", default="",
                        help="presets, comma separated, each measured at its own shape and optimisation "
                             f"(instead of --shapes; {', '.join(PRESETS)})")
    parser.add_argument("--methods", default="",
                        help="methods, comma separated (instead of --method), each measured per shape or preset")
    parser.add_argument("--seeds", default="5", help="seeds per program, comma separated (default 5)")
    parser.add_argument("--updates", type=int, default=5, help="timed updates after the compile (default 5)")
    parser.add_argument("--json", default="", help="append each row as a JSON line to this file")
    args = parser.parse_args(argv)
    for name in filter(None, args.presets.split(",")):
        if name not in PRESETS:
            parser.error(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    if args.presets:
        runs = [(p, PRESETS[p].num_envs, PRESETS[p].rollout_length) for p in args.presets.split(",")]
    else:
        runs = [("paper",) + parse_shape(shape) for shape in args.shapes.split(",")]
    methods = args.methods.split(",") if args.methods else [args.method]
    for preset, n, t in runs:
        for method in methods:
            for seeds in (int(s) for s in args.seeds.split(",")):
                row = measure_cell(args.robot, method, n, t, seeds, args.updates, preset=preset)
                print(f"{row['robot']:>15} {row['method']:>5} {preset:>12} {row['shape']:>7} seeds {seeds} | "
                      f"{row['env_steps_per_s']:8,.0f} env-steps/s ({row['env_steps_per_s_per_seed']:7,.0f}/seed) | "
                      f"s/update median {row['seconds_per_update_median']:.3f} "
                      f"[{row['seconds_per_update_min']:.3f}, {row['seconds_per_update_max']:.3f}] | "
                      f"compile+first {row['compile_and_first_s']:.0f} s", flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
