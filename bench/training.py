"""Throughput of the whole fused training loop (rollout + GAE + epochs), per method and preset.

`measure_training(robot, method, preset, num_envs, updates)` builds the same
trainer the CLI builds (MIKT gets a randomly initialised teacher: throughput
does not depend on its weights), compiles one chunk of `updates` updates, then
times a second call. Env-steps/s counts control steps summed over the batch.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Dict, Optional

import jax
import numpy as np

from mjx_mikt import agents, envs, run_folder
from mjx_mikt.config import PRESETS, Config, RunConfig, preset_mikt
from mjx_mikt.compiles import compiler_options

TEACHER_ROBOT = "CentipedeFour"


def random_teacher(config: Config, robot: str = TEACHER_ROBOT, seed: int = 1) -> "agents.TeacherSpec":
    env = envs.make(robot, backend="mujoco")
    teacher_agent = agents.make_agent("ppo", env.observation_size, env.action_size, config.ppo, config.mikt)
    params = jax.tree.map(np.asarray, teacher_agent.init(jax.random.PRNGKey(seed)))
    return agents.TeacherSpec(params=params, observation_size=env.observation_size,
                              action_size=env.action_size, robot=robot)


def measure_training(robot: str, method: str, preset: str, backend: str, num_envs: Optional[int] = None,
                     updates: int = 2, rollout_length: Optional[int] = None) -> Dict[str, float]:
    ppo = PRESETS[preset]
    overrides = {}
    if num_envs is not None:
        overrides["num_envs"] = num_envs
    if rollout_length is not None:
        overrides["rollout_length"] = rollout_length
    ppo = dataclasses.replace(ppo, **overrides)
    run = RunConfig(target=robot, method=method, preset=preset, backend=backend,
                    source=(TEACHER_ROBOT,) if method != "ppo" else (), total_timesteps=100 * ppo.batch_size)
    config = Config(run=run, ppo=ppo, mikt=preset_mikt(preset))
    teachers = [random_teacher(config)] if method != "ppo" else []
    trainer = run_folder.build_trainer(config, teachers)
    use_teacher = trainer.agent.uses_teacher  # the coupled phase: the most expensive program
    # the teachers as the CLI's runs hold them: in the training state, not constants of the program
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), trainer.agent.teacher_state(teachers) if teachers else None)
    chunk = jax.jit(lambda s: trainer.run(s, updates, use_teacher), compiler_options=compiler_options(1))
    t0 = time.perf_counter()
    state, metrics = chunk(state)
    jax.block_until_ready(metrics)
    compile_and_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    state, metrics = chunk(state)
    jax.block_until_ready(metrics)
    elapsed = time.perf_counter() - t0
    steps = updates * ppo.batch_size
    return {
        "robot": robot,
        "method": method,
        "preset": preset,
        "backend": backend,
        "num_envs": ppo.num_envs,
        "rollout_length": ppo.rollout_length,
        "update_epochs": ppo.update_epochs,
        "num_minibatches": ppo.num_minibatches,
        "updates_timed": updates,
        "env_steps_per_s": steps / elapsed,
        "seconds_per_update": elapsed / updates,
        "compile_s": max(0.0, compile_and_first - elapsed),
    }
