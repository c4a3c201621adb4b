"""The project's changes to JAX, jaxlib and MJX (mjx_mikt/patches.py): importing the library installs none;
each is in effect where it is installed, seen in how programs lower or in what they compute.

cpu_linalg's numbers and its deadlock are in test_cpu_linalg.py, host_call's semantics in
test_host_call.py, warp_c_frame in test_warp.py (with warp-lang)."""

import io
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO
from mjx_mikt import patches
from patch_effects import lapack, threefry_loop

DRAW = "jax.random.normal(jax.random.PRNGKey(3), (257,)), jax.random.bits(jax.random.PRNGKey(5), (64,))"


def fresh_process(*steps):
    """tests/patch_effects.py's observations in a new process (no conftest: nothing installed first)."""
    out = subprocess.run([sys.executable, str(REPO / "tests" / "patch_effects.py"), *steps], cwd=REPO,
                         capture_output=True, text=True, timeout=600, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_importing_the_library_installs_nothing_and_mjx_physics_installs_its_own_fixes():
    imported, mjx_built, entry = fresh_process("import-all", "observe", "mjx-physics", "observe", "install-all",
                                               "observe")
    # every module of mjx_mikt imported: JAX's own lowerings, MJX's own contact frame
    assert imported["threefry_loop"] and imported["lapack"]
    assert imported["mjx_tangent"] == [0.0, 1.0, 0.0] != imported["native_tangent"]
    # building MjxPhysics installs its fixes: no LAPACK on a CPU, native MuJoCo's contact frame; not Threefry's
    assert mjx_built["threefry_loop"] and not mjx_built["lapack"]
    assert mjx_built["mjx_tangent"] == mjx_built["native_tangent"] == [1.0, 0.0, 0.0]
    # an entry point's install_all adds the process-wide ones
    assert not entry["threefry_loop"] and not entry["lapack"]


def test_install_all_installs_the_process_wide_patches_and_leaves_mjx_alone():
    (after,) = fresh_process("install-all", "mjx", "observe")  # before: as after "import-all" above
    assert not after["threefry_loop"] and not after["lapack"]
    assert after["mjx_tangent"] == [0.0, 1.0, 0.0] != after["native_tangent"]  # mjx_contact is MjxPhysics' own


def test_the_tests_run_with_the_process_wide_patches_and_install_is_idempotent():
    assert not threefry_loop() and not lapack()  # tests/conftest.py installed them, as the entry points do
    assert patches.install_all() == {"cpu_random": True, "cpu_linalg": True}
    assert not threefry_loop() and not lapack()
    with pytest.raises(ValueError, match="unknown patch.*known: cpu_random"):
        patches.install("cpu_randmo")


def test_every_patch_says_why_and_when_to_drop_it():
    for name, patch in patches.PATCHES.items():
        doc = " ".join(patch.__doc__.split())
        assert "Drop it when" in doc or "Drop it with" in doc, name
        assert "Code: mjx_mikt/" in doc and ("Installed by" in doc or "Registered on" in doc), name
    design = (REPO / "docs" / "design.md").read_text()
    assert all(f"`{name}`" in design for name in patches.PATCHES)


def test_unrolled_threefry_draws_the_same_random_bits():
    """cpu_random changes how the draws lower, not what they are: equal to a process that never imported
    this package (JAX's own lowering)."""
    draws = [np.asarray(x) for x in jax.jit(lambda: eval(DRAW))()]
    code = (f"import jax, numpy as np, sys; np.save(sys.stdout.buffer, "
            f"np.concatenate([np.asarray(x, np.float64) for x in ({DRAW})]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    reference = np.load(io.BytesIO(out.stdout))
    np.testing.assert_array_equal(np.concatenate([d.astype(np.float64) for d in draws]), reference)


def test_host_call_hands_its_function_numpy_arrays():
    """host_call (registered on its first call) is not pure_callback: the function gets NumPy arrays."""
    from mjx_mikt.envs import host_call as module

    if not module.FAST_PATH:
        pytest.skip("this JAX lacks the private names host_call uses: it falls back to pure_callback")
    seen = []

    def double(x):
        seen.append(type(x))
        return (x * 2,)

    out = jax.jit(lambda x: module.host_call(double, (jax.ShapeDtypeStruct((3,), jnp.float32),), x))(jnp.ones(3))
    np.testing.assert_array_equal(out[0], [2.0, 2.0, 2.0])
    assert seen == [np.ndarray] and patches.install("host_call") == {"host_call": True}
