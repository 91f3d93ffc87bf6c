"""Benchmark tabular NAS problems: evaluations per second of the device gather vs Python lookups.

    python -m benchmarks.bench_tables [--quick] [--out results/bench_tables.json] [--sections gather]
        [--data-dir DIR] [--cache PATH]

Section ``gather`` (NAS-Bench-201, 15,625 cells): one evaluation = cell code (int32[6]) -> its
objective vector. Compared in one run, on the same random codes:

- ``jax jit gather``: ``jit(problem.evaluate)`` on a batch of B codes already on the device
  (mixed-radix rank -> ``code_to_index`` -> row of the float32 table); compile time (first call)
  reported separately from the steady-state median.
- ``numpy gather``: the same two fancy-indexing steps in numpy.
- ``python dict``: ``dict[tuple(code)] -> tuple of objective values`` in a Python loop (the way a
  benchmark API is usually queried one architecture at a time), timed on a smaller batch.

For the presets ``paper`` (2 objectives) and ``many`` (13). Evaluations per second = B / time.

Other benchmark modules can add sections: a section is a function ``(quick: bool, args) -> dict`` with
keys ``title``, ``columns``, ``rows`` and optional ``notes``; see ``SECTIONS``.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import nb201_model
from benchmarks.problems import get_problem
from benchmarks.timing import machine_info, print_table, ratio, time_jax, time_py, write_json_atomic


def gather_section(quick: bool, args: argparse.Namespace) -> dict:
    batch = 100_000 if quick else args.batch
    py_batch = 20_000 if quick else args.py_batch
    rng = np.random.default_rng(0)
    codes = rng.integers(0, nb201_model.N_OPS, size=(batch, nb201_model.N_EDGES)).astype(np.int32)
    rows = []
    for preset in ("paper", "many"):
        problem = get_problem("nasbench201", objectives=preset, data_dir=args.data_dir, cache_path=args.cache)
        X = jax.device_put(jnp.asarray(codes))
        evaluate = jax.jit(lambda p, x: p.evaluate(x))
        compile_s, jax_s = time_jax(evaluate, problem, X, repeats=7)

        table = np.asarray(problem.data["table"])
        code_to_index = np.asarray(problem.data["code_to_index"])
        radix = nb201_model.RADIX_WEIGHTS.astype(np.int32)
        np_s = time_py(lambda: table[code_to_index[codes @ radix]], repeats=5)

        all_codes = nb201_model.all_codes()
        lookup = {tuple(int(v) for v in c): tuple(float(y) for y in row)
                  for c, row in zip(all_codes, table[code_to_index[nb201_model.mixed_radix(all_codes)]])}
        py_codes = [tuple(int(v) for v in c) for c in codes[:py_batch]]
        dict_s = time_py(lambda: [lookup[c] for c in py_codes], repeats=5)

        # the three must agree on the values
        got = np.asarray(evaluate(problem, X[:py_batch]))
        assert np.array_equal(got, np.asarray([lookup[c] for c in py_codes], np.float32))

        jax_rate, np_rate, py_rate = batch / jax_s, batch / np_s, py_batch / dict_s
        rows.append({
            "preset": preset,
            "M": problem.n_obj,
            "batch": batch,
            "compile_s": compile_s,
            "jax_evals_per_s": jax_rate,
            "numpy_evals_per_s": np_rate,
            "dict_evals_per_s": py_rate,
            "jax_vs_dict": ratio(jax_rate, py_rate),
            "jax_vs_numpy": ratio(jax_rate, np_rate),
        })
    return {
        "title": f"NAS-Bench-201 gather throughput ({jax.default_backend()}; dict loop on {py_batch} codes)",
        "columns": ["preset", "M", "batch", "compile_s", "jax_evals_per_s", "numpy_evals_per_s",
                    "dict_evals_per_s", "jax_vs_dict", "jax_vs_numpy"],
        "rows": rows,
        "notes": "evals/s = codes / steady-state median time; jax timing includes the rank computation and "
                 "both gathers, inputs already on the device, output blocked until ready",
    }


def search_section(quick: bool, args: argparse.Namespace) -> dict:
    """LaMOO+random vs random (no partition) on NAS tables: NAS-Bench-201 2-objective and
    many-objective presets, and NAS-Bench-Graph (Cora)."""
    from lamoo_jax.api import optimize
    from lamoo_jax.config import LaMOOConfig

    seeds = 4 if quick else args.search_seeds
    budget = 60 if quick else 100
    cases = [
        ("nasbench201", {"objectives": "paper", "data_dir": args.data_dir, "cache_path": args.cache}),
        ("nasbench201", {"objectives": "many", "data_dir": args.data_dir, "cache_path": args.cache}),
        ("nasbench_graph", {"dataset": "cora"}),
    ]
    rows = []
    for name, options in cases:
        problem = get_problem(name, **options)
        finals = {}
        for partition in (True, False):
            result = optimize(problem, budget=budget, seeds=seeds, partition=partition, config=LaMOOConfig())
            log_diff = result.log_hv_difference()
            q25, q50, q75 = np.percentile(log_diff[:, -1], [25, 50, 75])
            h25, h50, h75 = np.percentile(log_diff[:, budget // 2 - 1], [25, 50, 75])
            finals[partition] = q50
            rows.append({
                "problem": problem.name,
                "M": problem.n_obj,
                "method": "LaMOO+random" if partition else "random",
                "seeds": seeds,
                f"@{budget // 2}": f"{h50:.3f} [{h25:.3f}, {h75:.3f}]",
                f"@{budget}": f"{q50:.3f} [{q25:.3f}, {q75:.3f}]",
                "compile_s": result.compile_seconds,
                "run_s": result.run_seconds,
                "max_hv": f"{problem.max_hv:.6g}" + (" (MC)" if problem.max_hv_stderr else ""),
            })
    return {
        "title": f"NAS tables: log10(HV_max - HV), median [25%, 75%] over seeds, budget {budget} (10 initial + 5 per iteration)",
        "columns": ["problem", "M", "method", "seeds", f"@{budget // 2}", f"@{budget}", "compile_s", "run_s", "max_hv"],
        "rows": rows,
        "notes": "same sampler, same seeds; 'random' = partition=False. For the many-objective preset HV_max "
                 "is a Monte Carlo estimate and HV histories are Monte Carlo estimates too.",
    }


SECTIONS = {"gather": gather_section, "search": search_section}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k-code batches instead of the defaults")
    parser.add_argument("--out", default="results/bench_tables.json", help="JSON output path")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {list(SECTIONS)}")
    parser.add_argument("--batch", type=int, default=4_000_000, help="codes per jitted / numpy gather")
    parser.add_argument("--py-batch", type=int, default=200_000, help="codes looked up in the Python dict loop")
    parser.add_argument("--data-dir", default=None, help="NAS-Bench-201 data directory")
    parser.add_argument("--cache", default=None, help="NAS-Bench-201 cache file")
    parser.add_argument("--search-seeds", type=int, default=16, help="seeds per method in the search section")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {list(SECTIONS)}")
    results = {}
    for name in chosen:
        result = SECTIONS[name](args.quick, args)
        print_table(result["rows"], result["columns"], title=result["title"])
        if result.get("notes"):
            print(f"  note: {result['notes']}\n")
        results[name] = result
    payload = {"benchmark": "bench_tables", "quick": args.quick, "machine": machine_info(), "sections": results}
    write_json_atomic(args.out, payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
