"""RunFolder: one way to create or reopen a run; a folder moved elsewhere restores what was saved in it."""

import dataclasses
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

from mjx_mikt import checkpoint
from mjx_mikt.config import Config, ConfigError, PPOConfig, RunConfig
from mjx_mikt.run_folder import RunFolder, seed_keys


def tiny_config(run_dir) -> Config:
    return Config(run=RunConfig(target="Hopper", method="ppo", num_seeds=2, backend="mujoco", total_timesteps=4 * 16,
                                run_dir=str(run_dir)),
                  ppo=PPOConfig(num_envs=2, rollout_length=8, num_minibatches=2, update_epochs=1, hidden_sizes=(16,)))


def test_a_moved_run_folder_opens_with_its_new_path_and_restores_its_checkpoint(tmp_path):
    folder = RunFolder.create(tiny_config(tmp_path / "a"))
    assert folder.path == tmp_path / "a" and not folder.path.exists()  # nothing written before training
    folder.write_config()
    trainer, teachers = folder.build()
    assert teachers is None  # PPO reads no teacher
    state = trainer.seed_batched_init()(seed_keys(folder.config), teachers)
    checkpoint.save_checkpoint(folder.checkpoints, 3, state, {"update": 3})
    shutil.move(tmp_path / "a", tmp_path / "b")

    moved = RunFolder.open(tmp_path / "b")
    assert moved.config == dataclasses.replace(
        folder.config, run=dataclasses.replace(folder.config.run, run_dir=str(tmp_path / "b")))
    assert moved.latest_checkpoint() == 3 and moved.finished_summary() is None
    restored, meta = moved.restore(*moved.build())
    assert meta["update"] == 3
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # seed 1's parameters are its own, not seed 0's
    first = np.asarray(restored.params["policy"]["hidden_0"]["kernel"])
    assert not np.array_equal(first[0], first[1])


def test_create_writes_nothing_on_bad_input_and_refuses_a_used_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tiny_config("")
    bad = dataclasses.replace(bad, run=dataclasses.replace(bad.run, target="NoSuchRobot"))
    with pytest.raises(ConfigError, match="NoSuchRobot"):
        RunFolder.create(bad)
    assert not (tmp_path / "runs").exists()
    default = RunFolder.create(tiny_config(""))  # the default folder is made, exclusively, once the input is good
    assert default.path.parent == Path("runs") and default.path.is_dir()
    assert default.config.run.run_dir == str(default.path)
    default.write_config()
    with pytest.raises(ConfigError, match="already holds a run"):
        RunFolder.create(tiny_config(default.path))
    default.forget_unstarted()  # no checkpoint yet: the folder goes
    assert not default.path.exists()
    with pytest.raises(ConfigError, match="does not exist"):
        RunFolder.open(default.path)
