"""The `lamoo-jax` command.

    lamoo-jax run --problem NAME [--sampler random] [--budget 100] [--seeds 8] [--out DIR]
    lamoo-jax problems
    lamoo-jax data fetch nasbench201 [--dest DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_PROBLEM = "nasbench_graph"


def _parse_options(pairs: list[str]) -> dict:
    """`key=value` pairs; values parsed as JSON when possible (numbers, booleans), else strings."""
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"error: option {pair!r} is not of the form key=value")
        key, value = pair.split("=", 1)
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def save_result_npz(result, path: Path) -> None:
    """Write a Result to `path` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **result.to_npz_dict())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def summarize(result) -> str:
    lines = [
        f"problem {result.problem_name}  sampler {result.sampler}  partition {result.partition}  "
        f"budget {result.budget}  seeds {len(result.seeds)}",
        f"compile {result.compile_seconds:.2f} s, run {result.run_seconds:.2f} s "
        f"({len(result.seeds) / max(result.run_seconds, 1e-9):.1f} runs/s, "
        f"{len(result.seeds) * result.budget / max(result.run_seconds, 1e-9):.0f} samples/s)",
    ]
    log_diff = result.log_hv_difference()[:, -1] if result.max_hv is not None else None
    header = f"{'seed':>6} {'final HV':>14} {'Pareto pts':>10}" + (f" {'log10(HVmax-HV)':>16}" if log_diff is not None else "")
    lines.append(header)
    for i, seed in enumerate(result.seeds):
        row = f"{seed:>6} {result.final_hv[i]:>14.6g} {int(result.pareto_mask[i].sum()):>10}"
        if log_diff is not None:
            row += f" {log_diff[i]:>16.4f}"
        lines.append(row)
    if result.max_hv is not None:
        lines.append(f"max HV of the problem: {result.max_hv:.10g}")
    return "\n".join(lines)


def cmd_run(args) -> int:
    from benchmarks import get_problem
    from lamoo_jax.api import optimize
    from lamoo_jax.config import LaMOOConfig

    problem = get_problem(args.problem, **_parse_options(args.problem_option))
    config = LaMOOConfig().replace(**_parse_options(args.config)) if args.config else LaMOOConfig()
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
    print(summarize(result))
    if args.out:
        tag = f"{result.problem_name}_{args.sampler}_{'lamoo' if result.partition else 'plain'}_b{args.budget}_s{args.seeds}"
        path = Path(args.out) / f"{tag}.npz"
        save_result_npz(result, path)
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
    run.add_argument("--out", default=None, help="folder for the results (.npz)")
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
    except (ValueError, FileNotFoundError, FloatingPointError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
