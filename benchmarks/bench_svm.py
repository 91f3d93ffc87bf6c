"""Benchmark kernels.svm (JAX C-SVC) against scikit-learn's SVC, side by side in one run.

Sections (same inputs for both sides; data uniform in [0, 1]^d with a noisy curved boundary, as LaMOO's
box-scaled features):

- ``single``: one problem, fit and predict on ``n_query`` points, JAX (jit, steady state; compile time
  reported separately) vs ``SVC``; agreement of the predictions.
- ``batched``: 64 independent problems; JAX ``vmap(fit)`` then predictions for every problem
  (``lax.map`` over problems in groups of 8, to bound memory) vs a Python loop over ``SVC``.
  Rows for both solvers (``smo``, ``ipm``) show why ``solver='auto'`` picks what it picks.

Usage: ``python -m benchmarks.bench_svm [--quick] [--out results/bench_svm.json]``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.svm import SVC

from kernels import svm

from benchmarks.timing import machine_info, print_table, ratio, time_jax, time_py, write_json_atomic

KERNELS = ("rbf", "poly", "linear")
# LaMOO's reference uses degree 4 (sklearn's own default is 3); both sides get the same value.
DEGREE = 4


def make_problem(rng: np.random.Generator, n: int, d: int, n_query: int):
    X = rng.uniform(0.0, 1.0, (n + n_query, d)).astype(np.float32)
    w = rng.normal(size=d) / np.sqrt(d)
    score = np.sin(3.0 * X[:, 0]) + X[:, min(1, d - 1)] ** 2 + 0.3 * X @ w + 0.3 * rng.normal(size=len(X))
    y = score > np.median(score[:n])
    return X[:n], y[:n], X[n:]


def _row(section, kernel, solver, B, n, d, n_query, compile_s, fit_s, pred_s, sk_fit_s, sk_pred_s, agreement, jax_iters, sk_iters) -> dict:
    """One result row (single problem or batch): times, speedups and agreement side by side."""
    return {
        "section": section,
        "kernel": kernel,
        "solver": solver,
        "B": B,
        "N": n,
        "d": d,
        "n_query": n_query,
        "jax_compile_s": compile_s,
        "jax_fit_s": fit_s,
        "jax_predict_s": pred_s,
        "sk_fit_s": sk_fit_s,
        "sk_predict_s": sk_pred_s,
        "fit_speedup": ratio(sk_fit_s, fit_s),
        "total_speedup": ratio(sk_fit_s + sk_pred_s, fit_s + pred_s),
        "agreement": agreement,
        "jax_iters": jax_iters,
        "sk_iters": sk_iters,
    }


def _solver_name(model) -> str:
    """The solver that fitted the model (what solver="auto" picked), with explicit features named."""
    if model.feature_map != "none":
        return f"{model.solver}+features({model.primal_weight.shape[-1]})"
    return model.solver


def bench_single(kernel: str, n: int, d: int, n_query: int, repeats: int) -> dict:
    rng = np.random.default_rng(1000 * n + d)
    X, y, Xq = make_problem(rng, n, d, n_query)
    Xj, yj, Xqj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(Xq)

    fit_compile, fit_s = time_jax(lambda: svm.fit(Xj, yj, kernel=kernel, degree=DEGREE), repeats=repeats)
    model = svm.fit(Xj, yj, kernel=kernel, degree=DEGREE)
    pred_compile, pred_s = time_jax(svm.predict, model, Xqj, repeats=repeats)

    sk_fit_s = time_py(lambda: SVC(kernel=kernel, degree=DEGREE).fit(X, y), repeats=repeats)
    ref = SVC(kernel=kernel, degree=DEGREE).fit(X, y)
    sk_pred_s = time_py(ref.predict, Xq, repeats=repeats)

    agreement = float(np.mean(np.asarray(svm.predict(model, Xqj)) == ref.predict(Xq)))
    return _row(
        "single", kernel, _solver_name(model),
        1, n, d, n_query, fit_compile + pred_compile, fit_s, pred_s, sk_fit_s, sk_pred_s,
        agreement, int(model.n_iter), int(ref.n_iter_[0]),
    )


def bench_batched(kernel: str, solver: str, B: int, n: int, d: int, n_query: int, repeats: int) -> dict:
    rng = np.random.default_rng(7 * n + d)
    problems = [make_problem(rng, n, d, 0) for _ in range(B)]
    Xs = np.stack([p[0] for p in problems])
    ys = np.stack([p[1] for p in problems])
    Xq = rng.uniform(0.0, 1.0, (n_query, d)).astype(np.float32)
    Xsj, ysj, Xqj = jnp.asarray(Xs), jnp.asarray(ys), jnp.asarray(Xq)

    fit_batched = jax.jit(jax.vmap(lambda X, y: svm.fit(X, y, kernel=kernel, degree=DEGREE, solver=solver)))
    predict_batched = jax.jit(lambda models, Xq: jax.lax.map(lambda m: svm.predict(m, Xq), models, batch_size=8))

    fit_compile, fit_s = time_jax(fit_batched, Xsj, ysj, repeats=repeats)
    models = fit_batched(Xsj, ysj)
    pred_compile, pred_s = time_jax(predict_batched, models, Xqj, repeats=repeats)

    def sk_fit_all():
        return [SVC(kernel=kernel, degree=DEGREE).fit(Xs[b], ys[b]) for b in range(B)]

    def sk_predict_all(refs):
        return [r.predict(Xq) for r in refs]

    sk_fit_s = time_py(sk_fit_all, repeats=max(1, repeats // 2), warmup=0)
    refs = sk_fit_all()
    sk_pred_s = time_py(sk_predict_all, refs, repeats=max(1, repeats // 2), warmup=0)

    ours = np.asarray(predict_batched(models, Xqj))
    theirs = np.stack(sk_predict_all(refs))
    agreement = np.mean(ours == theirs, axis=1)
    iters = np.asarray(models.n_iter)
    return _row(
        "batched", kernel, solver, B, n, d, n_query, fit_compile + pred_compile, fit_s, pred_s, sk_fit_s, sk_pred_s,
        float(agreement.min()), int(iters.max()), int(max(r.n_iter_[0] for r in refs)),
    )


def run(quick: bool = False) -> list[dict]:
    """Run the benchmark and return one dict per row (also printed as tables)."""
    repeats = 3 if quick else 5
    n_query = 2_000 if quick else 10_000
    single_sizes = [(100, 2), (200, 10)] if quick else [(100, 2), (200, 10), (1000, 20)]
    batched_sizes = [(30, 5), (100, 2), (100, 5)] if quick else [(30, 5), (100, 2), (100, 5), (200, 10)]
    rows: list[dict] = []
    for kernel in KERNELS:
        for n, d in single_sizes:
            rows.append(bench_single(kernel, n, d, n_query, repeats))
    for kernel in KERNELS:
        for n, d in batched_sizes:
            for solver in ("smo", "ipm"):
                rows.append(bench_batched(kernel, solver, 64, n, d, n_query, repeats))
    columns = [
        "kernel", "solver", "B", "N", "d", "n_query", "jax_compile_s", "jax_fit_s", "sk_fit_s", "fit_speedup",
        "jax_predict_s", "sk_predict_s", "total_speedup", "agreement", "jax_iters", "sk_iters",
    ]
    print_table([r for r in rows if r["section"] == "single"], columns, title="SVM, single problem: JAX (jit) vs sklearn SVC (times in s, speedup = sklearn / JAX)")
    print()
    print_table(
        [r for r in rows if r["section"] == "batched"],
        columns,
        title="SVM, 64 problems: JAX vmap(fit) + batched predict vs a Python loop over sklearn SVC (iters: max over the batch)",
    )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 2,000 query points")
    parser.add_argument("--out", default="results/bench_svm.json")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = run(args.quick)
    write_json_atomic(args.out, {"benchmark": "svm", "quick": args.quick, "machine": machine_info(), "wall_s": time.perf_counter() - t0, "rows": rows})
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
