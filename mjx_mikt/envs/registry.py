"""The robots: name -> MJCF, task and control substeps."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import jax

import centipede_models
from mjx_mikt.envs import tasks
from mjx_mikt.envs.locomotion import LocomotionEnv
from mjx_mikt.envs.physics import make_physics, require_warp


class UnknownRobotError(ValueError):
    """An env name that is not registered; the message lists the known ones."""


# name -> (substeps per control step, task factory(model, dt)); public: the Gymnasium envs read it too
TASKS: Dict[str, Tuple[int, Callable]] = {
    **{name: (5, tasks.CentipedeTask.from_model) for name in centipede_models.CENTIPEDES},
    "Ant": (5, lambda m, dt: tasks.AntTask(m.qpos0.copy(), m.nv, dt)),
    "Hopper": (4, lambda m, dt: tasks.HopperTask(m.qpos0.copy(), m.nv, dt)),
}


def names() -> Tuple[str, ...]:
    return tuple(TASKS)


def resolve_backend(backend: str) -> str:
    """'auto' -> mjx on GPU/TPU, mujoco on CPU (never mjx-warp: it is opt-in).

    mjx-warp without warp-lang installed raises physics.WarpMissingError (an ImportError and a
    ConfigError), one line naming `pip install .[warp]`.
    """
    if backend == "auto":
        return "mjx" if jax.default_backend() in ("gpu", "cuda", "rocm", "tpu") else "mujoco"
    if backend not in ("mjx", "mujoco", "mjx-warp"):
        raise ValueError(f"unknown backend {backend!r}; choose mjx, mujoco, mjx-warp or auto")
    if backend == "mjx-warp":
        require_warp()
    return backend


def make(name: str, backend: str = "auto", episode_length: int = 1000, **physics_options) -> LocomotionEnv:
    """The env of robot `name` on `backend` ('mjx', 'mujoco', 'mjx-warp' or 'auto': mjx on GPU/TPU).

    physics_options: `nthread` (mujoco), `solver_iterations` / `ls_iterations` (mjx, mjx-warp),
    `max_worlds` / `contacts_per_world` (mjx-warp: contact capacity of one vmapped call, see
    envs/warp_physics.py).
    """
    if name not in TASKS:
        raise UnknownRobotError(f"unknown robot {name!r}; known robots: {', '.join(TASKS)}")
    n_substeps, task_factory = TASKS[name]
    xml = centipede_models.load(name)
    physics = make_physics(xml, n_substeps, resolve_backend(backend), **physics_options)
    model = physics.model
    task = task_factory(model, n_substeps * model.opt.timestep)
    return LocomotionEnv(name, task, physics, n_substeps, episode_length)
