"""--teacher-fade: a floor on p_s that rises to ~1 before the teacher is dropped (mjx_mikt/agents/mikt.py)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt.agents.mikt import P_S_FLOOR_MAX, mixing_logits_mask, raise_student_share, share_floor
from mjx_mikt.config import Config, ConfigError, MIKTConfig, RunConfig, validate
from test_agents import MIKT, PPO, batch_for, init, loss_grad, mikt_agent, teachers_of


@pytest.mark.parametrize("logits", [[0.3, 1.2], [-2.0, 0.5, 1.5, -0.3], [4.0, -1.0]])
@pytest.mark.parametrize("floor", [0.0, 0.3, 0.9, P_S_FLOOR_MAX])
def test_raise_student_share_meets_the_floor_by_lowering_the_teachers_alike(logits, floor):
    logits = jnp.asarray(logits, jnp.float32)
    before = float(jax.nn.softmax(logits)[0])
    raised = raise_student_share(logits, floor)
    after = jax.nn.softmax(raised)
    assert float(raised[0]) == float(logits[0])  # the student's logit is never moved
    # the teachers' logits all move by the same shift, so their shares keep their ratios
    np.testing.assert_allclose(np.diff(np.asarray(raised[1:])), np.diff(np.asarray(logits[1:])), atol=1e-5)
    if before >= floor:
        np.testing.assert_array_equal(raised, logits)
    else:  # the least shift: p_s lands on the floor, not above it
        np.testing.assert_allclose(float(after[0]), floor, rtol=1e-5)


def test_share_floor_is_zero_before_the_fade_and_at_its_top_on_the_last_update_with_the_teacher():
    mikt = dataclasses.replace(MIKT, coupling_start=0.5, coupling_end=0.9, teacher_fade=0.2)
    agent = mikt_agent(mikt=mikt)
    n = 100
    last_with_teacher = agent.teacher_until(n) - 1  # 89: updates 0..89 read the teacher
    floors = np.array([float(share_floor(u, n, mikt)) for u in range(n)])
    assert np.all(floors[:70] == 0.0)  # fraction done after update u is (u + 1) / n; the fade starts at 0.7
    assert np.all(np.diff(floors) >= 0)
    np.testing.assert_allclose(floors[79], 0.5 * P_S_FLOOR_MAX, rtol=1e-5)
    assert floors[last_with_teacher] == pytest.approx(P_S_FLOOR_MAX) and floors[last_with_teacher - 1] < 0.96


def test_the_trainers_optimizer_projects_the_mixing_logits_and_only_them():
    """A clip+Adam step through the Trainer's optimiser with --teacher-fade: on update 0 it is the paper's
    step exactly; on the last update with the teacher every layer's p_s ends at the floor's top and the
    other weights move as without the fade."""
    from mjx_mikt.train import Trainer

    paper = mikt_agent()
    params = init(paper)
    grads, _ = loss_grad(paper, batch_for(paper, params), coupling=0.5)(params, teachers_of(paper))
    config = lambda agent: Config(run=RunConfig(total_timesteps=PPO.batch_size * 10), ppo=PPO, mikt=agent.mikt)
    plain = Trainer(config(paper), env=None, agent=paper).optimizer
    faded = mikt_agent(mikt=dataclasses.replace(MIKT, teacher_fade=0.3))
    trainer = Trainer(config(faded), env=None, agent=faded)
    assert trainer.num_updates == 10 and trainer.switch_update == 9
    reference, _ = plain.update(grads, plain.init(params), params)

    state = trainer.optimizer.init(params)
    first, _ = trainer.optimizer.update(grads, state, params)
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(first)):
        np.testing.assert_array_equal(a, b)

    steps_per_update = PPO.update_epochs * PPO.num_minibatches
    late = state[:-1] + (state[-1]._replace(count=jnp.asarray(8 * steps_per_update, jnp.int32)),)  # update 8
    last, _ = trainer.optimizer.update(grads, late, params)
    moved = jax.tree.map(lambda p, u: p + u, params, last)
    mask = jax.tree.leaves(mixing_logits_mask(params))
    assert sum(mask) == 4
    for is_logits, new, a, b in zip(mask, jax.tree.leaves(moved), jax.tree.leaves(reference), jax.tree.leaves(last)):
        if is_logits:
            assert float(jax.nn.softmax(new)[0]) >= P_S_FLOOR_MAX - 1e-6
        else:
            np.testing.assert_array_equal(a, b)


def test_teacher_fade_is_checked_against_coupling_end():
    with pytest.raises(ConfigError, match="teacher-fade"):
        validate(Config(mikt=MIKTConfig(coupling_end=0.5, teacher_fade=0.6)))
    validate(Config(run=RunConfig(method="mikt"), mikt=MIKTConfig(coupling_end=0.9, teacher_fade=0.2)))
