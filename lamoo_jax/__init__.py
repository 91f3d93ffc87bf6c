"""lamoo-jax: LaMOO (multi-objective optimization by learning space partitions) as one
jit-compiled, vmapped JAX loop.

One import gives the optimizer and the public array kernels:

    import lamoo_jax as lj
    lj.optimize(problem, budget=100, seeds=32)
    lj.hypervolume(Y, ref); lj.dominance_count(Y); lj.svm_fit(X, y)
    lj.over_cores(jax.vmap(lj.hypervolume, in_axes=(0, None)), in_axes=(0, None))(Ys, ref)  # both CPU cores
"""

from kernels.dominance import (
    dominance_count,
    dominance_count_blocked,
    dominance_matrix,
    nondominated_mask,
    nondominated_mask_blocked,
)
from kernels.hypervolume import hypervolume, hypervolume_contributions, hypervolume_mc, hypervolume_subsets
from kernels.svm import SVMModel
from kernels.svm import decision_function as svm_decision_function
from kernels.svm import fit as svm_fit
from kernels.svm import kkt_violation as svm_kkt_violation
from kernels.svm import predict as svm_predict
from lamoo_jax.api import Result, optimize
from lamoo_jax.compile_cache import enable_compilation_cache
from lamoo_jax.cores import over_cores
from lamoo_jax.config import LaMOOConfig
from lamoo_jax.problem import Problem
from lamoo_jax.spaces import Box, Categorical, FiniteSet

__all__ = [
    "Box",
    "Categorical",
    "FiniteSet",
    "LaMOOConfig",
    "Problem",
    "Result",
    "SVMModel",
    "dominance_count",
    "dominance_count_blocked",
    "dominance_matrix",
    "enable_compilation_cache",
    "hypervolume",
    "hypervolume_contributions",
    "hypervolume_mc",
    "hypervolume_subsets",
    "nondominated_mask",
    "nondominated_mask_blocked",
    "optimize",
    "over_cores",
    "svm_decision_function",
    "svm_fit",
    "svm_kkt_violation",
    "svm_predict",
]
