"""Real signals: a run stops at a chunk boundary with a checkpoint, later signals cannot break that
off, and `experiments run` passes a signal on to its cell instead of killing or orphaning it; before
the training loop and during a compile a signal ends the run at once, in one line (issue 46)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mjx_mikt.commands import interpreter

REPO = Path(__file__).resolve().parents[1]
# long enough never to finish during the test (it is stopped after a few updates)
LONG = ["--num-envs=2", "--rollout-length=32", "--num-minibatches=2", "--update-epochs=1", "--eval-every=0",
        "--checkpoint-every=0", "--updates-per-chunk=1", "--no-video"]
TIMESTEPS = str(64 * 100_000)


def _wait_for_updates(metrics: Path, proc, at_least: int = 3, timeout: float = 600) -> None:
    start = time.time()
    while time.time() - start < timeout:
        assert proc.poll() is None, "the run ended before it was signalled"
        if metrics.is_file() and len(metrics.read_text().splitlines()) > at_least:
            return
        time.sleep(0.2)
    raise AssertionError("no training progress")


def _checkpoints(run_dir: Path):
    return sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())


@pytest.mark.slow  # timing-dependent real signals: kept out of CI until they are proven stable; -m slow
def test_second_sigint_cannot_break_off_the_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    log = (tmp_path / "err.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "mjx_mikt.run", "--method", "ppo", "--target", "Hopper",
                             "--timesteps", TIMESTEPS, "--run-dir", str(run_dir),
                             "--teacher-store", str(tmp_path / "store")] + LONG,
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    _wait_for_updates(run_dir / "metrics.csv", proc)
    proc.send_signal(signal.SIGINT)
    for _ in range(3):  # impatient Ctrl-Cs while it saves
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=300) == 130
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["interrupted_by"] == "SIGINT"
    assert _checkpoints(run_dir)[-1] == summary["updates"] > 0
    assert "Traceback" not in (tmp_path / "err.txt").read_text()


@pytest.mark.slow  # flaky: failed once in 4 runs I watched here (cause not found yet); run with -m slow
def test_sigterm_to_experiments_reaches_the_cell_which_saves_and_is_not_orphaned(tmp_path):
    out = tmp_path / "exp"
    log = (tmp_path / "err.txt").open("w")
    parent = subprocess.Popen([sys.executable, "-m", "mjx_mikt.experiments", "run", "fig3", "--pairs", "Four:Hopper",
                               "--methods", "ppo", "--seeds", "1", "--timesteps", TIMESTEPS, "--out", str(out)]
                              + [f"--run-arg={flag}" for flag in LONG],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    cell = out / "cells" / "Hopper" / "ppo"
    _wait_for_updates(cell / "metrics.csv", parent)
    os.kill(parent.pid, signal.SIGTERM)  # the parent only, as a scheduler or `kill PID` does
    assert parent.wait(timeout=300) == 143
    # the parent returned after the cell exited: the cell saved and wrote its summary first
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["interrupted_by"] == "SIGTERM"
    assert _checkpoints(cell)[-1] == summary["updates"] > 0
    err = (tmp_path / "err.txt").read_text()
    assert "run the same command again to resume" in err and "Traceback" not in err


# ---------------------------------------------------------------- a signal at any moment (issue 46)
NATIVE = ["--method", "ppo", "--target", "CentipedeFour", "--backend", "mujoco", "--num-envs", "8",
          "--rollout-length", "16", "--timesteps", "4096", "--no-video"]


def _start(tmp_path, argv, name="err.txt"):
    err = tmp_path / name
    proc = subprocess.Popen([sys.executable, "-m", "mjx_mikt.run"] + argv, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=err.open("w"))
    return proc, err


def _signal_and_wait(proc, signum, timeout=120):
    """Send `signum`; (exit code, seconds until the process ended)."""
    proc.send_signal(signum)
    sent = time.monotonic()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return code, time.monotonic() - sent


def _wait_for_text(path: Path, text: str, proc, timeout: float = 600) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert proc.poll() is None, path.read_text()[-2000:]
        if text in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared: {path.read_text()[-2000:]}")


@pytest.mark.parametrize("signum, delay", [(signal.SIGINT, 2.0), (signal.SIGTERM, 4.0)])
def test_a_signal_early_in_a_native_run_ends_it_at_once_in_one_line(tmp_path, signum, delay):
    """Early in a run (imports, set-up, the first compiles; on a fast machine already the training program's
    compile): exit 130/143 within seconds, one line on the signal, no traceback and no crash; what was
    kept is said (nothing, and the same command starts again; or the checkpoint of update 0 and the
    --resume command, on the loop's line after it)."""
    run_dir = tmp_path / "run"
    argv = NATIVE + ["--run-dir", str(run_dir), "--teacher-store", str(tmp_path / "store")]
    proc, err = _start(tmp_path, argv)
    time.sleep(delay)
    assert proc.poll() is None
    code, seconds = _signal_and_wait(proc, signum)
    text = err.read_text()
    name = signal.Signals(signum).name
    assert code == 128 + signum and seconds < 10, (code, seconds, text[-3000:])
    lines = [line for line in text.splitlines() if line.strip()]
    assert "Traceback" not in text and len(lines) <= 4, text
    said = [line for line in lines if line.startswith(f"{name} received")]
    assert len(said) == 1, text
    kept = " ".join(lines[lines.index(said[0]):])  # the signal's line and, in the loop, the line after it
    assert "nothing to keep" in kept or "--resume" in kept, text
    if "nothing to keep" in kept:
        assert not (run_dir / "config.json").exists()
        proc, err = _start(tmp_path, argv, "again.txt")  # the same command starts the run again
        _wait_for_text(err, "run: ppo CentipedeFour", proc)
        assert _signal_and_wait(proc, signal.SIGTERM)[0] == 143 and "Traceback" not in err.read_text()


@pytest.mark.parametrize("program", [
    "initial state",  # the first compile, before the training loop: nothing is kept
    pytest.param("training program", marks=pytest.mark.slow),  # in the loop: the checkpoint of update 0 is
])
def test_a_signal_during_an_mjx_compile_is_answered_within_seconds(tmp_path, program):
    """SIGINT while an MJX program compiles (a compile cannot be interrupted): exit 130 within 12 s, one line,
    no traceback; before the first checkpoint nothing is left, after it the run resumes from it."""
    run_dir = tmp_path / "run"
    proc, err = _start(tmp_path, ["--method", "ppo", "--target", "CentipedeFour", "--backend", "mjx", "--num-envs",
                                  "8", "--rollout-length", "16", "--timesteps", "512", "--no-video", "--run-dir",
                                  str(run_dir), "--teacher-store", str(tmp_path / "store")])
    _wait_for_text(err, f"compiling the {program} (MJX, 8 envs, 1 seed)", proc, timeout=1200)
    time.sleep(2.0)
    code, seconds = _signal_and_wait(proc, signal.SIGINT)
    text = err.read_text()
    assert code == 130 and seconds < 12, (code, seconds, text[-3000:])
    assert "Traceback" not in text, text
    if program == "initial state":
        assert text.strip().splitlines()[-1] == "SIGINT received before training started: nothing to keep", text
        assert not run_dir.exists()
    else:
        assert f"resume with: {interpreter()} -m mjx_mikt.run --resume {run_dir}" in text, text
        assert _checkpoints(run_dir) == [0]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "interrupted" and summary["updates"] == 0


def test_before_a_resume_reads_its_checkpoint_a_signal_says_the_run_is_kept():
    """The one line of a signal during a --resume's imports names the run folder (read from the command line
    before the parser exists), not 'nothing to keep'."""
    from mjx_mikt import run as cli

    assert cli._resume_folder(["--resume", "runs/a", "--compile-cache", "/c"]) == "runs/a"
    assert cli._resume_folder(["--resume=runs/b"]) == "runs/b"
    assert cli._resume_folder(["--target", "Ant"]) == "" == cli._resume_folder(["--resume"])


def test_a_run_stopped_during_its_final_evaluation_makes_it_on_resume(tmp_path, monkeypatch):
    """The final evaluation (its compile takes minutes on MJX) cut short by a signal is made on --resume:
    the resumed run ends with the uninterrupted run's final evaluation, not without one."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_train import toy_config, toy_trainer

    from mjx_mikt import logger as logger_lib
    from mjx_mikt.loop import run_training

    config = toy_config(eval_every=4)  # evaluations at updates 4 and 6 (the end)
    whole = run_training(toy_trainer(config), config, tmp_path / "whole", "whole")
    original = logger_lib.RunLogger.evaluation

    def interrupted(self, update, *args):
        if update == 6:
            raise KeyboardInterrupt  # as the training loop stops when a signal lands during the compile
        return original(self, update, *args)

    monkeypatch.setattr(logger_lib.RunLogger, "evaluation", interrupted)
    part = run_training(toy_trainer(config), config, tmp_path / "part", "part")
    assert part.interrupted and part.updates == 6 and _checkpoints(tmp_path / "part")[-1] == 6
    monkeypatch.setattr(logger_lib.RunLogger, "evaluation", original)
    resumed = run_training(toy_trainer(config), config, tmp_path / "part", "part", resume=True)
    assert not resumed.interrupted
    assert (tmp_path / "part" / "eval.csv").read_text() == (tmp_path / "whole" / "eval.csv").read_text()
    assert (resumed.eval_returns == whole.eval_returns).all()
