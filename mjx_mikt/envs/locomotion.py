"""LocomotionEnv: a task + a physics backend -> pure reset/step with auto-reset."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mjx_mikt.envs.base import Env, PhysicsState, State, end_of_step

RESET_TRIES = 4  # reset candidates sampled at once; the first valid one is used


def _finite(ps: PhysicsState) -> jax.Array:
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(ps)]))


class LocomotionEnv(Env):
    """One robot's task on one physics backend. See `base.State` for the fields."""

    def __init__(self, name: str, task, physics, n_substeps: int, episode_length: int = 1000):
        self.name = name
        self.task = task
        self.physics = physics
        self.backend = physics.name
        self.n_substeps = n_substeps
        self.episode_length = episode_length
        model = physics.model
        self.action_size = int(model.nu)
        self.observation_size = int(jax.eval_shape(task.observe, self._abstract_physics(model)).shape[0])
        self.reward_terms = tuple(jax.eval_shape(
            lambda p: task.reward(p, p, jnp.zeros(self.action_size)), self._abstract_physics(model)))

    @staticmethod
    def _abstract_physics(model) -> PhysicsState:
        f = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
        return PhysicsState(f(model.nq), f(model.nv), f(model.nv), f(model.nbody, 3), f(model.nbody, 6))

    # ----------------------------------------------------------------- reset
    def _fresh_physics(self, key, active=None) -> PhysicsState:
        """A valid initial state: RESET_TRIES candidates, the first healthy one wins."""
        qpos, qvel = jax.vmap(self.task.sample)(jax.random.split(key, RESET_TRIES))
        candidates = jax.vmap(lambda q, v: self.physics.init(q, v, active))(qpos, qvel)
        healthy = jax.vmap(lambda p: ~self.task.unhealthy(p) & _finite(p))(candidates)
        first = jnp.argmax(healthy)  # 0 when none is healthy (vanishingly rare: bounded tries)
        return jax.tree.map(lambda x: x[first], candidates)

    def _zero_metrics(self, dtype):
        zero = jnp.zeros((), dtype)
        metrics = {name: zero for name in self.reward_terms}
        metrics.update(episode_return=zero, episode_length=zero, physics_failure=zero)
        return metrics

    def reset(self, key: jax.Array) -> State:
        key, sub = jax.random.split(key)
        physics = self._fresh_physics(sub)
        obs = self.task.observe(physics)
        zero = jnp.zeros((), obs.dtype)
        info = {"rng": key, "step_count": zero, "running_return": zero}
        return State(physics, obs, zero, zero, zero, obs, self._zero_metrics(obs.dtype), info)

    # ------------------------------------------------------------------ step
    def step(self, state: State, action: jax.Array) -> State:
        if action.shape != (self.action_size,):
            raise ValueError(
                f"{self.name}: action has shape {tuple(action.shape)}, expected ({self.action_size},)"
                " per env (vmap over the batch)"
            )
        before = state.physics
        after = self.physics.step(before, action)
        finite = _finite(after)
        terms = self.task.reward(before, after, action)
        reward = sum(terms.values())
        # a blown-up step ends the episode with a zero reward and a zero final
        # observation, so no NaN reaches the learner or the rest of the batch
        reward = jnp.where(finite, reward, 0.0)
        terms = {k: jnp.where(finite, v, 0.0) for k, v in terms.items()}
        obs = jnp.where(finite, self.task.observe(after), 0.0)
        terminated = ~finite | self.task.unhealthy(after)
        metrics = dict(terms, physics_failure=(~finite).astype(obs.dtype))

        def fresh_episode(key, done):
            fresh = self._fresh_physics(key, active=done)
            return fresh, self.task.observe(fresh)

        return end_of_step(state, after, obs, reward, terminated, metrics, self.episode_length, fresh_episode)
