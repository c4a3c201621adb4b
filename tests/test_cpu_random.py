"""cpu_random: Threefry lowered without a loop on the CPU, the same random bits."""

import io
import os
import subprocess
import sys

import jax
import numpy as np

from mjx_mikt import cpu_random, envs

DRAW = "jax.random.normal(jax.random.PRNGKey(3), (257,)), jax.random.bits(jax.random.PRNGKey(5), (64,))"


def test_making_an_env_unrolls_threefry_and_keeps_the_random_bits():
    envs.make("CentipedeFour", backend="mujoco")  # installs it, as make_train does
    assert cpu_random._installed and cpu_random.install()
    hlo = jax.jit(lambda k: jax.random.normal(k, (8,))).lower(jax.random.PRNGKey(0)).as_text()
    assert "while" not in hlo  # the rolled lowering is a 5-step fori_loop
    draws = [np.asarray(x) for x in jax.jit(lambda: eval(DRAW))()]
    # a process that never imported this package draws with JAX's own (rolled) lowering
    code = f"import jax, numpy as np, sys; np.save(sys.stdout.buffer, np.concatenate([np.asarray(x, np.float64) for x in ({DRAW})]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    reference = np.load(io.BytesIO(out.stdout))
    np.testing.assert_array_equal(np.concatenate([d.astype(np.float64) for d in draws]), reference)
