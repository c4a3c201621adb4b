"""Experiment grids on a Slurm cluster: one batch job per cell, teachers first.

    python -m mjx_mikt.experiments run fig3 --launcher slurm [--partition P] [--time 8:00:00]
                                            [--cpus-per-cell 2] [--gpus-per-cell 0] [--dry-run]

`submit` writes one job script per cell to `<out>/slurm/<key>.sh` and hands it to `sbatch`; the
transfer cells of a source wait for the PPO cells of its source robots (their teachers; two for a
'Four+Six' source) with `--dependency=afterok:<job>[:<job>]`. The job ids go to `<out>/slurm/jobs.json`, so running the same command
again submits only the cells that are neither done nor still in the queue. Each cell logs to
`<out>/slurm/<key>.log` (appended to across requeues).

A job runs `python -m mjx_mikt.experiments.slurm job SPEC`, which decides at run time what the cell
needs, as `experiments run` does (`grid.run_cell`): the cell's `mjx_mikt.run` line (the one
`--print-commands` shows), `--resume FOLDER` when the folder holds a checkpoint, nothing when it is
done. Slurm sends SIGTERM `SIGNAL_BEFORE_S` seconds before the time limit (`--signal=B:TERM@...`);
the cell saves a checkpoint and exits 143 and the job requeues itself (`scontrol requeue`), so the
next sitting resumes it. A cell that fails otherwise (2 bad input, 3 diverged) is not requeued: the
jobs waiting for it are cancelled. Each job leaves `<out>/slurm/<key>.outcome.json` (its exit code,
times and one line); `status` shows it, or the job's queue state, beside the cell's training state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mjx_mikt.checkpoint import write_atomic
from mjx_mikt.config import ConfigError
from mjx_mikt.experiments import grid

SIGNAL_BEFORE_S = 300  # SIGTERM this long before the time limit: the cell stops at a chunk boundary and saves
EXIT_MEANING = {0: "done", 2: "bad input", 3: "diverged", 74: "I/O error", 130: "stopped by SIGINT",
                143: "stopped by SIGTERM"}


@dataclasses.dataclass(frozen=True)
class Options:
    """The Slurm resources of every cell's job (None: the cluster's default)."""

    partition: Optional[str] = None
    time: Optional[str] = None
    cpus_per_cell: int = 2
    gpus_per_cell: int = 0


# ------------------------------------------------------------------ where things are
def folder(protocol: grid.Protocol) -> Path:
    return protocol.out / "slurm"


def key(cell: grid.Cell, protocol: grid.Protocol) -> str:
    """The cell's name in file names and jobs.json: its folder under cells/, '/' -> '_'."""
    return cell.folder_under(protocol.out, protocol).relative_to(protocol.out / "cells").as_posix().replace("/", "_")


def teachers_of(cell: grid.Cell, cells: Sequence[grid.Cell]) -> List[grid.Cell]:
    """The PPO cells in `cells` whose seeds are `cell`'s teachers, one per source robot, in the source's
    order ('Four+Six': Four's, then Six's); empty for a PPO cell."""
    sources = grid.source_robots(cell.source) if cell.method != "ppo" else ()
    return [c for robot in sources for c in cells if c.method == "ppo" and c.teachers and c.target == robot]


def load_record(protocol: grid.Protocol) -> Dict:
    path = folder(protocol) / "jobs.json"
    return json.loads(path.read_text()) if path.is_file() else {"cells": {}}


def load_outcome(protocol: grid.Protocol, cell_key: str) -> Optional[Dict]:
    path = folder(protocol) / f"{cell_key}.outcome.json"
    return json.loads(path.read_text()) if path.is_file() else None


def write_outcome(protocol: grid.Protocol, cell_key: str, **fields) -> None:
    write_atomic(folder(protocol) / f"{cell_key}.outcome.json", json.dumps(fields, indent=1) + "\n")


# ------------------------------------------------------------------ talking to Slurm
def queue() -> Optional[Dict[str, Tuple[str, str]]]:
    """{job id: (state, reason)} of this user's jobs still in the queue; None without a usable squeue."""
    if not shutil.which("squeue"):
        return None
    out = subprocess.run(["squeue", "--noheader", "--me", "--format=%i|%T|%r"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    rows = (line.split("|") for line in out.stdout.splitlines() if line.count("|") == 2)
    return {job: (state, reason) for job, state, reason in rows}


def in_words(state: str, reason: str) -> str:
    """A queue state as `status` shows it: 'queued (Dependency)', 'running', 'requeued' ..."""
    word = {"PENDING": "queued", "RUNNING": "running"}.get(state, state.lower())
    return word + (f" ({reason})" if reason not in ("None", "") else "")


def job_state(job_id: str) -> str:
    """The JobState `scontrol show job` reports ('' when it cannot tell)."""
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    match = re.search(r"JobState=(\S+)", out.stdout)
    return match.group(1) if match else ""


def sbatch(script: Path, after: Sequence[str]) -> str:
    """Submit `script`, after the jobs `after` end well; returns the job id."""
    argv = ["sbatch", "--parsable"] + ([f"--dependency=afterok:{':'.join(after)}"] if after else []) + [str(script)]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        raise ConfigError(f"sbatch refused {script}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip().split(";")[0]  # "<id>" or "<id>;<cluster>"


# ------------------------------------------------------------------ the job script
def spec(cell: grid.Cell, protocol: grid.Protocol) -> str:
    """What a job needs to rebuild its cell and protocol, as one JSON line."""
    fields = dataclasses.asdict(protocol)
    fields["out"] = str(protocol.out)
    fields["base"] = str(protocol.base) if protocol.base is not None else None
    return json.dumps({"protocol": fields, "cell": dataclasses.asdict(cell)}, separators=(",", ":"))


def script(cell: grid.Cell, protocol: grid.Protocol, options: Options, teachers: Sequence[grid.Cell] = ()) -> str:
    """The batch script of one cell (resources, log, requeue, the signal before the time limit)."""
    name = key(cell, protocol)
    log = (folder(protocol) / f"{name}.log").resolve()
    directives = [f"--job-name=mikt-{name}", f"--output={log}", "--open-mode=append", f"--chdir={Path.cwd()}",
                  "--requeue", f"--signal=B:TERM@{SIGNAL_BEFORE_S}", "--kill-on-invalid-dep=yes", "--ntasks=1",
                  f"--cpus-per-task={options.cpus_per_cell}"]
    directives += [f"--partition={options.partition}"] * bool(options.partition)
    directives += [f"--time={options.time}"] * bool(options.time)
    directives += [f"--gres=gpu:{options.gpus_per_cell}"] * bool(options.gpus_per_cell)
    python = sys.executable or "python"
    lines = ["#!/bin/bash"] + [f"#SBATCH {d}" for d in directives] + [
        f"# {cell.label}" + (f", after {' and '.join(t.label for t in teachers)} (its teachers)" if teachers else "")
        + f"; protocol {protocol.out}. It runs",
        f"#   {shlex.join(cell.command(protocol))}",
        "# or --resume FOLDER when the folder holds a checkpoint, or nothing when the cell is done.",
        "# Exit 143 (SIGTERM, checkpoint saved): the job requeues itself. Exit 2 (bad input) or 3",
        "# (diverged): not requeued, and the jobs waiting for this cell are cancelled.",
        f"exec {shlex.quote(python)} -m mjx_mikt.experiments.slurm job {shlex.quote(spec(cell, protocol))}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ submitting a grid
def submit(groups: Dict[str, Tuple[grid.Protocol, List[grid.Cell]]], options: Options, dry_run: bool = False,
           out=None) -> int:
    """Submit every cell of `groups` ({label: (protocol, cells)}) that is neither done nor queued;
    with `dry_run`, print the scripts and the sbatch lines instead (no Slurm needed)."""
    out = out or sys.stdout
    if not dry_run and not shutil.which("sbatch"):
        raise ConfigError("--launcher slurm needs sbatch on this machine (a Slurm login node); "
                          "--dry-run prints the jobs without it")
    jobs = queue() or {}
    submitted, done, queued, would = 0, 0, 0, 0
    for label, (protocol, cells) in groups.items():
        prefix = f"{label}: " * bool(label)
        record = load_record(protocol)
        ids: Dict[grid.Cell, str] = {}  # cells in the queue now: their job id (or $variable in a dry run)
        for cell in cells:
            grid.check_compatible(cell, protocol)
            name = key(cell, protocol)
            known = record["cells"].get(name, {}).get("job_id")
            if grid.status(cell, protocol) == "done":
                print(f"{prefix}{cell.label:<28} done: not submitted", file=out)
                done += 1
                continue
            if known in jobs:
                ids[cell] = known
                print(f"{prefix}{cell.label:<28} already in the queue: job {known} {in_words(*jobs[known])}",
                      file=out)
                queued += 1
                continue
            waits_for = [t for t in teachers_of(cell, cells) if t in ids]  # teachers done before: no wait
            after = [ids[t] for t in waits_for]
            text = script(cell, protocol, options, waits_for)
            path = folder(protocol) / f"{name}.sh"
            if dry_run:
                ids[cell] = "$job_" + re.sub(r"\W", "_", name)
                dependency = f" --dependency=afterok:{':'.join(after)}" if after else ""
                print(f"#### {path}\n{text}{ids[cell][1:]}=$(sbatch --parsable{dependency} {path})\n", file=out)
                would += 1
                continue
            folder(protocol).mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
            ids[cell] = sbatch(path, after)
            record["cells"][name] = {"label": cell.label, "job_id": ids[cell], "script": str(path),
                                     "log": str(folder(protocol) / f"{name}.log"), "submitted": time.time(),
                                     "after": [key(t, protocol) for t in waits_for],
                                     "after_jobs": after}
            write_atomic(folder(protocol) / "jobs.json", json.dumps(record, indent=1) + "\n")
            submitted += 1
            print(f"{prefix}{cell.label:<28} submitted: job {ids[cell]}"
                  + "".join(f" after job {ids[t]} ({t.label})" for t in waits_for)
                  + f", log {folder(protocol) / (name + '.log')}", file=out, flush=True)
    if dry_run:
        print(f"dry run: {would} job(s) would be submitted; {done} cell(s) done, {queued} already in the queue",
              file=out)
    else:
        print(f"{submitted} job(s) submitted; `status` shows where they stand", file=out)
    if done and not (would or submitted or queued):
        print("every cell is done: `report` with the same arguments writes the report", file=out)
    return 0


# ------------------------------------------------------------------ status
def states(cells: Sequence[grid.Cell], protocol: grid.Protocol) -> Dict[grid.Cell, str]:
    """Each recorded cell's Slurm state in a few words: queued/running (from squeue), else the outcome
    its job left (done, requeued, failed with its exit code, cancelled and why). Empty without jobs.json."""
    record = load_record(protocol)["cells"]
    if not record:
        return {}
    jobs = queue()
    found = {}
    for cell in cells:
        name = key(cell, protocol)
        if name not in record:
            continue
        job = record[name]["job_id"]
        outcome = load_outcome(protocol, name)
        if jobs is not None and job in jobs:
            found[cell] = f"job {job} {in_words(*jobs[job])}"
        elif outcome and outcome.get("job_id") == job:
            found[cell] = f"job {job} {outcome['line']}"
        else:
            found[cell] = (f"job {job}: " + ("no squeue here to ask" if jobs is None else
                                            "left the queue without an outcome (killed?); see its log"))
    return found


# ------------------------------------------------------------------ inside a job
def cancel_dependants(protocol: grid.Protocol, failed_job: str, why: str) -> List[str]:
    """Cancel the recorded jobs that wait, directly or not, for the job `failed_job` (Slurm may have
    ended them already: `--kill-on-invalid-dep`) and leave each an outcome saying why; returns their keys."""
    record = load_record(protocol)["cells"]
    cancelled, todo = [], [failed_job]
    while todo:
        parent = todo.pop()
        for name, entry in record.items():
            job = entry["job_id"]
            if parent not in entry.get("after_jobs", ()) or name in cancelled:
                continue
            outcome = load_outcome(protocol, name)
            if outcome and outcome.get("job_id") == job:  # it ran, or was cancelled already
                continue
            subprocess.run(["scancel", job], capture_output=True)
            write_outcome(protocol, name, job_id=job, code=None, line=f"cancelled: {why}")
            cancelled.append(name)
            todo.append(job)
    return cancelled


def run_job(text: str) -> int:
    """The body of a cell's job: run, resume or skip the cell (`grid.run_cell`), then requeue the job
    after exit 143, or cancel the jobs waiting for a cell that failed. Returns the cell's exit code."""

    data = json.loads(text)
    fields = dict(data["protocol"], out=Path(data["protocol"]["out"]), extra=tuple(data["protocol"]["extra"]))
    fields["base"] = Path(fields["base"]) if fields.get("base") else None
    protocol, cell = grid.Protocol(**fields), grid.Cell(**data["cell"])
    name, job = key(cell, protocol), os.environ.get("SLURM_JOB_ID", "")
    stopped: List[int] = []  # a SIGTERM before the cell started: do not start it, requeue
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    started = time.time()
    try:
        code = grid.run_cell(cell, protocol, lambda argv: 143 if stopped else grid.run_subprocess(argv))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        code = 2
    code = 128 - code if code < 0 else code  # killed by signal N (before its handler was in place): 128 + N
    meaning = EXIT_MEANING.get(code, "failed")
    times = dict(job_id=job, code=code, started=started, ended=time.time())
    if code == 0:
        write_outcome(protocol, name, line="completed", **times)
        return 0
    if code in (130, 143) and job and job_state(job) != "CANCELLED":  # a user's scancel stays cancelled
        write_outcome(protocol, name, line=f"requeued after exit {code} ({meaning}; checkpoint saved)", **times)
        print(f"[{cell.label}] exit {code} ({meaning}): requeueing job {job}; the next sitting resumes the cell",
              file=sys.stderr, flush=True)
        subprocess.run(["scontrol", "requeue", job])
        return code
    what = "cancelled" if code in (130, 143) else "failed"
    cancelled = cancel_dependants(protocol, job, f"{cell.label} {what} (exit {code}, {meaning})")
    line = f"{what}: exit {code} ({meaning}); not requeued" + (
        f"; cancelled {len(cancelled)} job(s) waiting for it" if cancelled else "")
    write_outcome(protocol, name, line=line, **times)
    print(f"[{cell.label}] {line}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "job":
        sys.exit("usage: python -m mjx_mikt.experiments.slurm job SPEC (the job scripts of `experiments run "
                 "--launcher slurm` call it)")
    sys.exit(run_job(sys.argv[2]))
