"""Parity checks of a JAX physics engine (MJX, MuJoCo Warp) against native MuJoCo under contact.

The one home of the check that tests/test_envs.py (MJX) and tests/test_warp.py (MuJoCo Warp) share,
as did the removed solver sweep (`git show 4be1481:tools/probes/mjx_solver_sweep.py`): native MuJoCo
states with feet on the floor, taken from a random-control episode from qpos0 (the robot falls, lands and slides, so the
friction pyramid's orientation matters), and the largest relative acceleration error of an
engine's forward pass on them against native `mj_forward`.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

import mujoco
import numpy as np

# (qpos, qvel, ctrl, qacc_warmstart), float64 copies of native MjData fields
ContactState = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def native_contact_states(model: mujoco.MjModel, substeps: int = 400, every: int = 8,
                          seed: int = 0) -> List[ContactState]:
    """Every `every`-th substep of a random-control episode (controls uniform in [-1, 1], drawn per
    substep) at which native MuJoCo has at least one contact."""
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    states = []
    for step in range(substeps):
        data.ctrl[:] = rng.uniform(-1, 1, model.nu)
        mujoco.mj_step(model, data)
        if step % every == 0 and data.ncon > 0:
            states.append((data.qpos.copy(), data.qvel.copy(), data.ctrl.copy(), data.qacc_warmstart.copy()))
    return states


def worst_qacc_error(model: mujoco.MjModel, states: List[ContactState],
                     qacc: Callable[..., np.ndarray]) -> float:
    """max over states and dofs of |qacc - native qacc| / (1 + |native qacc|).

    `qacc(qpos, qvel, ctrl, warmstart)` is the engine's forward acceleration, called with float32
    arrays (the engines run in float32; native runs in float64)."""
    data = mujoco.MjData(model)
    worst = 0.0
    for qpos, qvel, ctrl, warmstart in states:
        data.qpos[:], data.qvel[:], data.ctrl[:], data.qacc_warmstart[:] = qpos, qvel, ctrl, warmstart
        mujoco.mj_forward(model, data)
        got = np.asarray(qacc(*(np.asarray(x, np.float32) for x in (qpos, qvel, ctrl, warmstart))))
        worst = max(worst, float(np.max(np.abs(got - data.qacc) / (1.0 + np.abs(data.qacc)))))
    return worst
