"""Teachers are owned artefacts: a run reads its own copies, the store never changes silently,
and mjx_mikt/ and bench/ have no import cycle."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

from mjx_mikt import checkpoint, lifecycle, teachers
from mjx_mikt.run_folder import RunFolder
from mjx_mikt import run as cli
from conftest import TINY

REPO = Path(__file__).resolve().parents[1]


def _perturbed_copy(source: Path, target: Path) -> None:
    data = checkpoint.load_teacher(source)
    params = jax.tree.map(lambda x: np.asarray(x) + 0.25, data["params"])
    checkpoint.save_teacher(target, data["robot"], data["observation_size"], data["action_size"], params,
                            data["obs_mean"], data["obs_var"], {"seed": 0, "note": "a different teacher"})


def test_resume_reads_the_runs_own_teacher_after_the_store_changed(teacher_run, tmp_path, capsys):
    _, teacher_dir, _ = teacher_run
    store = tmp_path / "store"
    _perturbed_copy(teacher_dir / "teacher" / "seed_0", store / "CentipedeFour" / "seed_0")
    original = store / "CentipedeFour" / "seed_0"
    argv = ["--target", "Hopper", "--source", "CentipedeFour", "--timesteps", str(4 * 64),
            "--teacher-store", str(store)] + TINY

    def config_for(run_dir):
        return RunFolder.create(cli.config_from_args(cli.build_parser().parse_args(
            argv + ["--run-dir", str(run_dir)])))

    whole_folder = config_for(tmp_path / "whole")
    whole_dir = whole_folder.path
    whole = lifecycle.train_and_report(whole_folder)
    run_line = next(line for line in capsys.readouterr().err.splitlines() if line.startswith("run: "))
    # this teacher (a perturbed copy) records no return nor steps: '-'
    assert run_line.endswith(f" | teachers: CentipedeFour from {store}, seed 0 (eval return - after - steps)")
    part_folder = config_for(tmp_path / "part")
    part_dir = part_folder.path
    lifecycle.train_and_report(part_folder, stop_after_updates=2)
    # the store's teacher is replaced by a different one while the run is stopped
    _perturbed_copy(original, tmp_path / "other")
    for name in (checkpoint.TEACHER_FILE, checkpoint.TEACHER_META):
        (original / name).write_bytes((tmp_path / "other" / name).read_bytes())
    assert lifecycle.resume(part_dir) == 0
    a = json.loads((whole_dir / "summary.json").read_text())["eval_return_per_seed"]
    b = json.loads((part_dir / "summary.json").read_text())["eval_return_per_seed"]
    assert a == b and whole["status"] == "finished"
    provenance = json.loads((part_dir / "teachers" / "provenance.json").read_text())
    assert provenance[0]["sha256_16"] == teachers.file_hash(part_dir / "teachers" / "CentipedeFour" / "seed_0")
    assert provenance[0]["sha256_16"] != teachers.file_hash(original)


def test_a_ppo_run_registers_only_when_asked_and_never_replaces(tmp_path):
    store = tmp_path / "store"
    base = [sys.executable, "-m", "mjx_mikt.run", "--method", "ppo", "--target", "Hopper", "--timesteps",
            str(2 * 64), "--teacher-store", str(store)] + TINY
    out = subprocess.run(base + ["--run-dir", str(tmp_path / "a")], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not (store / "Hopper").exists()  # not asked: nothing registered, and the run says so and where they are
    assert teachers.is_teacher(tmp_path / "a" / "teacher" / "seed_0")
    said = [line for line in out.stdout.splitlines() if "not registered" in line]
    assert len(said) == 1 and "--register-teacher" in said[0] and str(tmp_path / "a" / "teacher") in said[0]
    out = subprocess.run(base + ["--run-dir", str(tmp_path / "b"), "--register-teacher"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and teachers.is_teacher(store / "Hopper" / "seed_0")
    before = teachers.file_hash(store / "Hopper" / "seed_0")
    out = subprocess.run(base + ["--run-dir", str(tmp_path / "c"), "--register-teacher", "--learning-rate", "1e-3"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0
    assert "already holds a different teacher" in out.stderr
    assert teachers.file_hash(store / "Hopper" / "seed_0") == before
    listed = subprocess.run([sys.executable, "-m", "mjx_mikt.teachers", "--store", str(store)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "Hopper" in listed.stdout and before in listed.stdout


def test_a_missing_teacher_is_announced_and_its_interrupted_training_resumed(tmp_path, monkeypatch, capsys):
    import os
    import signal

    from mjx_mikt.loop import RunHooks

    monkeypatch.chdir(tmp_path)  # default run folders go to ./runs
    argv = ["--target", "Hopper", "--source", "CentipedeFour", "--timesteps", str(2 * 64), "--teacher-timesteps",
            str(4 * 64), "--teacher-store", str(tmp_path / "store")] + TINY
    stops = []

    def stop_once(*args):  # Ctrl-C during the teacher's training, after its first evaluation
        if not stops:
            stops.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    config = cli.config_from_args(cli.build_parser().parse_args(argv))
    assert lifecycle.start(config, hooks=RunHooks(after_evaluation=stop_once)) == 130
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("no 1 teacher(s) for CentipedeFour")]
    assert len(said) == 1 and "training them first" in said[0] and "256 env steps" in said[0]
    assert "--teacher-store" in said[0] and "results/paper-2M/teachers" in said[0]  # the committed ones
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 1 and "-ppo-teacher-" in runs[0]  # no empty student folder left behind
    assert lifecycle.start(config) == 0
    err = capsys.readouterr().err
    assert "resuming their interrupted training in runs/" + runs[0] in err
    assert teachers.is_teacher(tmp_path / "store" / "CentipedeFour" / "seed_0")
    updates = [line.split(",")[0] for line in (tmp_path / "runs" / runs[0] / "metrics.csv").read_text().splitlines()[1:]]
    assert updates == ["1", "2", "3", "4"]  # resumed at update 2, not started again
    assert len(list((tmp_path / "runs").iterdir())) == 2  # the teacher's and the student's


def test_a_transfer_without_a_store_reads_the_committed_teachers_and_says_so(tmp_path, monkeypatch, capsys):
    """runs/teachers, the default store, is empty on a fresh clone: a transfer reads the committed teachers of
    its robot and preset (the paper preset's where its own has none), says so in one line with their returns,
    and trains none; the CLI does this only without --teacher-store, and a teacher budget nobody committed
    is trained (here: --no-train-teacher, exit 2)."""
    monkeypatch.chdir(tmp_path)
    argv = ["--target", "CentipedeSix", "--source", "CentipedeFour,Ant", "--teacher-seeds", "2", "--no-train-teacher",
            "--preset", "paper-wide", "--run-dir", "r"]
    config = RunFolder.create(cli.config_from_args(cli.build_parser().parse_args(argv)),
                              committed_teachers=True).config
    committed = REPO / "results"
    assert config.run.teacher_path == (f"{committed}/paper-wide-2M/teachers/CentipedeFour,"
                                       f"{committed}/paper-2M/teachers/Ant")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("teacher: ")]
    assert len(lines) == 2 and all("runs/teachers has no" in line and "2 committed ones" in line for line in lines)
    eval_return = json.loads((committed / "paper-2M/teachers/Ant/seed_1/teacher.json").read_text())["eval_return"]
    assert "(preset paper, 1,998,848 steps; seed 0: eval return" in lines[1]
    assert f"seed 1: eval return {eval_return:,.0f})" in lines[1]

    started = []
    monkeypatch.setattr(lifecycle, "start", lambda config, hooks=None, committed_teachers=False: started.append(
        committed_teachers) or 0)
    assert cli.main(argv) == 0 and cli.main(argv + ["--teacher-store", "runs/teachers"]) == 0
    assert started == [True, False]  # a store named is the store used: what it lacks is trained
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv + ["--teacher-timesteps", "300000"]) == 2  # no committed 300k teachers: trained, or exit 2
    assert "no teacher for CentipedeFour, Ant in runs/teachers and --no-train-teacher" in capsys.readouterr().err


def test_the_run_line_names_each_teacher_and_notes_a_weak_one():
    """The line that starts a transfer names every teacher (store, seed, return, steps); a teacher far below the
    committed ones of its robot gets one line."""
    from mjx_mikt.config import Config, RunConfig

    store = REPO / "results" / "paper-2M" / "teachers"
    records = [{"robot": "CentipedeFour", "index": k, "copied_from": str(store / "CentipedeFour" / f"seed_{k}"),
                "teacher_seed": k, "teacher_eval_return": value, "teacher_env_steps": steps}
               for k, value, steps in ((0, 2841.5, 1998848), (1, 19.4, 200_000))]
    text = teachers.described(records)
    assert text == (f" | teachers: CentipedeFour from {teachers.shown(store)}, seed 0 (eval return 2,842 after "
                    "1,998,848 steps), seed 1 (eval return 19 after 200,000 steps)")
    notes = teachers.weak_notes(Config(run=RunConfig(preset="paper")), records)
    assert len(notes) == 1 and notes[0].startswith("note: the CentipedeFour teacher(s) seed 1 (eval return 19 after "
                                                   "200,000 steps) are far below the committed CentipedeFour teachers")
    assert teachers.weak_notes(Config(run=RunConfig(preset="paper")), records[:1]) == []
    assert teachers.described([]) == ""


def test_no_import_cycle_in_the_packages():
    """No module of mjx_mikt/ or bench/ reaches back round to itself, counting the imports inside functions."""
    packages = ("mjx_mikt", "bench")
    modules = {}
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    assert {"bench.run", "bench.peers", "mjx_mikt.run"} <= set(modules)
    ours = lambda name: name.split(".")[0] in packages
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and ours(node.module):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if ours(a.name))
        graph[name] = {d for d in deps if d in modules and d != name}
    # a package imports its own submodules by design; a cycle is a submodule reaching back round
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in graph[node]:
            if dep.startswith(node + "."):
                continue  # __init__ re-exporting its submodules
            if state.get(dep) == "open":
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError(" -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node)
