"""Shared fixtures. Compiled functions are session-scoped, JAX's persistent compilation cache is on
and XLA's backend optimisation is off, because every MJX compile costs 20-90 s on a CPU."""

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco: headless rendering
# Tests check behaviour, not speed (bench/ times the optimised programs): XLA's LLVM backend passes are
# off, which cuts the compiles that are most of the suite's CPU time; set it to 0 to test optimised
# code. Before jax is imported, so that the CLI runs the tests start inherit it.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/toy_env.py

jax.config.update("jax_compilation_cache_dir", str(REPO / ".jax_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(REPO / ".jax_cache"))  # for subprocesses

from mjx_mikt import patches  # noqa: E402

patches.install_all()  # the tests lower programs as the entry points do (mjx_mikt/patches.py)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long MJX compiles; run with -m slow")


def pytest_terminal_summary(terminalreporter):
    """Print the lines passed tests left with `record_property("summary", line)` (e.g. the cells the
    Slurm test ran); they reach this summary from pytest-xdist's workers too."""
    for report in terminalreporter.getreports("passed"):
        for name, value in report.user_properties:
            if name == "summary":
                terminalreporter.write_line(value)


@pytest.fixture(scope="session")
def native_envs():
    from mjx_mikt import envs

    return {name: envs.make(name, backend="mujoco") for name in envs.names()}


@pytest.fixture(scope="session")
def mjx_four():
    """CentipedeFour on MJX with one compiled function: 20 control steps of raw physics.

    Returns (env, rollout) where rollout(physics_state, actions (20, A)) ->
    (final physics state, observations (20, obs), rewards (20,)).
    """
    from mjx_mikt import envs

    env = envs.make("CentipedeFour", backend="mjx")
    return env, jax.jit(physics_rollout(env))


def physics_rollout(env):
    """Steps physics and evaluates the task, without auto-reset (for parity)."""

    def rollout(physics, actions):
        def body(ps, action):
            after = env.physics.step(ps, action)
            reward = sum(env.task.reward(ps, after, action).values())
            return after, (env.task.observe(after), reward)

        final, (obs, rewards) = jax.lax.scan(body, physics, actions)
        return final, obs, rewards

    return rollout


# A tiny optimisation for training tests: 2 envs x 32 steps, 2 minibatches, 1 epoch, short evaluations.
TINY = ["--num-envs", "2", "--rollout-length", "32", "--num-minibatches", "2", "--update-epochs", "1",
        "--eval-episodes", "1", "--eval-max-steps", "10", "--eval-every", "2", "--checkpoint-every", "2",
        "--updates-per-chunk", "2", "--no-video"]


@pytest.fixture(scope="session")
def teacher_run(tmp_path_factory):
    """A 4-update CentipedeFour teacher trained through the CLI in a fresh process (read-only for the
    tests: test_cli and test_teachers share it). Returns (CompletedProcess, run_dir, teacher store)."""
    root = tmp_path_factory.mktemp("cli")
    run_dir, store = root / "teacher-run", root / "teachers"
    cmd = [sys.executable, "-m", "mjx_mikt.run", "--method", "ppo", "--target", "CentipedeFour",
           "--timesteps", str(4 * 64), "--run-dir", str(run_dir), "--teacher-store", str(store),
           "--register-teacher", "--video-every", "1", "--video-steps", "6"] + [
               flag for flag in TINY if flag != "--no-video"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    return out, run_dir, store
