"""A tiny pure-JAX env with the project's Env interface (no physics engine).

It compiles in a second, so the trainer's mechanics (resume, sharding, seeds)
can be tested without paying for MuJoCo compiles. A point mass on a line is
pushed by the action toward the origin; episodes terminate when it leaves
[-3, 3] and are truncated after `episode_length` steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mjx_mikt.envs.base import Env, PhysicsState, State


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
        count = state.info["step_count"] + 1
        truncated = (count >= self.episode_length) & ~terminated
        done = (terminated | truncated).astype(jnp.float32)
        running = state.info["running_return"] + reward
        obs = self._obs(physics)
        fresh = self.reset(state.info["rng"])
        pick = lambda a, b: jnp.where(done > 0, a, b)
        metrics = {"distance": distance, "episode_return": done * running, "episode_length": done * count,
                   "physics_failure": jnp.zeros(())}
        return State(
            physics=jax.tree.map(pick, fresh.physics, physics),
            obs=pick(fresh.obs, obs),
            reward=reward,
            done=done,
            truncation=truncated.astype(jnp.float32),
            final_obs=obs,
            metrics=metrics,
            info={"rng": pick(jax.random.split(state.info["rng"])[0], state.info["rng"]),
                  "step_count": pick(0.0, count), "running_return": pick(0.0, running)},
        )
