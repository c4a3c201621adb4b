"""The fused training program: rollout, GAE, epochs and minibatches in one jit.

`make_train(config, env, agent)` returns a `Trainer` whose methods are pure
functions of a `TrainState`:

    trainer.init(key, teachers=None)       -> TrainState
    trainer.run(state, n, use_teacher)     -> (TrainState, metrics with a leading (n,) axis)
    trainer.train(key)                     -> (TrainState, metrics (num_updates,))  # the whole run
    trainer.evaluate(params, obs_stats, key, use_teacher, teachers) -> {'return': (E,), 'length': (E,)}

All of them can be `jax.jit`-ed and `jax.vmap`-ed over seeds. One update is a
`lax.scan` rollout of `rollout_length` control steps over `num_envs` envs, GAE
as a reverse scan, and `update_epochs` x `num_minibatches` gradient steps as
nested scans. Whether the student still reads its teacher (MIKT before the
coupling ends) is a static argument, so the program after the switch contains
no teacher compute at all.

Teachers are state, not constants: `init(key, teachers)` stores the agent's
`teacher_state` in `TrainState.teachers` (never trained, checkpointed with the
run), so a seed-vmapped program gives student seed i its own teacher.

The paper's learning curve is `episode_return_100`: the mean raw return of the
last 100 finished training episodes (stochastic policy), as baselines' ppo2
logs `eprewmean`; `TrainState.recent_returns` is its ring buffer.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from mjx_mikt.agents.base import Agent, Minibatch
from mjx_mikt.config import Config
from mjx_mikt.envs.base import Env, State, batched
from mjx_mikt.losses import compute_gae, gaussian_log_prob
from mjx_mikt.normalization import RunningStats, normalize, scale_reward
from mjx_mikt.optimizer import adapt_learning_rate, learning_rate, make_optimizer

Metrics = Dict[str, jax.Array]

RECENT_EPISODES = 100  # episodes averaged by the paper's curve (baselines' eprewmean)


@struct.dataclass
class TrainState:
    """Everything a run needs to continue bit-for-bit (all of it is checkpointed).

    env_state leaves and discounted_return have a leading (num_envs,) axis.
    """

    params: Any
    opt_state: Any
    obs_stats: RunningStats  # (obs_size,) running observation statistics
    return_stats: RunningStats  # () running statistics of the discounted return
    discounted_return: jax.Array  # (num_envs,) per-env discounted return, for reward scaling
    env_state: State
    rng: jax.Array
    update: jax.Array  # () int32: updates done so far
    teachers: Any = ()  # the agent's teacher_state for this seed; () for an agent that reads none (PPO)
    recent_returns: jax.Array = None  # (RECENT_EPISODES,) ring buffer of finished episodes' raw returns
    episodes_finished: jax.Array = None  # () int32: training episodes finished so far


def push_episode_returns(buffer: jax.Array, count: jax.Array, returns: jax.Array, done: jax.Array):
    """Append the returns of finished episodes to a ring buffer.

    buffer (K,), count () episodes pushed so far; returns, done (T, N) time-major.
    Episodes are taken in time order (envs in index order within a step); when
    more than K finish, only the last K are kept. Returns (buffer, count).
    """
    size = buffer.shape[0]
    flat_returns, flat_done = returns.reshape(-1), done.reshape(-1) > 0
    position = jnp.cumsum(flat_done) - 1  # index among this update's finished episodes
    finished = position[-1] + 1
    keep = flat_done & (position >= finished - size)
    index = jnp.where(keep, (count + position) % size, size)  # out of bounds -> dropped
    buffer = buffer.at[index].set(flat_returns, mode="drop")
    return buffer, count + finished.astype(count.dtype)


def recent_means_per_seed(ts) -> list:
    """Host side: the paper's curve at the end of a seed-batched TrainState, per seed (None before any episode)."""
    buffers, counts = np.asarray(ts.recent_returns), np.asarray(ts.episodes_finished)
    return [float(b[:min(int(c), b.shape[0])].mean()) if c > 0 else None for b, c in zip(buffers, counts)]


def recent_mean(buffer: jax.Array, count: jax.Array) -> jax.Array:
    """Mean of the last min(count, K) pushed values (nan before the first episode)."""
    filled = jnp.arange(buffer.shape[0]) < count
    return jnp.where(count > 0, jnp.sum(buffer * filled) / jnp.maximum(jnp.sum(filled), 1), jnp.nan)


@struct.dataclass
class Transition:
    """One rollout step for all envs; leaves are (num_envs, ...), stacked to (T, num_envs, ...)."""

    obs: jax.Array  # normalised observation acted on
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array  # scaled reward used for learning
    next_value: jax.Array  # V(normalised final_obs): bootstraps truncated episodes
    termination: jax.Array
    done: jax.Array
    env_metrics: Metrics


def _episode_means(env_metrics: Metrics, done: jax.Array) -> Metrics:
    """Per-step env metrics (T, N) -> one number each for the update."""
    finished = jnp.sum(done)
    out = {"episodes": finished}
    for name, value in env_metrics.items():
        if name in ("episode_return", "episode_length"):
            # mean over the episodes that ended in this rollout (nan if none did)
            out[name] = jnp.where(finished > 0, jnp.sum(value * done) / jnp.maximum(finished, 1), jnp.nan)
        elif name == "physics_failure":
            out[name] = jnp.sum(value)
        else:
            out[f"reward/{name}"] = jnp.mean(value)
    return out


class Trainer:
    """Pure training functions for one (config, env, agent). See the module docstring."""

    def __init__(self, config: Config, env: Env, agent: Agent, env_sharding=None, eval_env: Optional[Env] = None):
        self.config = config
        self.env = env
        # the physics of `evaluate`: the training env, or native MuJoCo beside an MJX one (--eval-backend), whose
        # program then runs on the host CPU (`eval_device`) and compiles no physics of its own
        self.eval_env = eval_env or env
        self.eval_device = None if self.eval_env is env else jax.devices("cpu")[0]
        self.agent = agent
        self.ppo = config.ppo
        self.num_updates = config.num_updates
        # the update index where the agent stops reading its teacher (MIKT: end of the coupling ramp)
        self.switch_update = agent.teacher_until(self.num_updates)
        self.env_sharding = env_sharding  # optional NamedSharding for (num_envs, ...) leaves
        # MIKT's mixing-logit rate is a stage after Adam; left out when None (older checkpoints' state)
        self.optimizer = make_optimizer(self.ppo, self.num_updates, agent.update_scaling(self.num_updates),
                                        agent.fixed_rate_mask())
        # the programs loop.run_training compiled for this trainer (compiles.compile_once): kept, so that a
        # second run with the same trainer (a resume in the same process) compiles none of them again
        self.programs: Dict = {}

    # ------------------------------------------------------------------ init
    def init(self, key: jax.Array, teachers: Any = None) -> TrainState:
        """teachers: this seed's `agent.teacher_state(...)`; None for an agent that reads none (PPO)."""
        key_params, key_env, key_run = jax.random.split(key, 3)
        params = self.agent.init(key_params, teachers)
        env_state = jax.vmap(self.env.reset)(jax.random.split(key_env, self.ppo.num_envs))
        env_state = self._constrain(env_state)
        obs_stats = RunningStats.create((self.env.observation_size,))
        if self.ppo.normalize_obs:
            obs_stats = obs_stats.update(env_state.obs)
        return TrainState(
            params=params,
            opt_state=self.optimizer.init(params),
            obs_stats=obs_stats,
            return_stats=RunningStats.create(()),
            discounted_return=jnp.zeros((self.ppo.num_envs,)),
            env_state=env_state,
            rng=key_run,
            update=jnp.zeros((), jnp.int32),
            teachers=() if teachers is None else teachers,
            recent_returns=jnp.zeros((RECENT_EPISODES,)),
            episodes_finished=jnp.zeros((), jnp.int32),
        )

    def seed_batched_init(self):
        """jit(vmap(init)): (keys (num_seeds, 2), teachers stacked on (num_seeds,) or None) -> the seed-batched
        TrainState (compiled by the caller: loop.run_training ahead of time, restore_state only for its shapes)."""
        return jax.jit(jax.vmap(self.init))

    def use_teacher_at(self, update: int) -> bool:
        """Static phase of update `update` (0-based): does the student read its teacher?"""
        return bool(self.agent.uses_teacher) and update < self.switch_update

    def _constrain(self, tree):
        if self.env_sharding is None:
            return tree
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, self.env_sharding), tree)

    @staticmethod
    def _teachers(ts: TrainState):
        """The teachers the agent reads: the state's, or None when it holds none (PPO)."""
        return ts.teachers if jax.tree.leaves(ts.teachers) else None

    def _normalize_obs(self, stats, obs):
        if not self.ppo.normalize_obs:
            return obs
        return normalize(stats, obs, self.ppo.obs_clip)

    # --------------------------------------------------------------- rollout
    def _rollout(self, ts: TrainState, use_teacher: bool):
        ppo, agent = self.ppo, self.agent
        teachers = self._teachers(ts)

        def step(ts: TrainState, _):
            """One control step of all envs; the state carried is the TrainState itself."""
            rng, key = jax.random.split(ts.rng)
            obs = self._normalize_obs(ts.obs_stats, ts.env_state.obs)
            mean, log_std, value = agent.apply(ts.params, obs, use_teacher=use_teacher, teachers=teachers)
            action = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
            log_prob = gaussian_log_prob(mean, log_std, action)
            env_state = self._constrain(batched(self.env.step)(ts.env_state, action))
            obs_stats = ts.obs_stats.update(env_state.obs) if ppo.normalize_obs else ts.obs_stats
            final_obs = self._normalize_obs(obs_stats, env_state.final_obs)
            _, _, next_value = agent.apply(ts.params, final_obs, use_teacher=use_teacher, teachers=teachers)
            reward, return_stats, disc_return = env_state.reward, ts.return_stats, ts.discounted_return
            if ppo.normalize_reward:
                disc_return = disc_return * ppo.gamma + reward
                return_stats = return_stats.update(disc_return)
                reward = scale_reward(return_stats, reward, ppo.reward_clip)
                disc_return = jnp.where(env_state.done > 0, 0.0, disc_return)
            transition = Transition(
                obs=obs,
                action=action,
                log_prob=log_prob,
                value=value,
                reward=reward,
                next_value=next_value,
                # without bootstrap_truncation a time-limit end is terminal (baselines ppo2)
                termination=(env_state.done * (1.0 - env_state.truncation) if ppo.bootstrap_truncation
                             else env_state.done),
                done=env_state.done,
                env_metrics=dict(env_state.metrics, raw_reward=env_state.reward),
            )
            ts = ts.replace(env_state=env_state, obs_stats=obs_stats, return_stats=return_stats,
                            discounted_return=disc_return, rng=rng)
            return ts, transition

        ts, traj = jax.lax.scan(step, ts, None, length=ppo.rollout_length)
        return ts, traj

    # ---------------------------------------------------------------- update
    def update(self, ts: TrainState, use_teacher: bool) -> Tuple[TrainState, Metrics]:
        """One PPO/MIKT update: rollout, then GAE and epochs x minibatches (`learn`)."""
        ts, traj = self._rollout(ts, use_teacher)
        return self.learn(ts, traj, use_teacher)

    def learn(self, ts: TrainState, traj: Transition, use_teacher: bool) -> Tuple[TrainState, Metrics]:
        """GAE, epochs x shuffled minibatches and the update's metrics, from a rollout's trajectory.

        traj: Transition with leaves (rollout_length, num_envs, ...), as `_rollout` returns it.
        """
        ppo, agent = self.ppo, self.agent
        fraction = ts.update.astype(jnp.float32) / self.num_updates
        coupling = agent.coupling(fraction)
        advantages, returns = compute_gae(
            traj.reward, traj.value, traj.next_value, traj.termination, traj.done, ppo.gamma, ppo.gae_lambda
        )
        batch = Minibatch(
            obs=traj.obs,
            actions=traj.action,
            old_log_prob=traj.log_prob,
            old_value=traj.value,
            advantages=advantages,
            returns=returns,
        )
        batch = jax.tree.map(lambda x: x.reshape((ppo.batch_size,) + x.shape[2:]), batch)

        teachers = self._teachers(ts)

        def loss_fn(params, minibatch):
            return agent.loss(params, minibatch, coupling_coef=coupling, use_teacher=use_teacher, teachers=teachers)

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def minibatch_step(carry, minibatch):
            params, opt_state = carry
            (_, loss_metrics), grads = grad_fn(params, minibatch)
            # KL-adaptive rate (--desired-kl): set from this minibatch's KL before the step, as rsl_rl
            opt_state = adapt_learning_rate(ppo, opt_state, loss_metrics["approx_kl"])
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            norms = {f"grad_norm/{k}": optax.tree.norm(g) for k, g in agent.param_groups(grads).items()}
            norms["grad_norm/total"] = optax.tree.norm(grads)
            return (params, opt_state), dict(loss_metrics, **norms)

        def epoch(carry, key):
            params, opt_state = carry
            perm = jax.random.permutation(key, ppo.batch_size)
            shuffled = jax.tree.map(
                lambda x: x[perm].reshape((ppo.num_minibatches, ppo.minibatch_size) + x.shape[1:]), batch
            )
            return jax.lax.scan(minibatch_step, (params, opt_state), shuffled)

        rng, key = jax.random.split(ts.rng)
        epoch_keys = jax.random.split(key, ppo.update_epochs)
        (params, opt_state), loss_metrics = jax.lax.scan(epoch, (ts.params, ts.opt_state), epoch_keys)

        metrics = jax.tree.map(jnp.mean, loss_metrics)
        metrics.update(_episode_means(traj.env_metrics, traj.done))
        flat_values, flat_returns = traj.value.reshape(-1), returns.reshape(-1)
        metrics["explained_variance"] = 1.0 - jnp.var(flat_returns - flat_values) / (jnp.var(flat_returns) + 1e-8)
        metrics["learning_rate"] = learning_rate(ppo, self.num_updates, opt_state, ts.update)
        metrics["coupling_coef"] = coupling
        metrics.update(agent.diagnostics(params))
        metrics["params_finite"] = jnp.all(jnp.stack(
            [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(params)])).astype(jnp.float32)
        recent, finished = push_episode_returns(ts.recent_returns, ts.episodes_finished,
                                                traj.env_metrics["episode_return"], traj.done)
        metrics["episode_return_100"] = recent_mean(recent, finished)
        ts = ts.replace(params=params, opt_state=opt_state, rng=rng, update=ts.update + 1,
                        recent_returns=recent, episodes_finished=finished)
        return ts, metrics

    def run(self, ts: TrainState, num_updates: int, use_teacher: bool,
            count: Optional[jax.Array] = None) -> Tuple[TrainState, Metrics]:
        """`num_updates` updates in one lax.scan; metrics get a leading (num_updates,) axis.

        count: None, or an int32 scalar (unbatched under a vmap over seeds): only the first `count`
          updates run, the others pass the state through with zero metrics. One compiled program
          then serves every shorter chunk too (one cut short by an evaluation, a checkpoint, the
          phase switch or the end), where each length used to compile a program of its own: about 7 s
          each for MIKT at 256 envs on the 2-core CPU. The predicate is unbatched, so the cond
          stays a branch under vmap and a skipped update costs nothing.
        """
        if count is None:
            return jax.lax.scan(lambda s, _: self.update(s, use_teacher), ts, None, length=num_updates)

        def skip(s: TrainState):
            shapes = jax.eval_shape(lambda s: self.update(s, use_teacher)[1], s)
            return s, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

        def body(s: TrainState, i):
            return jax.lax.cond(i < count, lambda s: self.update(s, use_teacher), skip, s)

        return jax.lax.scan(body, ts, jnp.arange(num_updates))

    def train(self, key: jax.Array, teachers: Any = None) -> Tuple[TrainState, Metrics]:
        """The whole run as one pure function (vmap it over seeds, and over teachers)."""
        ts = self.init(key, teachers)
        segments = []
        if self.switch_update > 0:
            ts, m = self.run(ts, self.switch_update, use_teacher=True)
            segments.append(m)
        if self.num_updates > self.switch_update:
            ts, m = self.run(ts, self.num_updates - self.switch_update, use_teacher=False)
            segments.append(m)
        metrics = jax.tree.map(lambda *xs: jnp.concatenate(xs), *segments)
        return ts, metrics

    # ------------------------------------------------------------- evaluate
    def evaluate(self, params, obs_stats: RunningStats, key: jax.Array, use_teacher: bool = False,
                 teachers: Any = (), episodes: Optional[int] = None, max_steps: Optional[int] = None) -> Metrics:
        """Deterministic policy (the mean action), `episodes` (default eval_episodes) episodes in parallel.

        Returns {'return': (E,), 'length': (E,)} of each env's first episode
        (capped at `max_steps`, default eval_max_steps, control steps). The loop stops once every
        episode has ended: an early policy that falls in 10 steps costs 10 steps, not max_steps
        (under a vmap over seeds, once every seed's have).
        """
        episodes = episodes or self.config.run.eval_episodes
        max_steps = max_steps or self.config.run.eval_max_steps
        env_state = jax.vmap(self.eval_env.reset)(jax.random.split(key, episodes))

        def step(carry):
            env_state, total, length, alive = carry
            obs = self._normalize_obs(obs_stats, env_state.obs)
            mean, _, _ = self.agent.apply(params, obs, use_teacher=use_teacher,
                                          teachers=teachers if jax.tree.leaves(teachers) else None)
            env_state = batched(self.eval_env.step)(env_state, mean)
            total = total + alive * env_state.reward
            length = length + alive
            alive = alive * (1.0 - env_state.done)
            return env_state, total, length, alive

        def running(counted):
            steps, (_, _, _, alive) = counted
            return (steps < max_steps) & jnp.any(alive > 0)

        zeros = jnp.zeros((episodes,))
        carry = (env_state, zeros, zeros, jnp.ones_like(zeros))
        _, (_, total, length, _) = jax.lax.while_loop(running, lambda c: (c[0] + 1, step(c[1])), (0, carry))
        return {"return": total, "length": length}


def make_train(config: Config, env: Env, agent, env_sharding: Optional[Any] = None,
               eval_env: Optional[Env] = None) -> Trainer:
    """Build the pure training functions; `make_train(...).train` is PureJaxRL's train(key).

    Installs nothing: the entry points install the project's patches (mjx_mikt/patches.py) first.
    """
    if agent.observation_size != env.observation_size or agent.action_size != env.action_size:
        raise ValueError(
            f"agent is for obs {agent.observation_size} / action {agent.action_size} but env "
            f"{env.name} has obs {env.observation_size} / action {env.action_size}"
        )
    return Trainer(config, env, agent, env_sharding, eval_env)
