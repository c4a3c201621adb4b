"""Videos (`python -m mjx_mikt.render`): frames, encoding, the no-OpenGL exit and the policy loaders."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import envs, render  # render sets MUJOCO_GL=egl (and re-selects mujoco's GL backend) first

REPO = Path(__file__).resolve().parents[1]
AVAILABLE, WHY_NOT = render.rendering_available()
needs_gl = pytest.mark.skipif(not AVAILABLE, reason=f"no offscreen OpenGL here: {WHY_NOT}")

# Random actions topple a centipede quickly (its health check ends the episode):
# with the numpy seed 1 and reset key 1 the episode lasts 30 steps, with seed 0 only 8.
LONG_SEED, SHORT_SEED, SHORT_LENGTH = 1, 0, 8
FOUR_ACTIONS = envs.make("CentipedeFour", backend="mujoco").action_size


@pytest.fixture(scope="module")
def four_frames():
    """20 uncaptioned frames of a random CentipedeFour episode (a caption would differ every frame)."""
    images, episode_return = render.frames("CentipedeFour", render.random_policy(FOUR_ACTIONS, LONG_SEED),
                                           steps=20, seed=LONG_SEED, width=160, height=120, caption=False)
    return images, episode_return


@needs_gl
def test_frames_show_the_robot_moving(four_frames):
    images, episode_return = four_frames
    assert len(images) == 20
    assert np.isfinite(episode_return)
    for image in images:
        assert image.shape == (120, 160, 3) and image.dtype == np.uint8
        assert image.std() > 20.0  # a scene (floor, robot), not a blank picture
    changes = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(images, images[1:])]
    assert min(changes) > 0.0, f"consecutive frames identical: mean |diff| {changes}"


@needs_gl
def test_frames_without_shadows_are_the_same_episode_drawn_plainer(four_frames):
    """shadows=False (a training run's videos) draws the same states without shadows or reflection."""
    images, episode_return = render.frames("CentipedeFour", render.random_policy(FOUR_ACTIONS, LONG_SEED),
                                           steps=20, seed=LONG_SEED, width=160, height=120, caption=False,
                                           shadows=False)
    assert len(images) == len(four_frames[0]) and episode_return == four_frames[1]
    assert images[0].shape == (120, 160, 3) and images[0].std() > 20.0
    assert np.abs(images[0].astype(int) - four_frames[0][0].astype(int)).mean() > 1.0  # the shadows are gone


@needs_gl
def test_frames_stop_when_the_episode_ends():
    images, _ = render.frames("CentipedeFour", render.random_policy(FOUR_ACTIONS, SHORT_SEED), steps=20,
                              seed=SHORT_SEED, width=64, height=48)
    assert len(images) == SHORT_LENGTH


@needs_gl
@pytest.mark.filterwarnings("ignore:os.fork")  # decoding starts ffmpeg (fork + exec at once)
@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_video_decodes_to_the_same_frame_count(four_frames, tmp_path, suffix):
    import imageio.v3 as iio

    path = render.write_video(four_frames[0], tmp_path / f"four{suffix}", fps=20)
    decoded = iio.imread(path, plugin="FFMPEG" if suffix == ".mp4" else None, index=None)
    assert decoded.shape[:3] == (20, 120, 160)


def test_no_opengl_is_reported_and_the_cli_exits_2(monkeypatch, capsys):
    def no_gl(*args, **kwargs):
        raise RuntimeError("no OpenGL context\nsecond line")

    monkeypatch.setattr(render.mujoco, "Renderer", no_gl)
    ok, reason = render.rendering_available()
    assert not ok and reason == "RuntimeError: no OpenGL context"
    assert render.main(["--random", "CentipedeFour", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot render (MUJOCO_GL=") and "no OpenGL context" in err
    assert len(err.splitlines()) == 1


def test_cli_without_a_gl_backend_exits_2():
    env = dict(os.environ, MUJOCO_GL="disable")
    proc = subprocess.run([sys.executable, "-m", "mjx_mikt.render", "--random", "CentipedeFour"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: cannot render (MUJOCO_GL=disable)")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_without_libegl_rendering_is_off_and_training_still_imports():
    """A bare GPU server has no libEGL: MUJOCO_GL=egl would make `import mujoco` itself fail, so the
    package picks 'disable' there; the run CLI imports and a video asked for says why."""
    code = ("import ctypes, os\n"
            "real = ctypes.CDLL\n"
            "def cdll(name, *args, **kwargs):\n"
            "    if 'EGL' in str(name):\n"
            "        raise OSError(f'{name}: cannot open shared object file')\n"
            "    return real(name, *args, **kwargs)\n"
            "ctypes.CDLL = cdll\n"
            "os.environ.pop('MUJOCO_GL', None)\n"
            "import mjx_mikt.run, mjx_mikt.render as render\n"
            "print(os.environ['MUJOCO_GL'], *render.rendering_available(), sep='|')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    backend, ok, reason = proc.stdout.strip().splitlines()[-1].split("|")
    assert (backend, ok) == ("disable", "False") and reason


def test_help_gives_each_default_once_and_none_that_is_none():
    """`render --help`: no "(default: None)", no default after a help text that gives its own."""
    text = " ".join(render._parser().format_help().split())
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: 1000)" in text and text.count("(default: RUN_DIR/videos/") == 1
    assert "module doc" not in text and "(default: RUN_DIR/videos/seed<I>-return<R>.mp4," in text


def test_cli_rejects_bad_sources(capsys):
    assert render.main([]) == 2
    assert render.main(["--random", "CentipedeNine"]) == 2
    assert "unknown robot 'CentipedeNine'" in capsys.readouterr().err


# ------------------------------------------------------------- policy loaders
def _ppo_params(observation_size, action_size, key):
    from mjx_mikt.agents import PPOAgent
    from mjx_mikt.config import PPOConfig

    agent = PPOAgent(observation_size, action_size, PPOConfig(hidden_sizes=(32, 16)))
    return agent, agent.init(jax.random.PRNGKey(key))


def _save_teacher(directory, robot="CentipedeFour"):
    """A random-weight PPO teacher of `robot` with a non-trivial normaliser; returns (agent, params, mean, var)."""
    from mjx_mikt import checkpoint

    env = envs.make(robot, backend="mujoco")
    agent, params = _ppo_params(env.observation_size, env.action_size, key=3)
    mean = np.linspace(-1, 1, env.observation_size).astype(np.float32)
    var = np.linspace(0.5, 2, env.observation_size).astype(np.float32)
    checkpoint.save_teacher(directory, robot, env.observation_size, env.action_size, params, mean, var, {"seed": 0})
    return agent, params, mean, var


@needs_gl
def test_teacher_policy_is_its_mean_action(tmp_path):
    agent, params, mean, var = _save_teacher(tmp_path / "teacher")
    robot, policy = render.teacher_policy(tmp_path / "teacher")
    assert robot == "CentipedeFour"
    obs = np.random.default_rng(0).normal(size=mean.shape).astype(np.float32) * 3
    expected = agent.apply(params, np.clip((obs - mean) / np.sqrt(var + 1e-8), -10, 10))[0]
    np.testing.assert_allclose(policy(obs), expected, rtol=1e-5, atol=1e-5)
    out = tmp_path / "teacher.gif"
    assert render.main(["--teacher", str(tmp_path / "teacher"), "--steps", "3", "-o", str(out),
                        "--width", "64", "--height", "48"]) == 0
    assert out.stat().st_size > 0


@needs_gl
def test_run_policy_restores_the_seed_and_drops_the_teacher_after_training(tmp_path, capsys):
    """A 2-seed MIKT run (Four -> Six) saved as if finished: seed 1's student, without its teacher."""
    from mjx_mikt import checkpoint, run_folder, teachers as teachers_lib
    from mjx_mikt.config import Config, MIKTConfig, PPOConfig, RunConfig
    from mjx_mikt.run_folder import seed_keys
    from mjx_mikt.normalization import normalize

    run_dir = tmp_path / "run"
    _save_teacher(teachers_lib.seed_folder(teachers_lib.run_copy_path(run_dir, "CentipedeFour"), 0))
    config = Config(
        run=RunConfig(target="CentipedeSix", source=("CentipedeFour",), method="mikt", num_seeds=2,
                      backend="mujoco", total_timesteps=4 * 16),
        ppo=PPOConfig(num_envs=2, rollout_length=8, num_minibatches=2, update_epochs=1, hidden_sizes=(32, 16)),
        mikt=MIKTConfig(encoder_hidden=(16,), mi_hidden=(16,)),
    )
    run_folder.write_config(run_dir, config)
    teacher_set = teachers_lib.TeacherSet.of_run(config, run_dir)
    trainer = run_folder.build_trainer(config, teacher_set.firsts)
    state = trainer.seed_batched_init()(seed_keys(config), teacher_set.stacked(trainer.agent, config))
    # a finished run: its last update is past the switch, so the final policy reads no teacher
    finished = jnp.full((2,), trainer.num_updates, jnp.int32)
    state = dataclasses.replace(state, update=finished)
    assert not trainer.use_teacher_at(trainer.num_updates)
    checkpoint.save_checkpoint(run_dir / "checkpoints", trainer.num_updates, state, {"update": trainer.num_updates})

    robot, policy, update = render.run_policy(run_dir, seed_index=1)
    assert (robot, update) == ("CentipedeSix", trainer.num_updates)
    seed1 = jax.tree.map(lambda x: x[1], state)
    obs = np.asarray(seed1.env_state.obs[0])
    expected = trainer.agent.apply(seed1.params, normalize(seed1.obs_stats, obs, config.ppo.obs_clip),
                                   use_teacher=False, teachers=seed1.teachers)[0]
    np.testing.assert_allclose(policy(obs), expected, rtol=1e-5, atol=1e-5)
    seed0 = jax.tree.map(lambda x: x[0], state)
    assert not np.allclose(policy(obs), trainer.agent.apply(
        seed0.params, normalize(seed0.obs_stats, obs, config.ppo.obs_clip), use_teacher=False,
        teachers=seed0.teachers)[0]), "seed index 1 must not give seed 0's policy"

    assert render.main([str(run_dir), "--seed", "1", "--steps", "3", "--width", "64", "--height", "48"]) == 0
    videos = list((run_dir / "videos").glob("seed1-return*.mp4"))
    assert len(videos) == 1, capsys.readouterr()
    assert render.main([str(run_dir), "--seed", "2"]) == 2


def test_clips_added_within_one_second_all_stay_in_tensorboard(tmp_path):
    """Each add_gif opens its own events file; tensorboardX names one by the second it opens, so two clips
    (and the run's own scalars) written within a second must not truncate one another."""
    from test_cli import _tensorboard_images

    from mjx_mikt.logger import SummaryWriter, add_gif

    scalars = SummaryWriter(str(tmp_path))
    scalars.add_scalar("eval/return", 1.0, 64)
    scalars.close()
    gif = render.gif_bytes([np.zeros((4, 4, 3), np.uint8)] * 2, fps=10)
    for tag, step in (("video/policy", 128), ("video/policy", 256), ("video/final", 256)):
        add_gif(tmp_path, tag, step, gif, 4, 4)
    assert sorted((tag, step) for tag, step, _ in _tensorboard_images(tmp_path)) == [
        ("video/final", 256), ("video/policy", 128), ("video/policy", 256)]
    assert len(list(tmp_path.glob("events.*"))) == 4  # the scalars' file was not truncated either
