"""Fig. 5's view of a report: one student, a row and a curve per teacher, PPO from scratch once."""

import csv
import json
from pathlib import Path

from mjx_mikt.experiments import by_teacher, grid, registry, report

COLUMNS = ["update", "env_steps", "seed", "episode_return_100", "p_s/policy_0", "p_s/policy_1"]


def _cell(folder: Path, level: float, p_s=None) -> None:
    """A finished-looking 2-seed, 10-update cell whose curve rises to `level` (seed 1: level + 10)."""
    folder.mkdir(parents=True)
    with (folder / "metrics.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS if p_s is not None else COLUMNS[:4])
        for seed in (0, 1):
            for u in range(10):
                row = [u + 1, (u + 1) * 100, seed, level * (u + 1) / 10 + 10 * seed]
                writer.writerow(row + ([p_s, p_s] if p_s is not None else []))
    (folder / "summary.json").write_text(json.dumps({"updates": 10, "wall_time_s": 120.0,
                                                     "eval_return_per_seed": [level, level + 2]}))
    (folder / "config.json").write_text(json.dumps({"run": {"total_timesteps": 1000},
                                                    "ppo": {"num_envs": 2, "rollout_length": 50}}))


def _teacher(store: Path, robot: str, returns) -> None:
    for seed, value in enumerate(returns):
        path = store / robot / f"seed_{seed}" / "teacher.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"seed": seed, "episode_return_100": value, "eval_return": value}))


def test_a_row_and_a_curve_per_teacher_then_ppo(tmp_path):
    protocol = grid.Protocol(out=tmp_path, seeds=2, timesteps=1000)
    cells = tmp_path / "cells"
    _cell(cells / "Four-Eight" / "mikt", 300.0, p_s=0.6)
    _cell(cells / "Hopper-Eight" / "mikt", 100.0, p_s=0.9)
    _cell(cells / "CentipedeEight" / "ppo", 150.0)
    _teacher(tmp_path / "teachers", "CentipedeFour", [2000.0, 3000.0])
    _teacher(tmp_path / "teachers", "Hopper", [1000.0, 1200.0])
    data = report.build(registry.KINDS["fig5"], protocol,
                        pairs=(("CentipedeFour", "CentipedeEight"), ("Hopper", "CentipedeEight")))

    lines = by_teacher.table(data)
    assert lines[0].startswith("| CentipedeEight learns with | teachers' return | final |")
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| MIKT, CentipedeFour teacher", "| MIKT, Hopper teacher", "| PPO from scratch"]
    four, hopper, ppo = (line.split(" | ") for line in lines[2:])
    assert four[1] == "2,500 ± 500" and hopper[1] == "1,100 ± 100" and ppo[1] == "-"
    assert four[2] == "305 ± 5"  # final: the last 10% (1 update) of 300 and 310, mean ± std
    assert [row[-2] for row in (four, hopper, ppo)] == ["done"] * 3
    # PPO ends at (150 + 160) / 2 = 155; the Four student's mean curve 30 u + 5 reaches it at update 5
    assert four[5] == "500" and hopper[5] == "-"
    assert by_teacher.teachers_table(data)[2:] == [
        "| CentipedeFour | 0, 1 | 2,000, 3,000 | 2,000, 3,000 | 1,683-3,601 |",
        "| Hopper | 0, 1 | 1,000, 1,200 | 1,000, 1,200 | 1,754-3,429 |"]
    text, images = by_teacher.section(data, tmp_path, "fig5")  # what `report fig5` adds to report.md
    assert "\n".join(lines) in text
    assert images["teachers"] == tmp_path / "fig5-teachers.png" and images["teachers"].stat().st_size > 10_000
