"""The host side of a run: chunks of fused updates, logging, evaluation, checkpoints.

The device runs `updates_per_chunk` updates per call (one jitted, seed-vmapped
`Trainer.run`); between calls the host writes metrics, prints progress,
evaluates and checkpoints. Chunk boundaries depend only on the update index,
so a resumed run replays exactly the same sequence of programs as an
uninterrupted one and ends with the same parameters.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import jax
import numpy as np

from mjx_mikt import checkpoint, compiles, signals
from mjx_mikt.commands import resume_command
from mjx_mikt.compiles import compiler_options
from mjx_mikt.config import Config
from mjx_mikt.envs.base import SEED_AXIS, batched
from mjx_mikt.logger import RunLogger
from mjx_mikt.progress import Progress, SittingTimes
from mjx_mikt.run_folder import restore_state, seed_keys
from mjx_mikt.signals import ChunkInterrupt as _Interrupt
from mjx_mikt.train import Trainer

CHUNK_TARGET_SAMPLES = 16_384  # env steps per seed between host syncs when not set


@dataclass(frozen=True)
class RunHooks:
    """What a caller plugs into a run without this package importing it (the CLI passes render's videos).

    after_evaluation(trainer, config, run_dir, state, update): after each evaluation of the
      deterministic policy; state is the seed-batched TrainState at `update`.
    after_finish(config, run_dir): once, after a run that finished (not interrupted, not diverged).
    A hook must not raise for something optional such as a video; the run does not catch it.
    """

    after_evaluation: Optional[Callable] = None
    after_finish: Optional[Callable] = None


@dataclass
class RunResult:
    run_dir: Path
    updates: int
    env_steps: int  # per seed
    wall_time: float
    eval_returns: np.ndarray  # (num_seeds, episodes) of the final evaluation
    final_state: object  # seed-batched TrainState
    interrupted: bool = False
    signal: int = 0  # the signal that interrupted the run (SIGINT or SIGTERM), 0 if none
    diverged: str = ""  # one line naming the update, seed and metric that went non-finite; '' if none


# Training metrics whose non-finite value means the run has diverged (checked once per chunk).
DIVERGENCE_METRICS = ("total_loss", "policy_loss", "value_loss", "grad_norm/total", "params_finite")


def find_divergence(metrics: Dict[str, np.ndarray], first_update: int) -> str:
    """'' if every divergence metric of the chunk is finite, else one line naming the first bad value.

    metrics: name -> (num_seeds, n) of the updates first_update+1 .. first_update+n.
    """
    worst = None
    for name in DIVERGENCE_METRICS:
        if name not in metrics:
            continue
        values = np.asarray(metrics[name], dtype=np.float64)
        bad = ~np.isfinite(values) if name != "params_finite" else values < 0.5
        if bad.any():
            seed, i = np.argwhere(bad)[np.argmin(np.argwhere(bad)[:, 1])]
            if worst is None or i < worst[0]:
                worst = (int(i), int(seed), name)
    if worst is None:
        return ""
    i, seed, name = worst
    what = "parameters are non-finite" if name == "params_finite" else f"{name} is non-finite"
    return f"diverged at update {first_update + i + 1} (seed index {seed}): {what}"


def updates_per_chunk(config: Config) -> int:
    if config.run.updates_per_chunk > 0:
        return config.run.updates_per_chunk
    return max(1, min(config.num_updates, CHUNK_TARGET_SAMPLES // config.ppo.batch_size))


def next_boundary(update: int, trainer: Trainer, config: Config) -> int:
    """The next update index where the host must act (eval, checkpoint, phase switch, end)."""
    run = config.run
    candidates = [trainer.num_updates]
    if update < trainer.switch_update:
        candidates.append(trainer.switch_update)
    for every in (run.eval_every, run.checkpoint_every):
        if every > 0:
            candidates.append((update // every + 1) * every)
    return min(candidates)


def chunk_program(trainer: Trainer, config: Config, times: SittingTimes, use_teacher: bool, state, n: int):
    """The phase's one chunk program, compiled at its first use and kept by the trainer: fn(state, count)
    runs `count` <= updates_per_chunk(config) updates of every seed."""
    chunk, num_seeds = updates_per_chunk(config), config.run.num_seeds

    def make():
        fn = lambda state, count: trainer.run(state, chunk, use_teacher, count=count)
        return jax.jit(batched(fn, SEED_AXIS, in_axes=(0, None)), compiler_options=compiler_options(num_seeds))

    name = "training program (with the teacher)" if use_teacher else "training program"
    return compiles.compile_once(trainer.programs, make, (state, np.int32(n)), name,
                                 compiles.announcement(name, config), times, key=(chunk, num_seeds))


def evaluation_program(trainer: Trainer, config: Config, times: SittingTimes, use_teacher: bool, args: tuple):
    """The phase's evaluation program, compiled at its first use and kept by the trainer:
    fn(params, obs_stats, keys, teachers), all seed-batched -> {'return', 'length'} (num_seeds, episodes)."""
    num_seeds = config.run.num_seeds

    def make():
        fn = lambda params, obs_stats, key, teachers: trainer.evaluate(
            params, obs_stats, key, use_teacher=use_teacher, teachers=teachers)
        return jax.jit(batched(fn, SEED_AXIS), compiler_options=compiler_options(num_seeds))

    name = "evaluation program (with the teacher)" if use_teacher else "evaluation program"
    on_native = trainer.eval_device is not None  # native MuJoCo beside MJX training: seconds, nothing to announce
    return compiles.compile_once(trainer.programs, make, args, name,
                                 "" if on_native else compiles.announcement(name, config), times, key=(num_seeds,))


def run_training(trainer: Trainer, config: Config, run_dir: Path, label: str,
                 resume: bool = False, meta: Optional[Dict] = None,
                 stop_after_updates: Optional[int] = None, teachers=None,
                 hooks: RunHooks = RunHooks(), previous_wall_time: float = 0.0,
                 times: Optional[SittingTimes] = None) -> RunResult:
    """Train (or continue training) the run in `run_dir`; returns its final state and evaluation.

    `teachers` is the agent's teacher_state stacked on a leading (num_seeds,)
    axis (seed i's teachers at index i), or None for an agent that reads none (PPO).

    `stop_after_updates` ends the run early at that update, as an interruption
    would (used to test resume).

    The result's wall_time is the run's over all its sittings: each checkpoint records the wall
    time spent up to it, so a sitting that was killed outright (no summary written) still counts
    up to its newest checkpoint. `previous_wall_time` stands in for a checkpoint written before
    checkpoints recorded it.

    `times` (a SittingTimes, made here if not given) collects where this sitting's time goes.
    """
    start = time.time()
    times = times or SittingTimes()
    run = config.run
    ckpt_dir = run_dir / "checkpoints"
    meta = dict(meta or {}, config=config.to_dict())
    init = trainer.seed_batched_init()
    keys = seed_keys(config)
    earlier = 0.0  # wall time of earlier sittings, up to the checkpoint this one starts from

    def save(update: int, state) -> None:
        wall = round(earlier + time.time() - start, 1)
        with times.timing("checkpoints"), signals.critical():
            checkpoint.save_checkpoint(ckpt_dir, update, state, dict(meta, update=update, wall_time_s=wall))
            kept_at(update)

    def kept_at(update: int) -> None:  # what a signal outside the training loop says was kept
        signals.keep(f": the run is kept in {run_dir} at update {update} (its last checkpoint); resume with: "
                     f"{resume_command(run_dir)}")

    if resume:
        state, saved_meta = restore_state(run_dir, trainer, config, teachers)
        earlier = float(saved_meta.get("wall_time_s", previous_wall_time))
        kept_at(int(np.asarray(state.update).reshape(-1)[0]))
    else:
        state = compiles.compile_once(trainer.programs, lambda: init, (keys, teachers), "initial state",
                                      compiles.announcement("initial state", config), times)(keys, teachers)
        # update 0 is a checkpoint too: a run stopped (or diverged) before its first one can resume
        save(0, state)
    update = int(np.asarray(state.update).reshape(-1)[0])
    batch = config.ppo.batch_size
    logger = RunLogger(run_dir, run.num_seeds, resume_update=update if resume else None,
                       resume_step=update * batch if resume else None)
    if not resume:  # the hyper-parameters (and provenance) under TensorBoard's Text tab
        config_file = run_dir / "config.json"
        logger.text("config", config_file.read_text() if config_file.is_file() else config.to_json())
    chunk = updates_per_chunk(config)

    def run_eval(state, update):
        eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, update))(keys)
        args = (state.params, state.obs_stats, eval_keys, state.teachers)
        if trainer.eval_device is not None:  # native MuJoCo's evaluation runs on the host CPU
            args = jax.device_put(args, trainer.eval_device)
        evaluate = evaluation_program(trainer, config, times, trainer.use_teacher_at(update), args)
        with times.timing("evaluation"):
            result = jax.device_get(evaluate(*args))
        logger.evaluation(update, update * batch, result["return"], result["length"])
        if hooks.after_evaluation is not None:
            with times.timing("videos"):
                hooks.after_evaluation(trainer, config, run_dir, state, update)
        return result

    progress = Progress(label, trainer.num_updates, batch, num_seeds=run.num_seeds)
    last_return = float("nan")
    final_eval = None
    at_end = update == trainer.num_updates
    if resume and update > 0 and (at_end or run.eval_every > 0 and update % run.eval_every == 0) \
            and update not in logger.evaluated_updates():
        result = run_eval(state, update)  # the run was interrupted during this evaluation: do it again
        final_eval = result if at_end else None
    interrupted, diverged = False, ""
    saved = update  # the newest checkpoint's update (a resumed run starts from one)
    end = trainer.num_updates if stop_after_updates is None else min(trainer.num_updates, stop_after_updates)
    with _Interrupt():
        try:
            while update < end:
                if _Interrupt.received:
                    raise KeyboardInterrupt  # the same path as a Ctrl-C where no handler could be set
                boundary = min(next_boundary(update, trainer, config), end)
                n = min(chunk, boundary - update)
                fn = chunk_program(trainer, config, times, trainer.use_teacher_at(update), state, n)  # timed apart
                t0 = time.time()
                state, metrics = fn(state, np.int32(n))
                # the one host sync of the chunk; rows past n are the skipped updates' zeros
                metrics = {k: np.asarray(v)[:, :n] for k, v in jax.device_get(metrics).items()}
                elapsed = time.time() - t0
                times.seconds["training"] += elapsed
                diverged = find_divergence(metrics, update)
                progress.add(n, elapsed, False)
                for i in range(n):
                    u = update + i + 1
                    row = {k: np.asarray(v)[:, i] for k, v in metrics.items()}
                    row["env_steps_per_second"] = np.full(run.num_seeds, n * batch * run.num_seeds / elapsed)
                    logger.training(u, u * batch, row)
                if diverged:  # keep the last finite checkpoint; this state is not saved
                    logger.flush()
                    print(f"\nerror: {diverged}; the run stops. Its last finite checkpoint is in {ckpt_dir}",
                          file=sys.stderr, flush=True)
                    break
                recent = np.asarray(metrics["episode_return_100"])[:, -1]  # the paper's curve, mean over seeds
                if np.isfinite(recent).any():
                    last_return = float(np.nanmean(recent))
                update += n
                at_end = update == trainer.num_updates
                if at_end or (run.eval_every > 0 and update % run.eval_every == 0):
                    final_eval = run_eval(state, update)
                if at_end or (run.checkpoint_every > 0 and update % run.checkpoint_every == 0):
                    save(update, state)
                    saved = update
                logger.flush()
                progress.show(update, last_return, force=at_end)
        except KeyboardInterrupt:
            interrupted = True
            # `state` is always a completed chunk (its own update count says which): save it
            done = int(np.asarray(state.update).reshape(-1)[0])
            if done != saved:
                save(done, state)
            update = done
            print(f"\ninterrupted at update {update}; resume with: {resume_command(run_dir)}", file=sys.stderr)
        finally:
            logger.text("compiles", json.dumps(times.compiles(), indent=1))
            logger.close()
    if not interrupted and not diverged and update == end and update != trainer.num_updates:
        save(update, state)
    returns = np.asarray(final_eval["return"]) if final_eval is not None else np.full((run.num_seeds, 1), np.nan)
    return RunResult(run_dir, update, update * batch, earlier + time.time() - start, returns, state, interrupted,
                     signal=int(_Interrupt.received or signal.SIGINT) if interrupted else 0, diverged=diverged)
