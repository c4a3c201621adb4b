"""What the patches of mjx_mikt/patches.py change, observed in what programs compute or how they lower.

Used by tests/test_patches.py in its own process and, as a script, in fresh ones (it imports no
conftest, so nothing is installed unless a step says so):

    python tests/patch_effects.py import-all observe mjx-physics observe install-all observe

prints one JSON object per `observe`: threefry_loop (JAX's Threefry is a loop: cpu_random is not in
effect), lapack (a Cholesky calls LAPACK: cpu_linalg is not), and with `mjx` among the steps
mjx_tangent and native_tangent (a steep capsule's first friction direction in MJX and in native
MuJoCo: equal where mjx_contact is in effect).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import jax
import jax.numpy as jnp
import numpy as np

# a capsule 75 degrees from the floor, one end in it: MJX 3.17's own rule takes the world y axis as
# the first friction direction (steeper than 60 degrees), native MuJoCo the axis' shadow (x)
STEEP_CAPSULE = """<mujoco><worldbody><geom type="plane" size="5 5 0.1"/>
  <body pos="0 0 0.1" euler="0 15 0"><freejoint/><geom type="capsule" size="0.05 0.2"/></body>
</worldbody></mujoco>"""


def threefry_loop() -> bool:
    """Whether a fresh program's `jax.random` draw lowers to a loop (JAX's own CPU lowering)."""
    text = jax.jit(lambda k: jax.random.normal(k, (8,)) + 0.0).lower(jax.random.PRNGKey(0)).as_text()
    return "while" in text


def lapack() -> bool:
    """Whether a fresh program's Cholesky calls jaxlib's LAPACK kernel."""
    a = jnp.broadcast_to(4.0 * jnp.eye(4), (3, 4, 4))
    return "lapack" in jax.jit(lambda m: jnp.linalg.cholesky(m) + 0.0).lower(a).as_text()


def native_tangent() -> list:
    """The first friction direction of the steep capsule's contact in native MuJoCo."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(STEEP_CAPSULE)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return data.contact.frame[0, 3:6].round(6).tolist()


def mjx_tangent() -> list:
    """The first friction direction of MJX's penetrating contact of the steep capsule (a fresh program)."""
    import mujoco

    from mjx_mikt.envs.physics import import_mjx

    mjx = import_mjx()
    model = mjx.put_model(mujoco.MjModel.from_xml_string(STEEP_CAPSULE))
    contact = jax.jit(lambda d: mjx.collision(model, mjx.kinematics(model, d))._impl.contact)(mjx.make_data(model))
    deepest = int(np.argmin(np.asarray(contact.dist)))
    return np.asarray(contact.frame)[deepest, 1].round(6).tolist()


def import_all() -> None:
    """Import every module of mjx_mikt (those of an optional extra that is not installed are skipped)."""
    import mjx_mikt

    for module in pkgutil.walk_packages(mjx_mikt.__path__, "mjx_mikt."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # warp-lang, gymnasium or stable-baselines3 missing
            pass


def run(steps) -> list:
    """Do the steps in order (see the module docstring); the observations, one dict per `observe`."""
    from mjx_mikt import patches

    seen, with_mjx = [], "mjx" in steps or "mjx-physics" in steps
    for step in steps:
        if step == "import-all":
            import_all()
        elif step == "install-all":
            patches.install_all()
        elif step == "mjx-physics":
            from mjx_mikt.envs.physics import MjxPhysics

            MjxPhysics(STEEP_CAPSULE, n_substeps=1)
        elif step == "observe":
            seen.append({"threefry_loop": threefry_loop(), "lapack": lapack()})
            if with_mjx:
                seen[-1].update(mjx_tangent=mjx_tangent(), native_tangent=native_tangent())
        elif step != "mjx":
            raise ValueError(f"unknown step {step!r}")
    return seen


if __name__ == "__main__":
    for observed in run(sys.argv[1:]):
        print(json.dumps(observed))
