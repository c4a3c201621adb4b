"""Tiny experiment grids for the tests: cells of a few updates, run in the test's own process.

`experiments.main(argv, runner=...)` hands each cell's `mjx_mikt.run` argv to `runner`; `RecordingRunner`
runs it here (no subprocess: compiles hit the session's cache) and keeps the argv for the assertions."""

from typing import List

from mjx_mikt import run as cli

# `mjx_mikt.run` flags of a cell that trains in seconds: 2 envs x 32 steps, one epoch, a 10-step eval
TINY = ["--num-envs=2", "--rollout-length=32", "--num-minibatches=2", "--update-epochs=1", "--eval-episodes=1",
        "--eval-max-steps=10", "--eval-every=2", "--checkpoint-every=2", "--updates-per-chunk=2", "--no-video"]
# the same as `experiments` flags: 2 seeds x 4 updates per cell
TINY_ARGS = [f"--run-arg={flag}" for flag in TINY] + ["--seeds", "2", "--timesteps", str(4 * 64)]


class RecordingRunner:
    """A `runner` for `experiments.main`: runs each cell's argv with `mjx_mikt.run.main`, records it."""

    def __init__(self):
        self.calls: List[List[str]] = []

    def __call__(self, argv) -> int:
        self.calls.append(list(argv))
        return cli.main(argv)
