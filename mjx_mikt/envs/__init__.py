"""Environments: `make(name, backend="auto")`, `names()`, `register_mjcf`; see base.py for the interface."""

from mjx_mikt.envs.base import Env, PhysicsState, State
from mjx_mikt.envs.mjcf import MjcfError, is_mjcf_path, parse_task_options
from mjx_mikt.envs.registry import UnknownRobotError, make, names, register_mjcf, resolve_backend, robot_id

__all__ = ["Env", "MjcfError", "PhysicsState", "State", "UnknownRobotError", "is_mjcf_path", "make", "names",
           "parse_task_options", "register_mjcf", "resolve_backend", "robot_id"]
