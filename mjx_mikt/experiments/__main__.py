"""`python -m mjx_mikt.experiments`: the paper's experiments (Fig. 3-7) as commands.

    python -m mjx_mikt.experiments --list
    python -m mjx_mikt.experiments run fig3 [--pairs Four:Eight] [--methods mikt,ppo] [--seeds 5]
    python -m mjx_mikt.experiments run fig3 --print-commands      # one `mjx_mikt.run` line per cell
    python -m mjx_mikt.experiments run fig3 --pairs Four:path/to/robot.xml   # your own robot as a target
    python -m mjx_mikt.experiments run fig3 --launcher slurm      # one Slurm job per cell, teachers first
    python -m mjx_mikt.experiments report fig3                     # tables and figures from the cells
    python -m mjx_mikt.experiments status fig3                     # each cell: done, partial at update K, or new
    python -m mjx_mikt.experiments run shapes                      # PPO per sample: 8 x 256 vs 64 x 32
    python -m mjx_mikt.experiments run backends                    # PPO on native MuJoCo vs MJX
    python -m mjx_mikt.experiments run scale                       # wide-batch presets: transfer and time

Without --out nothing is written into a committed results/ folder: the cells that are done in
results/<preset>-<budget> are read from there, every other cell is run under runs/<preset>-<budget>,
and a report over a subset of a figure's pairs or methods goes there too. Name the committed folder
(--out results/paper-2M) to add to it.

Exit codes: 0 done, 2 bad input, otherwise the exit code of the cell that failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from mjx_mikt import patches
from mjx_mikt.config import METHODS, PRESETS, ConfigError
from mjx_mikt.experiments import grid, registry, slurm
from mjx_mikt.experiments.kind import Groups, protocol_from  # noqa: F401  (protocol_from: the figures' protocol)

FOLDERS = ", ".join(k.name for k in registry.COMPARISONS + registry.STUDIES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mjx_mikt.experiments", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the named experiments and their cells")
    parser.add_argument("action", nargs="?", choices=("run", "report", "status"),
                        help="run the cells (finished ones skipped, interrupted ones resumed), report on "
                             "them, or show each cell's status (done, partial at update K, new)")
    parser.add_argument("name", nargs="?",
                        help="experiment: " + ", ".join(registry.KINDS))
    parser.add_argument("--pairs", default=None,
                        help="SOURCE:TARGET pairs, comma separated, short names "
                             f"({', '.join(grid.SHORT)}) or MJCF files (Four:path/to/robot.xml, a path without ',', ':' "
                             "or '+'; cell folders named <stem>-<hash8>); SOURCE may join robots with '+' (Four+Six:Eight: "
                             "one student, all their teachers at once); default: the figure's")
    parser.add_argument("--methods", default=None, help=f"methods, comma separated ({', '.join(METHODS)}); "
                                                        "default: the figure's")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per cell, vmapped in one program; also "
                                                              "the teachers per source robot (default 5)")
    parser.add_argument("--timesteps", type=float, default=2e6, help="env steps per seed (default 2e6)")
    parser.add_argument("--preset", default="paper", help=f"PPO preset: {', '.join(PRESETS)} (default paper; "
                                                          f"{' and '.join(k.name for k in registry.COMPARISONS)} set their own)")
    parser.add_argument("--presets", default=None,
                        help=f"{', '.join(k.name for k in registry.STUDIES)}: presets, comma separated (default: the study's; its first "
                             "is the baseline)")
    parser.add_argument("--backend", default="mujoco", help="physics backend of every cell (default mujoco)")
    parser.add_argument("--out", default=None,
                        help="protocol folder shared by all figures (default runs/<preset>-<budget>, reading the "
                             "done cells and teachers of a committed results/<preset>-<budget>; name that folder to "
                             f"write into it); for {FOLDERS}, the folder that holds one such folder per variant "
                             "(default the committed folder where its report is committed, else the runs folder)")
    parser.add_argument("--committed", default="results",
                        help="the committed results: done cells and teachers read, reports regenerated (default results)")
    parser.add_argument("--runs-dir", default="runs", help="where cells and reports go without --out (default runs)")
    parser.add_argument("--print-commands", action="store_true",
                        help="print one self-contained `python -m mjx_mikt.run` line per cell and exit; "
                             "run the PPO cells of the source robots (printed first) before the others")
    parser.add_argument("--run-arg", action="append", default=[], metavar="FLAG",
                        help="extra flag for every cell's `mjx_mikt.run` (repeat; e.g. --run-arg=--num-envs=64)")
    cluster = parser.add_argument_group("on a Slurm cluster (run --launcher slurm; see mjx_mikt/experiments/slurm.py)")
    cluster.add_argument("--launcher", choices=("local", "slurm"), default="local",
                         help="local: the cells one after the other here (default); slurm: one batch job per cell, "
                              "transfer cells after their teachers' PPO cells (afterok), requeued on preemption")
    cluster.add_argument("--partition", default=None, help="Slurm partition of every cell's job")
    cluster.add_argument("--time", default=None, help="Slurm time limit per job (e.g. 8:00:00); SIGTERM comes "
                                                       f"{slurm.SIGNAL_BEFORE_S} s before it and the cell requeues")
    cluster.add_argument("--cpus-per-cell", type=int, default=2, help="CPUs per job (default 2)")
    cluster.add_argument("--gpus-per-cell", type=int, default=0, help="GPUs per job (--gres=gpu:G; default 0)")
    cluster.add_argument("--dry-run", action="store_true",
                         help="print the job scripts and sbatch lines with their dependencies; submit nothing")
    return parser


def act_on_cells(args, groups: Groups, runner) -> Optional[int]:
    """status, --print-commands or run over `groups` ({label: (protocol, cells)}, label '' for a
    single protocol). Returns the exit code when the action ends here, None when the report follows."""
    if args.dry_run and args.launcher != "slurm":
        raise ConfigError("--dry-run goes with --launcher slurm (--print-commands shows the local lines)")
    if args.launcher == "slurm" and (args.print_commands or args.cpus_per_cell < 1 or args.gpus_per_cell < 0):
        raise ConfigError("--launcher slurm takes no --print-commands; --cpus-per-cell >= 1, --gpus-per-cell >= 0")
    if args.action == "status":
        for label, (protocol, cells) in groups.items():
            jobs = slurm.states(cells, protocol)
            for cell in cells:
                print(f"{label}: " * bool(label) + grid.describe(cell, protocol)
                      + (f"  | slurm: {jobs[cell]}" if cell in jobs else ""))
        return 0
    if args.action == "run" and args.launcher == "slurm":
        options = slurm.Options(args.partition, args.time, args.cpus_per_cell, args.gpus_per_cell)
        return slurm.submit(groups, options, dry_run=args.dry_run)
    if args.action == "run" and args.print_commands:
        for protocol, cells in groups.values():
            grid.print_commands(cells, protocol)
        return 0
    if args.action == "run":
        for label, (protocol, cells) in groups.items():
            for cell in cells:
                code = grid.run_cell(cell, protocol, runner)
                if code != 0:
                    print(f"error: cell {cell.label}{f' ({label})' * bool(label)} exited with code {code}; "
                          f"run the same command again to resume", file=sys.stderr)
                    return code
    return None


def list_experiments(out=None) -> None:
    for kind in registry.KINDS.values():
        print(f"{kind.name}: {kind.title}\n    {kind.describe()}", file=out or sys.stdout)


def main(argv: Optional[Sequence[str]] = None, runner=grid.run_subprocess) -> int:
    args = build_parser().parse_args(argv)
    patches.install_all()  # as every entry point (mjx_mikt/patches.py); each cell's mjx_mikt.run installs them too
    try:
        if args.list:
            list_experiments()
            return 0
        if not args.action or not args.name:
            raise ConfigError("give --list, or run NAME, report NAME or status NAME")
        kind = registry.kind(args.name)
        groups = kind.groups(args)
        code = act_on_cells(args, groups, runner)
        if code is not None:
            return code
        print(f"report: {kind.report(args, groups)['md']}", flush=True)
        return 0
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
