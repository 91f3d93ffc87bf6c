"""Benchmark the dominance and hypervolume kernels against numpy brute force and moocore.

    python -m benchmarks.bench_kernels [--quick] [--out results/bench_kernels.json] [--sections a,b]

Every row is measured in this one run on the same inputs. JAX timings are of the public functions as
a user calls them (Python validation + jitted kernel; inputs already on device), with compile time
(first call) reported separately from the steady-state median. Sections:

- dominance: `dominance_count` vs numpy brute force; `nondominated_mask` vs `moocore.is_nondominated`
  on one set and on 256 sets (`jit(vmap(nondominated_mask))` vs a Python loop over moocore); the
  blocked variant at N = 100,000, M = 10 (not with --quick).
- hv_single: exact `hypervolume` vs `moocore.hypervolume` on one front (target: within 3x, M = 2, 3,
  N <= 1000), with JAX's default asynchronous CPU dispatch (this process) and with
  `jax_cpu_enable_async_dispatch=False` (a subprocess: the flag must be set before JAX starts), and
  the dispatch floor (an empty jitted function) in both modes.
- hv_batched: 256 fronts with `jit(vmap(hypervolume))` vs a Python loop over moocore (target: >= 5x),
  on one CPU device (JAX's default) and with the fronts sharded over two CPU devices, one per core
  (a subprocess started with `--xla_force_host_platform_device_count=2`).
- hv_mc: `hypervolume_mc` relative error and reported standard error vs the number of samples, for
  M = 4, 8, 10 against moocore's exact value.
- svm: `benchmarks.bench_svm.run` (JAX SVC vs sklearn; it prints its own tables).

Other benchmark modules can add sections: a section is a function `(quick: bool) -> dict` with keys
`title`, `columns`, `rows` (list of dicts) and optional `notes`; see `SECTIONS` and `run_sections`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from benchmarks.timing import machine_info, print_table, ratio, time_jax, time_py, write_json_atomic
from kernels.dominance import dominance_count, dominance_count_blocked, nondominated_mask
from kernels.hypervolume import hypervolume, hypervolume_mc
from lamoo_jax.cores import over_cores, usable_cores

try:
    import moocore
except ImportError:  # moocore is a test/bench extra; sections degrade to "-" without it
    moocore = None


def numpy_dominance_count(Y: np.ndarray, block: int = 256) -> np.ndarray:
    """Brute-force dominance counts with numpy broadcasting, in row blocks to bound memory."""
    counts = np.zeros(len(Y), dtype=np.int64)
    for start in range(0, len(Y), block):
        cand = Y[start : start + block]
        le = (Y[None, :, :] <= cand[:, None, :]).all(-1)
        lt = (Y[None, :, :] < cand[:, None, :]).any(-1)
        counts[start : start + block] = (le & lt).sum(1)
    return counts


def sphere_front(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Mutually nondominated points on the unit sphere's positive orthant (the hard case for HV)."""
    Y = np.abs(rng.normal(size=(n, m)))
    return (1.0 - Y / np.linalg.norm(Y, axis=1, keepdims=True)).astype(np.float32)


def _status(value: float | None, target: float, larger_is_better: bool) -> str:
    if value is None:
        return "-"
    return "met" if (value >= target if larger_is_better else value <= target) else "NOT met"


def section_dominance(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    rows = []
    sizes = [(100, 2), (100, 10), (1000, 2), (1000, 10)] + ([] if quick else [(5000, 3), (5000, 10)])
    for n, m in sizes:
        Y = rng.random((n, m)).astype(np.float32)
        Yj = jnp.asarray(Y)
        reps = 3 if n >= 5000 else 10
        compile_s, steady_s = time_jax(dominance_count, Yj, repeats=reps, min_time_s=0.2)
        numpy_s = time_py(numpy_dominance_count, Y, repeats=max(1, reps // 3), warmup=0)
        assert (np.asarray(dominance_count(Yj)) == numpy_dominance_count(Y)).all()
        rows.append(
            dict(kernel="dominance_count", N=n, M=m, compile_s=compile_s, jax_ms=steady_s * 1e3,
                 reference="numpy brute force", ref_ms=numpy_s * 1e3, speedup=ratio(numpy_s, steady_s))
        )
        _, nd_s = time_jax(nondominated_mask, Yj, repeats=reps, min_time_s=0.2)
        if moocore is not None:
            moo_s = time_py(moocore.is_nondominated, Y.astype(np.float64), repeats=reps, min_time_s=0.2)
            assert (np.asarray(nondominated_mask(Yj)) == moocore.is_nondominated(Y.astype(np.float64))).all()
        else:
            moo_s = None
        rows.append(
            dict(kernel="nondominated_mask", N=n, M=m, jax_ms=nd_s * 1e3, reference="moocore.is_nondominated",
                 ref_ms=None if moo_s is None else moo_s * 1e3, speedup=ratio(moo_s, nd_s))
        )
    rows += _nondominated_batched_rows(quick)
    notes = ["nondominated_mask x256: jit(vmap(nondominated_mask)) over [256, N, M] (a quarter of each buffer masked) "
             "vs a Python loop of moocore.is_nondominated on each set's valid rows; jax_cores_ms: lamoo_jax.over_cores "
             "of the same vmap on one device, one part per usable core, each dispatched from its own thread; "
             "jax_2dev_ms: the sets sharded over 2 CPU devices, one per core (a subprocess, as in hv_batched); "
             "'front': points on the unit sphere (nothing dominated), the screening's worst case"]
    if not quick:
        n, m = 100_000, 10
        Y = jnp.asarray(rng.random((n, m)).astype(np.float32))
        t0 = time.perf_counter()
        counts = jax.block_until_ready(dominance_count_blocked(Y))
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(dominance_count_blocked(Y))
        steady_s = time.perf_counter() - t0
        # spot check 200 rows against numpy (the full reference would take far too long)
        idx = np.random.default_rng(1).choice(n, 200, replace=False)
        Yn = np.asarray(Y)
        spot = [int(((Yn <= Yn[i]).all(1) & (Yn < Yn[i]).any(1)).sum()) for i in idx]
        assert (np.asarray(counts)[idx] == spot).all()
        rows.append(
            dict(kernel="dominance_count_blocked", N=n, M=m, jax_ms=steady_s * 1e3,
                 reference="(none: 200-row spot check vs numpy passed)")
        )
        notes.append(f"blocked N=100,000 M=10: one steady call (shown) after a first call of {first_s:.2f} s "
                     "(compile + run); compile time is not separated at this size")
    return dict(
        title="Dominance (minimisation), random uniform points (one batched case of points on a front)",
        columns=["kernel", "N", "M", "compile_s", "jax_ms", "jax_cores_ms", "jax_2dev_ms", "reference", "ref_ms", "speedup",
                 "speedup_cores", "speedup_2dev"],
        rows=rows,
        notes=notes,
    )


# Sets or fronts per batched row (nondominated_mask x256, hv_batched).
_BATCH = 256


def _nondominated_batched_cases(quick: bool):
    """(key, N, M, Ys [256, N, M], masks [256, N]): the same sets in this process and in workers.

    Random uniform sets, and one case of points on a front (nothing dominated), where the screening
    by pivots (`kernels.dominance`, from N = 100) keeps every point and adds its cost to the full
    computation."""
    rng = np.random.default_rng(4)
    cases = [(100, 2, "uniform"), (100, 3, "uniform"), (100, 10, "uniform")]
    if not quick:
        cases += [(1000, 2, "uniform"), (1000, 3, "uniform"), (1000, 3, "front")]
    for n, m, kind in cases:
        if kind == "front":
            Ys = np.stack([sphere_front(rng, n, m) for _ in range(_BATCH)])
        else:
            Ys = rng.random((_BATCH, n, m)).astype(np.float32)
        # a quarter of each buffer masked
        yield f"{n},{m},{kind}", n, m, Ys, rng.random((_BATCH, n)) < 0.75


def _time_vmapped(kernel, in_axes, cases, devices=None, cores=False) -> dict:
    """{case key: (compile_s, steady_s, outputs as a list)} of `vmap(kernel, in_axes)` over each
    case's batch (`cases`: (key, args) pairs). `jit` by default, one call (the batched arguments
    sharded over `devices` when given); with `cores`, `over_cores`: one part per core, each
    dispatched from its own thread (one CPU device; its compile_s is None)."""
    results = {}
    for key, args in cases:
        vmapped = jax.vmap(kernel, in_axes=in_axes)
        if cores:
            batched, args = over_cores(vmapped, in_axes=in_axes), tuple(jnp.asarray(a) for a in args)
            compile_s, steady_s = None, time_py(batched, *args, repeats=5, min_time_s=0.3)
        else:
            batched = jax.jit(vmapped)
            args = tuple(_on_devices(devices, a) if axis == 0 else jnp.asarray(a) for a, axis in zip(args, in_axes))
            compile_s, steady_s = time_jax(batched, *args, repeats=5, min_time_s=0.3)
        results[key] = (compile_s, steady_s, np.asarray(batched(*args)).tolist())
    return results


def _time_nondominated_batched(quick: bool, devices=None, cores=False) -> dict:
    """`_time_vmapped` of `nondominated_mask` over the sets of `_nondominated_batched_cases`."""
    cases = ((key, (Ys, masks)) for key, _, _, Ys, masks in _nondominated_batched_cases(quick))
    return _time_vmapped(nondominated_mask, (0, 0), cases, devices, cores)


def _on_devices(devices, array):
    """`array` on the default device, or sharded along its leading (batch) axis over `devices`."""
    if devices is None:
        return jnp.asarray(array)
    return jax.device_put(array, NamedSharding(Mesh(np.array(devices), ("batch",)), PartitionSpec("batch")))


def _nondominated_batched_rows(quick: bool) -> list[dict]:
    single = _time_nondominated_batched(quick)
    cores = _time_nondominated_batched(quick, cores=True)
    two_devices, error = _time_two_devices("nondominated", quick)
    rows = []
    for key, n, m, Ys, masks in _nondominated_batched_cases(quick):
        compile_s, steady_s, ours = single[key]
        _, cores_s, by_cores = cores[key]
        sharded_s, sharded = (None, None) if two_devices is None else two_devices[key][1:]
        kernel = "nondominated_mask x256" + (", front" if key.endswith("front") else "")
        row = dict(kernel=kernel, N=n, M=m, compile_s=compile_s, jax_ms=steady_s * 1e3,
                   jax_cores_ms=cores_s * 1e3, jax_2dev_ms=None if sharded_s is None else sharded_s * 1e3,
                   reference="loop of moocore.is_nondominated")
        if moocore is not None:
            Ys64 = Ys.astype(np.float64)

            def moocore_loop():
                return [moocore.is_nondominated(Y[mk]) for Y, mk in zip(Ys64, masks)]

            loop_s = time_py(moocore_loop, repeats=3, min_time_s=0.2)
            theirs_all = moocore_loop()
            for result in (ours, by_cores, sharded):
                if result is None:
                    continue
                result = np.asarray(result)
                for b, (theirs, mk) in enumerate(zip(theirs_all, masks)):
                    assert (result[b][mk] == theirs).all() and not result[b][~mk].any()
            row.update(ref_ms=loop_s * 1e3, speedup=ratio(loop_s, steady_s), speedup_cores=ratio(loop_s, cores_s),
                       speedup_2dev=ratio(loop_s, sharded_s))
        rows.append(row)
    if error:
        rows[-1]["reference"] += f" ({error})"
    return rows


# Fronts timed by hv_single, generated identically in the sync-dispatch subprocess.
_HV_SINGLE_CASES = [(2, 100), (2, 1000), (3, 100), (3, 1000), (4, 100), (4, 200)]


def _hv_single_inputs():
    rng = np.random.default_rng(1)
    for m, n in _HV_SINGLE_CASES:
        yield m, n, sphere_front(rng, n, m), np.full(m, 1.1, np.float32)


def _time_hv_single_jax() -> dict:
    """JAX timings of hv_single in this process: {"floor": (s, s), "M,N": (compile_s, steady_s, value)}."""
    empty = jax.jit(lambda x: x)
    x = jnp.ones(3)
    results = {"floor": time_jax(empty, x, repeats=200, min_time_s=0.2)}
    # The smallest kind of program XLA's CPU client does not run inline under async dispatch (its
    # cost model puts it above ~1000 flops): one fusion over a [100, 100] outer product.
    small = jax.jit(lambda v: jnp.max(v[:, None] * v[None, :], axis=0).sum())
    results["handoff"] = time_jax(small, jnp.linspace(0, 1, 100), repeats=200, min_time_s=0.2)
    for m, n, Y, ref in _hv_single_inputs():
        Yj, refj = jax.device_put(Y), jax.device_put(ref)
        compile_s, steady_s = time_jax(hypervolume, Yj, refj, repeats=50, min_time_s=0.3)
        results[f"{m},{n}"] = (compile_s, steady_s, float(hypervolume(Yj, refj)))
    return results


def _sync_dispatch_worker() -> None:
    """Entry of the subprocess: time hv_single with synchronous CPU dispatch, print JSON."""
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    print(json.dumps(_time_hv_single_jax()))


def _run_worker(args: list[str], env: dict | None = None) -> tuple[dict | None, str | None]:
    """Run this module with worker `args` in a fresh process (JAX options that must be set before
    JAX starts); returns (the JSON it prints last, None) or (None, an error line)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_kernels", *args],
        cwd=root, capture_output=True, text=True, timeout=1200, env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        return None, f"subprocess {' '.join(args)} failed: {proc.stderr.strip()[-500:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def _time_hv_single_sync_dispatch() -> tuple[dict | None, str | None]:
    return _run_worker(["--sync-dispatch-worker"])


def section_hv_single(quick: bool) -> dict:
    async_times = _time_hv_single_jax()
    sync_times, error = _time_hv_single_sync_dispatch()
    rows = []
    for m, n, Y, ref in _hv_single_inputs():
        compile_s, async_s, got = async_times[f"{m},{n}"]
        sync_s = None if sync_times is None else sync_times[f"{m},{n}"][1]
        Y64, ref64 = Y.astype(np.float64), ref.astype(np.float64)
        exact = moocore.hypervolume(Y64, ref=ref64) if moocore else None
        moo_s = time_py(moocore.hypervolume, Y64, ref=ref64, repeats=50, min_time_s=0.3) if moocore else None
        targeted = m <= 3
        async_ratio, sync_ratio = ratio(async_s, moo_s), ratio(sync_s, moo_s)
        rows.append(
            dict(M=m, N=n, compile_s=compile_s, jax_ms=async_s * 1e3, jax_sync_ms=None if sync_s is None else sync_s * 1e3,
                 moocore_ms=None if moo_s is None else moo_s * 1e3, jax_over_moocore=async_ratio,
                 sync_over_moocore=sync_ratio, rel_diff=None if exact is None else abs(got - exact) / exact,
                 target="<= 3x" if targeted else "(none)",
                 status=_status(async_ratio, 3.0, False) if targeted else "-",
                 sync_status=_status(sync_ratio, 3.0, False) if targeted else "-")
        )
    def both_modes(name):
        sync = "-" if sync_times is None else f"{sync_times[name][1] * 1e6:.1f} us sync"
        return f"{async_times[name][1] * 1e6:.1f} us async, {sync}"

    notes = [
        "public hypervolume() on device arrays (jax.device_put beforehand), validation included; jax_ms: default "
        "asynchronous CPU dispatch (this process); jax_sync_ms: jax_cpu_enable_async_dispatch=False (subprocess)",
        f"dispatch floor (empty jitted function, steady state): {both_modes('floor')}",
        f"hand-off floor (one fusion over a [100, 100] outer product, above the ~1000 flops XLA's CPU client runs "
        f"inline): {both_modes('handoff')}; with async dispatch such a program runs on a worker thread, and on "
        "this shared 2-core machine the hand-off alone costs about 3x moocore's whole call at N = 100 or more "
        "(compare with 3 * moocore_ms), before any work is done",
    ]
    if error:
        notes.append(error)
    return dict(
        title="Exact hypervolume, one front (points on the unit sphere, ref = 1.1)",
        columns=["M", "N", "compile_s", "jax_ms", "jax_sync_ms", "moocore_ms", "jax_over_moocore", "sync_over_moocore",
                 "rel_diff", "target", "status", "sync_status"],
        rows=rows,
        notes=notes,
    )


@jax.jit
@jax.vmap
def _one_pass(values):
    """N steps of one fused max-multiply over the values (the cost floor of a sort-free kernel)."""
    return jax.lax.scan(lambda carry, v: (jnp.maximum(carry, v * values), None), values, values)[0]


def _hv_batched_cases(quick: bool):
    """(M, N, Ys [256, N, M], masks [256, N], ref): the same fronts in this process and in workers."""
    rng = np.random.default_rng(2)
    cases = [(2, 30), (2, 100), (3, 30), (3, 100), (4, 30)] + ([] if quick else [(2, 1000), (3, 1000)])
    for m, n in cases:
        Ys = np.stack([sphere_front(rng, n, m) for _ in range(_BATCH)])
        # realistic fixed-size buffers: about a quarter of the rows are unused (masked)
        masks = rng.random((_BATCH, n)) < 0.75
        yield m, n, Ys, masks, np.full(m, 1.1, np.float32)


def _time_hv_batched(quick: bool, devices=None, cores=False) -> dict:
    """`_time_vmapped` of `hypervolume` over the 256 fronts of each `_hv_batched_cases` case ("M,N")."""
    cases = ((f"{m},{n}", (Ys, ref, masks)) for m, n, Ys, masks, ref in _hv_batched_cases(quick))
    return _time_vmapped(hypervolume, (0, None, 0), cases, devices, cores)


_TWO_DEVICE_TIMINGS = {"hypervolume": _time_hv_batched, "nondominated": _time_nondominated_batched}


def _two_device_worker(kind: str, quick: bool) -> None:
    """Entry of the subprocess started with two host devices: time `kind` sharded, print JSON."""
    print(json.dumps(_TWO_DEVICE_TIMINGS[kind](quick, jax.devices()[:2])))


def _time_two_devices(kind: str, quick: bool) -> tuple[dict | None, str | None]:
    # Each CPU device gets its own thread: the only way to put this 2-core machine's second core to
    # work on these kernels (XLA runs the N-step loops of one device on one core).
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    return _run_worker(["--two-device-worker", kind] + (["--quick"] if quick else []), {"XLA_FLAGS": flags})


def _rel_diff(ours, theirs) -> float:
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    return float(np.max(np.abs(ours - theirs) / theirs))


def section_hv_batched(quick: bool) -> dict:
    single = _time_hv_batched(quick)
    cores = _time_hv_batched(quick, cores=True)
    two_devices, error = _time_two_devices("hypervolume", quick)
    floor_rng = np.random.default_rng(3)
    rows = []
    for m, n, Ys, masks, ref in _hv_batched_cases(quick):
        compile_s, steady_s, ours = single[f"{m},{n}"]
        _, cores_s, by_cores = cores[f"{m},{n}"]
        sharded_s, sharded_values = (None, None) if two_devices is None else two_devices[f"{m},{n}"][1:]
        Ys64, ref64 = Ys.astype(np.float64), ref.astype(np.float64)

        def moocore_loop():
            return [moocore.hypervolume(Y[mk], ref=ref64) for Y, mk in zip(Ys64, masks)]

        loop_s = time_py(moocore_loop, repeats=3, min_time_s=0.2) if moocore else None
        err = None
        if moocore:
            theirs = moocore_loop()
            err = max(_rel_diff(values, theirs) for values in (ours, by_cores, sharded_values) if values is not None)
        speedup, speedup_cores, speedup_2dev = ratio(loop_s, steady_s), ratio(loop_s, cores_s), ratio(loop_s, sharded_s)
        # Reference costs. XLA's fastest CPU sort: one vmapped integer sort per front (batches with
        # N > 256 are sorted by a bitonic network instead, see kernels/hypervolume.py). Sort-free
        # (N <= 256): one N-step pass of a single fused elementwise op over the [256, N] batch; M = 2
        # takes one such pass, M = 3 two (the ranks of two objectives, then the sweep, which carries
        # two arrays).
        keys = jnp.asarray(floor_rng.integers(0, 2**30, (_BATCH, n), dtype=np.int32))
        _, sort_s = time_jax(jax.jit(jax.vmap(jax.lax.sort)), keys, repeats=5, min_time_s=0.2)
        values = jnp.asarray(floor_rng.random((_BATCH, n)), jnp.float32)
        _, pass_s = time_jax(_one_pass, values, repeats=5, min_time_s=0.2)
        rows.append(
            dict(M=m, N=n, fronts=_BATCH, compile_s=compile_s, jax_vmap_ms=steady_s * 1e3, jax_cores_ms=cores_s * 1e3,
                 jax_2dev_ms=None if sharded_s is None else sharded_s * 1e3,
                 moocore_loop_ms=None if loop_s is None else loop_s * 1e3, speedup=speedup, speedup_cores=speedup_cores,
                 speedup_2dev=speedup_2dev,
                 budget_ms=None if loop_s is None else loop_s * 1e3 / 5, one_sort_ms=sort_s * 1e3,
                 one_pass_ms=pass_s * 1e3, max_rel_diff=err, target=">= 5x", status=_status(speedup, 5.0, True),
                 status_cores=_status(speedup_cores, 5.0, True), status_2dev=_status(speedup_2dev, 5.0, True))
        )
    notes = [
        f"jax_vmap_ms: one call of jit(vmap), one CPU device (JAX's default); jax_cores_ms: lamoo_jax.over_cores of "
        f"the same vmap, one device, the fronts in {usable_cores()} parts (one per usable core), each dispatched from "
        "its own thread; jax_2dev_ms: the same jit(vmap) with the 256 fronts sharded "
        "over 2 CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=2, a subprocess), one per core of this "
        "machine; the moocore loop runs on one core",
        "budget_ms: moocore_loop_ms / 5, the time the batched kernel must beat",
        "one_sort_ms: a jit(vmap(lax.sort)) of [256, N] int32 keys alone: XLA's CPU sort, which a batch with "
        "N > 256 no longer uses (a bitonic network with a payload sorts it: M = 2 once, M = 3 twice, then the "
        "sweep); one device",
        "one_pass_ms: N vector steps of one fused elementwise op over the [256, N] batch, the floor of a "
        "sort-free kernel (N <= 256: M = 2 takes one such pass, M = 3 two: ranks of two objectives, then a "
        "sweep carrying two arrays); one device",
        f"XLA_FLAGS for this run: {os.environ.get('XLA_FLAGS', '') or '(none)'}; on a CPU with AVX-512, "
        "--xla_cpu_prefer_vector_width=512 makes XLA use 512-bit vectors (default 256; README, 'Both CPU cores')",
        "the looped reference costs ~8-15 us of Python per front plus moocore's O(N log N) C time; at N = 1000 "
        "the C time dominates, and an O(N^2) vector kernel on this 2-core CPU cannot beat it 5x",
    ]
    if error:
        notes.append(error)
    return dict(
        title="Exact hypervolume, 256 fronts: jit(vmap(hypervolume)) vs a Python loop over moocore",
        columns=["M", "N", "fronts", "compile_s", "jax_vmap_ms", "jax_cores_ms", "jax_2dev_ms", "moocore_loop_ms",
                 "speedup", "speedup_cores", "speedup_2dev", "budget_ms", "one_sort_ms", "one_pass_ms", "max_rel_diff",
                 "target", "status", "status_cores", "status_2dev"],
        rows=rows,
        notes=notes,
    )


def section_hv_mc(quick: bool) -> dict:
    rng = np.random.default_rng(3)
    rows = []
    sample_counts = [1_000, 10_000, 100_000] + ([] if quick else [1_000_000])
    for m, n in [(4, 100), (8, 30), (10, 15)]:
        Y = sphere_front(rng, n, m)
        ref = np.full(m, 1.1, np.float32)
        t0 = time.perf_counter()
        exact = moocore.hypervolume(Y.astype(np.float64), ref=ref.astype(np.float64)) if moocore else None
        moo_s = time.perf_counter() - t0
        Yj, refj = jnp.asarray(Y), jnp.asarray(ref)
        for k, n_samples in enumerate(sample_counts):
            key = jax.random.key(100 + k)
            fn = jax.jit(lambda key, Y, ref, n_samples=n_samples: hypervolume_mc(key, Y, ref, n_samples))
            compile_s, steady_s = time_jax(fn, key, Yj, refj, repeats=3, min_time_s=0.1)
            est, se = (float(v) for v in fn(key, Yj, refj))
            rows.append(
                dict(M=m, N=n, samples=n_samples, compile_s=compile_s, jax_ms=steady_s * 1e3, estimate=est,
                     exact=exact, rel_error=None if exact is None else abs(est - exact) / exact,
                     rel_stderr=se / est if est else None,
                     err_over_se=None if exact is None or se == 0 else abs(est - exact) / se,
                     moocore_exact_ms=moo_s * 1e3)
            )
    return dict(
        title="Monte Carlo hypervolume: error vs samples (exact from moocore; err_over_se should be mostly < 2)",
        columns=["M", "N", "samples", "compile_s", "jax_ms", "estimate", "exact", "rel_error", "rel_stderr",
                 "err_over_se", "moocore_exact_ms"],
        rows=rows,
    )


def section_svm(quick: bool) -> dict:
    """The SVM benchmark of benchmarks/bench_svm.py (prints its own two tables)."""
    from benchmarks import bench_svm

    rows = bench_svm.run(quick)
    return dict(title="SVM: JAX SVC vs sklearn SVC (see benchmarks/bench_svm.py)", columns=[], rows=rows, printed=True)


SECTIONS = {
    "dominance": section_dominance,
    "hv_single": section_hv_single,
    "hv_batched": section_hv_batched,
    "hv_mc": section_hv_mc,
    "svm": section_svm,
}


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def run_sections(sections: dict, quick: bool) -> dict:
    """Run and print each section; returns {name: result dict} for the JSON file."""
    results = {}
    for name, fn in sections.items():
        t0 = time.perf_counter()
        result = fn(quick)
        result["wall_s"] = time.perf_counter() - t0
        print()
        if not result.pop("printed", False):
            print_table(result["rows"], result["columns"], title=f"== {result['title']}")
        for note in result.get("notes", []):
            print(f"   note: {note}")
        print(f"   ({result['wall_s']:.1f} s, load average {_load_average()})", flush=True)
        results[name] = result
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes; skips N=100,000 blocked dominance")
    parser.add_argument("--out", default="results/bench_kernels.json", help="JSON output path")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {list(SECTIONS)}")
    parser.add_argument("--sync-dispatch-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--two-device-worker", choices=["hypervolume", "nondominated"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sync_dispatch_worker:
        _sync_dispatch_worker()
        return {}
    if args.two_device_worker:
        _two_device_worker(args.two_device_worker, args.quick)
        return {}
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    print(f"machine: {machine_info()}")
    print(f"load average at start: {_load_average()}")
    results = run_sections({name: SECTIONS[name] for name in chosen}, args.quick)
    payload = {"benchmark": "bench_kernels", "quick": args.quick, "machine": machine_info(),
               "load_average_end": _load_average(), "sections": results}
    print(f"\nload average at end: {payload['load_average_end']}")
    write_json_atomic(args.out, payload)
    print(f"\nwrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
