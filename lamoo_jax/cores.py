"""`over_cores`: run a batched function's batch as one part per CPU core, each from its own thread.

On a CPU, XLA runs the loops of one program (`lax.scan`, `fori_loop`) essentially on one core: it
splits a step over the cores only for fusions above ~128 KB, and then the synchronisation at every
step costs about what it gains (see README, "Both CPU cores"). Two programs dispatched from the same
Python thread run one after the other. Dispatched from two threads, they run side by side on JAX's
CPU device, one per core (256 fronts of 100 points, M = 3: 1.25-1.28 ms as one call, 1.03-1.07
ms in two parts; `benchmarks/bench_kernels.py`, `jax_cores_ms`).

    hv_batch = lj.over_cores(jax.vmap(lj.hypervolume, in_axes=(0, None)), in_axes=(0, None))
    hvs = hv_batch(Ys, ref)  # numpy [B]

Every part runs the same compiled program on a slice of the batch: the slice's start is an argument,
all parts have `ceil(B / parts)` rows, and the last part starts early enough to end at row B (its
first rows repeat the previous part's and are dropped). So `fn` must treat each batch row on its own
(true of `vmap` of a per-example function). Each part's rows are exactly what `fn` returns for those
rows alone; against one call on the whole batch, floats may differ in the last bit: XLA's CPU code
contracts a multiply and an add into one fused multiply-add where its fusions allow, and programs
for different batch sizes fuse differently (with `--xla_cpu_max_isa=AVX`, no FMA, the project's
hypervolumes agree across batch sizes).

Not for programs with custom calls. XLA's CPU LAPACK kernels (`cholesky`, `triangular_solve`, ...:
`lj.svm_fit` with the interior-point solver, the LaMOO loop) split a batch over XLA's thread pool and
wait for it on a thread of that pool; two such programs running at once each hold one of the pool's
threads and wait for the other (a deadlock, seen with two halves of a LaMOO run's seeds). Such a
program is run whole, as one call (`threads=None`), or rejected (`threads=k > 1`). For the LaMOO
loop, one pinned process per core is the way to both cores (`benchmarks.reproduce --workers`).
"""

from __future__ import annotations

import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from kernels._checks import is_int

_CUSTOM_CALL_TARGET = re.compile(r'custom_call_target="([^"]+)"')


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Parts to split a batch into: one per usable core on a JAX with one CPU device, else 1 (a GPU
    runs a batch at once; several CPU devices take the batch by sharding, README "Both CPU cores")."""
    if jax.default_backend() != "cpu" or jax.local_device_count() != 1:
        return 1
    return usable_cores()


def _normalise_in_axes(in_axes, n_args: int) -> tuple:
    if isinstance(in_axes, (int, type(None))) and not isinstance(in_axes, bool):
        in_axes = (in_axes,) * n_args
    in_axes = tuple(in_axes)
    if len(in_axes) != n_args:
        raise ValueError(f"in_axes has {len(in_axes)} entries for {n_args} arguments")
    for axis in in_axes:
        if axis is not None and not (is_int(axis) and axis == 0):
            raise ValueError(f"in_axes entries must be 0 (split along the leading axis) or None (shared); got {axis!r}")
    if all(axis is None for axis in in_axes):
        raise ValueError("in_axes must mark at least one argument as batched (0)")
    return in_axes


class OverCores:
    """The callable `over_cores` returns; see its docstring. Compiled programs are cached by the
    arguments' shapes and dtypes."""

    def __init__(
        self,
        fn: Callable,
        in_axes: int | None | Sequence[int | None] = 0,
        threads: int | None = None,
        compiler_options: dict | None = None,
    ):
        if not callable(fn):
            raise TypeError(f"fn must be callable; got {type(fn).__name__}")
        if threads is not None and (not is_int(threads) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
        self.fn = fn
        self.in_axes = in_axes
        self.threads = threads
        self.compiler_options = dict(compiler_options or {})
        self._programs: dict = {}
        self._executor: ThreadPoolExecutor | None = None
        self._executor_size = 0

    def __call__(self, *args) -> Any:
        in_axes = _normalise_in_axes(self.in_axes, len(args))
        args = tuple(arg if isinstance(arg, jax.Array) else jnp.asarray(arg) for arg in args)
        sizes = {arg.shape[0] if arg.ndim else None for arg, axis in zip(args, in_axes) if axis == 0}
        if None in sizes:
            raise ValueError("a batched argument (in_axes 0) must have a leading axis; got a scalar")
        if len(sizes) != 1:
            raise ValueError(f"batched arguments must share their leading size; got sizes {sorted(sizes)}")
        (batch,) = sizes
        if batch == 0:
            raise ValueError("the batch is empty (leading size 0)")
        parts = min(self.threads or default_threads(), batch)
        program, parts, starts, start_scalars = self._program(args, in_axes, batch, parts)
        # The calling thread runs the first part itself: one hand-off fewer (256 fronts, M = 3,
        # N = 30: 0.21 ms against 0.24 ms with every part on a worker).
        executor = self._pool(parts - 1)
        futures = [executor.submit(lambda start: jax.block_until_ready(program(start, *args)), start) for start in start_scalars[1:]]
        outputs = [jax.block_until_ready(program(start_scalars[0], *args))] + [future.result() for future in futures]
        rows = math.ceil(batch / parts)
        # Part k owns rows [k * rows, min((k + 1) * rows, batch)); the last part may start earlier.
        owned = [(k * rows - start, min((k + 1) * rows, batch) - start) for k, start in enumerate(starts)]

        def join(*leaves):
            return np.concatenate([np.asarray(leaf)[lo:hi] for leaf, (lo, hi) in zip(leaves, owned)], axis=0)

        return jax.tree.map(join, *outputs)

    def _pool(self, workers: int) -> ThreadPoolExecutor | None:
        if workers > self._executor_size:
            if self._executor is not None:
                self._executor.shutdown(wait=False)  # its idle threads would otherwise linger
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="lamoo-over-cores")
            self._executor_size = workers
        return self._executor

    def _program(self, args: tuple, in_axes: tuple, batch: int, parts: int):
        """(compiled program of (start, *args) on `ceil(batch / parts)` rows from `start`, the number
        of parts, their starts as ints and as device scalars): one part for a program with custom calls."""
        signature = (tuple((arg.shape, arg.dtype) for arg in args), in_axes, parts)
        if signature not in self._programs:
            # The custom calls show in the lowered program: the number of parts is settled before
            # compiling (compiling a program to learn it compiled such programs twice).
            lowered = self._lower(args, in_axes, math.ceil(batch / parts))
            if self._parts_allowed(lowered.as_text(dialect="hlo"), parts) < parts:
                parts, lowered = 1, self._lower(args, in_axes, batch)
            compiled = lowered.compile(compiler_options=self.compiler_options or None)
            if self._parts_allowed(compiled.as_text(), parts) < parts:  # a custom call from XLA's passes
                parts = 1
                compiled = self._lower(args, in_axes, batch).compile(compiler_options=self.compiler_options or None)
            rows = math.ceil(batch / parts)
            # Device scalars made once: making one per call cost ~50 us.
            starts = [min(k * rows, batch - rows) for k in range(parts)]
            self._programs[signature] = (compiled, parts, starts, [jax.device_put(np.int32(start)) for start in starts])
        return self._programs[signature]

    def _parts_allowed(self, hlo_text: str, parts: int) -> int:
        """`parts`, or 1 for a program (as HLO text) with custom calls; raises if `threads` asked
        for several parts of such a program."""
        blocking_calls = sorted(set(_CUSTOM_CALL_TARGET.findall(hlo_text)))
        if not blocking_calls or parts == 1:
            return parts
        if self.threads is not None:
            raise ValueError(
                f"fn compiles to custom calls ({', '.join(blocking_calls)}) that wait on XLA's CPU thread "
                f"pool; {parts} of them running at once can deadlock. Use threads=1 (or None), or one process per core"
            )
        return 1

    def _lower(self, args: tuple, in_axes: tuple, rows: int):
        """`fn` on `rows` rows of the batched arguments from a start given as the first argument."""

        def part(start, *args):
            sliced = [lax.dynamic_slice_in_dim(arg, start, rows) if axis == 0 else arg for arg, axis in zip(args, in_axes)]
            out = self.fn(*sliced)
            for leaf in jax.tree.leaves(out):
                if leaf.ndim == 0 or leaf.shape[0] != rows:
                    raise ValueError(f"fn must return arrays with the batch on the leading axis; got shape {leaf.shape} for {rows} rows")
            return out

        return jax.jit(part).lower(jnp.int32(0), *args)


def over_cores(
    fn: Callable,
    in_axes: int | None | Sequence[int | None] = 0,
    threads: int | None = None,
    compiler_options: dict | None = None,
) -> OverCores:
    """Wrap a batched function so that each call runs its batch in parts, one per CPU core.

    Args:
        fn: a function of arrays whose batched arguments (`in_axes` 0) carry the batch on their
            leading axis and whose outputs (a pytree of arrays) carry it on theirs; rows must be
            independent (e.g. `jax.vmap` of a per-example kernel such as `lj.hypervolume`). Called
            inside `jax.jit`.
        in_axes: per argument, 0 (split along the leading axis) or None (passed whole to every
            part); a single value applies to all arguments.
        threads: the number of parts, each dispatched from its own thread; None: one per usable
            core on a single CPU device, one part otherwise (GPU, several devices), and one part for
            a program with custom calls (see the module docstring); k > 1 for such a program raises.
        compiler_options: XLA options for compiling the parts' program (JAX's
            `Lowered.compile(compiler_options=...)`), e.g. `{"xla_cpu_prefer_vector_width": 512}`
            on a CPU with AVX-512, where XLA uses 256-bit vectors by default: 256 fronts, M = 4,
            N = 30: 1.9 -> 1.5 ms as one call; M = 3, N = 1000: 39 -> 31 ms (README, "Both CPU
            cores"). Only this program gets them, not the caller's other programs (the LaMOO loop
            was no faster with 512-bit vectors). Values may differ in the last bit from the default
            options. An unknown option raises when the first call compiles.

    Returns:
        A callable taking `fn`'s arguments and returning its outputs as numpy arrays, the parts
        joined along the leading axis (each part's rows as `fn` gives them for that part alone).

    Raises (when called): ValueError for batched arguments of different leading sizes, an empty
    batch, a scalar marked batched, in_axes other than 0/None, outputs without the batch axis.
    """
    return OverCores(fn, in_axes, threads, compiler_options)
