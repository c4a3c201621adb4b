"""The robots: name -> MJCF, task and control substeps.

A robot name is one of `names()` (the checked-in robots), any centipede the generator builds
(CentipedeTen, CpCentipede12), a name given to `register_mjcf`, or the path of an MJCF file
(ending in .xml: the generic task of envs/mjcf.py with default options).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Tuple, Union

import jax

import centipede_models
from mjx_mikt.config import ConfigError
from mjx_mikt.envs import mjcf, tasks
from mjx_mikt.envs.locomotion import LocomotionEnv
from mjx_mikt.envs.physics import make_physics, require_warp


class UnknownRobotError(ConfigError):
    """An env name that is not registered; the message lists the known ones."""


# name -> (substeps per control step, task factory(model, dt)); public: the Gymnasium envs read it too
TASKS: Dict[str, Tuple[int, Callable]] = {
    **{name: (5, tasks.CentipedeTask.from_model) for name in centipede_models.CENTIPEDES},
    "Ant": (5, lambda m, dt: tasks.AntTask(m.qpos0.copy(), m.nv, dt)),
    "Hopper": (4, lambda m, dt: tasks.HopperTask(m.qpos0.copy(), m.nv, dt)),
}


# name -> robot registered by `register_mjcf` (in this process)
MJCF_ROBOTS: Dict[str, mjcf.MjcfRobot] = {}


def names() -> Tuple[str, ...]:
    """The checked-in robots (the other names `make` takes: see the module docstring)."""
    return tuple(TASKS)


def register_mjcf(name: str, xml: Union[str, Path], **task_options) -> str:
    """Register the robot of an MJCF file (a path) or text as `name`, with the generic locomotion task.

    task_options: fields of `mjcf.TaskOptions` (values typed or as text). Raises mjcf.MjcfError
    (one line) for a file that does not parse, has no actuators or no root. Returns the robot's
    identity `<name>-<hash8>` (a path's stem for a name ending in .xml): `make(name).name` and its
    teacher-store folder. Registering a name again replaces it.
    """
    robot = mjcf.load_robot(name, xml, **task_options)
    MJCF_ROBOTS[name] = robot
    return robot.identity


def _robot(name: str) -> Tuple[str, str, int, Callable]:
    """(identity, MJCF text, substeps per control step, task factory(model, dt)) of a robot name."""
    if name in TASKS:
        return (name, centipede_models.load(name)) + tuple(TASKS[name])
    robot = MJCF_ROBOTS.get(name) or (mjcf.load_robot(name, name) if mjcf.is_mjcf_path(name) else None)
    if robot is not None:
        return robot.identity, robot.xml, robot.n_substeps, robot.task
    generated = centipede_models.parse_name(name)
    if generated is not None:  # they all share the checked-in centipedes' task and substeps
        return (name, centipede_models.make_centipede(*generated)) + tuple(TASKS["CentipedeFour"])
    raise UnknownRobotError(f"unknown robot {name!r}; known robots: {', '.join(TASKS)}, any CentipedeN "
                            "(even N >= 4, e.g. CentipedeTen) or the path of an MJCF file (.xml)")


def robot_id(name: str) -> str:
    """A robot's identity: its name, or `<name>-<hash8>` for an MJCF robot (envs/mjcf.py); the env's name."""
    return _robot(name)[0]


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
    """The env of robot `name` (module docstring; env.name is `robot_id(name)`) on `backend` ('mjx',
    'mujoco', 'mjx-warp' or 'auto': mjx on GPU/TPU).

    physics_options: `nthread` (mujoco), `solver_iterations` / `ls_iterations` (mjx, mjx-warp),
    `max_worlds` / `contacts_per_world` (mjx-warp: contact capacity of one vmapped call, see
    envs/warp_physics.py).
    """
    identity, xml, n_substeps, task_factory = _robot(name)
    backend = resolve_backend(backend)
    try:
        physics = make_physics(xml, n_substeps, backend, **physics_options)
    except NotImplementedError as err:  # MJX's put_model names the feature it lacks
        feature = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise mjcf.MjcfError(f"{name}: backend {backend} does not support this model ({feature}); "
                             "use --backend mujoco") from None
    model = physics.model
    task = task_factory(model, n_substeps * model.opt.timestep)
    return LocomotionEnv(identity, task, physics, n_substeps, episode_length)
