"""The MLPP baseline (paper §5): a PPO agent initialised from the teacher wherever shapes match."""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import jax
import jax.numpy as jnp

from mjx_mikt.agents.base import Params, TeacherSpec, require_teachers
from mjx_mikt.agents.ppo import PPOAgent
from mjx_mikt.config import PPOConfig


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
        del teacher  # its weights reach init as `teachers` (the training state); its shapes need no check here
        super().__init__(observation_size, action_size, ppo)

    def teacher_state(self, specs: Sequence[TeacherSpec]):
        """The teacher params MLPP copies from at init (the first source robot's); unused after init."""
        return jax.tree.map(jnp.asarray, specs[0].params)

    def init(self, key: jax.Array, teachers=None) -> Params:
        """Fresh params with the teacher's copied in; `teachers` is this seed's `teacher_state`."""
        teacher_params = require_teachers(teachers)
        fresh = super().init(key)
        copied = mlpp_copied(fresh, teacher_params)
        flat_teacher = {_path_key(p): x for p, x in jax.tree_util.tree_flatten_with_path(teacher_params)[0]}

        def pick(path, x):
            key = _path_key(path)
            return jnp.asarray(flat_teacher[key], x.dtype) if copied[key] else x

        return jax.tree_util.tree_map_with_path(pick, fresh)
