"""Gymnasium environments of the project's robots, on native MuJoCo (float64), for any RL library.

    import gymnasium
    import mjx_mikt.gym_envs  # registers mjx_mikt/CentipedeFour-v0, ... (one id per `envs.names()`)
    env = gymnasium.make("mjx_mikt/CentipedeFour-v0")                  # render_mode="rgb_array" to render
    env = gymnasium.make("mjx_mikt/Centipede-v0", legs=12)             # any even leg count
    env = gymnasium.make("mjx_mikt/Centipede-v0", legs=10, crippled=True)   # CpCentipedeTen
    env = gymnasium.make("mjx_mikt/MJCF-v0", xml="path/to/robot.xml")      # your own robot (below)
    env = gymnasium.make("mjx_mikt/MJCF-v0", xml="path/to/robot.xml", task_options="min_height=0.2")
    envs = gymnasium.make_vec("mjx_mikt/CentipedeFour-v0", num_envs=64)  # batched: gym_vector.py

Your own robot: `MJCF-v0` is the generic id of MJCF files, as `Centipede-v0` is of centipedes: one
registered id, the robot in `gymnasium.make`'s keyword arguments (no id to register per file).
`xml` is the path of an MJCF file (or MJCF text), the generic locomotion task of `mjx_mikt/envs/mjcf.py`,
as `--target path/to/robot.xml` trains on; `task_options` is its --task-options text
('KEY=VALUE,...') or a dict. `env.unwrapped.robot` is the robot's identity `<stem>-<hash8>`
(`mjx_mikt.envs.robot_id`), the name its teachers are stored under. A name given to
`mjx_mikt.envs.register_mjcf` is a robot too: `CentipedeEnv("MyRobot")`.

One definition of the task. The robot's MJCF, control substeps and task (reset
distribution, observation, reward terms, termination) are the ones of
`mjx_mikt.envs` (SPEC §2). The task's observation, reward and termination are evaluated in NumPy
on the float64 physics state: the same functions the JAX env jits, given `xp=numpy`
(envs/tasks.py, gym_task.py), so a step costs no JAX dispatch; only resets call JAX (one call
draws the next 16), to draw the JAX env's initial states. A control step is MuJoCo's own:
`mj_step` of the substeps, then `mj_kinematics`, the native backend's convention (physics.py:
cfrc_ext from the last substep's forward pass, xpos at the new state), bit for bit
(tests/test_gym.py).

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
import mujoco
import numpy as np
from gymnasium import spaces

import centipede_models
from mjx_mikt.envs import mjcf
from mjx_mikt.envs.base import Env, PhysicsState
from mjx_mikt.envs.force_sensor import with_force_sensor
from mjx_mikt.envs.locomotion import RESET_TRIES
from mjx_mikt.envs.physics import STEP_CLOCK_S
from mjx_mikt.envs.registry import MJCF_ROBOTS, TASKS, UnknownRobotError, names
from mjx_mikt.gym_task import DRAWS, evaluate, reset_sampler, seed_key, task_sizes

EPISODE_LENGTH = Env.episode_length  # 1000 control steps (SPEC §2)
NAMESPACE = "mjx_mikt"
GENERIC_CENTIPEDE_ID = f"{NAMESPACE}/Centipede-v0"
MJCF_ID = f"{NAMESPACE}/MJCF-v0"  # gymnasium.make(MJCF_ID, xml=path): the module docstring
VECTOR_ENTRY_POINT = "mjx_mikt.gym_vector:CentipedeVectorEnv"  # gymnasium.make_vec's batched env


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
        self.model = model = with_force_sensor(xml)  # the native backend's model (computes cfrc_ext)
        self.data = data = mujoco.MjData(model)
        self.n_substeps = n_substeps
        self.dt = n_substeps * model.opt.timestep
        self.task = task_factory(model, self.dt)
        self.render_mode = render_mode
        self.width, self.height, self.camera_distance = width, height, camera_distance
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}

        self._sample = reset_sampler(name, self.task, DRAWS)
        self._draws: Optional[tuple] = None  # the drawn resets not yet used, and the next one's index
        ctrl = np.asarray(model.actuator_ctrlrange, np.float32)
        self.action_space = spaces.Box(ctrl[:, 0], ctrl[:, 1], dtype=np.float32)
        obs_size, self.reward_terms = task_sizes(self.task, model)
        self.observation_space = spaces.Box(-np.inf, np.inf, (obs_size,), dtype=np.float64)
        # MjData's arrays (flat), fetched once: views that every mj_ call updates in place
        self._fields = (data.qpos, data.qvel, data.qacc_warmstart, data.xpos.reshape(-1), data.cfrc_ext.reshape(-1))
        self._ctrl = data.ctrl
        # two flat buffers, each with its PhysicsState of views, written in turn: a step's state is copied
        # out of MjData into one while the state before it (the reward's `before`) stays in the other
        a, b, c, d, e = np.cumsum([x.size for x in self._fields])
        self._buffers = [(flat, PhysicsState(flat[:a], flat[a:b], flat[b:c], flat[c:d].reshape(-1, 3),
                                             flat[d:e].reshape(-1, 6))) for flat in (np.zeros(e), np.zeros(e))]
        self._front = 0
        self._rng: Optional[np.ndarray] = None  # (2,) uint32: the key chain of later resets
        self._state: Optional[PhysicsState] = None
        self._renderer = None
        self._render_data = None
        self._camera = None

    # ------------------------------------------------------------- physics
    def _snapshot(self) -> Tuple[PhysicsState, bool]:
        """(the simulation's qpos, qvel, qacc_warmstart, xpos, cfrc_ext, copied into the buffer that does
        not hold the last snapshot; whether all are finite)."""
        self._front ^= 1
        flat, ps = self._buffers[self._front]
        np.concatenate(self._fields, out=flat)  # one copy, one finiteness test
        return ps, bool(np.isfinite(flat).all())

    def _init(self, qpos, qvel, warmstart=None) -> Tuple[PhysicsState, bool]:
        """`NativePhysics.init`: forward at (qpos, qvel) with zero control and warm start (the state's
        warm start is then `warmstart`, default zero), and whether the state is finite."""
        m, d = self.model, self.data
        d.qpos[:], d.qvel[:] = qpos, qvel
        d.qacc_warmstart[:] = 0.0
        self._ctrl[:] = 0.0
        mujoco.mj_forward(m, d)
        if warmstart is not None:
            d.qacc_warmstart[:] = warmstart
        return self._snapshot()

    def _advance(self, action: np.ndarray) -> Tuple[PhysicsState, bool]:
        """One control step (`NativePhysics.host_step`'s): (the state after it, whether MuJoCo integrated
        it: the action and the result finite, no instability reset, which sets the clock back)."""
        d = self.data
        ok = bool(np.isfinite(action).all())
        self._ctrl[:] = action if ok else 0.0
        d.time = STEP_CLOCK_S
        try:
            mujoco.mj_step(self.model, d, self.n_substeps)
            mujoco.mj_kinematics(self.model, d)  # xpos at the new state
        except mujoco.FatalError:
            ok = False
        after, finite = self._snapshot()
        return after, ok and finite and d.time >= STEP_CLOCK_S

    def _fresh(self) -> PhysicsState:
        """`LocomotionEnv._fresh_physics`: the first healthy of RESET_TRIES candidates (else the first)."""
        if self._draws is None or self._draws[3] == DRAWS:
            keys, qpos, qvel = (x[0] for x in self._sample(self._rng[None]))
            self._draws = [keys, qpos.astype(np.float64), qvel.astype(np.float64), 0]
        keys, qpos, qvel, d = self._draws
        self._draws[3] += 1
        self._rng, qpos, qvel = keys[d], qpos[d], qvel[d]
        for i in range(RESET_TRIES):
            ps, finite = self._init(qpos[i], qvel[i])
            if finite and not self.task.unhealthy(ps, xp=np):
                return ps
        return self._init(qpos[0], qvel[0])[0]

    @property
    def physics_state(self) -> Optional[PhysicsState]:
        """A copy of the current PhysicsState (float64 numpy arrays)."""
        return None if self._state is None else jax.tree.map(np.copy, self._state)

    def set_state(self, qpos, qvel, qacc_warmstart=None) -> np.ndarray:
        """Put the simulation at (qpos, qvel) (and a solver warm start; default zero).

        For example from a JAX env's `state.physics`, to continue it here. Returns the observation.
        """
        self._state = ps = self._init(qpos, qvel, qacc_warmstart)[0]
        return self.task.observe(ps, xp=np)

    # ------------------------------------------------------------- gym API
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        if seed is not None or self._rng is None:
            self._rng = seed_key(seed if seed is not None else int(self.np_random.integers(2 ** 31)))
            self._draws = None  # a new chain
        self._state = self._fresh()
        return self.task.observe(self._state, xp=np), {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, np.float64)
        if action.shape != (self.model.nu,):
            raise ValueError(f"{self.robot}: action has shape {action.shape}, expected ({self.model.nu},)")
        before = self._state
        self._state, ok = self._advance(action)
        if not ok:  # as the JAX env: reward 0, a zero observation, the episode ends
            info: Dict[str, Any] = dict.fromkeys(self.reward_terms, 0.0)
            info["physics_failure"] = True
            return np.zeros(self.observation_space.shape), 0.0, True, False, info
        obs, terms, reward, unhealthy = evaluate(self.task, before, self._state, action)
        info = {k: float(terms[k]) for k in self.reward_terms}
        info["physics_failure"] = False
        return obs, float(reward), bool(unhealthy), False, info

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
    """Register one id per robot of `mjx_mikt.envs.names()`, the generic `Centipede-v0` and `MJCF-v0`, each
    with the batched vector env (`gymnasium.make_vec(id, num_envs=N)`) as its vector entry point."""
    entry = "mjx_mikt.gym_envs:CentipedeEnv"
    ids = [(env_id(name), entry, VECTOR_ENTRY_POINT, {"robot": name}) for name in names()]
    ids += [(GENERIC_CENTIPEDE_ID, entry, VECTOR_ENTRY_POINT, {"legs": 4}),
            (MJCF_ID, "mjx_mikt.gym_envs:MjcfEnv", "mjx_mikt.gym_vector:MjcfVectorEnv", {})]
    for gym_id, entry_point, vector_entry_point, kwargs in ids:
        if gym_id not in gymnasium.registry:
            gymnasium.register(id=gym_id, entry_point=entry_point, vector_entry_point=vector_entry_point,
                               kwargs=kwargs, max_episode_steps=EPISODE_LENGTH)


register_all()

__all__ = ["CentipedeEnv", "EPISODE_LENGTH", "GENERIC_CENTIPEDE_ID", "MJCF_ID", "MjcfEnv", "VECTOR_ENTRY_POINT",
           "env_id", "mjcf_spec", "register_all", "robot_spec"]
