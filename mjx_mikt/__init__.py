"""mjx_mikt: MIKT (mutual-information knowledge transfer, UAI 2020) in JAX on MuJoCo / MJX."""

import os

# MuJoCo picks its OpenGL backend when it is first imported; headless EGL (software Mesa on a
# CPU machine, the GPU's EGL in the Docker image) is the one that works without a display.
os.environ.setdefault("MUJOCO_GL", "egl")
