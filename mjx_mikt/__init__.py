"""mjx_mikt: MIKT (mutual-information knowledge transfer, UAI 2020) in JAX on MuJoCo / MJX."""

import ctypes
import os
import sys


def default_gl_backend() -> str:
    """The MUJOCO_GL this package sets when the user has not: headless EGL where libEGL loads.

    MuJoCo picks its OpenGL backend when it is first imported, and with MUJOCO_GL=egl but no
    libEGL (a bare GPU server) that import itself fails, training included; there rendering is
    switched off instead ('disable'), and a video asked for says why in one line. Off Linux,
    MuJoCo's own default.
    """
    if not sys.platform.startswith("linux"):
        return ""
    try:
        ctypes.CDLL("libEGL.so.1")
    except OSError:
        return "disable"
    return "egl"


# EGL renders in software through Mesa on a CPU machine and on the GPU in the Docker image.
if "MUJOCO_GL" not in os.environ:
    _backend = default_gl_backend()
    if _backend:
        os.environ["MUJOCO_GL"] = _backend
