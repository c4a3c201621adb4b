"""Command line: `python -m mjx_mikt.run --target CentipedeEight` and friends.

Every field of the config dataclasses is a flag; the main ones have short
names (--target, --source, --method, --preset, --timesteps, --num-envs,
--seed, --seeds, --backend, --run-dir, --resume). Bad input exits with code 2
and a one-line message, before any run folder is created.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from mjx_mikt import teachers as teachers_lib
from mjx_mikt.config import (COEFFICIENT_SETS, METHODS, PRESETS, Config, ConfigError, MIKTConfig, PPOConfig, RunConfig,
                             paper_comparison_warning, validate)

DESCRIPTION = """Train MIKT (mutual-information knowledge transfer) or a baseline.

With --method ppo it trains a teacher for --target and registers it in the
teacher store; every other method transfers from the teacher(s) of --source,
training a missing teacher first (unless --no-train-teacher).
"""

EPILOG = """examples:
  python -m mjx_mikt.run --target CentipedeEight                      # the paper's Four -> Eight transfer
  python -m mjx_mikt.run --method ppo --target CentipedeFour          # train and register a teacher
  python -m mjx_mikt.run --target CentipedeSix --source CentipedeFour --seeds 5 --timesteps 1000000
  python -m mjx_mikt.run --target CentipedeEight --source CentipedeFour,CentipedeSix   # two teachers
  python -m mjx_mikt.run --resume runs/CentipedeEight-mikt-20260101-120000
"""

# Short flag names for the most used fields, and help for every field.
ALIASES = {"total_timesteps": "timesteps", "num_seeds": "seeds", "teacher_path": "teacher"}
HELP: Dict[str, str] = {
    # run
    "target": "robot the student learns (see the robot list below)",
    "source": "teacher robot(s), comma separated; several give MIKT several teachers",
    "method": f"one of {', '.join(METHODS)}",
    "preset": (f"PPO hyper-parameter preset: {', '.join(PRESETS)} (paper = SPEC's optimisation from 8 envs x 256 "
               "steps; paper-exact = 1 env x 2048 steps, time limit terminal; paper-wide = 64 envs x 32 steps; "
               "gpu = 2048 envs, 4 epochs: too few updates for a paper comparison)"),
    "total_timesteps": "env steps per seed",
    "seed": "first seed; seeds seed..seed+N-1 run together",
    "num_seeds": "number of seeds trained in one program (vmapped)",
    "backend": "physics: mjx (MuJoCo MJX in JAX), mujoco (native MuJoCo on host threads), auto (mjx on GPU/TPU)",
    "run_dir": "run folder (default runs/<target>-<method>-<time>)",
    "teacher_store": "folder of teachers by robot and seed (<store>/<Robot>/seed_<s>/teacher.msgpack)",
    "teacher_path": "explicit teacher folder or teacher set (a folder of seed_<s>/), one per --source robot, comma separated",
    "teacher_seeds": "K teachers per source robot (seeds 0..K-1, trained if missing); student seed i reads teacher i mod K",
    "train_teacher": "train a teacher that is missing from the store (--no-train-teacher: exit 2 instead)",
    "teacher_timesteps": "env steps for a teacher trained because none was found",
    "updates_per_chunk": "updates fused into one device call between host syncs (0: about 16k env steps)",
    "eval_every": "updates between evaluations of the deterministic policy (0: only at the end)",
    "eval_episodes": "episodes per evaluation (run in parallel)",
    "eval_max_steps": "control steps an evaluation episode may last",
    "checkpoint_every": "updates between checkpoints (0: only at the end)",
    # ppo
    "num_envs": "parallel envs; samples per update = num_envs x rollout_length",
    "rollout_length": "control steps per env per update",
    "num_minibatches": "minibatches per epoch (must divide the samples per update)",
    "update_epochs": "passes over the batch per update",
    "learning_rate": "Adam learning rate (start value when annealed)",
    "anneal_lr": "decay the learning rate linearly to 0",
    "adam_eps": "Adam epsilon",
    "max_grad_norm": "global gradient-norm clip",
    "gamma": "discount factor",
    "gae_lambda": "GAE lambda",
    "clip_eps": "PPO ratio clip (also clips the value update)",
    "clip_value": "clip the value update like the policy ratio",
    "vf_coef": "value loss coefficient",
    "ent_coef": "entropy bonus coefficient",
    "normalize_obs": "normalise observations by running mean/std",
    "obs_clip": "clip of normalised observations",
    "normalize_reward": "scale rewards by the running std of the discounted return",
    "reward_clip": "clip of scaled rewards",
    "hidden_sizes": "hidden layer sizes, comma separated",
    # mikt
    "value_coupling": "ramp: value coupling c_vps*coupling/c_ps, ramped with the policy's; constant: c_vps while the teacher is used",
    "mixing": "code: h = tanh(p_s(Wh+b) + p_t U z) as the authors' code; paper: without U (Eq. 2)",
    "c_ps": "policy coupling coefficient (reached at coupling_end)",
    "c_vps": "value coupling coefficient",
    "c_kl": "coefficient of 0.5 mean((log pi - log pi_old)^2)",
    "c_mi": "coefficient of the mutual-information loss",
    "coupling_start": "training fraction where the coupling starts ramping up",
    "coupling_end": "training fraction where coupling is full and the teacher is dropped",
    "init_student_logit": "initial a in [p_s, p_t] = softmax([a, b])",
    "init_teacher_logit": "initial b in [p_s, p_t] = softmax([a, b])",
    "encoder_hidden": "encoder hidden sizes, comma separated",
    "mi_hidden": "q(s|e) hidden sizes, comma separated",
}


def _flag(name: str) -> str:
    return "--" + ALIASES.get(name, name).replace("_", "-")


def _tuple_of(kind):
    def parse(text: str):
        try:
            return tuple(kind(x) for x in text.split(",") if x.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}")

    return parse


def _add_fields(group, kind, skip=()) -> None:
    for f in dataclasses.fields(kind):
        if f.name in skip:
            continue
        default = getattr(kind(), f.name)
        help_text = HELP.get(f.name, f.name) + f" (default: {default if not isinstance(default, tuple) else ','.join(map(str, default))})"
        flag = _flag(f.name)
        if isinstance(default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif isinstance(default, tuple):
            item = int if f.name != "source" else str
            group.add_argument(flag, dest=f.name, type=_tuple_of(item), default=None, metavar="A,B", help=help_text)
        else:
            group.add_argument(flag, dest=f.name, type=type(default), default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    from mjx_mikt import envs

    parser = argparse.ArgumentParser(
        prog="python -m mjx_mikt.run",
        description=DESCRIPTION + f"\nrobots: {', '.join(envs.names())}",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue the run in RUN_DIR from its last checkpoint (other flags are ignored)")
    _add_fields(parser.add_argument_group("run"), RunConfig)
    _add_fields(parser.add_argument_group("ppo (override the preset)"), PPOConfig)
    mikt_group = parser.add_argument_group("mikt")
    mikt_group.add_argument("--coefficients", choices=sorted(COEFFICIENT_SETS), default=None,
                            help="the authors' coefficient sets (SPEC §4): " + "; ".join(
                                f"{k}: " + ", ".join(f"{n}={v}" for n, v in c.items())
                                for k, c in COEFFICIENT_SETS.items()) + " (single flags override)")
    _add_fields(mikt_group, MIKTConfig)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    given = {k: v for k, v in vars(args).items() if v is not None}
    run = RunConfig(**{f.name: given[f.name] for f in dataclasses.fields(RunConfig) if f.name in given})
    if run.method == "ppo" and "source" not in given:
        run = dataclasses.replace(run, source=())
    preset = PRESETS.get(run.preset, PPOConfig())
    ppo = dataclasses.replace(preset, **{f.name: given[f.name] for f in dataclasses.fields(PPOConfig) if f.name in given})
    mikt_values = dict(COEFFICIENT_SETS[args.coefficients]) if getattr(args, "coefficients", None) else {}
    mikt_values.update({f.name: given[f.name] for f in dataclasses.fields(MIKTConfig) if f.name in given})
    mikt = MIKTConfig(**mikt_values)
    return Config(run=run, ppo=ppo, mikt=mikt)


def prepare(args: argparse.Namespace):
    """Everything that can fail on bad input, before anything is written."""
    from mjx_mikt import experiment

    if args.resume:
        run_dir = Path(args.resume)
        config = experiment.load_run_config(run_dir)
        if experiment.checkpoint.latest_step(run_dir / "checkpoints") is None:
            raise ConfigError(f"--resume folder {run_dir} has no checkpoint to resume from")
        return config, run_dir, True
    config = config_from_args(args)
    validate(config)
    experiment.check_robots(config)
    config = dataclasses.replace(config, run=dataclasses.replace(
        config.run, backend=experiment.envs.resolve_backend(config.run.backend)))
    if config.run.run_dir and (Path(config.run.run_dir) / "config.json").exists():
        run_dir = Path(config.run.run_dir)
        raise ConfigError(f"run folder {run_dir} already holds a run; use --resume {run_dir} or another --run-dir")
    missing = teachers_lib.missing(config)
    if missing and not config.run.train_teacher:
        raise ConfigError(
            f"no teacher for {', '.join(missing)} in {config.run.teacher_store} and --no-train-teacher was given"
        )
    if not missing:
        teachers_lib.resolve(config)  # validates teacher files now
    warning = paper_comparison_warning(config)
    if warning:
        print(warning, file=sys.stderr)
    if config.num_updates * config.ppo.batch_size != config.run.total_timesteps:
        print(f"note: --timesteps {config.run.total_timesteps:,} is rounded down to {config.num_updates} updates "
              f"x {config.ppo.batch_size} samples = {config.num_updates * config.ppo.batch_size:,} env steps per seed",
              file=sys.stderr)
    # the default folder is created (exclusively) only now that the input is known to be good
    run_dir = Path(config.run.run_dir) if config.run.run_dir else experiment.default_run_dir(config)
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, run_dir=str(run_dir)))
    return config, run_dir, False


class TeacherRunStopped(Exception):
    """The teacher run a transfer run needed did not finish (its exit code is the argument)."""


def train_missing_teachers(config: Config) -> None:
    from mjx_mikt import experiment

    for robot in teachers_lib.missing(config):
        k = config.run.teacher_seeds
        print(f"no {k} teacher(s) for {robot} in {config.run.teacher_store}: training seeds 0..{k - 1} "
              f"({config.run.teacher_timesteps:,} steps)", file=sys.stderr, flush=True)
        teacher_run = dataclasses.replace(
            config.run, target=robot, source=(), method="ppo", total_timesteps=config.run.teacher_timesteps,
            seed=0, num_seeds=k, run_dir="",
        )
        teacher_config = dataclasses.replace(config, run=teacher_run)
        validate(teacher_config)
        run_dir = experiment.default_run_dir(teacher_config)
        teacher_config = dataclasses.replace(
            teacher_config, run=dataclasses.replace(teacher_run, run_dir=str(run_dir)))
        teacher_summary = experiment.train_and_report(teacher_config, run_dir, label=f"teacher {robot}")
        if teacher_summary["status"] != "finished":
            raise TeacherRunStopped(exit_code(teacher_summary))
        if teachers_lib.missing(dataclasses.replace(config, run=dataclasses.replace(config.run, source=(robot,)))):
            raise ConfigError(f"training the {robot} teacher(s) did not register {k} finite teacher(s)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mjx_mikt import experiment
    from mjx_mikt.checkpoint import CheckpointError

    try:
        config, run_dir, resume = prepare(args)
        if resume:
            finished = experiment.finished_summary(run_dir, config)
            if finished is not None:  # nothing to do: say so, touch nothing
                print(f"{run_dir} already finished {finished['updates']} updates; "
                      f"final eval return per seed {finished['eval_return_per_seed']}", flush=True)
                return 0
        else:
            train_missing_teachers(config)
        summary = experiment.train_and_report(config, run_dir, resume=resume)
    except (ConfigError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TeacherRunStopped as stopped:
        return stopped.args[0]
    return exit_code(summary)


EXIT_DIVERGED = 3


def exit_code(summary: dict) -> int:
    """0 finished; 3 diverged; 130/143 interrupted by SIGINT/SIGTERM (as shells report them)."""
    if summary.get("status") == "diverged":
        return EXIT_DIVERGED
    if summary.get("status") == "interrupted":
        return 143 if summary.get("interrupted_by") == "SIGTERM" else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
