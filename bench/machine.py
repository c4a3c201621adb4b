"""The machine a benchmark ran on (`device_info`) and where reports go (`RESULTS`).

Shared by every bench entry point (bench.run, bench.device, bench.peers, bench.gym_speed), so that
none of them imports another's command-line module for it.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Dict

import jax
import mujoco

RESULTS = Path(__file__).resolve().parent / "results"


def device_info() -> Dict[str, str]:
    """The device (CPU model and cores, or accelerator kind and count), platform, versions and precisions."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        model = platform.processor() or "cpu"
        try:
            text = Path("/proc/cpuinfo").read_text()
            match = re.search(r"model name\s*:\s*(.+)", text)
            model = match.group(1).strip() if match else model
        except OSError:
            pass
        name = f"{model} ({os.cpu_count()} cores)"
    else:
        name = f"{device.device_kind} x{jax.device_count()}"
    return {
        "device": name,
        "platform": device.platform,
        "jax": jax.__version__,
        "mujoco": mujoco.__version__,
        "float_precision": "float64" if jax.config.jax_enable_x64 else "float32 (physics inside native MuJoCo: float64)",
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "python": platform.python_version(),
    }
