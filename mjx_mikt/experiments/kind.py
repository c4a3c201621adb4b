"""The one protocol every experiment implements (`Kind`), and the command line's folders and budget.

An experiment of `python -m mjx_mikt.experiments` (a figure, a comparison, the scale study; the
registry lists them all, `registry.KINDS`) answers five questions, and the command line, the
README's tables and the tests ask only these:

- `groups(args)`: its cells, by protocol folder ({label: (Protocol, cells)}, label '' for one folder);
- `build(args, groups)`: its report's numbers (report.json) and the folder the report goes to;
- `render(data, folder)`: report.md, report.json and the PNGs from those numbers;
- `rebuild(data)`: a committed report.json's numbers, computed again from the cells' files;
- `blocks()`: the README/docs tables it owns ({block name: report.json -> lines}, readme.py).

Paths come from the command line (--out, --committed, --runs-dir) or the experiment object, never
from a module constant.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from mjx_mikt.config import PRESETS, ConfigError
from mjx_mikt.experiments.grid import Cell, Protocol

Groups = Dict[str, Tuple[Protocol, List[Cell]]]
Table = Callable[[Dict], List[str]]  # a README block's lines from its report's JSON


class Kind(abc.ABC):
    name: str
    title: str

    @abc.abstractmethod
    def describe(self) -> str:
        """`--list`'s line under the title."""

    @abc.abstractmethod
    def groups(self, args) -> Groups:
        """The cells of the experiment, by protocol folder; bad input is a ConfigError."""

    @abc.abstractmethod
    def build(self, args, groups: Groups) -> Tuple[Dict, Path]:
        """The report's numbers (what report.json holds) from the cells' files, and its folder."""

    @abc.abstractmethod
    def render(self, data: Dict, folder: Path) -> Dict[str, Path]:
        """report.md, report.json and the PNGs in `folder`; returns their paths."""

    @abc.abstractmethod
    def rebuild(self, data: Dict) -> Dict:
        """A committed report's numbers, computed again from the cells' files."""

    def blocks(self) -> Dict[str, Table]:
        return dict(getattr(self, "tables", ()))

    def report(self, args, groups: Groups) -> Dict[str, Path]:
        data, folder = self.build(args, groups)
        return self.render(data, folder)


def budget_name(timesteps: int) -> str:
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if timesteps % unit == 0:
            return f"{timesteps // unit}{suffix}"
    return str(timesteps)


def budget(args) -> str:
    return budget_name(int(args.timesteps))


def check_budget(args) -> int:
    timesteps = int(args.timesteps)
    if timesteps <= 0:
        raise ConfigError(f"--timesteps must be positive, got {args.timesteps}")
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    return timesteps


def protocol_from(args, preset=None, backend=None, out=None) -> Protocol:
    """The protocol of the cells from the command line; `out` (a comparison's or study's folder of one
    variant) or --out is written; else runs-dir/<preset>-<budget>, reading the committed one (its base)."""
    timesteps = check_budget(args)
    if args.preset not in PRESETS:
        raise ConfigError(f"unknown preset {args.preset!r}; choose one of: {', '.join(PRESETS)}")
    preset, backend = preset or args.preset, backend or args.backend
    base = None
    if out is None and args.out:
        out = Path(args.out)
    elif out is None:  # the committed folder is read, never written
        name = f"{preset}-{budget_name(timesteps)}"
        committed = Path(args.committed) / name
        out, base = Path(args.runs_dir) / name, (committed if committed.is_dir() else None)
    return Protocol(out=out, seeds=args.seeds, timesteps=timesteps, preset=preset, backend=backend,
                    extra=tuple(args.run_arg), base=base)


def root_of(args, name: str) -> Path:
    """The folder holding a comparison's or study's protocol folders: --out, else the committed folder
    where its report <name>-<budget> is committed (its cells are there, done), else the runs folder."""
    if args.out:
        return Path(args.out)
    committed = Path(args.committed)
    return committed if (committed / f"{name}-{budget(args)}").is_dir() else Path(args.runs_dir)


def variant_folder(root: Path, preset: str, backend: str, budget_text: str) -> Path:
    """A variant's protocol folder: the figures' folder of that preset, '-<backend>' unless native."""
    return root / (f"{preset}-{budget_text}" + ("" if backend == "mujoco" else f"-{backend}"))


def protocol_json(protocol: Protocol, extra: bool = False) -> Dict:
    """A protocol as a report records it (the report's cells are found again from this)."""
    out = {"out": str(protocol.out), "seeds": protocol.seeds, "timesteps": protocol.timesteps,
           "preset": protocol.preset, "backend": protocol.backend}
    return dict(out, extra=list(protocol.extra)) if extra else out


def protocol_of(x: Dict) -> Protocol:
    """The protocol a report recorded (protocol_json)."""
    return Protocol(out=Path(x["out"]), seeds=x["seeds"], timesteps=x["timesteps"], preset=x["preset"],
                    backend=x["backend"], extra=tuple(x.get("extra", ())))
