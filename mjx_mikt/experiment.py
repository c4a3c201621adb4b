"""Assembling a run: env + agent (+ teachers) + trainer, the teacher store, summaries.

The CLI (`run.py`) parses flags into a Config and calls these; tests and the
benchmarks call them directly.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mjx_mikt import agents as agents_lib
from mjx_mikt import checkpoint, envs
from mjx_mikt.checkpoint import CheckpointError
from mjx_mikt.config import Config, ConfigError
from mjx_mikt.loop import RunResult, run_training
from mjx_mikt.train import Trainer, make_train


def check_robots(config: Config) -> None:
    """Fail early, with the list of known robots, on an unknown name."""
    known = envs.names()
    robots = [config.run.target] + (list(config.run.source) if config.run.method != "ppo" else [])
    for robot in robots:
        if robot not in known:
            raise ConfigError(f"unknown robot {robot!r}; known robots: {', '.join(known)}")


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
    env = envs.make(config.run.target, backend=envs.resolve_backend(config.run.backend))
    agent = agents_lib.make_agent(
        config.run.method, env.observation_size, env.action_size, config.ppo, config.mikt, teachers
    )
    return make_train(config, env, agent, env_sharding=env_sharding(config.ppo.num_envs))


# ------------------------------------------------------------ teacher store
def store_path(config: Config, robot: str) -> Path:
    return Path(config.run.teacher_store) / robot


def load_teacher_spec(path: Path, robot: str) -> "agents_lib.TeacherSpec":
    """Load a teacher and check it is one for `robot` with that robot's dims."""
    data = checkpoint.load_teacher(path)
    if data["robot"] != robot:
        raise CheckpointError(f"teacher {path} was trained on {data['robot']}, not on the source robot {robot}")
    env = envs.make(robot, backend="mujoco")
    if (data["observation_size"], data["action_size"]) != (env.observation_size, env.action_size):
        raise CheckpointError(
            f"teacher {path} has obs/action sizes {data['observation_size']}/{data['action_size']}, "
            f"but {robot} has {env.observation_size}/{env.action_size}"
        )
    return agents_lib.TeacherSpec(
        params=jax.tree.map(np.asarray, data["params"]),
        observation_size=data["observation_size"],
        action_size=data["action_size"],
        robot=robot,
    )


def missing_teachers(config: Config) -> List[str]:
    """Source robots with neither --teacher nor a store entry."""
    if config.run.method == "ppo" or config.run.teacher_path:
        return []
    return [r for r in config.run.source if not (store_path(config, r) / checkpoint.TEACHER_FILE).is_file()]


def resolve_teachers(config: Config) -> list:
    if config.run.method == "ppo":
        return []
    if config.run.teacher_path:
        paths = [Path(p) for p in config.run.teacher_path.split(",")]
        if len(paths) != len(config.run.source):
            raise ConfigError(f"--teacher gives {len(paths)} paths for {len(config.run.source)} source robots")
    else:
        paths = [store_path(config, r) for r in config.run.source]
    return [load_teacher_spec(p, r) for p, r in zip(paths, config.run.source)]


def export_teacher(result: RunResult, trainer: Trainer, config: Config, store: Path) -> Path:
    """Register the best seed of a finished `ppo` run as the teacher of its robot."""
    best = int(np.nanargmax(result.eval_returns.mean(axis=1)))
    state = result.final_state
    params = jax.tree.map(lambda x: np.asarray(x)[best], state.params)
    info = {
        "source_run": str(result.run_dir),
        "seed": config.run.seed + best,
        "env_steps": result.env_steps,
        "eval_return": float(result.eval_returns[best].mean()),
        "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    env = trainer.env
    for directory in (result.run_dir / "teacher", store):
        checkpoint.save_teacher(directory, config.run.target, env.observation_size, env.action_size, params,
                                np.asarray(state.obs_stats.mean)[best], np.asarray(state.obs_stats.var)[best], info)
    return store


# ------------------------------------------------------------------ summary
def default_run_dir(config: Config) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.run.target}-{config.run.method}-{stamp}"


def write_config(run_dir: Path, config: Config) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(config.to_json())


def load_run_config(run_dir: Path) -> Config:
    path = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise ConfigError(f"--resume folder {run_dir} does not exist")
    if not path.is_file():
        raise ConfigError(f"--resume folder {run_dir} has no config.json (not a run folder)")
    try:
        return Config.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{path} is corrupt: {err}") from None


def summarize(result: RunResult, config: Config, out=sys.stdout) -> dict:
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
    }
    (result.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    pair = f"{'+'.join(summary['source'])} -> {config.run.target}" if summary["source"] else config.run.target
    lines = [
        "",
        f"{config.run.method} | {pair}",
        f"{'seed':>6} | final eval return",
    ]
    for i, value in enumerate(per_seed):
        lines.append(f"{config.run.seed + i:>6} | {value:12.1f}")
    mean = summary["eval_return_mean"]
    lines += [
        f"{'mean':>6} | {mean:12.1f}" if mean is not None else f"{'mean':>6} |            -",
        f"env steps per seed: {result.env_steps:,} ({result.updates} updates) in {result.wall_time / 60:.1f} min",
        f"run folder: {result.run_dir}",
        f"view: tensorboard --logdir {result.run_dir / 'tb'}",
    ]
    print("\n".join(lines), file=out, flush=True)
    return summary


def train_and_report(config: Config, run_dir: Path, teachers: Sequence = (), resume: bool = False,
                     label: Optional[str] = None) -> dict:
    trainer = build_trainer(config, teachers)
    if not resume:
        write_config(run_dir, config)
    label = label or f"{config.run.method} {config.run.target}"
    meta = {"target": config.run.target, "method": config.run.method}
    result = run_training(trainer, config, run_dir, label, resume=resume, meta=meta)
    summary = summarize(result, config)
    if config.run.method == "ppo" and not result.interrupted:
        store = store_path(config, config.run.target)
        export_teacher(result, trainer, config, store)
        print(f"teacher for {config.run.target} registered in {store}", flush=True)
    return summary
