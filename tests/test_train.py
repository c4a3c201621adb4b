"""The fused trainer's mechanics on a toy env: determinism, resume, checkpoints, sharding."""

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import agents, checkpoint
from mjx_mikt.config import Config, PPOConfig, RunConfig
from mjx_mikt.loop import run_training
from mjx_mikt.train import Trainer, make_train
from toy_env import PointMass

REPO = Path(__file__).resolve().parents[1]


def toy_config(**run) -> Config:
    ppo = PPOConfig(num_envs=4, rollout_length=16, num_minibatches=2, update_epochs=2)
    defaults = dict(target="PointMass", method="ppo", source=(), total_timesteps=6 * 64, updates_per_chunk=2,
                    eval_every=3, checkpoint_every=2, eval_episodes=2, eval_max_steps=20)
    defaults.update(run)
    return Config(run=RunConfig(**defaults), ppo=ppo)


def toy_trainer(config: Config, env_sharding=None):
    env = PointMass()
    agent = agents.make_agent("ppo", env.observation_size, env.action_size, config.ppo, config.mikt)
    return make_train(config, env, agent, env_sharding=env_sharding)


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_train_is_pure_and_deterministic_per_seed():
    config = toy_config(total_timesteps=2 * 64)
    train = jax.jit(toy_trainer(config).train)
    state_a, metrics_a = train(jax.random.PRNGKey(0))
    state_b, _ = train(jax.random.PRNGKey(0))
    state_c, _ = train(jax.random.PRNGKey(1))
    for a, b in zip(leaves(state_a.params), leaves(state_b.params)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(leaves(state_a.params), leaves(state_c.params)))
    assert metrics_a["policy_loss"].shape == (2,)
    assert int(state_a.update) == 2


def test_train_vmaps_over_seeds():
    # init + updates, vmapped over two seeds in one program
    config = toy_config(total_timesteps=2 * 64)
    trainer = toy_trainer(config)
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    state, metrics = jax.jit(jax.vmap(trainer.train))(keys)
    single, _ = jax.jit(trainer.train)(jax.random.PRNGKey(1))
    for batched, one in zip(leaves(state.params), leaves(single.params)):
        np.testing.assert_allclose(batched[1], one, rtol=1e-5, atol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    config = toy_config()
    trainer = toy_trainer(config)
    state = trainer.seed_batched_init()(jnp.stack([jax.random.PRNGKey(3)]))
    state, _ = jax.jit(jax.vmap(lambda s: trainer.run(s, 1, False)))(state)
    checkpoint.save_checkpoint(tmp_path / "ckpt", 1, state, {"note": "x"})
    abstract = jax.eval_shape(lambda s: s, state)
    restored, meta = checkpoint.restore_checkpoint(tmp_path / "ckpt", abstract)
    assert meta["note"] == "x"
    for a, b in zip(leaves(state), leaves(restored)):
        np.testing.assert_array_equal(a, b)


def test_corrupt_checkpoint_is_one_line_error(tmp_path):
    config = toy_config()
    trainer = toy_trainer(config)
    state = trainer.seed_batched_init()(jnp.stack([jax.random.PRNGKey(3)]))
    checkpoint.save_checkpoint(tmp_path / "ckpt", 1, state, {})
    for path in (tmp_path / "ckpt").rglob("*"):
        if path.is_file() and path.stat().st_size > 0 and "state" in str(path):
            path.write_bytes(b"garbage")
    abstract = jax.eval_shape(lambda s: s, state)
    with pytest.raises(checkpoint.CheckpointError) as err:
        checkpoint.restore_checkpoint(tmp_path / "ckpt", abstract)
    assert "\n" not in str(err.value)


def test_resume_gives_the_uninterrupted_result(tmp_path):
    config = toy_config()
    whole = run_training(toy_trainer(config), config, tmp_path / "whole", "whole")
    part = run_training(toy_trainer(config), config, tmp_path / "part", "part", stop_after_updates=3)
    assert part.updates == 3
    resumed = run_training(toy_trainer(config), config, tmp_path / "part", "part", resume=True)
    assert resumed.updates == whole.updates == 6
    for a, b in zip(leaves(whole.final_state.params), leaves(resumed.final_state.params)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(leaves(whole.final_state.opt_state), leaves(resumed.final_state.opt_state)):
        np.testing.assert_array_equal(a, b)
    # the resumed run's CSV has each update once
    rows = (tmp_path / "part" / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(1, 7))
    assert (tmp_path / "part" / "eval.csv").is_file()
    assert list((tmp_path / "part" / "tb" / "mean").iterdir())


def test_chunks_cut_short_run_in_the_one_compiled_program_of_their_phase(tmp_path, monkeypatch):
    """Checkpoints every 2 and an evaluation at 5 cut 4-update chunks to 2, 2, 1, 1 updates: all four
    run in one traced (so one compiled) program, and the run ends where one update per chunk does."""
    traced = []
    original = Trainer.run

    def counting(self, ts, num_updates, use_teacher, count=None):
        traced.append(num_updates)
        return original(self, ts, num_updates, use_teacher, count)

    monkeypatch.setattr(Trainer, "run", counting)
    config = toy_config(updates_per_chunk=4, eval_every=5, checkpoint_every=2)
    cut = run_training(toy_trainer(config), config, tmp_path / "cut", "cut")
    assert traced == [4] and cut.updates == 6
    rows = (tmp_path / "cut" / "metrics.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == list(range(1, 7))  # no row of a skipped update
    config = toy_config(updates_per_chunk=1, eval_every=5, checkpoint_every=2)
    single = run_training(toy_trainer(config), config, tmp_path / "single", "single")
    for a, b in zip(leaves(cut.final_state.params), leaves(single.final_state.params)):
        np.testing.assert_array_equal(a, b)
    timing = "env_steps_per_second"  # the one column that is a clock's

    def table(run):
        return [{k: v for k, v in row.items() if k != timing}
                for row in csv.DictReader(open(tmp_path / run / "metrics.csv"))]
    assert table("cut") == table("single")


SHARDED = textwrap.dedent(
    """
    import sys, numpy as np, jax
    sys.path.insert(0, "tests")
    from test_train import toy_config, toy_trainer, leaves
    from mjx_mikt.run_folder import env_sharding
    assert jax.device_count() == 2, jax.devices()
    config = toy_config(total_timesteps=2 * 64)
    plain, _ = jax.jit(toy_trainer(config).train)(jax.random.PRNGKey(0))
    sharding = env_sharding(config.ppo.num_envs)
    sharded, _ = jax.jit(toy_trainer(config, sharding).train)(jax.random.PRNGKey(0))
    env_leaf = jax.tree.leaves(sharded.env_state)[0]
    print("shards", len(env_leaf.sharding.device_set))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(leaves(plain.params), leaves(sharded.params)))
    print("maxdiff", diff)
    """
)


def test_two_device_sharded_run_matches_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SHARDED], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = dict(line.split() for line in out.stdout.splitlines() if line.startswith(("shards", "maxdiff")))
    assert int(lines["shards"]) == 2
    assert float(lines["maxdiff"]) < 1e-4


def test_evaluation_stops_when_every_episode_has_ended():
    """Episodes of 7 steps with max_steps 500: 7 env steps, and the same returns as a longer cap."""
    steps = []

    class CountedPointMass(PointMass):
        def step(self, state, action):
            jax.debug.callback(lambda: steps.append(1))
            return super().step(state, action)

    config = toy_config()
    env = CountedPointMass(episode_length=7)
    agent = agents.make_agent("ppo", env.observation_size, env.action_size, config.ppo, config.mikt)
    trainer = make_train(config, env, agent)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    evaluate = jax.jit(trainer.evaluate, static_argnames=("episodes", "max_steps"))
    short = jax.device_get(evaluate(state.params, state.obs_stats, jax.random.PRNGKey(1), max_steps=500))
    assert len(steps) == 7  # a fixed-length loop would have stepped 500 times
    np.testing.assert_array_equal(short["length"], np.full(config.run.eval_episodes, 7.0))
    capped = jax.device_get(evaluate(state.params, state.obs_stats, jax.random.PRNGKey(1), max_steps=4))
    assert len(steps) == 7 + 4
    np.testing.assert_array_equal(capped["length"], np.full(config.run.eval_episodes, 4.0))
    assert np.all(short["return"] != capped["return"])


def test_wall_time_counts_every_sitting_from_the_checkpoints(tmp_path):
    """Each checkpoint records the run's wall time so far: a sitting killed outright (no summary
    written) still counts up to its newest checkpoint, and the time between sittings does not."""
    import json
    import time

    config = toy_config()
    part = run_training(toy_trainer(config), config, tmp_path / "run", "run", stop_after_updates=4)
    saved = json.loads((tmp_path / "run" / "checkpoints" / "4" / "meta" / "metadata").read_text())["wall_time_s"]
    assert 0 < saved <= part.wall_time + 0.1
    time.sleep(2.0)  # between the sittings
    t0 = time.time()
    # the checkpoint's figure wins over the caller's fallback (for checkpoints that lack one)
    resumed = run_training(toy_trainer(config), config, tmp_path / "run", "run", resume=True,
                           previous_wall_time=1e6)
    second_sitting = time.time() - t0
    assert saved < resumed.wall_time <= saved + second_sitting + 0.1


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    config = toy_config()
    whole = run_training(toy_trainer(config), config, tmp_path / "whole", "whole")
    run_training(toy_trainer(config), config, tmp_path / "part", "part", stop_after_updates=4)
    newest = tmp_path / "part" / "checkpoints" / "4"
    for path in newest.rglob("*"):
        if path.is_file() and path.stat().st_size > 0 and "state" in str(path):
            path.write_bytes(b"garbage")
    resumed = run_training(toy_trainer(config), config, tmp_path / "part", "part", resume=True)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "checkpoint 4" in warnings[0] and "previous" in warnings[0]
    for a, b in zip(leaves(whole.final_state.params), leaves(resumed.final_state.params)):
        np.testing.assert_array_equal(a, b)


def test_interrupted_evaluation_is_done_again_on_resume(tmp_path, monkeypatch):
    from mjx_mikt import logger as logger_lib

    config = toy_config()
    whole = run_training(toy_trainer(config), config, tmp_path / "whole", "whole")
    original = logger_lib.RunLogger.evaluation
    calls = {"n": 0}

    def interrupted(self, update, *args):
        calls["n"] += 1
        if update == 3 and calls["n"] == 1:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the evaluation at update 3
        return original(self, update, *args)

    monkeypatch.setattr(logger_lib.RunLogger, "evaluation", interrupted)
    part = run_training(toy_trainer(config), config, tmp_path / "part", "part")
    assert part.interrupted and part.updates == 3  # the update had finished, its evaluation had not
    monkeypatch.setattr(logger_lib.RunLogger, "evaluation", original)
    resumed = run_training(toy_trainer(config), config, tmp_path / "part", "part", resume=True)
    assert (tmp_path / "part" / "eval.csv").read_text() == (tmp_path / "whole" / "eval.csv").read_text()
    for a, b in zip(leaves(whole.final_state.params), leaves(resumed.final_state.params)):
        np.testing.assert_array_equal(a, b)


def test_progress_line_has_a_rate_from_the_first_chunk(capsys):
    from mjx_mikt.progress import Progress

    progress = Progress("ppo Hopper", total_updates=10, batch=100, interval=0.0)
    progress.show(0, float("nan"), force=True)  # before any chunk: no rate, no nan
    first = capsys.readouterr().err
    assert "- steps/s" in first and "ETA ?" in first and "nan" not in first
    progress.add(updates=2, seconds=20.0, compiled=True)  # the compile chunk: a rate marked as such
    progress.show(2, float("nan"), force=True)
    first = capsys.readouterr().err
    assert "10 steps/s (incl. compile)" in first and "ETA 1m20s" in first and "nan" not in first
    progress.add(updates=4, seconds=2.0, compiled=False)  # 400 steps in 2 s
    progress.show(6, 12.5, force=True)
    line = capsys.readouterr().err
    assert "200 steps/s" in line and "ETA 0m02s" in line  # 4 updates x 100 steps left at 200/s
    assert "12.5" in line


def test_progress_rate_ignores_one_stalled_chunk(capsys):
    """A chunk that stalled (the process was stopped for a while) does not drag steps/s and ETA."""
    from mjx_mikt.progress import Progress

    progress = Progress("mikt Eight", total_updates=100, batch=100, interval=0.0)
    for seconds in (1.0, 1.0, 500.0, 1.0):  # 1,000 steps/s, then a chunk paused for 8 min
        progress.add(updates=10, seconds=seconds, compiled=False)
    assert progress.steps_per_second == 1000.0
    progress.show(40, 3.0, force=True)
    assert "1,000 steps/s" in capsys.readouterr().err  # the mean over all four chunks would say 8
    progress.add(updates=10, seconds=4.0, compiled=False)  # the machine really got slower ...
    progress.add(updates=10, seconds=4.0, compiled=False)
    progress.add(updates=10, seconds=4.0, compiled=False)
    progress.add(updates=10, seconds=4.0, compiled=False)
    assert progress.steps_per_second == 250.0  # ... and the rate follows within a few chunks


def test_signals_during_a_checkpoint_save_stop_the_run_at_the_chunk_boundary(tmp_path, monkeypatch, capfd):
    """A SIGTERM, then SIGINTs, land while a checkpoint is being written: the save finishes, the run
    stops before the next chunk with that checkpoint, and nothing is raised into the save."""
    import signal

    from mjx_mikt import loop, signals

    config = toy_config(total_timesteps=12 * 64, eval_every=0)
    original = checkpoint.save_checkpoint
    sent = {"at": None}

    def save_with_signals(directory, update, *args, **kwargs):
        if update == 2 and sent["at"] is None:
            sent["at"] = update
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGINT):  # to this process, mid-save
                os.kill(os.getpid(), signum)
        return original(directory, update, *args, **kwargs)

    monkeypatch.setattr(loop.checkpoint, "save_checkpoint", save_with_signals)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = run_training(toy_trainer(config), config, tmp_path / "run", "run")
        # kept until the caller has written the summary, then restored (a notebook's Ctrl-C works again)
        assert signal.getsignal(signal.SIGINT) is signals.ChunkInterrupt._handle
        signals.restore_signal_handlers()
        assert {s: signal.getsignal(s) for s in previous} == previous
    finally:
        for s, handler in previous.items():  # whatever happened above, give pytest its own handlers
            signal.signal(s, handler)
    assert result.interrupted and result.signal == signal.SIGTERM  # the first signal counts
    assert result.updates == 2  # stopped at the boundary after the save, not inside it
    steps = sorted(int(p.name) for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.isdigit())
    assert steps[-1] == 2
    err = capfd.readouterr().err
    assert "SIGTERM received: stopping after this chunk" in err
    assert err.count("already stopping") == 2 and "Traceback" not in err


def test_cpu_programs_compile_without_tree_reductions_and_one_seed_without_ynnpack_fusions():
    """The options exist in this jaxlib (an unknown one fails the compile) and do what loop.py says."""
    from mjx_mikt.loop import compiler_options

    def layer(x, w):
        h = jnp.tanh(x @ w) @ w
        return h, jnp.sum(h, axis=0)  # a 64-sample sum: XLA's default splits it into reduce-windows

    x, w = jnp.ones((64, 32)), jnp.linspace(-0.1, 0.1, 32 * 32).reshape(32, 32)
    default = jax.jit(layer).lower(x, w).compile().as_text()
    assert "reduce-window" in default and "ynn_fusion" in default  # so the assertions below can fail
    for seeds in (1, 5):
        compiled = jax.jit(layer, compiler_options=compiler_options(seeds))
        text = compiled.lower(x, w).compile().as_text()
        assert "reduce-window" not in text
        assert ("ynn_fusion" in text) == (seeds > 1)
        for got, want in zip(compiled(x, w), layer(x, w)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_full_disk_names_the_file_and_the_run_resumes_bit_exact_once_space_is_freed(tmp_path, monkeypatch):
    """orbax reports a full disk as a ValueError from its threads: the save raises one OSError naming the
    file; resumed after space was freed, the run ends where an uninterrupted one does."""
    import errno

    message = ('RESOURCE_EXHAUSTED: Error writing "x/0.0" in OCDBT database at local file "/r/checkpoints/4.orbax-'
               'checkpoint-tmp/": Failed writing: "/r/checkpoints/4.orbax-checkpoint-tmp/d/a95c": Failed to write '
               "17487 bytes to file 14: No space left on device [os_error_code='28']")
    err = checkpoint.os_error_of(ValueError(message), Path("/r/checkpoints/4"))
    assert (err.errno, err.filename) == (errno.ENOSPC, "/r/checkpoints/4.orbax-checkpoint-tmp/d/a95c")
    assert checkpoint.os_error_of(ValueError("some other bug"), Path("/r")) is None

    config = toy_config()
    whole = run_training(toy_trainer(config), config, tmp_path / "whole", "whole")
    real_manager = checkpoint._manager

    class FullAt4:  # orbax's manager, whose save of update 4 fails as it does on a full disk
        def __init__(self, manager):
            self.manager = manager

        def __enter__(self):
            self.inner = self.manager.__enter__()
            return self

        def __exit__(self, *exc):
            return self.manager.__exit__(*exc)

        def all_steps(self):
            return self.inner.all_steps()

        def save(self, step, **kwargs):
            if step == 4:
                raise ValueError(message)
            return self.inner.save(step, **kwargs)

        def wait_until_finished(self):
            self.inner.wait_until_finished()

    monkeypatch.setattr(checkpoint, "_manager", lambda directory, max_to_keep=3: FullAt4(
        real_manager(directory, max_to_keep)))
    with pytest.raises(OSError) as raised:
        run_training(toy_trainer(config), config, tmp_path / "part", "part")
    assert raised.value.errno == errno.ENOSPC and "a95c" in raised.value.filename
    monkeypatch.setattr(checkpoint, "_manager", real_manager)  # space freed
    resumed = run_training(toy_trainer(config), config, tmp_path / "part", "part", resume=True)
    assert (tmp_path / "part" / "eval.csv").read_text() == (tmp_path / "whole" / "eval.csv").read_text()
    for a, b in zip(leaves(whole.final_state.params), leaves(resumed.final_state.params)):
        np.testing.assert_array_equal(a, b)


def test_config_json_records_provenance_and_tensorboard_has_the_hyperparameters(tmp_path):
    import json
    import struct
    import subprocess

    from tensorboardX.proto.event_pb2 import Event

    from mjx_mikt.run_folder import write_config

    config = toy_config(total_timesteps=2 * 64, eval_every=0, checkpoint_every=0)
    write_config(tmp_path / "run", config)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert Config.from_dict(recorded) == config  # the provenance is beside the config, not in it
    made = recorded["provenance"]
    repo = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert made["git_commit"] == head and made["git_dirty"] in (True, False)
    assert all(made["versions"][name] for name in ("jax", "mujoco", "flax", "optax"))
    from mjx_mikt.commands import interpreter

    assert made["command"].startswith(interpreter()) and "/" + interpreter() not in made["command"]
    run_training(toy_trainer(config), config, tmp_path / "run", "toy")
    texts = []
    for path in (tmp_path / "run" / "tb" / "mean").glob("events.*"):
        data, at = path.read_bytes(), 0
        while at < len(data):  # TFRecord: u64 length, u32 crc, payload, u32 crc
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            texts += [(v.tag, b"".join(v.tensor.string_val).decode()) for v in event.summary.value
                      if v.HasField("tensor")]
    assert any(tag.startswith("config") and '"total_timesteps": 128' in text and "git_commit" in text
               for tag, text in texts)
