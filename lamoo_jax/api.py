"""`optimize`: the user-facing entry point, with argument checking and a numpy `Result`."""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from kernels._checks import is_int
from kernels.hypervolume import MAX_EXACT_OBJECTIVES
from lamoo_jax.config import LaMOOConfig
from lamoo_jax.loop import RunSpec, design_pool_size, run_batch
from lamoo_jax.metrics import log_hv_difference
from lamoo_jax.problem import Problem


@dataclasses.dataclass
class Result:
    """Results of a batch of runs (numpy arrays; leading axis = seeds).

    Attributes:
        seeds: int[S] the seeds, in order.
        X: [S, budget, d] samples in evaluation order (space dtype).
        Y: float[S, budget, M] objective values in the problem's own units and directions.
        hv_history: float[S, budget] hypervolume of all samples after each evaluation.
        pareto_mask: bool[S, budget] the non-dominated samples of each run.
        diagnostics: dict of int/float[S, n_iterations] per-iteration diagnostics (tree size,
            number of leaves, selected leaf id, depth and size, relaxation level of the region the
            sampler used, largest node hypervolume).
        problem_name, sampler, partition, budget, n_init, batch_size, config: what was run.
        max_hv: the problem's maximum hypervolume, if known.
        compile_seconds, run_seconds: wall time of compilation and of the compiled run.
        hv_history_stderr: float[S, budget] standard error of `hv_history` (0 where it is exact;
            Monte Carlo for M > 3 unless config.node_hv == "exact").
        max_hv_stderr: standard error of `max_hv` when it is a Monte Carlo estimate, else None.
    """

    seeds: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    hv_history: np.ndarray
    pareto_mask: np.ndarray
    diagnostics: dict[str, np.ndarray]
    problem_name: str
    sampler: str
    partition: bool
    budget: int
    n_init: int
    batch_size: int
    config: LaMOOConfig
    max_hv: float | None
    compile_seconds: float
    run_seconds: float
    hv_history_stderr: np.ndarray | None = None
    max_hv_stderr: float | None = None

    @property
    def final_hv(self) -> np.ndarray:
        return self.hv_history[:, -1]

    def log_hv_difference(self) -> np.ndarray:
        """float[S, budget] log10(max_hv - hv_history); requires a known `max_hv`."""
        if self.max_hv is None:
            raise ValueError(f"problem {self.problem_name!r} has no known max_hv")
        return log_hv_difference(self.hv_history, self.max_hv, self.hv_history_stderr, self.max_hv_stderr)

    def to_npz_dict(self) -> dict[str, Any]:
        out = {
            "seeds": self.seeds,
            "X": self.X,
            "Y": self.Y,
            "hv_history": self.hv_history,
            "hv_history_stderr": np.zeros_like(self.hv_history) if self.hv_history_stderr is None else self.hv_history_stderr,
            "pareto_mask": self.pareto_mask,
            "problem_name": np.asarray(self.problem_name),
            "sampler": np.asarray(self.sampler),
            "partition": np.asarray(self.partition),
            "budget": np.asarray(self.budget),
            "n_init": np.asarray(self.n_init),
            "batch_size": np.asarray(self.batch_size),
            "max_hv": np.asarray(np.nan if self.max_hv is None else self.max_hv),
            "max_hv_stderr": np.asarray(np.nan if self.max_hv_stderr is None else self.max_hv_stderr),
        }
        out.update({f"diag_{k}": v for k, v in self.diagnostics.items()})
        return out


def make_sampler(name: str, config: LaMOOConfig, options: dict | None = None, *, batch_size: int = 5, partition: bool = True):
    """The inner sampler registered under `name` ("random", "cmaes", "qehvi")."""
    sampler = _build_sampler(name, config, dict(options or {}), batch_size, partition)
    pool = getattr(sampler, "n_candidates", batch_size)
    if pool < batch_size:
        raise ValueError(f"n_candidates ({pool}) must be at least batch_size ({batch_size}): each iteration picks batch_size of them")
    return sampler


def _build_sampler(name: str, config: LaMOOConfig, options: dict, batch_size: int, partition: bool):
    if name == "random":
        from lamoo_jax.samplers.random import RandomSampler

        options.setdefault("n_candidates", config.n_candidates)
        return RandomSampler(**options)
    if name == "cmaes":
        from lamoo_jax.samplers.cmaes import CMAESSampler

        options.setdefault("n_candidates", config.n_candidates)
        options.setdefault("batch_size", batch_size)
        # Under partitioning CMA-ES restarts from the selected leaf's best sample (as the
        # reference); the baseline is plain CMA-ES carrying its own mean.
        options.setdefault("recenter", partition)
        return CMAESSampler(**options)
    if name == "qehvi":
        from lamoo_jax.samplers.qehvi import QEHVISampler

        return QEHVISampler(**options)
    raise ValueError(f"unknown sampler {name!r}; choose one of 'random', 'cmaes', 'qehvi'")


# Seeds become 32-bit PRNG keys: larger ones would silently repeat smaller ones.
MAX_SEED = 2**32 - 1


def seed_list(seeds: int | Sequence[int]) -> np.ndarray:
    """int64[S]: `seeds` as a count n (0..n-1) or a non-empty sequence of ints in [0, 2**32)."""
    if is_int(seeds):
        if not 1 <= seeds <= MAX_SEED + 1:
            raise ValueError(f"seeds as a count must be in [1, 2**32]; got {seeds}")
        return np.arange(int(seeds))
    values = None if isinstance(seeds, (str, bytes)) else np.asarray(seeds, dtype=object)
    if values is None or values.ndim != 1 or values.size == 0 or not all(is_int(seed) for seed in values):
        raise ValueError(f"seeds must be a positive int count or a non-empty sequence of ints; got {seeds!r}")
    if not all(0 <= seed <= MAX_SEED for seed in values):
        raise ValueError(f"seeds must be in [0, 2**32) (they seed 32-bit PRNG keys); got {seeds!r}")
    return values.astype(np.int64)


def seed_keys(seeds: np.ndarray) -> jax.Array:
    """One PRNG key per seed; a seed's key does not depend on the other seeds of the batch."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, dtype=jnp.uint32))


def check_problem(problem: Problem) -> None:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a lamoo_jax.Problem; got {type(problem).__name__}")
    ref = np.asarray(problem.ref_point, dtype=np.float64)
    if ref.shape != (problem.n_obj,):
        raise ValueError(f"reference point has shape {ref.shape}, expected ({problem.n_obj},)")
    probe = problem.space.sample(jax.random.key(0), 2)
    Y = np.asarray(problem.evaluate(probe))
    if Y.ndim != 2 or Y.shape[1] != problem.n_obj:
        raise ValueError(
            f"problem {problem.name!r} returns objectives of shape {Y.shape[1:]} per point but its "
            f"reference point has {problem.n_obj} entries"
        )


def optimize(
    problem: Problem,
    *,
    budget: int,
    n_init: int = 10,
    batch_size: int = 5,
    sampler: str = "random",
    partition: bool = True,
    seeds: int | Sequence[int] = 1,
    config: LaMOOConfig | None = None,
    sampler_options: dict | None = None,
) -> Result:
    """Run LaMOO (or, with `partition=False`, the bare inner sampler) for a batch of seeds.

    Args:
        problem: the problem (see `lamoo_jax.Problem`); e.g. `benchmarks.get_problem("branin_currin")`.
        budget: total number of evaluations per seed, including the initial design.
        n_init: number of initial uniform samples.
        batch_size: q, points proposed per iteration.
        sampler: inner sampler, "random", "cmaes" or "qehvi".
        partition: False runs the same sampler on the whole space (the baseline).
        seeds: an int n (seeds 0..n-1) or a sequence of ints; a seed's run is the same whatever
            batch it is part of.
        config: `LaMOOConfig` (defaults as the reference implementation).
        sampler_options: keyword options of the sampler.

    Returns:
        A `Result` whose `Y` is in the problem's own units and directions.
    """
    check_problem(problem)
    config = LaMOOConfig() if config is None else config
    if not isinstance(config, LaMOOConfig):
        raise TypeError(f"config must be a LaMOOConfig (e.g. lj.LaMOOConfig(svm_kernel='rbf')); got {type(config).__name__}")
    if not isinstance(partition, (bool, np.bool_)):
        raise ValueError(f"partition must be True or False; got {partition!r}")
    if config.node_hv == "exact" and problem.n_obj > MAX_EXACT_OBJECTIVES:
        raise ValueError(
            f"config.node_hv='exact' supports up to {MAX_EXACT_OBJECTIVES} objectives and problem {problem.name!r} has "
            f"{problem.n_obj}; use node_hv='auto' or 'mc' (Monte Carlo node values)"
        )
    for name, value in (("budget", budget), ("n_init", n_init), ("batch_size", batch_size)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if budget < n_init:
        raise ValueError(f"budget ({budget}) must be at least n_init ({n_init})")
    if problem.space.is_finite and budget > problem.space.cardinality:
        raise ValueError(f"budget ({budget}) exceeds the number of distinct points in the space ({problem.space.cardinality})")
    seeds_array = seed_list(seeds)
    spec = RunSpec(
        budget=int(budget),
        n_init=int(n_init),
        batch_size=int(batch_size),
        partition=bool(partition),
        config=config,
        sampler=make_sampler(sampler, config, sampler_options, batch_size=int(batch_size), partition=bool(partition)),
    )
    keys = seed_keys(seeds_array)
    start = time.perf_counter()
    compiled = run_batch.lower(keys, problem, spec).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys, problem))
    run_seconds = time.perf_counter() - start

    if bool(np.any(np.asarray(out.non_finite))):
        bad = seeds_array[np.asarray(out.non_finite)]
        raise FloatingPointError(f"problem {problem.name!r} returned NaN or inf objective values (seeds {bad.tolist()})")
    unfilled = np.asarray(out.invalid).reshape(-1)
    if unfilled.max() > 0:
        raise RuntimeError(
            f"the sampler could not find enough new points for seeds {seeds_array[unfilled > 0].tolist()} "
            f"({unfilled[unfilled > 0].tolist()} slots unfilled): the finite space is nearly exhausted or the "
            f"candidate pool is too small; increase config.n_candidates or lower the budget (the initial design "
            f"draws {design_pool_size(problem.space, int(n_init))} candidates)"
        )
    Y_min = np.asarray(out.Y)
    if Y_min.size and not np.any(np.all(Y_min < problem.ref_point_min(), axis=-1)):
        warnings.warn(
            f"no sample of problem {problem.name!r} is strictly better than its reference point "
            f"{list(problem.ref_point)} in every objective (directions {list(problem.directions)}: +1 minimised, "
            "-1 maximised), so every hypervolume is 0; check ref_point and directions",
            stacklevel=2,
        )
    signs = np.asarray(problem.directions, dtype=np.float32)
    diagnostics = {name: np.asarray(value) for name, value in out.info._asdict().items()}
    return Result(
        seeds=seeds_array,
        X=np.asarray(out.X),
        Y=Y_min * signs,
        hv_history=np.asarray(out.hv_history, dtype=np.float64),
        pareto_mask=np.asarray(out.pareto_mask),
        diagnostics=diagnostics,
        problem_name=problem.name,
        sampler=sampler,
        partition=bool(partition),
        budget=int(budget),
        n_init=int(n_init),
        batch_size=int(batch_size),
        config=config,
        max_hv=problem.max_hv,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        hv_history_stderr=np.asarray(out.hv_history_stderr, dtype=np.float64),
        max_hv_stderr=problem.max_hv_stderr,
    )
