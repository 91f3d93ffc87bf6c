"""The paper's sample-efficiency study: LaMOO+X vs X for X in {random, CMA-ES, qEHVI}.

    python -m benchmarks.reproduce [--seeds 16] [--problems branin_currin,vehicle_safety,...]
                                   [--samplers random,cmaes,qehvi] [--out results/reproduce] [--workers 2]

For every problem and sampler it runs LaMOO+X (partition=True) and X alone (partition=False) for
the same seeds and budget (10 initial samples + 5 per iteration; 100 samples, 200 for DTLZ2), then
writes:
- `cells/<problem>__<sampler>__<lamoo|plain>__s<seeds>.npz`: each cell's hypervolume histories,
  written atomically; an interrupted study resumes from the cells already on disk (a cell is either
  complete or absent, never half written or duplicated). A cell with more seeds than asked for is
  reused (its first --seeds runs: seeds 0..n-1, each independent of its batch); cells of earlier
  versions, named without `__s<seeds>`, are read too;
- `curves_<problem>.png`: log10(HV_max - HV) vs samples, median with a distribution-free 95% confidence
  band of the median (from 6 seeds up; with fewer the median alone);
- `table.md` and `summary.json`: final log HV difference and the sample ratio, next to the
  paper's claims.

Compiled programs go to JAX's persistent compilation cache (`lamoo_jax.compile_cache`; `--no-cache`
skips it), so a cell's `compile_s` is a load time when its program was compiled before.

`--workers N` runs the missing cells in N processes, each pinned to one CPU core (Linux), before
the study is tabulated. On a CPU this is the way to use every core: XLA's own split of one program
over the cores costs more than it gains in the LaMOO loop (README, "Both CPU cores": two pinned
processes ran 2.1x the seeds of one unpinned process in the same time). A cell's results do not
depend on the process that ran it.

Sample ratio: the HV that X reaches with its full budget (median over seeds) is the target; the
ratio is the number of samples after which LaMOO+X's median HV first reaches it, divided by the
budget. Below 100% LaMOO+X is more sample-efficient; "> 100%" means it never reached the target
within the budget.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from benchmarks import get_problem
from benchmarks.timing import machine_info, write_json_atomic
from lamoo_jax._atomic import atomic_savez_compressed, atomic_write_text
from lamoo_jax.compile_cache import enable_compilation_cache

# (problem key, registry name, options, budget, svm kernel as the reference code uses)
PROBLEMS = {
    "branin_currin": ("branin_currin", {}, 100, "poly"),
    "vehicle_safety": ("vehicle_safety", {}, 100, "rbf"),
    "dtlz2_m2": ("dtlz2", {"n_obj": 2, "dim": 18}, 200, "poly"),
    "dtlz2_m10": ("dtlz2", {"n_obj": 10, "dim": 12}, 200, "poly"),
    "nasbench201": ("nasbench201", {}, 100, "poly"),
}
# The study's samplers: the compiled loop's three and pymoo's NSGA-II (a baseline, without partitions).
SAMPLERS = ("random", "cmaes", "qehvi", "nsga2")

# The paper's claims: fraction of X's samples LaMOO+X needs to reach X's final HV.
PAPER_CLAIMS = {
    ("branin_currin", "cmaes"): "62.5%",
    ("vehicle_safety", "cmaes"): "8%",
    ("nasbench201", "cmaes"): "29%",
    ("branin_currin", "qehvi"): "~50% (average over problems)",
    ("vehicle_safety", "qehvi"): "~50% (average over problems)",
    ("nasbench201", "qehvi"): "44% (\"225% sample efficiency\")",
}


# qEHVI settings of the study: BoTorch's reference uses 128 quasi-MC samples and 1024 raw samples with
# L-BFGS restarts; on 2 CPU cores we score 64 in-region candidates with 32 MC samples (documented
# in the README next to the results).
QEHVI_OPTIONS = {"mc_samples": 32, "n_candidates": 64, "raw_samples": 512, "gp_steps": 50}


def cell_path(out: Path, key: str, sampler: str, partition: bool, seeds: int) -> Path:
    """Where a cell of `seeds` seeds is written; the seed count is part of the name, so studies
    with different seed counts never overwrite each other's cells."""
    return out / "cells" / f"{_cell_stem(key, sampler, partition)}__s{seeds}.npz"


def _cell_stem(key: str, sampler: str, partition: bool) -> str:
    return f"{key}__{sampler}__{'lamoo' if partition else 'plain'}"


def _read_cell(path: Path) -> dict | None:
    """A cell's arrays, or None when the file is unreadable (then it is simply recomputed)."""
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def find_cell(out: Path, key: str, sampler: str, partition: bool, seeds: int) -> dict | None:
    """The cached cell with the fewest seeds >= `seeds`, cut to its first `seeds` seeds, or None.

    Cells run seeds 0..n-1 and a seed's run does not depend on its batch, so the first `seeds`
    runs of a larger cell are exactly the cell asked for. Reads the seed-tagged names and the
    untagged names of earlier versions (`<key>__<sampler>__<lamoo|plain>.npz`).
    """
    folder = out / "cells"
    stem = _cell_stem(key, sampler, partition)
    best = None
    for path in sorted(folder.glob(f"{stem}__s*.npz")) + [folder / f"{stem}.npz"]:
        cell = _read_cell(path) if path.is_file() else None
        if cell is None or "seeds" not in cell or int(cell["seeds"]) < seeds:
            continue
        if best is None or int(cell["seeds"]) < int(best["seeds"]):
            best = cell
    if best is None or int(best["seeds"]) == seeds:
        return best
    return dict(best, hv_history=best["hv_history"][:seeds], seeds=np.asarray(seeds), cut_from_seeds=best["seeds"])


def run_cell(out: Path, key: str, sampler: str, partition: bool, seeds: int, cached_only: bool = False) -> dict:
    """Run (or load, when already on disk) one cell of the study."""
    from lamoo_jax.api import optimize
    from lamoo_jax.config import LaMOOConfig

    cached = find_cell(out, key, sampler, partition, seeds)
    if cached is not None:
        return cached
    path = cell_path(out, key, sampler, partition, seeds)
    if cached_only:
        raise FileNotFoundError(f"cell {path.name} (or one with more seeds) not on disk (--cached-only)")
    name, options, budget, kernel = PROBLEMS[key]
    problem = get_problem(name, **options)
    config = LaMOOConfig(svm_kernel=kernel)
    start = time.perf_counter()
    if sampler == "nsga2":
        from benchmarks.nsga2_baseline import run_nsga2

        history = np.stack([run_nsga2(problem, budget=budget, seed=seed)["hv_history"] for seed in range(seeds)])
        compile_s, run_s = 0.0, time.perf_counter() - start
    else:
        options = QEHVI_OPTIONS if sampler == "qehvi" else None
        result = optimize(problem, budget=budget, n_init=10, batch_size=5, sampler=sampler, partition=partition,
                          seeds=seeds, config=config, sampler_options=options)
        history, compile_s, run_s = result.hv_history, result.compile_seconds, result.run_seconds
    cell = {
        "hv_history": history,
        "max_hv": np.asarray(problem.max_hv),
        "seeds": np.asarray(seeds),
        "budget": np.asarray(budget),
        "compile_s": np.asarray(compile_s),
        "run_s": np.asarray(run_s),
        "wall_s": np.asarray(time.perf_counter() - start),
    }
    atomic_savez_compressed(path, cell)
    return cell


def study_cells(problems: list[str], samplers: list[str]) -> list[tuple[str, str, bool]]:
    """(problem, sampler, partition) of every cell of a study, in the order they are run."""
    return [(key, sampler, partition) for key in problems for sampler in samplers for partition in (True, False)
            if not (sampler == "nsga2" and partition)]


# JAX settings a worker takes over from the process that starts it: they change results.
_INHERITED_JAX_SETTINGS = ("jax_enable_x64", "jax_disable_most_optimizations")


def _start_worker(counter, cores: list[int] | None, use_cache: bool, jax_settings: dict) -> None:
    """Pool initializer: pin this worker to its own core (the i-th worker started takes core i) and
    apply the parent's result-changing JAX settings."""
    import jax

    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if cores:
        os.sched_setaffinity(0, {cores[index % len(cores)]})
    for name, value in jax_settings.items():
        jax.config.update(name, value)
    if use_cache:
        enable_compilation_cache()


def _run_cell_in_worker(task: tuple) -> tuple:
    """Run one cell in a worker; returns (problem, sampler, partition, cores it ran on, error or None).
    Errors the study reports as skipped cells come back as text, for the main process to report."""
    out, key, sampler, partition, seeds = task
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        run_cell(Path(out), key, sampler, partition, seeds)
    except (FileNotFoundError, ValueError) as error:
        return key, sampler, partition, cores, str(error)
    return key, sampler, partition, cores, None


def run_missing_cells(out: Path, cells: list[tuple[str, str, bool]], seeds: int, workers: int, use_cache: bool) -> None:
    """Run the cells not yet on disk in `workers` processes, one pinned to each core (as far as there
    are cores; `spawn`, so no worker inherits a started JAX; x64 and the optimisation setting are
    passed on). Each cell is written atomically by the worker that ran it, so an interrupted run
    loses at most the cells in flight."""
    tasks = [(str(out), key, sampler, partition, seeds) for key, sampler, partition in cells
             if find_cell(out, key, sampler, partition, seeds) is None]
    if not tasks:
        return
    import jax

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else None
    jax_settings = {name: jax.config.read(name) for name in _INHERITED_JAX_SETTINGS}
    context = multiprocessing.get_context("spawn")
    counter = context.Value("i", 0)
    initargs = (counter, cores, use_cache, jax_settings)
    with context.Pool(min(workers, len(tasks)), initializer=_start_worker, initargs=initargs) as pool:
        for key, sampler, partition, ran_on, error in pool.imap_unordered(_run_cell_in_worker, tasks):
            label = ("LaMOO+" if partition else "") + sampler
            status = f"failed: {error}" if error else "done"
            print(f"{key:16s} {label:14s} {status} (worker on cores {ran_on})", flush=True)


def sample_ratio(lamoo_hv: np.ndarray, plain_hv: np.ndarray) -> tuple[float | None, str]:
    """Samples LaMOO+X needs (median curve) to reach X's median final HV, over the budget.

    Returns (ratio, text). The ratio is undefined (None) when X's median final HV is 0 (no
    target to reach) or when LaMOO+X never reaches it within the budget.
    """
    target = np.median(plain_hv[:, -1])
    if target <= 0:
        return None, "undefined (X's median final HV is 0)"
    curve = np.median(lamoo_hv, axis=0)
    reached = np.flatnonzero(curve >= target)
    if reached.size == 0:
        return None, "> 100% (not reached)"
    ratio = float((reached[0] + 1) / lamoo_hv.shape[1])
    return ratio, f"{100 * ratio:.0f}%"


def log_diff(hv: np.ndarray, max_hv: float) -> np.ndarray:
    return np.log10(np.maximum(max_hv - hv, 1e-12 * max(abs(max_hv), 1.0)))


def median_confidence_band(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Distribution-free confidence interval of the median over axis 0 (seeds), at every column.

    The interval between the order statistics x_(k) and x_(n + 1 - k), with k the largest rank
    such that P(Binomial(n, 1/2) <= k - 1) <= (1 - level) / 2, covers the population median with
    probability >= level whatever the distribution (n = 16: ranks 4 and 13, coverage 97.9%).
    """
    from scipy.stats import binom

    n = values.shape[0]
    k = 0
    while k + 1 <= n and binom.cdf(k, n, 0.5) <= (1.0 - level) / 2.0:
        k += 1
    if k == 0:
        raise ValueError(f"{n} seeds are too few for a {level:.0%} confidence interval of the median")
    ordered = np.sort(values, axis=0)
    return ordered[k - 1], ordered[n - k]


# Fewest seeds for which the distribution-free 95% band of the median exists: with 5, even the
# outermost order statistics miss the median with probability 1/32 > 2.5% on each side.
MIN_BAND_SEEDS = 6


def _band_or_none(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The median's 95% band, or None when there are too few seeds for one (the curve is still drawn)."""
    try:
        return median_confidence_band(values)
    except ValueError:
        return None


def plot_problem(out: Path, key: str, cells: dict) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    banded = True
    colors = {"random": "tab:blue", "cmaes": "tab:orange", "qehvi": "tab:green", "nsga2": "tab:gray"}
    for (sampler, partition), cell in sorted(cells.items()):
        values = log_diff(cell["hv_history"], float(cell["max_hv"]))
        x = np.arange(1, values.shape[1] + 1)
        median = np.median(values, axis=0)
        label = f"LaMOO+{sampler}" if partition else sampler
        style = "-" if partition else "--"
        ax.plot(x, median, style, color=colors.get(sampler), label=label)
        band = _band_or_none(values)
        if band is not None:
            ax.fill_between(x, *band, color=colors.get(sampler), alpha=0.15)
        else:
            banded = False
    ax.set_xlabel("samples")
    ax.set_ylabel("log10(HV_max - HV)")
    note = "95% confidence band" if banded else f"no confidence band (fewer than {MIN_BAND_SEEDS} seeds)"
    ax.set_title(f"{key}: median over seeds, {note}", fontsize=10)
    ax.legend()
    fig.tight_layout()
    path = out / f"curves_{key}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="nsga2 runs as a baseline only (pymoo)")
    parser.add_argument("--out", default="results/reproduce")
    parser.add_argument("--cached-only", action="store_true", help="tabulate the cells on disk, run nothing")
    parser.add_argument("--workers", type=int, default=1,
                        help="run the missing cells in this many processes, one pinned to each CPU core (default 1: "
                        "in this process)")
    parser.add_argument("--no-cache", action="store_true",
                        help="skip JAX's persistent compilation cache (on by default, as for `lamoo-jax run`: a sweep "
                        "resumed after an interruption loads the programs it had compiled)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    problems = [p for p in args.problems.split(",") if p]
    samplers = [s for s in args.samplers.split(",") if s]
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        parser.error(f"unknown problem(s) {unknown}; choose from {list(PROBLEMS)}")  # exits 2
    unknown = [s for s in samplers if s not in SAMPLERS]
    if unknown:
        # Checked before anything runs: a typo must not tabulate an empty study over the old one.
        parser.error(f"unknown sampler(s) {unknown}; choose from {list(SAMPLERS)}")
    if not problems or not samplers:
        parser.error("--problems and --samplers must each name at least one")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1; got {args.seeds}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1; got {args.workers}")
    if args.seeds < MIN_BAND_SEEDS:
        print(f"note: {args.seeds} seeds are too few for a 95% confidence band of the median "
              f"(needs {MIN_BAND_SEEDS}); the curves show the median only")

    if not args.no_cache:
        enable_compilation_cache()
    try:
        out.mkdir(parents=True, exist_ok=True)  # the curves are saved before any cell may have created it
    except OSError as error:
        parser.error(f"--out {str(out)!r}: the results folder cannot be created ({error.strerror or error})")
    if args.workers > 1 and not args.cached_only:
        run_missing_cells(out, study_cells(problems, samplers), args.seeds, args.workers, not args.no_cache)

    rows, summary = [], {"machine": machine_info(), "seeds": args.seeds, "cells": []}
    for key in problems:
        cells = {}
        for _, sampler, partition in study_cells([key], samplers):
            try:
                cells[(sampler, partition)] = run_cell(out, key, sampler, partition, args.seeds, args.cached_only)
            except (FileNotFoundError, ValueError) as error:
                print(f"skip {key}/{sampler}/{partition}: {error}")
                continue
            cell = cells[(sampler, partition)]
            # A cell cut from a larger cached one: its wall time is that cell's, for all its seeds.
            origin = f", cut from a {int(cell['cut_from_seeds'])}-seed cell" if "cut_from_seeds" in cell else ""
            print(f"{key:16s} {('LaMOO+' if partition else '') + sampler:14s} done ({float(cell['wall_s']):.0f} s{origin})", flush=True)
        plot_problem(out, key, cells)
        if ("nsga2", False) in cells:
            nsga = cells[("nsga2", False)]
            final = float(np.median(log_diff(nsga["hv_history"][:, -1], float(nsga["max_hv"]))))
            summary["cells"].append({"problem": key, "sampler": "nsga2", "plain_final_log_hv_diff": final})
            rows.append(f"| {key} | NSGA-II (baseline, pymoo) | {int(nsga['budget'])} | - | {final:.3f} | - | - |")
        for sampler in samplers:
            if (sampler, True) not in cells or (sampler, False) not in cells:
                continue
            lamoo, plain = cells[(sampler, True)], cells[(sampler, False)]
            max_hv = float(lamoo["max_hv"])
            ratio, ratio_text = sample_ratio(lamoo["hv_history"], plain["hv_history"])
            entry = {
                "problem": key,
                "sampler": sampler,
                "budget": int(lamoo["budget"]),
                "lamoo_final_log_hv_diff": float(np.median(log_diff(lamoo["hv_history"][:, -1], max_hv))),
                "plain_final_log_hv_diff": float(np.median(log_diff(plain["hv_history"][:, -1], max_hv))),
                "sample_ratio": ratio,
                "sample_ratio_text": ratio_text,
                "paper_claim": PAPER_CLAIMS.get((key, sampler), "-"),
            }
            summary["cells"].append(entry)
            rows.append(
                f"| {key} | {sampler} | {entry['budget']} | {entry['lamoo_final_log_hv_diff']:.3f} | "
                f"{entry['plain_final_log_hv_diff']:.3f} | {ratio_text} | {entry['paper_claim']} |"
            )
    table = [
        f"Seeds per cell: {args.seeds}. Log HV difference = log10(HV_max - HV), median over seeds at the full budget.",
        "",
        "| problem | sampler X | budget | LaMOO+X final | X final | samples LaMOO+X needs to reach X's final HV | paper's claim |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    atomic_write_text(out / "table.md", "\n".join(table) + "\n")
    write_json_atomic(out / "summary.json", summary)
    print("\n".join(table))
    print(f"\nwrote {out / 'table.md'}, {out / 'summary.json'} and the curves")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
