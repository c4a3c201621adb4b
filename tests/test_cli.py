"""The CLI end to end: a tiny teacher run, a tiny MIKT run, resume, and bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mjx_mikt import run as cli
from mjx_mikt.commands import interpreter
from mjx_mikt.run_summary import tensorboard
from conftest import TINY  # the tiny optimisation; the teacher_run fixture is in conftest too

REPO = Path(__file__).resolve().parents[1]

def _tensorboard_images(log_dir: Path):
    """[(tag, step, encoded image bytes)] of every image summary in the event files of log_dir."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    found = []
    for path in sorted(log_dir.glob("events.*")):
        data, at = path.read_bytes(), 0
        while at < len(data):  # TFRecord: u64 length, u32 crc, payload, u32 crc
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            found += [(v.tag, event.step, v.image.encoded_image_string) for v in event.summary.value
                      if v.HasField("image")]
    return found


@pytest.mark.filterwarnings("ignore:os.fork")  # decoding starts ffmpeg (fork + exec at once)
def test_video_every_k_evaluations_goes_to_the_run_folder_and_tensorboard(teacher_run):
    """--video-every 1 with evaluations at updates 2 and 4: two clips, plus the final video, as MP4 and GIF."""
    import imageio.v3 as iio

    out, run_dir, _ = teacher_run
    assert out.returncode == 0, out.stderr[-3000:]
    clips = sorted(p.name.split("-")[0] for p in (run_dir / "videos").glob("update*.mp4"))
    assert clips == ["update00002", "update00004"], out.stderr[-2000:]
    frames = iio.imread(next((run_dir / "videos").glob("update00002-*.mp4")), plugin="FFMPEG", index=None)
    assert 1 <= frames.shape[0] <= 6  # at most --video-steps (the episode may end first)
    images = _tensorboard_images(run_dir / "tb" / "seed_0")
    assert sorted((tag, step) for tag, step, _ in images) == [
        ("video/final", 4 * 64), ("video/policy", 2 * 64), ("video/policy", 4 * 64)]
    assert all(gif.startswith(b"GIF89a") for _, _, gif in images)


def test_tiny_teacher_run_leaves_config_events_checkpoint_and_teacher(teacher_run):
    out, run_dir, store = teacher_run
    assert out.returncode == 0, out.stderr[-3000:]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run"]["target"] == "CentipedeFour" and config["run"]["backend"] == "mujoco"
    assert config["ppo"]["num_envs"] == 2
    assert config["provenance"]["command"].startswith(f"{interpreter()} -m mjx_mikt.run --method ppo")
    assert list((run_dir / "tb" / "seed_0").glob("events.*"))
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == ["0", "2", "4"]
    assert (store / "CentipedeFour" / "seed_0" / "teacher.msgpack").is_file()
    meta = json.loads((store / "CentipedeFour" / "seed_0" / "teacher.json").read_text())
    assert (meta["robot"], meta["observation_size"], meta["action_size"]) == ("CentipedeFour", 97, 10)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["updates"] == 4 and len(summary["eval_return_per_seed"]) == 1
    # where the sitting's time went: each phase timed, the final video's too, adding up to the total
    times = summary["sitting_time_s"]
    assert set(times) == {"training", "compiling", "evaluation", "checkpoints", "videos", "other", "total"}
    assert times["compiling"] > 0 and times["videos"] > 0 and times["checkpoints"] > 0, times
    assert abs(sum(v for k, v in times.items() if k != "total") - times["total"]) <= 0.5, times
    assert "time (last sitting): " in out.stdout and "compiling" in out.stdout
    assert "steps/s" in out.stderr and "ETA" in out.stderr  # the progress line
    assert f"view: {tensorboard()} --logdir" in out.stdout  # the README's, beside the interpreter that ran
    videos = list((run_dir / "videos").glob("seed0-episode0-return*.mp4"))  # the final policy, one episode
    assert len(videos) == 1 and videos[0].stat().st_size > 1000, out.stderr[-2000:]


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--target", "--source", "--method", "--preset", "--timesteps", "--num-envs", "--seed ",
                 "--seeds", "--backend", "--run-dir", "--resume", "--c-mi", "--mixing", "--learning-rate"):
        assert flag in text, flag
    assert "CentipedeEight" in text  # the robot list


def _bad(argv, tmp_path, capsys, expected):
    run_dir = tmp_path / "never"
    code = cli.main(argv + ["--run-dir", str(run_dir), "--teacher-store", str(tmp_path / "store")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not run_dir.exists()


@pytest.mark.parametrize("argv, expected", [
    (["--target", "CentipedeNine"], "unknown robot 'CentipedeNine'"),
    (["--target", "CentipedeSix", "--source", "Spider"], "known robots: "),
    (["--method", "ppo", "--target", "CentipedeFour", "--timesteps", "0"], "--timesteps must be positive"),
    (["--method", "ppo", "--target", "CentipedeFour", "--num-envs", "3", "--rollout-length", "10",
      "--num-minibatches", "4"], "cannot be split into 4 equal minibatches"),
    (["--method", "bogus"], "unknown method"),
    (["--preset", "fast"], "unknown preset 'fast'; choose one of: paper, paper-exact, paper-wide, wide-256x16, wide-1024x8"),
    (["--backend", "gpu"], "unknown backend 'gpu'; choose one of: auto, mjx, mujoco, mjx-warp"),
    (["--mixing", "sum"], "unknown mixing 'sum'; choose one of: code, paper"),
    (["--value-coupling", "step"], "unknown value coupling 'step'"),
    (["--target", "CentipedeSix", "--no-train-teacher"], "no teacher for CentipedeFour"),
    (["--target", "CentipedeSix", "--teacher", "/no/such/path"], "--teacher /no/such/path does not exist"),
])
def test_bad_input_exits_2_with_one_line(argv, expected, tmp_path, capsys):
    _bad(argv, tmp_path, capsys, expected)


def test_help_names_every_committed_teacher_robot():
    """`run --help` says which teachers are committed: every robot of results/paper-2M/teachers."""
    committed = cli.DESCRIPTION[cli.DESCRIPTION.index("Committed teachers"):]
    robots = sorted(p.name for p in (REPO / "results" / "paper-2M" / "teachers").iterdir())
    assert "Ant" in robots and all(robot in committed for robot in robots)
    assert "Committed teachers" in cli.build_parser().format_help()


def test_readme_names_the_install_step_and_says_what_the_demo_shows():
    """The set-up names the install-only step beside the main job and the tests; the demo's text says what its
    numbers show (shorter episodes), not that the student walks; the main job trains its own teacher."""
    text = (REPO / "README.md").read_text()
    setup = text[text.index("## Set-up"):text.index("## Your first ten minutes")]
    assert all(f"bash scripts/{name}.sh" in setup for name in ("setup-venv", "run", "test"))
    demo = text[text.index("## Your first ten minutes"):text.index("## Results so far")]
    assert "starting to walk" not in demo and "22 steps to 5-7" in demo and "episodes ending sooner" in demo
    assert "--teacher-store runs/teachers" in (REPO / "scripts" / "run.sh").read_text()


def test_resume_of_a_copied_run_folder_names_the_copy(tmp_path, monkeypatch):
    """A run folder copied elsewhere and resumed: its "resuming:" line names the copy, where it writes."""
    from mjx_mikt import checkpoint, lifecycle, run_folder
    from mjx_mikt.config import Config, RunConfig

    run_folder.write_config(tmp_path / "copy", Config(run=RunConfig(run_dir=str(tmp_path / "original"))))
    monkeypatch.setattr(checkpoint, "latest_step", lambda directory: 2)  # as if it had a checkpoint
    lines = []
    monkeypatch.setattr(lifecycle, "train_and_report", lambda folder, resume=False, hooks=None: lines.append(
        lifecycle.describe(folder.config, resume)) or {"status": "finished"})
    assert lifecycle.resume(tmp_path / "copy") == 0
    assert lines[0].startswith("resuming: ") and lines[0].endswith(f"| {tmp_path / 'copy'}")


def test_mjx_warp_without_warp_exits_2_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "warp", None)  # as if `pip install .[warp]` had not been run
    _bad(["--method", "ppo", "--target", "CentipedeFour", "--backend", "mjx-warp"], tmp_path, capsys,
         "backend mjx-warp needs warp-lang, which is not installed: pip install .[warp]")


def test_every_closed_choice_is_a_literal_in_help_and_presets_match():
    """The enums are Literal types: each one's choices show in --help, and the preset names are PRESETS'."""
    from mjx_mikt.config import PRESETS, MIKTConfig, RunConfig, choices_of

    assert choices_of(RunConfig, "preset") == tuple(PRESETS)
    assert choices_of(RunConfig, "total_timesteps") is None
    text = cli.build_parser().format_help()
    for flag, kind, name in [("--method", RunConfig, "method"), ("--preset", RunConfig, "preset"),
                             ("--backend", RunConfig, "backend"), ("--mixing", MIKTConfig, "mixing"),
                             ("--value-coupling", MIKTConfig, "value_coupling")]:
        assert f"{flag} {{{','.join(choices_of(kind, name))}}}" in text


def test_missing_resume_folder_exits_2(tmp_path, capsys):
    code = cli.main(["--resume", str(tmp_path / "nope")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_teacher_of_wrong_robot_exits_2(teacher_run, tmp_path, capsys):
    _, run_dir, _ = teacher_run
    _bad(["--target", "CentipedeEight", "--source", "CentipedeSix", "--teacher", str(run_dir / "teacher" / "seed_0")],
         tmp_path, capsys, "trained on CentipedeFour, not on the source robot CentipedeSix")


def test_corrupt_teacher_exits_2(teacher_run, tmp_path, capsys):
    _, run_dir, _ = teacher_run
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "teacher.json").write_text((run_dir / "teacher" / "seed_0" / "teacher.json").read_text())
    (broken / "teacher.msgpack").write_bytes((run_dir / "teacher" / "seed_0" / "teacher.msgpack").read_bytes()[:100])
    _bad(["--target", "CentipedeEight", "--source", "CentipedeFour", "--teacher", str(broken)],
         tmp_path, capsys, "corrupt")


def test_tiny_mikt_run_writes_mikt_metrics_and_resumes(teacher_run, tmp_path):
    """Four -> Six MIKT through the library API: stop after 2 updates, resume, compare."""
    from mjx_mikt import run_folder, teachers as teachers_lib
    from mjx_mikt.loop import run_training

    _, teacher_dir, _ = teacher_run
    argv = ["--target", "CentipedeSix", "--source", "CentipedeFour", "--teacher", str(teacher_dir / "teacher"),
            "--timesteps", str(4 * 64)] + TINY
    config = run_folder.RunFolder.create(cli.config_from_args(cli.build_parser().parse_args(
        argv + ["--run-dir", str(tmp_path / "a")]))).config
    teacher_set = teachers_lib.TeacherSet.from_store(config)
    # one trainer for the three runs: its compiled programs are reused (a compile costs ~40 s on a slow
    # CPU); a resume in a fresh process is tested by test_experiments and test_train
    trainer = run_folder.build_trainer(config, teacher_set.firsts)
    stacked = teacher_set.stacked(trainer.agent, config)

    def run(run_dir, **kw):
        return run_training(trainer, config, run_dir, "mikt", teachers=stacked, **kw)

    whole = run(tmp_path / "whole")
    run(tmp_path / "part", stop_after_updates=2)
    resumed = run(tmp_path / "part", resume=True)
    header = (tmp_path / "whole" / "metrics.csv").read_text().splitlines()[0].split(",")
    for name in ("mi_loss", "kl_loss", "coupling_coef", "p_s/policy_0", "p_s/value_0"):
        assert name in header, (name, header)
    import jax

    for a, b in zip(jax.tree.leaves(whole.final_state.params), jax.tree.leaves(resumed.final_state.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_diverged_run_exits_3_names_the_update_registers_nothing_and_resumes(tmp_path):
    run_dir, store = tmp_path / "nan", tmp_path / "store"
    argv = ["--method", "ppo", "--target", "Hopper", "--timesteps", str(6 * 64), "--learning-rate", "1e3",
            "--run-dir", str(run_dir), "--teacher-store", str(store), "--register-teacher"] + TINY
    out = subprocess.run([sys.executable, "-m", "mjx_mikt.run"] + argv, cwd=REPO, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 3, out.stderr[-2000:]
    error = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "diverged at update" in error[0] and "non-finite" in error[0]
    assert not (store / "Hopper").exists()  # no NaN teacher
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged"].startswith("diverged at update")
    bad_update = int(summary["diverged"].split("update ")[1].split(" ")[0])
    kept = sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())
    assert kept and max(kept) < bad_update  # only finite states were saved
    # the folder resumes from its last finite checkpoint (and diverges again, with the same message)
    again = subprocess.run([sys.executable, "-m", "mjx_mikt.run", "--resume", str(run_dir)], cwd=REPO,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 3 and f"update {bad_update}" in again.stderr


def test_resume_of_a_finished_run_changes_no_file(teacher_run):
    import hashlib

    _, run_dir, _ = teacher_run

    def hashes():
        return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.rglob("*") if p.is_file()}

    before = hashes()
    out = subprocess.run([sys.executable, "-m", "mjx_mikt.run", "--resume", str(run_dir)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "already finished" in out.stdout
    assert "final eval return" in out.stdout and "run folder:" in out.stdout  # the summary table, not raw floats
    assert hashes() == before


def test_default_run_folders_never_collide(tmp_path, monkeypatch):
    from mjx_mikt import run_folder
    from mjx_mikt.config import Config

    monkeypatch.chdir(tmp_path)
    folders = {run_folder.default_run_dir(Config()) for _ in range(20)}
    assert len(folders) == 20 and all(f.is_dir() for f in folders)


def test_a_run_without_rendering_finishes_and_says_why(tmp_path):
    import os

    argv = ["--method", "ppo", "--target", "Hopper", "--timesteps", str(2 * 64), "--run-dir", str(tmp_path / "r"),
            "--teacher-store", str(tmp_path / "store")] + [flag for flag in TINY if flag != "--no-video"]
    env = dict(os.environ, MUJOCO_GL="disable")
    out = subprocess.run([sys.executable, "-m", "mjx_mikt.run"] + argv, cwd=REPO, capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    warning = [line for line in out.stderr.splitlines() if "no video" in line]
    assert len(warning) == 1 and "cannot render" in warning[0]
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "finished"


def test_teacher_with_another_layer_count_exits_2(tmp_path, capsys):
    import jax

    from mjx_mikt import agents, checkpoint
    from mjx_mikt.config import MIKTConfig, PPOConfig

    deep = agents.PPOAgent(97, 10, PPOConfig(hidden_sizes=(64, 64, 64)))
    params = jax.tree.map(np.asarray, deep.init(jax.random.PRNGKey(0)))
    checkpoint.save_teacher(tmp_path / "deep", "CentipedeFour", 97, 10, params, np.zeros(97), np.ones(97), {})
    _bad(["--target", "Hopper", "--source", "CentipedeFour", "--teacher", str(tmp_path / "deep")],
         tmp_path, capsys, "does not fit the student")


def test_full_disk_is_one_line_and_exit_74(tmp_path, capsys, monkeypatch):
    import errno

    from mjx_mikt import run_folder

    def full(run_dir, config):
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "config.json"))

    monkeypatch.setattr(run_folder, "write_config", full)
    code = cli.main(["--method", "ppo", "--target", "Hopper", "--run-dir", str(tmp_path / "r"),
                     "--teacher-store", str(tmp_path / "s")] + TINY)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 74
    assert len([line for line in err if line.startswith("error:")]) == 1 and "No space left" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_default_run_folders_never_collide_across_processes(tmp_path):
    script = ("from mjx_mikt import run_folder; from mjx_mikt.config import Config\n"
              "print('\\n'.join(str(run_folder.default_run_dir(Config())) for _ in range(10)))")
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                              env=dict(__import__("os").environ, PYTHONPATH=str(REPO))) for _ in range(2)]
    folders = [line for p in procs for line in p.communicate(timeout=300)[0].split()]
    assert all(p.returncode == 0 for p in procs)
    assert len(folders) == 20 and len(set(folders)) == 20


def test_every_preset_has_its_line_in_help():
    from typing import get_args

    from mjx_mikt.config import PRESET_HELP, PRESETS, Preset, help_of, RunConfig

    assert set(PRESET_HELP) == set(PRESETS) == set(get_args(Preset))
    text = help_of(RunConfig, "preset")
    assert all(f"{name} = {line}" in text for name, line in PRESET_HELP.items())


def test_the_preset_help_quotes_the_committed_scale_report_s_mikt_over_ppo():
    """A preset's "MIKT/PPO ... Ax final ... Bx evaluation" in --help is results/scale-2M/report.json's
    ratio of that preset's cells, rounded to two decimals: the help cannot drift from the measurement."""
    import re

    from mjx_mikt.config import PRESET_HELP

    report = json.loads((Path(__file__).resolve().parents[1] / "results/scale-2M/report.json").read_text())
    quoted = {name: re.search(r"([\d.]+)x final,? (?:and )?([\d.]+)x evaluation", text)
              for name, text in PRESET_HELP.items()}
    quoted = {name: m.groups() for name, m in quoted.items() if m}
    assert set(quoted) == {"paper", "wide-256x16", "wide-1024x8"}
    for name, (final, evaluation) in quoted.items():
        ratio = report["presets"][name]["mikt_over_ppo"]
        assert (final, evaluation) == (f"{ratio['final']:.2f}", f"{ratio['eval']:.2f}"), name


def test_a_preset_sets_its_mixing_rate_and_a_flag_overrides_it():
    from mjx_mikt import run as cli

    def mikt(*argv):
        return cli.config_from_args(cli.build_parser().parse_args(list(argv))).mikt

    assert mikt().mix_lr_scale == 1.0 and mikt("--preset", "paper-wide").mix_lr_scale == 1.0
    assert mikt("--preset", "wide-256x16").mix_lr_scale == 6.0
    assert mikt("--preset", "wide-1024x8", "--mix-lr-scale", "1").mix_lr_scale == 1.0
    assert mikt("--preset", "wide-256x16", "--coefficients", "high").mix_lr_scale == 6.0


def test_a_wide_preset_transfer_gets_a_note_and_a_short_paper_one_the_warning():
    from mjx_mikt import run as cli
    from mjx_mikt.config import paper_comparison_warning

    def said(*argv):
        return paper_comparison_warning(cli.config_from_args(cli.build_parser().parse_args(list(argv))))

    assert said("--preset", "wide-256x16").startswith("note: preset wide-256x16 trains with 488 updates of 4,096")
    assert said("--preset", "paper-wide", "--timesteps", "2e5").startswith("warning: 97 updates")
    assert said("--preset", "paper") == said("--preset", "wide-256x16", "--method", "ppo") == ""


def test_counts_take_scientific_notation_and_help_has_no_empty_default():
    from mjx_mikt import run as cli

    parser = cli.build_parser()
    config = cli.config_from_args(parser.parse_args(["--timesteps", "2e6", "--num-envs", "64"]))
    assert config.run.total_timesteps == 2_000_000 and config.ppo.num_envs == 64
    assert "(default: )" not in parser.format_help()


def test_resume_with_another_timesteps_is_one_line_and_exit_2(teacher_run, capsys):
    _, run_dir, _ = teacher_run
    assert cli.main(["--resume", str(run_dir), "--timesteps", "1e3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--timesteps 1000 (the run's: 256)" in err[0] and "not supported" in err[0]
    assert cli.main(["--resume", str(run_dir), "--timesteps", "256"]) == 0  # the run's own value: fine
    out = capsys.readouterr().out
    assert "already finished" in out and "final eval return" in out


def test_source_equal_to_target_is_one_warning_line(tmp_path, capsys):
    from mjx_mikt.run_folder import RunFolder

    argv = ["--target", "CentipedeFour", "--source", "CentipedeFour", "--run-dir", str(tmp_path / "r"),
            "--teacher-store", str(tmp_path / "store")]
    RunFolder.create(cli.config_from_args(cli.build_parser().parse_args(argv)))
    warnings = [line for line in capsys.readouterr().err.splitlines() if "is also the --target" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: --source CentipedeFour")


def test_render_help_explains_size_and_frame_rate():
    from mjx_mikt import render

    text = " ".join(render._parser().format_help().split())
    for expected in ("--width WIDTH frame width in pixels", "--height HEIGHT frame height in pixels",
                     "--fps FPS frames per second"):
        assert expected in text, expected


def test_interrupt_hint_names_the_running_interpreter():
    import inspect

    from mjx_mikt import commands, loop

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "executable", "/opt/env x/bin/python")
        patch.chdir("/")
        assert commands.interpreter() == "'opt/env x/bin/python'"  # under the working directory: relative
        assert commands.resume_command(Path("runs/a b")) == "'opt/env x/bin/python' -m mjx_mikt.run --resume 'runs/a b'"
        patch.chdir(Path(__file__).parent)
        assert commands.interpreter() == "'/opt/env x/bin/python'"  # elsewhere: as it is
    assert "resume with: {resume_command(run_dir)}" in inspect.getsource(loop.run_training)


def test_a_run_on_a_full_disk_exits_74_in_one_line_naming_the_file_and_resumes_once_freed(tmp_path):
    """On a real 300 KB tmpfs (where this machine lets the tests mount one): exit 74, one error line naming
    a file, no library tracebacks; resumed after space was freed, the run finishes."""
    import os

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        argv = [sys.executable, "-m", "mjx_mikt.run", "--method", "ppo", "--target", "Hopper", "--timesteps",
                str(32 * 64), "--run-dir", str(disk / "r"), "--teacher-store", str(disk / "s")] + TINY
        out = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert out.returncode == 74, out.stderr[-3000:]
        lines = out.stderr.strip().splitlines()
        assert lines[-1].startswith(f"error: cannot write or read run files ({disk / 'r'}/")
        assert lines[-1].endswith("): No space left on device")
        assert "Traceback" not in out.stderr and len(lines) <= 3, out.stderr[-3000:]  # run line, progress, error
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = subprocess.run([sys.executable, "-m", "mjx_mikt.run", "--resume", str(disk / "r")], cwd=REPO,
                               capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        assert json.loads((disk / "r" / "summary.json").read_text())["status"] == "finished"
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
