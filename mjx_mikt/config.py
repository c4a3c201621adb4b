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
    # True: a time-limit end bootstraps from V(final_obs); False: it is terminal, as in baselines ppo2
    bootstrap_truncation: bool = True

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
    value_coupling: str = "ramp"  # 'ramp': c_vps * coupling/c_ps; 'constant': c_vps while the teacher is used
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
    teacher_path: str = ""  # explicit teacher folder or teacher set (one per source, comma separated)
    teacher_seeds: int = 1  # K teachers per source robot; student seed i reads teacher i mod K
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
    # SPEC §3 to the letter: one env x 2048 steps, a time limit is terminal (baselines ppo2).
    "paper-exact": PPOConfig(num_envs=1, rollout_length=2048, bootstrap_truncation=False),
    # The paper's optimisation (2048 samples, 64-sample minibatches, 10 epochs) from 64 envs x 32
    # steps: fewer, wider physics calls (for accelerators, and measured on CPUs in bench/).
    "paper-wide": PPOConfig(num_envs=64, rollout_length=32),
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


# Coefficient sets of the authors' runs (SPEC §4): --coefficients NAME sets c_ps, c_vps, c_kl, c_mi.
COEFFICIENT_SETS: Dict[str, Dict[str, float]] = {
    "low": dict(c_ps=0.5, c_vps=0.05, c_kl=0.05, c_mi=0.5),  # the defaults
    "high": dict(c_ps=1.0, c_vps=0.1, c_kl=0.1, c_mi=1.0),
}

# A transfer run with fewer updates than this is not comparable with the paper's 976.
MIN_PAPER_UPDATES = 500


def paper_comparison_warning(config: Config) -> str:
    """A one-line warning when a transfer run has too few updates to compare with the paper, else ''."""
    if config.run.method == "ppo" or config.num_updates >= MIN_PAPER_UPDATES:
        return ""
    return (f"warning: {config.num_updates} updates (the paper has 976 at 2M steps); with fewer than "
            f"{MIN_PAPER_UPDATES} the coupling schedule and the results are not comparable with the paper")


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
    if mikt.value_coupling not in ("ramp", "constant"):
        raise ConfigError(f"unknown value coupling {mikt.value_coupling!r}; choose ramp or constant")
    if run.teacher_seeds < 1:
        raise ConfigError(f"--teacher-seeds must be at least 1, got {run.teacher_seeds}")
    if mikt.mixing not in ("code", "paper"):
        raise ConfigError(f"unknown mixing {mikt.mixing!r}; choose code or paper")
    if not 0.0 <= mikt.coupling_start <= mikt.coupling_end <= 1.0:
        raise ConfigError("need 0 <= coupling_start <= coupling_end <= 1")
    if run.method != "ppo" and not run.source:
        raise ConfigError(f"--method {run.method} needs --source ROBOT (the teacher's robot)")
