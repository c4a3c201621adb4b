"""`python -m bench [--quick]`: physics-only and whole-loop throughput on this device.

Writes bench/results/<device>-<date>.json and .md. The report puts each
training-loop figure next to the physics-only figure for the same robot, backend
and batch, and states their ratio (the learning overhead): ratios travel between
machines better than absolute figures on a shared machine.

Each training row is one seed at one rollout shape (`paper-wide`, 64 x 32: the
main job's; `paper`, 8 x 256: the experiments'), the same optimisation
(2048 samples, 64-sample minibatches, 10 epochs), timed as the median of
`--repeats` single-update calls after the compile (`bench.cell.measure_cell`),
with min and max. MIKT is timed in its coupled phase, the costlier one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Dict, List

import jax
import mujoco

from bench import envs as env_bench
from bench.cell import measure_cell

RESULTS = Path(__file__).resolve().parent / "results"


def device_info() -> Dict[str, str]:
    device = jax.devices()[0]
    if device.platform == "cpu":
        model = platform.processor() or "cpu"
        try:
            text = Path("/proc/cpuinfo").read_text()
            match = re.search(r"model name\s*:\s*(.+)", text)
            model = match.group(1).strip() if match else model
        except OSError:
            pass
        name = f"{model} ({os.cpu_count()} cores)"
    else:
        name = f"{device.device_kind} x{jax.device_count()}"
    return {
        "device": name,
        "platform": device.platform,
        "jax": jax.__version__,
        "mujoco": mujoco.__version__,
        "float_precision": "float64" if jax.config.jax_enable_x64 else "float32 (physics inside native MuJoCo: float64)",
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "python": platform.python_version(),
    }


SHAPES = {"paper-wide": (64, 32), "paper": (8, 256)}  # preset -> (envs, steps per env)


def plan(quick: bool, platform_name: str) -> Dict[str, List]:
    """Physics rows (robot, backend, batch) and training rows (robot, method, preset, backend)."""
    if quick:
        return {
            "physics": [("CentipedeFour", "mujoco", b) for b in (8, 64, 256)]
            + [("CentipedeEight", "mujoco", b) for b in (8, 64, 256)],
            "training": [(robot, method, preset, "mujoco") for preset in ("paper-wide", "paper")
                         for robot, method in (("CentipedeFour", "ppo"), ("CentipedeEight", "ppo"),
                                               ("CentipedeEight", "mikt"))],
        }
    backends = ["mjx", "mujoco"] if platform_name != "cpu" else ["mujoco", "mjx"]
    robots = ["CentipedeFour", "CentipedeSix", "CentipedeEight", "Ant"]
    physics = [(r, b, n) for r in robots for b in backends for n in (64, 256, 1024, 4096)]
    training = [(r, m, p, backends[0]) for r in ("CentipedeFour", "CentipedeEight")
                for m in ("ppo", "mikt") for p in ("paper-wide", "paper")]
    return {"physics": physics, "training": training}


def markdown(report: Dict) -> str:
    info = report["device"]
    lines = [f"# Throughput on {info['device']}", "",
             f"{report['date']} · jax {info['jax']} · mujoco {info['mujoco']} · {info['float_precision']} · "
             f"matmul precision {info['matmul_precision']} · mode {report['mode']}", "",
             "Env-steps/s = control steps (5 substeps) summed over the batch.", "",
             "## Physics only", "", "| robot | backend | batch | env-steps/s | compile s |", "|---|---|---:|---:|---:|"]
    for r in report["physics"]:
        lines.append(f"| {r['robot']} | {r['backend']} | {r['batch']} | {r['env_steps_per_s']:,.0f} | "
                     f"{r['compile_s']:.1f} |")
    lines += ["", "## Whole training loop vs physics only", "",
              f"One seed; s per update is the median [min, max] of {report.get('repeats', '?')} timed updates.", "",
              "| robot | method | preset | envs x steps | loop env-steps/s | physics env-steps/s | loop / physics "
              "| s per update | compile+first s |",
              "|---|---|---|---|---:|---:|---:|---|---:|"]
    for r in report["training"]:
        lines.append(
            f"| {r['robot']} | {r['method']} | {r['preset']} | {r['shape']} | {r['env_steps_per_s']:,.0f} | "
            f"{r['physics_env_steps_per_s']:,.0f} | {r['ratio_to_physics']:.2f} | "
            f"{r['seconds_per_update_median']:.3f} [{r['seconds_per_update_min']:.3f}, "
            f"{r['seconds_per_update_max']:.3f}] | {r['compile_and_first_s']:.1f} |"
        )
    if report.get("not_measured"):
        lines += ["", f"Not measured ({report.get('stopped', 'stopped early')}): " + "; ".join(report["not_measured"])]
    return "\n".join(lines) + "\n"


QUICK_MINUTES = 5.0  # --quick starts no row after this (the row in progress finishes): its help's promise


def write_report(stem: Path, report: Dict) -> None:
    """The JSON and markdown of the rows so far (rewritten after each row: a stopped bench keeps them)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(report, indent=2)), (".md", markdown(report))):
        tmp = stem.with_name(f".{stem.name}{suffix}.tmp")
        tmp.write_text(text)
        tmp.replace(stem.with_suffix(suffix))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a CPU-sized subset that starts no row after {QUICK_MINUTES:.0f} minutes (the rows not "
                             "reached are listed in the report); each row is written as soon as it is measured")
    parser.add_argument("--minutes", type=float, default=None,
                        help=f"start no row after this many minutes (default: {QUICK_MINUTES:.0f} with --quick, "
                             "else no limit)")
    parser.add_argument("-o", "--out", type=Path, default=RESULTS, help="folder for the JSON and markdown")
    parser.add_argument("--steps", type=int, default=None, help="control steps per physics measurement")
    parser.add_argument("--repeats", type=int, default=5, help="timed single-update calls per training row (default 5)")
    args = parser.parse_args(argv)
    info = device_info()
    todo = plan(args.quick, info["platform"])
    steps = args.steps or (100 if args.quick else 300)
    minutes = args.minutes if args.minutes is not None else (QUICK_MINUTES if args.quick else None)
    deadline = time.monotonic() + 60 * minutes if minutes else None
    physics, training, not_measured = [], [], []
    date = datetime.date.today().isoformat()
    report = {"date": date, "mode": "quick" if args.quick else "full", "device": info, "repeats": args.repeats,
              "physics": physics, "training": training, "not_measured": not_measured}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", info["device"]).strip("-").lower()[:60]
    stem = args.out / f"{slug}-{date}"

    def out_of_time(what: str) -> bool:
        if deadline is not None and time.monotonic() > deadline:
            not_measured.append(what)
            report["stopped"] = f"the {minutes:g}-minute limit"
            return True
        return False

    for robot, backend, batch in todo["physics"]:
        if out_of_time(f"physics {robot} {backend} batch {batch}"):
            continue
        row = env_bench.measure(robot, backend, batch, steps)
        physics.append(row)
        write_report(stem, report)
        print(f"physics {robot} {backend} batch {batch}: {row['env_steps_per_s']:,.0f} env-steps/s", file=sys.stderr)
    for robot, method, preset, backend in todo["training"]:
        if out_of_time(f"train {robot} {method} {preset} {backend}"):
            continue
        num_envs, rollout_length = SHAPES[preset]
        row = dict(measure_cell(robot, method, num_envs, rollout_length, num_seeds=1, updates=args.repeats,
                                backend=backend), preset=preset, backend=backend)
        same = [p for p in physics if (p["robot"], p["backend"], p["batch"]) == (robot, backend, num_envs)]
        if not same:
            same = [env_bench.measure(robot, backend, num_envs, steps)]
            physics.append(same[0])
        row["physics_env_steps_per_s"] = same[0]["env_steps_per_s"]
        row["ratio_to_physics"] = row["env_steps_per_s"] / row["physics_env_steps_per_s"]
        training.append(row)
        write_report(stem, report)
        print(f"train {robot} {method} {preset}: {row['env_steps_per_s']:,.0f} env-steps/s "
              f"({row['ratio_to_physics']:.2f} of physics)", file=sys.stderr)
    write_report(stem, report)
    if not_measured:
        print(f"{report['stopped']} reached: {len(not_measured)} row(s) not measured", file=sys.stderr)
    print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
