"""Gymnasium environments of the project's robots, on native MuJoCo (float64), for any RL library.

    import gymnasium
    import mjx_mikt.gym_envs  # registers mjx_mikt/CentipedeFour-v0, ... (one id per `envs.names()`)
    env = gymnasium.make("mjx_mikt/CentipedeFour-v0")                  # render_mode="rgb_array" to render
    env = gymnasium.make("mjx_mikt/Centipede-v0", legs=12)             # any even leg count
    env = gymnasium.make("mjx_mikt/Centipede-v0", legs=10, crippled=True)   # CpCentipedeTen
    env = gymnasium.make("mjx_mikt/MJCF-v0", xml="path/to/robot.xml")      # your own robot (below)
    env = gymnasium.make("mjx_mikt/MJCF-v0", xml="path/to/robot.xml", task_options="min_height=0.2")

Your own robot: `MJCF-v0` is the generic id of MJCF files, as `Centipede-v0` is of centipedes: one
registered id, the robot in `gymnasium.make`'s keyword arguments (no id to register per file).
`xml` is the path of an MJCF file (or MJCF text), the generic locomotion task of `mjx_mikt/envs/mjcf.py`,
as `--target path/to/robot.xml` trains on; `task_options` is its --task-options text
('KEY=VALUE,...') or a dict. `env.unwrapped.robot` is the robot's identity `<stem>-<hash8>`
(`mjx_mikt.envs.robot_id`), the name its teachers are stored under. A name given to
`mjx_mikt.envs.register_mjcf` is a robot too: `CentipedeEnv("MyRobot")`.

One definition of the task. The robot's MJCF, control substeps and task (reset
distribution, observation, reward terms, termination) are the ones of
`mjx_mikt.envs` (SPEC §2): the task's pure JAX functions are jitted once per env
and called on the float64 physics state, under `jax.enable_x64`. A control step
is the native backend's own host step (`NativePhysics.host_step` on a batch of one),
so cfrc_ext and xpos follow `physics.py`'s convention exactly.

Differences from `mjx_mikt.envs` (a batched, auto-resetting JAX env):
- no auto-reset: `step` after `terminated` or `truncated` needs a `reset` (gymnasium's API);
- the 1000-step time limit is gymnasium's `TimeLimit`, added by `gymnasium.make` through the
  registered `max_episode_steps` (the env itself never truncates: a `CentipedeEnv(...)`
  made directly has no time limit);
- physics stays float64 between steps (the JAX env rounds its state to float32 each step).

`reset(seed=s)` gives the initial state of `mjx_mikt.envs.make(name).reset(jax.random.PRNGKey(s))`
(the same key derivation and float32 sampling); later resets draw from the env's own key chain.
A step that MuJoCo cannot integrate (non-finite state, or MuJoCo reset it for instability) ends
the episode with reward 0 and a zero observation, as in the JAX env; `info["physics_failure"]`
is then True. `info` also carries every reward term (forward, ctrl_cost, ...).

Rendering: `render_mode="rgb_array"` draws with `mujoco.Renderer` from a camera tracking the
first body. The package sets MUJOCO_GL=egl when it is unset and libEGL loads
(`mjx_mikt.default_gl_backend`); MuJoCo reads it when it is first imported, so for headless
rendering import this module before anything imports mujoco (or export MUJOCO_GL=egl).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import gymnasium
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from gymnasium import spaces

import centipede_models
from mjx_mikt.envs import mjcf
from mjx_mikt.envs.base import Env, PhysicsState
from mjx_mikt.envs.locomotion import RESET_TRIES
from mjx_mikt.envs.physics import NativePhysics
from mjx_mikt.envs.registry import MJCF_ROBOTS, TASKS, UnknownRobotError, names

EPISODE_LENGTH = Env.episode_length  # 1000 control steps (SPEC §2)
NAMESPACE = "mjx_mikt"
GENERIC_CENTIPEDE_ID = f"{NAMESPACE}/Centipede-v0"
MJCF_ID = f"{NAMESPACE}/MJCF-v0"  # gymnasium.make(MJCF_ID, xml=path): the module docstring


def env_id(robot: str) -> str:
    """The gymnasium id of a registered robot, e.g. 'mjx_mikt/CentipedeFour-v0'."""
    return f"{NAMESPACE}/{robot}-v0"


TaskOptionsArg = Union[None, str, Mapping[str, Any]]


def mjcf_spec(xml: Union[str, Path], task_options: TaskOptionsArg = None) -> Tuple[str, str, int, Any]:
    """robot_spec of an MJCF file's path (or MJCF text) with the generic task; task_options: the
    --task-options text 'KEY=VALUE,...' or a dict. mjcf.MjcfError (one line) for a bad file or option."""
    if task_options is None or isinstance(task_options, str):
        options = mjcf.parse_task_options(task_options or "")
    else:
        options = dict(task_options)
    text = mjcf.is_mjcf_text(xml)
    robot = mjcf.load_robot("MJCF" if text else str(xml), xml, **options)
    return robot.identity, robot.xml, robot.n_substeps, robot.task


def robot_spec(robot: Optional[str] = None, legs: Optional[int] = None, crippled: bool = False,
               xml: Union[None, str, Path] = None, task_options: TaskOptionsArg = None) -> Tuple[str, str, int, Any]:
    """(name, MJCF text, substeps per control step, task factory) of a robot.

    `legs` (even, >= 4) picks a centipede of that many legs (crippled: CpCentipedeN) and
    overrides `robot`; generated centipedes share the checked-in centipedes' task and substeps.
    `xml` (an MJCF file's path or text; `robot` given as a .xml path is one too) is a robot of the
    generic task with `task_options` (`mjcf_spec`); its name is its identity `<stem>-<hash8>`.
    """
    if robot is not None and mjcf.is_mjcf_path(robot) and xml is None:
        robot, xml = None, robot
    if task_options and xml is None:
        raise ValueError("task_options set the generic task of an MJCF robot: give xml=path/to/robot.xml")
    if xml is not None:
        if robot is not None or legs is not None or crippled:
            raise ValueError("xml= is the robot: give no robot, legs or crippled with it")
        return mjcf_spec(xml, task_options)
    if legs is not None:
        name = centipede_models.model_name(legs, crippled)
        if robot is not None and robot != name:
            raise ValueError(f"robot={robot!r} and legs={legs}, crippled={crippled} ({name}) disagree")
        if name in TASKS:
            return (name, centipede_models.load(name)) + tuple(TASKS[name])
        any_centipede = next(iter(centipede_models.CENTIPEDES))  # they all share one task and substeps
        return (name, centipede_models.make_centipede(legs, crippled)) + tuple(TASKS[any_centipede])
    robot = robot or "CentipedeFour"
    if crippled:
        raise ValueError("crippled=True needs legs=N (or name the robot, e.g. CpCentipedeSix)")
    if robot not in TASKS and robot in MJCF_ROBOTS:  # registered with mjx_mikt.envs.register_mjcf
        found = MJCF_ROBOTS[robot]
        return found.identity, found.xml, found.n_substeps, found.task
    if robot not in TASKS:
        raise UnknownRobotError(f"unknown robot {robot!r}; known robots: {', '.join(TASKS)}"
                                " (or legs=N for any centipede, xml=path/to/robot.xml for an MJCF file)")
    return (robot, centipede_models.load(robot)) + tuple(TASKS[robot])


def _renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """mujoco.Renderer on the GL backend that MUJOCO_GL names now.

    MuJoCo picks its GL backend when it is first imported; if that happened before this module
    set MUJOCO_GL=egl (e.g. `import mjx_mikt.envs` first), the renderer is built on EGL anyway.
    """
    from mujoco.rendering.classic import gl_context

    wanted = os.environ.get("MUJOCO_GL", "").lower()
    if wanted != "egl" or getattr(gl_context, "_MUJOCO_GL", "egl") == "egl":
        return mujoco.Renderer(model, height, width)
    from mujoco.egl import GLContext

    chosen = gl_context.GLContext
    gl_context.GLContext = GLContext  # read by Renderer.__init__ only
    try:
        return mujoco.Renderer(model, height, width)
    finally:
        gl_context.GLContext = chosen


_split = jax.jit(jax.random.split)
_COMPILED: Dict[str, tuple] = {}


def _task_functions(robot: str, task) -> tuple:
    """Jitted (sample, evaluate, observe_unhealthy) of a robot's task, shared by its envs.

    sample(key): RESET_TRIES reset candidates, drawn in float32 as the JAX env does (so a seed
    gives its state). evaluate(before, after, action) and observe_unhealthy(ps) are called under
    jax.enable_x64 (float64); evaluate returns one flat vector [obs, sorted reward terms, reward,
    unhealthy] so that a step costs a single device-to-host copy.
    """
    if robot not in _COMPILED:
        def evaluate(before, after, action):
            terms = task.reward(before, after, action)
            extras = [terms[k] for k in sorted(terms)] + [sum(terms.values()), task.unhealthy(after)]
            return jnp.concatenate([task.observe(after), jnp.stack(extras).astype(jnp.float64)])

        _COMPILED[robot] = (
            jax.jit(lambda key: jax.vmap(task.sample)(jax.random.split(key, RESET_TRIES))),
            jax.jit(evaluate),
            jax.jit(lambda ps: (task.observe(ps), task.unhealthy(ps))),
        )
    return _COMPILED[robot]


def _finite(ps: PhysicsState) -> bool:
    return all(bool(np.isfinite(x).all()) for x in jax.tree.leaves(ps))


class CentipedeEnv(gymnasium.Env):
    """One robot's task (SPEC §2) as a Gymnasium env on native MuJoCo. See the module docstring.

    robot: a name of `mjx_mikt.envs.names()` (or of `mjx_mikt.envs.register_mjcf`); or legs=N
    (crippled=True for CpCentipedeN); or xml=path/to/robot.xml with task_options (`robot_spec`).
    render_mode: None or "rgb_array" (width x height pixels, from a camera `camera_distance`
    from the tracked first body; None: a distance from the robot's span).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, robot: Optional[str] = None, legs: Optional[int] = None, crippled: bool = False,
                 render_mode: Optional[str] = None, width: int = 480, height: int = 480,
                 camera_distance: Optional[float] = None, xml: Union[None, str, Path] = None,
                 task_options: TaskOptionsArg = None):
        name, xml, n_substeps, task_factory = robot_spec(robot, legs, crippled, xml, task_options)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode {render_mode!r} is not supported; use 'rgb_array' or None")
        self.robot = name
        self.physics = NativePhysics(xml, n_substeps, nthread=1)  # the native backend, batch of one
        self.model = model = self.physics.model
        self.n_substeps = n_substeps
        self.dt = n_substeps * model.opt.timestep
        self.task = task_factory(model, self.dt)
        self.render_mode = render_mode
        self.width, self.height, self.camera_distance = width, height, camera_distance
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}

        self._sample, self._evaluate, self._observe_unhealthy = _task_functions(name, self.task)
        task = self.task
        ctrl = np.asarray(model.actuator_ctrlrange, np.float32)
        self.action_space = spaces.Box(ctrl[:, 0], ctrl[:, 1], dtype=np.float32)
        zeros = PhysicsState(np.zeros(model.nq), np.zeros(model.nv), np.zeros(model.nv),
                             np.zeros((model.nbody, 3)), np.zeros((model.nbody, 6)))
        with jax.enable_x64(True):
            obs_shape = jax.eval_shape(task.observe, zeros).shape
            self.reward_terms = tuple(sorted(jax.eval_shape(task.reward, zeros, zeros, np.zeros(model.nu))))
        self.observation_space = spaces.Box(-np.inf, np.inf, obs_shape, dtype=np.float64)
        self._rng: Optional[jax.Array] = None
        self._state: Optional[PhysicsState] = None
        self._renderer = None
        self._render_data = None
        self._camera = None

    # ------------------------------------------------------------- physics
    def _native(self, qpos, qvel, warmstart, ctrl, stepping: bool) -> PhysicsState:
        """One host call of the native backend (`NativePhysics.host_step`) on float64 arrays."""
        args = [np.asarray(x, np.float64)[None] for x in (qpos, qvel, warmstart, ctrl)]
        out = self.physics.host_step(*args, None, stepping=stepping)
        return PhysicsState(*(np.array(x[0]) for x in out))

    def _init(self, qpos, qvel) -> PhysicsState:
        """`NativePhysics.init`: forward at (qpos, qvel) with zero control and warm start."""
        m = self.model
        ps = self._native(qpos, qvel, np.zeros(m.nv), np.zeros(m.nu), stepping=False)
        return ps.replace(qacc_warmstart=np.zeros(m.nv))

    def _fresh(self, key) -> PhysicsState:
        """`LocomotionEnv._fresh_physics`: the first healthy of RESET_TRIES candidates (else the first)."""
        qpos, qvel = (np.asarray(x, np.float64) for x in self._sample(key))
        first = None
        for i in range(RESET_TRIES):
            ps = self._init(qpos[i], qvel[i])
            first = ps if first is None else first
            if _finite(ps) and not self._observe_and_check(ps)[1]:
                return ps
        return first

    def _observe_and_check(self, ps: PhysicsState) -> Tuple[np.ndarray, bool]:
        with jax.enable_x64(True):
            obs, unhealthy = jax.device_get(self._observe_unhealthy(ps))
        return np.asarray(obs, np.float64), bool(unhealthy)

    @property
    def physics_state(self) -> PhysicsState:
        """The current PhysicsState (float64 numpy arrays)."""
        return self._state

    def set_state(self, qpos, qvel, qacc_warmstart=None) -> np.ndarray:
        """Put the simulation at (qpos, qvel) (and a solver warm start; default zero).

        For example from a JAX env's `state.physics`, to continue it here. Returns the observation.
        """
        ps = self._init(qpos, qvel)
        if qacc_warmstart is not None:
            ps = ps.replace(qacc_warmstart=np.array(qacc_warmstart, np.float64))
        self._state = ps
        return self._observe_and_check(ps)[0]

    # ------------------------------------------------------------- gym API
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = jax.random.PRNGKey(seed)
        elif self._rng is None:
            self._rng = jax.random.PRNGKey(int(self.np_random.integers(2 ** 31)))
        self._rng, sub = _split(self._rng)  # as LocomotionEnv.reset
        self._state = self._fresh(sub)
        obs, _ = self._observe_and_check(self._state)
        return obs, {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, np.float64)
        if action.shape != (self.model.nu,):
            raise ValueError(f"{self.robot}: action has shape {action.shape}, expected ({self.model.nu},)")
        before = self._state
        after = self._native(before.qpos, before.qvel, before.qacc_warmstart, action, stepping=True)
        with jax.enable_x64(True):
            flat = np.asarray(self._evaluate(before, after, action))
        n = self.observation_space.shape[0]
        *terms, reward, unhealthy = flat[n:].tolist()
        finite = _finite(after)
        info: Dict[str, Any] = {k: v if finite else 0.0 for k, v in zip(self.reward_terms, terms)}
        info["physics_failure"] = not finite
        self._state = after
        obs = flat[:n] if finite else np.zeros(n)
        reward = reward if finite else 0.0
        terminated = (not finite) or unhealthy != 0.0
        return obs, reward, terminated, False, info

    def render(self):
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        if self._renderer is None:
            m = self.model
            m.vis.global_.offwidth = max(m.vis.global_.offwidth, self.width)
            m.vis.global_.offheight = max(m.vis.global_.offheight, self.height)
            self._renderer = _renderer(m, self.height, self.width)
            self._render_data = mujoco.MjData(m)
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            cam.trackbodyid = 1
            if self.camera_distance is None:  # frame the robot's span at reset
                d = mujoco.MjData(m)
                mujoco.mj_kinematics(m, d)
                span = float(np.ptp(d.xpos[1:], axis=0).max()) if m.nbody > 2 else 1.0
                self.camera_distance = 1.5 * span + 1.5
            cam.distance = self.camera_distance
            cam.elevation, cam.azimuth = -20.0, 90.0
            self._camera = cam
        d = self._render_data
        d.qpos[:], d.qvel[:] = self._state.qpos, self._state.qvel
        mujoco.mj_forward(self.model, d)
        self._renderer.update_scene(d, camera=self._camera)
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class MjcfEnv(CentipedeEnv):
    """`MJCF-v0`'s env: CentipedeEnv(xml=..., task_options=...), with no default robot."""

    def __init__(self, xml: Union[None, str, Path] = None, task_options: TaskOptionsArg = None, **kwargs):
        if xml is None:
            raise ValueError(f"{MJCF_ID} needs the robot: gymnasium.make({MJCF_ID!r}, xml='path/to/robot.xml')")
        super().__init__(xml=xml, task_options=task_options, **kwargs)


def register_all() -> None:
    """Register one id per robot of `mjx_mikt.envs.names()`, the generic `Centipede-v0` and `MJCF-v0`."""
    entry = "mjx_mikt.gym_envs:CentipedeEnv"
    ids = [(env_id(name), entry, {"robot": name}) for name in names()]
    ids += [(GENERIC_CENTIPEDE_ID, entry, {"legs": 4}), (MJCF_ID, "mjx_mikt.gym_envs:MjcfEnv", {})]
    for gym_id, entry_point, kwargs in ids:
        if gym_id not in gymnasium.registry:
            gymnasium.register(id=gym_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=EPISODE_LENGTH)


register_all()

__all__ = ["CentipedeEnv", "EPISODE_LENGTH", "GENERIC_CENTIPEDE_ID", "MJCF_ID", "MjcfEnv", "env_id", "mjcf_spec",
           "register_all", "robot_spec"]
