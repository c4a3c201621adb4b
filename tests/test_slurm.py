"""`experiments run --launcher slurm`: the dry run and `status` anywhere; against a real one-node Slurm
cluster that the tests start (munged, slurmctld and slurmd in a temporary folder; root, and Debian's
slurm-wlm and munge, which `.ci/run` installs): teachers before students, results and report, a
failing teacher cancels its student, a preempted cell is requeued and resumes to the result of an
uninterrupted run, and running the command again submits nothing that is queued or done."""

import csv
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mjx_mikt.experiments import __main__ as experiments
from tiny_grid import TINY

REPO = Path(__file__).resolve().parents[1]
TOOLS = ("sbatch", "srun", "squeue", "scancel", "scontrol", "slurmctld", "slurmd", "munged")
MISSING = [tool for tool in TOOLS if not shutil.which(tool)]
needs_slurm = pytest.mark.skipif(
    bool(MISSING) or os.geteuid() != 0,
    reason=f"no {', '.join(MISSING)} (apt-get install slurm-wlm munge)" if MISSING else "the test cluster runs as root")
# 64 updates of 2 envs x 32 steps, a checkpoint every 2, an eval every 16: a cell is mostly its start-up
# and compile
PROTOCOL = ["--seeds", "1", "--timesteps", "4096"] + [
    f"--run-arg={flag if not flag.startswith('--eval-every') else '--eval-every=16'}" for flag in TINY]


# ------------------------------------------------------------------ without Slurm
def test_dry_run_prints_every_job_with_its_dependency_without_slurm(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no squeue
    out = tmp_path / "out"
    assert experiments.main(["run", "fig3", "--launcher", "slurm", "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    submits = [line for line in text.splitlines() if "=$(sbatch --parsable" in line]
    assert len(submits) == 18
    assert [s.split("=")[0] for s in submits[:2]] == ["job_CentipedeFour_ppo", "job_CentipedeSix_ppo"]
    for line in submits:
        if "_ppo.sh" in line:
            assert "--dependency" not in line
        else:  # a transfer cell waits for the PPO cell of its source (its teachers)
            source = {"Four": "CentipedeFour", "Six": "CentipedeSix"}[line.split("/")[-1].split("-")[0]]
            assert f"--dependency=afterok:$job_{source}_ppo " in line
    assert "#SBATCH --signal=B:TERM@" in text and "#SBATCH --requeue" in text
    # each job runs the line --print-commands shows
    assert experiments.main(["run", "fig3", "--print-commands", "--out", str(out)]) == 0
    for line in capsys.readouterr().out.splitlines():
        assert f"#   {line}\n" in text
    assert not out.exists()  # nothing written


def test_dry_run_of_a_finished_grid_says_nothing_is_left_and_how_to_report(tmp_path, monkeypatch, capsys):
    from mjx_mikt.experiments import grid

    monkeypatch.setenv("PATH", str(tmp_path))
    argv = ["run", "fig3", "--pairs", "Four:Six", "--methods", "ppo,mikt", "--launcher", "slurm", "--dry-run",
            "--out", str(tmp_path / "out")]
    assert experiments.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "dry run: 3 job(s) would be submitted; 0 cell(s) done, 0 already in the queue"
    monkeypatch.setattr(grid, "status", lambda cell, protocol: "done")
    assert experiments.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("done: not submitted" in line for line in lines) == 3 and "sbatch" not in "".join(lines)
    assert lines[-2:] == ["dry run: 0 job(s) would be submitted; 3 cell(s) done, 0 already in the queue",
                          "every cell is done: `report` with the same arguments writes the report"]


def test_a_cell_with_several_teachers_waits_for_each_teachers_job(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert experiments.main(["run", "multi", "--launcher", "slurm", "--dry-run", "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    together = [line for line in text.splitlines() if line.startswith("job_Four_Six_Eight_mikt=")]
    assert len(together) == 1
    assert "--dependency=afterok:$job_CentipedeFour_ppo:$job_CentipedeSix_ppo " in together[0]
    assert "# Four+Six->Eight mikt, after Four ppo and Six ppo (its teachers)" in text


def test_dry_run_goes_with_the_slurm_launcher(capsys):
    assert experiments.main(["run", "fig3", "--dry-run"]) == 2
    assert "--launcher slurm" in capsys.readouterr().err


def test_status_shows_what_each_job_left_without_slurm(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "out"
    (out / "slurm").mkdir(parents=True)
    jobs = {"CentipedeFour_ppo": {"job_id": "9", "after_jobs": []},
            "Four-Six_mikt": {"job_id": "10", "after_jobs": ["9"]}}
    (out / "slurm" / "jobs.json").write_text(json.dumps({"cells": jobs}))
    (out / "slurm" / "CentipedeFour_ppo.outcome.json").write_text(json.dumps(
        {"job_id": "9", "code": 3, "line": "failed: exit 3 (diverged); not requeued"}))
    argv = ["status", "fig3", "--pairs", "Four:Six", "--methods", "mikt,ppo", "--out", str(out)]
    assert experiments.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("| slurm: job 9 failed: exit 3 (diverged); not requeued")
    assert lines[1].endswith("| slurm: job 10: no squeue here to ask")
    assert "slurm" not in lines[2]  # Six ppo: never submitted


# ------------------------------------------------------------------ a real one-node cluster
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _conf(root: Path) -> str:
    host = socket.gethostname().split(".")[0]
    return "\n".join([
        "ClusterName=mjxmikt", f"SlurmctldHost={host}", f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}", "AuthType=auth/munge", "CredType=cred/munge",
        f"AuthInfo=socket={root / 'munge.socket'}", "SlurmUser=root", "SlurmdUser=root",
        f"StateSaveLocation={root / 'state'}", f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}", f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}", f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "MpiDefault=none", "ReturnToService=2", "JobRequeue=1",
        "AccountingStorageType=accounting_storage/none", "JobAcctGatherType=jobacct_gather/none",
        f"NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN",
        "PartitionName=debug Default=YES Nodes=ALL MaxTime=INFINITE State=UP"]) + "\n"


def _stop(pid_file: Path) -> None:
    """End a daemon this module started, by the pid it wrote."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, request):
    """munged + slurmctld + slurmd on this machine, one node with all its cores; yields the env that
    points Slurm's commands at it. Torn down (jobs cancelled, daemons stopped) at the end."""
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    (root / "slurm.conf").write_text(_conf(root))
    env = dict(os.environ, SLURM_CONF=str(root / "slurm.conf"))

    def teardown():
        subprocess.run(["scancel", "--user=root"], env=env, capture_output=True)
        for daemon in ("slurmd", "slurmctld", "munged"):
            _stop(root / f"{daemon}.pid")

    request.addfinalizer(teardown)
    subprocess.run(["munged", "--force", f"--key-file={key}", f"--socket={root / 'munge.socket'}",
                    f"--pid-file={root / 'munged.pid'}", f"--log-file={root / 'munged.log'}",
                    f"--seed-file={root / 'munged.seed'}"], check=True)
    subprocess.run(["slurmctld", "-c"], env=env, check=True)
    subprocess.run(["slurmd"], env=env, check=True)
    deadline = time.time() + 60
    while True:
        answer = subprocess.run(["srun", "--immediate=5", "hostname"], env=env, capture_output=True, text=True)
        if answer.returncode == 0:
            break
        assert time.time() < deadline, f"no answer: {answer.stderr}\n" + _tail(root / "slurmctld.log")
        time.sleep(1)
    return env


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text().splitlines()[-lines:]) if path.is_file() else f"(no {path})"


def _cli(env, *argv) -> str:
    out = subprocess.run([sys.executable, "-m", "mjx_mikt.experiments", *argv], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _queue(env) -> dict:
    out = subprocess.run(["squeue", "--noheader", "--format=%i %T %r"], env=env, capture_output=True, text=True)
    rows = (line.split(maxsplit=2) for line in out.stdout.splitlines())
    return {job: (state, reason) for job, state, reason in rows}


def _outcome(out: Path, name: str) -> dict:
    return json.loads((out / "slurm" / f"{name}.outcome.json").read_text())


def _metrics(path: Path) -> list:
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "env_steps_per_second"} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def grids(cluster, tmp_path_factory):
    """Three grids through the CLI, all in the queue at once: "failing" (a teacher with a bad flag and
    its student), "preempted" (PPO on CentipedeSix alone, sent SIGTERM once it has a checkpoint) and
    "main" (Four:Six, ppo + mikt: the teacher, the baseline and the student); waits for all to end."""
    root = tmp_path_factory.mktemp("grids")
    env = dict(cluster, JAX_PLATFORMS="cpu")
    common = ["--launcher", "slurm", "--cpus-per-cell", "1"] + PROTOCOL
    argv = {"failing": ["fig3", "--pairs", "Four:Six", "--methods", "mikt", "--run-arg=--no-such-flag"],
            "preempted": ["fig3", "--pairs", "Four:Six", "--methods", "ppo"],
            "main": ["fig3", "--pairs", "Four:Six", "--methods", "ppo,mikt"]}
    argv = {name: a + ["--out", str(root / name)] + common for name, a in argv.items()}
    printed = {name: _cli(env, "run", *a) for name, a in argv.items()}
    printed["main again"] = _cli(env, "run", *argv["main"])  # everything still queued or running

    # preempt: SIGTERM once the cell has its first checkpoint (as Slurm does before a time limit). Any
    # checkpoint, not a given one: the tiny run takes ~2 s after its compile, and older checkpoints are
    # pruned, so a given one can come and go between two polls.
    preempted = root / "preempted"
    job = json.loads((preempted / "slurm" / "jobs.json").read_text())["cells"]["CentipedeSix_ppo"]["job_id"]
    deadline = time.time() + 600  # about 150 s alone on 2 cores
    checkpoints = preempted / "cells" / "CentipedeSix" / "ppo" / "checkpoints"
    while not (checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir())):
        assert job in _queue(env) and time.time() < deadline, _tail(preempted / "slurm" / "CentipedeSix_ppo.log")
        time.sleep(0.1)
    subprocess.run(["scancel", "--signal=TERM", "--full", job], env=env, check=True)
    while _queue(env).get(job, ("", ""))[1] != "BeginTime":  # requeued: Slurm holds it 2 min; let it go now
        assert job in _queue(env) and time.time() < deadline, _tail(preempted / "slurm" / "CentipedeSix_ppo.log")
        time.sleep(0.2)
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env=env, check=True)

    while _queue(env):
        assert time.time() < deadline, f"still queued: {_queue(env)}"
        time.sleep(1)
    printed["main done"] = _cli(env, "run", *argv["main"])
    printed.update({f"status {name}": _cli(env, "status", *a) for name, a in argv.items()})
    return root, argv, printed, env


@needs_slurm
def test_teachers_run_before_their_students_and_the_report_follows(grids, record_property):
    root, argv, printed, env = grids
    out = root / "main"
    jobs = json.loads((out / "slurm" / "jobs.json").read_text())["cells"]
    assert list(jobs) == ["CentipedeFour_ppo", "CentipedeSix_ppo", "Four-Six_mikt"]
    assert jobs["Four-Six_mikt"]["after_jobs"] == [jobs["CentipedeFour_ppo"]["job_id"]]  # its teacher, not Six's
    assert _outcome(out, "CentipedeFour_ppo")["ended"] <= _outcome(out, "Four-Six_mikt")["started"]
    for name in jobs:
        assert _outcome(out, name)["line"] == "completed"
        assert "starting: " in (out / "slurm" / f"{name}.log").read_text()  # the cell's log
    status = printed["status main"].splitlines()
    assert len(status) == 3 and all(" done     64 updates" in s and "| slurm: job" in s and s.endswith("completed")
                                    for s in status)
    assert _cli(env, "report", *argv["main"]).startswith("report: ")
    assert (out / "fig3" / "report.md").is_file()
    record_property("summary", "test_slurm: the test cluster ran " + ", ".join(
        f"{jobs[name]['label']} (job {jobs[name]['job_id']})" for name in jobs)
        + ", teachers first")


@needs_slurm
def test_running_the_command_again_submits_only_what_is_neither_done_nor_queued(grids):
    root, argv, printed, env = grids
    assert printed["main again"].count("already in the queue: job") == 3
    assert "0 job(s) submitted" in printed["main again"]
    assert printed["main done"].count("done: not submitted") == 3


@needs_slurm
def test_a_failing_teacher_is_not_requeued_and_its_student_is_cancelled(grids):
    root, argv, printed, env = grids
    status = printed["status failing"].splitlines()
    assert "| slurm: job" in status[0] and "failed: exit 2 (bad input); not requeued" in status[0]
    assert "cancelled: Four ppo failed (exit 2, bad input)" in status[1]
    log = (root / "failing" / "slurm" / "CentipedeFour_ppo.log").read_text()
    assert "unrecognized arguments: --no-such-flag" in log
    assert not (root / "failing" / "cells" / "Four-Six").exists()  # the student never ran


@needs_slurm
def test_a_preempted_cell_is_requeued_and_resumes_to_the_uninterrupted_result(grids, record_property):
    root, argv, printed, env = grids
    cell = root / "preempted" / "cells" / "CentipedeSix" / "ppo"
    log = (root / "preempted" / "slurm" / "CentipedeSix_ppo.log").read_text()
    assert "SIGTERM received" in log and "requeueing job" in log and f"resuming {cell}" in log
    assert _outcome(root / "preempted", "CentipedeSix_ppo")["line"] == "completed"
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["updates"] == 64 and not summary.get("interrupted")
    # the same cell ran uninterrupted in the main grid (same flags, other folders): the same numbers
    same = root / "main" / "cells" / "CentipedeSix" / "ppo"
    assert _metrics(cell / "metrics.csv") == _metrics(same / "metrics.csv")
    assert summary["eval_return_per_seed"] == json.loads((same / "summary.json").read_text())["eval_return_per_seed"]
    assert shlex.split(printed["status preempted"])[2:4] == ["done", "64"]
    record_property("summary", "test_slurm: Six ppo preempted (SIGTERM), requeued by its job and resumed to the "
                               "numbers of the uninterrupted run")
