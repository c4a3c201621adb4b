"""Agents: one module per method, all behind the `Agent` protocol of `base.py`.

    base.py   Agent protocol, NoTeachers (the teacher schedule of an agent without one), Minibatch,
              TeacherSpec, Params, Metrics (all the trainer imports)
    ppo.py    PPOAgent (also how teachers are trained)
    mlpp.py   MLPPAgent, the teacher-initialised baseline
    mikt.py   MIKTAgent and its ablations, with the coupling schedule
"""

from __future__ import annotations

from typing import Sequence

from mjx_mikt.agents.base import Agent, Metrics, Minibatch, NoTeachers, Params, TeacherSpec
from mjx_mikt.agents.mikt import MIKTAgent, coupling_schedule
from mjx_mikt.agents.mlpp import MLPP_FRESH, MLPPAgent, mlpp_copied
from mjx_mikt.agents.ppo import PPOAgent
from mjx_mikt.config import METHODS, MIKTConfig, PPOConfig

__all__ = ["Agent", "Metrics", "Minibatch", "NoTeachers", "Params", "TeacherSpec", "PPOAgent", "MLPPAgent", "MIKTAgent",
           "MLPP_FRESH", "mlpp_copied", "coupling_schedule", "make_agent"]


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
    return MIKTAgent(method, observation_size, action_size, ppo, mikt, tuple(teachers))
