"""`python -m bench [--quick]`: physics-only and whole-loop throughput on this device.

Writes bench/results/<device>-<date>.json and .md. The report puts each
training-loop figure next to the physics-only figure for the same robot, backend
and batch, and states their ratio (the learning overhead): ratios travel between
machines better than absolute figures on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Dict, List

import jax
import mujoco

from bench import envs as env_bench
from bench.training import measure_training

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


def plan(quick: bool, platform_name: str) -> Dict[str, List]:
    if quick:
        return {
            "physics": [("CentipedeFour", "mujoco", b) for b in (8, 64, 256)]
            + [("CentipedeEight", "mujoco", b) for b in (8, 256)],
            "training": [
                ("CentipedeFour", "ppo", "paper", "mujoco", None),
                ("CentipedeFour", "mikt", "paper", "mujoco", None),
                ("CentipedeEight", "ppo", "paper", "mujoco", None),
                ("CentipedeEight", "mikt", "paper", "mujoco", None),
                # the gpu preset's shape at a CPU-sized batch
                ("CentipedeFour", "ppo", "gpu", "mujoco", 256),
                ("CentipedeFour", "mikt", "gpu", "mujoco", 256),
            ],
        }
    backends = ["mjx", "mujoco"] if platform_name != "cpu" else ["mujoco", "mjx"]
    robots = ["CentipedeFour", "CentipedeSix", "CentipedeEight", "Ant"]
    physics = [(r, b, n) for r in robots for b in backends for n in (64, 256, 1024, 4096)]
    training = [(r, m, p, backends[0], None) for r in ("CentipedeFour", "CentipedeEight")
                for m in ("ppo", "mikt") for p in ("paper", "gpu")]
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
              "| robot | method | preset | envs | loop env-steps/s | physics env-steps/s | loop / physics | s per update | compile s |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["training"]:
        ratio = r.get("ratio_to_physics")
        lines.append(
            f"| {r['robot']} | {r['method']} | {r['preset']} | {r['num_envs']} | {r['env_steps_per_s']:,.0f} | "
            f"{r['physics_env_steps_per_s']:,.0f} | {ratio:.2f} | {r['seconds_per_update']:.2f} | {r['compile_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a CPU-sized subset (under 5 minutes on 2 cores)")
    parser.add_argument("-o", "--out", type=Path, default=RESULTS, help="folder for the JSON and markdown")
    parser.add_argument("--steps", type=int, default=None, help="control steps per physics measurement")
    args = parser.parse_args(argv)
    info = device_info()
    todo = plan(args.quick, info["platform"])
    steps = args.steps or (100 if args.quick else 300)
    physics = []
    for robot, backend, batch in todo["physics"]:
        row = env_bench.measure(robot, backend, batch, steps)
        physics.append(row)
        print(f"physics {robot} {backend} batch {batch}: {row['env_steps_per_s']:,.0f} env-steps/s", file=sys.stderr)
    training = []
    for robot, method, preset, backend, num_envs in todo["training"]:
        row = measure_training(robot, method, preset, backend, num_envs=num_envs, updates=1 if args.quick else 3)
        same = [p for p in physics if (p["robot"], p["backend"], p["batch"]) == (robot, backend, row["num_envs"])]
        if not same:
            same = [env_bench.measure(robot, backend, row["num_envs"], steps)]
            physics.append(same[0])
        row["physics_env_steps_per_s"] = same[0]["env_steps_per_s"]
        row["ratio_to_physics"] = row["env_steps_per_s"] / row["physics_env_steps_per_s"]
        training.append(row)
        print(f"train {robot} {method} {preset}: {row['env_steps_per_s']:,.0f} env-steps/s "
              f"({row['ratio_to_physics']:.2f} of physics)", file=sys.stderr)
    date = datetime.date.today().isoformat()
    report = {"date": date, "mode": "quick" if args.quick else "full", "device": info,
              "physics": physics, "training": training}
    args.out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", info["device"]).strip("-").lower()[:60]
    stem = args.out / f"{slug}-{date}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    stem.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
