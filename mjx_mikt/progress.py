"""What a running training tells its user about time: the progress line (`Progress`) and where one
sitting's wall time went (`SittingTimes`, summary.json's "time_s")."""

from __future__ import annotations

import collections
import contextlib
import sys
import time
from typing import Dict, Iterator

import numpy as np

from mjx_mikt import compiles as compiles_lib


def _format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress:
    """One line on stderr per chunk (at most every `interval` s): steps, return, steps/s, ETA.

    The rate is the median over the last `window` timed chunks (the chunk that compiled
    excluded): one chunk that stalled (a SIGSTOP, a suspended laptop, a busy neighbour) would
    otherwise drag the rate and the ETA down for the rest of the run. Until a chunk without a
    compile has run, the rate of the chunks so far, compile included, is shown and marked so.
    """

    def __init__(self, label: str, total_updates: int, batch: int, interval: float = 5.0,
                 num_seeds: int = 1, window: int = 15):
        self.label, self.total, self.batch, self.interval = label, total_updates, batch, interval
        self.num_seeds = num_seeds
        self.last_print = 0.0
        self.chunk_rates: collections.deque = collections.deque(maxlen=window)
        self.compiling = [0, 0.0]  # updates and seconds of the chunks that compiled

    def add(self, updates: int, seconds: float, compiled: bool) -> None:
        if not compiled and seconds > 0:
            self.chunk_rates.append(updates * self.batch / seconds)
        elif compiled:
            self.compiling[0] += updates
            self.compiling[1] += seconds

    @property
    def steps_per_second(self) -> float:
        """Env steps per second per seed: median of the recent chunks' rates (nan before one)."""
        return float(np.median(self.chunk_rates)) if self.chunk_rates else float("nan")

    @property
    def rate_with_compile(self) -> float:
        """Env steps per second per seed over the chunks that compiled (nan before one)."""
        updates, seconds = self.compiling
        return updates * self.batch / seconds if seconds > 0 else float("nan")

    def show(self, update: int, last_return: float, force: bool = False) -> None:
        now = time.time()
        if not force and now - self.last_print < self.interval:
            return
        self.last_print = now
        sps = self.steps_per_second
        measured = sps == sps
        if not measured:  # only chunks that compiled so far: their rate, compile included (an upper bound on the ETA)
            sps = self.rate_with_compile
        eta = (self.total - update) * self.batch / sps if sps == sps and sps > 0 else float("nan")
        ret = f"{last_return:9.1f}" if last_return == last_return else "        -"
        seeds = f" per seed x {self.num_seeds}" if self.num_seeds > 1 else ""
        rate = (f"{sps:,.0f} steps/s{seeds}" + ("" if measured else " (incl. compile)")) if sps == sps \
            else "- steps/s"
        print(
            f"[{self.label}] {100 * update / self.total:5.1f}% update {update}/{self.total} "
            f"steps {update * self.batch:,}/{self.total * self.batch:,} | return (last 100 ep) {ret} | "
            f"{rate} | ETA {_format_duration(eta) if eta == eta else '?'}",
            file=sys.stderr,
            flush=True,
        )


class SittingTimes:
    """Wall seconds of one sitting of a run (from its start or --resume to its end), by what they went to.

    - training: chunks of updates (their programs compiled beforehand);
    - compiling: tracing and compiling the training, evaluation and initial-state programs (or
      reading them from the compile cache); every program compiled, these and the small ones, is
      listed by `compiles()`;
    - evaluation: the deterministic evaluations;
    - checkpoints: saving them; videos: the --video-every clips and the final video;
    - other: the rest (building the env and agent, logging, the summary).
    """

    PHASES = ("training", "compiling", "evaluation", "checkpoints", "videos")

    def __init__(self):
        self.started = time.perf_counter()
        self.seconds = dict.fromkeys(self.PHASES, 0.0)
        self.compile_mark = compiles_lib.mark()

    def compiles(self):
        """The XLA programs compiled in this sitting, with their seconds (compiles.summary)."""
        return compiles_lib.summary(self.compile_mark)

    @contextlib.contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - t0

    def as_dict(self) -> Dict[str, float]:
        """Seconds per phase, 'other' and 'total', rounded to 0.1 s."""
        total = time.perf_counter() - self.started
        out = {k: round(v, 1) for k, v in self.seconds.items()}
        return dict(out, other=round(max(0.0, total - sum(self.seconds.values())), 1), total=round(total, 1))
