"""`python -m bench [--quick]`: the bench report of this device, every section from one sitting.

Writes bench/results/<device>-<date>.json and .md (markdown in bench/report.py):
- physics: the jitted env step per robot, backend and batch; for native MuJoCo also the floor
  (MuJoCo's Batch outside JAX) and the step's share of it (the glue ratio);
- training: each training-loop figure next to the physics-only figure for the same robot,
  backend and batch, and their ratio (the learning overhead);
- learning: where an update's time goes (bench.profile), MIKT's learning phase against PPO's;
- peers: PPO against Stable-Baselines3 (bench.peers; needs `pip install .[peers]`).
Ratios travel between machines better than absolute figures on a shared machine.

Each training row is one seed of one preset as it trains (`bench.cell.measure_cell`): `paper`
(8 x 256) and `paper-wide` (64 x 32), the paper's optimisation (2048 samples, 64-sample minibatches,
10 epochs); `wide-256x16`, the main job's (4096 samples, 8 minibatches x 4 epochs). Each is timed as
the median of `--repeats` single-update calls after the compile, with min and max. MIKT is timed in
its coupled phase, the costlier one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Dict, List

from bench import envs as env_bench
from bench.cell import measure_cell
from bench.machine import RESULTS, device_info
from bench.profile import profile
from bench.report import markdown

SHAPES = {"paper-wide": (64, 32), "paper": (8, 256), "wide-256x16": (256, 16)}  # preset -> (envs, steps per env)
MAIN_JOB = (("CentipedeFour", "ppo"), ("CentipedeEight", "mikt"))  # scripts/run.sh: teacher, then student
PEER_ROBOT = "CentipedeFour"
PHYSICS_REPEATS = 3  # timed runs per physics measurement, the best kept


def plan(quick: bool, platform_name: str) -> Dict[str, List]:
    """The rows of each section:

    physics (robot, backend, batch): the jitted env step; a `mujoco` row also measures native MuJoCo
      outside JAX at the same batch (the floor) and gets its ratio to it;
    training (robot, method, preset, backend): one seed's whole loop at a preset's shape;
    learning (robot, envs, steps, seeds): bench.profile's parts for ppo and mikt;
    peers (robot, envs): bench.peers' PPO against Stable-Baselines3 (CPU only).
    """
    learning = [("CentipedeEight", n, t, seeds) for n, t in (SHAPES["paper-wide"], SHAPES["paper"]) for seeds in (1, 5)]
    if quick:
        return {
            "physics": [(robot, "mujoco", b) for robot in ("CentipedeFour", "CentipedeEight") for b in (8, 40, 64, 256)],
            "training": [(robot, method, preset, "mujoco") for preset in ("paper-wide", "paper")
                         for robot, method in (("CentipedeFour", "ppo"), ("CentipedeEight", "ppo"),
                                               ("CentipedeEight", "mikt"))]
                        + [(robot, method, "wide-256x16", "mujoco") for robot, method in MAIN_JOB],
            "learning": learning,
            "peers": [(PEER_ROBOT, 1), (PEER_ROBOT, 8)] if platform_name == "cpu" else [],
        }
    backends = ["mjx", "mujoco"] if platform_name != "cpu" else ["mujoco", "mjx"]
    robots = ["CentipedeFour", "CentipedeSix", "CentipedeEight", "Ant"]
    physics = [(r, b, n) for r in robots for b in backends for n in (64, 256, 1024, 4096)]
    training = [(r, m, p, backends[0]) for r in ("CentipedeFour", "CentipedeEight")
                for m in ("ppo", "mikt") for p in ("paper-wide", "paper", "wide-256x16")]
    return {"physics": physics, "training": training, "learning": learning if platform_name == "cpu" else [],
            "peers": [(PEER_ROBOT, 1), (PEER_ROBOT, 8)] if platform_name == "cpu" else []}


QUICK_MINUTES = 15.0  # --quick starts no row after this (the row in progress finishes): its help's promise


def write_report(stem: Path, report: Dict) -> None:
    """The JSON and markdown of the rows so far (rewritten after each row: a stopped bench keeps them)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(report, indent=2)), (".md", markdown(report))):
        tmp = stem.with_name(f".{stem.name}{suffix}.tmp")
        tmp.write_text(text)
        tmp.replace(stem.with_suffix(suffix))


def measure_physics(robot: str, backend: str, batch: int, steps: int) -> List[Dict]:
    """The jitted env step's row; for the native backend the floor's row first and the ratio to it.

    Each side is the best of PHYSICS_REPEATS timed runs (a shared machine's other work only slows
    a run down; single runs of the floor varied by a third within minutes on 2026-12-04), and the
    floor is timed both before and after the jitted step, so a drift of the machine's speed
    during the row reaches both sides of the ratio.
    """
    if backend != "mujoco":
        return [env_bench.measure(robot, backend, batch, steps, PHYSICS_REPEATS)]
    before = env_bench.measure_native(robot, batch, steps, PHYSICS_REPEATS)
    row = env_bench.measure(robot, backend, batch, steps, PHYSICS_REPEATS)
    after = env_bench.measure_native(robot, batch, steps, PHYSICS_REPEATS)
    native = dict(before, env_steps_per_s=max(before["env_steps_per_s"], after["env_steps_per_s"]),
                  timed_env_steps_per_s=before["timed_env_steps_per_s"] + after["timed_env_steps_per_s"])
    row["of_native"] = row["env_steps_per_s"] / native["env_steps_per_s"]
    return [native, row]


def measure_training_row(robot: str, method: str, preset: str, backend: str, repeats: int,
                         physics: List[Dict], steps: int) -> Dict:
    num_envs, rollout_length = SHAPES[preset]
    row = dict(measure_cell(robot, method, num_envs, rollout_length, num_seeds=1, updates=repeats, backend=backend,
                            preset=preset), preset=preset, backend=backend)
    same = lambda b: [p for p in physics if (p["robot"], p["backend"], p["batch"]) == (robot, b, num_envs)]
    if not same(backend):
        physics.extend(measure_physics(robot, backend, num_envs, steps))
    row["physics_env_steps_per_s"] = same(backend)[0]["env_steps_per_s"]
    row["ratio_to_physics"] = row["env_steps_per_s"] / row["physics_env_steps_per_s"]
    if same("native-outside-jax"):
        row["ratio_to_native"] = row["env_steps_per_s"] / same("native-outside-jax")[0]["env_steps_per_s"]
    return row


def measure_peers(robot: str, num_envs: int) -> Dict:
    """One bench.peers row (raises ImportError without stable-baselines3 and torch)."""
    import stable_baselines3  # noqa: F401
    import torch  # noqa: F401

    from bench import peers

    steps = 10 * peers.PAPER_BATCH
    sb3 = peers.measure_sb3(robot, num_envs, steps)
    ours = peers.measure_project(robot, num_envs, steps)
    return {"robot": robot, "num_envs": num_envs, "rollout_length": peers.PAPER_BATCH // num_envs, "sb3": sb3,
            "mjx_mikt": ours, "ratio": ours["env_steps_per_s"] / sb3["env_steps_per_s"]}


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
    parser.add_argument("--steps", type=int, default=None,
                        help="control steps per physics measurement (default 300, 500 with --quick)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per training and learning row (default 5)")
    parser.add_argument("--sections", default="physics,training,learning,peers",
                        help="sections to measure, comma separated (default all: physics,training,learning,peers)")
    args = parser.parse_args(argv)
    info = device_info()
    sections = set(filter(None, args.sections.split(",")))
    todo = {k: (v if k in sections else []) for k, v in plan(args.quick, info["platform"]).items()}
    steps = args.steps or (500 if args.quick else 300)
    minutes = args.minutes if args.minutes is not None else (QUICK_MINUTES if args.quick else None)
    deadline = time.monotonic() + 60 * minutes if minutes else None
    physics, training, learning, peer_rows, not_measured = [], [], [], [], []
    date = datetime.date.today().isoformat()
    report = {"date": date, "mode": "quick" if args.quick else "full", "device": info, "repeats": args.repeats,
              "load_average_at_start": os.getloadavg()[0], "physics": physics, "training": training,
              "learning": learning, "peers": peer_rows, "not_measured": not_measured}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", info["device"]).strip("-").lower()[:60]
    stem = args.out / f"{slug}-{date}"

    def out_of_time(what: str) -> bool:
        if deadline is not None and time.monotonic() > deadline:
            not_measured.append(what)
            report["stopped"] = f"the {minutes:g}-minute limit"
            return True
        return False

    def done(message: str) -> None:
        write_report(stem, report)
        print(message, file=sys.stderr, flush=True)

    for robot, backend, batch in todo["physics"]:
        if not out_of_time(f"physics {robot} {backend} batch {batch}"):
            physics.extend(measure_physics(robot, backend, batch, steps))
            done(f"physics {robot} {backend} batch {batch}: {physics[-1]['env_steps_per_s']:,.0f} env-steps/s")
    for robot, method, preset, backend in todo["training"]:
        if not out_of_time(f"train {robot} {method} {preset} {backend}"):
            training.append(measure_training_row(robot, method, preset, backend, args.repeats, physics, steps))
            done(f"train {robot} {method} {preset}: {training[-1]['env_steps_per_s']:,.0f} env-steps/s "
                 f"({training[-1]['ratio_to_physics']:.2f} of physics)")
    for robot, num_envs, rollout_length, seeds in todo["learning"]:
        if not out_of_time(f"learning {robot} {num_envs}x{rollout_length} seeds {seeds}"):
            learning.extend(profile(robot, num_envs, rollout_length, seeds, args.repeats, ("ppo", "mikt")))
            done(f"learning {robot} {num_envs}x{rollout_length} seeds {seeds}: mikt learn "
                 f"{learning[-1]['median_s']:.3f} s per update")
    for robot, num_envs in todo["peers"]:
        if out_of_time(f"peers {robot} {num_envs} envs"):
            continue
        try:
            peer_rows.append(measure_peers(robot, num_envs))
        except ImportError:
            not_measured.append(f"peers {robot} {num_envs} envs (stable-baselines3 not installed: pip install .[peers])")
            continue
        report.setdefault("peer_versions", _peer_versions())
        done(f"peers {robot} {num_envs} envs: mjx_mikt / SB3 = {peer_rows[-1]['ratio']:.2f}")
    write_report(stem, report)
    if report.get("stopped"):
        print(f"{report['stopped']} reached: {len(not_measured)} row(s) not measured", file=sys.stderr)
    print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
    return 0


def _peer_versions() -> Dict[str, str]:
    from bench import peers

    return peers.versions()


if __name__ == "__main__":
    sys.exit(main())
