"""Assembling a run: env + agent (+ teachers) + trainer, the teacher store, a run's lifecycle
(what a run writes and prints at its end: run_summary.py).

The CLI (`run.py`) parses flags into a Config and calls these; tests and the
benchmarks call them directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mjx_mikt import agents as agents_lib
from mjx_mikt import checkpoint, envs, signals, teachers as teachers_lib
from mjx_mikt.config import Config, ConfigError, paper_comparison_warning, validate
from mjx_mikt.envs.mjcf import display_name
from mjx_mikt.commands import interpreter
from mjx_mikt.loop import RunHooks, run_training
from mjx_mikt.signals import restore_signal_handlers
from mjx_mikt.progress import SittingTimes
from mjx_mikt.run_summary import exit_code, record_times, summarize, summary_table
from mjx_mikt.train import Trainer, make_train


def check_robots(config: Config) -> None:
    """Fail early (one line) on an unknown robot name or a bad MJCF file; register the run's MJCF files
    (robots given as .xml paths) with its --task-options, for every `envs.make` of this process."""
    robots = [config.run.target] + (list(config.run.source) if config.run.method != "ppo" else [])
    options = envs.parse_task_options(config.run.task_options)
    files = [robot for robot in robots if envs.is_mjcf_path(robot)]
    if options and not files:
        raise ConfigError("--task-options sets the generic task of robots given as .xml files; this run has none")
    for robot in robots:
        if robot in files:
            envs.register_mjcf(robot, robot, **options)
        else:
            envs.robot_id(robot)  # UnknownRobotError, a ConfigError, lists the known names


def env_sharding(num_envs: int) -> Optional[NamedSharding]:
    """Shard the env axis over all local devices (None on one device)."""
    devices = jax.devices()
    if len(devices) < 2:
        return None
    if num_envs % len(devices):
        raise ConfigError(f"--num-envs {num_envs} cannot be split over {len(devices)} devices")
    mesh = Mesh(np.array(devices), ("envs",))
    return NamedSharding(mesh, PartitionSpec("envs"))


def build_trainer(config: Config, teachers: Sequence = ()) -> Trainer:
    """teachers: one TeacherSpec per source robot (the first of each set gives the agent its shapes)."""
    options = {}
    backend = envs.resolve_backend(config.run.backend)
    if backend in ("mjx", "mjx-warp"):
        options = {"solver_iterations": config.run.mjx_solver_iterations or None,
                   "ls_iterations": config.run.mjx_ls_iterations or None}
    if backend == "mjx-warp":  # contact capacity: the most worlds one vmapped step call carries
        options["max_worlds"] = config.run.num_seeds * max(config.ppo.num_envs, config.run.eval_episodes)
    env = envs.make(config.run.target, backend=config.run.backend, **options)
    agent = agents_lib.make_agent(
        config.run.method, env.observation_size, env.action_size, config.ppo, config.mikt, teachers
    )
    return make_train(config, env, agent, env_sharding=env_sharding(config.ppo.num_envs))


# ------------------------------------------------------------------ run folder, config, provenance
def default_run_dir(config: Config) -> Path:
    """runs/<target id (envs.robot_id)>-<method>-<time>-<pid>-<n>: created here, exclusively, so two runs
    never share it."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"{time.time() % 1:.3f}"[1:]
    for n in range(1000):
        path = Path("runs") / f"{envs.robot_id(config.run.target)}-{config.run.method}-{stamp}-{os.getpid()}-{n}"
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise ConfigError("cannot create a new run folder under runs/")


def provenance() -> dict:
    """What made a run, beside its config: the command line, the git commit of this checkout (None outside
    one; dirty: uncommitted changes to tracked files), and the versions of Python and the main packages."""
    import importlib.metadata
    import platform
    import subprocess

    main = sys.modules.get("__main__")
    module = getattr(getattr(main, "__spec__", None), "name", None)  # `python -m mjx_mikt.run`: the module
    command = ["-m", module] + sys.argv[1:] if module else sys.argv
    commit, dirty = None, None
    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        try:
            git = ["git", "-C", str(root)]
            commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True,
                                    timeout=10).stdout.strip() or None
            dirty = bool(subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                        text=True, timeout=30).stdout.strip()) if commit else None
        except (OSError, subprocess.SubprocessError):
            commit, dirty = None, None
    versions = {"python": platform.python_version()}
    for name in ("mjx_mikt", "jax", "jaxlib", "mujoco", "mujoco-mjx", "flax", "optax", "numpy", "tensorboardX"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"command": f"{interpreter()} {shlex.join(command)}", "git_commit": commit, "git_dirty": dirty, "versions": versions}


def write_config(run_dir: Path, config: Config) -> None:
    """config.json: the resolved config, and under "provenance" what made the run (not read back)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with signals.critical():
        checkpoint.write_atomic(run_dir / "config.json",
                                json.dumps(dict(config.to_dict(), provenance=provenance()), indent=2))


def finished_summary(run_dir: Path, config: Config) -> Optional[dict]:
    """The summary of a run that finished all its updates, else None."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except ValueError:
        return None
    if summary.get("status", "finished") == "finished" and not summary.get("interrupted") \
            and summary.get("updates") == config.num_updates:
        return summary
    return None


def load_run_config(run_dir: Path) -> Config:
    path = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise ConfigError(f"--resume folder {run_dir} does not exist")
    if not path.is_file():
        raise ConfigError(f"--resume folder {run_dir} has no config.json (not a run folder)")
    try:
        config = Config.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{path} is corrupt: {err}") from None
    check_robots(config)  # its MJCF files, registered with its task options
    return config


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


def check_teachers_fit(config: Config, teacher_set: teachers_lib.TeacherSet) -> None:
    """A teacher the student's agent cannot use (e.g. another layer count) is bad input: one line."""
    if not teacher_set:
        return
    env = envs.make(config.run.target, backend="mujoco")
    try:
        agents_lib.make_agent(config.run.method, env.observation_size, env.action_size, config.ppo, config.mikt,
                              teacher_set.firsts)
    except ValueError as err:
        raise ConfigError(f"teacher does not fit the student: {err}") from None


# --------------------------------------------------------------- lifecycle
def prepare_new(config: Config, committed_teachers: bool = False):
    """Everything that can fail on bad input, before anything is written -> (config, run_dir).

    The backend is resolved here, once, and stored concretely in the config. With `committed_teachers`
    (the CLI without --teacher-store) a source robot missing from the store reads the committed teachers
    of its preset where there are some (teachers.with_committed) instead of training them.
    """
    validate(config)
    check_robots(config)
    if committed_teachers:
        config = teachers_lib.with_committed(config)
    config = dataclasses.replace(config, run=dataclasses.replace(
        config.run, backend=envs.resolve_backend(config.run.backend)))
    if config.run.run_dir and (Path(config.run.run_dir) / "config.json").exists():
        run_dir = Path(config.run.run_dir)
        raise ConfigError(f"run folder {run_dir} already holds a run; use --resume {run_dir} or another --run-dir")
    missing = teachers_lib.missing(config)
    if missing and not config.run.train_teacher:
        raise ConfigError(
            f"no teacher for {', '.join(missing)} in {config.run.teacher_store} and --no-train-teacher was given"
        )
    if not missing:
        check_teachers_fit(config, teachers_lib.TeacherSet.from_store(config))  # validates teacher files now
    warning = paper_comparison_warning(config)
    if warning:
        print(warning, file=sys.stderr)
    if config.run.method != "ppo" and config.run.target in config.run.source:
        print(f"warning: --source {config.run.target} is also the --target: the student learns from teachers of "
              "its own robot, which transfers nothing between robots", file=sys.stderr)
    if config.num_updates * config.ppo.batch_size != config.run.total_timesteps:
        print(f"note: --timesteps {config.run.total_timesteps:,} is rounded down to {config.num_updates} updates "
              f"x {config.ppo.batch_size} samples = {config.num_updates * config.ppo.batch_size:,} env steps per seed",
              file=sys.stderr)
    # the default folder is created (exclusively) only now that the input is known to be good
    run_dir = Path(config.run.run_dir) if config.run.run_dir else default_run_dir(config)
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, run_dir=str(run_dir)))
    return config, run_dir


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
        resume = (run_dir / "config.json").is_file() and checkpoint.latest_step(run_dir / "checkpoints") is not None
        doing = (f"resuming their interrupted training in {run_dir}" if resume else
                 f"training them first in {run_dir} (seeds 0..{k - 1}, {config.run.teacher_timesteps:,} env steps "
                 f"each; the progress line shows the ETA)")
        print(f"no {k} teacher(s) for {robot} in {config.run.teacher_store}: {doing}; "
              f"{committed_teachers_hint(config, robot)}", file=sys.stderr, flush=True)
        if resume and finished_summary(run_dir, teacher_config) is None:
            teacher_summary = train_and_report(teacher_config, run_dir, resume=True, label=f"teacher {display_name(robot)}",
                                               hooks=hooks)
        elif resume:  # finished earlier, yet the store lacks its teachers: registered below, or said why not
            teacher_summary = {"status": "finished"}
        else:
            if run_dir.exists():
                shutil.rmtree(run_dir)  # started but never checkpointed: nothing to keep
            run_dir.mkdir(parents=True)
            teacher_summary = train_and_report(teacher_config, run_dir, label=f"teacher {display_name(robot)}", hooks=hooks)
        if teacher_summary["status"] != "finished":
            print(f"the {robot} teacher training stopped; run the same command again to resume it",
                  file=sys.stderr, flush=True)
            raise TeacherRunStopped(exit_code(teacher_summary))
        if teachers_lib.missing(dataclasses.replace(config, run=dataclasses.replace(config.run, source=(robot,)))):
            raise ConfigError(f"training the {robot} teacher(s) did not register {k} finite teacher(s)")


def start(config: Config, hooks: RunHooks = RunHooks(), committed_teachers: bool = False) -> int:
    """A new run from a CLI config: validate, train missing teachers (or read committed ones: prepare_new),
    train; returns the exit code."""
    config, run_dir = prepare_new(config, committed_teachers)
    # a signal before the first checkpoint keeps nothing: the same command then starts the run again
    signals.keep(signals.BEFORE_TRAINING, cleanup=lambda: forget_unstarted(run_dir))
    try:
        train_missing_teachers(config, hooks)
    except TeacherRunStopped as stopped:
        remove_if_empty(run_dir)
        return stopped.args[0]
    except BaseException:
        remove_if_empty(run_dir)
        raise
    signals.keep(signals.BEFORE_TRAINING, cleanup=lambda: forget_unstarted(run_dir))  # the teachers' run set its own
    return exit_code(train_and_report(config, run_dir, hooks=hooks))


def forget_unstarted(run_dir: Path) -> None:
    """Remove what a new run writes before its first checkpoint, and the folder if nothing else is in it."""
    if checkpoint.latest_step(run_dir / "checkpoints") is not None:
        return
    for name in ("checkpoints", "teachers"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for path in [run_dir / "config.json", *run_dir.glob(".config.json.*.tmp")]:
        path.unlink(missing_ok=True)
    remove_if_empty(run_dir)


def remove_if_empty(run_dir: Path) -> None:
    """A student's run folder that nothing was written to (its teachers' training stopped) is not left behind."""
    try:
        run_dir.rmdir()  # only an empty folder
    except OSError:
        pass


def resume(run_dir: Path, hooks: RunHooks = RunHooks()) -> int:
    """Continue the run in run_dir from its last checkpoint (a finished run: print, touch nothing)."""
    config = load_run_config(run_dir)
    # a copied or moved run folder: its lines name where it is now (its files are written there anyway)
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, run_dir=str(run_dir)))
    if checkpoint.latest_step(run_dir / "checkpoints") is None:
        raise ConfigError(f"--resume folder {run_dir} has no checkpoint to resume from")
    finished = finished_summary(run_dir, config)
    if finished is not None:
        print(f"{run_dir} already finished {finished['updates']} updates; nothing to do", flush=True)
        print("\n".join(summary_table(finished, config)), flush=True)
        return 0
    return exit_code(train_and_report(config, run_dir, resume=True, hooks=hooks))


def train_and_report(config: Config, run_dir: Path, resume: bool = False, label: Optional[str] = None,
                     stop_after_updates: Optional[int] = None, hooks: RunHooks = RunHooks()) -> dict:
    """Train the run in run_dir (fresh or resumed), print and write its summary, register a ppo run's teachers.

    `hooks` are the CLI's videos (`run_videos.VIDEO_HOOKS`; this module does not import render, which
    imports it); after_finish runs after a finished run when config.run.video is on.
    """
    times = SittingTimes()
    if not resume:
        write_config(run_dir, config)
    records = []
    if config.run.method != "ppo":
        if not resume:
            with signals.critical():
                records = teachers_lib.adopt(config, run_dir)
                checkpoint.write_atomic(run_dir / "teachers" / "provenance.json", json.dumps(records, indent=2))
        else:
            path = run_dir / "teachers" / "provenance.json"
            records = json.loads(path.read_text()) if path.is_file() else []
    teacher_set = teachers_lib.TeacherSet.of_run(config, run_dir)
    trainer = build_trainer(config, teacher_set.firsts)
    stacked = teacher_set.stacked(trainer.agent, config)
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
