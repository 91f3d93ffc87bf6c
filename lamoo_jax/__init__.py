"""lamoo-jax: LaMOO as one jit-compiled, vmapped JAX loop."""

from lamoo_jax.problem import Problem
from lamoo_jax.spaces import Box, Categorical, FiniteSet

__all__ = ["Problem", "Box", "Categorical", "FiniteSet"]
