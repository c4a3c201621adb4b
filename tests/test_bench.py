"""The profile tool (`python -m bench.profile`) runs and its parts add up; no timing is asserted."""

import types
from pathlib import Path

import numpy as np
import pytest

from bench import profile


def test_profile_times_every_part_of_an_update():
    rows = profile.profile("CentipedeFour", num_envs=2, rollout_length=16, num_seeds=1, repeats=1,
                           methods=("mlpp", "mikt"))
    parts = [(r["part"], r.get("method")) for r in rows]
    # the rollout is timed for ppo and mikt only (mlpp's costs what ppo's does)
    assert parts == [("physics", None), ("learn", "mlpp"), ("rollout", "mikt"), ("learn", "mikt")]
    for r in rows:
        assert r["seeds"] == 1 and r["shape"] == "2x16"
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"] and np.isfinite(r["first_s"])
    text = profile.markdown(rows)
    assert text.count("\n| ") == 1 + len(rows)  # header row + one per part


def test_bench_training_rows_are_medians_at_the_presets_shapes():
    from bench import cell, run

    quick = run.plan(quick=True, platform_name="cpu")["training"]
    # the paper's optimisation at two shapes, ppo and mikt on the Fig. 3(a) student, and the main job's two runs
    for preset in ("paper-wide", "paper"):
        assert ("CentipedeEight", "mikt", preset, "mujoco") in quick
        assert ("CentipedeEight", "ppo", preset, "mujoco") in quick
    assert {("CentipedeFour", "ppo"), ("CentipedeEight", "mikt")} == {
        (robot, method) for robot, method, preset, _ in quick if preset == "wide-256x16"}
    row = cell.measure_cell("CentipedeFour", "mikt", 2, 16, num_seeds=1, updates=3)
    assert row["updates_timed"] == 3 and row["shape"] == "2x16"
    assert 0 < row["seconds_per_update_min"] <= row["seconds_per_update_median"] <= row["seconds_per_update_max"]
    row.update(preset="paper-wide", backend="mujoco", physics_env_steps_per_s=1000.0,
               ratio_to_physics=row["env_steps_per_s"] / 1000.0)
    report = {"date": "2026-11-25", "mode": "quick", "repeats": 3, "physics": [], "training": [row],
              "device": {"device": "cpu", "jax": "x", "mujoco": "y", "float_precision": "f32",
                         "matmul_precision": "default"}}
    text = run.markdown(report)
    assert "median [min, max] of 3 timed updates" in text
    assert "| CentipedeFour | mikt | paper-wide | 2x16 |" in text


def test_kernel_trace_sums_a_learning_phase_by_kernel_kind():
    from bench import ops

    assert ops.kernel_kind("dot.107") == "dot" and ops.kernel_kind("ynn_fusion.2") == "ynn_fusion"
    assert ops.kernel_kind("multiply_add_fusion.27") == "multiply_add_fusion" and ops.kernel_kind("copy") == "copy"
    r = ops.learn_kernels("CentipedeFour", "mikt", 2, 16, num_seeds=1, repeats=1)
    assert r["wall_ms"] > 0 and r["calls"] > 0
    assert all(ms >= 0 and calls >= 1 for ms, calls in r["kinds"].values())
    assert sum(ms for ms, _ in r["kinds"].values()) > 0
    assert "dot" in r["kinds"] or any("fusion" in k for k in r["kinds"])
    assert r["matmul_gflop"] > 0
    text = ops.markdown({"mikt": r}, top=3)
    assert text.startswith("**mikt**: wall") and text.count("\n| ") >= 2 + min(3, len(r["kinds"]))
    assert "Matmul arithmetic: " in text


def test_dot_rate_divides_the_chains_flops_by_the_median_timed_call(monkeypatch):
    """dot_rate on a clock whose timed calls take 4, 1 and 2 s: 2 x 8 x 16 x 32 flops per step, 50 steps,
    over the median 2 s (the compile-and-first call is not timed)."""
    from bench import ops

    ticks = iter([10.0, 14.0, 20.0, 21.0, 30.0, 32.0])
    monkeypatch.setattr(ops, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    assert ops.dot_rate(8, 16, 32, steps=50, repeats=3) == pytest.approx(2 * 8 * 16 * 32 * 50 / 2.0 / 1e9)
    assert next(ticks, None) is None  # each of the 3 timed calls read the clock twice


def test_matmul_flops_count_each_scan_step_and_the_costlier_branch():
    import jax
    import jax.numpy as jnp

    from bench import ops

    def f(x, w, v):
        y = jax.lax.scan(lambda c, _: (jnp.tanh(c @ w), None), x, None, length=7)[0]  # 7 x (4x3 @ 3x3)
        return jax.lax.cond(y.sum() > 0, lambda: (y @ v).sum(), lambda: y.sum())  # 4x3 @ 3x5 in one branch

    x, w, v = jnp.ones((4, 3)), jnp.ones((3, 3)), jnp.ones((3, 5))
    assert ops.matmul_flops(jax.make_jaxpr(f)(x, w, v)) == 2 * (7 * 4 * 3 * 3 + 4 * 3 * 5)
    # the gradient with respect to w: the scan's forward, and per step dL/dc and dL/dw (twice the
    # forward's); the branch's forward and its dL/dy (v is not differentiated)
    assert ops.matmul_flops(jax.make_jaxpr(jax.grad(f, argnums=1))(x, w, v)) == 2 * (3 * 7 * 36 + 2 * 60)


def test_cell_shape_is_envs_x_steps_or_a_one_line_error():
    import argparse

    import pytest

    from bench.cell import parse_shape

    assert parse_shape("64x32") == (64, 32) and parse_shape("8X256") == (8, 256)
    for bad in ("64", "64y32", "ax32", "8x256x2"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not ENVSxSTEPS"):
            parse_shape(bad)


@pytest.mark.slow  # every robot's physics and two trainings: 184 s of the 2026-12-07 suite; the default suite keeps
# test_device_bench_reads_committed_teachers_instead_of_training_them (the MIKT row, the report, the logs)
def test_device_bench_at_tiny_sizes_writes_physics_and_two_trainings(tmp_path):
    """`python -m bench.device --tiny` (what a lent GPU runs at full size) reports every part."""
    import json

    from bench import device

    assert device.main(["--tiny", "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(r["robot"], r["batch"]) for r in report["physics"]] == [(r, 4) for r in device.ROBOTS]
    assert all(r["env_steps_per_s"] > 0 for r in report["physics"])
    ppo, mikt = report["training"]
    assert ppo["exit_code"] == mikt["exit_code"] == 0, (ppo, mikt)
    assert ppo["env_steps"] == mikt["env_steps"] == 1024 and mikt["eval_return"] is not None
    text = (tmp_path / "report.md").read_text()
    assert "| MIKT CentipedeFour -> CentipedeEight | 0 |" in text and "| Ant | mujoco | 4 |" in text
    assert mikt["sitting_time_s"]["compiling"] > 0 and "compiling" in text  # where each run's time went


def test_bench_writes_each_row_as_it_goes_and_stops_at_its_time_limit(tmp_path, monkeypatch):
    """Each measured row is on disk before the next starts; past --minutes no row starts, and the report
    lists the rows not reached."""
    import json

    from bench import run

    seen = []

    def measure(robot, backend, batch, steps, repeats=1):
        written = sorted(tmp_path.glob("*.json"))
        seen.append(len(json.loads(written[0].read_text())["physics"]) if written else 0)
        return {"robot": robot, "backend": backend, "batch": batch, "env_steps_per_s": 1000.0, "compile_s": 0.1}

    clock = iter(range(0, 10_000, 25))  # 25 s per call of the clock: the 1-minute limit passes after 2 rows
    monkeypatch.setattr(run.env_bench, "measure", measure)
    monkeypatch.setattr(run.env_bench, "measure_native", lambda robot, batch, steps, repeats: dict(
        measure(robot, "native-outside-jax", batch, steps), env_steps_per_s=1250.0, timed_env_steps_per_s=[1250.0]))
    monkeypatch.setattr(run.time, "monotonic", lambda: float(next(clock)))
    assert run.main(["--quick", "--minutes", "1", "-o", str(tmp_path)]) == 0
    assert seen == [0, 0, 0, 2, 2, 2]  # each physics row (floor, jitted, floor) was written before the next row
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert [r["backend"] for r in report["physics"]] == ["native-outside-jax", "mujoco"] * 2
    assert report["physics"][1]["of_native"] == 0.8 and report["training"] == []
    plan = run.plan(quick=True, platform_name="cpu")
    assert len(report["not_measured"]) == sum(len(rows) for rows in plan.values()) - 2
    assert "1-minute limit" in report["stopped"]
    text = next(tmp_path.glob("*.md")).read_text()
    assert "Not measured (the 1-minute limit)" in text and "| CentipedeFour | mujoco | 8 | 1,000 | 0.80 | - |" in text


def test_bench_report_has_learning_and_peer_sections_from_their_rows():
    """The learning table gives each method's learning phase against PPO's; the peer table its ratio."""
    from bench import report as bench_report

    part = lambda part, method, s: {"robot": "CentipedeEight", "shape": "64x32", "seeds": 1, "part": part,
                                    "method": method, "median_s": s, "min_s": s, "max_s": s}
    report = {"date": "2026-12-04", "mode": "quick", "device": {"device": "cpu", "jax": "x", "mujoco": "y",
              "float_precision": "f32", "matmul_precision": "default"}, "load_average_at_start": 0.4,
              "physics": [], "training": [],
              "learning": [part("physics", None, 0.2), part("learn", "ppo", 0.5), part("learn", "mikt", 1.5)],
              "peers": [{"robot": "CentipedeFour", "num_envs": 8, "rollout_length": 256,
                         "sb3": {"env_steps_per_s": 1000.0}, "mjx_mikt": {"env_steps_per_s": 2500.0}, "ratio": 2.5}],
              "peer_versions": {"stable-baselines3": "2.9.2"}}
    text = bench_report.markdown(report)
    assert "load average 0.40 at the start" in text
    assert "| CentipedeEight | 64x32 | 1 | learn | mikt | 1.500 | [1.500, 1.500] | 3.00 |" in text
    assert "| CentipedeEight | 64x32 | 1 | learn | ppo | 0.500 | [0.500, 0.500] | 1.00 |" in text
    assert "| CentipedeFour | 8 x 256 | 1,000 | 2,500 | 2.50 |" in text and "stable-baselines3 2.9.2" in text


def test_bench_envs_gives_each_backend_its_ratio_to_native_physics(tmp_path, capsys):
    import json

    from bench import envs

    assert envs.main(["--robots", "CentipedeFour", "--batches", "2", "--steps", "3", "--native", "--repeats", "2",
                      "-o", str(tmp_path / "rows.json")]) == 0
    native, jitted = json.loads((tmp_path / "rows.json").read_text())
    assert (native["backend"], jitted["backend"]) == ("native-outside-jax", "mujoco")
    for row in (native, jitted):  # the best of the timed runs
        assert len(row["timed_env_steps_per_s"]) == 2 and row["env_steps_per_s"] == max(row["timed_env_steps_per_s"])
    assert "of_native" not in native
    assert jitted["of_native"] == jitted["env_steps_per_s"] / native["env_steps_per_s"] > 0
    assert "in_mujoco" not in native and len(jitted["timed_in_mujoco"]) == 2
    assert 0 < jitted["in_mujoco"] < 1  # inside MuJoCo for part of the jitted step's wall time, not all of it
    out = capsys.readouterr().out
    assert f"{jitted['of_native']:.2f} of native  {jitted['in_mujoco']:.2f} in MuJoCo" in out


def test_device_bench_reads_committed_teachers_instead_of_training_them(tmp_path):
    """--teacher-store: no PPO row is trained, the MIKT row reads the store's CentipedeFour teachers."""
    import json

    from bench import device

    store = Path(__file__).resolve().parents[1] / "results" / "wide-1024x8-2M" / "teachers"
    assert device.main(["--tiny", "--teacher-store", str(store), "--robots", "Ant",
                        "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["robot"] for r in report["physics"]] == ["Ant"]  # --robots
    ppo, mikt = report["training"]
    assert ppo["skipped"].startswith("teachers read from") and mikt["exit_code"] == 0, (ppo, mikt)
    assert mikt["env_steps"] > 0 and "--teacher-store " + str(store) in mikt["command"]
    # its XLA programs, counted apart from the time split (initial state, two phases of training, evaluation)
    assert mikt["programs"] >= 4 and mikt["xla_compile_s"] > 0
    assert f"| {mikt['programs']}, {mikt['xla_compile_s']:,.1f} |" in (tmp_path / "report.md").read_text()
    # the temporary run's progress lines and metrics stay beside the report
    assert "steps/s" in (tmp_path / "report-mikt.log").read_text()
    assert (tmp_path / "report-mikt-metrics.csv").read_text().startswith("update")


def test_a_training_that_ignores_sigterm_at_the_budget_is_killed_after_the_grace(tmp_path, monkeypatch):
    """A run stopped mid-compile handles SIGTERM late: bench.device kills it after TERM_GRACE_S and still
    returns its row and log, inside the lease's limit."""
    import subprocess
    import sys
    import time

    from bench import device

    stubborn = [sys.executable, "-c", "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('compiling', file=sys.stderr, flush=True); time.sleep(120)"]
    real_popen = subprocess.Popen
    monkeypatch.setattr(device.subprocess, "Popen", lambda cmd, **kw: real_popen(stubborn, **kw))
    monkeypatch.setattr(device, "TERM_GRACE_S", 1)
    t0 = time.monotonic()
    row = device.train([], tmp_path / "run", time.monotonic() + 2, keep=tmp_path / "report-mikt")
    assert row["stopped_at_budget"] and row["killed_after_grace"] and time.monotonic() - t0 < 30
    assert "compiling" in (tmp_path / "report-mikt.log").read_text()
