"""The MIKT agent (SPEC §4): frozen teachers, encoders φ, lateral mixing, q_ω, and its loss.

Params (k teachers, H = ppo.hidden_sizes, 2 hidden layers shown):

    {'policy':  {'hidden_j': {'kernel', 'bias'}, 'head': {'kernel', 'bias'},     # as PPO's
                 'mix_j': (1 + k,),                          # logits; softmax -> [p_s, p_t1..p_tk]
                 'lateral_j_t': {'kernel': (H^t_j, H_j)}},   # U_j per teacher (mixing='code' only)
     'value':   {... the same, head (H_last, 1) ...},
     'log_std': (A,),
     'encoder': {'teacher_t': Encoder params},       # φ_t: obs -> teacher t's obs size
     'mi':      {'teacher_t': GaussianDecoder params}}  # q_ω for φ_t; absent in 'mikt-no-mi'

The student's 'policy'/'value'/'log_std' have PPO's names, so after training
the student alone (use_teacher=False) is a PPO network plus unused extras.
The teachers' weights are constants held by the agent, never in the params.

Choices (where SPEC leaves room):
- Value coupling (mikt.value_coupling): 'ramp' (default) ramps with the policy's, weight
  c_vps * coupling_coef / c_ps (c_vps at the end of the ramp, 0 before it; 0 throughout if
  c_ps == 0); 'constant' is c_vps for as long as the teacher is used.
- Teachers per seed: `apply`/`loss` take `teachers=` (the pytree of `teacher_state`), so a
  seed-vmapped trainer can give every student seed its own teacher; None means the
  agent's own constants (the teachers it was built with).
- use_teacher=False (after the ramp): no encoder, no teacher, no lateral term,
  h = tanh(W h + b). The coupling terms and L_MI are left out of the loss (neither
  touches the student's outputs any more); the KL term is kept.
- Several teachers: each has its own φ_t, q_ω,t and U maps; L_MI is the sum
  over teachers (each encoder gets the gradient it would get alone).
- Teacher nets must have as many hidden layers as the student; with
  mixing='paper' also the same widths.
"""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import jax
import jax.numpy as jnp
import optax

from mjx_mikt import losses
from mjx_mikt.agents.base import Metrics, Minibatch, Params, TeacherSpec, require_teachers
from mjx_mikt.config import MIKTConfig, PPOConfig
from mjx_mikt.networks import (POLICY_HEAD_GAIN, VALUE_HEAD_GAIN, Encoder, GaussianDecoder, MixedMLP,
                               hidden_sizes_of, preactivations)

TOWERS = ("policy", "value")


def mixing_logits_mask(params: Params):
    """True at the mixing logits ('mix_j' of either tower), False elsewhere: params and updates alike."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: any(str(getattr(k, "key", "")).startswith("mix_") for k in path), params)


def encoder_mask(params: Params):
    """True at the encoders' and the MI decoders' weights ('encoder', 'mi'), False elsewhere."""
    return {k: jax.tree.map(lambda _: k in ("encoder", "mi"), v) for k, v in params.items()}


def coupling_schedule(fraction, mikt: MIKTConfig) -> jax.Array:
    """Coupling coefficient at training fraction `fraction` (traced or not).

    0 before coupling_start, linear from 0 to c_ps between coupling_start and
    coupling_end, c_ps after (when the trainer also drops the teacher).
    """
    fraction = jnp.asarray(fraction, jnp.float32)
    span = mikt.coupling_end - mikt.coupling_start
    if span > 0:
        ramp = jnp.clip((fraction - mikt.coupling_start) / span, 0.0, 1.0)
    else:
        ramp = (fraction >= mikt.coupling_start).astype(jnp.float32)
    return mikt.c_ps * ramp


P_S_FLOOR_MAX = 1.0 - 1e-6  # the floor at the drop: a teacher share of 1e-6 (the logits stay finite)


def share_floor(update, num_updates: int, mikt: MIKTConfig) -> jax.Array:
    """The floor on p_s during update `update` (0-based, traced or not): 0 until coupling_end - teacher_fade,
    linear to P_S_FLOOR_MAX at the last update that reads the teacher (update + 1 = ceil(coupling_end N))."""
    start = mikt.coupling_end - mikt.teacher_fade
    fraction = (jnp.asarray(update, jnp.float32) + 1.0) / num_updates  # the training done after this update
    return P_S_FLOOR_MAX * jnp.clip((fraction - start) / mikt.teacher_fade, 0.0, 1.0)


def raise_student_share(logits: jax.Array, floor) -> jax.Array:
    """Mixing logits [a, b_1..b_k] -> the same with every b_t lowered by the least common shift that gives
    p_s = softmax(logits)[0] >= floor; unchanged where p_s already is (or floor is 0).

    p_s >= f  <=>  sum_t exp(b_t - a) <= (1 - f) / f, so the shift is min(0, log((1-f)/f) - logsumexp(b - a)).
    """
    floor = jnp.clip(floor, 1e-6, P_S_FLOOR_MAX)
    excess = jax.nn.logsumexp(logits[1:] - logits[0])
    shift = jnp.minimum(0.0, jnp.log1p(-floor) - jnp.log(floor) - excess)
    return logits.at[1:].add(shift)


def student_share_floor(mikt: MIKTConfig, num_updates: int, steps_per_update: int) -> optax.GradientTransformation:
    """The last optimiser stage of `--teacher-fade`: changes the mixing logits' updates so that every layer's
    p_s ends the step at or above `share_floor` (a projection; other parameters pass through). The floor
    reaches ~1 on the last update with the teacher, so dropping it changes the student's outputs by ~1e-6.
    Its state is the step count (minibatch steps; steps_per_update = epochs x minibatches per update)."""

    def init(params):
        del params
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(updates, state, params):
        floor = share_floor(state.count // steps_per_update, num_updates, mikt)
        mask = mixing_logits_mask(params)

        def project(is_logits, update_, param):
            if not is_logits:
                return update_
            moved = param + update_
            raised = raise_student_share(moved, floor)
            # where the floor does not bind, Adam's step exactly (not its round trip through param + update)
            return jnp.where(jnp.all(raised == moved), update_, raised - param)

        updates = jax.tree.map(project, mask, updates, params)
        return updates, optax.ScaleByScheduleState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init, update)


def teacher_constants(spec: TeacherSpec, num_layers: int, mixing: str, hidden: Tuple[int, ...]):
    """The parts of a teacher MIKT reads: its towers' hidden layers (heads dropped), as arrays."""
    out = {}
    for tower in TOWERS:
        params = spec.params[tower]
        sizes = hidden_sizes_of(params)
        if len(sizes) != num_layers:
            raise ValueError(f"teacher {spec.robot} {tower} net has {len(sizes)} hidden layers, "
                             f"the student {num_layers}")
        if mixing == "paper" and sizes != hidden:
            raise ValueError(f"mixing='paper' needs teacher widths {sizes} equal to the student's {hidden}")
        if params["hidden_0"]["kernel"].shape[0] != spec.observation_size:
            raise ValueError(f"teacher {spec.robot} {tower} input is {params['hidden_0']['kernel'].shape[0]} "
                             f"wide, its observation_size {spec.observation_size}")
        out[tower] = {f"hidden_{j}": jax.tree.map(jnp.asarray, params[f"hidden_{j}"]) for j in range(num_layers)}
    return out


class MIKTAgent:
    """MIKT and its ablations: 'mikt', 'mikt-no-mi', 'mikt-no-rl-grad', 'mikt-no-kl'."""

    uses_teacher = True

    def __init__(self, method: str, observation_size: int, action_size: int, ppo: PPOConfig,
                 mikt: MIKTConfig, teachers: Sequence[TeacherSpec]):
        if not teachers:
            raise ValueError("MIKT needs at least one teacher")
        self.method = method
        self.observation_size = observation_size
        self.action_size = action_size
        self.ppo, self.mikt = ppo, mikt
        self.use_mi = method != "mikt-no-mi"
        self.rl_grad_to_encoder = method != "mikt-no-rl-grad"
        self.c_kl = 0.0 if method == "mikt-no-kl" else mikt.c_kl
        hidden = tuple(ppo.hidden_sizes)
        self.num_layers = len(hidden)
        self.teacher_state(teachers)  # a teacher that does not fit this student fails here (ValueError)
        # only the teachers' shapes and names: their weights reach the agent as `teachers=` (the training state)
        self.num_teachers = len(teachers)
        robots = [t.robot for t in teachers]
        self.teacher_labels = robots if len(set(robots)) == len(robots) else [f"{i}_{r}" for i, r in enumerate(robots)]
        mix = dict(num_teachers=len(teachers), mixing=mikt.mixing,
                   init_student_logit=mikt.init_student_logit, init_teacher_logit=mikt.init_teacher_logit)
        self.policy_net = MixedMLP(hidden, action_size, POLICY_HEAD_GAIN, **mix)
        self.value_net = MixedMLP(hidden, 1, VALUE_HEAD_GAIN, **mix)
        self.encoders = tuple(Encoder(tuple(mikt.encoder_hidden), t.observation_size) for t in teachers)
        self.decoder = GaussianDecoder(tuple(mikt.mi_hidden), observation_size)

    # ------------------------------------------------------------------ params
    def init(self, key: jax.Array, teachers=None) -> Params:
        """Fresh params; `teachers` (a `teacher_state`) only matters for shapes here."""
        teacher_params = require_teachers(teachers)
        k = self.num_teachers
        keys = jax.random.split(key, 3 + 2 * k)  # same split for every method: ablations share inits
        obs = jnp.zeros((1, self.observation_size))
        encoder, mi, embeddings = {}, {}, []
        for t, enc in enumerate(self.encoders):
            encoder[f"teacher_{t}"] = enc.init(keys[3 + t], obs)["params"]
            embeddings.append(enc.apply({"params": encoder[f"teacher_{t}"]}, obs))
            if self.use_mi:
                mi[f"teacher_{t}"] = self.decoder.init(keys[3 + k + t], embeddings[-1])["params"]
        z = {tower: [preactivations(tp[tower], e) for tp, e in zip(teacher_params, embeddings)]
             for tower in TOWERS}
        params = {
            "policy": self.policy_net.init(keys[0], obs, z["policy"])["params"],
            "value": self.value_net.init(keys[1], obs, z["value"])["params"],
            "log_std": jnp.zeros((self.action_size,)),
            "encoder": encoder,
        }
        if self.use_mi:
            params["mi"] = mi
        return params

    # ----------------------------------------------------------------- forward
    def forward(self, params: Params, teacher_params, obs: jax.Array, use_teacher: bool):
        """obs (..., obs) -> (mean (..., A), log_std (A,), value (...,), embeddings: k x (..., obs_t)).

        teacher_params: this seed's `teacher_state`, from the training state (tests differentiate with
        respect to it); unused without the teacher.
        """
        if not use_teacher:
            mean = self.policy_net.apply({"params": params["policy"]}, obs)
            value = self.value_net.apply({"params": params["value"]}, obs)[..., 0]
            return mean, params["log_std"], value, ()
        teacher_params = jax.lax.stop_gradient(teacher_params)  # frozen: never trained
        embeddings = tuple(enc.apply({"params": params["encoder"][f"teacher_{t}"]}, obs)
                           for t, enc in enumerate(self.encoders))
        # 'mikt-no-rl-grad': the RL losses see the embedding as a constant; L_MI still trains φ
        fed = embeddings if self.rl_grad_to_encoder else jax.lax.stop_gradient(embeddings)
        z = {tower: [preactivations(tp[tower], e) for tp, e in zip(teacher_params, fed)] for tower in TOWERS}
        mean = self.policy_net.apply({"params": params["policy"]}, obs, z["policy"])
        value = self.value_net.apply({"params": params["value"]}, obs, z["value"])[..., 0]
        return mean, params["log_std"], value, embeddings

    def teacher_state(self, specs: Sequence[TeacherSpec]):
        """What the student reads of `specs` (one per source robot): their hidden layers, as arrays."""
        hidden = tuple(self.ppo.hidden_sizes)
        return tuple(teacher_constants(t, self.num_layers, self.mikt.mixing, hidden) for t in specs)

    def apply(self, params: Params, obs: jax.Array, *, use_teacher: bool, teachers=None):
        """teachers: needed only with use_teacher (a student after the drop reads none)."""
        mean, log_std, value, _ = self.forward(params, require_teachers(teachers) if use_teacher else None, obs,
                                               use_teacher)
        return mean, log_std, value

    # -------------------------------------------------------------------- loss
    def _mix_logits(self, params: Params, tower: str):
        return [params[tower][f"mix_{j}"] for j in range(self.num_layers)]

    def loss_terms(self, params: Params, teacher_params, batch: Minibatch, *, coupling_coef,
                   use_teacher: bool) -> Tuple[Dict[str, jax.Array], Metrics]:
        """The weighted terms of the loss {'ppo', 'coupling', 'kl', 'mi'} (their sum is the loss) and metrics.

        Metrics carry the unweighted quantities: 'mi_loss' (L_MI, summed over
        teachers; 0 when not in the loss), 'kl_loss' (0.5 mean((logp - logp_old)^2)),
        'coupling_loss' / 'value_coupling_loss' (-mean_j log p_s^j of the
        policy / value layers; reported in both phases, in the loss only
        while the teacher is used).
        """
        mean, log_std, value, embeddings = self.forward(params, teacher_params, batch.obs, use_teacher)
        ppo_total, log_prob, metrics = losses.ppo_loss(mean, log_std, value, batch, self.ppo)
        kl = losses.kl_penalty(log_prob, batch.old_log_prob)
        policy_coupling = losses.coupling_loss(self._mix_logits(params, "policy"))
        value_coupling = losses.coupling_loss(self._mix_logits(params, "value"))
        zero = jnp.zeros((), ppo_total.dtype)
        coupling, mi = zero, zero
        if use_teacher:
            c_ps = self.mikt.c_ps
            if self.mikt.value_coupling == "constant":
                value_coef = self.mikt.c_vps
            else:
                value_coef = coupling_coef * (self.mikt.c_vps / c_ps) if c_ps > 0 else 0.0
            coupling = coupling_coef * policy_coupling + value_coef * value_coupling
            if self.use_mi:
                for t, e in enumerate(embeddings):
                    mu, log_sigma = self.decoder.apply({"params": params["mi"][f"teacher_{t}"]}, e)
                    mi = mi + losses.gaussian_nll(batch.obs, mu, log_sigma)
        terms = {"ppo": ppo_total, "coupling": coupling, "kl": self.c_kl * kl, "mi": self.mikt.c_mi * mi}
        metrics.update(mi_loss=mi, kl_loss=kl, coupling_loss=policy_coupling, value_coupling_loss=value_coupling,
                       total_loss=sum(terms.values()))
        return terms, metrics

    def loss_with_teachers(self, params: Params, teacher_params, batch: Minibatch, *, coupling_coef,
                           use_teacher: bool):
        terms, metrics = self.loss_terms(params, teacher_params, batch, coupling_coef=coupling_coef,
                                         use_teacher=use_teacher)
        return metrics["total_loss"], metrics

    def loss(self, params: Params, batch: Minibatch, *, coupling_coef, use_teacher: bool, teachers=None):
        """L_PPO + coupling + c_kl * KL + c_mi * L_MI on one minibatch -> (scalar, metrics); teachers as in apply."""
        return self.loss_with_teachers(params, require_teachers(teachers) if use_teacher else None, batch,
                                       coupling_coef=coupling_coef, use_teacher=use_teacher)

    # ---------------------------------------------------------------- schedule
    def teacher_until(self, num_updates: int) -> int:
        """MIKT drops the teacher once the coupling ramp ends (SPEC §4): that update index."""
        return min(num_updates, math.ceil(self.mikt.coupling_end * num_updates))

    def coupling(self, fraction) -> jax.Array:
        return coupling_schedule(fraction, self.mikt)

    def update_scaling(self, num_updates: int):
        """The mixing logits' updates times mikt.mix_lr_scale and the encoders' and MI decoders' times
        mikt.encoder_lr_scale (a stage only for a multiplier other than 1), then the floor on p_s
        (`student_share_floor`, only for mikt.teacher_fade > 0); None when neither is asked (the paper's)."""
        stages = [optax.masked(optax.scale(scale), mask) for scale, mask in (
            (self.mikt.mix_lr_scale, mixing_logits_mask), (self.mikt.encoder_lr_scale, encoder_mask)) if scale != 1.0]
        if self.mikt.teacher_fade > 0:
            steps_per_update = self.ppo.update_epochs * self.ppo.num_minibatches
            stages.append(student_share_floor(self.mikt, num_updates, steps_per_update))
        if not stages:
            return None
        return stages[0] if len(stages) == 1 else optax.chain(*stages)

    def fixed_rate_mask(self):
        """The encoders and MI decoders under --encoder-fixed-rate (their loss is L_MI, not the policy's KL)."""
        return encoder_mask if self.mikt.encoder_fixed_rate else None

    # ------------------------------------------------------------- reporting
    def diagnostics(self, params: Params) -> Metrics:
        """'p_s/{policy,value}_j' and each teacher's weight 'p_t/<robot>/{policy,value}_j'."""
        out = {"log_std_mean": jnp.mean(params["log_std"])}
        for tower in TOWERS:
            for j, logits in enumerate(self._mix_logits(params, tower)):
                w = jax.nn.softmax(logits)
                out[f"p_s/{tower}_{j}"] = w[0]
                for t, label in enumerate(self.teacher_labels):
                    out[f"p_t/{label}/{tower}_{j}"] = w[t + 1]
        return out

    def param_groups(self, params: Params) -> Dict[str, Params]:
        """{'student', 'encoder', 'mi'}: works on params and on gradients alike."""
        groups = {
            "student": {k: params[k] for k in ("policy", "value", "log_std")},
            "encoder": params["encoder"],
        }
        if self.use_mi:
            groups["mi"] = params["mi"]
        return groups
