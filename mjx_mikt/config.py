"""Typed configuration: one frozen dataclass per concern, presets, validation.

Every field is settable from the CLI (`run.py` derives its flags from these
dataclasses), and the resolved config is written to the run folder as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

METHODS = ("mikt", "mikt-no-mi", "mikt-no-rl-grad", "mikt-no-kl", "mlpp", "ppo")


class ConfigError(ValueError):
    """A configuration that cannot run; the message is shown to the user as is."""


@dataclass(frozen=True)
class PPOConfig:
    """PPO as the authors ran it (SPEC §3); the defaults are the `paper` preset."""

    num_envs: int = 8  # 8 envs x 256 steps = the paper's 2048 samples per update
    rollout_length: int = 256  # control steps per env per update
    num_minibatches: int = 32  # 2048 / 32 = 64 samples per minibatch
    update_epochs: int = 10
    learning_rate: float = 3e-4
    anneal_lr: bool = True  # linear decay to 0 over training
    adam_eps: float = 1e-5
    max_grad_norm: float = 0.5
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2  # also clips the value update
    clip_value: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    normalize_obs: bool = True
    obs_clip: float = 10.0
    normalize_reward: bool = True  # divide by running std of the discounted return
    reward_clip: float = 10.0
    hidden_sizes: Tuple[int, ...] = (64, 64)

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_length

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches


@dataclass(frozen=True)
class MIKTConfig:
    """MIKT's transfer terms (SPEC §4). Defaults are the authors' coefficients."""

    mixing: str = "code"  # 'code': h = tanh(p_s Wh + p_t U z); 'paper': Eq. 2, no U
    c_ps: float = 0.5  # policy coupling coefficient (its final value)
    c_vps: float = 0.05  # value coupling coefficient
    c_kl: float = 0.05  # 0.5 * mean((logp - logp_old)^2)
    c_mi: float = 0.5  # variational mutual-information loss
    coupling_start: float = 0.45  # training fraction where coupling starts ramping
    coupling_end: float = 0.9  # ramp reaches c_ps here; after it the teacher is dropped
    init_student_logit: float = -0.1  # a in [p_s, p_t] = softmax([a, b])
    init_teacher_logit: float = 0.01  # b
    encoder_hidden: Tuple[int, ...] = (64, 64)
    mi_hidden: Tuple[int, ...] = (64, 64)


@dataclass(frozen=True)
class RunConfig:
    """What to train and where the results go."""

    target: str = "CentipedeEight"
    source: Tuple[str, ...] = ("CentipedeFour",)  # teacher robot(s); ignored by `ppo`
    method: str = "mikt"
    preset: str = "paper"
    total_timesteps: int = 2_000_000  # env steps per seed
    seed: int = 0
    num_seeds: int = 1  # seeds seed, seed+1, ... run in one program (vmap)
    backend: str = "auto"  # 'mjx' | 'mujoco' | 'auto'
    run_dir: str = ""  # '' -> runs/<target>-<method>-<time>
    teacher_store: str = "runs/teachers"
    teacher_path: str = ""  # explicit teacher checkpoint (one per source, comma separated)
    train_teacher: bool = True  # train a missing teacher first
    teacher_timesteps: int = 2_000_000  # budget of a teacher trained because none was found
    updates_per_chunk: int = 0  # updates between host syncs; 0 -> chosen from the budget
    eval_every: int = 50  # updates between evaluations (rounded to a chunk)
    eval_episodes: int = 5
    eval_max_steps: int = 1000
    checkpoint_every: int = 50  # updates between checkpoints (rounded to a chunk)


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    mikt: MIKTConfig = field(default_factory=MIKTConfig)

    @property
    def num_updates(self) -> int:
        return self.run.total_timesteps // self.ppo.batch_size

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Config":
        def build(kind, values):
            kw = {}
            for f in dataclasses.fields(kind):
                if f.name in values:
                    v = values[f.name]
                    kw[f.name] = tuple(v) if isinstance(v, list) else v
            return kind(**kw)

        return cls(
            run=build(RunConfig, d.get("run", {})),
            ppo=build(PPOConfig, d.get("ppo", {})),
            mikt=build(MIKTConfig, d.get("mikt", {})),
        )


PRESETS: Dict[str, PPOConfig] = {
    # SPEC §3's data regime, spread over 8 envs so physics runs in parallel.
    "paper": PPOConfig(),
    # Accelerator regime (MuJoCo Playground locomotion-like): many envs, big
    # minibatches, fewer epochs.
    "gpu": PPOConfig(
        num_envs=2048,
        rollout_length=32,
        num_minibatches=32,
        update_epochs=4,
        learning_rate=3e-4,
    ),
}


def validate(config: Config) -> None:
    """Raise ConfigError with a one-line reason if the config cannot run."""
    run, ppo, mikt = config.run, config.ppo, config.mikt
    if run.method not in METHODS:
        raise ConfigError(f"unknown method {run.method!r}; choose one of: {', '.join(METHODS)}")
    if run.preset not in PRESETS:
        raise ConfigError(f"unknown preset {run.preset!r}; choose one of: {', '.join(PRESETS)}")
    if run.backend not in ("auto", "mjx", "mujoco"):
        raise ConfigError(f"unknown backend {run.backend!r}; choose auto, mjx or mujoco")
    if run.total_timesteps <= 0:
        raise ConfigError(f"--timesteps must be positive, got {run.total_timesteps}")
    if run.num_seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {run.num_seeds}")
    for name in ("num_envs", "rollout_length", "num_minibatches", "update_epochs"):
        if getattr(ppo, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(ppo, name)}")
    if ppo.batch_size % ppo.num_minibatches:
        raise ConfigError(
            f"batch of {ppo.num_envs} envs x {ppo.rollout_length} steps = {ppo.batch_size} samples "
            f"cannot be split into {ppo.num_minibatches} equal minibatches"
        )
    if config.num_updates < 1:
        raise ConfigError(
            f"--timesteps {run.total_timesteps} is less than one update "
            f"({ppo.batch_size} samples = {ppo.num_envs} envs x {ppo.rollout_length} steps)"
        )
    if mikt.mixing not in ("code", "paper"):
        raise ConfigError(f"unknown mixing {mikt.mixing!r}; choose code or paper")
    if not 0.0 <= mikt.coupling_start <= mikt.coupling_end <= 1.0:
        raise ConfigError("need 0 <= coupling_start <= coupling_end <= 1")
    if run.method != "ppo" and not run.source:
        raise ConfigError(f"--method {run.method} needs --source ROBOT (the teacher's robot)")
