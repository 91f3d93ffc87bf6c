"""NSGA-II (pymoo) as the evolutionary baseline of the reproduction study.

Runs on the problem's unit-cube relaxation (`space.from_unit`), so the same code serves boxes and
categorical spaces; every evaluation pymoo asks for counts against the budget, in the order it
asks (for finite spaces NSGA-II may re-evaluate a point; the count is kept honest regardless).
Population 10 with 5 offspring per generation mirrors LaMOO's 10 initial samples + 5 per iteration.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lamoo_jax.metrics import hv_history_exact, hv_history_mc


def run_nsga2(problem, *, budget: int, seed: int, pop_size: int = 10, n_offsprings: int = 5) -> dict:
    """One NSGA-II run. Returns X [budget, d], Y [budget, M] (problem's units) and hv_history."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.optimize import minimize

    space = problem.space
    evaluate = jax.jit(lambda U: problem.to_minimization(problem.evaluate(space.from_unit(U))))
    seen_X, seen_Y = [], []

    class Wrapped(PymooProblem):
        def __init__(self):
            super().__init__(n_var=space.unit_dim, n_obj=problem.n_obj, xl=0.0, xu=1.0)

        def _evaluate(self, U, out, *args, **kwargs):
            Y = np.asarray(evaluate(jnp.asarray(U, jnp.float32)), dtype=np.float64)
            seen_X.append(np.asarray(space.from_unit(jnp.asarray(U, jnp.float32))))
            seen_Y.append(Y)
            out["F"] = Y

    algorithm = NSGA2(pop_size=pop_size, n_offsprings=n_offsprings)
    minimize(Wrapped(), algorithm, ("n_eval", budget), seed=seed, verbose=False)
    X = np.concatenate(seen_X)[:budget]
    Y_min = np.concatenate(seen_Y)[:budget].astype(np.float32)
    ref = jnp.asarray(problem.ref_point_min(), jnp.float32)
    if problem.n_obj <= 3:
        history = np.asarray(hv_history_exact(jnp.asarray(Y_min), ref))
    else:
        history = np.asarray(hv_history_mc(jax.random.key(seed), jnp.asarray(Y_min), ref, 4096)[0])
    signs = np.asarray(problem.directions, dtype=np.float32)
    return {"X": X, "Y": Y_min * signs, "hv_history": history.astype(np.float64)}
