"""Environments: `make(name, backend="auto")`, `names()`; see base.py for the interface."""

from mjx_mikt.envs.base import Env, PhysicsState, State
from mjx_mikt.envs.registry import UnknownRobotError, make, names, resolve_backend

__all__ = ["Env", "PhysicsState", "State", "UnknownRobotError", "make", "names", "resolve_backend"]
