"""A run folder: the one way to create or reopen a run, and to rebuild its trainer, teachers and state.

    RUN_DIR/config.json            the resolved config; under "provenance" what made the run (not read back)
    RUN_DIR/checkpoints/           Orbax checkpoints of the seed-batched TrainState (+ meta: update, wall time)
    RUN_DIR/teachers/              the run's own copies of its teachers, and provenance.json (transfer runs)
    RUN_DIR/metrics.csv, eval.csv, events.*, summary.json, videos/    what the loop and the summary write

`RunFolder.create(config)` checks everything that can fail on bad input before it writes anything;
`RunFolder.open(path)` reads a folder back. Either then gives `.build()` (the trainer and its teachers'
state) and `.restore(...)` (the newest readable checkpoint): the CLI, `--resume`, render, bench and the
experiment grids all build a run here (`build_trainer` is the one constructor of a Trainer).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mjx_mikt import agents as agents_lib
from mjx_mikt import checkpoint, envs, signals, teachers as teachers_lib
from mjx_mikt.commands import interpreter
from mjx_mikt.config import Config, ConfigError, paper_comparison_warning, validate
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
    return make_train(config, env, agent, env_sharding=env_sharding(config.ppo.num_envs),
                      eval_env=envs.make(config.run.target, backend="mujoco") if native_evaluations(config) else None)


def native_evaluations(config: Config) -> bool:
    """Do the run's evaluations step native MuJoCo while its training steps another backend (--eval-backend)?
    On an accelerator an evaluation on MJX compiles a physics program as long as the training program's (a
    minute or more); on native MuJoCo it compiles none (docs/performance.md, "Compiles")."""
    eval_backend, backend = config.run.eval_backend, envs.resolve_backend(config.run.backend)
    return backend != "mujoco" and eval_backend in ("auto", "mujoco")


def seed_keys(config: Config) -> jax.Array:
    """(num_seeds, 2): seed i's key, from --seed + i."""
    return jnp.stack([jax.random.PRNGKey(config.run.seed + i) for i in range(config.run.num_seeds)])


def restore_state(run_dir: Path, trainer: Trainer, config: Config, teachers) -> Tuple[Any, dict]:
    """(state, meta) of the newest readable checkpoint in run_dir; `teachers` as `RunFolder.build` gives them."""
    abstract = jax.eval_shape(trainer.seed_batched_init(), seed_keys(config), teachers)
    state, meta, _ = checkpoint.restore_latest_readable(Path(run_dir) / "checkpoints", abstract)
    if all(len(x.sharding.device_set) == 1 for x in jax.tree.leaves(state)):
        # uncommitted, as a fresh run's state is: the programs are then the ones it compiled (the compile
        # cache has them); a committed array would add sharding annotations to their XLA
        state = jax.tree.map(lambda x: jax.device_put(np.asarray(x)), state)  # (jnp.asarray would compile)
    return state, meta


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


def checked_new(config: Config, committed_teachers: bool = False) -> Config:
    """A new run's config with everything that can fail on bad input checked, and its notes printed.

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
    return config


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """One run's folder and its config (whose run.run_dir names this folder).

    RunFolder.create(config)     a new run: checks the input, then creates the folder (config.json is
                                 written when training starts: `write_config`)
    RunFolder.open(path)         an existing run, read back from its config.json
    .build(backend=None)         (trainer, teachers): the trainer, and its teachers' state stacked per seed
                                 (None for PPO), from the run's own teacher copies
    .restore(trainer, teachers)  (state, meta) of its newest readable checkpoint
    """

    path: Path
    config: Config

    @classmethod
    def create(cls, config: Config, committed_teachers: bool = False) -> "RunFolder":
        config = checked_new(config, committed_teachers)
        # the default folder is created (exclusively) only now that the input is known to be good
        path = Path(config.run.run_dir) if config.run.run_dir else default_run_dir(config)
        return cls(path, dataclasses.replace(config, run=dataclasses.replace(config.run, run_dir=str(path))))

    @classmethod
    def open(cls, path: Path) -> "RunFolder":
        """A run folder's config, with run_dir naming where the folder is now (a copied or moved run writes
        there); its MJCF robots are registered with its task options."""
        path = Path(path)
        config_file = path / "config.json"
        if not path.is_dir():
            raise ConfigError(f"--resume folder {path} does not exist")
        if not config_file.is_file():
            raise ConfigError(f"--resume folder {path} has no config.json (not a run folder)")
        try:
            config = Config.from_dict(json.loads(config_file.read_text()))
        except (ValueError, TypeError) as err:
            raise ConfigError(f"{config_file} is corrupt: {err}") from None
        check_robots(config)
        return cls(path, dataclasses.replace(config, run=dataclasses.replace(config.run, run_dir=str(path))))

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def latest_checkpoint(self) -> Optional[int]:
        return checkpoint.latest_step(self.checkpoints)

    def write_config(self) -> None:
        write_config(self.path, self.config)

    def finished_summary(self) -> Optional[dict]:
        """The summary of a run that finished all its updates, else None."""
        path = self.path / "summary.json"
        if not path.is_file():
            return None
        try:
            summary = json.loads(path.read_text())
        except ValueError:
            return None
        if summary.get("status", "finished") == "finished" and not summary.get("interrupted") \
                and summary.get("updates") == self.config.num_updates:
            return summary
        return None

    def on_backend(self, backend: str) -> "RunFolder":
        """The same folder read with another physics backend (render needs only the native env's shapes)."""
        return dataclasses.replace(self, config=dataclasses.replace(
            self.config, run=dataclasses.replace(self.config.run, backend=backend)))

    def build(self) -> Tuple[Trainer, Any]:
        teacher_set = teachers_lib.TeacherSet.of_run(self.config, self.path)
        trainer = build_trainer(self.config, teacher_set.firsts)
        return trainer, teacher_set.stacked(trainer.agent, self.config)

    def restore(self, trainer: Trainer, teachers) -> Tuple[Any, dict]:
        return restore_state(self.path, trainer, self.config, teachers)

    def forget_unstarted(self) -> None:
        """Remove what a new run writes before its first checkpoint, and the folder if nothing else is in it."""
        if self.latest_checkpoint() is not None:
            return
        for name in ("checkpoints", teachers_lib.RUN_TEACHERS):
            shutil.rmtree(self.path / name, ignore_errors=True)
        for path in [self.path / "config.json", *self.path.glob(".config.json.*.tmp")]:
            path.unlink(missing_ok=True)
        self.remove_if_empty()

    def remove_if_empty(self) -> None:
        """A student's run folder that nothing was written to (its teachers' training stopped) is not left behind."""
        try:
            self.path.rmdir()  # only an empty folder
        except OSError:
            pass
