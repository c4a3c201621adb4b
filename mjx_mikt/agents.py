"""Agents: what the trainer needs from a method (params, forward pass, loss).

An agent is a plain Python object closed over by the jitted trainer. Its
trainable params are a pytree; teachers' weights never appear in the params.
`agent.teacher_state(specs)` is the pytree of teacher arrays the agent reads
(MIKT: hidden layers; MLPP: the params it copies at init; PPO: ()). The
trainer keeps one per seed in its state and passes it as `teachers=` to
`init`/`apply`/`loss`, so seeds in one vmapped program can have different
teachers; `teachers=None` means the ones the agent was built with.

PPO params (also the params of a teacher, and of an MLPP agent):

    {'policy':  {'hidden_0': {'kernel': (obs, 64), 'bias': (64,)},
                 'hidden_1': {'kernel': (64, 64),  'bias': (64,)},
                 'head':     {'kernel': (64, A),   'bias': (A,)}},
     'value':   {'hidden_0': ..., 'hidden_1': ..., 'head': {'kernel': (64, 1), 'bias': (1,)}},
     'log_std': (A,)}

(hidden widths from PPOConfig.hidden_sizes). MIKT's params are in mikt.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Sequence, Tuple

import jax
import jax.numpy as jnp
from flax import struct

from mjx_mikt import losses
from mjx_mikt.config import METHODS, MIKTConfig, PPOConfig
from mjx_mikt.networks import POLICY_HEAD_GAIN, VALUE_HEAD_GAIN, MixedMLP

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


def coupling_schedule(fraction, mikt: MIKTConfig) -> jax.Array:
    """Coupling coefficient at training fraction `fraction` (traced or not).

    0 before coupling_start, linear from 0 to c_ps between coupling_start and
    coupling_end, c_ps after (when the trainer also drops the teacher).
    """
    fraction = jnp.asarray(fraction, jnp.float32)
    span = mikt.coupling_end - mikt.coupling_start
    if span > 0:
        ramp = jnp.clip((fraction - mikt.coupling_start) / span, 0.0, 1.0)
    else:
        ramp = (fraction >= mikt.coupling_start).astype(jnp.float32)
    return mikt.c_ps * ramp


class PPOAgent:
    """Plain PPO: separate policy and value MLPs, state-independent log-std."""

    uses_teacher = False

    def __init__(self, observation_size: int, action_size: int, ppo: PPOConfig):
        self.observation_size = observation_size
        self.action_size = action_size
        self.ppo = ppo
        hidden = tuple(ppo.hidden_sizes)
        self.policy_net = MixedMLP(hidden, action_size, POLICY_HEAD_GAIN)
        self.value_net = MixedMLP(hidden, 1, VALUE_HEAD_GAIN)

    def teacher_state(self, specs: Sequence["TeacherSpec"]):
        """What this agent reads of its teachers during training, per seed (PPO: nothing)."""
        del specs
        return ()

    def init(self, key: jax.Array, teachers=None) -> Params:
        del teachers
        key_policy, key_value = jax.random.split(key)
        obs = jnp.zeros((1, self.observation_size))
        return {
            "policy": self.policy_net.init(key_policy, obs)["params"],
            "value": self.value_net.init(key_value, obs)["params"],
            "log_std": jnp.zeros((self.action_size,)),
        }

    def apply(self, params: Params, obs: jax.Array, *, use_teacher: bool = False, teachers=None):
        """obs (..., obs_size) -> mean (..., A), log_std (A,), value (...,). use_teacher/teachers are ignored."""
        del use_teacher, teachers
        mean = self.policy_net.apply({"params": params["policy"]}, obs)
        value = self.value_net.apply({"params": params["value"]}, obs)[..., 0]
        return mean, params["log_std"], value

    def loss(self, params: Params, batch: Minibatch, *, coupling_coef=0.0, use_teacher: bool = False,
             teachers=None):
        """L_PPO on one minibatch -> (scalar, metrics). coupling_coef/use_teacher/teachers are ignored."""
        del coupling_coef, teachers
        mean, log_std, value = self.apply(params, batch.obs, use_teacher=use_teacher)
        total, _, metrics = losses.ppo_loss(mean, log_std, value, batch, self.ppo)
        metrics["total_loss"] = total
        return total, metrics

    def diagnostics(self, params: Params) -> Metrics:
        return {"log_std_mean": jnp.mean(params["log_std"])}

    def param_groups(self, params: Params) -> Dict[str, Params]:
        """Works on params and on gradients alike (same structure)."""
        return {"policy": (params["policy"], params["log_std"]), "value": params["value"]}


# MLPP: which arrays are never copied from the teacher, whatever their shapes
# (SPEC §4: input layer, policy head and log-std start fresh).
MLPP_FRESH = (("policy", "hidden_0", "kernel"), ("value", "hidden_0", "kernel"),
              ("policy", "head", "kernel"), ("policy", "head", "bias"), ("log_std",))


def _path_key(path) -> Tuple[str, ...]:
    return tuple(str(getattr(p, "key", p)) for p in path)


def mlpp_copied(params: Params, teacher_params: Params) -> Dict[Tuple[str, ...], bool]:
    """{path: whether MLPP copies that array from the teacher}: shape matches and not fresh by rule."""
    flat_teacher = {_path_key(p): x for p, x in jax.tree_util.tree_flatten_with_path(teacher_params)[0]}
    out = {}
    for path, x in jax.tree_util.tree_flatten_with_path(params)[0]:
        key = _path_key(path)
        source = flat_teacher.get(key)
        out[key] = key not in MLPP_FRESH and source is not None and source.shape == x.shape
    return out


class MLPPAgent(PPOAgent):
    """MLPP baseline: a PPO agent initialised from the teacher wherever shapes match; nothing frozen.

    With 64-wide hidden layers this copies hidden_1 (kernel, bias) and
    hidden_0's bias of both towers and the value head; see MLPP_FRESH.
    """

    def __init__(self, observation_size: int, action_size: int, ppo: PPOConfig, teacher: TeacherSpec):
        super().__init__(observation_size, action_size, ppo)
        self.teacher = teacher

    def teacher_state(self, specs: Sequence[TeacherSpec]):
        """The teacher params MLPP copies from at init (the first source robot's); unused after init."""
        return jax.tree.map(jnp.asarray, specs[0].params)

    def init(self, key: jax.Array, teachers=None) -> Params:
        """Fresh params with the teacher's copied in; `teachers` is a `teacher_state` (default: own)."""
        teacher_params = self.teacher.params if teachers is None else teachers
        fresh = super().init(key)
        copied = mlpp_copied(fresh, teacher_params)
        flat_teacher = {_path_key(p): x for p, x in jax.tree_util.tree_flatten_with_path(teacher_params)[0]}

        def pick(path, x):
            key = _path_key(path)
            return jnp.asarray(flat_teacher[key], x.dtype) if copied[key] else x

        return jax.tree_util.tree_map_with_path(pick, fresh)


def make_agent(method: str, observation_size: int, action_size: int, ppo: PPOConfig, mikt: MIKTConfig,
               teachers: Sequence[TeacherSpec] = ()):
    """The agent for `method` (one of config.METHODS). 'ppo' ignores `teachers`; MLPP uses the first."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "ppo":
        return PPOAgent(observation_size, action_size, ppo)
    if not teachers:
        raise ValueError(f"method {method!r} needs at least one teacher")
    if method == "mlpp":
        return MLPPAgent(observation_size, action_size, ppo, teachers[0])
    from mjx_mikt.mikt import MIKTAgent  # mikt.py imports this module

    return MIKTAgent(method, observation_size, action_size, ppo, mikt, tuple(teachers))
