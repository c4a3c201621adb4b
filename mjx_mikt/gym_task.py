"""The task on the host, for the Gymnasium envs: NumPy evaluation and the JAX env's reset draws.

Shared by the single env (gym_envs.py) and the batched vector env (gym_vector.py). The task's
observation, reward terms and termination are the functions of `mjx_mikt.envs.tasks` (and
`mjcf.MjcfTask`) that the JAX env jits, called with `xp=numpy` on float64 arrays, with or without a
leading batch axis: one definition of the task, no JAX dispatch per step. Only the reset
distribution stays in JAX (`reset_sampler`), so that a seed gives the JAX env's initial state.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import jax
import mujoco
import numpy as np

from mjx_mikt import patches
from mjx_mikt.envs.base import PhysicsState
from mjx_mikt.envs.locomotion import RESET_TRIES

_SAMPLERS: Dict[Tuple[str, int], Callable] = {}
DRAWS = 16  # resets the single env draws per JAX call


def reset_sampler(robot: str, task, draws: int = 1) -> Callable:
    """Jitted keys (n, 2) uint32 -> NumPy (keys (n, draws, 2), qpos (n, draws, RESET_TRIES, nq),
    qvel (n, draws, RESET_TRIES, nv)): the next `draws` resets of each of n key chains.

    A reset is `LocomotionEnv.reset`'s draw: key -> (next key, sub), RESET_TRIES candidates sampled
    from sub in float32 as the JAX env samples them (so a seed gives its initial state); keys[:, d]
    is the chain's key after draw d. Several draws per call spread JAX's dispatch over several
    episodes. Shared by the envs of one robot; one compile per (n, draws). Lowered with the project's
    Threefry lowering, as the CLI's env is (mjx_mikt/patches.py: the Gymnasium envs install it).
    """
    if (robot, draws) not in _SAMPLERS:
        patches.install("cpu_random")

        def chain(key):
            def draw(key, _):
                key, sub = jax.random.split(key)
                qpos, qvel = jax.vmap(task.sample)(jax.random.split(sub, RESET_TRIES))
                return key, (key, qpos, qvel)

            return jax.lax.scan(draw, key, None, length=draws)[1]

        sample = jax.jit(jax.vmap(chain))
        _SAMPLERS[robot, draws] = lambda keys: tuple(np.asarray(x) for x in sample(keys))
    return _SAMPLERS[robot, draws]


def seed_key(seed: int) -> np.ndarray:
    """The JAX env's key of a seed, `jax.random.PRNGKey(seed)`, as (2,) uint32."""
    return np.asarray(jax.random.PRNGKey(seed))


def evaluate(task, before: PhysicsState, after: PhysicsState, action: np.ndarray):
    """The task on NumPy float64 arrays with any leading batch axes (...): (obs (..., obs_size),
    reward terms {name: (...)}, reward (...) (their sum in the task's order, as the JAX env sums them),
    unhealthy (...) bool)."""
    terms = task.reward(before, after, action, xp=np)
    return task.observe(after, xp=np), terms, sum(terms.values()), task.unhealthy(after, xp=np)


def finite_rows(ps: PhysicsState) -> np.ndarray:
    """(n,) bool: whether every array of env i of a batched PhysicsState ((n, ...) leaves) is finite."""
    n = ps.qpos.shape[0]
    return np.logical_and.reduce([np.isfinite(x).reshape(n, -1).all(axis=1) for x in jax.tree.leaves(ps)])


def task_sizes(task, model: mujoco.MjModel) -> Tuple[int, Tuple[str, ...]]:
    """(observation size, sorted reward term names) of a task, from a NumPy evaluation at zeros."""
    zeros = PhysicsState(np.zeros(model.nq), np.zeros(model.nv), np.zeros(model.nv),
                         np.zeros((model.nbody, 3)), np.zeros((model.nbody, 6)))
    obs, terms, _, _ = evaluate(task, zeros, zeros, np.zeros(model.nu))
    return int(obs.shape[-1]), tuple(sorted(terms))


__all__ = ["DRAWS", "evaluate", "finite_rows", "reset_sampler", "seed_key", "task_sizes"]
