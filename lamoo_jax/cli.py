"""The `lamoo-jax` command.

    lamoo-jax run --problem NAME [--sampler random] [--budget 100] [--seeds 8] [--out DIR [--skip-existing]]
    lamoo-jax problems
    lamoo-jax data fetch nasbench201 [--dest DIR]

With --out, each run is written to DIR/<problem>_<sampler>_<lamoo|plain>_b<budget>_s<seeds>_<hash>.npz,
the hash covering every option of the run (problem options, config, n_init, batch size, ...) and,
for a problem with data (a table, a NAS benchmark), the data's digest; the file also records those
options (run_options, config, problem_options as JSON) and the reference point. The --out folder is
created and checked writable before the run starts.

`run` keeps compiled programs in JAX's persistent compilation cache (`--cache-dir`, default
~/.cache/lamoo-jax/xla; `--no-cache` to skip it): a repeated run loads its program instead of
compiling it again (see `lamoo_jax.compile_cache`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from lamoo_jax._atomic import atomic_savez_compressed
from lamoo_jax.compile_cache import count_cache_hits, enable_compilation_cache

DEFAULT_PROBLEM = "nasbench_graph"


def _parse_options(pairs: list[str], flag: str) -> dict:
    """`key=value` pairs; values parsed as JSON when possible (numbers, booleans, lists), else strings.

    Raises ValueError (exit status 2, like every other input error) for a pair without '=' or with
    an empty key; `flag` names the option in the message.
    """
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} {pair!r} is not of the form key=value")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def run_options(args, problem_options: dict, config, problem=None) -> dict:
    """Everything that determines a `lamoo-jax run`'s results, as plain JSON data.

    The full config is recorded (not only the -C overrides), so a run is identified by what it
    ran with, not by how it was spelled (`LaMOOConfig` stores its numbers as floats: `svm_C=1` is
    `svm_C=1.0`). Problem options are recorded as given. For a problem with data (a table, NAS
    benchmarks) the digest of that data is recorded too (`problem_data_digest`), so that a table
    file edited in place is a new run, not one `--skip-existing` finds done.
    """
    options = {
        "problem": args.problem.strip().lower().replace("-", "_"),
        "problem_options": problem_options,
        "sampler": args.sampler,
        "partition": not args.no_partition,
        "budget": args.budget,
        "n_init": args.n_init,
        "batch_size": args.batch_size,
        "seeds": args.seeds,
        "config": dataclasses.asdict(config),
    }
    if problem is not None and problem.data is not None:
        options["problem_data_digest"] = problem_data_digest(problem)
    return options


def problem_data_digest(problem) -> str:
    """SHA-256 of a problem's data and search space (every array leaf: dtype, shape and bytes)."""
    import jax

    digest = hashlib.sha256()
    for leaf in jax.tree.leaves((problem.data, problem.space)):
        array = np.asarray(leaf)
        digest.update(f"{array.dtype.str}{array.shape}".encode("ascii"))
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def options_hash(options: dict) -> str:
    """A short hash of `options` that is the same across runs, machines and Python versions."""
    text = json.dumps(options, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


# Longest readable part of a result's file name. File systems allow 255 bytes a name, and the atomic
# write's temporary file adds a dot and ~14 characters; the hash keeps shortened names distinct.
_MAX_TAG_CHARS = 180


def result_path(out: str | os.PathLike, problem_name: str, options: dict) -> Path:
    """File of a run: readable tag plus the options' hash, so runs that differ in any option
    (problem options, config, n_init, batch size, ...) never overwrite each other. Known before the
    run starts (`problem_name` is the problem's `name`, `options` from `run_options`). A tag longer
    than `_MAX_TAG_CHARS` (a long table name, many objectives) is cut there."""
    kind = "lamoo" if options["partition"] else "plain"
    tag = f"{problem_name}_{options['sampler']}_{kind}_b{options['budget']}_s{options['seeds']}"
    tag = re.sub(r"[^A-Za-z0-9._-]+", "_", tag)  # user-named tables may contain '/' or spaces
    return Path(out) / f"{tag[:_MAX_TAG_CHARS]}_{options_hash(options)}.npz"


def prepare_results_folder(out: str) -> Path:
    """Create the results folder and check that a file can be written in it, before the run starts:
    a bad --out found only when the finished run is saved would lose the run. Raises ValueError."""
    if not str(out).strip():
        raise ValueError("--out must name a folder; got an empty string")
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".lamoo-jax-write-test.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ValueError(f"results folder {out!r} cannot be written: {error.strerror or error}") from None
    return folder


def holds_run(path: Path, options: dict) -> bool:
    """Whether `path` is a complete result file of the run with these `options`.

    Results are written atomically, so an existing file is complete; its recorded hash must match
    too. A file that cannot be read is not counted (the run is redone and replaces it).
    """
    try:
        with np.load(path) as data:
            return str(data["run_hash"]) == options_hash(options)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False


def result_arrays(result, problem, options: dict) -> dict:
    """`Result.to_npz_dict()` plus what is needed to interpret or repeat the run later."""
    arrays = result.to_npz_dict()
    arrays.update(
        run_options=np.asarray(json.dumps(options, sort_keys=True)),
        run_hash=np.asarray(options_hash(options)),
        config=np.asarray(json.dumps(options["config"], sort_keys=True)),
        problem_options=np.asarray(json.dumps(options["problem_options"], sort_keys=True)),
        ref_point=np.asarray(problem.ref_point, dtype=np.float64),
        directions=np.asarray(problem.directions, dtype=np.int8),
        objective_names=np.asarray(problem.objective_names),
    )
    return arrays


def save_result_npz(result, path: Path, arrays: dict | None = None) -> None:
    """Write a Result (or the given `arrays` of it) to `path` atomically, with ordinary permissions."""
    atomic_savez_compressed(path, result.to_npz_dict() if arrays is None else arrays)


def _final_log_hv_difference(result) -> tuple[np.ndarray | None, str | None]:
    """Final log10(HV_max - HV) per seed, or (None, warning) when it cannot be given.

    `log_hv_difference` raises when a run exceeds the declared max HV; the run itself is still
    valid, so the summary goes on without that column.
    """
    if result.max_hv is None:
        return None, None
    try:
        return result.log_hv_difference()[:, -1], None
    except ValueError as error:
        return None, f"warning: log10(HVmax-HV) not shown: {error}"


def summarize(result, compile_note: str = "") -> str:
    """Per-seed summary: final hypervolume, Pareto points and, when known, the log HV difference.

    `compile_note` follows the compile time (e.g. where the compiled program came from).
    """
    lines = [
        f"problem {result.problem_name}  sampler {result.sampler}  partition {result.partition}  "
        f"budget {result.budget}  seeds {len(result.seeds)}",
        f"compile {result.compile_seconds:.2f} s{compile_note}, run {result.run_seconds:.2f} s "
        f"({len(result.seeds) / max(result.run_seconds, 1e-9):.1f} runs/s, "
        f"{len(result.seeds) * result.budget / max(result.run_seconds, 1e-9):.0f} samples/s)",
    ]
    log_diff, warning = _final_log_hv_difference(result)
    header = f"{'seed':>6} {'final HV':>14} {'Pareto pts':>10}" + (f" {'log10(HVmax-HV)':>16}" if log_diff is not None else "")
    lines.append(header)
    for i, seed in enumerate(result.seeds):
        row = f"{seed:>6} {result.final_hv[i]:>14.6g} {int(result.pareto_mask[i].sum()):>10}"
        if log_diff is not None:
            row += f" {log_diff[i]:>16.4f}"
        lines.append(row)
    if result.max_hv is not None:
        lines.append(f"max HV of the problem: {result.max_hv:.10g}")
    if warning:
        lines.append(warning)
    return "\n".join(lines)


def cmd_run(args) -> int:
    from benchmarks import get_problem
    from lamoo_jax.api import optimize
    from lamoo_jax.config import LaMOOConfig

    problem_options = _parse_options(args.problem_option, "-P/--problem-option")
    config_options = _parse_options(args.config, "-C/--config")
    problem = get_problem(args.problem, **problem_options)
    config = LaMOOConfig().replace(**config_options) if config_options else LaMOOConfig()
    if args.skip_existing and args.out is None:
        raise ValueError("--skip-existing needs --out (the folder whose results it checks)")
    options = run_options(args, problem_options, config, problem)
    path = None if args.out is None else result_path(prepare_results_folder(args.out), problem.name, options)
    if args.skip_existing and path is not None and holds_run(path, options):
        print(f"skipped: {path} already holds this run (same options)")
        return 0
    cache_dir = None if args.no_cache else enable_compilation_cache(args.cache_dir)
    with count_cache_hits() as hits:
        result = optimize(
            problem,
            budget=args.budget,
            n_init=args.n_init,
            batch_size=args.batch_size,
            sampler=args.sampler,
            partition=not args.no_partition,
            seeds=args.seeds,
            config=config,
        )
    if cache_dir is None:
        compile_note = " (no compilation cache)"
    else:
        compile_note = f" ({'loaded from the cache' if hits.count else 'compiled; cache'} {cache_dir})"
    # Save first: a finished run must never be lost to a failure while summarising it.
    if path is not None:
        save_result_npz(result, path, result_arrays(result, problem, options))
    print(summarize(result, compile_note))
    if path is not None:
        print(f"wrote {path}")
    return 0


def cmd_problems(args) -> int:
    from benchmarks import list_problems

    print("\n".join(list_problems()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lamoo-jax", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run LaMOO on a problem for a batch of seeds")
    run.add_argument("--problem", default=DEFAULT_PROBLEM, help=f"problem name (default {DEFAULT_PROBLEM}; see `lamoo-jax problems`)")
    run.add_argument("--problem-option", "-P", action="append", default=[], metavar="KEY=VALUE", help="problem option, e.g. -P n_obj=3")
    run.add_argument("--sampler", default="random", choices=["random", "cmaes", "qehvi"])
    run.add_argument("--budget", type=int, default=100)
    run.add_argument("--n-init", type=int, default=10)
    run.add_argument("--batch-size", type=int, default=5)
    run.add_argument("--seeds", type=int, default=8, help="number of seeds (0..n-1), run at once")
    run.add_argument("--no-partition", action="store_true", help="run the bare sampler (baseline)")
    run.add_argument("--config", "-C", action="append", default=[], metavar="KEY=VALUE", help="LaMOOConfig option, e.g. -C svm_kernel=rbf")
    run.add_argument("--out", default=None, help="folder for the results (one .npz per distinct set of run options)")
    run.add_argument(
        "--cache-dir", default=None, metavar="DIR",
        help="folder of JAX's persistent compilation cache: a repeated run loads its compiled program instead of "
        "compiling it again (default: $JAX_COMPILATION_CACHE_DIR, else $LAMOO_JAX_CACHE_DIR, else ~/.cache/lamoo-jax/xla)",
    )
    run.add_argument("--no-cache", action="store_true", help="compile without the persistent compilation cache")
    run.add_argument(
        "--skip-existing", action="store_true",
        help="with --out: do nothing when the folder already holds this run's result (same options), so a loop "
        "of runs that was interrupted can be restarted and redoes only what is missing",
    )
    run.set_defaults(func=cmd_run)

    problems = sub.add_parser("problems", help="list the problems by name")
    problems.set_defaults(func=cmd_problems)

    try:
        from lamoo_jax.cli_data import add_data_subcommand
    except ImportError:  # the data tools are optional
        pass
    else:
        add_data_subcommand(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError, FloatingPointError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Results are written atomically: an interrupted run leaves no partial file behind.
        print("interrupted: nothing was written for the unfinished run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
