"""Command line: `python -m mjx_mikt.run --target CentipedeEight` and friends.

Every field of the config dataclasses is a flag; the main ones have short
names (--target, --source, --method, --preset, --timesteps, --num-envs,
--seed, --seeds, --backend, --run-dir, --resume). Bad input exits with code 2
and a one-line message, before any run folder is created.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path
from typing import List, Optional, Sequence

from mjx_mikt.config import (COEFFICIENT_SETS, PRESETS, Config, ConfigError, MIKTConfig, PPOConfig, RunConfig,
                             choices_of, preset_mikt)

DESCRIPTION = """Train MIKT (mutual-information knowledge transfer) or a baseline.

With --method ppo it trains PPO from scratch on --target and saves every seed's
final policy as a teacher in RUN_DIR/teacher/seed_<s>/; only with
--register-teacher is it also registered in --teacher-store, where transfers
look for teachers (the end of the run says where they went). Every other
method transfers from the teachers of --source in --teacher-store (or
--teacher). Without --teacher-store, a source robot that runs/teachers lacks is
read from the teachers committed for the run's preset (results/<preset>-2M/teachers,
else results/paper-2M/teachers), said in one line with their returns; otherwise,
or when --teacher-store is given, a missing teacher is trained first
(--teacher-timesteps env steps, said in one line; run the command again to
resume it; --no-train-teacher: exit 2). Committed teachers, 5 seeds x 2M steps:
CentipedeFour, CentipedeSix, Ant and Hopper in results/paper-2M/teachers;
CentipedeFour in results/paper-wide-2M, wide-256x16-2M (and CentipedeEight)
and wide-1024x8-2M. The line that starts a transfer names every teacher it reads.
"""

EPILOG = """examples:
  python -m mjx_mikt.run --target CentipedeEight                      # the paper's Four -> Eight transfer
  python -m mjx_mikt.run --method ppo --target CentipedeFour --register-teacher   # train and register a teacher
  python -m mjx_mikt.run --target CentipedeSix --source CentipedeFour --seeds 5 --timesteps 1000000
  python -m mjx_mikt.run --target CentipedeEight --source CentipedeFour,CentipedeSix   # two teachers
  python -m mjx_mikt.run --target path/to/robot.xml --source CentipedeFour   # your own MJCF robot
  python -m mjx_mikt.run --resume runs/CentipedeEight-mikt-20260101-120000
"""

# Short flag names for the most used fields; help texts live with the fields (config.option).
ALIASES = {"total_timesteps": "timesteps", "num_seeds": "seeds", "teacher_path": "teacher"}


def _flag(name: str) -> str:
    return "--" + ALIASES.get(name, name).replace("_", "-")


def _tuple_of(kind):
    def parse(text: str):
        try:
            return tuple(kind(x) for x in text.split(",") if x.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}")

    return parse


def _count(text: str) -> int:
    """An int flag that also takes 2e6 or 2_000_000 (a whole number); argparse prints the error."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def _add_fields(group, kind, skip=()) -> None:
    for f in dataclasses.fields(kind):
        if f.name in skip:
            continue
        default = getattr(kind(), f.name)
        shown = default if not isinstance(default, tuple) else ",".join(map(str, default))
        # an empty default has its meaning in the help text itself ("default runs/<target>-...")
        help_text = f.metadata.get("help", f.name) + (f" (default: {shown})" if shown != "" else "")
        flag = _flag(f.name)
        if isinstance(default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif isinstance(default, tuple):
            item = int if f.name != "source" else str
            group.add_argument(flag, dest=f.name, type=_tuple_of(item), default=None, metavar="A,B", help=help_text)
        else:
            # choices are checked by config.validate (one error line, no run folder), so only shown here
            allowed = choices_of(kind, f.name)
            metavar = "{" + ",".join(allowed) + "}" if allowed else None
            kind_of = _count if type(default) is int else type(default)
            group.add_argument(flag, dest=f.name, type=kind_of, default=None, metavar=metavar, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    from mjx_mikt import envs

    parser = argparse.ArgumentParser(
        prog="python -m mjx_mikt.run",
        description=DESCRIPTION + f"\nrobots: {', '.join(envs.names())}, any CentipedeN (even N >= 4), or an "
                                  "MJCF file path/to/robot.xml (README: Your own robot)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue the run in RUN_DIR from its last checkpoint, as it was started (a flag "
                             "that differs from the run's, e.g. another --timesteps, is an error)")
    run_group = parser.add_argument_group("run")
    _add_fields(run_group, RunConfig)
    run_group.add_argument("--no-compile-cache", dest="compile_cache", action="store_const", const="off",
                           help="compile every program anew, without JAX's persistent compilation cache")
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
    mikt = preset_mikt(run.preset, **mikt_values)
    return Config(run=run, ppo=ppo, mikt=mikt)


def check_resume_flags(args: argparse.Namespace, config: Config) -> None:
    """--resume continues a run as it was started: a flag given with it that differs from the run's value
    (e.g. --timesteps) is an error in one line, not silently ignored."""
    from mjx_mikt import envs

    differ = []
    for name, value in vars(args).items():
        if value is None or name == "resume" or name in SITTING_FLAGS:
            continue
        if name == "coefficients":
            recorded = next((k for k, c in COEFFICIENT_SETS.items()
                             if all(getattr(config.mikt, f) == v for f, v in c.items())), "other values")
            if recorded != value:
                differ.append(f"--coefficients {value} (the run's: {recorded})")
            continue
        part = next(p for p in (config.run, config.ppo, config.mikt) if name in {f.name for f in dataclasses.fields(p)})
        recorded = getattr(part, name)
        if name == "backend":
            value = envs.resolve_backend(value)
        if value != recorded:
            shown = [",".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in (value, recorded)]
            differ.append(f"{_flag(name)} {shown[0]} (the run's: {shown[1]})")
    if differ:
        raise ConfigError(f"--resume continues the run as it was started, but {'; '.join(differ)}: changing or "
                          "extending a run is not supported; drop the flag, or start a new run")


EXIT_IO = 74  # sysexits' EX_IOERR: the run's files could not be written or read


def main(argv: Optional[Sequence[str]] = None, exit_process: Optional[bool] = None) -> int:
    """Parse, then hand the run to `lifecycle` (start or resume); returns the exit code.

    A SIGINT or SIGTERM at any moment ends it with 130/143 and one line saying what was kept
    (mjx_mikt.signals): in the training loop at the next chunk boundary, with a checkpoint; anywhere
    else at once. With `exit_process` (default: when argv is None, the command line) the process then
    ends without Python's shutdown, which could wait for a compile or crash under XLA's threads."""
    from mjx_mikt import signals

    exit_process = argv is None if exit_process is None else exit_process
    with signals.guard(exit_process=exit_process):
        resumed = _resume_folder(list(sys.argv[1:] if argv is None else argv))
        if resumed:  # until it has read its checkpoint (then loop.py says which)
            signals.keep(f": the run in {resumed} is kept as it was; the same command resumes it")
        try:
            code = _main(argv)
        except signals.Interrupted as stop:
            code = signals.finish(stop.signum)
        if exit_process and code in (signals.exit_code(signal.SIGINT), signals.exit_code(signal.SIGTERM)):
            signals.exit_now(code)
        return code


def _resume_folder(words: List[str]) -> str:
    """The RUN_DIR of --resume in the command-line words, '' if none (read before the parser is built)."""
    for i, word in enumerate(words):
        if word.startswith("--resume="):
            return word.split("=", 1)[1]
        if word == "--resume" and i + 1 < len(words):
            return words[i + 1]
    return ""


# Flags that set up one sitting of a run, not the run: a --resume may give other values.
SITTING_FLAGS = ("compile_cache",)


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    from mjx_mikt import compiles, lifecycle, patches
    from mjx_mikt.checkpoint import CheckpointError
    from mjx_mikt.run_folder import RunFolder
    from mjx_mikt.run_videos import VIDEO_HOOKS

    patches.install_all()  # before any program is lowered (mjx_mikt/patches.py)
    previous_hook, threading.excepthook = threading.excepthook, _quiet_os_errors_of_threads
    try:
        if args.resume:
            config = RunFolder.open(Path(args.resume)).config
            check_resume_flags(args, config)
            compiles.use_cache(args.compile_cache if args.compile_cache is not None else config.run.compile_cache)
            return lifecycle.resume(Path(args.resume), hooks=VIDEO_HOOKS)
        config = config_from_args(args)
        compiles.use_cache(config.run.compile_cache)
        return lifecycle.start(config, hooks=VIDEO_HOOKS, committed_teachers=args.teacher_store is None)
    except (ConfigError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # full disk, read-only folder, ...: what failed and where, in one line
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"error: cannot write or read run files{where}: {err.strerror or err}", file=sys.stderr)
        return EXIT_IO
    finally:
        threading.excepthook = previous_hook


def _quiet_os_errors_of_threads(args) -> None:
    """A library's writer thread (tensorboardX's) that fails on a full disk ends quietly: the main thread's
    next write fails too and says so in one line. Other errors keep Python's report."""
    if not issubclass(args.exc_type, OSError):
        threading.__excepthook__(args)


def _exit_after(code: int) -> None:
    """Exit with `code`; after an I/O error without the exit-time flushes of the libraries' writers, which
    fail again on the same disk and print tracebacks after the one error line."""
    if code == EXIT_IO:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit_after(main())
