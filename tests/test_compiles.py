"""Compiles counted and timed, compiled in a worker thread that a signal does not wait for, and kept
across runs by JAX's persistent compilation cache (issue 46)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import compiles, signals
from mjx_mikt import run as cli

REPO = Path(__file__).resolve().parents[1]


def test_every_compile_is_recorded_with_its_seconds_and_a_named_program_under_its_name():
    x = jnp.arange(7.0)
    mark = compiles.mark()
    jitted = jax.jit(lambda a: jnp.cumsum(a * 3.0) - 1.0)  # a fresh function: compiled here
    program = compiles.compile_program(jitted, (x,), "training program")
    assert np.allclose(program(x), jitted(x))
    jax.jit(lambda a: a * 5.0 + 2.0)(x)  # an ordinary jit call is counted too
    made = compiles.records(mark)
    assert made[0]["program"] == "training program" and made[0]["seconds"] >= 0
    assert any(r["program"].startswith("jit(") for r in made[1:]), made
    folded = compiles.summary(mark)
    assert folded[0]["program"] == "training program"  # a named program is listed however short
    assert sum(r.get("count", 1) for r in folded) == len(made)
    assert compiles.describe(folded).startswith(f"{len(made)} programs")


def test_a_signal_while_a_compile_runs_in_its_thread_is_raised_at_once():
    """The guard's handler runs while the main thread waits for the worker; the worker is left running."""
    release = threading.Event()
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    with signals.guard(), pytest.raises(signals.Interrupted) as stopped:
        signals.in_thread(lambda: release.wait(30))
    assert stopped.value.signum == signal.SIGINT and time.monotonic() - start < 3
    assert signals.busy() and "nothing to keep" in signals.message(signal.SIGINT)
    release.set()
    time.sleep(0.3)
    assert not signals.busy()


def test_a_signal_during_a_critical_write_is_raised_when_it_is_done(capfd):
    done = []
    with signals.guard(), pytest.raises(signals.Interrupted):
        with signals.critical():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler has run by now, and only recorded the signal
            done.append(True)
            assert capfd.readouterr().err == ""  # the one line comes after the write, not a second one now
    assert done == [True]
    assert signals.exit_code(signal.SIGTERM) == 143


def test_compile_cache_flags(tmp_path, monkeypatch):
    parse = cli.build_parser().parse_args
    assert cli.config_from_args(parse([])).run.compile_cache == ""
    assert cli.config_from_args(parse(["--no-compile-cache"])).run.compile_cache == compiles.OFF
    assert cli.config_from_args(parse(["--compile-cache", "/x"])).run.compile_cache == "/x"
    config = cli.config_from_args(parse([]))
    cli.check_resume_flags(parse(["--resume", "r", "--compile-cache", "/y"]), config)  # a sitting's own setting
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compiles.default_cache_folder() == tmp_path / "mjx_mikt" / "jax"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "env"))
    assert compiles.default_cache_folder() == tmp_path / "env"


def test_a_resumed_run_compiles_the_very_programs_of_the_fresh_run(tmp_path, monkeypatch):
    """The same XLA text, so the compile cache's key: a checkpoint's restored (committed) arrays would
    otherwise add sharding annotations, and a --resume would compile everything again."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_train import toy_config, toy_trainer

    from mjx_mikt.loop import run_training

    texts = {}
    original = compiles.compile_program

    def recording(jitted, args, program, announce="", times=None):
        texts.setdefault(program, []).append(jitted.lower(*args).as_text())
        return original(jitted, args, program, announce, times)

    monkeypatch.setattr(compiles, "compile_program", recording)
    config = toy_config()  # 6 updates, evaluations at 3 and 6
    run_training(toy_trainer(config), config, tmp_path / "run", "run", stop_after_updates=4)
    run_training(toy_trainer(config), config, tmp_path / "run", "run", resume=True)
    for program in ("training program", "evaluation program"):
        assert len(texts[program]) == 2 and texts[program][0] == texts[program][1], program


SHARDED_RUN = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, "tests")
from test_train import toy_config, toy_trainer
from mjx_mikt.run_folder import env_sharding
from mjx_mikt.loop import run_training
config = toy_config(total_timesteps=6 * 64)
result = run_training(toy_trainer(config, env_sharding(config.ppo.num_envs)), config,
                      Path(tempfile.mkdtemp()) / "run", "sharded")
print("updates", result.updates)
"""


def test_a_run_sharded_over_two_devices_runs_its_chunks_whatever_shardings_xla_gave_the_state():
    """With two devices XLA shards a chunk's output state otherwise than its input: the program compiled
    ahead of time hands such arguments to its jitted function instead of refusing them."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SHARDED_RUN], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0 and "updates 6" in out.stdout, out.stderr[-3000:]


def _compile_seconds(run_dir: Path) -> float:
    return sum(c["seconds"] for c in json.loads((run_dir / "summary.json").read_text())["compiles"])


@pytest.mark.slow  # two MJX runs that compile their programs: minutes on a 2-core CPU; -m slow
def test_a_second_mjx_run_reads_its_programs_from_the_compile_cache(tmp_path, record_property):
    """A tiny MJX run twice into two run folders with one (fresh) cache folder: the second compiles at
    least 80% fewer seconds than the first, both figures from summary.json."""
    cache = tmp_path / "cache"
    argv = ["--method", "ppo", "--target", "CentipedeFour", "--backend", "mjx", "--num-envs", "8",
            "--rollout-length", "16", "--timesteps", "512", "--no-video", "--teacher-store", str(tmp_path / "store"),
            "--compile-cache", str(cache)]
    seconds = []
    for name in ("first", "second"):
        out = subprocess.run([sys.executable, "-m", "mjx_mikt.run", "--run-dir", str(tmp_path / name)] + argv,
                             cwd=REPO, capture_output=True, text=True, timeout=3000)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "XLA compiles: " in out.stdout
        seconds.append(_compile_seconds(tmp_path / name))
    first = json.loads((tmp_path / "first" / "summary.json").read_text())["compiles"]
    second = json.loads((tmp_path / "second" / "summary.json").read_text())["compiles"]
    named = [c["program"] for c in first if c["program"] in compiles.NAMED]
    assert named == ["initial state", "training program", "evaluation program"], first
    # the evaluation steps native MuJoCo (--eval-backend auto): a host callback, never cached, compiled in seconds
    assert {c["program"]: c["cache"] for c in second if c["program"] in compiles.NAMED} == {
        "initial state": "hit", "training program": "hit", "evaluation program": "uncacheable"}, second
    record_property("summary", f"compile seconds, first run {seconds[0]:.1f}, second {seconds[1]:.1f}")
    assert seconds[1] <= 0.2 * seconds[0], seconds


def test_a_second_run_with_the_same_trainer_compiles_none_of_its_named_programs(tmp_path):
    """compiles.compile_once: the Trainer keeps its programs; a fresh trainer of the same config compiles
    them again (an in-memory reuse only, never across trainers)."""
    from mjx_mikt.loop import run_training
    from test_train import toy_config, toy_trainer

    config = toy_config()
    trainer = toy_trainer(config)
    first = run_training(trainer, config, tmp_path / "a", "a")
    mark = compiles.mark()
    second = run_training(trainer, config, tmp_path / "b", "b")
    assert not [r for r in compiles.records(mark) if r["program"] in compiles.NAMED]
    assert len(trainer.programs) >= 3  # the initial state, the training and the evaluation programs
    np.testing.assert_array_equal(first.eval_returns, second.eval_returns)  # same seeds, same programs
    mark = compiles.mark()
    run_training(toy_trainer(config), config, tmp_path / "c", "c")
    assert {"initial state", "training program"} <= {r["program"] for r in compiles.records(mark)}


def test_an_mjx_run_evaluates_on_native_mujoco_unless_told_to_evaluate_on_its_own_physics():
    """--eval-backend auto: an MJX trainer's evaluation steps native MuJoCo on the host CPU, so it compiles
    no MJX physics beside the training program, and returns what a native trainer's evaluation returns
    for the same policy to the last bit; --eval-backend same keeps the evaluation on MJX."""
    from mjx_mikt.config import Config, PPOConfig, RunConfig
    from mjx_mikt.run_folder import build_trainer
    from mjx_mikt.train import RunningStats

    def trainer(backend, eval_backend="auto"):
        run = RunConfig(target="CentipedeFour", method="ppo", source=(), backend=backend, eval_backend=eval_backend,
                        eval_episodes=2, eval_max_steps=30)
        return build_trainer(Config(run=run, ppo=PPOConfig(num_envs=4, rollout_length=8)))

    on_mjx, native = trainer("mjx"), trainer("mujoco")
    assert on_mjx.env.physics.name == "mjx" and on_mjx.eval_env.physics.name == "mujoco"
    assert on_mjx.eval_device == jax.devices("cpu")[0]
    assert native.eval_env is native.env and native.eval_device is None
    same = trainer("mjx", "same")
    assert same.eval_env is same.env and same.eval_device is None
    params = native.agent.init(jax.random.PRNGKey(3), None)
    stats = RunningStats.create((native.env.observation_size,))
    key = jax.random.PRNGKey(5)
    mark = compiles.mark()
    got = jax.device_get(jax.jit(on_mjx.evaluate)(params, stats, key))
    assert max(r["seconds"] for r in compiles.records(mark)) < 60  # no MJX physics in it (those take minutes here)
    want = jax.device_get(jax.jit(native.evaluate)(params, stats, key))
    np.testing.assert_array_equal(got["return"], want["return"])
    np.testing.assert_array_equal(got["length"], want["length"])
    assert got["length"].min() > 0
