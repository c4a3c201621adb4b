"""Every change this project makes to JAX's, jaxlib's or MJX's behaviour, in one list: `PATCHES`.

Importing mjx_mikt, or any module of it, changes nothing. Who installs what, and when:
- the entry points call `install_all()` (the process-wide patches) before they lower a program:
  `python -m mjx_mikt.run` (run.main), `python -m mjx_mikt.experiments`, `python -m mjx_mikt.render`,
  every `python -m bench...` (bench/__init__.py) and the tests (tests/conftest.py); the Gymnasium
  envs install `cpu_random` for their one JAX program, the reset draws (gym_task.reset_sampler);
- the physics that needs a fix for correctness installs it when it is built: `MjxPhysics` installs
  `mjx_contact` and, on a CPU, `cpu_linalg`; `WarpPhysics` installs `warp_c_frame`; `NativePhysics`
  registers `host_call` on its first call.
A program lowered before a patch is installed keeps JAX's own lowering. A library user who builds
envs and trainers without an entry point therefore gets JAX's Threefry loop: the same random bits,
a little slower, and float results that can differ from the CLI's in the last bit; call
`install_all()` first to get the CLI's programs.

Each patch is a function below whose docstring says what it changes, why, and when to drop it. It
returns whether the change is in effect after the call, and calling it again does nothing new.
The code, and its private-API use (`jax._src`, `mujoco.mjx._src`), lives in the one module each
names; docs/design.md lists those uses; tests/test_patches.py shows each patch in effect.
"""

from __future__ import annotations

from typing import Callable, Dict


def cpu_random() -> bool:
    """Threefry-2x32, behind every `jax.random` draw, lowered as straight-line code on the CPU.

    JAX lowers it on a CPU as a loop of 5 steps (to keep compiles short; accelerators get it
    unrolled), which XLA:CPU runs as many small kernels, and the training loop draws at every env
    step and every minibatch: unrolled, the env step at 40 envs ran 1.10x and MIKT's update 1.24x as
    fast. The random bits are the same; the code XLA fuses around them can round differently in the
    last bit, so a run is bit-identical only to runs made with this lowering, as every committed run
    was. Drop it when JAX unrolls Threefry on the CPU itself (a new JAX without the rule it borrows
    keeps its own lowering: False). Code: mjx_mikt/cpu_random.py. Installed by `install_all` and by
    the Gymnasium envs.
    """
    from mjx_mikt import cpu_random as patch

    return patch.install()


def cpu_linalg() -> bool:
    """Real-valued Cholesky and triangular solves on the CPU as plain XLA code, not jaxlib's LAPACK.

    jaxlib's batched LAPACK kernels split a batch into tasks on the XLA:CPU thread pool they run on
    and wait for them: two such calls at once on a 2-thread pool deadlock, and MJX factorises the
    mass matrix and the solver's Hessian this way, so vmapped MJX training on a 2-core CPU hung after
    its compile (docs/mjx-cpu-hang.md). The replacement gives the same factor to rounding, at 1.6x
    (Cholesky) and 3x (solve) LAPACK's time. Not installed off the CPU (False there). Drop it when
    jaxlib's kernels no longer wait on their own pool: tools/probes/cpu_cholesky_hang.py finishes
    without --fix. Code: mjx_mikt/envs/cpu_linalg.py. Installed by `install_all` and by
    `MjxPhysics` on a CPU.
    """
    from mjx_mikt.envs import cpu_linalg as patch

    return patch.install_if_cpu()


def mjx_contact() -> bool:
    """MJX's plane-capsule collider with native MuJoCo's contact frame (MJX's private collision table).

    For a capsule steeper than 60 degrees mujoco-mjx 3.17 takes the first friction direction from
    the world y axis where native MuJoCo takes the capsule axis' shadow on the floor; the centipedes'
    feet are often that steep, so a sliding foot got other friction forces than in native MuJoCo
    (|dqacc| up to 6.5). With it the engines agree to 7e-12 in float64 (docs/mjx-contact-parity.md).
    It changes only MJX programs. Drop it when mujoco-mjx builds that frame itself (the parity test
    in tests/test_patches.py then passes without it). Code: mjx_mikt/envs/mjx_contact.py. Installed
    by `MjxPhysics` when it is built (not by `install_all`: that would import MJX, 3 s, everywhere).
    """
    from mjx_mikt.envs import mjx_contact as patch

    return patch.install()


def host_call() -> bool:
    """Adds a JAX primitive, `host_call`: pure_callback's broadcast_all without its per-call copies.

    It changes no existing program. The native backend calls MuJoCo from inside jit twice per
    control step; `jax.pure_callback` device_puts every argument on each call, 0.135 ms against
    0.018 ms for XLA's host callback directly on the 2-core CPU, about a quarter of the glue at 40
    envs. Drop it when pure_callback hands NumPy arrays over without copies (with another JAX that
    lacks the private names it falls back to pure_callback: False). Code: mjx_mikt/envs/host_call.py.
    Registered on the first `host_call`, i.e. by `NativePhysics`.
    """
    from mjx_mikt.envs import host_call as patch

    return patch.register() is not None


def warp_c_frame() -> bool:
    """MuJoCo Warp's plane-capsule contact with native MuJoCo's frame (backend mjx-warp only).

    The MuJoCo Warp bundled with mujoco-mjx 3.17 has MJX's 60-degree frame rule (see `mjx_contact`)
    in a Warp kernel that `mjx_contact` does not reach; its module's `plane_capsule` is replaced
    before the kernels are built, and patched kernels get a kernel cache of their own. Drop it with
    `mjx_contact`, when the bundled MuJoCo Warp builds that frame itself. Needs warp-lang (without it:
    False). Code: mjx_mikt/envs/warp_physics.py. Installed by `WarpPhysics` when it is built.
    """
    try:
        from mjx_mikt.envs import warp_physics as patch
    except ImportError:
        return False
    patch.install_c_frame()
    return True


PATCHES: Dict[str, Callable[[], bool]] = {f.__name__: f for f in (cpu_random, cpu_linalg, mjx_contact, host_call,
                                                                  warp_c_frame)}
PROCESS_WIDE = ("cpu_random", "cpu_linalg")  # what `install_all` installs; the others come with their physics


def install(*names: str) -> Dict[str, bool]:
    """Install the named patches (keys of `PATCHES`) in this process; {name: in effect}."""
    unknown = [name for name in names if name not in PATCHES]
    if unknown:
        raise ValueError(f"unknown patch(es) {', '.join(unknown)}; known: {', '.join(PATCHES)}")
    return {name: PATCHES[name]() for name in names}


def install_all() -> Dict[str, bool]:
    """Install the process-wide patches (`PROCESS_WIDE`), as every entry point does before it lowers a
    program; the physics' own fixes come with the physics (module docstring). {name: in effect}."""
    return install(*PROCESS_WIDE)


__all__ = ["PATCHES", "PROCESS_WIDE", "install", "install_all"] + list(PATCHES)
