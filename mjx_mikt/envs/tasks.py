"""The paper's tasks as pure functions of PhysicsState (SPEC §2).

A task says how to sample an initial (qpos, qvel), what the agent observes,
how a control step is rewarded (every term reported separately) and when the
robot is unhealthy. The same functions serve both physics backends.

One definition, two array libraries: `observe`, `reward` and `unhealthy` take the array module
`xp` (jax.numpy by default: the JAX envs, under jit and vmap) or numpy (the Gymnasium envs of
gym_envs.py, which evaluate the task on the host without a JAX dispatch per step), and any leading
batch axes: qpos (..., nq), xpos (..., nbody, 3), action (..., nu) give an observation
(..., observation_size) and reward terms and a flag of shape (...). `sample` is JAX only (its
random draws are the JAX env's). Reductions and clips are array methods (x.sum, x.any, x.clip), which
both libraries have: the same JAX program as jnp.sum etc., and NumPy's fastest call.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from mjx_mikt.envs.base import PhysicsState

Terms = Dict[str, jax.Array]


def _cfrc_obs(ps: PhysicsState) -> jax.Array:
    """(..., nbody * 6): the contact wrenches clipped to [-1, 1], flattened per env."""
    cfrc = ps.cfrc_ext
    return cfrc.clip(-1.0, 1.0).reshape(cfrc.shape[:-2] + (-1,))


def _square_sum(x, xp: ModuleType, axes=-1):
    return xp.square(x).sum(axis=axes)


@dataclass(frozen=True)
class CentipedeTask:
    """NerveNet's centipede task: run along +x (reward on the last torso)."""

    qpos0: np.ndarray  # (nq,)
    nv: int
    num_legs: int
    torso_bodies: Tuple[int, ...]  # body ids of torso_0 .. torso_{T-1}
    updown_qpos: Tuple[int, ...]  # qpos indices of bodyupdown_1 .. bodyupdown_{T-1}
    dt: float

    @classmethod
    def from_model(cls, model: mujoco.MjModel, dt: float) -> "CentipedeTask":
        torsos, updown, k = [], [], 0
        while mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"torso_{k}") >= 0:
            torsos.append(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"torso_{k}"))
            if k:
                joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"bodyupdown_{k}")
                updown.append(int(model.jnt_qposadr[joint]))
            k += 1
        return cls(np.array(model.qpos0), model.nv, 2 * len(torsos), tuple(torsos), tuple(updown), dt)

    def sample(self, key) -> Tuple[jax.Array, jax.Array]:
        k_pos, k_updown, k_vel = jax.random.split(key, 3)
        qpos = jnp.asarray(self.qpos0) + jax.random.uniform(k_pos, self.qpos0.shape, minval=-0.1, maxval=0.1)
        # the authors' reset overwrites the bodyupdown joints, and (their index list ran one
        # past the last torso and was redirected) qpos[5], with a smaller range
        scale = 0.1 / (len(self.torso_bodies) - 1)
        idx = jnp.array(self.updown_qpos + (5,))
        qpos = qpos.at[idx].set(jax.random.uniform(k_updown, idx.shape, minval=-scale, maxval=scale))
        qvel = 0.1 * jax.random.normal(k_vel, (self.nv,))
        return qpos, qvel

    def observe(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        """(..., nq - 2 + nv + 6 * nbody)"""
        return xp.concatenate([ps.qpos[..., 2:], ps.qvel, _cfrc_obs(ps)], axis=-1)

    def reward(self, before: PhysicsState, after: PhysicsState, action, xp: ModuleType = jnp) -> Terms:
        last = self.torso_bodies[-1]
        legs = self.num_legs
        return {
            "forward": (after.xpos[..., last, 0] - before.xpos[..., last, 0]) / self.dt,
            "ctrl_cost": -(2.0 / legs) * _square_sum(action, xp),
            "contact_cost": -(2e-3 / legs) * _square_sum(after.cfrc_ext.clip(-1.0, 1.0), xp, (-2, -1)),
            "survive": xp.ones(action.shape[:-1]),
        }

    def unhealthy(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        torso = ps.xpos[..., xp.asarray(self.torso_bodies), :]  # sphere geoms sit at their bodies' origins
        height_bad = ((torso[..., 2] <= 0.35) | (torso[..., 2] >= 1.15)).any(axis=-1)
        side = torso[..., 1]
        twist_bad = (xp.abs(side[..., 1:] - side[..., :-1]) >= 0.45).any(axis=-1)  # jnp.diff's own slices
        return height_bad | twist_bad


@dataclass(frozen=True)
class AntTask:
    """gym Ant-v2."""

    qpos0: np.ndarray
    nv: int
    dt: float
    torso: int = 1

    def sample(self, key):
        k_pos, k_vel = jax.random.split(key)
        qpos = jnp.asarray(self.qpos0) + jax.random.uniform(k_pos, self.qpos0.shape, minval=-0.1, maxval=0.1)
        return qpos, 0.1 * jax.random.normal(k_vel, (self.nv,))

    def observe(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        """(..., nq - 2 + nv + 6 * nbody)"""
        return xp.concatenate([ps.qpos[..., 2:], ps.qvel, _cfrc_obs(ps)], axis=-1)

    def reward(self, before, after, action, xp: ModuleType = jnp) -> Terms:
        return {
            "forward": (after.xpos[..., self.torso, 0] - before.xpos[..., self.torso, 0]) / self.dt,
            "ctrl_cost": -0.5 * _square_sum(action, xp),
            "contact_cost": -0.5e-3 * _square_sum(after.cfrc_ext.clip(-1.0, 1.0), xp, (-2, -1)),
            "survive": xp.ones(action.shape[:-1]),
        }

    def unhealthy(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        return (ps.qpos[..., 2] < 0.2) | (ps.qpos[..., 2] > 1.0)


@dataclass(frozen=True)
class HopperTask:
    """gym Hopper-v2."""

    qpos0: np.ndarray
    nv: int
    dt: float

    def sample(self, key):
        k_pos, k_vel = jax.random.split(key)
        qpos = jnp.asarray(self.qpos0) + jax.random.uniform(k_pos, self.qpos0.shape, minval=-0.005, maxval=0.005)
        return qpos, jax.random.uniform(k_vel, (self.nv,), minval=-0.005, maxval=0.005)

    def observe(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        """(..., nq - 1 + nv)"""
        return xp.concatenate([ps.qpos[..., 1:], ps.qvel.clip(-10.0, 10.0)], axis=-1)

    def reward(self, before, after, action, xp: ModuleType = jnp) -> Terms:
        return {
            "forward": (after.qpos[..., 0] - before.qpos[..., 0]) / self.dt,
            "ctrl_cost": -1e-3 * _square_sum(action, xp),
            "survive": xp.ones(action.shape[:-1]),
        }

    def unhealthy(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        state = xp.concatenate([ps.qpos, ps.qvel], axis=-1)
        height, angle = ps.qpos[..., 1], ps.qpos[..., 2]
        healthy = (xp.abs(state[..., 2:]) < 100.0).all(axis=-1) & (height > 0.7) & (xp.abs(angle) < 0.2)
        return ~healthy
