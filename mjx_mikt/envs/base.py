"""The env interface every task implements, and the state it carries.

An env is a pair of pure functions over a `State` pytree:

    state = env.reset(key)            # key: PRNGKey
    state = env.step(state, action)   # action: (action_size,)

Both take a single env; batches come from `jax.vmap` (and `jax.jit`) applied to
them as they are. `step` resets finished episodes itself (auto-reset), so a
batch of envs can be stepped forever inside `lax.scan`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class PhysicsState:
    """Physics arrays shared by both backends (mjx and native mujoco).

    The task's observation, reward and termination are functions of these
    arrays only, so they are one set of JAX code whichever backend produced them.

    qpos: (nq,) generalised positions after the control step.
    qvel: (nv,) generalised velocities after the control step.
    qacc_warmstart: (nv,) solver warm start, carried so that stepping from this
      state is the same as continuing a persistent native simulation.
    xpos: (nbody, 3) body frame positions.
    cfrc_ext: (nbody, 6) external (contact) wrench per body.

    xpos and cfrc_ext follow the convention documented in `physics.py`.
    """

    qpos: jax.Array
    qvel: jax.Array
    qacc_warmstart: jax.Array
    xpos: jax.Array
    cfrc_ext: jax.Array


@struct.dataclass
class State:
    """One env's state after `reset` or `step`.

    physics: PhysicsState of the (possibly just reset) episode.
    obs: (observation_size,) observation to act on next (after auto-reset, the
      first observation of the new episode).
    reward: () reward of the step that produced this state (0 after reset).
    done: () 1.0 if the episode ended on this step (terminated or truncated);
      the env has then already been reset.
    truncation: () 1.0 if it ended by the time limit and not by termination.
    final_obs: (observation_size,) the last observation of the episode that
      ended (equal to `obs` when done == 0); used to bootstrap on truncation.
    metrics: per-step scalars: every reward term, plus
      'episode_return' / 'episode_length' of the episode that ended on this step
      (0 when done == 0) and 'physics_failure' (1.0 if the step produced a
      non-finite state and the env was reset because of it).
    info: bookkeeping ('rng', 'step_count', 'running_return', ...).
    """

    physics: PhysicsState
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    truncation: jax.Array
    final_obs: jax.Array
    metrics: Dict[str, jax.Array] = struct.field(default_factory=dict)
    info: Dict[str, Any] = struct.field(default_factory=dict)


# The named vmap axes a batch of envs lives on: the trainer maps its envs over ENV_AXIS and a
# training program maps its seeds over SEED_AXIS (`jax.vmap(..., axis_name=...)`). The auto-reset
# reduces `done` over those bound, so on a CPU it runs only on a step where some episode ended.
SEED_AXIS = "seeds"
ENV_AXIS = "envs"


def batched(fn: Callable, axis: str = ENV_AXIS, **vmap_kwargs) -> Callable:
    """jax.vmap(fn) over a named batch axis: how a batch of envs (or of seeds) is mapped."""
    return jax.vmap(fn, axis_name=axis, **vmap_kwargs)


def _bound(axis: str) -> bool:
    try:
        jax.lax.axis_index(axis)  # raises at trace time outside a vmap of that name
        return True
    except NameError:
        return False


def anywhere(flag: jax.Array) -> jax.Array:
    """flag, OR-ed over the bound named batch axes: unbatched (so a `lax.cond` on it stays a branch
    under vmap) when every enclosing vmap is named; batched by an unnamed one, where a cond then
    computes both branches, which is still correct."""
    axes = tuple(a for a in (SEED_AXIS, ENV_AXIS) if _bound(a))
    return jax.lax.psum(flag.astype(jnp.int32), axes) > 0 if axes else flag


class Env:
    """Base class of a task. Subclasses set the sizes and implement reset/step."""

    name: str
    observation_size: int
    action_size: int
    episode_length: int = 1000
    backend: str  # 'mjx' or 'mujoco'

    def reset(self, key: jax.Array) -> State:
        raise NotImplementedError

    def step(self, state: State, action: jax.Array) -> State:
        raise NotImplementedError


def end_of_step(state: State, physics: PhysicsState, obs: jax.Array, reward: jax.Array,
                terminated: jax.Array, metrics: Dict[str, jax.Array], episode_length: int,
                fresh_episode: Callable[[jax.Array, jax.Array], Tuple[PhysicsState, jax.Array]]) -> State:
    """Episode bookkeeping and auto-reset, the same for every env: the State after one step.

    state: the State the step started from (its info carries rng, step_count, running_return).
    physics, obs, reward, terminated: the step's outcome, shapes as in `State`.
    metrics: the step's own scalars (reward terms, physics_failure); episode_return and
      episode_length of an episode that ended here are added.
    fresh_episode(key, done) -> (physics, obs) of a new episode; `done` says whether it is needed
      (a backend may skip the work where it is not).
    """
    count = state.info["step_count"] + 1
    truncated = (count >= episode_length) & ~terminated
    done = terminated | truncated
    running = state.info["running_return"] + reward
    rng, reset_key = jax.random.split(state.info["rng"])
    if jax.default_backend() == "cpu":
        # Most control steps end no episode. Under vmap a plain call computes the reset for every
        # env on every step (the native backend's reset callback included), so on a CPU it runs
        # only where some env of the batch is done; the outputs are the same. (On an accelerator
        # a branch would cost a sync with the host each step.)
        fresh_physics, fresh_obs = jax.lax.cond(anywhere(done), lambda: fresh_episode(reset_key, done),
                                                lambda: (physics, obs))
    else:
        fresh_physics, fresh_obs = fresh_episode(reset_key, done)
    pick = lambda new, old: jnp.where(done, new, old)
    donef = done.astype(obs.dtype)
    return State(
        physics=jax.tree.map(pick, fresh_physics, physics),
        obs=pick(fresh_obs, obs),
        reward=reward,
        done=donef,
        truncation=truncated.astype(obs.dtype),
        final_obs=obs,
        metrics=dict(metrics, episode_return=donef * running, episode_length=donef * count),
        info={"rng": rng, "step_count": pick(0.0, count), "running_return": pick(0.0, running)},
    )
