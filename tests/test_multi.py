"""`experiments run/report multi`: one student with the CentipedeFour and CentipedeSix teachers at once
(pairs 'Four+Six:Eight'), beside each teacher alone and PPO; the finding and the teachers' weights."""

import csv
import json
import math
import shlex
import shutil
from pathlib import Path

import pytest

from mjx_mikt import run as cli
from mjx_mikt.config import ConfigError
from mjx_mikt.experiments import __main__ as experiments
from mjx_mikt.experiments import grid, multi, multi_report, registry, report
from tiny_grid import TINY_ARGS, RecordingRunner

REPO = Path(__file__).resolve().parents[1]


def test_a_source_of_several_robots_parses_and_prints_one_command(tmp_path, capsys):
    assert grid.parse_pairs("Four+Six:Eight,Six:Eight") == (("CentipedeFour+CentipedeSix", "CentipedeEight"),
                                                            ("CentipedeSix", "CentipedeEight"))
    with pytest.raises(ConfigError, match="twice"):
        grid.parse_pairs("Four+Four:Eight")
    with pytest.raises(ConfigError, match="unknown robot"):
        grid.parse_pairs("Four+Seven:Eight")
    cell = grid.Cell("CentipedeFour+CentipedeSix", "CentipedeEight", "mikt")
    assert cell.label == "Four+Six->Eight mikt"

    assert experiments.main(["run", "multi", "--print-commands", "--out", str(tmp_path)]) == 0
    lines = [shlex.split(line) for line in capsys.readouterr().out.strip().splitlines()]
    folders = [Path(c[c.index("--run-dir") + 1]).relative_to(tmp_path / "cells").as_posix() for c in lines]
    # the teachers' PPO cells first (each robot once), then the pairs: Four alone, PPO, Six alone, both
    assert folders == ["CentipedeFour/ppo", "CentipedeSix/ppo", "Four-Eight/mikt", "CentipedeEight/ppo",
                       "Six-Eight/mikt", "Four+Six-Eight/mikt"]
    both = lines[-1]
    for flag, value in (("--method", "mikt"), ("--source", "CentipedeFour,CentipedeSix"), ("--target", "CentipedeEight"),
                        ("--teacher-seeds", "5"), ("--seeds", "5"), ("--timesteps", "2000000"), ("--preset", "paper"),
                        ("--backend", "mujoco"), ("--teacher-store", str(tmp_path / "teachers"))):
        assert both[both.index(flag) + 1] == value, flag
    config = cli.config_from_args(cli.build_parser().parse_args(both[3:]))  # what mjx_mikt.run makes of it
    assert config.run.source == ("CentipedeFour", "CentipedeSix") and config.run.teacher_seeds == 5


def test_in_the_protocol_folder_only_the_two_teacher_cell_is_left_to_run(capsys):
    """Fig. 3/5's cells are reused: status lists six cells, --print-commands the one not done (if any)."""
    out = REPO / "results" / "paper-2M"
    assert experiments.main(["status", "multi", "--out", str(out)]) == 0
    states = {" ".join(line.split()[:2]): line.split()[2] for line in capsys.readouterr().out.splitlines()}
    assert list(states) == ["Four ppo", "Six ppo", "Four->Eight mikt", "Eight ppo", "Six->Eight mikt",
                            "Four+Six->Eight mikt"]
    assert all(state == "done" for label, state in states.items() if label != "Four+Six->Eight mikt")
    assert experiments.main(["run", "multi", "--print-commands", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    if states["Four+Six->Eight mikt"] == "done":
        assert lines == []
    else:
        [line] = lines
        assert "--source CentipedeFour,CentipedeSix" in line and line.endswith("cells/Four+Six-Eight/mikt")


# ------------------------------------------------------------------ synthetic cells: the numbers
def _cell(folder: Path, level: float, weights=None) -> None:
    """A finished 3-seed, 10-update cell whose curve rises to `level` (+0, +10, +20 for seeds 0-2); `weights`
    {robot: share}: p_s = 0.1 (u + 1) on every layer, each teacher's p_t = share * (1 - p_s)."""
    folder.mkdir(parents=True)
    weights = weights or {}
    columns = ["update", "env_steps", "seed", "episode_return_100"]
    layers = [f"{tower}_{j}" for tower in ("policy", "value") for j in (0, 1)]
    if weights:
        columns += [f"p_s/{layer}" for layer in layers]
        columns += [f"p_t/{robot}/{layer}" for robot in weights for layer in layers]
    with (folder / "metrics.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for seed in range(3):
            for u in range(10):
                p_s = 0.1 * (u + 1)
                row = [u + 1, (u + 1) * 100, seed, level * (u + 1) / 10 + 10 * seed]
                if weights:
                    row += [p_s] * len(layers)
                    row += [share * (1 - p_s) for share in weights.values() for _ in layers]
                writer.writerow(row)
    (folder / "summary.json").write_text(json.dumps({"updates": 10, "wall_time_s": 60.0,
                                                     "eval_return_per_seed": [level, level, level]}))
    config = {"run": {"total_timesteps": 1000}, "ppo": {"num_envs": 2, "rollout_length": 50}}
    if weights:
        config["mikt"] = {"coupling_end": 0.9}
    (folder / "config.json").write_text(json.dumps(config))


def _protocol_folder(root: Path, together: bool = True) -> Path:
    cells = root / "cells"
    _cell(cells / "Four-Eight" / "mikt", 250.0, {"CentipedeFour": 1.0})
    _cell(cells / "Six-Eight" / "mikt", 300.0, {"CentipedeSix": 1.0})
    _cell(cells / "CentipedeEight" / "ppo", 150.0)
    if together:
        _cell(cells / "Four+Six-Eight" / "mikt", 400.0, {"CentipedeFour": 0.6, "CentipedeSix": 0.4})
    return root


REPORT_ARGS = ["--seeds", "3", "--timesteps", "1000"]


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_report_multi_gives_the_table_the_finding_and_the_weights(tmp_path):
    out = _protocol_folder(tmp_path)
    assert experiments.main(["report", "multi", "--out", str(out)] + REPORT_ARGS) == 0
    folder = out / "multi"
    text = (folder / "report.md").read_text()
    lines = multi.table(json.loads((folder / "report.json").read_text()))
    assert "\n".join(lines) in text
    assert [line.split(" | ")[:2] for line in lines[2:]] == [
        ["| MIKT, CentipedeFour + CentipedeSix teachers", "410 ± 8"], ["| MIKT, CentipedeFour teacher", "260 ± 8"],
        ["| MIKT, CentipedeSix teacher", "310 ± 8"], ["| PPO from scratch", "160 ± 8"]]
    found = json.loads((folder / "finding.json").read_text())
    f = found["finding"]
    # final = the last update: 400/300 + (0, 10, 20); sample std 10, SE 10 / sqrt(3) each, combined
    assert f["together"]["mean"] == 410.0 and f["together"]["sample_std"] == 10.0 and f["together"]["n"] == 3
    assert f["best_single"]["source"] == "CentipedeSix" and f["best_single"]["mean"] == 310.0
    assert f["difference"] == 100.0 and f["standard_error"] == round(math.sqrt(2) * 10 / math.sqrt(3), 2)
    assert f["verdict"] == "better"
    assert f"**Finding.** {f['text']}" in text
    assert "Together minus the better one: +100 ± 8" in f["text"] and "(better)" in f["text"]
    # the weights: teacher phase = the first 9 updates (coupling_end 0.9), its first and last update as start/end
    w = found["weights"]["CentipedeFour+CentipedeSix"]
    assert w["teacher_phase_end"] == 900 and w["p_s_over_half_at"] == 600
    assert w["layers"]["policy_1"] == {"p_s": {"start": 0.1, "phase_mean": 0.5, "end": 0.9},
                                       "CentipedeFour": {"start": 0.54, "phase_mean": 0.3, "end": 0.06},
                                       "CentipedeSix": {"start": 0.36, "phase_mean": 0.2, "end": 0.04}}
    assert "CentipedeFour 0.54 → 0.30 → 0.06; CentipedeSix 0.36 → 0.20 → 0.04" in text
    assert "reads CentipedeFour's teacher most (mean weight 0.10 above CentipedeSix's)" in text
    assert "p_s passes 0.5 at 600 env steps" in text
    assert w["leader_by_tenth"] == ["CentipedeFour"] * 9  # 9 updates in the phase: a tenth each, the last empty
    assert "The higher weight, by tenths of the phase: CentipedeFour in tenths 1-9." in text
    assert multi._runs(["A", "A", "about equal", "B"]) == "A in tenths 1-2, about equal in tenth 3, B in tenth 4"
    assert "| CentipedeFour + CentipedeSix teachers | value_0 | 0.10 / 0.50 / 0.90 | 0.54 / 0.30 / 0.06 | " \
           "0.36 / 0.20 / 0.04 |" in text
    for name in ("multi.png", "multi-eval.png", "multi-teachers.png", "multi-weights.png"):
        assert (folder / name).stat().st_size > 10_000 and f"]({name})" in text
    # a function of the CSVs: regenerating gives the same bytes
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert experiments.main(["report", "multi", "--out", str(out)] + REPORT_ARGS) == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_the_verdict_is_equal_within_two_standard_errors_and_worse_below(tmp_path):
    out = _protocol_folder(tmp_path)
    protocol = grid.Protocol(out=out, seeds=3, timesteps=1000)
    data = report.build(registry.KINDS["multi"], protocol)
    together = next(p for p in data["pairs"] if p["source"] == "CentipedeFour+CentipedeSix")["methods"]["mikt"]
    for shift, verdict in ((-90, "equal"), (-116, "equal"), (-117, "worse"), (-84, "equal"), (-83, "better")):
        together["final"]["per_seed"] = [400 + shift + 10 * s for s in range(3)]  # Six's: 300, 310, 320
        f = multi.finding(data)
        assert (f["difference"], f["verdict"]) == (100 + shift, verdict), shift  # 2 SE = 2 sqrt(2/3) 10 = 16.33


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_without_the_two_teacher_cell_the_report_says_not_run_yet_and_shows_the_others(tmp_path, capsys):
    out = _protocol_folder(tmp_path, together=False)
    assert experiments.main(["report", "multi", "--out", str(out)] + REPORT_ARGS) == 0
    assert "multi: CentipedeFour+CentipedeSix -> Eight left out: no mikt cell yet" in capsys.readouterr().err
    text = (out / "multi" / "report.md").read_text()
    assert "| MIKT, CentipedeFour + CentipedeSix teachers | not run yet |" in text
    assert "| MIKT, CentipedeSix teacher | 310 ± 8 |" in text and "| PPO from scratch | 160 ± 8 |" in text
    f = json.loads((out / "multi" / "finding.json").read_text())["finding"]
    assert f["together"] is None and f["verdict"] is None and f["best_single"]["source"] == "CentipedeSix"
    assert f["text"].startswith("The CentipedeFour + CentipedeSix cell is not run yet")
    assert (out / "multi" / "multi-weights.png").stat().st_size > 10_000  # the single teachers' p_t


# ------------------------------------------------------------------ a tiny real cell, end to end
@pytest.fixture(scope="module")
def tiny_multi(tmp_path_factory):
    """`run multi` on Four:Eight and Four+Six:Eight, MIKT only: PPO on CentipedeFour and CentipedeSix (the
    teachers), MIKT with the CentipedeFour teacher, MIKT with both; 2 seeds, 4 updates, in this process."""
    out = tmp_path_factory.mktemp("multi")
    runner = RecordingRunner()
    calls = runner.calls

    argv = ["run", "multi", "--pairs", "Four:Eight,Four+Six:Eight", "--methods", "mikt", "--out", str(out)] + TINY_ARGS
    assert experiments.main(argv, runner=runner) == 0
    return out, calls


def test_a_tiny_two_teacher_cell_runs_and_reports_each_teachers_weight(tiny_multi):
    out, calls = tiny_multi
    ran = [Path(c[c.index("--run-dir") + 1]).relative_to(out / "cells").as_posix() for c in calls]
    assert ran == ["CentipedeFour/ppo", "CentipedeSix/ppo", "Four-Eight/mikt", "Four+Six-Eight/mikt"]
    cell = out / "cells" / "Four+Six-Eight" / "mikt"
    summary = json.loads((cell / "summary.json").read_text())
    # student seed i read teacher i of each robot
    assert [[(t["robot"], t["teacher_seed"]) for t in s["teachers"]] for s in summary["teachers"]] == [
        [("CentipedeFour", 0), ("CentipedeSix", 0)], [("CentipedeFour", 1), ("CentipedeSix", 1)]]
    with (cell / "metrics.csv").open() as f:
        header = next(csv.reader(f))
    assert {"p_t/CentipedeFour/policy_0", "p_t/CentipedeSix/policy_1", "p_s/value_1"} <= set(header)

    folder = out / "multi"
    found = json.loads((folder / "finding.json").read_text())
    layer = found["weights"]["CentipedeFour+CentipedeSix"]["layers"]["policy_0"]
    assert set(layer) == {"p_s", "CentipedeFour", "CentipedeSix"}
    assert abs(sum(layer[k]["phase_mean"] for k in layer) - 1) < 0.02  # a softmax (rounded to 2 digits)
    f = found["finding"]
    assert f["together"]["n"] == 2 and f["best_single"]["source"] == "CentipedeFour"
    assert f["verdict"] in ("better", "equal", "worse") and f["standard_error"] is not None
    text = (folder / "report.md").read_text()
    assert f"**Finding.** {f['text']}" in text and "**Which teacher the student reads**" in text
    assert "| MIKT, CentipedeSix teacher | not run yet |" in text  # not in this grid
    assert (folder / "multi-weights.png").stat().st_size > 10_000


# ------------------------------------------------------------------ the committed report
COMMITTED = REPO / "results" / "paper-2M" / "multi"


@pytest.mark.skipif(not (COMMITTED / "report.json").is_file(), reason="no committed multi report")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_committed_report_regenerates_byte_identical(tmp_path, monkeypatch):
    """`report multi` on a copy of the committed protocol folder changes no file (report.json is
    report.build's, as tests/test_results.py checks for every report; finding.json and the PNGs too)."""
    shutil.copytree(REPO / "results" / "paper-2M", tmp_path / "results" / "paper-2M")
    monkeypatch.chdir(tmp_path)  # the reports name their cells relative to the repository root
    committed = {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    assert experiments.main(["report", "multi"]) == 0
    assert {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()} == committed
    # as tests/test_results.py rebuilds every committed report: from its own pairs and methods
    data = json.loads((COMMITTED / "report.json").read_text())
    p = data["protocol"]
    protocol = grid.Protocol(out=Path(p["out"]), seeds=p["seeds"], timesteps=p["timesteps"], preset=p["preset"],
                             backend=p["backend"])
    pairs = tuple((pair["source"], pair["target"]) for pair in data["pairs"])
    methods = list(dict.fromkeys(m for pair in data["pairs"] for m in pair["methods"])) or None
    assert report.build(registry.KINDS["multi"], protocol, pairs, methods) == data
    assert json.loads((COMMITTED / "finding.json").read_text()) == json.loads(json.dumps(multi_report.numbers(data)))
