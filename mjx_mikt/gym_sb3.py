"""Stable-Baselines3 on the batched vector env: an SB3 `VecEnv` over a Gymnasium vector env.

    from stable_baselines3 import PPO                       # pip install .[peers]
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize
    from mjx_mikt.gym_sb3 import Sb3VecEnv
    venv = VecMonitor(Sb3VecEnv("mjx_mikt/CentipedeFour-v0", num_envs=8))   # + VecNormalize(venv) etc.
    PPO("MlpPolicy", venv).learn(100_000)

SB3 steps its envs through its own `VecEnv` API (no Gymnasium vector envs), and its
`DummyVecEnv` steps one Python env at a time. `Sb3VecEnv(env_id, num_envs=N, **kwargs)` makes
`gymnasium.make_vec(env_id, num_envs=N, autoreset_mode=SAME_STEP, **kwargs)`, the robots' batched
vector env (`mjx_mikt.gym_vector`), and speaks SB3's API over it: the episode that ended is reset
in the same step, info["terminal_observation"] holds its last observation and
info["TimeLimit.truncated"] whether the time limit ended it, as DummyVecEnv does; so it gives what
`DummyVecEnv` of the single envs gives (tests/test_gym.py). `Sb3VecEnv(vector_env)` wraps any
Gymnasium vector env made with `autoreset_mode=SAME_STEP` (e.g. `gymnasium.make_vec(...,
vectorization_mode="sync", vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})`).
Episode statistics (info["episode"], SB3's ep_rew_mean) come from wrapping it in `VecMonitor`.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

import mjx_mikt.gym_envs  # noqa: F401  (registers the ids)


class Sb3VecEnv(VecEnv):
    """SB3's VecEnv over a Gymnasium vector env in SAME_STEP autoreset mode (module docstring).

    env: a registered id (made with `gymnasium.make_vec(env, num_envs=num_envs, **kwargs)`) or a
    Gymnasium VectorEnv whose metadata["autoreset_mode"] is SAME_STEP.
    """

    def __init__(self, env: Union[str, gymnasium.vector.VectorEnv], num_envs: int = 1, **kwargs):
        if isinstance(env, str):
            env = gymnasium.make_vec(env, num_envs=num_envs, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs)
        elif kwargs:
            raise ValueError("keyword arguments make the env: give an env id with them, not a made env")
        mode = env.metadata.get("autoreset_mode")
        if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.SAME_STEP.value):
            raise ValueError(f"Sb3VecEnv needs a vector env with autoreset_mode=SAME_STEP, not {mode}")
        self.venv = env
        self._actions: Optional[np.ndarray] = None
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

    def reset(self) -> np.ndarray:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = self._options[0] or None  # one set of options for the batch
        obs, _ = self.venv.reset(seed=seeds, options=options)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        """(obs (N, obs_size), rewards (N,) float32, dones (N,) bool, infos: N dicts), as DummyVecEnv."""
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = np.logical_or(terminated, truncated)
        infos: List[dict] = [{} for _ in range(self.num_envs)]
        _spread(info, infos, skip=("final_obs", "final_info"))
        for i in np.flatnonzero(dones):
            _spread(info["final_info"], infos, only=i)
            infos[i]["terminal_observation"] = info["final_obs"][i]
        for i, (term, trunc) in enumerate(zip(terminated.tolist(), truncated.tolist())):
            infos[i]["TimeLimit.truncated"] = trunc and not term
        return obs, np.asarray(rewards, np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None) -> List[Any]:
        n = len(list(self._get_indices(indices)))
        if hasattr(self.venv, "get_attr") and hasattr(self.venv, "envs"):  # SyncVectorEnv: per env
            values = self.venv.get_attr(attr_name)
            return [values[i] for i in self._get_indices(indices)]
        return [getattr(self.venv.unwrapped, attr_name)] * n

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv.unwrapped, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> List[Any]:
        result = getattr(self.venv.unwrapped, method_name)(*method_args, **method_kwargs)
        return [result] * len(list(self._get_indices(indices)))

    def env_is_wrapped(self, wrapper_class, indices=None) -> List[bool]:
        return [False] * len(list(self._get_indices(indices)))


def _spread(info: dict, infos: Sequence[dict], skip: Sequence[str] = (), only: Optional[int] = None) -> None:
    """Gymnasium's vector info (arrays with `_key` masks) into one dict per env (env `only`, or all)."""
    for key, values in info.items():
        if key.startswith("_") or key in skip:
            continue
        mask = info["_" + key]
        ids = np.flatnonzero(mask) if only is None else ([only] if mask[only] else [])
        for i in ids:
            value = values[i]
            infos[i][key] = value.item() if isinstance(value, np.generic) else value


__all__ = ["Sb3VecEnv"]
