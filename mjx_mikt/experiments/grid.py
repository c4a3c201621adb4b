"""The paper's experiments (§5, Fig. 3-7) as grids of cells, and running a cell.

A *cell* is one (source, target, method) with all its seeds vmapped in one
`python -m mjx_mikt.run` program. Cells live in a *protocol folder* (one
preset and budget: default `results/<preset>-<budget>`), shared by every
figure that needs them (Four->Eight MIKT is in Fig. 3, 4, 5 and 7, and is
trained once):

    <out>/cells/<Robot>/ppo/                  PPO from scratch on a robot: the baseline of a
                                              target, and the per-seed teachers of a source
    <out>/teachers/<Robot>/seed_<s>/          those teachers (the cells' teacher store)
    <out>/cells/<Source>-<Target>/<method>/   a transfer cell (a run folder)
    <out>/<figure>/report.md, report.json, *.png

A pair's robot is a short name (Four), a full one (CentipedeFour) or the path of an MJCF file
(`--pairs Four:path/to/robot.xml`: the generic task of envs/mjcf.py). A file is kept as its
absolute path (the cells' commands pass it to --target/--source) and named in folders by its
identity `<stem>-<hash8>` (the sha256 of its text and of the --task-options the cells get through
--run-arg, as the teacher store keys it): `cells/robot-1a2b3c4d/ppo`, `cells/Four-robot-1a2b3c4d/mikt`.
An edited file is another robot: its cells start in new folders.

PPO on a robot is one computation whether it serves as a baseline or as the
teachers (seed s of the student reads teacher s), so it is one cell. The PPO
cells of the source robots come first in every grid.

A cell is *done* when its summary.json says it finished all its updates,
*partial* when it has a checkpoint (it is resumed), *new* otherwise (a
folder without a checkpoint is cleared and started again).

A protocol may have a *base*: a committed protocol folder (results/<preset>-<budget>) whose done
cells and teachers are read and never written. Without --out the grids write under
runs/<preset>-<budget> with the committed folder as their base, so a run over a subset of the
pairs, or over a pair of your own, leaves the committed results as they are.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mjx_mikt import checkpoint
from mjx_mikt.config import ConfigError

SHORT = {"Four": "CentipedeFour", "Six": "CentipedeSix", "Eight": "CentipedeEight",
         "CpSix": "CpCentipedeSix", "CpEight": "CpCentipedeEight", "Ant": "Ant", "Hopper": "Hopper"}
LONG = {v: k for k, v in SHORT.items()}
TOGETHER = "+"  # a source of several robots, all teachers of one student: 'Four+Six' (full: 'CentipedeFour+CentipedeSix')


def is_file(name: str) -> bool:
    """A robot given as an MJCF file (envs.mjcf.is_mjcf_path, without importing the envs)."""
    return name.lower().endswith(".xml")


def robot(name: str) -> str:
    """Short ('Four') or full ('CentipedeFour') robot name -> full name; an MJCF file -> its absolute path,
    checked as `--target FILE` checks it (ConfigError, one line: missing, no parse, no actuators, no root)."""
    if name in SHORT:
        return SHORT[name]
    if name in LONG:
        return name
    if is_file(name):
        path = os.path.abspath(os.path.expanduser(name))
        if not os.path.isfile(path):
            raise ConfigError(f"robot file {name} in --pairs does not exist")
        from mjx_mikt.envs import mjcf

        mjcf.load_robot(path, path)  # MjcfError is a ConfigError
        return path
    raise ConfigError(f"unknown robot {name!r} in --pairs; use one of {', '.join(SHORT)} or the path of an "
                      "MJCF file (path/to/robot.xml)")


def source_robots(source: str) -> Tuple[str, ...]:
    """The robots of a (full-name) source: ('CentipedeFour', 'CentipedeSix') for 'CentipedeFour+CentipedeSix'."""
    return tuple(source.split(TOGETHER)) if source else ()


def short(source: str) -> str:
    """'CentipedeFour+CentipedeSix' -> 'Four+Six' (a name without a short form is kept; a file: its stem)."""
    return TOGETHER.join(Path(r).stem if is_file(r) else LONG.get(r, r) for r in source_robots(source))


def folder_name(robot_name: str, task_options: Dict[str, str], shorten: bool) -> str:
    """A robot's part of a cell folder's name: its short name (shorten) or full name; an MJCF file's
    identity `<stem>-<hash8>` with the cells' task options (envs.robot_id of the run's robot)."""
    if is_file(robot_name):
        from mjx_mikt.envs import mjcf

        return mjcf.file_identity(robot_name, **task_options)
    return LONG.get(robot_name, robot_name) if shorten else robot_name


PATH_SEPARATORS_HINT = ("a robot file's path in --pairs cannot contain ',', ':' or '+' (they separate the pairs, "
                        "source from target, and teachers): link or copy the file to a path without them")


def parse_pairs(text: str) -> Tuple[Tuple[str, str], ...]:
    """'Four:Eight,Four+Six:Eight' -> (('CentipedeFour', 'CentipedeEight'), ('CentipedeFour+CentipedeSix', ...)):
    a source of several robots joined by '+' gives the student all their teachers at once. A malformed
    item that names a file gets the reason most likely behind it: a separator inside the path."""
    try:
        return _parse_pairs(text)
    except ConfigError as err:
        if "/" in text or ".xml" in text.lower():
            raise ConfigError(f"{err}; {PATH_SEPARATORS_HINT}") from None
        raise


def _parse_pairs(text: str) -> Tuple[Tuple[str, str], ...]:
    pairs = []
    for item in text.split(","):
        if item.count(":") != 1:
            raise ConfigError(f"--pairs item {item!r} is not SOURCE:TARGET (e.g. Four:Eight, or Four+Six:Eight)")
        source, target = item.split(":")
        robots = [robot(part.strip()) for part in source.split(TOGETHER)]
        if len(set(robots)) != len(robots):
            raise ConfigError(f"--pairs item {item!r} names a source robot twice")
        pairs.append((TOGETHER.join(robots), robot(target.strip())))
    return tuple(pairs)


@dataclass(frozen=True)
class Protocol:
    """What every cell of a protocol folder shares (recorded in each cell's config.json)."""

    out: Path
    seeds: int = 5
    timesteps: int = 2_000_000
    preset: str = "paper"
    backend: str = "mujoco"
    extra: Tuple[str, ...] = ()  # further `mjx_mikt.run` flags, e.g. ('--num-envs', '64')
    base: Optional[Path] = None  # a committed protocol folder: its done cells are read from it, never written

    def task_options(self) -> Dict[str, str]:
        """The --task-options the cells get through `extra` (the last one given), as a dict."""
        text = ""
        for i, flag in enumerate(self.extra):
            if flag == "--task-options" and i + 1 < len(self.extra):
                text = self.extra[i + 1]
            elif flag.startswith("--task-options="):
                text = flag.split("=", 1)[1]
        if not text:
            return {}
        from mjx_mikt.envs import mjcf

        return mjcf.parse_task_options(text)

    def common_flags(self) -> List[str]:
        return ["--seeds", str(self.seeds), "--timesteps", str(self.timesteps), "--preset", self.preset,
                "--backend", self.backend] + list(self.extra)


@dataclass(frozen=True)
class Cell:
    source: str  # '' for a PPO cell
    target: str
    method: str
    teachers: bool = True  # a PPO cell registers its seeds as teachers (not a comparison's: nothing reads them)

    @property
    def label(self) -> str:
        if self.method == "ppo":
            return f"{short(self.target)} ppo"
        return f"{short(self.source)}->{short(self.target)} {self.method}"

    def folder(self, protocol: Protocol) -> Path:
        """The cell's run folder: the base's (committed) one where the cell is done there, else under out."""
        if protocol.base is not None:
            committed = self.folder_under(protocol.base, protocol)
            if folder_status(committed) == "done":
                return committed
        return self.folder_under(protocol.out, protocol)

    def folder_under(self, root: Path, protocol: Protocol) -> Path:
        """The cell's folder in the protocol folder `root` (out or base)."""
        cells = root / "cells"
        robots = source_robots(self.source) + (self.target,)
        options = protocol.task_options() if any(is_file(r) for r in robots) else {}
        if self.method == "ppo":
            return cells / folder_name(self.target, options, shorten=False) / "ppo"
        source = TOGETHER.join(folder_name(r, options, shorten=True) for r in source_robots(self.source))
        return cells / f"{source}-{folder_name(self.target, options, shorten=True)}" / self.method

    def command(self, protocol: Protocol) -> List[str]:
        """The self-contained `python -m mjx_mikt.run` line of this cell."""
        cmd = [sys.executable if sys.executable else "python", "-m", "mjx_mikt.run",
               "--method", self.method, "--target", self.target]
        if self.method != "ppo":
            cmd += ["--source", ",".join(source_robots(self.source)), "--teacher-seeds", str(protocol.seeds),
                    "--teacher-timesteps", str(protocol.timesteps)]
        else:  # every seed becomes a teacher (seed i for student seed i)
            cmd += ["--register-teacher" if self.teachers else "--no-register-teacher"]
        cmd += protocol.common_flags()
        cmd += ["--teacher-store", str(teacher_store(protocol, self.source)), "--run-dir", str(self.folder(protocol))]
        return cmd


def teacher_store(protocol: Protocol, source: str) -> Path:
    """The store of a transfer's teachers: the base's where every source robot's PPO cell is done there
    (the committed teachers), else out's (where the grid's own PPO cells register theirs)."""
    robots = source_robots(source)
    if protocol.base is not None and robots and all(
            folder_status(Cell("", r, "ppo").folder_under(protocol.base, protocol)) == "done" for r in robots):
        return protocol.base / "teachers"
    return protocol.out / "teachers"


def cells_of(pairs: Sequence[str], methods: Sequence[str], chosen=None, chosen_methods=None) -> List[Cell]:
    """The cells of `chosen` (parsed pairs; default `pairs`, 'Source:Target' text) x `chosen_methods` (default
    `methods`): the sources' PPO cells (their teachers) first, then every (pair, method); PPO once per robot."""
    chosen = chosen or parse_pairs(",".join(pairs))
    methods = tuple(chosen_methods or methods)
    out: List[Cell] = []
    if any(m != "ppo" for m in methods):
        for source in dict.fromkeys(r for s, _ in chosen for r in source_robots(s)):
            out.append(Cell("", source, "ppo"))
    for source, target in chosen:
        for method in methods:
            cell = Cell("", target, "ppo") if method == "ppo" else Cell(source, target, method)
            if cell not in out:
                out.append(cell)
    return out


def planned_updates(config: Dict) -> int:
    """The updates a run folder's config.json (as a dict) asks for."""
    return config["run"]["total_timesteps"] // (config["ppo"]["num_envs"] * config["ppo"]["rollout_length"])


def status(cell: Cell, protocol: Protocol) -> str:
    """'done', 'partial' (resumable) or 'new'."""
    return folder_status(cell.folder(protocol))


def folder_status(folder: Path) -> str:
    """A cell folder's 'done', 'partial' or 'new'."""
    summary = folder / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        config = json.loads((folder / "config.json").read_text())
        if not data.get("interrupted") and data.get("updates") == planned_updates(config):
            return "done"
    if (folder / "config.json").is_file() and checkpoint.latest_step(folder / "checkpoints") is not None:
        return "partial"
    return "new"


def describe(cell: Cell, protocol: Protocol) -> str:
    """One line on where `cell` stands: done (with wall time and evaluation), partial (the update
    its newest checkpoint holds, where a resume starts), or new."""
    folder = cell.folder(protocol)
    state = status(cell, protocol)
    if state == "done":
        data = json.loads((folder / "summary.json").read_text())
        wall = data.get("wall_time_s")
        evaluation = data.get("eval_return_mean")
        return (f"{cell.label:<28} done     {data['updates']} updates"
                + (f", {wall / 60:.0f} min" if wall is not None else "")
                + (f", eval {evaluation:,.0f}" if evaluation is not None else "") + f"  {folder}")
    if state == "partial":
        config = json.loads((folder / "config.json").read_text())
        total = planned_updates(config)
        saved = checkpoint.latest_step(folder / "checkpoints")
        return (f"{cell.label:<28} partial  checkpoint at update {saved} of {total} "
                f"({100 * saved / max(total, 1):.0f}%), resumes there  {folder}")
    return f"{cell.label:<28} new      {folder}"


def check_compatible(cell: Cell, protocol: Protocol) -> None:
    """A cell folder made under another protocol (seeds, budget, preset) is refused, not mixed."""
    path = cell.folder(protocol) / "config.json"
    if not path.is_file():
        return
    run = json.loads(path.read_text())["run"]
    recorded = (run["num_seeds"], run["total_timesteps"], run["preset"])
    wanted = (protocol.seeds, protocol.timesteps, protocol.preset)
    if recorded != wanted:
        raise ConfigError(f"{cell.folder(protocol)} was run with seeds/timesteps/preset {recorded}, "
                          f"this protocol is {wanted}; use another --out")


def run_cell(cell: Cell, protocol: Protocol, runner) -> int:
    """Run, resume or skip one cell; `runner(argv)` runs `mjx_mikt.run` and returns its exit code."""
    check_compatible(cell, protocol)
    state = status(cell, protocol)
    if state == "done":
        print(f"[{cell.label}] done: skipped", file=sys.stderr, flush=True)
        return 0
    folder = cell.folder(protocol)
    if state == "partial":
        print(f"[{cell.label}] resuming {folder}", file=sys.stderr, flush=True)
        return runner(["--resume", str(folder)])
    if folder.exists():
        shutil.rmtree(folder)  # started but never checkpointed: nothing to keep
    print(f"[{cell.label}] starting: {shlex.join(cell.command(protocol))}", file=sys.stderr, flush=True)
    return runner(cell.command(protocol)[3:])


def print_commands(cells: Sequence[Cell], protocol: Protocol, out=None) -> None:
    """One line per cell still to run: its command if new, `--resume FOLDER` if partial; finished
    cells are left out (a scheduler running their line again would only be told they are done)."""
    out = out or sys.stdout
    for cell in cells:
        state = status(cell, protocol)
        if state == "done":
            continue
        if state == "partial":
            command = cell.command(protocol)[:3] + ["--resume", str(cell.folder(protocol))]
        else:
            command = cell.command(protocol)
        print(shlex.join(command), file=out)


def run_subprocess(argv: List[str]) -> int:
    """Run one cell's `mjx_mikt.run` and return its exit code.

    SIGINT and SIGTERM sent to this process are passed on to the cell, and this process waits for
    it: the cell saves its checkpoint and exits 130/143, which then ends the grid. (The default
    would lose work: `subprocess.call` kills the child 0.25 s after a Ctrl-C, during its checkpoint
    save, and a SIGTERM would end this process and leave the cell running on its own.)
    """
    child = subprocess.Popen([sys.executable, "-m", "mjx_mikt.run"] + argv)

    def forward(signum, frame):
        child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
