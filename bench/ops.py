"""Which XLA kernels a learning phase spends its time in: `python -m bench.ops [--methods ppo,mikt]`.

`python -m bench.profile` says how long an update's learning phase takes per
method; this says why. It traces `--repeats` learning phases of one cell
(the same program `bench.profile` times, compiled with the training loop's
`compiler_options`) with `jax.profiler`, with XLA:CPU's per-kernel trace
events on, and sums the events by kernel kind (`dot.107` and `dot.100` are
both `dot`). Per kind: milliseconds per update (summed over XLA's threads),
calls per update and microseconds per call.

The trace adds 2-3 microseconds to every kernel call (MIKT on the slow
machine of 2026-12-01: 888 ms per update traced, 151k calls, against about
446 ms untraced), so `wall` is larger than `bench.profile`'s figure; compare
methods with each other, not with the untraced timings.

Each method's line also gives the matmul arithmetic of one learning phase
(`matmul_flops`, counted from the program's jaxpr: 2 x output size x
contracted size per `dot_general`, times the trip counts of the scans around
it), and the rate the traced `dot` kernels reached on it. The learning phase
cannot take less than that arithmetic at the machine's matmul rate, which
`dot_rate` measures untraced on chains of minibatch-sized matmuls (64 samples
against a 64- and a 181-wide layer: CentipedeEight's hidden and observation
widths); `--no-dot-rate` leaves that out.
"""

from __future__ import annotations

import argparse
import collections
import glob
import math
import re
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core

from bench.cell import build_cell, cell_arguments
from mjx_mikt.compiles import compiler_options

XLA_THREADS = "tf_XLAEigen"  # trace lines of XLA:CPU's intra-op threads: where the kernels run
WAIT_EVENT = "ThunkExecutor::Execute (wait for completion)"  # the caller's wait: one program's wall time


def kernel_kind(event_name: str) -> str:
    """'dot.107' -> 'dot', 'ynn_fusion.2' -> 'ynn_fusion', 'multiply_add_fusion.27' -> 'multiply_add_fusion'."""
    return re.sub(r"[._]\d+$", "", event_name).split(".")[0]


def trace_kernels(fn: Callable, arg, repeats: int) -> Dict:
    """Trace `repeats` calls of the compiled fn(arg) -> {'wall_ms', 'calls', 'kinds': {kind: (ms, calls)}}, per call."""
    jax.block_until_ready(fn(arg))  # compile outside the trace
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder):
            for _ in range(repeats):
                jax.block_until_ready(fn(arg))
        data = jax.profiler.ProfileData.from_file(glob.glob(f"{folder}/**/*.xplane.pb", recursive=True)[0])
    ns, calls = collections.Counter(), collections.Counter()
    wall_ns = 0
    for plane in data.planes:
        for line in plane.lines:
            for event in line.events:
                if event.name == WAIT_EVENT:
                    wall_ns += event.duration_ns
                elif line.name.startswith(XLA_THREADS) and "ThunkExecutor" not in event.name \
                        and not event.name.startswith("end:"):
                    kind = kernel_kind(event.name)
                    ns[kind] += event.duration_ns
                    calls[kind] += 1
    kinds = {k: (ns[k] / 1e6 / repeats, calls[k] / repeats) for k in ns}
    return {"wall_ms": wall_ns / 1e6 / repeats, "calls": sum(calls.values()) / repeats, "kinds": kinds}


def matmul_flops(jaxpr) -> float:
    """Floating-point operations of the dot_generals a (closed) jaxpr runs, scans counted `length` times.

    A while loop's body counts once (its trip count is not in the jaxpr); a
    cond counts its costliest branch. The training program's loops are scans.
    """
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0.0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            lhs_shape = eqn.invars[0].aval.shape
            total += 2.0 * math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs_shape[d] for d in lhs_contract)
            continue
        inner = [v for v in eqn.params.values() if isinstance(v, (jax_core.Jaxpr, jax_core.ClosedJaxpr))]
        branches = eqn.params.get("branches", ())
        times = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
        total += times * sum(matmul_flops(j) for j in inner)
        if branches:
            total += max(matmul_flops(b) for b in branches)
    return total


DOT_SHAPES = ((64, 64, 64), (64, 181, 64))  # (samples, in, out) of the minibatch matmuls timed by dot_rate


def dot_rate(samples: int, width_in: int, width_out: int, steps: int = 2000, repeats: int = 5) -> float:
    """GFLOP/s of one seed's (samples, width_in) @ (width_in, width_out) matmul, chained `steps` times in a scan.

    Compiled as a one-seed training program is (`compiler_options(1)`); the
    median of `repeats` calls. Each step also adds the product's sum to the
    carry (so the chain cannot be cut), which makes this a slight underestimate.
    """
    x, w = jnp.full((samples, width_in), 0.01), jnp.full((width_in, width_out), 0.01)

    def chain(x):
        return jax.lax.scan(lambda c, _: (c + 1e-6 * jnp.sum(c @ w), None), x, None, length=steps)[0]

    fn = jax.jit(chain, compiler_options=compiler_options(1))
    jax.block_until_ready(fn(x))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(x))
        times.append(time.perf_counter() - start)
    return 2.0 * samples * width_in * width_out * steps / statistics.median(times) / 1e9


def learn_kernels(robot: str, method: str, num_envs: int, rollout_length: int, num_seeds: int,
                  repeats: int) -> Dict:
    """trace_kernels of one learning phase (GAE, epochs x minibatches) of `method`, coupled phase for MIKT."""
    _, trainer, state = build_cell(robot, method, num_envs, rollout_length, num_seeds)
    use_teacher = trainer.agent.uses_teacher
    # XLA:CPU emits a trace event per kernel only with xla_cpu_enable_xprof_traceme
    options = dict(compiler_options(num_seeds), xla_cpu_enable_xprof_traceme=True)
    state, traj = jax.jit(jax.vmap(lambda s: trainer._rollout(s, use_teacher)), compiler_options=options)(state)
    learn_fn = jax.vmap(lambda pair: trainer.learn(pair[0], pair[1], use_teacher))
    learn = jax.jit(learn_fn, compiler_options=options)
    result = trace_kernels(learn, (state, traj), repeats)
    result["matmul_gflop"] = matmul_flops(jax.make_jaxpr(learn_fn)((state, traj))) / 1e9
    return result


def markdown(results: Dict[str, Dict], top: int = 8) -> str:
    """One table per method: its `top` kernel kinds by time, and the rest summed."""
    lines: List[str] = []
    for method, r in results.items():
        total = sum(ms for ms, _ in r["kinds"].values())
        lines += [f"**{method}**: wall {r['wall_ms']:.0f} ms per update (traced), kernels {total:.0f} ms "
                  f"summed over threads, {r['calls']:,.0f} kernel calls", ""]
        if "matmul_gflop" in r:
            dot_ms = r["kinds"].get("dot", (0.0, 0))[0]
            rate = f", {r['matmul_gflop'] / dot_ms * 1e3:.0f} GFLOP/s in the traced `dot` kernels" if dot_ms else ""
            lines += [f"Matmul arithmetic: {r['matmul_gflop']:.2f} GFLOP per update{rate}.", ""]
        lines += ["| kernel kind | ms per update | calls per update | us per call |", "|---|---:|---:|---:|"]
        ranked = sorted(r["kinds"].items(), key=lambda kv: -kv[1][0])
        rest_ms, rest_calls = 0.0, 0.0
        for i, (kind, (ms, calls)) in enumerate(ranked):
            if i < top:
                lines.append(f"| {kind} | {ms:.1f} | {calls:,.0f} | {1e3 * ms / calls:.1f} |")
            else:
                rest_ms, rest_calls = rest_ms + ms, rest_calls + calls
        if rest_calls:
            lines.append(f"| (the other {len(ranked) - top} kinds) | {rest_ms:.1f} | {rest_calls:,.0f} | "
                         f"{1e3 * rest_ms / rest_calls:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    cell_arguments(parser, shape="64x32", seeds=1, repeats=3, repeats_help="traced learning phases per method",
                   methods="ppo,mikt")
    parser.add_argument("--no-dot-rate", action="store_true",
                        help="skip the untraced matmul rate (dot_rate) and the arithmetic floor it gives")
    args = parser.parse_args(argv)
    n, t = args.shape
    results = {m: learn_kernels(args.robot, m, n, t, args.seeds, args.repeats) for m in args.methods.split(",")}
    print(f"{args.robot}, {n}x{t}, {args.seeds} seed(s); learning phase per update, "
          f"{args.repeats} traced\n")
    print(markdown(results), end="", flush=True)
    if not args.no_dot_rate:
        rates = {shape: dot_rate(*shape) for shape in DOT_SHAPES}
        best = max(rates.values())
        print("Untraced matmul rate (`dot_rate`): " + ", ".join(
            f"{'x'.join(map(str, shape))} {rate:.0f} GFLOP/s" for shape, rate in rates.items()))
        print("Arithmetic floor of the learning phase at the best of these: " + ", ".join(
            f"{m} {r['matmul_gflop'] / best * 1e3:.0f} ms per update" for m, r in results.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
