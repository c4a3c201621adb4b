"""A batched Gymnasium vector env of every robot: N robots stepped in one `mujoco.batch.Batch` call.

    import gymnasium, mjx_mikt.gym_envs   # registers the ids, each with this vector entry point
    envs = gymnasium.make_vec("mjx_mikt/CentipedeFour-v0", num_envs=64)         # NEXT_STEP autoreset
    envs = gymnasium.make_vec("mjx_mikt/Centipede-v0", num_envs=64, legs=12)
    envs = gymnasium.make_vec("mjx_mikt/MJCF-v0", num_envs=64, xml="path/to/robot.xml")
    envs = gymnasium.make_vec(..., autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    obs, info = envs.reset(seed=0)                   # obs (N, obs_size) float64
    obs, reward, terminated, truncated, info = envs.step(actions)   # actions (N, nu)

`gymnasium.make_vec` picks this env by itself (the registered `vector_entry_point`; or say
`vectorization_mode="vector_entry_point"`); `vectorization_mode="sync"` gives Gymnasium's
`SyncVectorEnv` of single envs instead, which this env reproduces (tests/test_gym.py): env i is
`gym_envs.CentipedeEnv` reset with seed + i, under the registered 1000-step `TimeLimit`
(`max_episode_steps=` changes it), with the same observations, rewards, terminations,
truncations and info (every reward term and physics_failure, with Gymnasium's `_key` masks).

One step: the actions of all N envs are written to the batch's controls, one `Batch.step` call
runs the control step of every env on `nthread` threads (default: every CPU; the native
backend's call, physics.py), and the task (envs/tasks.py, evaluated in NumPy with `xp=numpy`) is
evaluated for the whole batch at once on (N, ...) arrays. Resets draw each env's candidates from
its own key chain in one jitted call for the batch (the single env's draws) and run MuJoCo's
forward pass only for the envs that reset.

Autoreset (`autoreset_mode`, Gymnasium 1.x's modes; the default is Gymnasium's, NEXT_STEP):
- NEXT_STEP: an env whose episode ended is reset by the next `step`, which ignores its action and
  returns its first observation with reward 0 and no termination (as `SyncVectorEnv`);
- SAME_STEP: it is reset within the step that ended it: `obs` is the new episode's first
  observation, `info["final_obs"]` (an object array) the last one and `info["final_info"]` the
  step's info (what Stable-Baselines3 wants: `mjx_mikt.gym_sb3.Sb3VecEnv` builds on this mode);
- DISABLED: no reset; `reset(options={"reset_mask": mask})` resets the envs in mask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from mujoco import batch as mj_batch

from mjx_mikt.envs.base import PhysicsState
from mjx_mikt.envs.force_sensor import with_force_sensor
from mjx_mikt.envs.locomotion import RESET_TRIES
from mjx_mikt.envs.physics import STEP_CLOCK_S
from mjx_mikt.gym_envs import EPISODE_LENGTH, MJCF_ID, TaskOptionsArg, robot_spec
from mjx_mikt.gym_task import evaluate, finite_rows, reset_sampler, seed_key, task_sizes

_FIELDS = ("qpos", "qvel", "qacc_warmstart", "xpos", "cfrc_ext")  # PhysicsState's, in its order


def _arrays(ps: PhysicsState) -> tuple:
    """A PhysicsState's arrays in _FIELDS' order."""
    return ps.qpos, ps.qvel, ps.qacc_warmstart, ps.xpos, ps.cfrc_ext


def _present(info: Dict[str, Any]) -> Dict[str, Any]:
    """info without the keys that no env has (mask all False), as SyncVectorEnv never adds them."""
    gone = [k for k in info if not k.startswith("_") and not info["_" + k].any()]
    for k in gone:
        del info[k], info["_" + k]
    return info


class CentipedeVectorEnv(VectorEnv):
    """num_envs copies of one robot's task, batched (module docstring).

    Robot arguments as `gym_envs.CentipedeEnv` (robot, legs, crippled, xml, task_options);
    max_episode_steps: the time limit (None: none); autoreset_mode: an `AutoresetMode` or its value;
    nthread: MuJoCo's threads for the batch (0: one per CPU, at most num_envs).
    Attributes: robot, model, task, dt, reward_terms; `physics_state` the (num_envs, ...) PhysicsState.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, robot: Optional[str] = None, legs: Optional[int] = None,
                 crippled: bool = False, xml: Union[None, str, Path] = None, task_options: TaskOptionsArg = None,
                 max_episode_steps: Optional[int] = EPISODE_LENGTH,
                 autoreset_mode: Union[str, AutoresetMode] = AutoresetMode.NEXT_STEP, nthread: int = 0):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        name, xml, n_substeps, task_factory = robot_spec(robot, legs, crippled, xml, task_options)
        self.robot, self.num_envs, self.n_substeps = name, int(num_envs), n_substeps
        self.max_episode_steps = max_episode_steps
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = None
        self.model = model = with_force_sensor(xml)
        self.dt = n_substeps * model.opt.timestep
        self.task = task_factory(model, self.dt)
        self.sims = mj_batch.Batch(model, self.num_envs, nthread=min(nthread or os.cpu_count() or 1, self.num_envs))
        self._bound = {k: self.sims.bind(k) for k in _FIELDS + ("ctrl", "time")}
        ctrl = np.asarray(model.actuator_ctrlrange, np.float32)
        self.single_action_space = spaces.Box(ctrl[:, 0], ctrl[:, 1], dtype=np.float32)
        obs_size, self.reward_terms = task_sizes(self.task, model)
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (obs_size,), dtype=np.float64)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._sample = reset_sampler(name, self.task)
        n = self.num_envs
        self._rng = np.zeros((n, 2), np.uint32)  # each env's key chain (the single env's)
        self._keyed = np.zeros(n, bool)  # whether env i's chain has started
        self._ps: Optional[PhysicsState] = None
        self._steps = np.zeros(n, np.int64)
        self._done = np.zeros(n, bool)  # the episode ended on the last step (NEXT_STEP resets it now)

    # ------------------------------------------------------------- physics
    @property
    def physics_state(self) -> Optional[PhysicsState]:
        """The (num_envs, ...) PhysicsState of the last step or reset (float64 numpy arrays)."""
        return self._ps

    def _snapshot(self) -> PhysicsState:
        return PhysicsState(*(np.array(self._bound[k]) for k in _FIELDS))

    def _reset_envs(self, ids: np.ndarray) -> None:
        """New episodes for envs `ids`: per env the first healthy of RESET_TRIES candidates (else the
        first), as `CentipedeEnv._fresh`; the batch's state rows of `ids` hold them afterwards."""
        keys, qpos, qvel = self._sample(self._rng)  # the whole batch: one shape, one compile
        self._rng[ids] = keys[ids, 0]
        qpos, qvel = qpos[ids, 0].astype(np.float64), qvel[ids, 0].astype(np.float64)
        pending = np.arange(len(ids))  # positions in ids still looking for a healthy candidate
        for i in range(RESET_TRIES + 1):
            try_i = i if i < RESET_TRIES else 0  # none healthy: back to the first candidate
            rows = ids[pending]
            self._init(rows, qpos[pending, try_i], qvel[pending, try_i])
            if i == RESET_TRIES:
                break
            ps = PhysicsState(*(self._bound[k][rows] for k in _FIELDS))
            healthy = finite_rows(ps) & ~np.asarray(self.task.unhealthy(ps, xp=np), bool)
            pending = pending[~healthy]
            if not len(pending):
                break
        self._steps[ids] = 0

    def _init(self, rows: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """`NativePhysics.init` of the envs `rows`: forward at (qpos, qvel), zero control and warm start."""
        b = self._bound
        b["qpos"][rows], b["qvel"][rows] = qpos, qvel
        b["qacc_warmstart"][rows] = 0.0
        b["ctrl"][rows] = 0.0
        self.sims.forward(rows)

    # ------------------------------------------------------------- gym API
    def reset(self, *, seed: Union[None, int, Sequence[Optional[int]]] = None, options: Optional[dict] = None):
        """Reset every env (or those of `options["reset_mask"]`, (num_envs,) bool). seed: None, an int
        (env i gets seed + i, as SyncVectorEnv) or one seed (or None) per env. Returns (obs (N, obs_size), {})."""
        super().reset(seed=seed if isinstance(seed, int) else None)
        n = self.num_envs
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds: List[Optional[int]] = [None if seed is None else int(seed) + i for i in range(n)]
        else:
            seeds = list(seed)
            if len(seeds) != n:
                raise ValueError(f"{len(seeds)} seeds for {n} envs")
        mask = np.ones(n, bool)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (n,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(f"options['reset_mask'] must be a ({n},) bool array with a True value")
        for i in np.flatnonzero(mask):
            if seeds[i] is not None or not self._keyed[i]:
                self._rng[i] = seed_key(seeds[i] if seeds[i] is not None else int(self.np_random.integers(2 ** 31)))
                self._keyed[i] = True
        ids = np.flatnonzero(mask)
        self._reset_envs(ids)
        self._ps = self._snapshot() if self._ps is None else self._merge(self._ps, ids)
        self._done[ids] = False
        return self.task.observe(self._ps, xp=np), {}

    def _merge(self, ps: PhysicsState, ids: np.ndarray) -> PhysicsState:
        """ps with the rows `ids` replaced by the batch's current state."""
        arrays = []
        for k, old in zip(_FIELDS, _arrays(ps)):
            new = old.copy()
            new[ids] = self._bound[k][ids]
            arrays.append(new)
        return PhysicsState(*arrays)

    def step(self, actions):
        """actions (num_envs, nu) -> obs (N, obs_size) float64, reward (N,) float64, terminated (N,) bool,
        truncated (N,) bool, info (every reward term and physics_failure, (N,) each, with `_key` masks)."""
        if self._ps is None:
            raise RuntimeError("call reset() before step()")
        n, nu = self.num_envs, self.model.nu
        actions = np.asarray(actions, np.float64)
        if actions.shape != (n, nu):
            raise ValueError(f"{self.robot}: actions have shape {actions.shape}, expected ({n}, {nu})")
        mode = self.autoreset_mode
        restart = self._done if mode == AutoresetMode.NEXT_STEP else np.zeros(n, bool)
        if mode == AutoresetMode.DISABLED and self._done.any():
            raise RuntimeError(f"envs {np.flatnonzero(self._done).tolist()} ended their episode: autoreset is "
                               "disabled, reset them first (reset(options={'reset_mask': mask}))")
        if restart.any():
            self._reset_envs(np.flatnonzero(restart))
        moving = ~restart
        b = self._bound
        valid = np.isfinite(actions).all(axis=1)
        b["ctrl"][:] = np.where(valid[:, None], actions, 0.0)
        b["time"][:] = STEP_CLOCK_S
        crashed = np.zeros(n, bool)
        if moving.any():
            try:  # stage POS: xpos at the new state (physics.py's convention)
                self.sims.step(None if moving.all() else np.flatnonzero(moving), nstep=self.n_substeps,
                               stage=mujoco.mjtStage.mjSTAGE_POS.value)
            except mj_batch.SimulationError as err:
                crashed[np.asarray(err.ids)] = True
        before, after = self._ps, self._snapshot()
        self._ps = after
        ok = valid & ~crashed & (b["time"] >= STEP_CLOCK_S) & finite_rows(after)
        with np.errstate(invalid="ignore", over="ignore"):
            obs, terms, reward, unhealthy = evaluate(self.task, before, after, actions)
        failed = moving & ~ok
        obs = np.where(failed[:, None], 0.0, obs)  # as the JAX env: a zero observation, reward 0
        reward = np.where(moving & ok, reward, 0.0)
        terminated = moving & (failed | np.asarray(unhealthy, bool))
        self._steps += moving
        limit = self.max_episode_steps
        truncated = moving & (self._steps >= limit) if limit is not None else np.zeros(n, bool)
        info: Dict[str, Any] = {}
        for k in self.reward_terms:
            info[k], info["_" + k] = np.where(moving & ok, terms[k], 0.0), moving.copy()
        info["physics_failure"], info["_physics_failure"] = failed, moving.copy()
        done = terminated | truncated
        if mode == AutoresetMode.SAME_STEP and done.any():
            obs, info = self._same_step_reset(np.flatnonzero(done), obs, info)
            done = np.zeros(n, bool)
        self._done = done
        return obs, reward, terminated, truncated, _present(info)

    def _same_step_reset(self, ids: np.ndarray, obs: np.ndarray, info: Dict[str, Any]):
        """SAME_STEP: reset the envs `ids` now; their last observation and step info move to
        info["final_obs"] / info["final_info"] (SyncVectorEnv's layout) and obs gets the new episode's."""
        n = self.num_envs
        final_obs = np.full(n, None, dtype=object)
        for i in ids:
            final_obs[i] = obs[i].copy()  # obs[i] is overwritten below
        ended = np.zeros(n, bool)
        ended[ids] = True
        final_info = {k: np.where(ended, v, np.zeros((), v.dtype)) if not k.startswith("_") else ended.copy()
                      for k, v in info.items()}
        for k in list(info):
            if k.startswith("_"):
                info[k] = info[k] & ~ended
            else:
                info[k] = np.where(ended, np.zeros((), info[k].dtype), info[k])
        info.update(final_obs=final_obs, _final_obs=ended, final_info=final_info, _final_info=ended.copy())
        self._reset_envs(ids)
        self._ps = self._merge(self._ps, ids)
        obs[ids] = self.task.observe(PhysicsState(*(x[ids] for x in _arrays(self._ps))), xp=np)
        return obs, info

    def close_extras(self, **kwargs):
        self.sims = None


class MjcfVectorEnv(CentipedeVectorEnv):
    """`MJCF-v0`'s vector env: CentipedeVectorEnv(xml=..., task_options=...), with no default robot."""

    def __init__(self, num_envs: int = 1, xml: Union[None, str, Path] = None, task_options: TaskOptionsArg = None,
                 **kwargs):
        if xml is None:
            raise ValueError(f"{MJCF_ID} needs the robot: gymnasium.make_vec({MJCF_ID!r}, num_envs=N, "
                             "xml='path/to/robot.xml')")
        super().__init__(num_envs, xml=xml, task_options=task_options, **kwargs)


__all__ = ["CentipedeVectorEnv", "MjcfVectorEnv"]
