"""Benchmark the dominance and hypervolume kernels against numpy brute force and moocore.

    python -m benchmarks.bench_kernels [--quick] [--out results/bench_kernels.json] [--sections a,b]

Every row is measured in this one run on the same inputs. JAX timings are of the public functions as
a user calls them (Python validation + jitted kernel; inputs already on device), with compile time
(first call) reported separately from the steady-state median. Sections:

- dominance: `dominance_count` vs numpy brute force; `nondominated_mask` vs `moocore.is_nondominated`;
  the blocked variant at N = 100,000, M = 10 (not with --quick).
- hv_single: exact `hypervolume` vs `moocore.hypervolume` on one front (target: within 3x, M = 2, 3,
  N <= 1000).
- hv_batched: 256 fronts with `jit(vmap(hypervolume))` vs a Python loop over moocore (target: >= 5x).
- hv_mc: `hypervolume_mc` relative error and reported standard error vs the number of samples, for
  M = 4, 8, 10 against moocore's exact value.

Other benchmark modules can add sections: a section is a function `(quick: bool) -> dict` with keys
`title`, `columns`, `rows` (list of dicts) and optional `notes`; see `SECTIONS` and `run_sections`.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import machine_info, print_table, ratio, time_jax, time_py, write_json_atomic
from kernels.dominance import dominance_count, dominance_count_blocked, nondominated_mask
from kernels.hypervolume import hypervolume, hypervolume_mc

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
    notes = []
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
            dict(kernel="dominance_count_blocked", N=n, M=m, compile_s=first_s - steady_s, jax_ms=steady_s * 1e3,
                 reference="(none: 200-row spot check vs numpy passed)")
        )
        notes.append("blocked N=100,000 M=10: compile_s is first call minus one steady call (single run each)")
    return dict(
        title="Dominance (minimisation), random uniform points",
        columns=["kernel", "N", "M", "compile_s", "jax_ms", "reference", "ref_ms", "speedup"],
        rows=rows,
        notes=notes,
    )


def section_hv_single(quick: bool) -> dict:
    rng = np.random.default_rng(1)
    rows = []
    for m, n in [(2, 100), (2, 1000), (3, 100), (3, 1000), (4, 100), (4, 200)]:
        Y = sphere_front(rng, n, m)
        ref = np.full(m, 1.1, np.float32)
        Yj, refj = jnp.asarray(Y), jnp.asarray(ref)
        compile_s, steady_s = time_jax(hypervolume, Yj, refj, repeats=20, min_time_s=0.3)
        exact = moocore.hypervolume(Y.astype(np.float64), ref=ref.astype(np.float64)) if moocore else None
        moo_s = (
            time_py(moocore.hypervolume, Y.astype(np.float64), ref=ref.astype(np.float64), repeats=20, min_time_s=0.3)
            if moocore
            else None
        )
        slowdown = ratio(steady_s, moo_s)
        got = float(hypervolume(Yj, refj))
        rows.append(
            dict(M=m, N=n, compile_s=compile_s, jax_ms=steady_s * 1e3, moocore_ms=None if moo_s is None else moo_s * 1e3,
                 jax_over_moocore=slowdown, rel_diff=None if exact is None else abs(got - exact) / exact,
                 target="<= 3x" if m <= 3 else "(none)", status=_status(slowdown, 3.0, False) if m <= 3 else "-")
        )
    return dict(
        title="Exact hypervolume, one front (points on the unit sphere, ref = 1.1)",
        columns=["M", "N", "compile_s", "jax_ms", "moocore_ms", "jax_over_moocore", "rel_diff", "target", "status"],
        rows=rows,
    )


def section_hv_batched(quick: bool) -> dict:
    rng = np.random.default_rng(2)
    batch = 256
    rows = []
    cases = [(2, 100), (3, 100), (4, 30)] + ([] if quick else [(2, 1000), (3, 300)])
    for m, n in cases:
        Ys = np.stack([sphere_front(rng, n, m) for _ in range(batch)])
        # realistic fixed-size buffers: about a quarter of the rows are unused (masked)
        masks = rng.random((batch, n)) < 0.75
        ref = np.full(m, 1.1, np.float32)
        batched = jax.jit(jax.vmap(hypervolume, in_axes=(0, None, 0)))
        Ysj, masksj, refj = jnp.asarray(Ys), jnp.asarray(masks), jnp.asarray(ref)
        compile_s, steady_s = time_jax(batched, Ysj, refj, masksj, repeats=5, min_time_s=0.3)
        Ys64, ref64 = Ys.astype(np.float64), ref.astype(np.float64)

        def moocore_loop():
            return [moocore.hypervolume(Y[mk], ref=ref64) for Y, mk in zip(Ys64, masks)]

        loop_s = time_py(moocore_loop, repeats=3) if moocore else None
        err = None
        if moocore:
            ours = np.asarray(batched(Ysj, refj, masksj), np.float64)
            err = float(np.max(np.abs(ours - np.array(moocore_loop())) / np.array(moocore_loop())))
        speedup = ratio(loop_s, steady_s)
        rows.append(
            dict(M=m, N=n, fronts=batch, compile_s=compile_s, jax_vmap_ms=steady_s * 1e3,
                 moocore_loop_ms=None if loop_s is None else loop_s * 1e3, speedup=speedup,
                 max_rel_diff=err, target=">= 5x", status=_status(speedup, 5.0, True))
        )
    return dict(
        title="Exact hypervolume, 256 fronts: jit(vmap(hypervolume)) vs a Python loop over moocore",
        columns=["M", "N", "fronts", "compile_s", "jax_vmap_ms", "moocore_loop_ms", "speedup", "max_rel_diff",
                 "target", "status"],
        rows=rows,
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


SECTIONS = {
    "dominance": section_dominance,
    "hv_single": section_hv_single,
    "hv_batched": section_hv_batched,
    "hv_mc": section_hv_mc,
}


def run_sections(sections: dict, quick: bool) -> dict:
    """Run and print each section; returns {name: result dict} for the JSON file."""
    results = {}
    for name, fn in sections.items():
        t0 = time.perf_counter()
        result = fn(quick)
        result["wall_s"] = time.perf_counter() - t0
        print()
        print_table(result["rows"], result["columns"], title=f"== {result['title']}")
        for note in result.get("notes", []):
            print(f"   note: {note}")
        results[name] = result
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes; skips N=100,000 blocked dominance")
    parser.add_argument("--out", default="results/bench_kernels.json", help="JSON output path")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {list(SECTIONS)}")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    print(f"machine: {machine_info()}")
    results = run_sections({name: SECTIONS[name] for name in chosen}, args.quick)
    payload = {"benchmark": "bench_kernels", "quick": args.quick, "machine": machine_info(), "sections": results}
    write_json_atomic(args.out, payload)
    print(f"\nwrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
