"""The profile tool (`python -m bench.profile`) runs and its parts add up; no timing is asserted."""

import numpy as np

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
