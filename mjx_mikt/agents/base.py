"""What the trainer needs from a method: the Agent protocol and the types it exchanges.

The trainer (`train.py`) imports only this module. An agent is a plain Python
object closed over by the jitted trainer; its trainable params are a pytree.
Teachers' weights are never in the params: `agent.teacher_state(specs)` is the
pytree of teacher arrays an agent reads (MIKT: hidden layers; MLPP: the params
it copies at init; PPO: ()). The trainer keeps one per seed in its state and
passes it as `teachers=` to `init`/`apply`/`loss`, so seeds in one vmapped
program can have different teachers. The state is the only way an agent sees
a teacher's weights: it is built from the specs' shapes and keeps no copy
(`teachers=None` is an error where a teacher is read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Protocol, Sequence, Tuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

Params = Any
Metrics = Dict[str, jax.Array]


@struct.dataclass
class Minibatch:
    """One minibatch of B samples."""

    obs: jax.Array  # (B, obs_size) normalised observations
    actions: jax.Array  # (B, action_size)
    old_log_prob: jax.Array  # (B,)
    old_value: jax.Array  # (B,)
    advantages: jax.Array  # (B,) raw GAE advantages; normalised per minibatch inside the loss
    returns: jax.Array  # (B,) value targets


@dataclass(frozen=True)
class TeacherSpec:
    """A trained 'ppo' agent used as a MIKT/MLPP teacher."""

    params: Params  # PPO params (see the module docstring)
    observation_size: int
    action_size: int
    robot: str


def require_teachers(teachers):
    """`teachers` (a teacher_state), or one clear error: an agent holds no teacher weights of its own."""
    if teachers is None:
        raise ValueError("this agent reads its teachers from the training state: pass teachers= "
                         "(agent.teacher_state(specs), which Trainer.init stores in TrainState.teachers)")
    return teachers


class Agent(Protocol):
    """The methods a trainer calls. Shapes: obs (..., observation_size), actions (..., action_size).

    The first five are every agent's own; the last four are its teacher schedule, which an agent that
    reads no teacher takes from `NoTeachers` (PPO does).
    """

    observation_size: int
    action_size: int
    uses_teacher: bool

    def init(self, key: jax.Array, teachers: Any = None) -> Params: ...

    def apply(self, params: Params, obs: jax.Array, *, use_teacher: bool = False,
              teachers: Any = None) -> Tuple[jax.Array, jax.Array, jax.Array]:
        """-> mean (..., A), log_std (A,), value (...,)."""
        ...

    def loss(self, params: Params, batch: Minibatch, *, coupling_coef=0.0, use_teacher: bool = False,
             teachers: Any = None) -> Tuple[jax.Array, Metrics]: ...

    def diagnostics(self, params: Params) -> Metrics: ...

    def param_groups(self, params: Params) -> Dict[str, Params]: ...

    # ------------------------------------------------------------ the teacher schedule
    def teacher_state(self, specs: Sequence[TeacherSpec]) -> Any:
        """What the agent reads of `specs` (one per source robot), as arrays kept in the training state."""
        ...

    def teacher_until(self, num_updates: int) -> int:
        """The update index where the teacher phase ends (0: the agent never reads a teacher)."""
        ...

    def coupling(self, fraction) -> jax.Array:
        """The coupling coefficient at training fraction `fraction` (0 for agents without one)."""
        ...

    def update_scaling(self, num_updates: int) -> Optional[optax.GradientTransformation]:
        """A transformation applied to Adam's updates (per-parameter rates, constraints that may depend on
        the step count of a run of `num_updates` updates), or None (the common case:
        left out of the optimiser, so its state keeps the plain clip+Adam structure)."""
        ...

    def fixed_rate_mask(self) -> Optional[Callable[[Params], Params]]:
        """params -> tree of bools: the parameters that keep the fixed rate rule under a KL-adaptive rate
        (optimizer.make_optimizer), or None (every parameter follows it)."""
        ...


class NoTeachers:
    """The teacher schedule of an agent that reads no teacher: nothing kept per seed, no teacher phase,
    no coupling, plain clip+Adam."""

    uses_teacher = False

    def teacher_state(self, specs: Sequence[TeacherSpec]) -> Any:
        del specs
        return ()

    def teacher_until(self, num_updates: int) -> int:
        del num_updates
        return 0

    def coupling(self, fraction) -> jax.Array:
        del fraction
        return jnp.zeros((), jnp.float32)

    def update_scaling(self, num_updates: int) -> Optional[optax.GradientTransformation]:
        del num_updates
        return None

    def fixed_rate_mask(self) -> Optional[Callable[[Params], Params]]:
        return None
