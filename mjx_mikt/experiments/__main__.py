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
import dataclasses
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mjx_mikt.config import METHODS, PRESETS, ConfigError
from mjx_mikt.experiments import by_teacher, comparisons, grid, multi_report, report, scale, slurm


def _budget_name(timesteps: int) -> str:
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if timesteps % unit == 0:
            return f"{timesteps // unit}{suffix}"
    return str(timesteps)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mjx_mikt.experiments", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the named experiments and their cells")
    parser.add_argument("action", nargs="?", choices=("run", "report", "status"),
                        help="run the cells (finished ones skipped, interrupted ones resumed), report on "
                             "them, or show each cell's status (done, partial at update K, new)")
    parser.add_argument("name", nargs="?",
                        help="experiment: " + ", ".join(list(grid.EXPERIMENTS) + list(comparisons.COMPARISONS) + list(scale.STUDIES)))
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
                                                          f"{' and '.join(comparisons.COMPARISONS)} set their own)")
    parser.add_argument("--presets", default=None,
                        help=f"{', '.join(scale.STUDIES)}: presets, comma separated (default: the study's; its first "
                             "is the baseline)")
    parser.add_argument("--backend", default="mujoco", help="physics backend of every cell (default mujoco)")
    parser.add_argument("--out", default=None,
                        help="protocol folder shared by all figures (default runs/<preset>-<budget>, reading the "
                             "done cells and teachers of a committed results/<preset>-<budget>; name that folder to "
                             f"write into it); for {', '.join(list(comparisons.COMPARISONS) + list(scale.STUDIES))}, "
                             "the folder that holds one such folder per variant (default results where its report "
                             "is committed, else runs)")
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


def protocol_from(args, variant: Optional[comparisons.Variant] = None, root: Optional[Path] = None) -> grid.Protocol:
    """The protocol of the figures' cells; with `variant` (a comparison's), the one of that variant
    under the folder `root` (root_of)."""
    timesteps = int(args.timesteps)
    if timesteps <= 0:
        raise ConfigError(f"--timesteps must be positive, got {args.timesteps}")
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    if args.preset not in PRESETS:
        raise ConfigError(f"unknown preset {args.preset!r}; choose one of: {', '.join(PRESETS)}")
    preset, backend = args.preset, args.backend
    if variant is not None:
        preset, backend = variant.preset, variant.backend
        out = comparisons.protocol_folder(root or Path(args.out or "results"), variant, _budget_name(timesteps))
        base = None
    elif args.out:
        out, base = Path(args.out), None
    else:  # the committed folder is read, never written
        name = f"{preset}-{_budget_name(timesteps)}"
        out, base = Path("runs") / name, (COMMITTED / name if (COMMITTED / name).is_dir() else None)
    return grid.Protocol(out=out, seeds=args.seeds, timesteps=timesteps, preset=preset,
                         backend=backend, extra=tuple(args.run_arg), base=base)


COMMITTED = Path("results")  # the committed protocol folders and reports, relative to the repository root


def root_of(args, name: str) -> Path:
    """The folder holding a comparison's or study's protocol folders: --out, else results where its report
    <name>-<budget> is committed (its cells are there, done), else runs."""
    if args.out:
        return Path(args.out)
    return COMMITTED if (COMMITTED / f"{name}-{_budget_name(int(args.timesteps))}").is_dir() else Path("runs")


def report_protocol(experiment: grid.Experiment, protocol: grid.Protocol, pairs, methods,
                    cells: List[grid.Cell]) -> grid.Protocol:
    """Where a figure's report goes: the committed folder (protocol.base) when the report is its own, over
    the figure's pairs and methods with no cell of runs/ (a regeneration, byte-identical), else out."""
    if protocol.base is None:
        return protocol
    own = pairs in (None, grid.parse_pairs(",".join(experiment.pairs))) and methods in (None, experiment.methods)
    if own and not any(cell.folder_under(protocol.out, protocol).exists() for cell in cells):
        return dataclasses.replace(protocol, out=protocol.base, base=None)
    why = "a subset of its pairs or methods" if not own else f"cells of {protocol.out}"
    print(f"note: this {experiment.name} report covers {why}: it goes to {protocol.out / experiment.name}; the "
          f"committed {protocol.base / experiment.name} is left as it is", file=sys.stderr, flush=True)
    return protocol


def act_on_cells(args, groups: Dict[str, Tuple[grid.Protocol, List[grid.Cell]]], runner) -> Optional[int]:
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


def run_comparison(comparison: comparisons.Comparison, args, runner) -> int:
    """One PPO cell per variant of `comparison`, then its report."""
    protocols = {v.label: protocol_from(args, v, root_of(args, comparison.name)) for v in comparison.variants}
    code = act_on_cells(args, {label: (p, [comparison.cell()]) for label, p in protocols.items()}, runner)
    if code is not None:
        return code
    folder = root_of(args, comparison.name) / f"{comparison.name}-{_budget_name(int(args.timesteps))}"
    print(f"report: {comparisons.write(comparison, protocols, folder)['md']}", flush=True)
    return 0


def run_study(study: scale.Study, args, runner) -> int:
    """The three cells of every preset of `study`, preset after preset, then its report."""
    names = tuple(p.strip() for p in args.presets.split(",")) if args.presets else study.presets
    for name in names:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r} in --presets; choose one of: {', '.join(PRESETS)}")
    timesteps = int(args.timesteps)
    if timesteps <= 0 or args.seeds < 1:
        raise ConfigError("--timesteps and --seeds must be positive")
    root, budget = root_of(args, study.name), _budget_name(timesteps)
    protocols = {name: scale.protocol(name, root, budget, args.seeds, timesteps, args.backend, tuple(args.run_arg))
                 for name in names}
    code = act_on_cells(args, {name: (p, study.cells()) for name, p in protocols.items()}, runner)
    if code is not None:
        return code
    folder = root / f"{study.name}-{budget}"
    if not args.out and root == COMMITTED and names != study.presets:  # a subset: not over the committed report
        folder = Path("runs") / f"{study.name}-{budget}"
        print(f"note: a report over presets {', '.join(names)} goes to {folder}; the committed "
              f"{root / f'{study.name}-{budget}'} is left as it is", file=sys.stderr, flush=True)
    written = scale.write(study, protocols, folder, scale.newest_throughput_file(study))
    print(f"report: {written['md']}", flush=True)
    return 0


def selection(args):
    if args.name not in grid.EXPERIMENTS:
        raise ConfigError(f"unknown experiment {args.name!r}; choose one of: {', '.join(grid.EXPERIMENTS)}")
    experiment = grid.EXPERIMENTS[args.name]
    pairs = grid.parse_pairs(args.pairs) if args.pairs else None
    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else None
    for m in methods or ():
        if m not in METHODS:
            raise ConfigError(f"unknown method {m!r}; choose one of: {', '.join(METHODS)}")
    return experiment, pairs, methods


def list_experiments(out=None) -> None:
    out = out or sys.stdout
    for experiment in grid.EXPERIMENTS.values():
        cells = grid.cells_of(experiment)
        print(f"{experiment.name}: {experiment.title}", file=out)
        print(f"    pairs: {', '.join(experiment.pairs)}; methods: {', '.join(experiment.methods)}; "
              f"{len(cells)} cells", file=out)
    for comparison in comparisons.COMPARISONS.values():
        print(f"{comparison.name}: {comparison.title}", file=out)
        print("    variants: " + ", ".join(f"{v.label} (preset {v.preset}, backend {v.backend})"
                                       for v in comparison.variants) + f"; method: ppo; {len(comparison.variants)} cells",
              file=out)
    for study in scale.STUDIES.values():
        print(f"{study.name}: {study.title}", file=out)
        print(f"    presets: {', '.join(study.presets)} (the first is the baseline); cells per preset: "
              + ", ".join(c.label for c in study.cells()), file=out)


def main(argv: Optional[Sequence[str]] = None, runner=grid.run_subprocess) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            list_experiments()
            return 0
        if not args.action or not args.name:
            raise ConfigError("give --list, or run NAME, report NAME or status NAME")
        if args.name in comparisons.COMPARISONS:
            return run_comparison(comparisons.COMPARISONS[args.name], args, runner)
        if args.name in scale.STUDIES:
            return run_study(scale.STUDIES[args.name], args, runner)
        experiment, pairs, methods = selection(args)
        protocol = protocol_from(args)
        cells = grid.cells_of(experiment, pairs, methods)
        code = act_on_cells(args, {"": (protocol, cells)}, runner)
        if code is not None:
            return code
        sections = [by_teacher.section] if experiment.by_teacher else []
        if experiment.several_teachers:
            sections.append(multi_report.section)
        written = report.write(experiment, report_protocol(experiment, protocol, pairs, methods, cells), pairs,
                               methods, sections)
        print(f"report: {written['md']}", flush=True)
        return 0
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
