"""Learning-curve plots from run folders."""

import json

import matplotlib.image as mpimg
import numpy as np

from mjx_mikt import plot


def fake_run(root, name, method, source, returns):
    run_dir = root / name
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(
        {"run": {"target": "CentipedeSix", "source": source, "method": method}}))
    lines = ["update,env_steps,seed,return_mean,return_std,length_mean"]
    metric_lines = ["update,env_steps,seed,p_s/policy_0,p_s/policy_1,policy_loss"]
    for i, base in enumerate(returns):
        for seed in range(2):
            lines.append(f"{i + 1},{(i + 1) * 2048},{seed},{base + 10 * seed},1,1000")
            metric_lines.append(f"{i + 1},{(i + 1) * 2048},{seed},{0.47 + 0.01 * i},{0.5},0.1")
    (run_dir / "eval.csv").write_text("\n".join(lines) + "\n")
    (run_dir / "metrics.csv").write_text("\n".join(metric_lines) + "\n")
    return run_dir


def check_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(str(path))
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert np.std(image[..., :3]) > 0.05  # not blank


def test_plot_eval_curves_of_two_runs(tmp_path):
    a = fake_run(tmp_path, "a", "mikt", ["CentipedeFour"], [10, 50, 200])
    b = fake_run(tmp_path, "b", "ppo", [], [5, 20, 60])
    out = plot.plot([a, b], tmp_path / "curves.png")
    check_png(out)
    assert plot.title_of([json.loads((a / "config.json").read_text())]) == "CentipedeFour to CentipedeSix"


def test_plot_metric_glob_and_errors(tmp_path, capsys):
    a = fake_run(tmp_path, "a", "mikt", ["CentipedeFour"], [10, 50])
    assert plot.main([str(a), "--metric", "p_s/*", "-o", str(tmp_path / "ps.png")]) == 0
    check_png(tmp_path / "ps.png")
    assert plot.main([str(a), "--metric", "nope", "-o", str(tmp_path / "x.png")]) == 2
    assert "no metric matches 'nope'" in capsys.readouterr().err
    assert plot.main([str(tmp_path), "-o", str(tmp_path / "y.png")]) == 2


def test_plot_from_a_real_tiny_run(tmp_path):
    """A run written by the trainer itself (toy env), then plotted."""
    from test_train import toy_config, toy_trainer
    from mjx_mikt.run_folder import write_config
    from mjx_mikt.loop import run_training

    config = toy_config()
    write_config(tmp_path / "run", config)
    run_training(toy_trainer(config), config, tmp_path / "run", "toy")
    check_png(plot.plot([tmp_path / "run"], tmp_path / "real.png"))
    check_png(plot.plot([tmp_path / "run"], tmp_path / "loss.png", metric="policy_loss"))


def test_the_default_plot_draws_the_training_curve_and_the_evaluation_together(tmp_path, capsys):
    """`python -m mjx_mikt.plot RUN`: the learning curve (episode_return_100, every update) and the evaluation
    (here one, at the end of a tiny run) in one figure, in the run's colour; no --metric needed."""
    a = fake_run(tmp_path, "a", "mikt", ["CentipedeFour"], [10])
    rows = ["update,env_steps,seed,episode_return_100"] + [f"{u},{u * 64},0,{5.0 * u}" for u in range(1, 9)]
    (a / "metrics.csv").write_text("\n".join(rows) + "\n")
    drawn = plot.series([plot.read_run(a)])
    assert [(s["kind"], s["label"], s["steps"].size) for s in drawn] == [
        ("training", "mikt (CentipedeFour) training (last 100 episodes)", 8),
        ("evaluation", "mikt (CentipedeFour) evaluation (deterministic)", 1)]
    assert plot.main([str(a), "-o", str(tmp_path / "c.png")]) == 0
    check_png(tmp_path / "c.png")
    b = fake_run(tmp_path, "b", "ppo", [], [5, 20])  # no training curve logged: its evaluation alone
    assert [s["kind"] for s in plot.series([plot.read_run(b)])] == ["evaluation"]
