"""A tiny pure-JAX env with the project's Env interface (no physics engine).

It compiles in a second, so the trainer's mechanics (resume, sharding, seeds)
can be tested without paying for MuJoCo compiles. A point mass on a line is
pushed by the action toward the origin; episodes terminate when it leaves
[-3, 3] and are truncated after `episode_length` steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mjx_mikt.envs.base import Env, PhysicsState, State, end_of_step


class PointMass(Env):
    name = "PointMass"
    observation_size = 4
    action_size = 2
    backend = "jax"

    def __init__(self, episode_length: int = 50):
        self.episode_length = episode_length

    def _physics(self, pos, vel) -> PhysicsState:
        zeros = jnp.zeros((1, 3))
        return PhysicsState(qpos=pos, qvel=vel, qacc_warmstart=jnp.zeros_like(vel), xpos=zeros,
                            cfrc_ext=jnp.zeros((1, 6)))

    def reset(self, key) -> State:
        key, sub = jax.random.split(key)
        pos = jax.random.uniform(sub, (2,), minval=-1.0, maxval=1.0)
        physics = self._physics(pos, jnp.zeros(2))
        obs = self._obs(physics)
        zero = jnp.zeros(())
        metrics = {"distance": zero, "episode_return": zero, "episode_length": zero, "physics_failure": zero}
        info = {"rng": key, "step_count": zero, "running_return": zero}
        return State(physics, obs, zero, zero, zero, obs, metrics, info)

    @staticmethod
    def _obs(physics: PhysicsState):
        return jnp.concatenate([physics.qpos, physics.qvel])

    def step(self, state: State, action) -> State:
        vel = 0.9 * state.physics.qvel + 0.1 * jnp.clip(action, -1, 1)
        pos = state.physics.qpos + 0.1 * vel
        physics = self._physics(pos, vel)
        distance = jnp.sum(pos**2)
        reward = 1.0 - distance
        terminated = jnp.any(jnp.abs(pos) > 3.0)

        def fresh_episode(key, done):
            fresh = self.reset(key)
            return fresh.physics, fresh.obs

        return end_of_step(state, physics, self._obs(physics), reward, terminated,
                           {"distance": distance, "physics_failure": jnp.zeros(())}, self.episode_length,
                           fresh_episode)
