"""`host_call`: `jax.pure_callback(..., vmap_method="broadcast_all")` without its per-call copies.

The native backend crosses from XLA to native MuJoCo twice per control step (the step and the
auto-reset). `jax.pure_callback` hands its Python function `jax.Array`s: on every call it
`device_put`s each NumPy argument XLA gave it, and the function then turns them back into NumPy.
On the 2-core CPU (2026-12-04, a scan of 300 calls of 4 (40, 30) float32 arguments and 5 results)
that cost 0.135 ms per call, against 0.018 ms for the same function behind XLA's Python host
callback directly: about a quarter of the glue between JAX and MuJoCo at 40 envs.

`host_call` is a JAX primitive whose CPU lowering is that direct host callback
(`jax._src.callback.emit_python_callback`, the function `pure_callback` itself lowers to). Its
function receives and returns NumPy arrays. Batching is pure_callback's `broadcast_all`: every
vmap adds a leading axis to all arguments (unbatched ones are broadcast) and to all results, so
any number of vmaps becomes one call over the whole batch. It is pure: XLA may drop a call whose
results are unused, and it has no derivative.

Written by hand because no maintained library offers it; it uses private JAX names. Where
they are missing (another JAX version) or the platform is not the CPU, it falls back to
`jax.pure_callback`, which computes the same results more slowly (`FAST_PATH` says which).
The primitive is registered with JAX on the first `host_call` (`register()`), never on import
(mjx_mikt/patches.py lists it beside the project's patches).
"""

from __future__ import annotations

from typing import Callable, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

try:  # private JAX API (checked against jax 0.10.2); the fallback below keeps other versions working
    from jax._src import core as _core
    from jax._src import dispatch as _dispatch
    from jax._src.callback import emit_python_callback as _emit_python_callback
    from jax._src.interpreters import batching as _batching
    from jax._src.interpreters import mlir as _mlir

    FAST_PATH = True
except ImportError:  # pragma: no cover - depends on the installed JAX
    FAST_PATH = False


def _pure_callback(*args, fn, out_avals):
    shapes = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in out_avals)
    return jax.pure_callback(lambda *xs: fn(*(np.asarray(x) for x in xs)), shapes, *args,
                             vmap_method="broadcast_all")


_PRIMITIVE = None  # made by register(), on the first host_call


def register():
    """The `host_call` primitive, made and registered with JAX on the first call (idempotent): its CPU
    lowering, the pure_callback lowering elsewhere, its batching rule. None without the fast path.

    Registering adds a primitive and changes no other program's lowering; it is lazy so that importing
    this module registers nothing (mjx_mikt/patches.py lists it with the project's patches).
    """
    global _PRIMITIVE
    if _PRIMITIVE is not None or not FAST_PATH:
        return _PRIMITIVE
    host_call_p = _core.Primitive("mjx_mikt_host_call")
    host_call_p.multiple_results = True
    host_call_p.def_impl(lambda *args, **params: _dispatch.apply_primitive(host_call_p, *args, **params))

    @host_call_p.def_abstract_eval
    def _abstract_eval(*avals, fn, out_avals):
        del avals, fn
        return list(out_avals)

    def _cpu_lowering(ctx, *args, fn, out_avals):
        del out_avals
        results, _, _ = _emit_python_callback(ctx, fn, None, list(args), ctx.avals_in, ctx.avals_out,
                                              has_side_effect=False, returns_token=False)
        return results

    def _batch_rule(args, dims, *, fn, out_avals):
        unmapped = lambda d: d is None or d is getattr(_batching, "not_mapped", None)
        size = next(x.shape[d] for x, d in zip(args, dims) if not unmapped(d))
        lead = [jnp.broadcast_to(x, (size,) + x.shape) if unmapped(d) else jnp.moveaxis(x, d, 0)
                for x, d in zip(args, dims)]
        batched = tuple(_core.ShapedArray((size,) + a.shape, a.dtype) for a in out_avals)
        return host_call_p.bind(*lead, fn=fn, out_avals=batched), [0] * len(batched)

    _mlir.register_lowering(host_call_p, _cpu_lowering, platform="cpu", cacheable=False)
    # elsewhere (a GPU with --backend mujoco) pure_callback's own lowering moves the data
    _mlir.register_lowering(host_call_p, _mlir.lower_fun(_pure_callback, multiple_results=True), cacheable=False)
    _batching.primitive_batchers[host_call_p] = _batch_rule
    _PRIMITIVE = host_call_p
    return host_call_p


def host_call(fn: Callable[..., Tuple[np.ndarray, ...]], result_shape_dtypes: Sequence[jax.ShapeDtypeStruct],
              *args) -> Tuple[jax.Array, ...]:
    """fn(*numpy args) -> tuple of numpy results, called from inside jit (see the module docstring).

    result_shape_dtypes: one ShapeDtypeStruct per result, for ONE unbatched call; under vmap fn
      receives and must return arrays with the batch axes in front (as pure_callback's broadcast_all).
    """
    args = tuple(jnp.asarray(a) for a in args)
    if not FAST_PATH:
        return tuple(_pure_callback(*args, fn=fn, out_avals=tuple(result_shape_dtypes)))
    out_avals = tuple(_core.ShapedArray(s.shape, s.dtype) for s in result_shape_dtypes)
    return tuple(register().bind(*args, fn=fn, out_avals=out_avals))
