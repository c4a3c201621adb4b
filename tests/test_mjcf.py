"""Any MJCF robot (envs/mjcf.py): with Ant's numbers the generic task is the Ant task exactly;
gymnasium's bundled models step, train and take a transfer; bad files are one-line errors (exit 2);
the teacher store is keyed by the file's content hash."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import centipede_models
from mjx_mikt import envs
from mjx_mikt import run as cli
from mjx_mikt.envs import registry
from conftest import TINY

pytestmark = pytest.mark.filterwarnings("ignore:compiler attribute 'settotalmass'")  # half_cheetah.xml's
ANT_NUMBERS = dict(ctrl_cost_weight=0.5, contact_cost_weight=5e-4, min_height=0.2, max_height=1.0)


def gymnasium_asset(name: str) -> Path:
    """A model bundled with the installed gymnasium (the test skips, one line, without it)."""
    gymnasium = pytest.importorskip("gymnasium", reason="gymnasium is not installed")
    path = Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / name
    if not path.is_file():
        pytest.skip(f"this gymnasium has no {name}")
    return path


@pytest.fixture(autouse=True)
def clean_registry():
    """register_mjcf is process-wide: every test leaves the registry as it found it."""
    before = dict(registry.MJCF_ROBOTS)
    yield
    registry.MJCF_ROBOTS.clear()
    registry.MJCF_ROBOTS.update(before)


# ------------------------------------------------------------------ Ant's numbers give the Ant task
def test_generic_task_with_ants_numbers_is_the_ant_task_over_random_episodes():
    """Observation, every reward term, reward, termination and resets equal bit for bit (native backend),
    over 4 envs x 150 random steps with 60-step episodes (auto-resets included)."""
    ant = envs.make("Ant", backend="mujoco", episode_length=60)
    identity = envs.register_mjcf("GenericAnt", centipede_models.load("Ant"), **ANT_NUMBERS)
    generic = envs.make("GenericAnt", backend="mujoco", episode_length=60)
    assert generic.name == identity and identity.startswith("GenericAnt-")
    assert (generic.observation_size, generic.action_size, generic.n_substeps) == (
        ant.observation_size, ant.action_size, ant.n_substeps)
    assert generic.reward_terms == ant.reward_terms

    def rollout(env):
        def body(state, key):
            action = jax.random.uniform(key, (4, env.action_size), minval=-1.0, maxval=1.0)
            state = jax.vmap(env.step)(state, action)
            return state, state

        keys = jax.random.split(jax.random.PRNGKey(3), 150)
        first = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(7), 4))
        return first, jax.lax.scan(body, first, keys)[1]

    (ant_first, ant_steps), (gen_first, gen_steps) = jax.jit(lambda: rollout(ant))(), jax.jit(
        lambda: rollout(generic))()
    for a, b in ((ant_first, gen_first), (ant_steps, gen_steps)):
        for name in ("obs", "reward", "done", "truncation", "final_obs"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert set(a.metrics) == set(b.metrics)
        for name in a.metrics:
            np.testing.assert_array_equal(a.metrics[name], b.metrics[name], err_msg=name)
        np.testing.assert_array_equal(a.physics.qpos, b.physics.qpos)
    assert float(ant_steps.done.sum()) >= 4  # episodes did end and restart
    # the root height the generic task reads (xpos) is Ant's (qpos[2]) in every state
    np.testing.assert_array_equal(gen_steps.physics.xpos[..., 1, 2], gen_steps.physics.qpos[..., 2])


def test_generic_termination_is_ants_at_every_height():
    ant = envs.make("Ant", backend="mujoco")
    envs.register_mjcf("GenericAnt", centipede_models.load("Ant"), **ANT_NUMBERS)
    generic = envs.make("GenericAnt", backend="mujoco")
    state = ant.reset(jax.random.PRNGKey(0)).physics
    for height in np.concatenate([np.linspace(0.0, 1.3, 27), [0.2, 1.0, np.nextafter(np.float32(0.2), 0)]]):
        h = jnp.float32(height)
        ps = state.replace(qpos=state.qpos.at[2].set(h), xpos=state.xpos.at[1, 2].set(h))
        assert bool(ant.task.unhealthy(ps)) == bool(generic.task.unhealthy(ps)), height


# ------------------------------------------------------------------ models nobody here wrote
@pytest.mark.parametrize("name, obs_size, action_size, terms", [
    ("half_cheetah.xml", 17, 6, ("ctrl_cost", "forward", "survive")),
    ("walker2d.xml", 17, 6, ("ctrl_cost", "forward", "survive")),
    ("swimmer.xml", 8, 2, ("ctrl_cost", "forward", "survive")),
])
def test_gymnasium_models_build_and_step(name, obs_size, action_size, terms):
    """Planar robots: qpos without the root's x (and the swimmer's y) + qvel: gymnasium's own sizes."""
    env = envs.make(str(gymnasium_asset(name)), backend="mujoco")
    assert env.name.startswith(Path(name).stem + "-")
    assert (env.observation_size, env.action_size, env.reward_terms) == (obs_size, action_size, terms)
    assert abs(env.n_substeps * env.physics.model.opt.timestep - 0.05) < 1e-9

    def body(state, key):
        state = jax.vmap(env.step)(state, jax.random.uniform(key, (2, env.action_size), minval=-1.0, maxval=1.0))
        return state, (state.obs, state.reward)

    start = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 2))
    _, (obs, rewards) = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.PRNGKey(1), 20)))(start)
    assert obs.shape == (20, 2, obs_size) and np.isfinite(obs).all() and np.isfinite(rewards).all()


def test_default_height_range_comes_from_the_initial_height():
    cheetah = envs.make(str(gymnasium_asset("half_cheetah.xml")), backend="mujoco").task
    assert (cheetah.min_height, cheetah.max_height) == pytest.approx((0.3 * 0.7, 2.0 * 0.7))
    swimmer = envs.make(str(gymnasium_asset("swimmer.xml")), backend="mujoco").task
    assert (swimmer.min_height, swimmer.max_height) == (-np.inf, np.inf)  # no vertical freedom: no limit
    envs.register_mjcf("Tall", gymnasium_asset("half_cheetah.xml"), min_height=0.5, max_height="none")
    tall = envs.make("Tall", backend="mujoco").task
    assert (tall.min_height, tall.max_height) == pytest.approx((0.5, 1.4))


def test_generated_centipede_names_are_robots():
    env = envs.make("CentipedeTen", backend="mujoco")
    assert (env.name, env.action_size) == ("CentipedeTen", 10 * 2 + 2 * 4)
    assert envs.robot_id("CpCentipede18") == "CpCentipede18"
    for bad in ("CentipedeNine", "Centipede9", "Centipede2"):
        with pytest.raises(envs.UnknownRobotError, match="unknown robot"):
            envs.robot_id(bad)


# ------------------------------------------------------------------ identity: the content hash
def test_identity_is_the_stem_and_the_hash_of_content_and_changed_options(tmp_path):
    text = gymnasium_asset("half_cheetah.xml").read_text()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "robot.xml").write_text(text)
    (tmp_path / "robot.xml").write_text(text)
    same = envs.robot_id(str(tmp_path / "a" / "robot.xml"))
    assert same == envs.robot_id(str(tmp_path / "robot.xml")) and same.startswith("robot-")
    assert envs.register_mjcf("x.xml", tmp_path / "robot.xml", forward_weight=1.0) == "x-" + same[-8:]  # a default
    assert envs.register_mjcf("x.xml", tmp_path / "robot.xml", forward_weight=2.0) != "x-" + same[-8:]
    (tmp_path / "robot.xml").write_text(text.replace('timestep="0.01"', 'timestep="0.005"'))
    assert envs.robot_id(str(tmp_path / "robot.xml")) != same


def test_a_toml_beside_the_file_sets_task_options_that_code_and_flags_override(tmp_path, capsys):
    from mjx_mikt.envs import mjcf

    robot = tmp_path / "cheetah.xml"
    robot.write_text(gymnasium_asset("half_cheetah.xml").read_text())
    plain = envs.robot_id(str(robot))
    (tmp_path / "cheetah.toml").write_text("min_height = 0.5\nforward_weight = 2\n")
    task = envs.make(str(robot), backend="mujoco").task
    assert (task.min_height, task.forward_weight) == (0.5, 2.0)
    # the file's options are part of the robot: another identity, the same one through every way in
    with_file = envs.robot_id(str(robot))
    assert with_file != plain and with_file == mjcf.file_identity(robot)
    assert with_file == mjcf.file_identity(robot, min_height="0.5")  # the same value given again
    envs.register_mjcf("Low", robot, min_height=0.1)
    assert envs.make("Low", backend="mujoco").task.min_height == 0.1
    envs.register_mjcf(str(robot), robot, **envs.parse_task_options("min_height=0.25"))  # as the CLI does
    task = envs.make(str(robot), backend="mujoco").task
    assert (task.min_height, task.forward_weight) == (0.25, 2.0)
    # a bad file: one line naming it
    (tmp_path / "cheetah.toml").write_text("min_height = 'low'\n")
    _exits_2(["--method", "ppo", "--target", str(robot)], tmp_path, capsys,
             f"task options file {tmp_path / 'cheetah.toml'}: task option min_height: expected a float")
    (tmp_path / "cheetah.toml").write_text("speed = 2\n")
    _exits_2(["--method", "ppo", "--target", str(robot)], tmp_path, capsys, "unknown task option 'speed'")
    (tmp_path / "cheetah.toml").write_text("min_height = \n")
    _exits_2(["--method", "ppo", "--target", str(robot)], tmp_path, capsys, f"task options file {tmp_path}")


# ------------------------------------------------------------------ errors: one line, exit 2
NO_ACTUATORS = """<mujoco><worldbody><body pos="0 0 1"><freejoint/><geom size="0.1"/></body></worldbody></mujoco>"""
NO_ROOT = """<mujoco><worldbody><body><joint name="j" type="hinge"/><geom size="0.1"/></body></worldbody>
<actuator><motor joint="j"/></actuator></mujoco>"""


def _exits_2(argv, tmp_path, capsys, expected):
    run_dir = tmp_path / "never"
    code = cli.main(argv + ["--run-dir", str(run_dir), "--teacher-store", str(tmp_path / "store")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and expected in err, err
    assert not run_dir.exists()


@pytest.mark.parametrize("text, expected", [
    ("<mujoco><worldbody><body></mujoco>", "does not parse as MJCF"),
    # MuJoCo's whole message, on the one line: the parser's error, its line number and element
    ("<mujoco>\n<worldbody>\n<body>\n</mujoco>", "does not parse as MJCF: XML parse error 14: "
                                                   "Error=XML_ERROR_MISMATCHED_ELEMENT ErrorID=14 (0xe) "
                                                   "Line number=3: XMLElement name=body"),
    ('<mujoco><worldbody>\n<body><geom size="a"/></body></worldbody></mujoco>',
     "XML Error: bad format in attribute 'size' | Element 'geom', line 2"),
    (NO_ACTUATORS, "has no actuators"),
    (NO_ROOT, "no free joint and no top-level slide joint along +x"),
])
def test_bad_mjcf_file_exits_2_with_one_line(text, expected, tmp_path, capsys):
    (tmp_path / "bad.xml").write_text(text)
    _exits_2(["--method", "ppo", "--target", str(tmp_path / "bad.xml")], tmp_path, capsys, expected)


@pytest.mark.parametrize("argv, expected", [
    (["--method", "ppo", "--target", "missing.xml"], "cannot read robot file missing.xml"),
    (["--method", "ppo", "--target", "CHEETAH", "--task-options", "speed=2"], "unknown task option 'speed'"),
    (["--method", "ppo", "--target", "CHEETAH", "--task-options", "min_height=low"], "min_height: expected a float"),
    (["--method", "ppo", "--target", "Hopper", "--task-options", "min_height=0.5"], "this run has none"),
    # a generated centipede is a robot: the run gets as far as looking for its teacher
    (["--target", "CentipedeTen", "--source", "CentipedeFour", "--no-train-teacher"], "no teacher for CentipedeFour"),
])
def test_bad_robot_input_exits_2_with_one_line(argv, expected, tmp_path, capsys):
    cheetah = str(gymnasium_asset("half_cheetah.xml"))
    _exits_2([cheetah if a == "CHEETAH" else a for a in argv], tmp_path, capsys, expected)


def _untrained_teacher(folder: Path, robot: str, observation_size: int, action_size: int) -> None:
    """A PPO teacher with initial weights: enough for the plumbing of a transfer."""
    from mjx_mikt import agents, checkpoint
    from mjx_mikt.config import PPOConfig

    agent = agents.PPOAgent(observation_size, action_size, PPOConfig())
    params = jax.tree.map(np.asarray, agent.init(jax.random.PRNGKey(0)))
    checkpoint.save_teacher(folder, robot, observation_size, action_size, params, np.zeros(observation_size),
                            np.ones(observation_size), {"seed": 0})


def test_teacher_of_a_changed_file_exits_2_naming_the_hash(tmp_path, capsys):
    robot = tmp_path / "cheetah.xml"
    robot.write_text(gymnasium_asset("half_cheetah.xml").read_text())
    old = envs.robot_id(str(robot))
    _untrained_teacher(tmp_path / "teacher", old, 17, 6)
    robot.write_text(robot.read_text().replace('timestep="0.01"', 'timestep="0.005"'))
    _exits_2(["--target", "Hopper", "--source", str(robot), "--teacher", str(tmp_path / "teacher")], tmp_path,
             capsys, f"trained on another version of {robot} (robot id {old}, now {envs.robot_id(str(robot))}")


def test_resume_with_a_changed_source_file_names_the_hash(tmp_path):
    from mjx_mikt import teachers
    from mjx_mikt.checkpoint import CheckpointError
    from mjx_mikt.config import Config, RunConfig

    robot = tmp_path / "cheetah.xml"
    robot.write_text(gymnasium_asset("half_cheetah.xml").read_text())
    config = Config(run=RunConfig(target="Hopper", source=(str(robot),)))
    old = envs.robot_id(str(robot))
    _untrained_teacher(teachers.seed_folder(teachers.run_copy_path(tmp_path / "run", str(robot)), 0), old, 17, 6)
    assert teachers.TeacherSet.of_run(config, tmp_path / "run").specs[0][0].robot == str(robot)
    robot.write_text(robot.read_text().replace('timestep="0.01"', 'timestep="0.005"'))
    with pytest.raises(CheckpointError, match=f"teachers were trained on another version of .*robot id {old}"):
        teachers.TeacherSet.of_run(config, tmp_path / "run")


# ------------------------------------------------------------------ train and transfer, end to end
def test_tiny_ppo_on_half_cheetah_then_mikt_from_centipede_four(tmp_path, capsys):
    """PPO registers its teacher under <stem>-<hash8>; MIKT CentipedeFour -> half_cheetah.xml runs."""
    cheetah = str(gymnasium_asset("half_cheetah.xml"))
    store = tmp_path / "store"
    code = cli.main(["--target", cheetah, "--method", "ppo", "--timesteps", "4096", "--num-envs", "4",
                     "--rollout-length", "64", "--no-video", "--run-dir", str(tmp_path / "ppo"),
                     "--teacher-store", str(store), "--register-teacher", "--eval-episodes", "2"])
    err = capsys.readouterr().err
    assert code == 0, err[-2000:]
    assert "[ppo half_cheetah.xml]" in err and f"[ppo {cheetah}]" not in err  # the progress line names the file
    summary = json.loads((tmp_path / "ppo" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["updates"] == 16
    identity = envs.robot_id(cheetah)
    meta = json.loads((store / identity / "seed_0" / "teacher.json").read_text())
    assert (meta["robot"], meta["observation_size"], meta["action_size"]) == (identity, 17, 6)

    _untrained_teacher(store / "CentipedeFour" / "seed_0", "CentipedeFour", 97, 10)
    code = cli.main(["--target", cheetah, "--source", "CentipedeFour", "--timesteps", str(4 * 64),
                     "--run-dir", str(tmp_path / "mikt"), "--teacher-store", str(store)] + TINY)
    assert code == 0, capsys.readouterr().err[-2000:]
    summary = json.loads((tmp_path / "mikt" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["source"] == ["CentipedeFour"]
    assert "mi_loss" in (tmp_path / "mikt" / "metrics.csv").read_text().splitlines()[0]


def test_render_takes_an_mjcf_file(tmp_path, capsys):
    from mjx_mikt import render

    available, why = render.rendering_available()
    if not available:
        pytest.skip(f"no offscreen OpenGL here: {why}")
    out = tmp_path / "cheetah.gif"
    assert render.main(["--random", str(gymnasium_asset("half_cheetah.xml")), "--steps", "3", "--width", "64",
                        "--height", "48", "-o", str(out)]) == 0, capsys.readouterr().err
    assert out.stat().st_size > 100
