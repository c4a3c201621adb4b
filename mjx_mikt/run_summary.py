"""The end of a run: its summary.json, the table it prints, and the exit code its status gives.

`lifecycle.py` calls these when a run ends or when a finished run is resumed; `exit_code` is the
CLI's: 0 finished, 3 diverged, 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from mjx_mikt import checkpoint
from mjx_mikt.compiles import describe as describe_compiles
from mjx_mikt.config import Config
from mjx_mikt.commands import interpreter
from mjx_mikt.loop import RunResult
from mjx_mikt.progress import SittingTimes
from mjx_mikt.train import recent_means_per_seed


def summarize(result: RunResult, config: Config, out=None, teacher_records=None,
              times: Optional[SittingTimes] = None) -> dict:
    """Write summary.json and print the table; wall_time_s is the run's over all its sittings,
    sitting_time_s (from `times`) this sitting's split by phase (progress.SittingTimes)."""
    out = out or sys.stdout
    per_seed = result.eval_returns.mean(axis=1)
    summary = {
        "target": config.run.target,
        "source": list(config.run.source) if config.run.method != "ppo" else [],
        "method": config.run.method,
        "env_steps_per_seed": result.env_steps,
        "updates": result.updates,
        "wall_time_s": round(result.wall_time, 1),
        "eval_return_per_seed": [float(x) for x in per_seed],
        "eval_return_mean": float(np.nanmean(per_seed)) if np.isfinite(per_seed).any() else None,
        "run_dir": str(result.run_dir),
        "interrupted": result.interrupted,
        "diverged": result.diverged or None,
        "interrupted_by": signal.Signals(result.signal).name if result.signal else None,
        "status": "diverged" if result.diverged else "interrupted" if result.interrupted else (
            "finished" if result.updates == config.num_updates else "stopped"),
    }
    if summary["status"] != "finished":  # not a final evaluation: the last one, and its update
        last = last_evaluation(Path(result.run_dir), result.updates, per_seed)
        summary["eval_update"] = last[0] if last else None
        summary["eval_return_per_seed"] = last[1] if last else [None] * len(per_seed)
        summary["eval_return_mean"] = float(np.mean(last[1])) if last else None
    summary["episode_return_100_per_seed"] = recent_means_per_seed(result.final_state)
    if teacher_records:
        summary["teachers"] = teacher_records
    if times is not None:
        summary["sitting_time_s"] = times.as_dict()
        summary["compiles"] = times.compiles()
    write_summary(summary)
    print("\n".join(summary_table(summary, config)), file=out, flush=True)
    return summary


def summary_table(summary: dict, config: Config) -> List[str]:
    """The lines printed at the end of a run (and on --resume of a finished one), from its summary."""
    pair = f"{'+'.join(summary['source'])} -> {config.run.target}" if summary["source"] else config.run.target
    lines = ["", f"{config.run.method} | {pair}"]
    status, evaluated = summary.get("status", "finished"), summary.get("eval_update")
    if status == "finished":
        lines.append(f"{'seed':>6} | final eval return")
    elif evaluated is not None:  # never a stale "final": the evaluation it has, and when
        lines += [f"{status} at update {summary['updates']}; last evaluation at update {evaluated}: "
                  f"{summary['eval_return_mean']:.1f}", f"{'seed':>6} | eval return at update {evaluated}"]
    else:
        every = f" (one every {config.run.eval_every} updates)" if config.run.eval_every > 0 else ""
        lines.append(f"{status} at update {summary['updates']}; no evaluation yet{every}")
    if status == "finished" or evaluated is not None:
        lines += [f"{config.run.seed + i:>6} | {_cell(value)}" for i, value in enumerate(summary["eval_return_per_seed"])]
        lines.append(f"{'mean':>6} | {_cell(summary['eval_return_mean'])}")
    run_dir = Path(summary["run_dir"])
    lines += [
        f"env steps per seed: {summary['env_steps_per_seed']:,} ({summary['updates']} updates) in "
        f"{summary['wall_time_s'] / 60:.1f} min",
        *([time_line(summary["sitting_time_s"], summary.get("compiles"))] if summary.get("sitting_time_s") else []),
        f"run folder: {run_dir}",
        f"view: {tensorboard()} --logdir {shlex.quote(str(run_dir / 'tb'))}",
    ]
    return lines


def _cell(value) -> str:
    return f"{value:12.1f}" if value is not None and np.isfinite(value) else f"{'-':>12}"


def last_evaluation(run_dir: Path, updates: int, this_sitting) -> Optional[Tuple[int, List[float]]]:
    """The newest evaluation of a run at or before `updates` (eval.csv, over all its sittings): its update and
    return per seed (this sitting's own numbers where it made that evaluation); None before the first."""
    path = run_dir / "eval.csv"
    if not path.is_file():
        return None
    with path.open() as f:
        rows = [row for row in csv.DictReader(f) if int(row["update"]) <= updates]
    if not rows:
        return None
    update = max(int(row["update"]) for row in rows)
    if np.isfinite(this_sitting).all():
        return update, [float(x) for x in this_sitting]
    last = sorted((int(row["seed"]), float(row["return_mean"])) for row in rows if int(row["update"]) == update)
    return update, [value for _, value in last]


def tensorboard() -> str:
    """The command that opens TensorBoard, as the README gives it: the `tensorboard` beside this Python
    (.venv/bin/tensorboard), else this Python's `-m tensorboard.main`."""
    script = os.path.join(os.path.dirname(sys.executable or ""), "tensorboard")
    if sys.executable and os.path.isfile(script):
        here = os.path.join(os.getcwd(), "")
        return shlex.quote(script[len(here):] if script.startswith(here) else script)
    return f"{interpreter()} -m tensorboard.main"


def time_line(seconds: Dict[str, float], compiles: Optional[List[dict]] = None) -> str:
    """'time (last sitting): 312 s = training 250, compiling 40, ...': where it went, biggest first; with
    `compiles` (summary.json's), how many XLA programs were compiled in how many seconds."""
    parts = sorted(((k, v) for k, v in seconds.items() if k != "total" and v >= 0.05), key=lambda kv: -kv[1])
    line = f"time (last sitting): {seconds['total']:,.0f} s = " + ", ".join(f"{k} {v:,.0f}" for k, v in parts)
    if compiles:
        line += (f" | XLA compiles: {describe_compiles(compiles)}, "
                 f"{sum(c['seconds'] for c in compiles):,.1f} s")
    return line


def record_times(summary: dict, times: SittingTimes) -> None:
    """summary.json again with this sitting's times now (after the final video, which follows the summary)."""
    summary["sitting_time_s"] = times.as_dict()
    summary["compiles"] = times.compiles()
    write_summary(summary)


def write_summary(summary: dict) -> None:
    """RUN_DIR/summary.json (atomically), the one writer of that file."""
    checkpoint.write_atomic(Path(summary["run_dir"]) / "summary.json", json.dumps(summary, indent=2))


EXIT_DIVERGED = 3


def exit_code(summary: dict) -> int:
    """0 finished; 3 diverged; 130/143 interrupted by SIGINT/SIGTERM (as shells report them)."""
    if summary.get("status") == "diverged":
        return EXIT_DIVERGED
    if summary.get("status") == "interrupted":
        return 143 if summary.get("interrupted_by") == "SIGTERM" else 130
    return 0
