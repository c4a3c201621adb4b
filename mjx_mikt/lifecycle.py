"""One run's lifecycle: start (training missing teachers first), resume, train and report.

The CLI (`run.py`) parses flags into a Config and calls `start` or `resume`; tests call them directly.
A run's folder, config and trainer come from `run_folder.RunFolder`; what a run writes and prints at
its end from `run_summary`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import List, Optional

import jax

from mjx_mikt import checkpoint, envs, signals, teachers as teachers_lib
from mjx_mikt.config import Config, ConfigError, validate
from mjx_mikt.envs.mjcf import display_name
from mjx_mikt.loop import RunHooks, run_training
from mjx_mikt.progress import SittingTimes
from mjx_mikt.run_folder import RunFolder
from mjx_mikt.run_summary import exit_code, record_times, summarize, summary_table
from mjx_mikt.signals import restore_signal_handlers
from mjx_mikt.train import Trainer


def describe(config: Config, resume: bool = False) -> str:
    """One line saying what runs: method, robots, preset and its shape, backend, device, seeds, budget."""
    run, ppo = config.run, config.ppo
    pair = f"{'+'.join(run.source)} -> {run.target}" if run.method != "ppo" else run.target
    return (f"{'resuming' if resume else 'run'}: {run.method} {pair} | preset {run.preset} ({ppo.num_envs} envs x "
            f"{ppo.rollout_length} steps, {ppo.num_minibatches} minibatches x {ppo.update_epochs} epochs, "
            f"{config.num_updates} updates) | backend {run.backend} on {jax.default_backend()} | "
            f"{run.num_seeds} seed(s) from {run.seed} | {config.num_updates * ppo.batch_size:,} env steps per seed | "
            f"{run.run_dir}")


def teacher_assignment(config: Config, records: List[dict]) -> List[dict]:
    """Which teacher (per source robot) each student seed read, with its provenance."""
    by_key = {(r["robot"], r["index"]): r for r in records}
    return [{"student_seed": config.run.seed + i,
             "teachers": [by_key.get((robot, k)) for robot in config.run.source]}
            for i, k in enumerate(teachers_lib.per_seed_index(config))]


class TeacherRunStopped(Exception):
    """The teacher run a transfer run needed did not finish (its exit code is the argument)."""


# The teachers committed with the repository (5 seeds x 2M steps, paper preset): a transfer can read them
# instead of training its own (--teacher-store results/paper-2M/teachers).
COMMITTED_TEACHERS = Path(__file__).resolve().parents[1] / "results" / "paper-2M" / "teachers"


def committed_teachers_hint(config: Config, robot: str) -> str:
    """How to skip training `robot`'s teachers: the committed store if it holds them, else the flags."""
    store = COMMITTED_TEACHERS
    k = config.run.teacher_seeds
    if store.resolve() != Path(config.run.teacher_store).resolve() and all(
            teachers_lib.is_teacher(teachers_lib.seed_folder(store / envs.robot_id(robot), s)) for s in range(k)):
        shown = os.path.relpath(store) if store.is_relative_to(Path.cwd()) else str(store)
        return f"to use the committed ones instead: --teacher-store {shown}"
    return "to use your own instead: --teacher PATH or --teacher-store FOLDER"


def teacher_run_dir(teacher_config: Config) -> Path:
    """The one folder of the teacher training a transfer starts: named by its config, so that running the
    same transfer again resumes an interrupted teacher training instead of starting another."""
    key = dataclasses.replace(teacher_config, run=dataclasses.replace(teacher_config.run, run_dir="", compile_cache=""))
    digest = hashlib.sha256(key.to_json().encode()).hexdigest()[:8]
    return Path("runs") / f"{envs.robot_id(teacher_config.run.target)}-ppo-teacher-{digest}"


def train_missing_teachers(config: Config, hooks: RunHooks = RunHooks()) -> None:
    """Train (in one K-seed program) and register the teachers a transfer run needs and the store lacks.

    The training runs in `teacher_run_dir`; one that was interrupted is resumed there.
    """
    for robot in teachers_lib.missing(config):
        k = config.run.teacher_seeds
        teacher_run = dataclasses.replace(
            config.run, target=robot, source=(), method="ppo", total_timesteps=config.run.teacher_timesteps,
            seed=0, num_seeds=k, run_dir="", register_teacher=True,
        )
        teacher_config = dataclasses.replace(config, run=teacher_run)
        validate(teacher_config)
        run_dir = teacher_run_dir(teacher_config)
        teacher_config = dataclasses.replace(
            teacher_config, run=dataclasses.replace(teacher_run, run_dir=str(run_dir)))
        folder = RunFolder(run_dir, teacher_config)
        resume = (run_dir / "config.json").is_file() and folder.latest_checkpoint() is not None
        doing = (f"resuming their interrupted training in {run_dir}" if resume else
                 f"training them first in {run_dir} (seeds 0..{k - 1}, {config.run.teacher_timesteps:,} env steps "
                 f"each; the progress line shows the ETA)")
        print(f"no {k} teacher(s) for {robot} in {config.run.teacher_store}: {doing}; "
              f"{committed_teachers_hint(config, robot)}", file=sys.stderr, flush=True)
        if resume and folder.finished_summary() is None:
            teacher_summary = train_and_report(folder, resume=True, label=f"teacher {display_name(robot)}", hooks=hooks)
        elif resume:  # finished earlier, yet the store lacks its teachers: registered below, or said why not
            teacher_summary = {"status": "finished"}
        else:
            if run_dir.exists():
                shutil.rmtree(run_dir)  # started but never checkpointed: nothing to keep
            run_dir.mkdir(parents=True)
            teacher_summary = train_and_report(folder, label=f"teacher {display_name(robot)}", hooks=hooks)
        if teacher_summary["status"] != "finished":
            print(f"the {robot} teacher training stopped; run the same command again to resume it",
                  file=sys.stderr, flush=True)
            raise TeacherRunStopped(exit_code(teacher_summary))
        if teachers_lib.missing(dataclasses.replace(config, run=dataclasses.replace(config.run, source=(robot,)))):
            raise ConfigError(f"training the {robot} teacher(s) did not register {k} finite teacher(s)")


def start(config: Config, hooks: RunHooks = RunHooks(), committed_teachers: bool = False) -> int:
    """A new run from a CLI config: validate, train missing teachers (or read committed ones:
    RunFolder.create), train; returns the exit code."""
    folder = RunFolder.create(config, committed_teachers)
    # a signal before the first checkpoint keeps nothing: the same command then starts the run again
    signals.keep(signals.BEFORE_TRAINING, cleanup=folder.forget_unstarted)
    try:
        train_missing_teachers(folder.config, hooks)
    except TeacherRunStopped as stopped:
        folder.remove_if_empty()
        return stopped.args[0]
    except BaseException:
        folder.remove_if_empty()
        raise
    signals.keep(signals.BEFORE_TRAINING, cleanup=folder.forget_unstarted)  # the teachers' run set its own
    return exit_code(train_and_report(folder, hooks=hooks))


def resume(run_dir: Path, hooks: RunHooks = RunHooks()) -> int:
    """Continue the run in run_dir from its last checkpoint (a finished run: print, touch nothing)."""
    folder = RunFolder.open(run_dir)  # a copied or moved run folder: its lines name where it is now
    if folder.latest_checkpoint() is None:
        raise ConfigError(f"--resume folder {run_dir} has no checkpoint to resume from")
    finished = folder.finished_summary()
    if finished is not None:
        print(f"{run_dir} already finished {finished['updates']} updates; nothing to do", flush=True)
        print("\n".join(summary_table(finished, folder.config)), flush=True)
        return 0
    return exit_code(train_and_report(folder, resume=True, hooks=hooks))


def train_and_report(folder: RunFolder, resume: bool = False, label: Optional[str] = None,
                     stop_after_updates: Optional[int] = None, hooks: RunHooks = RunHooks()) -> dict:
    """Train the run in `folder` (fresh or resumed), print and write its summary, register a ppo run's teachers.

    `hooks` are the CLI's videos (`run_videos.VIDEO_HOOKS`; this module does not import render, which
    imports it); after_finish runs after a finished run when config.run.video is on.
    """
    times = SittingTimes()
    config, run_dir = folder.config, folder.path
    if not resume:
        folder.write_config()
    records = []
    if config.run.method != "ppo":
        if not resume:
            with signals.critical():
                records = teachers_lib.adopt(config, run_dir)
                checkpoint.write_atomic(run_dir / "teachers" / "provenance.json", json.dumps(records, indent=2))
        else:
            path = run_dir / "teachers" / "provenance.json"
            records = json.loads(path.read_text()) if path.is_file() else []
    trainer, stacked = folder.build()
    label = label or f"{config.run.method} {display_name(config.run.target)}"
    print(describe(config, resume) + teachers_lib.described(records), file=sys.stderr, flush=True)
    for note in teachers_lib.weak_notes(config, records):
        print(note, file=sys.stderr, flush=True)
    meta = {"target": config.run.target, "method": config.run.method}
    # checkpoints written before they recorded the wall time: the last sitting's summary has it
    previous = json.loads((run_dir / "summary.json").read_text()).get("wall_time_s", 0.0) if (
        resume and (run_dir / "summary.json").is_file()) else 0.0
    result = run_training(trainer, config, run_dir, label, resume=resume, meta=meta, teachers=stacked,
                          stop_after_updates=stop_after_updates, hooks=hooks, previous_wall_time=previous,
                          times=times)
    try:
        with signals.critical():  # the summary and a finished ppo run's teachers, before its video
            summary = summarize(result, config, times=times,
                                teacher_records=teacher_assignment(config, records) if records else None)
            if summary["status"] == "finished":
                if config.run.method == "ppo":
                    save_teachers(result, trainer, config, run_dir)
                signals.keep(f" after the run finished: it is kept in {run_dir}")
    finally:  # a stopped run kept its signal handlers until its summary was written
        restore_signal_handlers()
    if summary["status"] == "finished" and config.run.video and hooks.after_finish is not None:
        with times.timing("videos"):
            hooks.after_finish(config, run_dir)
        record_times(summary, times)
    return summary


def save_teachers(result, trainer: Trainer, config: Config, run_dir: Path) -> None:
    """A finished ppo run's seeds as teachers: in RUN_DIR/teacher/, and with --register-teacher in the store."""
    own = run_dir / "teacher"
    if config.run.register_teacher:
        store = teachers_lib.store_path(config, config.run.target)
        seeds = teachers_lib.register(result, trainer, config, store)
        print(f"teacher(s) for {config.run.target} registered in {store}: seeds {seeds}", flush=True)
    else:
        seeds = teachers_lib.register(result, trainer, config, None)
        print(f"teacher(s) for {config.run.target} saved in {own} (seeds {seeds}), not registered in "
              f"{config.run.teacher_store} (--register-teacher does that); a transfer can read them with "
              f"--source {config.run.target} --teacher {own}", flush=True)
