"""XLA compiles: counted, timed, announced, kept across runs.

- Every XLA program the process compiles (or reads from the persistent cache) is recorded with its
  seconds through `jax.monitoring` (`records`); a run's summary.json lists them (`summary`).
- `compile_program` compiles a run's big programs (its training chunk, its evaluation, its initial
  state) ahead of time in a worker thread (`signals.in_thread`), so that a signal is answered during
  a compile, after announcing an MJX compile, which takes tens of seconds on a CPU and a minute or
  more on a GPU.
- `compiler_options`: the XLA options of every training program (the project's, and bench's).
- `use_cache` turns on JAX's persistent compilation cache (`--compile-cache DIR`, default
  `~/.cache/mjx_mikt/jax`; `--no-compile-cache`): a program compiled once is read back by later
  runs of the same shapes (a --resume, a rerun, a grid's cells). JAX writes no program that calls
  back into Python, i.e. none of native MuJoCo's (docs/performance.md, "Compiles").
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import jax
from jax import monitoring

from mjx_mikt import signals

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"  # jax._src.dispatch.BACKEND_COMPILE_EVENT
CACHE_USED = "/jax/compilation_cache/compile_requests_use_cache"
CACHE_HIT = "/jax/compilation_cache/cache_hits"
SMALL_S = 0.5  # programs compiled faster than this are summed in one entry of a summary
OFF = "off"  # the --compile-cache value that --no-compile-cache sets

_records: List[Dict[str, Any]] = []
_local = threading.local()  # per thread: the label of the program compiling, the cache events seen


def _on_event(event: str, **kwargs) -> None:
    if event == CACHE_USED:
        _local.cache = "miss"
    elif event == CACHE_HIT:
        _local.cache = "hit"


def _on_duration(event: str, seconds: float, **kwargs) -> None:
    if event != BACKEND_COMPILE:
        return
    label = getattr(_local, "label", None) or kwargs.get("fun_name", "?")
    _records.append({"program": label, "seconds": round(float(seconds), 2),
                     "cache": getattr(_local, "cache", None) or OFF})
    _local.cache = None


monitoring.register_event_listener(_on_event)
monitoring.register_event_duration_secs_listener(_on_duration)


def mark() -> int:
    """A position in the record of this process's compiles (`summary(since=mark())`)."""
    return len(_records)


def records(since: int = 0) -> List[Dict[str, Any]]:
    """Every compile since `since`: {"program", "seconds", "cache": "hit" | "miss" | "off"}, and for
    the programs of `compile_program` "trace_seconds" (and "cache": "uncacheable" for one with host
    callbacks)."""
    return [dict(r) for r in _records[since:]]


def summary(since: int = 0) -> List[Dict[str, Any]]:
    """summary.json's "compiles": the named programs and those of SMALL_S s or more one by one, the
    rest in one entry with its "count"."""
    kept, small = [], []
    for r in records(since):
        (kept if r["seconds"] >= SMALL_S or r["program"] in NAMED else small).append(r)
    if small:
        kept.append({"program": f"{len(small)} small programs (under {SMALL_S} s each)",
                     "seconds": round(sum(r["seconds"] for r in small), 2), "count": len(small),
                     "cache": next((c for c in ("hit", OFF) if all(r["cache"] == c for r in small)), "miss")})
    return kept


def describe(compiles: List[Dict[str, Any]]) -> str:
    """'5 programs, 3 from the compile cache' for the end-of-run time line."""
    count = sum(r.get("count", 1) for r in compiles)
    hits = sum(r.get("count", 1) for r in compiles if r.get("cache") == "hit")
    return f"{count} program{'s' if count != 1 else ''}" + (f", {hits} from the compile cache" if hits else "")


def compiler_options(num_seeds: int) -> Dict[str, str]:
    """XLA options for a training program that vmaps `num_seeds` seeds (for `jax.jit(compiler_options=)`).

    On a CPU (measured in bench/results/cpu-compiler-options-2026-12-05.md):
    - XLA's tree-reduction rewrite is off. It splits every sum over more than 32
      elements (a bias gradient over a 64-sample minibatch, a loss mean) into a
      reduce-window kernel and a reduce for pairwise accuracy; MIKT's minibatch
      step ran 57 extra kernels for it. Without it MIKT's learning phase at
      64 x 32 (CentipedeEight, one seed) took 0.213 s per update against 0.25 s,
      and 0.836 s against 0.88-0.93 s at 8 x 256 with five seeds; PPO's fell 4-6%.
      The sums are then taken in order: a float32 sum of n terms can gather up
      to about n x 6e-8 relative error instead of log2(n) x 6e-8; the sums here
      run over a minibatch, a batch of envs or at most one update's samples.
    - With one seed, XLA's YNNPACK fusions are off too: a minibatch of 64 samples
      makes every matmul small, and YNNPACK's per-call cost then outweighs its
      kernels (MIKT 0.446 against 0.547 s per update, means of five interleaved
      medians, bench/results/ynn-fusion-cpu-2026-12-01.md). With five seeds the
      matmuls are five times larger and YNNPACK is faster, so it stays on there.
    Float results differ from XLA's defaults in the last bits; each setting is
    deterministic. Other backends keep XLA's defaults.
    """
    if jax.default_backend() != "cpu":
        return {}
    options = {"xla_disable_hlo_passes": "tree_reduction_rewriter"}
    if num_seeds == 1:
        options["xla_cpu_experimental_ynn_fusion_type"] = ""
    return options


# ------------------------------------------------------------------ compiling a run's programs
NAMED = ("training program", "training program (with the teacher)", "evaluation program",
         "evaluation program (with the teacher)", "initial state")


def compile_program(jitted, args: tuple, program: str, announce: str = "", times=None):
    """`jitted.lower(*args).compile()` in a worker thread (interruptible; see `signals.in_thread`),
    recorded under `program` with its XLA seconds and, as "trace_seconds", those of tracing and
    lowering it to XLA; prints `announce` first if given. Adds both to times.seconds["compiling"]
    when `times` (a progress.SittingTimes) is given."""
    if announce:
        print(announce, file=sys.stderr, flush=True)

    def work():
        _local.label = program
        try:
            t = time.perf_counter()
            lowered = jitted.lower(*args)
            traced = time.perf_counter() - t
            compiled = lowered.compile()
        finally:
            _local.label = None
        # a program that calls back into Python (native MuJoCo) is never written to the cache (private API)
        callbacks = getattr(getattr(lowered, "_lowering", None), "compile_args", {}).get("host_callbacks")
        for record in reversed(_records):  # the compile just recorded: its tracing too, which no cache saves
            if record["program"] == program:
                record["trace_seconds"] = round(traced, 2)
                if callbacks and record["cache"] == "miss":
                    record["cache"] = "uncacheable"
                break
        return compiled

    t0 = time.perf_counter()
    try:
        return Program(signals.in_thread(work), jitted)
    finally:
        if times is not None:
            times.seconds["compiling"] += time.perf_counter() - t0


def compile_once(programs: Dict, make_jitted, args: tuple, program: str, announce: str = "", times=None, key=()):
    """`compile_program(make_jitted(), args, ...)` unless `programs` (a dict its owner keeps, e.g. a
    Trainer's) already holds the same program for arguments of the same shapes and dtypes: a second run
    with the same trainer (a resume in the same process, the tests' runs) compiles nothing again.
    `key` adds what else the program depends on (a chunk length, a phase)."""
    leaves, tree = jax.tree.flatten(args)
    signature = (program, key, tree, tuple((tuple(getattr(x, "shape", ())), str(getattr(x, "dtype", type(x))))
                                           for x in leaves))
    if signature not in programs:
        programs[signature] = compile_program(make_jitted(), args, program, announce, times)
    return programs[signature]


class Program:
    """A program compiled ahead of time. Called with arguments sharded otherwise than those it was compiled
    for (with several devices XLA may shard a program's outputs, the next chunk's state, otherwise than
    its inputs), it hands them to the jitted function from then on, which compiles for them as a jit
    call would have (in the main thread: that compile is not interruptible)."""

    def __init__(self, compiled, jitted):
        self.compiled, self.jitted = compiled, jitted

    def __call__(self, *args):
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except ValueError as err:  # JAX checks the arguments' shardings before it runs anything
                if not str(err).startswith("Computation was compiled for input"):
                    raise
                self.compiled = None
        return self.jitted(*args)


def announcement(program: str, config) -> str:
    """'compiling the training program (MJX, 256 envs, 1 seed): ...' for an MJX backend, '' for native
    MuJoCo (whose programs compile in seconds)."""
    backend = config.run.backend
    if backend not in ("mjx", "mjx-warp"):
        return ""
    shape = (f"{config.run.eval_episodes} episodes" if program.startswith("evaluation")
             else f"{config.ppo.num_envs:,} envs")
    seeds = f"{config.run.num_seeds} seed{'s' if config.run.num_seeds != 1 else ''}"
    device = jax.default_backend()
    usual = "tens of seconds on a CPU" if device == "cpu" else f"about a minute or more on a {device.upper()}"
    cached = "; seconds if the compile cache holds it" if cache_folder_in_use() else ""
    return f"compiling the {program} ({backend.upper()}, {shape}, {seeds}): {usual}{cached}"


# ------------------------------------------------------------------ the persistent compilation cache
def default_cache_folder() -> Path:
    """$JAX_COMPILATION_CACHE_DIR if set, else <user cache dir>/mjx_mikt/jax ($XDG_CACHE_HOME or ~/.cache)."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mjx_mikt" / "jax"


def use_cache(setting: str) -> Optional[Path]:
    """Set JAX's persistent compilation cache from --compile-cache (`setting`: a folder, '' for the
    default, OFF for none), before the process compiles anything; returns the folder (None: off). A
    folder that cannot be created is said in one line and the run goes on without a cache."""
    if setting == OFF:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    folder = Path(setting).expanduser() if setting else default_cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"warning: no compile cache: cannot create {folder} ({err.strerror or err}); "
              "--compile-cache DIR chooses another folder", file=sys.stderr, flush=True)
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    return folder


def cache_folder_in_use() -> Optional[str]:
    """The persistent cache's folder if it is on, else None."""
    if not jax.config.jax_enable_compilation_cache:
        return None
    return jax.config.jax_compilation_cache_dir or None
