"""A plain MuJoCo-Python implementation of the centipedes' task: the yardstick of the Gymnasium env's speed.

`PlainCentipedeEnv(robot)` is written the way Gymnasium's own MuJoCo envs (Ant-v5 and the like)
are written, directly against MuJoCo's Python API, with no JAX and nothing of `mjx_mikt.envs`
but the robot's XML:

- the model: the robot's MJCF (`centipede_models.load`) compiled with the accelerometer that
  `mjx_mikt.envs.force_sensor.with_force_sensor` adds, whose only effect is that MuJoCo computes
  cfrc_ext in every step (Gymnasium's Ant-v5 calls mj_rnePostConstraint for the same purpose);
- a step: `data.ctrl[:] = action`, `mj_step(model, data, nstep=5)` (RK4, the robot's 5 substeps),
  `mj_kinematics` (the torso positions at the new state), then NumPy: the observation
  [qpos[2:], qvel, clip(cfrc_ext, -1, 1)], the reward terms forward / ctrl_cost / contact_cost /
  survive and the termination on torso height and twist, as `mjx_mikt.envs.tasks.CentipedeTask`
  defines them (tests/test_gym.py checks that it gives the same numbers as the project's env);
- a reset: qpos0 plus uniform noise, the body joints redrawn (CentipedeTask.sample's distribution,
  drawn with NumPy), one `mj_forward`.

It does not check the state for NaN or MuJoCo's instability resets, nor draw several reset
candidates, as the project's env does. `python -m bench.gym_speed` times it beside
`gymnasium.make("mjx_mikt/CentipedeN-v0")`; both go through `gymnasium.make`'s wrappers
(`register_plain` registers this one as `bench/Plain<robot>-v0`).
"""

from __future__ import annotations

from typing import Optional

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces

import centipede_models
from mjx_mikt.envs.force_sensor import with_force_sensor

N_SUBSTEPS = 5  # the centipedes' control substeps (mjx_mikt.envs.registry.TASKS)


def plain_id(robot: str) -> str:
    return f"bench/Plain{robot}-v0"


class PlainCentipedeEnv(gymnasium.Env):
    """A centipede's task on MuJoCo's Python API (module docstring). Observations (nq - 2 + nv + 6 nbody,)."""

    metadata = {"render_modes": []}

    def __init__(self, robot: str = "CentipedeFour"):
        self.model = m = with_force_sensor(centipede_models.load(robot))
        self.data = mujoco.MjData(m)
        self.dt = N_SUBSTEPS * m.opt.timestep
        body = lambda name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)
        torsos = []
        while body(f"torso_{len(torsos)}") >= 0:
            torsos.append(body(f"torso_{len(torsos)}"))
        self.torsos = np.array(torsos)
        self.last_torso = torsos[-1]
        joints = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"bodyupdown_{k}") for k in range(1, len(torsos))]
        self.updown = np.array([m.jnt_qposadr[j] for j in joints] + [5])  # as CentipedeTask.sample
        self.legs = 2 * len(torsos)
        ctrl = np.asarray(m.actuator_ctrlrange, np.float32)
        self.action_space = spaces.Box(ctrl[:, 0], ctrl[:, 1], dtype=np.float32)
        size = m.nq - 2 + m.nv + 6 * m.nbody
        self.observation_space = spaces.Box(-np.inf, np.inf, (size,), dtype=np.float64)

    def _obs(self, cfrc: np.ndarray) -> np.ndarray:
        d = self.data
        return np.concatenate([d.qpos[2:], d.qvel, cfrc.ravel()])

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        m, d, rng = self.model, self.data, self.np_random
        mujoco.mj_resetData(m, d)
        qpos = m.qpos0 + rng.uniform(-0.1, 0.1, m.nq)
        scale = 0.1 / (len(self.torsos) - 1)
        qpos[self.updown] = rng.uniform(-scale, scale, len(self.updown))
        d.qpos[:], d.qvel[:] = qpos, 0.1 * rng.standard_normal(m.nv)
        mujoco.mj_forward(m, d)
        return self._obs(np.clip(d.cfrc_ext, -1.0, 1.0)), {}

    def step(self, action):
        m, d = self.model, self.data
        x_before = d.xpos[self.last_torso, 0]
        d.ctrl[:] = action
        mujoco.mj_step(m, d, N_SUBSTEPS)
        mujoco.mj_kinematics(m, d)
        forward = (d.xpos[self.last_torso, 0] - x_before) / self.dt
        ctrl_cost = -(2.0 / self.legs) * np.square(action, dtype=np.float64).sum()
        cfrc = np.clip(d.cfrc_ext, -1.0, 1.0)
        contact_cost = -(2e-3 / self.legs) * np.square(cfrc).sum()
        reward = forward + ctrl_cost + contact_cost + 1.0
        torso = d.xpos[self.torsos]
        terminated = bool(((torso[:, 2] <= 0.35) | (torso[:, 2] >= 1.15)).any()
                          or (np.abs(np.diff(torso[:, 1])) >= 0.45).any())
        info = {"forward": forward, "ctrl_cost": ctrl_cost, "contact_cost": contact_cost, "survive": 1.0}
        return self._obs(cfrc), float(reward), terminated, False, info


def register_plain(robot: str) -> str:
    """Register PlainCentipedeEnv(robot) as `bench/Plain<robot>-v0` with the 1000-step time limit; its id."""
    gym_id = plain_id(robot)
    if gym_id not in gymnasium.registry:
        gymnasium.register(id=gym_id, entry_point=PlainCentipedeEnv, kwargs={"robot": robot}, max_episode_steps=1000)
    return gym_id
