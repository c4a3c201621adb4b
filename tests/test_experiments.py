"""`python -m mjx_mikt.experiments`: the figures' grids, printed commands, skip/resume, the report."""

import csv
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mjx_mikt.experiments import __main__ as experiments
from mjx_mikt.experiments import grid, registry, report
from tiny_grid import TINY_ARGS, RecordingRunner

REPO = Path(__file__).resolve().parents[1]


def test_list_names_the_figures(capsys):
    assert experiments.main(["--list"]) == 0
    text = capsys.readouterr().out
    for name in ("fig3", "fig4", "fig5", "fig7"):
        assert f"{name}:" in text


def test_print_commands_fig3_gives_18_self_contained_lines(capsys, tmp_path):
    assert experiments.main(["run", "fig3", "--print-commands", "--seeds", "5", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # PPO on the 2 source robots (their teachers) + on the 4 targets, and 6 pairs x {mikt, mlpp}
    assert len(lines) == 18
    assert all(" -m mjx_mikt.run " in line and "--seeds 5" in line for line in lines)
    first_two = [shlex.split(line) for line in lines[:2]]
    assert [cmd[cmd.index("--target") + 1] for cmd in first_two] == ["CentipedeFour", "CentipedeSix"]
    assert len({shlex.split(line)[shlex.split(line).index("--run-dir") + 1] for line in lines}) == 18


def test_a_printed_command_runs_as_printed(tmp_path):
    argv = ["run", "fig3", "--print-commands", "--out", str(tmp_path), "--pairs", "Four:Eight",
            "--methods", "ppo"] + TINY_ARGS
    out = subprocess.run([sys.executable, "-m", "mjx_mikt.experiments"] + argv, cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip().splitlines()[0]  # PPO on CentipedeEight
    done = subprocess.run(line, shell=True, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "cells" / "CentipedeEight" / "ppo" / "summary.json").read_text())["updates"] == 4


def test_bad_input_is_one_line(capsys):
    assert experiments.main(["run", "fig9"]) == 2
    assert "unknown experiment" in capsys.readouterr().err
    assert experiments.main(["run", "fig3", "--pairs", "Four-Eight"]) == 2
    assert "SOURCE:TARGET" in capsys.readouterr().err


def _cheetah() -> Path:
    """gymnasium's half_cheetah.xml: a robot nobody here wrote (the test skips, one line, without it)."""
    gymnasium = pytest.importorskip("gymnasium", reason="gymnasium is not installed")
    path = Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / "half_cheetah.xml"
    if not path.is_file():
        pytest.skip("this gymnasium has no half_cheetah.xml")
    return path


def _flag(command, flag):
    return command[command.index(flag) + 1] if flag in command else None


@pytest.mark.filterwarnings("ignore:compiler attribute 'settotalmass'")
def test_a_pair_side_is_an_mjcf_file(tmp_path, monkeypatch, capsys):
    """--pairs Four:FILE,FILE:Eight: the printed commands pass the file (made absolute) as --target and
    --source; its cells' folders are its identity <stem>-<hash8> (envs.robot_id, the teacher store's key),
    with the --task-options the cells get; an edited file is another robot, with new folders."""
    from mjx_mikt import envs
    from mjx_mikt.envs import mjcf

    cheetah = str(_cheetah())
    monkeypatch.chdir(tmp_path)
    Path("my_robot.xml").write_text(Path(cheetah).read_text())
    mine = str(Path.cwd() / "my_robot.xml")
    argv = ["run", "fig3", "--print-commands", "--out", "out", "--methods", "mikt,ppo",
            "--pairs", f"Four:{cheetah},my_robot.xml:Eight"]

    def printed(extra=()):
        assert experiments.main(argv + list(extra)) == 0
        lines = [shlex.split(line) for line in capsys.readouterr().out.strip().splitlines()]
        return lines, [Path(_flag(c, "--run-dir")).relative_to("out/cells").as_posix() for c in lines]

    lines, folders = printed()
    cid, rid = envs.robot_id(cheetah), envs.robot_id(mine)
    assert cid.startswith("half_cheetah-") and rid.startswith("my_robot-")
    assert folders == ["CentipedeFour/ppo", f"{rid}/ppo", f"Four-{cid}/mikt", f"{cid}/ppo", f"{rid}-Eight/mikt",
                       "CentipedeEight/ppo"]
    assert [(_flag(c, "--source"), _flag(c, "--target")) for c in lines] == [
        (None, "CentipedeFour"), (None, mine), ("CentipedeFour", cheetah), (None, cheetah),
        (mine, "CentipedeEight"), (None, "CentipedeEight")]
    assert "--register-teacher" in lines[1]  # the file's PPO cell gives the Eight student its teachers

    lines, folders = printed(["--run-arg=--task-options=min_height=0.3"])
    tall = mjcf.load_robot(cheetah, cheetah, min_height="0.3").identity
    assert tall != cid and folders[2:4] == [f"Four-{tall}/mikt", f"{tall}/ppo"]
    assert all("--task-options=min_height=0.3" in c for c in lines)

    Path("my_robot.xml").write_text(Path(cheetah).read_text().replace('timestep="0.01"', 'timestep="0.005"'))
    edited = envs.robot_id(mine)
    assert edited != rid and printed()[1][1] == f"{edited}/ppo"


@pytest.mark.filterwarnings("ignore:compiler attribute 'settotalmass'")
def test_status_of_an_mjcf_pair_and_its_bad_files(tmp_path, capsys):
    """status names a file's cells by its stem, runs nothing; a missing or broken file exits 2, one line."""
    from mjx_mikt import envs

    cheetah = str(_cheetah())
    assert experiments.main(["status", "fig3", "--pairs", f"Four:{cheetah}", "--methods", "mikt,ppo",
                             "--out", str(tmp_path)], runner=lambda argv: pytest.fail("ran a cell")) == 0
    states = {" ".join(line.split()[:2]): line.split()[2:] for line in capsys.readouterr().out.splitlines()}
    cells = tmp_path / "cells"
    cid = envs.robot_id(cheetah)
    assert states == {"Four ppo": ["new", str(cells / "CentipedeFour" / "ppo")],
                      "Four->half_cheetah mikt": ["new", str(cells / f"Four-{cid}" / "mikt")],
                      "half_cheetah ppo": ["new", str(cells / cid / "ppo")]}
    (tmp_path / "still.xml").write_text('<mujoco><worldbody><body pos="0 0 1"><freejoint/><geom size="0.1"/>'
                                        "</body></worldbody></mujoco>")
    for pairs, expected in ((f"Four:{tmp_path / 'missing.xml'}", f"robot file {tmp_path / 'missing.xml'} in "
                             "--pairs does not exist"),
                            (f"{tmp_path / 'still.xml'}:Eight", "has no actuators"),
                            ("Four:half_cheetah", "or the path of an MJCF file"),
                            (f"Four:{tmp_path / 'my,robot.xml'}", "cannot contain ',', ':' or '+'"),
                            (f"Four:{tmp_path / 'a:b.xml'}", "link or copy the file")):
        assert experiments.main(["status", "fig3", "--pairs", pairs, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expected in err, err


@pytest.fixture(scope="module")
def tiny_experiment(tmp_path_factory):
    """fig3 on one pair x {mikt, ppo}, 2 seeds, 4 updates, cells run in this process (three cells: each
    costs a compile, so one pair is enough to test the order, the skip and the per-seed teachers)."""
    out = tmp_path_factory.mktemp("exp")
    runner = RecordingRunner()
    calls = runner.calls

    argv = ["run", "fig3", "--pairs", "Four:Six", "--methods", "mikt,ppo", "--out", str(out)] + TINY_ARGS
    assert experiments.main(argv, runner=runner) == 0
    return out, argv, calls, runner


def test_tiny_experiment_runs_every_cell_once_then_skips(tiny_experiment):
    out, argv, calls, runner = tiny_experiment
    ran = [c[c.index("--run-dir") + 1] for c in calls]
    assert [Path(r).relative_to(out / "cells").as_posix() for r in ran] == [
        "CentipedeFour/ppo", "Four-Six/mikt", "CentipedeSix/ppo"]
    # per-seed teachers: student seed i read CentipedeFour teacher i
    summary = json.loads((out / "cells" / "Four-Six" / "mikt" / "summary.json").read_text())
    assert [s["teachers"][0]["teacher_seed"] for s in summary["teachers"]] == [0, 1]
    before = len(calls)
    assert experiments.main(argv, runner=runner) == 0
    assert len(calls) == before  # everything finished: nothing run again


def _without_timing(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if k != "env_steps_per_second"} for r in rows]


def test_interrupted_cell_resumes_to_the_same_result(tiny_experiment, capsys):
    out, argv, calls, runner = tiny_experiment
    cell = out / "cells" / "Four-Six" / "mikt"
    metrics_before = _without_timing(cell / "metrics.csv")
    eval_before = json.loads((cell / "summary.json").read_text())["eval_return_per_seed"]
    # as if stopped after update 2: no summary, no checkpoint 4
    (cell / "summary.json").unlink()
    shutil.rmtree(cell / "checkpoints" / "4")
    assert grid.status(grid.Cell("CentipedeFour", "CentipedeSix", "mikt"),
                       experiments.protocol_from(experiments.build_parser().parse_args(argv))) == "partial"
    status_argv = ["status"] + argv[1:]
    assert experiments.main(status_argv, runner=runner) == 0
    lines = {line.split()[0] + " " + line.split()[1]: line for line in capsys.readouterr().out.splitlines()}
    assert "partial  checkpoint at update 2 of 4 (50%), resumes there" in lines["Four->Six mikt"]
    assert " done     4 updates" in lines["Four ppo"]
    before = len(calls)
    assert experiments.main(argv, runner=runner) == 0
    assert calls[before:] == [["--resume", str(cell)]]
    assert _without_timing(cell / "metrics.csv") == metrics_before
    assert json.loads((cell / "summary.json").read_text())["eval_return_per_seed"] == eval_before


def test_status_runs_nothing_and_names_each_cells_state(tiny_experiment, capsys):
    out, argv, calls, runner = tiny_experiment
    before = len(calls)
    assert experiments.main(["status", "fig3", "--pairs", "Four:Six,Four:Eight", "--methods", "mikt,ppo",
                             "--out", str(out)] + TINY_ARGS, runner=runner) == 0
    assert len(calls) == before
    states = {" ".join(line.split()[:2]): line.split()[2] for line in capsys.readouterr().out.splitlines()}
    assert states == {"Four ppo": "done", "Four->Six mikt": "done", "Six ppo": "done",
                      "Four->Eight mikt": "new", "Eight ppo": "new"}


def _column(path, name):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    seeds = sorted({int(r["seed"]) for r in rows})
    return np.array([[float(r[name]) if r[name] else np.nan for r in rows if int(r["seed"]) == s] for s in seeds])


def test_report_numbers_are_the_cells_csv_numbers(tiny_experiment):
    out, argv, _, _ = tiny_experiment
    data = json.loads((out / "fig3" / "report.json").read_text())
    assert (out / "fig3" / "fig3.png").stat().st_size > 5000
    assert (out / "fig3" / "report.md").read_text().count("| mikt |") == 1
    [pair] = data["pairs"]
    assert (pair["source"], pair["target"]) == ("CentipedeFour", "CentipedeSix")
    for method in ("mikt", "ppo"):
        entry = pair["methods"][method]
        curve = _column(Path(entry["cell"]) / "metrics.csv", "episode_return_100")  # (seeds, 4 updates)
        final = curve[:, -1]  # last 10% of 4 updates = the last one
        auc = np.nanmean(curve, axis=1)
        assert entry["final"]["per_seed"] == [round(float(x), 2) for x in final]
        assert entry["final"]["mean"] == round(float(final.mean()), 2)
        assert entry["auc"]["mean"] == round(float(auc.mean()), 2)
    mikt, ppo = pair["methods"]["mikt"], pair["methods"]["ppo"]
    assert pair["mikt_over_ppo_final"] == round(mikt["final"]["mean"] / ppo["final"]["mean"], 3)
    teachers = pair["teachers"]
    assert [t["seed"] for t in teachers] == [0, 1]
    # the report is a function of the CSVs: regenerating it gives the same bytes
    text = (out / "fig3" / "report.json").read_text()
    assert experiments.main(["report"] + argv[1:]) == 0
    assert (out / "fig3" / "report.json").read_text() == text


def test_other_protocol_in_the_same_folder_is_refused(tiny_experiment, capsys):
    out, argv, _, runner = tiny_experiment
    other = [a if a != str(4 * 64) else str(6 * 64) for a in argv]
    assert experiments.main(other, runner=runner) == 2
    assert "use another --out" in capsys.readouterr().err


def test_shapes_trains_one_ppo_cell_per_preset_and_reports_them(tmp_path):
    """`run shapes`: PPO on CentipedeFour in the paper and paper-wide protocol folders, then the comparison."""
    runner = RecordingRunner()
    calls = runner.calls

    argv = ["run", "shapes", "--out", str(tmp_path)] + TINY_ARGS
    assert experiments.main(argv, runner=runner) == 0
    ran = [Path(c[c.index("--run-dir") + 1]).relative_to(tmp_path).as_posix() for c in calls]
    assert ran == ["paper-256/cells/CentipedeFour/ppo", "paper-wide-256/cells/CentipedeFour/ppo"]
    assert [c[c.index("--preset") + 1] for c in calls] == ["paper", "paper-wide"]
    data = json.loads((tmp_path / "shapes-256" / "report.json").read_text())
    assert list(data["variants"]) == ["paper", "paper-wide"]
    finals = {}
    for label, entry in data["variants"].items():
        curve = _column(Path(entry["cell"]) / "metrics.csv", "episode_return_100")
        finals[label] = curve[:, -1]
        assert entry["final"]["per_seed"] == [round(float(x), 2) for x in curve[:, -1]]
        speeds = _column(Path(entry["cell"]) / "metrics.csv", "env_steps_per_second")[0]
        assert entry["loop_env_steps_per_second"]["median"] == round(float(np.median(speeds)))
    difference = data["final_difference"]
    assert difference["of"] == "paper-wide - paper"
    assert difference["value"] == round(float(finals["paper-wide"].mean() - finals["paper"].mean()), 2)
    assert (tmp_path / "shapes-256" / "shapes.png").stat().st_size > 5000
    assert experiments.main(argv, runner=runner) == 0 and len(calls) == 2  # both done: skipped


def test_backends_prints_a_native_and_an_mjx_cell(tmp_path, capsys):
    assert experiments.main(["run", "backends", "--print-commands", "--out", str(tmp_path), "--seeds", "3",
                             "--timesteps", "3e5"]) == 0
    lines = [shlex.split(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [(c[c.index("--backend") + 1], c[c.index("--preset") + 1]) for c in lines] == [
        ("mujoco", "paper-wide"), ("mjx", "paper-wide")]
    assert [Path(c[c.index("--run-dir") + 1]).relative_to(tmp_path).as_posix() for c in lines] == [
        "paper-wide-300k/cells/CentipedeFour/ppo", "paper-wide-300k-mjx/cells/CentipedeFour/ppo"]
    assert all("--no-register-teacher" in c for c in lines)  # a comparison's runs are not teachers


def test_print_commands_leaves_out_finished_cells_and_resumes_partial_ones(tmp_path, capsys):
    """In the committed protocol folder Fig. 3's Four:Eight cells are all done: nothing to print for them.
    The Ant cells are taken out of a copy of its records, so the test does not follow Fig. 3's progress."""
    out = tmp_path / "paper-2M"
    shutil.copytree(REPO / "results" / "paper-2M" / "cells", out / "cells",
                    ignore=lambda folder, names: [n for n in names if n in ("Ant", "Four-Ant")])
    shutil.copytree(REPO / "results" / "paper-2M" / "teachers", out / "teachers")
    assert experiments.main(["run", "fig3", "--print-commands", "--pairs", "Four:Eight,Four:Ant",
                             "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    targets = [shlex.split(line)[shlex.split(line).index("--target") + 1] for line in lines]
    assert targets == ["Ant"] * 3  # PPO from scratch, MIKT and MLPP on Ant: the only cells not run
    assert all("--resume" not in line for line in lines)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_report_of_each_figure_leaves_the_committed_files_byte_identical(tmp_path, monkeypatch, capsys):
    """`report figN` as the README shows it, on a copy of the committed protocol folder: no file changes,
    and the pairs with none of the figure's cells are left out with one line each."""
    shutil.copytree(REPO / "results" / "paper-2M", tmp_path / "results" / "paper-2M")
    monkeypatch.chdir(tmp_path)  # the reports name their cells relative to the repository root
    committed = {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    for name in (k.name for k in registry.FIGURES):
        assert experiments.main(["report", name]) == 0
    assert {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()} == committed
    err = capsys.readouterr().err.splitlines()
    assert "fig7: Six -> Eight left out: no mikt-no-kl cell yet" in err


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore:compiler attribute 'settotalmass'")
def test_readme_grid_commands_leave_git_status_of_results_clean(tmp_path, monkeypatch, capsys):
    """The README's `experiments run fig3 --pairs Four:Eight` on a git checkout of the committed protocol
    folder: every cell is done (skipped, nothing trained), the one-pair report goes under runs/ and
    `git status --porcelain results/` stays empty. `--print-commands` for a robot of one's own and for
    another budget points every run folder under runs/, the transfers at the committed teachers."""
    shutil.copytree(REPO / "results" / "paper-2M", tmp_path / "results" / "paper-2M")

    def git(*argv):
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *argv],
                              capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("add", "results")
    git("commit", "-qm", "the committed results")
    monkeypatch.chdir(tmp_path)
    never = lambda argv: pytest.fail(f"ran a cell: {argv}")  # noqa: E731
    assert experiments.main(["run", "fig3", "--pairs", "Four:Eight"], runner=never) == 0
    assert git("status", "--porcelain", "results/") == ""
    subset = json.loads((tmp_path / "runs" / "paper-2M" / "fig3" / "report.json").read_text())
    assert [(p["source"], p["target"]) for p in subset["pairs"]] == [("CentipedeFour", "CentipedeEight")]
    assert subset["pairs"][0]["teachers"]  # the committed teachers, read from results/
    assert "the committed results/paper-2M/fig3 is left as it is" in capsys.readouterr().err

    shutil.copy(_cheetah(), tmp_path / "robot.xml")
    assert experiments.main(["run", "fig3", "--pairs", "Four:robot.xml", "--print-commands"], runner=never) == 0
    assert experiments.main(["run", "fig3", "--pairs", "Four:Eight", "--timesteps", "3e5", "--print-commands"],
                            runner=never) == 0
    lines = [shlex.split(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 + 4  # own robot: its PPO cell, MIKT and MLPP (Four's PPO cell is committed); 300k: all 4
    for line in lines:
        assert line[line.index("--run-dir") + 1].startswith("runs/")
        store = line[line.index("--teacher-store") + 1]
        if "--source" in line and "2000000" in line:
            assert store == "results/paper-2M/teachers"
        else:
            assert store.startswith("runs/")
    assert experiments.main(["status", "fig3", "--pairs", "Four:Eight"]) == 0
    assert git("status", "--porcelain", "results/") == ""


def test_a_png_with_the_same_pixels_is_not_rewritten(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image, PngImagePlugin

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    path = report.save_png(fig, tmp_path / "a.png")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "another matplotlib")  # other metadata, same pixels
    Image.open(path).save(path, pnginfo=info)
    other = path.read_bytes()
    report.save_png(fig, path)
    assert path.read_bytes() == other
    ax.plot([0, 1], [0, 1])  # other pixels: rewritten
    report.save_png(fig, path)
    assert path.read_bytes() != other
    plt.close(fig)
