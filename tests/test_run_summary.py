"""What a run prints at its end (run_summary.py): a run stopped before its end says when it was last
evaluated, never a stale "final" nor nan; the TensorBoard line is the README's."""

import io
import json
import os
import sys

import pytest

from mjx_mikt import run_summary
from mjx_mikt.run_folder import write_config
from mjx_mikt.loop import run_training
from test_train import toy_config, toy_trainer


@pytest.mark.parametrize("stop, expected", [
    (5, "stopped at update 5; last evaluation at update 3: "),  # evaluated at 3, stopped two updates later
    (2, "stopped at update 2; no evaluation yet (one every 3 updates)"),  # before the first evaluation
])
def test_a_run_stopped_early_says_when_it_was_last_evaluated(tmp_path, stop, expected):
    config = toy_config()  # 6 updates, an evaluation every 3
    write_config(tmp_path / "run", config)
    result = run_training(toy_trainer(config), config, tmp_path / "run", "toy", stop_after_updates=stop)
    out = io.StringIO()
    summary = run_summary.summarize(result, config, out=out)
    text = out.getvalue()
    assert expected in text
    assert "final eval return" not in text and "nan" not in text
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["status"] == summary["status"] == "stopped"
    if stop == 5:
        assert written["eval_update"] == 3 and written["eval_return_mean"] is not None
        assert f"last evaluation at update 3: {written['eval_return_mean']:.1f}" in text
        assert "eval return at update 3" in text
    else:
        assert written["eval_update"] is None and written["eval_return_per_seed"] == [None]
        assert "mean |" not in text


def test_an_interrupted_run_reads_its_last_evaluation_from_earlier_sittings(tmp_path):
    """A resumed run interrupted before it evaluated again: the evaluation of an earlier sitting, from eval.csv."""
    (tmp_path / "eval.csv").write_text("update,env_steps,seed,return_mean,return_std,length_mean\n"
                                       "50,102400,0,0.5,0,5\n50,102400,1,1.5,0,5\n100,204800,0,9,0,5\n"
                                       "100,204800,1,9,0,5\n")
    nan = float("nan")
    assert run_summary.last_evaluation(tmp_path, 82, [nan, nan]) == (50, [0.5, 1.5])
    assert run_summary.last_evaluation(tmp_path, 8, [nan, nan]) is None
    summary = {"source": [], "status": "interrupted", "updates": 82, "eval_update": 50, "eval_return_mean": 1.0,
               "eval_return_per_seed": [0.5, 1.5], "env_steps_per_seed": 82 * 2048, "wall_time_s": 60,
               "run_dir": str(tmp_path)}
    lines = run_summary.summary_table(summary, toy_config(num_seeds=2))
    assert "interrupted at update 82; last evaluation at update 50: 1.0" in lines


def test_the_view_line_is_the_readmes_tensorboard_command(tmp_path, monkeypatch):
    """`view: .venv/bin/tensorboard --logdir ...` where the tensorboard script sits beside the interpreter."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "tensorboard").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.chdir(tmp_path)
    assert run_summary.tensorboard() == os.path.join(".venv", "bin", "tensorboard")
    (bin_dir / "tensorboard").unlink()
    assert run_summary.tensorboard().endswith(" -m tensorboard.main")
