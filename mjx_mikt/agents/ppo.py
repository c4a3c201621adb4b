"""Plain PPO (baselines ppo2, SPEC §3): also how teachers are trained.

Params (hidden widths from PPOConfig.hidden_sizes):

    {'policy':  {'hidden_0': {'kernel': (obs, 64), 'bias': (64,)},
                 'hidden_1': {'kernel': (64, 64),  'bias': (64,)},
                 'head':     {'kernel': (64, A),   'bias': (A,)}},
     'value':   {'hidden_0': ..., 'hidden_1': ..., 'head': {'kernel': (64, 1), 'bias': (1,)}},
     'log_std': (A,)}

These are also the params of a teacher and of an MLPP agent.
"""

from __future__ import annotations

from typing import Dict

import jax
import jax.numpy as jnp

from mjx_mikt import losses
from mjx_mikt.agents.base import Metrics, Minibatch, NoTeachers, Params
from mjx_mikt.config import PPOConfig
from mjx_mikt.networks import POLICY_HEAD_GAIN, VALUE_HEAD_GAIN, MixedMLP


class PPOAgent(NoTeachers):
    """Plain PPO: separate policy and value MLPs, state-independent log-std; no teacher schedule."""

    def __init__(self, observation_size: int, action_size: int, ppo: PPOConfig):
        self.observation_size = observation_size
        self.action_size = action_size
        self.ppo = ppo
        hidden = tuple(ppo.hidden_sizes)
        self.policy_net = MixedMLP(hidden, action_size, POLICY_HEAD_GAIN)
        self.value_net = MixedMLP(hidden, 1, VALUE_HEAD_GAIN)

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
