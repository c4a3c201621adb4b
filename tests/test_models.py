"""The robots' MJCF: generator output, checked-in files, dims of SPEC's table."""

import subprocess
import sys

import mujoco
import numpy as np
import pytest

import centipede_models
from centipede_models.generator import actuated_joints, make_centipede

# SPEC §1: robot -> (nq, nv, nbody, action dim)
SPEC_DIMS = {
    "CentipedeFour": (17, 16, 11, 10),
    "CentipedeSix": (23, 22, 16, 16),
    "CentipedeEight": (29, 28, 21, 22),
    "CpCentipedeSix": (23, 22, 16, 12),
    "CpCentipedeEight": (29, 28, 21, 18),
    "Ant": (15, 14, 14, 8),
    "Hopper": (6, 6, 5, 3),
}


@pytest.mark.parametrize("name", sorted(centipede_models.CENTIPEDES))
def test_checked_in_centipedes_equal_the_generator(name):
    legs, crippled = centipede_models.CENTIPEDES[name]
    assert centipede_models.load(name) == make_centipede(legs, crippled)


@pytest.mark.parametrize("name", sorted(SPEC_DIMS))
def test_model_dims_match_spec(name):
    model = mujoco.MjModel.from_xml_path(str(centipede_models.xml_path(name)))
    assert (model.nq, model.nv, model.nbody, model.nu) == SPEC_DIMS[name]


def test_centipede_facts():
    model = mujoco.MjModel.from_xml_string(make_centipede(6))
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4 and model.opt.timestep == 0.01
    joint = lambda n: model.joint(n)
    np.testing.assert_allclose(np.degrees(joint("lefthip_0").range), [-40, 40])
    np.testing.assert_allclose(np.degrees(joint("ankle_3").range), [30, 100])
    np.testing.assert_allclose(np.degrees(joint("body_2").range), [-20, 20])
    np.testing.assert_allclose(np.degrees(joint("bodyupdown_1").range), [-10, 30])
    np.testing.assert_allclose(joint("ankle_0").axis, [1, 0, 0])  # left leg: axis (-s,0,0), s=-1
    np.testing.assert_allclose(joint("ankle_1").axis, [-1, 0, 0])
    np.testing.assert_allclose(model.body("legbody_0").pos, [0, -0.28, 0])
    np.testing.assert_allclose(model.body("torso_2").pos, [0.5, 0, 0])
    assert model.qpos0[2] == 0.75
    names = [model.joint(model.actuator_trnid[i, 0]).name for i in range(model.nu)]
    assert names == ["lefthip_0", "ankle_0", "righthip_1", "ankle_1", "lefthip_2", "ankle_2", "righthip_3",
                     "ankle_3", "body_1", "bodyupdown_1", "lefthip_4", "ankle_4", "righthip_5", "ankle_5",
                     "body_2", "bodyupdown_2"]
    np.testing.assert_array_equal(model.actuator_gear[:, 0], [150] * 8 + [100, 100] + [150] * 4 + [100, 100])
    assert model.geom("torsoGeom_1").size[0] == 0.25


def test_crippled_drops_the_motors_of_legs_0_and_1():
    full, crippled = actuated_joints(8), actuated_joints(8, crippled=True)
    assert [j for j, _ in full if j not in dict(crippled)] == ["lefthip_0", "ankle_0", "righthip_1", "ankle_1"]


def test_generator_rejects_odd_legs():
    with pytest.raises(ValueError, match="even number of legs"):
        make_centipede(5)


def test_cli_writes_a_ten_legged_robot(tmp_path):
    out = tmp_path / "ten.xml"
    subprocess.run([sys.executable, "-m", "centipede_models", "--legs", "10", "--crippled", "-o", str(out)],
                   check=True, capture_output=True)
    model = mujoco.MjModel.from_xml_path(str(out))
    assert (model.nq, model.nv, model.nbody, model.nu) == (35, 34, 26, 24)
