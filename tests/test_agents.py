"""MIKT and MLPP agents: gradient flow, ablations, the teacher switch-off, shapes, MLPP copying."""

import functools

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import agents
from mjx_mikt.agents import Minibatch, PPOAgent, TeacherSpec, make_agent
from mjx_mikt.config import METHODS, MIKTConfig, PPOConfig

PPO = PPOConfig()
MIKT = MIKTConfig()
# robot: (obs, action) from SPEC §1
ROBOTS = {"CentipedeFour": (97, 10), "CentipedeSix": (139, 16), "CentipedeEight": (181, 22),
          "CpCentipedeSix": (139, 12), "CpCentipedeEight": (181, 18), "Ant": (111, 8), "Hopper": (11, 3)}
PAPER_PAIRS = [("CentipedeFour", "CentipedeEight"), ("CentipedeSix", "CentipedeEight"),
               ("CentipedeFour", "CpCentipedeSix"), ("CentipedeSix", "CpCentipedeEight"),
               ("CentipedeFour", "Ant"), ("CentipedeSix", "Ant"), ("Hopper", "CentipedeEight")]


@functools.lru_cache(maxsize=None)
def teacher(robot, seed=0):
    obs, act = ROBOTS[robot]
    return TeacherSpec(jax.jit(PPOAgent(obs, act, PPO).init)(jax.random.PRNGKey(100 + seed)), obs, act, robot)


def mikt_agent(method="mikt", source=("CentipedeFour",), target="CentipedeEight", mikt=MIKT):
    obs, act = ROBOTS[target]
    return make_agent(method, obs, act, PPO, mikt, [teacher(r, i) for i, r in enumerate(source)])


def teachers_of(agent, source=("CentipedeFour",)):
    """The teacher_state of the teachers `mikt_agent(source=source)` was built with: what the trainer keeps
    in its state and hands to the agent (an agent holds no teacher weights of its own)."""
    return agent.teacher_state([teacher(r, i) for i, r in enumerate(source)])


def init(agent, seed=0, source=("CentipedeFour",)):
    # jitted: op-by-op Flax init/grad on CPU costs seconds per call
    return jax.jit(agent.init)(jax.random.PRNGKey(seed), teachers_of(agent, source))


def loss_grad(agent, batch, coupling=0.25, use_teacher=True):
    """jitted (params, teacher_params) -> gradients of the total loss w.r.t. both."""
    return jax.jit(jax.grad(lambda p, tp: agent.loss_with_teachers(
        p, tp, batch, coupling_coef=coupling, use_teacher=use_teacher)[0], argnums=(0, 1)))


def batch_for(agent, params, B=32, seed=0, source=("CentipedeFour",)):
    """A minibatch whose every loss term has a non-zero gradient (ratios near 1, not clipped)."""
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(seed), 4)
    obs = jax.random.normal(k1, (B, agent.observation_size))
    mean, log_std, value = jax.jit(lambda p, o, t: agent.apply(p, o, use_teacher=agent.uses_teacher, teachers=t))(
        params, obs, teachers_of(agent, source))
    actions = mean + jax.random.normal(k2, mean.shape)
    from mjx_mikt.losses import gaussian_log_prob
    old_log_prob = gaussian_log_prob(mean, log_std, actions) + 0.05 * jax.random.normal(k3, (B,))
    return Minibatch(obs, actions, old_log_prob, value + 0.1, jax.random.normal(k4, (B,)),
                     value + jax.random.normal(k4, (B,)))


def nonzero(tree):
    return all(float(jnp.abs(x).max()) > 0 for x in jax.tree.leaves(tree))


def allzero(tree):
    return all(float(jnp.abs(x).max()) == 0 for x in jax.tree.leaves(tree))


def term_grads(agent, params, batch, coupling=0.25, use_teacher=True):
    """{term: (grads w.r.t. params, grads w.r.t. teacher params)} for every loss term, in one jit."""
    def grads(p, tp):
        out = {}
        for term in ("ppo", "coupling", "kl", "mi"):
            f = lambda p, tp: agent.loss_terms(p, tp, batch, coupling_coef=coupling, use_teacher=use_teacher)[0][term]
            out[term] = jax.grad(f, argnums=(0, 1))(p, tp)
        return out
    return jax.jit(grads)(params, teachers_of(agent))


@pytest.fixture(scope="module")
def mikt():
    agent = mikt_agent()
    params = init(agent)
    return agent, params, batch_for(agent, params)


def test_teachers_get_zero_gradient_encoder_gets_ppo_and_mi_gradient(mikt):
    agent, params, batch = mikt
    g, g_teacher = loss_grad(agent, batch)(params, teachers_of(agent))
    assert allzero(g_teacher)
    assert nonzero(g["encoder"]) and nonzero(g["mi"]) and nonzero(g["policy"]) and nonzero(g["value"])
    by_term = term_grads(agent, params, batch)
    assert all(allzero(g_t) for _, g_t in by_term.values())
    g_ppo, g_mi, g_kl = by_term["ppo"][0], by_term["mi"][0], by_term["kl"][0]
    assert nonzero(g_ppo["encoder"]) and allzero(g_ppo["mi"])  # q_w is trained by L_MI only
    assert nonzero(g_mi["encoder"]) and nonzero(g_mi["mi"])
    assert allzero(g_mi["policy"]) and allzero(g_mi["value"])
    assert nonzero(g_kl["encoder"]["teacher_0"]["head"])


def test_teacher_weights_do_reach_the_outputs(mikt):
    # the zero teacher gradient above is the stop_gradient at work, not a disconnected teacher
    agent, params, batch = mikt
    f = jax.jit(lambda tp: jnp.sum(agent.forward(params, tp, batch.obs, True)[0]))
    perturbed = jax.tree.map(lambda x: x + 0.1, teachers_of(agent))
    assert abs(float(f(perturbed) - f(teachers_of(agent)))) > 1e-4


def test_no_rl_grad_ablation(mikt):
    _, params, batch = mikt  # same params structure as 'mikt'
    agent = mikt_agent("mikt-no-rl-grad")
    by_term = term_grads(agent, params, batch)
    for term in ("ppo", "kl", "coupling"):
        assert allzero(by_term[term][0]["encoder"]), term
    assert nonzero(by_term["ppo"][0]["policy"]["lateral_0_0"])  # the teacher path still shapes the student
    assert nonzero(by_term["mi"][0]["encoder"])


def test_no_mi_ablation(mikt):
    _, mikt_params, batch = mikt
    agent = mikt_agent("mikt-no-mi")
    params = init(agent)
    assert "mi" not in params
    jax.tree.map(np.testing.assert_array_equal, params["encoder"], mikt_params["encoder"])  # ablations share inits
    by_term = term_grads(agent, params, batch)
    assert allzero(by_term["mi"]) and nonzero(by_term["ppo"][0]["encoder"])
    # its total-loss gradient into φ is exactly MIKT's with c_mi = 0
    got = loss_grad(agent, batch)(params, teachers_of(agent))[0]
    ref = loss_grad(mikt_agent("mikt", mikt=MIKTConfig(c_mi=0.0)), batch)(mikt_params, teachers_of(agent))[0]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), got["encoder"], ref["encoder"])
    assert nonzero(got["encoder"])


def test_no_kl_ablation(mikt):
    _, params, batch = mikt
    agent = mikt_agent("mikt-no-kl")
    terms, metrics = jax.jit(lambda p: agent.loss_terms(p, teachers_of(agent), batch, coupling_coef=0.0,
                                                         use_teacher=True))(params)
    assert float(terms["kl"]) == 0.0 and float(metrics["kl_loss"]) > 0
    assert allzero(term_grads(agent, params, batch)["kl"])


def test_p_s_starts_near_0475_and_stays_in_unit_interval(mikt):
    agent, params, batch = mikt
    d = agent.diagnostics(params)
    keys = [f"p_s/{t}_{j}" for t in ("policy", "value") for j in (0, 1)]
    for k in keys:
        np.testing.assert_allclose(d[k], 0.4725, atol=1e-3)
        np.testing.assert_allclose(d[k] + d[k.replace("p_s", "p_t/CentipedeFour")], 1.0, rtol=1e-6)
    # the coupling term alone pushes p_s up, towards but never to 1
    def step(p, _):
        terms = lambda q: agent.loss_terms(q, teachers_of(agent), batch, coupling_coef=1.0, use_teacher=True)[0]
        g = jax.grad(lambda q: terms(q)["coupling"])(p)
        return jax.tree.map(lambda x, d: x - 4.0 * d, p, g), None
    p, _ = jax.jit(lambda p: jax.lax.scan(step, p, None, length=100))(params)
    d2 = agent.diagnostics(p)
    for k in keys:
        assert d[k] < d2[k] < 1.0 and d2[k] > 0.0


def test_value_coupling_scales_with_schedule(mikt):
    agent, params, batch = mikt
    terms = jax.jit(lambda c: agent.loss_terms(params, teachers_of(agent), batch, coupling_coef=c, use_teacher=True))
    t, m = terms(0.25)
    expected = 0.25 * m["coupling_loss"] + 0.25 * (MIKT.c_vps / MIKT.c_ps) * m["value_coupling_loss"]
    np.testing.assert_allclose(t["coupling"], expected, rtol=1e-6)
    assert float(terms(0.0)[0]["coupling"]) == 0.0


def _dot_shapes(jaxpr):
    """Operand shapes of every dot_general, sub-jaxprs (pjit, custom_jvp, ...) included."""
    out = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            out.append(tuple(tuple(v.aval.shape) for v in eqn.invars))
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            out.extend(_dot_shapes(sub))
    return out


def test_without_teacher_no_teacher_compute_left(mikt):
    agent, params, batch = mikt
    shifted = [TeacherSpec(jax.tree.map(lambda x: x + 0.5, teacher("CentipedeFour").params), 97, 10, "CentipedeFour")]
    other = make_agent("mikt", 181, 22, PPO, MIKT, shifted)
    for use_teacher, same in ((False, True), (True, False)):
        a = agent.apply(params, batch.obs, use_teacher=use_teacher, teachers=teachers_of(agent))
        b = other.apply(params, batch.obs, use_teacher=use_teacher, teachers=other.teacher_state(shifted))
        assert np.array_equal(a[0], b[0]) == same and np.array_equal(a[2], b[2]) == same
    apply_off = jax.make_jaxpr(lambda p, o: agent.apply(p, o, use_teacher=False))(params, batch.obs)
    apply_on = jax.make_jaxpr(lambda p, o, t: agent.apply(p, o, use_teacher=True, teachers=t))(
        params, batch.obs, teachers_of(agent))
    off, on = _dot_shapes(apply_off.jaxpr), _dot_shapes(apply_on.jaxpr)
    assert len(off) == 6  # 3 layers x (policy, value): the student alone
    assert len(on) > 6 and any(97 in s for shapes in on for s in shapes)
    assert not any(97 in s for shapes in off for s in shapes)  # nothing of the teacher's input size
    assert not any(getattr(c, "shape", None) == (97, 64) for c in apply_off.consts)
    grad_off = jax.make_jaxpr(jax.grad(lambda p: agent.loss(p, batch, coupling_coef=0.5, use_teacher=False)[0]))(
        params)
    assert not any(97 in s for shapes in _dot_shapes(grad_off.jaxpr) for s in shapes)


@pytest.mark.parametrize("source,target", PAPER_PAIRS)
def test_shapes_for_every_paper_pair(source, target):
    # traced only (jax.eval_shape): shape errors surface at trace time, and this keeps 7 pairs cheap
    agent = mikt_agent(source=(source,), target=target)
    teachers = teachers_of(agent, (source,))
    params = jax.eval_shape(agent.init, jax.random.PRNGKey(1), teachers)
    obs, act = ROBOTS[target]
    assert params["encoder"]["teacher_0"]["head"]["kernel"].shape == (64, ROBOTS[source][0])
    assert params["mi"]["teacher_0"]["head"]["kernel"].shape == (64, obs)
    x = jax.ShapeDtypeStruct((2, 5, obs), jnp.float32)
    for use_teacher in (True, False):
        mean, log_std, value = jax.eval_shape(
            lambda p, o: agent.apply(p, o, use_teacher=use_teacher, teachers=teachers), params, x)
        assert mean.shape == (2, 5, act) and log_std.shape == (act,) and value.shape == (2, 5)
    B = 8
    f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
    batch = Minibatch(f32(B, obs), f32(B, act), f32(B), f32(B), f32(B), f32(B))
    for use_teacher in (True, False):
        (loss, metrics), grads = jax.eval_shape(jax.value_and_grad(
            lambda p, b: agent.loss(p, b, coupling_coef=0.1, use_teacher=use_teacher, teachers=teachers),
            has_aux=True), params, batch)
        assert loss.shape == () and all(m.shape == () for m in metrics.values())
        assert jax.tree.map(lambda g: g.shape, grads) == jax.tree.map(lambda p: p.shape, params)


def test_two_teachers():
    source = ("CentipedeFour", "Hopper")
    agent = mikt_agent(source=source, target="CentipedeEight")
    teachers = teachers_of(agent, source)
    params = init(agent, source=source)
    assert params["policy"]["mix_0"].shape == (3,)
    assert params["encoder"]["teacher_1"]["head"]["kernel"].shape == (64, 11)
    assert params["policy"]["lateral_1_1"]["kernel"].shape == (64, 64)
    d = agent.diagnostics(params)
    np.testing.assert_allclose(d["p_s/value_1"] + d["p_t/CentipedeFour/value_1"] + d["p_t/Hopper/value_1"], 1.0,
                               rtol=1e-6)
    batch = batch_for(agent, params, source=source)
    g, g_teacher = loss_grad(agent, batch)(params, teachers)
    assert allzero(g_teacher) and nonzero(g["encoder"]) and nonzero(g["mi"])
    metrics_on = jax.eval_shape(lambda p: agent.loss(p, batch, coupling_coef=0.25, use_teacher=True,
                                                     teachers=teachers)[1], params)
    metrics_off = jax.eval_shape(lambda p: agent.loss(p, batch, coupling_coef=0.25, use_teacher=False)[1], params)
    assert set(metrics_on) == set(metrics_off)  # the trainer concatenates both phases' metrics
    assert set(agent.param_groups(g)) == {"student", "encoder", "mi"}


def test_paper_mixing_agent():
    agent = mikt_agent(mikt=MIKTConfig(mixing="paper"))
    params = init(agent)
    assert not any(k.startswith("lateral") for k in params["policy"])
    batch = batch_for(agent, params)
    assert nonzero(term_grads(agent, params, batch)["ppo"][0]["encoder"])


def test_make_agent_methods():
    for method in METHODS:
        agent = mikt_agent(method)
        assert agent.uses_teacher == method.startswith("mikt")
    with pytest.raises(ValueError):
        make_agent("mikt", 181, 22, PPO, MIKT, [])
    with pytest.raises(ValueError):
        make_agent("dqn", 181, 22, PPO, MIKT)


@pytest.mark.parametrize("source,target", [("CentipedeFour", "CentipedeEight"), ("CentipedeSix", "CentipedeSix"),
                                           ("Hopper", "CentipedeEight")])
def test_mlpp_copies_exactly_the_matching_layers(source, target):
    t = teacher(source)
    obs, act = ROBOTS[target]
    agent = make_agent("mlpp", obs, act, PPO, MIKT, [t])
    assert not agent.uses_teacher
    params = jax.jit(agent.init)(jax.random.PRNGKey(5), agent.teacher_state([t]))
    fresh = jax.jit(PPOAgent(obs, act, PPO).init)(jax.random.PRNGKey(5))
    copied = {("policy", "hidden_0", "bias"), ("policy", "hidden_1", "kernel"), ("policy", "hidden_1", "bias"),
              ("value", "hidden_0", "bias"), ("value", "hidden_1", "kernel"), ("value", "hidden_1", "bias"),
              ("value", "head", "kernel"), ("value", "head", "bias")}
    flat_t = {agents.mlpp._path_key(p): x for p, x in jax.tree_util.tree_flatten_with_path(t.params)[0]}
    flat_f = {agents.mlpp._path_key(p): x for p, x in jax.tree_util.tree_flatten_with_path(fresh)[0]}
    for path, x in jax.tree_util.tree_flatten_with_path(params)[0]:
        key = agents.mlpp._path_key(path)
        expected = flat_t[key] if key in copied else flat_f[key]
        assert np.array_equal(x, expected), key
        if key not in copied and flat_t[key].shape == x.shape and np.any(np.asarray(flat_t[key])):
            assert not np.array_equal(x, flat_t[key]), key  # same shape, still fresh (input layer, policy head)


def test_mix_lr_scale_multiplies_only_the_mixing_logits_step():
    """One clip+Adam step through the trainer's optimiser: with mix_lr_scale=k the mixing logits move k
    times as far as at 1 (the paper's, where the optimiser has no extra stage) and every other weight
    moves the same."""
    import dataclasses

    from mjx_mikt.agents.mikt import mixing_logits_mask
    from mjx_mikt.config import Config, RunConfig
    from mjx_mikt.train import Trainer

    paper = mikt_agent()
    assert paper.update_scaling(10) is None and PPOAgent(11, 3, PPO).update_scaling(10) is None
    params = init(paper)
    grads, _ = loss_grad(paper, batch_for(paper, params), coupling=0.5)(params, teachers_of(paper))
    steps = {}
    for k in (1.0, 4.0):
        agent = mikt_agent(mikt=dataclasses.replace(MIKT, mix_lr_scale=k))
        config = Config(run=RunConfig(total_timesteps=PPO.batch_size * 10), ppo=PPO, mikt=agent.mikt)
        optimizer = Trainer(config, env=None, agent=agent).optimizer
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        steps[k] = updates
    mask = mixing_logits_mask(params)
    assert sum(jax.tree.leaves(mask)) == 4  # mix_0, mix_1 of the policy and the value towers
    for m, a, b in zip(jax.tree.leaves(mask), jax.tree.leaves(steps[1.0]), jax.tree.leaves(steps[4.0])):
        assert float(jnp.abs(a).max()) > 0
        np.testing.assert_allclose(b, 4.0 * a if m else a, rtol=1e-6)


def test_encoder_lr_scale_multiplies_only_the_encoders_and_decoders_step():
    """As the mixing logits' multiplier, for φ and q_ω (the params under 'encoder' and 'mi'), and both
    multipliers together: each part of the params moves by its own factor."""
    import dataclasses

    from mjx_mikt.agents.mikt import encoder_mask, mixing_logits_mask
    from mjx_mikt.config import Config, RunConfig
    from mjx_mikt.train import Trainer

    paper = mikt_agent()
    params = init(paper)
    grads, _ = loss_grad(paper, batch_for(paper, params), coupling=0.5)(params, teachers_of(paper))
    steps = {}
    for mix, enc in ((1.0, 1.0), (1.0, 3.0), (2.0, 3.0)):
        agent = mikt_agent(mikt=dataclasses.replace(MIKT, mix_lr_scale=mix, encoder_lr_scale=enc))
        config = Config(run=RunConfig(total_timesteps=PPO.batch_size * 10), ppo=PPO, mikt=agent.mikt)
        optimizer = Trainer(config, env=None, agent=agent).optimizer
        steps[mix, enc], _ = optimizer.update(grads, optimizer.init(params), params)
    encoder, mixing = jax.tree.leaves(encoder_mask(params)), jax.tree.leaves(mixing_logits_mask(params))
    assert sum(encoder) == len(jax.tree.leaves(params["encoder"])) + len(jax.tree.leaves(params["mi"]))
    base = jax.tree.leaves(steps[1.0, 1.0])
    for (mix, enc), step in steps.items():
        for e, m, a, b in zip(encoder, mixing, base, jax.tree.leaves(step)):
            np.testing.assert_allclose(b, (enc if e else mix if m else 1.0) * a, rtol=1e-6)


def test_the_training_state_is_the_only_path_by_which_an_agent_sees_a_teacher(mikt):
    """Two agents built from different teacher weights of the same shapes compute the same, given the
    same `teachers=`: the specs they were built from give shapes and names only. Without `teachers=`
    a teacher read is one clear error, and a student after the drop needs none."""
    agent, params, batch = mikt
    shifted = [TeacherSpec(jax.tree.map(lambda x: x + 0.5, teacher("CentipedeFour").params), 97, 10, "CentipedeFour")]
    other = make_agent("mikt", 181, 22, PPO, MIKT, shifted)
    teachers = teachers_of(agent)
    a = agent.apply(params, batch.obs, use_teacher=True, teachers=teachers)
    b = other.apply(params, batch.obs, use_teacher=True, teachers=teachers)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    jax.tree.map(np.testing.assert_array_equal, jax.jit(agent.init)(jax.random.PRNGKey(3), teachers),
                 jax.jit(other.init)(jax.random.PRNGKey(3), teachers))
    with pytest.raises(ValueError, match="training state"):
        agent.apply(params, batch.obs, use_teacher=True)
    with pytest.raises(ValueError, match="training state"):
        agent.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="training state"):
        make_agent("mlpp", 181, 22, PPO, MIKT, shifted).init(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(agent.apply(params, batch.obs, use_teacher=False)[0],
                                  agent.apply(params, batch.obs, use_teacher=False, teachers=teachers)[0])


def test_ppo_takes_its_teacher_schedule_from_no_teachers_and_mlpp_only_its_state():
    """PPO writes only its own five methods; its schedule is NoTeachers' (no teacher phase, no coupling,
    plain clip+Adam, nothing per seed). MLPP keeps that schedule and reads a teacher only at init."""
    from mjx_mikt.agents import NoTeachers

    schedule = ("teacher_state", "teacher_until", "coupling", "update_scaling")
    assert not set(schedule) & set(vars(PPOAgent))
    ppo = PPOAgent(11, 3, PPO)
    assert ppo.teacher_state([teacher("Hopper")]) == () and ppo.teacher_until(100) == 0
    assert float(ppo.coupling(0.5)) == 0.0 and ppo.update_scaling(100) is None and not ppo.uses_teacher
    mlpp = make_agent("mlpp", 11, 3, PPO, MIKT, [teacher("Hopper")])
    assert isinstance(mlpp, NoTeachers) and mlpp.teacher_until(100) == 0 and not mlpp.uses_teacher
    jax.tree.map(np.testing.assert_array_equal, mlpp.teacher_state([teacher("Hopper")]), teacher("Hopper").params)
    mikt = mikt_agent()
    assert not isinstance(mikt, NoTeachers) and mikt.teacher_until(100) > 0 and mikt.uses_teacher
