"""Start-up cost of `lamoo-jax run`: a cold compile against a program loaded from the persistent cache.

    python -m benchmarks.bench_startup [--quick] [--out results/bench_startup.json] [-- extra run args]

Runs the same `lamoo-jax run` command twice, each in a fresh process, with a new empty cache folder:
the first compiles and stores the program, the second loads it (`lamoo_jax.compile_cache`). A third
process runs with `--no-cache` as the plain reference. Reported side by side: the compile step
(`Result.compile_seconds`: tracing, lowering, then XLA compile or cache load), the run, the whole
command's wall time, and whether the three runs' samples and hypervolume histories are bit-identical.
Default command: the README's main job (NAS-Bench-Graph Cora, budget 100, 8 seeds); `--quick`: ZDT1,
budget 30, 2 seeds.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import machine_info, print_table, ratio, write_json_atomic

DEFAULT_ARGS = ["--budget", "100", "--seeds", "8"]
QUICK_ARGS = ["--problem", "zdt1", "-P", "dim=4", "--budget", "30", "--seeds", "2"]
_COMPILE_LINE = re.compile(r"compile ([0-9.]+) s \(([^)]*)\), run ([0-9.]+) s")


def _run(args: list[str], out: Path) -> dict:
    """One `lamoo-jax run` in a fresh process: its compile/run seconds, wall time and result file."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lamoo_jax.cli", "run", *args, "--out", str(out)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"lamoo-jax run {' '.join(args)} failed: {proc.stderr.strip()[-1000:]}")
    match = _COMPILE_LINE.search(proc.stdout)
    if match is None:
        raise RuntimeError(f"no compile line in the output of lamoo-jax run:\n{proc.stdout}")
    (result,) = out.glob("*.npz")
    return {"compile_s": float(match.group(1)), "how": match.group(2), "run_s": float(match.group(3)),
            "wall_s": wall, "result": result}


def _same_results(a: Path, b: Path) -> bool:
    first, second = np.load(a), np.load(b)
    return all(np.array_equal(first[name], second[name]) for name in ("X", "Y", "hv_history", "pareto_mask"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small ZDT1 run instead of the README's main job")
    parser.add_argument("--out", default="results/bench_startup.json")
    parser.add_argument("run_args", nargs="*", help="arguments of `lamoo-jax run` (after --); replace the default job")
    args = parser.parse_args(argv)
    run_args = args.run_args or (QUICK_ARGS if args.quick else DEFAULT_ARGS)

    with tempfile.TemporaryDirectory(prefix="lamoo_jax_startup_") as tmp:
        tmp = Path(tmp)
        cache = ["--cache-dir", str(tmp / "cache")]
        plain = _run(run_args + ["--no-cache"], tmp / "plain")
        cold = _run(run_args + cache, tmp / "cold")
        warm = _run(run_args + cache, tmp / "warm")
        if not warm["how"].startswith("loaded"):
            raise RuntimeError(f"the second run did not load its program from the cache: {warm['how']!r}")
        identical = _same_results(plain["result"], cold["result"]) and _same_results(plain["result"], warm["result"])

    rows = [
        {"start": name, "compile_s": r["compile_s"], "run_s": r["run_s"], "wall_s": r["wall_s"],
         "compile_vs_cached": ratio(r["compile_s"], warm["compile_s"]), "wall_vs_cached": ratio(r["wall_s"], warm["wall_s"])}
        for name, r in (("no cache", plain), ("cold cache (compile, store)", cold), ("warm cache (load)", warm))
    ]
    print(f"machine: {machine_info()}")
    print(f"command: lamoo-jax run {' '.join(run_args)}")
    print_table(rows, ["start", "compile_s", "run_s", "wall_s", "compile_vs_cached", "wall_vs_cached"],
                title="lamoo-jax run: start-up with and without the persistent compilation cache")
    print(f"   note: samples and hypervolume histories of the three runs bit-identical: {identical}")
    print("   note: compile_s is tracing + lowering + XLA compile (or the cache load); only XLA's compile is cached")
    summary = {"machine": machine_info(), "command": run_args, "rows": rows, "bit_identical": identical}
    write_json_atomic(args.out, summary)
    print(f"\nwrote {args.out}")
    if not identical:
        raise SystemExit("results differ between the cold and the cached program")
    return summary


if __name__ == "__main__":
    main()
