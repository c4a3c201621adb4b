"""The model every backend that reports `cfrc_ext` compiles (the MJCF plus an accelerometer), and
where MJX keeps cfrc_ext (`mjx_cfrc_ext`).

Its own module so that physics.py and warp_physics.py (which physics.py imports lazily) both use it
without importing each other.
"""

from __future__ import annotations

import mujoco


def with_force_sensor(mj_model_xml: str) -> mujoco.MjModel:
    """Compile the MJCF with an accelerometer on body 1, so mj_step runs mj_rnePostConstraint.

    A site and a sensor add no bodies, joints or actuators: dims are unchanged.
    """
    spec = mujoco.MjSpec.from_string(mj_model_xml)
    body = spec.bodies[1]
    body.add_site(name="_cfrc_probe")
    spec.add_sensor(type=mujoco.mjtSensor.mjSENS_ACCELEROMETER, objtype=mujoco.mjtObj.mjOBJ_SITE,
                    objname="_cfrc_probe")
    return spec.compile()


def mjx_cfrc_ext(mjx_data):
    """cfrc_ext of MJX data, of either implementation (JAX or Warp).

    PRIVATE: mujoco-mjx 3.17 keeps it in the implementation part of `mjx.Data` (`_impl`), with no
    public field; re-check on every mujoco-mjx upgrade (tests/test_envs.py and tests/test_warp.py
    compare it with native MuJoCo's).
    """
    return mjx_data._impl.cfrc_ext
