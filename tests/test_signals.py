"""Real signals: a run stops at a chunk boundary with a checkpoint, later signals cannot break that
off, and `experiments run` passes a signal on to its cell instead of killing or orphaning it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
