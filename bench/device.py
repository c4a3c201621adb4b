"""One command for an accelerator: physics throughput and two end-to-end trainings, in one report.

    python -m bench.device                 # on a GPU: 4k/1k/8k envs, PPO + MIKT to --timesteps each
    python -m bench.device --tiny          # any machine: the same steps at toy sizes (what the test runs)

Writes bench/results/device-<device>-<date>.{json,md} (`--out` elsewhere):

1. physics: env-steps/s of `jit(scan(vmap(env.step)))` with random actions (`bench.envs.measure`)
   for CentipedeFour, CentipedeEight and Ant at each `--sizes` batch, on MJX and, when
   `import mujoco_warp` works, on MuJoCo-Warp (on a CPU: native MuJoCo, what `--backend auto` runs);
2. training, each one `python -m mjx_mikt.run` program timed end to end (compile, training,
   evaluations; no video): PPO on CentipedeFour with `--preset`, registered as a teacher in a
   temporary store, then MIKT CentipedeFour -> CentipedeEight reading it, same preset; the
   report gives wall time, the loop's median env-steps/s and the final deterministic evaluation.

Everything stops at `--budget-s` (default 480 s, inside a lent device's 10-minute command limit): a
part that would start after it is listed as skipped, and the report is rewritten after every row, so
a run killed from outside still leaves what it measured. First seen on an H200 (2026-12-04,
bench/results/device-nvidia-h200-x1-2026-12-04.md): each new MJX batch shape compiles for over a
minute, so budget for compiles, not for steps.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from bench.machine import RESULTS, device_info

ROBOTS = ("CentipedeFour", "CentipedeEight", "Ant")
# Seconds a training stopped at the budget gets to save and exit before it is killed. On the H200 a
# MIKT run stopped mid-compile outlived a 55 s margin and the lease's command limit took the report's
# MIKT row with it (2026-12-04): keep --budget-s at least this much inside the command's limit.
TERM_GRACE_S = 30
TINY = {"sizes": "4", "steps": 5, "timesteps": 1024,
        "run_flags": ["--num-envs", "4", "--rollout-length", "16", "--num-minibatches", "2", "--update-epochs", "1",
                      "--eval-episodes", "1", "--eval-max-steps", "20"]}


def warp_available() -> bool:
    try:
        import mujoco_warp  # noqa: F401
    except Exception:  # absent or broken: the MJX rows still come back
        return False
    return True


def physics_rows(sizes: List[int], steps: int, backends: List[str], deadline: float,
                 rows: Optional[List[Dict]] = None, saved=lambda: None, robots=ROBOTS) -> List[Dict]:
    from bench.envs import measure
    from mjx_mikt.config import RunConfig

    rows = [] if rows is None else rows
    # size-major: every robot gets a row at the first size before any gets the second (on the H200
    # each new shape compiled for over a minute, and the budget ends the physics part early)
    for size in sizes:
        for robot in robots:
            for backend in backends:
                if time.monotonic() > deadline:
                    rows.append({"robot": robot, "backend": backend, "batch": size, "skipped": "budget"})
                    continue
                options = {"solver_iterations": RunConfig.mjx_solver_iterations,
                           "ls_iterations": RunConfig.mjx_ls_iterations}
                if backend == "mjx-warp":
                    options["max_worlds"] = size
                try:
                    rows.append(measure(robot, backend, size, steps, **options))
                except Exception as err:  # one failing backend or size must not lose the report
                    rows.append({"robot": robot, "backend": backend, "batch": size,
                                 "error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"})
                print(_physics_line(rows[-1]), flush=True)
                saved()
    return rows


def _physics_line(row: Dict) -> str:
    head = f"{row['robot']:>15} {row['backend']:>8} batch {row['batch']:>5}: "
    if "env_steps_per_s" in row:
        return head + f"{row['env_steps_per_s']:>12,.0f} env-steps/s  compile {row['compile_s']:.1f} s"
    return head + (row.get("error") or f"skipped ({row.get('skipped')})")


def loop_speed(run_dir: Path) -> Optional[float]:
    """Median env-steps/s of a run's loop over its updates (metrics.csv), None if unknown."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return None
    with path.open() as f:
        values = [float(r["env_steps_per_second"]) for r in csv.DictReader(f)
                  if r.get("env_steps_per_second") not in (None, "", "nan")]
    return round(statistics.median(values)) if values else None


def train(argv: List[str], run_dir: Path, deadline: float, keep: Optional[Path] = None) -> Dict:
    """One `mjx_mikt.run` program timed end to end; killed (SIGTERM: it saves and exits) at the deadline.

    With `keep` (a path without suffix), the program's stderr (its progress lines) goes to KEEP.log and
    the run's metrics.csv is copied to KEEP-metrics.csv: the run folder itself is temporary."""
    cmd = [sys.executable, "-m", "mjx_mikt.run"] + argv + ["--run-dir", str(run_dir), "--no-video"]
    row: Dict = {"command": " ".join(cmd[1:])}
    left = deadline - time.monotonic()
    if left <= 0:
        return dict(row, skipped="budget")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=left)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:  # a run inside an XLA compile handles SIGTERM only once the compile returns: give it a grace
            _, err = proc.communicate(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            row["killed_after_grace"] = True
        row["stopped_at_budget"] = True
    row.update(exit_code=proc.returncode, wall_s=round(time.perf_counter() - t0, 1),
               loop_env_steps_per_s=loop_speed(run_dir))
    if keep is not None:
        keep.with_name(keep.name + ".log").write_text(err or "")
        if (run_dir / "metrics.csv").is_file():
            shutil.copyfile(run_dir / "metrics.csv", keep.with_name(keep.name + "-metrics.csv"))
    summary = run_dir / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        compiled = data.get("compiles") or []  # the sitting's XLA programs (mjx_mikt.compiles.summary)
        row.update(env_steps=data.get("env_steps_per_seed"), eval_return=data.get("eval_return_mean"),
                   status=data.get("status"), sitting_time_s=data.get("sitting_time_s"),
                   programs=sum(c.get("count", 1) for c in compiled),
                   xla_compile_s=round(sum(c["seconds"] for c in compiled), 1))
    if proc.returncode != 0:
        row["error_tail"] = (err or "").strip().splitlines()[-1:] 
    print(f"train: exit {row['exit_code']} in {row['wall_s']} s, loop {row['loop_env_steps_per_s']} env-steps/s, "
          f"eval {row.get('eval_return')}", flush=True)
    return row


def training_rows(preset: str, timesteps: int, extra: List[str], deadline: float,
                  rows: Optional[List[Dict]] = None, saved=lambda: None,
                  teacher_store: Optional[Path] = None, keep: Optional[Path] = None) -> List[Dict]:
    """PPO on CentipedeFour (registered as a teacher), then MIKT CentipedeFour -> CentipedeEight reading
    it; with `teacher_store`, MIKT reads that store's CentipedeFour teachers and PPO is not run. With
    `keep` (the report's path without suffix), each run's log and metrics go to KEEP-ppo* and KEEP-mikt*."""
    def kept(name: str) -> Optional[Path]:
        return None if keep is None else keep.with_name(f"{keep.name}-{name}")

    rows = [] if rows is None else rows
    with tempfile.TemporaryDirectory(prefix="bench-device-") as tmp:
        store, common = Path(tmp) / "teachers", ["--preset", preset, "--timesteps", str(timesteps)] + extra
        if teacher_store is None:
            rows.append(dict(train(["--method", "ppo", "--target", "CentipedeFour", "--register-teacher",
                                    "--teacher-store", str(store)] + common, Path(tmp) / "ppo", deadline, kept("ppo")),
                             name="PPO CentipedeFour"))
        else:
            store = teacher_store.resolve()
            rows.append({"name": "PPO CentipedeFour", "skipped": f"teachers read from {teacher_store}"})
        saved()
        rows.append(dict(train(["--method", "mikt", "--source", "CentipedeFour", "--target", "CentipedeEight",
                                "--no-train-teacher", "--teacher-store", str(store)] + common, Path(tmp) / "mikt",
                               deadline, kept("mikt")), name="MIKT CentipedeFour -> CentipedeEight"))
        saved()
    return rows


def markdown(report: Dict) -> str:
    d = report["device"]
    lines = [f"# Device benchmark: {d['device']} ({report['date']})", "",
             f"jax {d['jax']}, mujoco {d['mujoco']}; preset `{report['preset']}`, {report['timesteps']:,} env "
             f"steps per training{' (tiny sizes)' if report['tiny'] else ''}; total {report['total_s']:.0f} s of a "
             f"{report['budget_s']} s budget.", "", "## Physics (random actions, control steps)", "",
             "| robot | backend | envs | env-steps/s | compile s |", "|---|---|---:|---:|---:|"]
    for r in report["physics"]:
        speed = f"{r['env_steps_per_s']:,.0f}" if "env_steps_per_s" in r else r.get("error") or f"skipped ({r['skipped']})"
        compile_s = f"{r['compile_s']:.1f}" if "compile_s" in r else "-"
        lines.append(f"| {r['robot']} | {r['backend']} | {r['batch']:,} | {speed} | {compile_s} |")
    lines += ["", "## Training end to end (one program each: compile, training, evaluations)", "",
              "| run | exit | wall s | loop env-steps/s (median) | final eval | env steps | XLA programs, s "
              "| the run's own time split, s |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in report["training"]:
        if r.get("skipped"):
            lines.append(f"| {r['name']} | skipped ({r['skipped']}) | | | | | | |")
            continue
        evaluation = f"{r['eval_return']:,.0f}" if r.get("eval_return") is not None else "-"
        split = ", ".join(f"{k} {v:,.0f}" for k, v in (r.get("sitting_time_s") or {}).items()) or "-"
        compiled = f"{r['programs']}, {r['xla_compile_s']:,.1f}" if "programs" in r else "-"
        lines.append(f"| {r['name']} | {r['exit_code']} | {r['wall_s']:.0f} | {r.get('loop_env_steps_per_s') or '-'} | "
                     f"{evaluation} | {r.get('env_steps') or '-'} | {compiled} | {split} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.device", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="toy sizes (4 envs; 1,024 training steps): "
                                                            "checks the command anywhere in a minute or two")
    parser.add_argument("--sizes", default="4096,1024,8192",
                        help="physics batch sizes, comma separated, measured in this order, each over every robot "
                             "before the next ('' skips the physics rows)")
    parser.add_argument("--robots", default=",".join(ROBOTS),
                        help=f"robots of the physics rows, comma separated (default {','.join(ROBOTS)})")
    parser.add_argument("--steps", type=int, default=100, help="control steps timed per physics row (default 100)")
    parser.add_argument("--preset", default="wide-256x16", help="training preset (default wide-256x16)")
    parser.add_argument("--timesteps", type=float, default=2e6, help="env steps of each training (default 2e6)")
    parser.add_argument("--budget-s", type=float, default=480, help="stop starting parts after this many seconds (default 480); a training still running "
                             f"then gets SIGTERM and {TERM_GRACE_S} s to save before it is killed, so leave that "
                             "much inside a lease's command limit")
    parser.add_argument("--teacher-store", type=Path, default=None,
                        help="skip the PPO training: MIKT reads this store's CentipedeFour teachers (e.g. "
                             "results/wide-1024x8-2M/teachers), so a short lease reaches the MIKT row")
    parser.add_argument("--out", type=Path, default=None, help="report path without suffix "
                                                               "(default bench/results/device-<device>-<date>)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    deadline = start + args.budget_s
    sizes = [int(s) for s in (TINY["sizes"] if args.tiny else args.sizes).split(",") if s.strip()]
    steps, timesteps = (TINY["steps"], TINY["timesteps"]) if args.tiny else (args.steps, int(args.timesteps))
    info = device_info()
    backends = ["mujoco"] if info["platform"] == "cpu" else ["mjx"] + (["mjx-warp"] if warp_available() else [])
    report = {"date": datetime.date.today().isoformat(), "device": info, "tiny": args.tiny, "preset": args.preset,
              "timesteps": timesteps, "budget_s": args.budget_s}
    report.update(physics=[], training=[], total_s=0.0)
    slug = re.sub(r"[^a-z0-9]+", "-", info["device"].lower()).strip("-")
    out = args.out or RESULTS / f"device-{slug}-{report['date']}"
    out.parent.mkdir(parents=True, exist_ok=True)

    def saved() -> None:
        """The report so far, rewritten after every row: a run killed at a lease's limit keeps its rows."""
        report["total_s"] = round(time.monotonic() - start, 1)
        out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(report))

    robots = [r.strip() for r in args.robots.split(",") if r.strip()]
    unknown = sorted(set(robots) - set(ROBOTS))
    if unknown:
        parser.error(f"--robots: unknown {', '.join(unknown)}; choose from {', '.join(ROBOTS)}")
    physics_rows(sizes, steps, backends, start + 0.5 * args.budget_s, report["physics"], saved, robots)
    training_rows(args.preset, timesteps, TINY["run_flags"] if args.tiny else [], deadline, report["training"], saved,
                  args.teacher_store, out)
    saved()
    print(f"report: {out.with_suffix('.md')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
