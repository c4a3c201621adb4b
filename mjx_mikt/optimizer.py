"""The optimiser of a run and its learning-rate rule, in one place.

Two rules for Adam's learning rate (PPOConfig):

- annealed (`anneal_lr`, the paper's): constant within an update, decaying linearly to 0 over the
  run, as baselines' ppo2; a function of the optimiser's step count.
- KL-adaptive (`desired_kl > 0`, rsl_rl's rule for thousands of envs, Rudin et al. 2021): the rate
  is state (in the optimiser state, so it is checkpointed and vmapped per seed). Before each
  minibatch step it is divided by 1.5 when the minibatch's KL between the policy that collected
  the rollout and the current one exceeds 2 x desired_kl, multiplied by 1.5 below half of it, and
  clamped to [KL_RATE_MIN, KL_RATE_MAX]; that step then uses the new rate. The KL is the loss's
  `approx_kl`, 0.5 mean((log pi - log pi_old)^2) over the minibatch (rsl_rl takes the Gaussians'
  closed form; both agree to second order in the policy change). It replaces the annealing, except
  on the parameters an agent keeps on the fixed rule (`fixed_rate_mask`: MIKT's encoders and MI
  decoders under --encoder-fixed-rate), which get their own Adam with the annealed or constant rate
  (Adam is elementwise, so splitting it changes no other parameter's step).

An agent may add a stage after Adam (`agent.update_scaling(num_updates)`: MIKT's per-group rate
multipliers and its floor on p_s).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import optax

from mjx_mikt.config import PPOConfig

KL_RATE_MIN, KL_RATE_MAX = 1e-5, 1e-2  # rsl_rl's clamp of the adaptive rate
KL_RATE_FACTOR = 1.5  # rsl_rl's step of the adaptive rate
ADAPTED, FIXED = "kl_adapted", "fixed_rate"  # the two Adams' labels when a fixed_rate_mask splits them


def make_optimizer(ppo: PPOConfig, num_updates: int, scaling: Optional[optax.GradientTransformation] = None,
                   fixed_rate_mask: Optional[Callable[[Any], Any]] = None):
    """clip_by_global_norm -> Adam (annealed, constant or KL-adaptive rate) -> `scaling` (if any).

    `fixed_rate_mask` (params -> tree of bools; only with desired_kl > 0): the True leaves keep the
    fixed rule (annealed or constant) in an Adam of their own; the others follow the KL-adaptive rate."""
    fixed = optax.adam(annealed_schedule(ppo, num_updates) if ppo.anneal_lr else ppo.learning_rate, eps=ppo.adam_eps)
    if ppo.desired_kl > 0:
        adam = optax.inject_hyperparams(optax.adam)(learning_rate=ppo.learning_rate, eps=ppo.adam_eps)
        if fixed_rate_mask is not None:
            adam = optax.multi_transform({ADAPTED: adam, FIXED: fixed}, lambda params: jax.tree.map(
                lambda keep: FIXED if keep else ADAPTED, fixed_rate_mask(params)))
    else:
        adam = fixed
    return optax.chain(optax.clip_by_global_norm(ppo.max_grad_norm), adam, *([scaling] if scaling is not None else []))


def _adaptive_adam(adam_state: Any) -> Any:
    """The KL-adaptive Adam's state inside opt_state[1] (which is it unless a fixed_rate_mask split it)."""
    if isinstance(adam_state, optax.MultiTransformState):
        return adam_state.inner_states[ADAPTED].inner_state
    return adam_state


def _with_adaptive_adam(adam_state: Any, new: Any) -> Any:
    if isinstance(adam_state, optax.MultiTransformState):
        masked = adam_state.inner_states[ADAPTED]
        return adam_state._replace(inner_states={**adam_state.inner_states, ADAPTED: masked._replace(inner_state=new)})
    return new


def annealed_schedule(ppo: PPOConfig, num_updates: int):
    """Step count -> rate: constant within an update, decaying linearly to 0 over `num_updates` (ppo2)."""
    steps_per_update = ppo.update_epochs * ppo.num_minibatches
    return lambda count: ppo.learning_rate * (1.0 - (count // steps_per_update) / num_updates)


def learning_rate(ppo: PPOConfig, num_updates: int, opt_state: Any, update: jax.Array) -> jax.Array:
    """The rate Adam uses now: from the state (KL-adaptive) or the rule at update index `update`."""
    if ppo.desired_kl > 0:
        return _adaptive_adam(opt_state[1]).hyperparams["learning_rate"]
    if ppo.anneal_lr:
        return jnp.asarray(annealed_schedule(ppo, num_updates)(update * ppo.update_epochs * ppo.num_minibatches))
    return jnp.asarray(ppo.learning_rate)


def adapt_learning_rate(ppo: PPOConfig, opt_state: Any, kl: jax.Array) -> Any:
    """rsl_rl's rule applied to `opt_state` for a minibatch whose KL is `kl` (a no-op unless desired_kl > 0)."""
    if ppo.desired_kl <= 0:
        return opt_state
    adam_state = _adaptive_adam(opt_state[1])
    rate = adam_state.hyperparams["learning_rate"]
    rate = jnp.where(kl > 2.0 * ppo.desired_kl, jnp.maximum(KL_RATE_MIN, rate / KL_RATE_FACTOR),
                     jnp.where((kl < 0.5 * ppo.desired_kl) & (kl > 0.0),
                               jnp.minimum(KL_RATE_MAX, rate * KL_RATE_FACTOR), rate))
    adam_state = adam_state._replace(hyperparams={**adam_state.hyperparams, "learning_rate": rate})
    return (opt_state[0], _with_adaptive_adam(opt_state[1], adam_state)) + tuple(opt_state[2:])
