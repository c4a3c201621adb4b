"""Environments on both backends: sizes, cfrc_ext, parity, resets, termination, NaN safety, errors."""

import jax
import mujoco
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import envs

# SPEC §1: observation and action sizes
SIZES = {"CentipedeFour": (97, 10), "CentipedeSix": (139, 16), "CentipedeEight": (181, 22),
         "CpCentipedeSix": (139, 12), "CpCentipedeEight": (181, 18), "Ant": (111, 8), "Hopper": (11, 3)}


def test_registry_lists_the_seven_robots():
    assert set(envs.names()) == set(SIZES)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_sizes_on_both_backends(name):
    for backend in ("mujoco", "mjx"):
        env = envs.make(name, backend=backend)
        assert (env.observation_size, env.action_size) == SIZES[name], backend
        state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))  # traces reset without compiling
        assert state.obs.shape == (SIZES[name][0],)


def _rollout(env, num_envs, steps, seed=0, state=None):
    keys = jax.random.split(jax.random.PRNGKey(seed), num_envs)
    state = jax.jit(jax.vmap(env.reset))(keys) if state is None else state

    @jax.jit
    def run(state, key):
        def body(s, k):
            action = jax.random.uniform(k, (num_envs, env.action_size), minval=-1, maxval=1)
            s = jax.vmap(env.step)(s, action)
            return s, (s.obs, s.reward, s.done, s.metrics["physics_failure"])

        return jax.lax.scan(body, state, jax.random.split(key, steps))

    return run(state, jax.random.PRNGKey(seed + 1))


@pytest.mark.parametrize("name", sorted(SIZES))
def test_200_random_steps_without_nan_native(native_envs, name):
    env = native_envs[name]
    state, (obs, reward, done, failure) = _rollout(env, 4, 200)
    assert np.isfinite(np.asarray(obs)).all() and np.isfinite(np.asarray(reward)).all()
    assert float(failure.sum()) == 0
    assert np.isfinite(np.asarray(state.physics.qpos)).all()


def test_cfrc_ext_nonzero_while_feet_touch_the_floor(native_envs):
    env = native_envs["CentipedeFour"]
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 4))
    assert float(np.abs(np.asarray(state.physics.cfrc_ext)).sum()) == 0.0  # it starts in the air
    step = jax.jit(jax.vmap(env.step))
    for _ in range(10):  # with zero torques it lands within ~6 steps
        state = step(state, jnp.zeros((4, env.action_size)))
    assert float(state.info["step_count"].min()) == 10.0  # no episode ended
    cfrc = np.asarray(state.physics.cfrc_ext)
    foot_z = np.asarray(state.physics.xpos)[:, :, 2]
    assert (np.abs(cfrc).sum(axis=(1, 2)) > 0).all()
    assert foot_z.min() < 0.2  # something is on the floor
    # the observation carries it (clipped to ±1) in its last 6 * nbody entries
    assert (np.abs(np.asarray(state.obs)[:, -66:]).sum(axis=1) > 0).all()


def test_every_reset_state_passes_the_termination_checks(native_envs):
    for name, env in native_envs.items():
        states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(7), 64))
        unhealthy = jax.vmap(env.task.unhealthy)(states.physics)
        assert not bool(unhealthy.any()), name


def test_torso_lifted_above_limit_terminates(native_envs):
    env = native_envs["CentipedeSix"]
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    physics = env.physics.init(state.physics.qpos.at[2].set(1.3), state.physics.qvel)
    assert bool(env.task.unhealthy(physics))
    lifted = state.replace(physics=physics)
    after = jax.jit(env.step)(lifted, jnp.zeros(env.action_size))
    assert float(after.done) == 1.0 and float(after.truncation) == 0.0
    assert float(after.info["step_count"]) == 0  # auto-reset
    assert not bool(env.task.unhealthy(after.physics))


def test_truncation_is_kept_apart_from_termination(native_envs):
    env = envs.make("Hopper", backend="mujoco", episode_length=3)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    for _ in range(3):
        state = step(state, jnp.zeros(3))
    assert float(state.done) == 1.0 and float(state.truncation) == 1.0
    assert float(state.metrics["episode_length"]) == 3.0
    assert float(state.metrics["episode_return"]) > 0
    assert not np.array_equal(np.asarray(state.final_obs), np.asarray(state.obs))


def test_reward_terms_sum_to_the_reward(native_envs):
    env = native_envs["CentipedeEight"]
    state, _ = _rollout(env, 2, 5)
    terms = sum(state.metrics[k] for k in env.reward_terms)
    np.testing.assert_allclose(np.asarray(terms), np.asarray(state.reward), rtol=1e-5, atol=1e-5)


def test_injected_blow_up_resets_that_env_only(native_envs):
    env = native_envs["CentipedeFour"]
    state, _ = _rollout(env, 3, 10)
    poisoned = state.replace(physics=state.physics.replace(qvel=state.physics.qvel.at[1, 0].set(jnp.nan)))
    after, (obs, reward, done, failure) = _rollout(env, 3, 1, state=poisoned)
    assert np.asarray(failure)[0].tolist() == [0.0, 1.0, 0.0]
    assert float(np.asarray(done)[0, 1]) == 1.0
    assert np.isfinite(np.asarray(after.obs)).all() and np.isfinite(np.asarray(reward)).all()
    assert np.isfinite(np.asarray(after.physics.qvel)).all()
    assert float(after.info["step_count"][1]) == 0.0


@pytest.mark.parametrize("poison", [jnp.nan, 1e20], ids=["nan", "finite-but-unstable"])
def test_a_blow_up_is_a_failure_whether_jax_or_mujoco_catches_it(native_envs, poison):
    """NaN is caught before MuJoCo; 1e20 is finite, so MuJoCo itself resets that simulation with a
    bad-qvel warning, which host_step turns into NaN velocities: both end the episode the same way."""
    env = native_envs["CentipedeFour"]
    state, _ = _rollout(env, 3, 10)
    poisoned = state.replace(physics=state.physics.replace(qvel=state.physics.qvel.at[2, 0].set(poison)))
    after, (_, reward, done, failure) = _rollout(env, 3, 1, state=poisoned)
    assert np.asarray(failure)[0].tolist() == [0.0, 0.0, 1.0] and float(np.asarray(done)[0, 2]) == 1.0
    assert np.isfinite(np.asarray(reward)).all() and np.isfinite(np.asarray(after.physics.qvel)).all()
    # the host side alone (the Gymnasium env's path) checks finiteness itself
    physics = env.physics
    rows = lambda a: np.repeat(np.asarray(a)[None], 2, axis=0)
    ps = jax.tree.map(lambda x: np.asarray(x[0]), state.physics)
    qvel = rows(ps.qvel)
    qvel[1, 0] = poison
    out = physics.host_step(rows(ps.qpos), qvel, rows(ps.qacc_warmstart), np.zeros((2, physics.model.nu), np.float32),
                            None, stepping=True)
    assert np.isfinite(out[1][0]).all() and np.isnan(out[1][1]).all()


def test_auto_reset_runs_only_on_steps_that_ended_an_episode(monkeypatch):
    """Mapped over named axes, as the trainer maps its envs and seeds, the auto-reset (and its MuJoCo
    call) runs only on a step where some episode ended; under an unnamed vmap it runs on every step.
    The states are the same bit for bit."""
    env = envs.make("CentipedeFour", backend="mujoco", episode_length=5)
    resets = []
    host_step = env.physics.host_step

    def counting(*args, stepping, **kwargs):
        resets.append(stepping)
        return host_step(*args, stepping=stepping, **kwargs)

    monkeypatch.setattr(env.physics, "host_step", counting)

    def rollout(mapped):
        def run(keys):
            state = jax.vmap(env.reset)(keys)
            step = lambda s, _: (lambda s: (s, s.done))(mapped(env.step)(s, jnp.zeros((3, env.action_size))))
            return jax.lax.scan(step, state, None, length=12)

        resets.clear()
        keys = jnp.stack([jax.random.split(jax.random.PRNGKey(s), 3) for s in range(2)])
        state, done = jax.jit(envs.base.batched(run, envs.base.SEED_AXIS))(keys)
        return state, np.asarray(done), resets.count(False)

    named, done, named_resets = rollout(envs.base.batched)
    unnamed, _, unnamed_resets = rollout(jax.vmap)
    steps_with_an_end = int(done.any(axis=(0, 2)).sum())
    assert steps_with_an_end == 2  # the time limit at steps 5 and 10
    assert (named_resets, unnamed_resets) == (1 + steps_with_an_end, 1 + 12)  # 1: the first reset
    for a, b in zip(jax.tree.leaves(named), jax.tree.leaves(unnamed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_unknown_robot_lists_the_known_ones():
    with pytest.raises(envs.UnknownRobotError, match="known robots: CentipedeFour, CentipedeSix"):
        envs.make("Centipede99")


def test_action_of_wrong_shape_fails_at_trace_time(native_envs):
    env = native_envs["CentipedeFour"]
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"action has shape \(7,\), expected \(10,\)"):
        jax.jit(env.step)(state, jnp.zeros(7))


# -------------------------------------------------------------- MJX backend
def _airborne_state(env, seed=0):
    """A state that stays off the floor for 20 control steps (thrown upward).

    MJX 3.17 and MuJoCo 4.0 resolve contacts differently (with the centipedes'
    geom margin of 0.01 their contact accelerations already differ; see the
    README), so parity of the two engines is checked where no contact occurs;
    joint limits, actuation, RK4 and the task functions are all exercised.
    """
    state = jax.jit(env.reset)(jax.random.PRNGKey(seed))
    qpos = state.physics.qpos.at[2].set(1.5)
    qvel = state.physics.qvel.at[2].set(5.0)
    return qpos, qvel


def test_parity_mjx_vs_native_over_20_steps(native_envs, mjx_four):
    from conftest import physics_rollout

    mjx_env, mjx_rollout = mjx_four
    native = native_envs["CentipedeFour"]
    qpos, qvel = _airborne_state(native)
    actions = jax.random.uniform(jax.random.PRNGKey(3), (20, native.action_size), minval=-1, maxval=1)
    final_n, obs_n, rew_n = jax.jit(physics_rollout(native))(native.physics.init(qpos, qvel), actions)
    final_m, obs_m, rew_m = mjx_rollout(jax.jit(mjx_env.physics.init)(qpos, qvel), actions)
    assert float(final_n.xpos[1:, 2].min()) > 0.5  # really airborne throughout
    # float32 in JAX vs float64 inside native MuJoCo over 20 x 5 RK4 substeps:
    # errors of ~1e-5 relative to velocities of O(1-10); 1e-3 absolute is tight
    # enough to catch any convention mismatch (a one-substep shift is ~1e-1).
    np.testing.assert_allclose(np.asarray(obs_m), np.asarray(obs_n), atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(rew_m), np.asarray(rew_n), atol=1e-3, rtol=1e-3)


def test_mjx_matches_native_under_contact(mjx_four):
    """With native MuJoCo's contact frame (envs/mjx_contact.py) MJX's accelerations match native ones
    on states with feet on the floor, sliding (where the friction pyramid's orientation matters)."""
    from mujoco import mjx

    from mjx_mikt.envs.parity import native_contact_states, worst_qacc_error

    mjx_env, _ = mjx_four  # building MjxPhysics installed the collider
    model = mjx_env.physics.model
    states = native_contact_states(model)
    assert len(states) >= 10

    @jax.jit
    def qacc(qpos, qvel, ctrl, warmstart):
        d = mjx.make_data(mjx_env.physics.mjx_model).replace(qpos=qpos, qvel=qvel, ctrl=ctrl,
                                                              qacc_warmstart=warmstart)
        return mjx.forward(mjx_env.physics.mjx_model, d).qacc

    worst = worst_qacc_error(model, states, qacc)
    # float32 MJX vs float64 native; MJX's own frame rule gave |dqacc| up to 6.5 on such states
    assert worst < 2e-2, worst


def test_c_frame_collider_keeps_the_projected_capsule_axis():
    from mjx_mikt.envs.mjx_contact import plane_capsule_c_frame

    class Geom:
        def __init__(self, mat, pos, size):
            self.mat, self.pos, self.size = jnp.asarray(mat), jnp.asarray(pos), jnp.asarray(size)

    angle = np.deg2rad(75.0)  # steeper than 60 degrees: MJX 3.17 would use the world y axis
    axis = np.array([np.cos(angle), 0.0, np.sin(angle)])
    mat = np.stack([np.cross([0.0, 1.0, 0.0], axis), [0.0, 1.0, 0.0], axis], axis=1)
    plane = Geom(np.eye(3), np.zeros(3), np.zeros(3))
    dist, pos, frame = plane_capsule_c_frame(plane, Geom(mat, [0.0, 0.0, 0.2], [0.08, 0.16, 0.0]))
    np.testing.assert_allclose(np.asarray(frame[0, 1]), [1.0, 0.0, 0.0], atol=1e-6)  # along the axis's shadow
    assert dist.shape == (2,)


@pytest.mark.slow  # its env-rollout compile took 265 s of the 2026-12-07 suite; the reset logic it checks is the
# backends' shared env code, which test_injected_blow_up_resets_that_env_only runs on native MuJoCo
def test_mjx_env_steps_without_nan_and_blow_up_resets(mjx_four):
    """One compiled 20-step rollout (an MJX compile costs minutes on a slow CPU): env 0 starts with a
    NaN velocity and must be reset by its first step; env 1 is healthy throughout, and so is env 0
    after its reset."""
    mjx_env, _ = mjx_four
    state = jax.jit(jax.vmap(mjx_env.reset))(jax.random.split(jax.random.PRNGKey(0), 2))
    poisoned = state.replace(physics=state.physics.replace(qvel=state.physics.qvel.at[0, 0].set(jnp.nan)))
    after, (obs, reward, done, failure) = _rollout(mjx_env, 2, 20, state=poisoned)
    failure = np.asarray(failure)
    assert failure[0].tolist() == [1.0, 0.0]
    assert float(failure[1:].sum()) == 0
    assert np.isfinite(np.asarray(obs)).all() and np.isfinite(np.asarray(reward)).all()
    assert np.isfinite(np.asarray(after.physics.qvel)).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SIZES))
def test_200_random_steps_without_nan_mjx(name):
    env = envs.make(name, backend="mjx")
    _, (obs, reward, _, failure) = _rollout(env, 2, 200)
    assert np.isfinite(np.asarray(obs)).all() and float(failure.sum()) == 0


def test_mjx_rk4_orientation_map_inverts_the_exponential_maps_derivative():
    """mjx_rk4.dexp_inv (MuJoCo 4.0's RK4 orientation correction) is the inverse of dexp_u, on both
    sides of its small-angle switch: dexp_u(w) = w - (1 - cos t)/t^2 u x w + (t - sin t)/t^3 u x (u x w)."""
    from mjx_mikt.envs.mjx_rk4 import dexp_inv

    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3))
    directions = rng.normal(size=(6, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    u = directions * np.array([1e-4, 0.05, 0.0999, 0.1001, 0.8, 2.5])[:, None]
    t = np.linalg.norm(u, axis=1, keepdims=True)
    c1 = np.cross(u, w)
    dexp = w - (1 - np.cos(t)) / t**2 * c1 + (t - np.sin(t)) / t**3 * np.cross(u, c1)
    back = np.asarray(dexp_inv(np.asarray(u, np.float32), np.asarray(dexp, np.float32)), np.float64)
    np.testing.assert_allclose(back, w, rtol=0, atol=2e-5)  # float32
    assert np.abs(back - dexp).max() > 1e-2  # the map is not the identity at these angles


TUMBLING_BOX = """<mujoco><option integrator="RK4" timestep="0.02" gravity="0 0 0"/><worldbody>
  <body><freejoint/><geom type="box" size="0.1 0.2 0.4"/></body></worldbody></mujoco>"""


def test_rk4_on_a_cpu_loops_over_its_stages_and_steps_as_native_mujoco():
    """On a CPU the three RK4 stages are one loop body (mjx_rk4.stage_unroll: it compiles and runs faster
    there) where accelerators get them inlined; and 10 steps of a free body tumbling about all three axes
    match native MuJoCo 4.0's RK4 (mjx.rungekutta4's own scheme is 8e-5 off in qpos here)."""
    from mjx_mikt.envs.mjx_rk4 import angular_dofs, rungekutta4, stage_unroll
    from mjx_mikt.envs.physics import import_mjx

    mjx = import_mjx()
    model = mujoco.MjModel.from_xml_string(TUMBLING_BOX)
    mjx_model, ang = mjx.put_model(model), angular_dofs(model)
    qvel = np.array([0.1, -0.2, 0.3, 4.0, 1.0, -2.0])
    start = mjx.make_data(mjx_model).replace(qvel=jnp.asarray(qvel, jnp.float32))

    def ten_steps(unroll):
        step = lambda _, d: rungekutta4(mjx_model, mjx.forward(mjx_model, d), ang, unroll)
        return jax.jit(lambda d: jax.lax.fori_loop(0, 10, step, d)).lower(start)

    on_cpu, elsewhere = ten_steps(stage_unroll("cpu")), ten_steps(stage_unroll("gpu"))
    # the steps' loop in both; the stages' loop on a CPU only
    assert on_cpu.as_text().count("stablehlo.while") == 2 and elsewhere.as_text().count("stablehlo.while") == 1
    final = on_cpu.compile()(start)
    native = mujoco.MjData(model)
    native.qvel[:] = qvel
    mujoco.mj_step(model, native, 10)
    np.testing.assert_allclose(np.asarray(final.qpos), native.qpos, atol=1e-6)  # float32 against float64
    np.testing.assert_allclose(np.asarray(final.qvel), native.qvel, atol=2e-6)


def test_importing_mjx_prints_no_warp_failure():
    """MJX's first import prints "Failed to import warp" without warp-lang; the JAX backend needs no
    Warp, so the project imports it quietly (physics.import_mjx)."""
    import subprocess
    import sys

    code = "from mjx_mikt.envs.physics import import_mjx; print(import_mjx().__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "mujoco.mjx"
    assert "Failed to import" not in out.stdout + out.stderr
