"""Benchmark the qEHVI sampler's parts, side by side with plain references, in one run.

Sections (data: `n_real` uniform samples of the named problem in a buffer of `capacity` rows, as
inside a LaMOO run; objectives minimised):

- ``gp``: fitting the per-objective GPs. JAX: `gp.fit` (Adam, `gp_steps` steps, jit, steady state;
  compile time separate) vs scikit-learn `GaussianProcessRegressor` (same kernel family, L-BFGS-B
  from one start) per objective.
- ``hvi``: exact hypervolume improvement of `mc_samples x n_candidates` points over the observed set
  (one greedy step of the acquisition). JAX: tabulated non-dominated grid + interpolation vs
  moocore recomputing HV(P u {y}) per point (timed on a subset, reported per evaluation and
  scaled to the same count).
- ``propose``: one full `QEHVISampler.propose` (fit + pool + q = 5 greedy steps).
- ``pool``: is a discrete in-region pool enough (no gradient refinement)? With a fixed fitted GP
  and fixed MC base samples, the best first-step EHVI found in a pool of n uniform candidates,
  relative to the best of the largest pool (mean over draws of the pool).

Usage: ``python -m benchmarks.bench_qehvi [--quick] [--out results/bench_qehvi.json]``.
"""

from __future__ import annotations

import argparse
import warnings
import time

import jax
import jax.numpy as jnp
import moocore
import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from benchmarks.problems import get_problem
from benchmarks.timing import machine_info, print_table, ratio, time_jax, time_py, write_json_atomic
from lamoo_jax.samplers import gp, qehvi
from lamoo_jax.samplers.base import ProposalContext, empty_region

PROBLEMS = {
    "branin_currin": {},
    "vehicle_safety": {},
    "dtlz2": {"n_obj": 10, "dim": 12},
}


def make_data(name: str, n_real: int, capacity: int, seed: int = 0):
    problem = get_problem(name, **PROBLEMS[name])
    space = problem.space
    X = space.sample(jax.random.key(seed), capacity)
    Y = problem.evaluate(X) * jnp.asarray(problem.directions, jnp.float32)
    ref = jnp.asarray(problem.ref_point, jnp.float32) * jnp.asarray(problem.directions, jnp.float32)
    mask = jnp.arange(capacity) < n_real
    return problem, space, X, Y, mask, ref


def bench_gp(name, n_real, capacity, gp_steps, repeats):
    problem, space, X, Y, mask, _ = make_data(name, n_real, capacity)
    U = space.to_unit(X)
    init = gp.default_params(space.unit_dim, Y.shape[1])
    fit = jax.jit(lambda U, Y, m: gp.fit(U, Y, m, init, n_steps=gp_steps))
    compile_s, steady_s = time_jax(fit, U, Y, mask, repeats=repeats)
    Un, Yn = np.asarray(U)[: n_real], np.asarray(Y)[: n_real]

    def sk_fit():
        for m in range(Yn.shape[1]):
            kernel = ConstantKernel() * Matern(np.full(Un.shape[1], 0.5), nu=2.5) + WhiteKernel(1e-2)
            GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0).fit(Un, Yn[:, m])

    sk_s = time_py(sk_fit, repeats=max(1, repeats // 2))
    return {
        "section": "gp", "problem": name, "M": int(Y.shape[1]), "d": int(space.unit_dim), "n_real": n_real,
        "capacity": capacity, "steps": gp_steps, "jax_compile_s": compile_s, "jax_s": steady_s,
        "sklearn_s": sk_s, "sklearn/jax": ratio(sk_s, steady_s),
    }


def bench_hvi(name, n_real, capacity, n_candidates, mc_samples, repeats, n_moocore=300):
    _, _, _, Y, mask, ref = make_data(name, n_real, capacity)
    M = Y.shape[1]
    rng = np.random.default_rng(0)
    Yn = np.asarray(Y)[:n_real]
    lo, hi = Yn.min(0), np.minimum(Yn.max(0), np.asarray(ref))
    queries = jnp.asarray(rng.uniform(lo, hi, size=(mc_samples * n_candidates, M)), jnp.float32)

    @jax.jit
    def jax_hvi(Y, mask, ref, queries):
        return qehvi.hypervolume_improvement(Y, mask, ref, queries)

    compile_s, steady_s = time_jax(jax_hvi, Y, mask, ref, queries, repeats=repeats)
    sub = np.asarray(queries)[:n_moocore].astype(np.float64)
    refn = np.asarray(ref, np.float64)
    P = Yn[np.all(Yn < refn, axis=1)].astype(np.float64)
    base = moocore.hypervolume(P, ref=refn) if len(P) else 0.0

    def moocore_loop():
        return [moocore.hypervolume(np.vstack([P, y]), ref=refn) - base for y in sub]

    mc_s = time_py(moocore_loop, repeats=1) * len(queries) / len(sub)
    got = np.asarray(jax_hvi(Y, mask, ref, queries))[:n_moocore]
    err = float(np.max(np.abs(got - np.array(moocore_loop())) / max(base, 1e-12)))
    return {
        "section": "hvi", "problem": name, "M": int(M), "capacity": capacity, "evaluations": int(len(queries)),
        "jax_compile_s": compile_s, "jax_s": steady_s, "moocore_s (scaled)": mc_s,
        "moocore/jax": ratio(mc_s, steady_s), "max_rel_err": err,
    }


def bench_propose(name, n_real, capacity, sampler, repeats):
    problem, space, X, Y, mask, ref = make_data(name, n_real, capacity)
    context = ProposalContext(X=X, Y=Y, mask=mask, leaf_mask=mask, ref_point=ref, region=empty_region(), space=space)
    state = sampler.init(jax.random.key(0), space, Y.shape[1])
    propose = jax.jit(sampler.propose, static_argnums=3)
    compile_s, steady_s = time_jax(lambda: propose(jax.random.key(1), state, context, 5), repeats=repeats)
    return {
        "section": "propose", "problem": name, "M": int(Y.shape[1]), "capacity": capacity,
        "n_candidates": sampler.n_candidates, "mc_samples": sampler.mc_samples, "gp_steps": sampler.gp_steps,
        "jax_compile_s": compile_s, "jax_s": steady_s,
    }


def bench_pool(name, n_real, capacity, pool_sizes, mc_samples, draws):
    problem, space, X, Y, mask, ref = make_data(name, n_real, capacity)
    model = jax.jit(lambda: gp.fit(space.to_unit(X), Y, mask, gp.default_params(space.unit_dim, Y.shape[1]), n_steps=100))()
    M = Y.shape[1]

    @jax.jit
    def best_value(key, n_key):
        cands = space.sample(n_key, pool_sizes[-1])
        mean, var = gp.posterior(model, space.to_unit(cands))
        base = jax.random.normal(key, (mc_samples, 1, M))
        grid = qehvi.nondominated_grid(Y, mask, ref)
        samples = mean[None] + jnp.sqrt(var)[None] * base  # [S, n, M], same base for every candidate
        none = jnp.zeros((0, M), Y.dtype)
        values = jax.vmap(lambda f: jax.vmap(lambda y: qehvi.hvi_exact(grid, y, none))(f))(samples).mean(0)
        # Nested pools: the first n candidates of one large draw.
        return jnp.stack([jnp.max(values[:n]) for n in pool_sizes])

    keys = jax.random.split(jax.random.key(3), draws)
    results = np.stack([np.asarray(best_value(jax.random.key(0), k)) for k in keys])
    relative = results / results[:, -1:]
    return [
        {"section": "pool", "problem": name, "pool": n, "best EHVI / best of largest (mean)": float(relative[:, i].mean()),
         "min over draws": float(relative[:, i].min())}
        for i, n in enumerate(pool_sizes)
    ]


def main():
    warnings.filterwarnings("ignore", module="sklearn")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--out", default="results/bench_qehvi.json")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    rows = []

    gp_rows = [bench_gp("branin_currin", 50, 105, 100, repeats), bench_gp("vehicle_safety", 50, 105, 100, repeats)]
    if not args.quick:
        gp_rows.append(bench_gp("dtlz2", 100, 205, 100, repeats))
    print_table(gp_rows, ["problem", "M", "d", "n_real", "capacity", "steps", "jax_compile_s", "jax_s", "sklearn_s", "sklearn/jax"],
                title="GP fit (all objectives): JAX Adam vs sklearn L-BFGS-B")
    rows += gp_rows

    hvi_rows = [bench_hvi("branin_currin", 50, 105, 256, 128, repeats), bench_hvi("vehicle_safety", 50, 105, 256, 128, repeats)]
    print_table(hvi_rows, ["problem", "M", "capacity", "evaluations", "jax_compile_s", "jax_s", "moocore_s (scaled)", "moocore/jax", "max_rel_err"],
                title="Exact HV improvement of many points: JAX grid vs moocore per point")
    rows += hvi_rows

    default = qehvi.QEHVISampler()
    prop_rows = [bench_propose("branin_currin", 50, 105, default, repeats), bench_propose("vehicle_safety", 50, 105, default, repeats)]
    small = qehvi.QEHVISampler(n_candidates=64, raw_samples=256, mc_samples=16, hv_mc_samples=128)
    prop_rows.append(bench_propose("dtlz2", 100, 205, small, max(1, repeats // 2)))
    print_table(prop_rows, ["problem", "M", "capacity", "n_candidates", "mc_samples", "gp_steps", "jax_compile_s", "jax_s"],
                title="One propose (q = 5)")
    rows += prop_rows

    pool_sizes = [64, 256, 512, 1024, 4096]
    draws = 5 if args.quick else 20
    pool_rows = bench_pool("branin_currin", 30, 105, pool_sizes, 64, draws) + bench_pool("vehicle_safety", 30, 105, pool_sizes, 64, draws)
    print_table(pool_rows, ["problem", "pool", "best EHVI / best of largest (mean)", "min over draws"],
                title="Best first-step EHVI in a pool of n uniform candidates, relative to 4096")
    rows += pool_rows

    write_json_atomic(args.out, {"machine": machine_info(), "rows": rows, "time": time.strftime("%Y-%m-%d %H:%M:%S")})


if __name__ == "__main__":
    main()
