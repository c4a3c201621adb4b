"""Typed configuration: one frozen dataclass per concern, presets, validation.

Every field is settable from the CLI (`run.py` derives its flags from these
dataclasses), and the resolved config is written to the run folder as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Literal, Optional, Tuple, get_args, get_origin, get_type_hints

# The closed sets of choices. A field typed with one of these is checked once, in `validate`, and
# its choices are listed in its --help; `choices_of` reads them back from the type.
Method = Literal["mikt", "mikt-no-mi", "mikt-no-rl-grad", "mikt-no-kl", "mlpp", "ppo"]
Preset = Literal["paper", "paper-exact", "paper-wide", "wide-256x16", "wide-1024x8"]
Backend = Literal["auto", "mjx", "mujoco", "mjx-warp"]
EvalBackend = Literal["auto", "same", "mujoco"]
Mixing = Literal["code", "paper"]
ValueCoupling = Literal["ramp", "constant"]

METHODS: Tuple[str, ...] = get_args(Method)


def option(default: Any, help: str):
    """A config field with its CLI help text (CleanRL-style: the text lives with the field)."""
    return field(default=default, metadata={"help": help})


def help_of(kind, name: str) -> str:
    """The help text of field `name` of config dataclass `kind`."""
    return next(f for f in dataclasses.fields(kind) if f.name == name).metadata.get("help", name)


def choices_of(kind, name: str) -> Optional[Tuple[str, ...]]:
    """The allowed values of field `name` of config dataclass `kind` if it is typed with a Literal, else None."""
    hint = get_type_hints(kind)[name]
    return get_args(hint) if get_origin(hint) is Literal else None


class ConfigError(ValueError):
    """A configuration that cannot run; the message is shown to the user as is."""


@dataclass(frozen=True)
class PPOConfig:
    """PPO as the authors ran it (SPEC §3); the defaults are the `paper` preset."""

    # 8 envs x 256 steps = the paper's 2048 samples per update
    num_envs: int = option(8, 'parallel envs; samples per update = num_envs x rollout_length')
    rollout_length: int = option(256, 'control steps per env per update')
    # 2048 / 32 = 64 samples per minibatch
    num_minibatches: int = option(32, 'minibatches per epoch (must divide the samples per update)')
    update_epochs: int = option(10, 'passes over the batch per update')
    learning_rate: float = option(3e-4, 'Adam learning rate (start value when annealed)')
    anneal_lr: bool = option(True, 'decay the learning rate linearly to 0')
    desired_kl: float = option(0.0, "KL-adaptive learning rate (rsl_rl's rule for many envs) when > 0: before each "
                                    "minibatch step the rate is divided by 1.5 if the minibatch's KL exceeds 2x "
                                    "this, multiplied by 1.5 below half of it, clamped to [1e-5, 1e-2]; replaces "
                                    "--anneal-lr (0: off, the paper's; rsl_rl uses 0.01)")
    adam_eps: float = option(1e-5, 'Adam epsilon')
    max_grad_norm: float = option(0.5, 'global gradient-norm clip')
    gamma: float = option(0.99, 'discount factor')
    gae_lambda: float = option(0.95, 'GAE lambda')
    clip_eps: float = option(0.2, 'PPO ratio clip (also clips the value update)')
    clip_value: bool = option(True, 'clip the value update like the policy ratio')
    vf_coef: float = option(0.5, 'value loss coefficient')
    ent_coef: float = option(0.0, 'entropy bonus coefficient')
    normalize_obs: bool = option(True, 'normalise observations by running mean/std')
    obs_clip: float = option(10.0, 'clip of normalised observations')
    normalize_reward: bool = option(True, 'scale rewards by the running std of the discounted return')
    reward_clip: float = option(10.0, 'clip of scaled rewards')
    hidden_sizes: Tuple[int, ...] = option((64, 64), 'hidden layer sizes, comma separated')
    bootstrap_truncation: bool = option(True, "bootstrap a time-limit end from V(final obs); "
                                               "--no-bootstrap-truncation: terminal, as baselines ppo2")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_length

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches


@dataclass(frozen=True)
class MIKTConfig:
    """MIKT's transfer terms (SPEC §4). Defaults are the authors' coefficients."""

    mixing: Mixing = option("code", "code: h = tanh(p_s(Wh+b) + p_t U z) as the authors' code; paper: without U (Eq. 2)")
    c_ps: float = option(0.5, 'policy coupling coefficient (reached at coupling_end)')
    c_vps: float = option(0.05, 'value coupling coefficient')
    c_kl: float = option(0.05, 'coefficient of 0.5 mean((log pi - log pi_old)^2)')
    c_mi: float = option(0.5, 'coefficient of the mutual-information loss')
    value_coupling: ValueCoupling = option("ramp", "ramp: value coupling c_vps*coupling/c_ps, ramped with the policy's; constant: c_vps while the teacher is used")
    coupling_start: float = option(0.45, 'training fraction where the coupling starts ramping up')
    coupling_end: float = option(0.9, 'training fraction where coupling is full and the teacher is dropped')
    mix_lr_scale: float = option(1.0, "learning-rate multiplier of the mixing logits [a, b] (1: the paper's). "
                                      "Adam moves a logit by about the rate per step, so a wide batch, with ~20x "
                                      "fewer SGD steps through the coupling ramp, needs it raised to bring p_s "
                                      "near 1 before the teacher is dropped; the wide presets set 6 (docs/scale.md)")
    encoder_lr_scale: float = option(1.0, "learning-rate multiplier of the encoders phi and the MI decoders q_omega "
                                          "(1: the paper's); with a wide batch's ~20x fewer SGD steps L_MI is far "
                                          "less optimised (docs/scale.md)")
    encoder_fixed_rate: bool = option(False, "under --desired-kl, the encoders phi and the MI decoders q_omega keep "
                                             "the fixed rate rule (--learning-rate, annealed unless --no-anneal-lr) in "
                                             "an Adam of their own instead of the KL-adapted rate: the KL measures the "
                                             "policy, and at the adaptive rate's early 1e-5 floor the encoder barely "
                                             "learns (docs/scale.md); off: the paper's single rate")
    teacher_fade: float = option(0.0, "training fraction before coupling_end over which a floor on p_s rises "
                                      "linearly to 1 (0: off, the paper's): the teacher's share is gone when it is "
                                      "dropped, so the drop changes nothing the student computes (docs/scale.md)")
    init_student_logit: float = option(-0.1, 'initial a in [p_s, p_t] = softmax([a, b])')
    init_teacher_logit: float = option(0.01, 'initial b in [p_s, p_t] = softmax([a, b])')
    encoder_hidden: Tuple[int, ...] = option((64, 64), 'encoder hidden sizes, comma separated')
    mi_hidden: Tuple[int, ...] = option((64, 64), 'q(s|e) hidden sizes, comma separated')


# One line per preset on when to use it (the --preset help); the numbers are in PRESETS below.
PRESET_HELP: Dict[str, str] = {
    "paper": "the paper's figures: SPEC's optimisation (2048 samples, 64-sample minibatches, 10 epochs) "
             "from 8 envs x 256 steps; MIKT/PPO from scratch 1.69x final, 1.98x evaluation (Four -> Eight, "
             "5 seeds x 2M)",
    "paper-exact": "SPEC to the letter: 1 env x 2048 steps, a time limit is terminal",
    "paper-wide": "the paper's optimisation from 64 envs x 32 steps (976 updates at 2M)",
    "wide-256x16": "wide batch for many envs (the main job): 256 envs x 16 steps, 8 minibatches x 4 epochs, "
                   "lr 1e-3, mixing rate x6; 488 updates at 2M, 4,096 samples each; MIKT/PPO from scratch "
                   "1.05x final, 1.12x evaluation (Four -> Eight, 5 seeds x 2M): transfer within seed noise "
                   "of the paper preset's on the deterministic evaluation, below it on the training curve "
                   "(docs/scale.md)",
    "wide-1024x8": "wide batch, 1024 envs x 8 steps, 8 minibatches x 4 epochs, lr 2e-3, mixing rate x6: "
                   "244 updates at 2M, 8,192 samples each; needs more than 2M steps (at 2M its MIKT student "
                   "leads PPO from scratch, 1.25x final and 1.31x evaluation, but trails every other preset; "
                   "docs/scale.md)",
}


@dataclass(frozen=True)
class RunConfig:
    """What to train and where the results go."""

    target: str = option("CentipedeEight", 'robot the student learns: a name (the robot list below) or an MJCF file '
                                           '(path/to/robot.xml, the generic locomotion task)')
    source: Tuple[str, ...] = option(("CentipedeFour",), 'teacher robot(s), names or .xml files, comma separated; '
                                                         'several give MIKT several teachers')
    task_options: str = option("", "KEY=VALUE,... of the generic task of every robot given as a .xml file "
                                   "(e.g. min_height=0.5,ctrl_cost_weight=0.1; an unknown key lists them all); "
                                   "they override those of a robot.toml beside robot.xml (README, Your own robot)")
    method: Method = option("mikt", "training method: mikt and its ablations, mlpp (the paper's baseline) or ppo from scratch")
    preset: Preset = option("paper", "PPO hyper-parameter preset: " + "; ".join(
        f"{name} = {text}" for name, text in PRESET_HELP.items()))
    total_timesteps: int = option(2_000_000, 'env steps per seed')
    seed: int = option(0, 'first seed; seeds seed..seed+N-1 run together')
    num_seeds: int = option(1, 'number of seeds trained in one program (vmapped)')
    backend: Backend = option("auto", 'physics: mjx (MuJoCo MJX in JAX), mujoco (native MuJoCo on host threads), '
                                      'auto (mjx on GPU/TPU, mujoco on CPU), mjx-warp (opt-in: MJX\'s MuJoCo-Warp '
                                      'implementation, needs pip install .[warp]; verified on CPU only, where it is '
                                      'slow; GPU speed unmeasured; docs/mjx-warp.md)')
    # 4/4 gives the same parity with native MuJoCo as the model's 100/50 on CentipedeFour contact states
    # (docs/mjx-contact-parity.md, "Solver iterations"); 2 does not. MJX's main speed knob.
    mjx_solver_iterations: int = option(4, "MJX (and mjx-warp) constraint-solver iterations (0: the model's, 100)")
    mjx_ls_iterations: int = option(4, "MJX (and mjx-warp) line-search iterations (0: the model's, 50)")
    run_dir: str = option("", 'run folder (default runs/<target>-<method>-<time>)')
    teacher_store: str = option("runs/teachers", 'folder of teachers by robot and seed (<store>/<Robot>/seed_<s>/teacher.msgpack)')
    teacher_path: str = option("", 'explicit teacher folder or teacher set (a folder of seed_<s>/), one per --source robot, comma separated')
    teacher_seeds: int = option(1, 'K teachers per source robot (seeds 0..K-1, trained if missing); student seed i reads teacher i mod K')
    train_teacher: bool = option(True, 'train a teacher that is missing from the store (--no-train-teacher: exit 2 instead)')
    teacher_timesteps: int = option(2_000_000, 'env steps for a teacher trained because none was found')
    register_teacher: bool = option(False, "(ppo) register every seed as a teacher in --teacher-store; on for a "
                                           "teacher trained because it was missing; never replaces a different one")
    updates_per_chunk: int = option(0, 'updates fused into one device call between host syncs (0: about 16k env steps)')
    eval_every: int = option(50, 'updates between evaluations of the deterministic policy (0: only at the end)')
    eval_episodes: int = option(5, 'episodes per evaluation (run in parallel)')
    eval_max_steps: int = option(1000, 'control steps an evaluation episode may last')
    eval_backend: EvalBackend = option("auto", "physics of the evaluations: same (the training's), mujoco (native "
                                               "MuJoCo on the host CPU, the paper's simulator: an MJX run then compiles "
                                               "no physics program beside its training programs), auto (mujoco when "
                                               "training on mjx or mjx-warp, else same)")
    checkpoint_every: int = option(50, 'updates between checkpoints (0: only at the end)')
    video: bool = option(True, "render seed 0's final policy to RUN_DIR/videos/ and TensorBoard at the end "
                               "(a warning, not an error, where rendering is unavailable)")
    video_every: int = option(0, "also render a clip of seed 0's deterministic policy every K evaluations, to "
                                 "RUN_DIR/videos/update<U>-return<R>.mp4 and TensorBoard (tb/seed_0, Images tab) "
                                 "(0: off; on a CPU a 200-step clip costs a few seconds of rendering)")
    video_steps: int = option(200, "control steps of a --video-every clip (the final video: up to eval_max_steps)")
    compile_cache: str = option("", "folder of JAX's persistent compilation cache, where a run keeps the programs it "
                                    "compiled for later runs of the same shapes (a --resume, a rerun, a grid's cells): "
                                    "MJX's programs; native MuJoCo's, which call back into Python, cannot be kept "
                                    "(default $JAX_COMPILATION_CACHE_DIR, else ~/.cache/mjx_mikt/jax; "
                                    "--no-compile-cache: none; a --resume may set another)")


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
    # Wide batches (the scale study, `experiments run scale`): many envs, short unrolls, 8 large
    # minibatches, 4 epochs. Adam moves each weight by about the learning rate per step, so with
    # 40x fewer SGD steps than the paper's the rate is raised (square-root rule for the larger
    # minibatch): at 3e-4 the policy's log-std barely leaves 0 and the training return lags far
    # behind the deterministic one (issue 34's pilot).
    "wide-256x16": PPOConfig(num_envs=256, rollout_length=16, num_minibatches=8, update_epochs=4,
                             learning_rate=1e-3),
    "wide-1024x8": PPOConfig(num_envs=1024, rollout_length=8, num_minibatches=8, update_epochs=4,
                             learning_rate=2e-3),
}


# MIKT settings a preset changes. The mixing logits [a, b] move by about Adam's rate per SGD step, so
# over the coupling ramp they travel rate x SGD steps; the wide presets take 6x less of that per sample
# than the paper (1e-3 x 32 / 4096 and 2e-3 x 32 / 8192 against 3e-4 x 320 / 2048), and at rate 1 the
# teacher was dropped at p_s 0.95/0.85 and the student lost ~400 of its return (docs/scale.md).
PRESET_MIKT: Dict[str, Dict[str, float]] = {
    "wide-256x16": dict(mix_lr_scale=6.0),
    "wide-1024x8": dict(mix_lr_scale=6.0),
}


def preset_mikt(preset: str, **overrides) -> MIKTConfig:
    """The MIKT config of `preset` (the defaults with PRESET_MIKT's changes) with `overrides` on top."""
    return MIKTConfig(**{**PRESET_MIKT.get(preset, {}), **overrides})


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
    if config.run.preset in PRESET_MIKT:  # a wide preset: fewer, larger updates by design
        return (f"note: preset {config.run.preset} trains with {config.num_updates} updates of "
                f"{config.ppo.batch_size:,} samples, not the paper's protocol (976 of 2,048 at 2M); "
                "the paper's figures use --preset paper")
    return (f"warning: {config.num_updates} updates (the paper has 976 at 2M steps); with fewer than "
            f"{MIN_PAPER_UPDATES} the coupling schedule and the results are not comparable with the paper")


def validate(config: Config) -> None:
    """Raise ConfigError with a one-line reason if the config cannot run."""
    run, ppo, mikt = config.run, config.ppo, config.mikt
    for part in (run, ppo, mikt):
        for f in dataclasses.fields(part):
            allowed = choices_of(type(part), f.name)
            value = getattr(part, f.name)
            if allowed is not None and value not in allowed:
                what = f.name.replace("_", " ")
                raise ConfigError(f"unknown {what} {value!r}; choose one of: {', '.join(allowed)}")
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
    if run.mjx_solver_iterations < 0 or run.mjx_ls_iterations < 0:
        raise ConfigError("--mjx-solver-iterations and --mjx-ls-iterations must be >= 0 (0: the model's)")
    if run.video_every < 0 or run.video_steps < 1:
        raise ConfigError("--video-every must be >= 0 and --video-steps >= 1")
    if ppo.desired_kl < 0:
        raise ConfigError(f"--desired-kl must be >= 0 (0: off), got {ppo.desired_kl}")
    if mikt.encoder_fixed_rate and ppo.desired_kl <= 0:
        raise ConfigError("--encoder-fixed-rate keeps the encoders off the KL-adaptive rate: it needs --desired-kl > 0")
    if run.teacher_seeds < 1:
        raise ConfigError(f"--teacher-seeds must be at least 1, got {run.teacher_seeds}")
    if not 0.0 <= mikt.coupling_start <= mikt.coupling_end <= 1.0:
        raise ConfigError("need 0 <= coupling_start <= coupling_end <= 1")
    if not 0.0 <= mikt.teacher_fade <= mikt.coupling_end:
        raise ConfigError(f"--teacher-fade must be in [0, coupling_end={mikt.coupling_end:g}], got {mikt.teacher_fade:g}")
    if run.method != "ppo" and not run.source:
        raise ConfigError(f"--method {run.method} needs --source ROBOT (the teacher's robot)")
