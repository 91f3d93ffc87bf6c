"""Serialising independent LAPACK calls (a workaround for a CPU deadlock).

On CPU, jaxlib runs a batched LAPACK call (a vmapped Cholesky, triangular solve or eigh) by
scheduling sub-tasks on XLA's intra-op thread pool and blocking the calling pool thread until they
finish. XLA starts independent operations concurrently, so two such calls can occupy every pool
thread (2 on a 2-core machine) while their sub-tasks wait in the queue: `block_until_ready` never
returns, all threads idle (seen with jax 0.10.2). `lax.optimization_barrier` does not survive into
the CPU runtime's schedule; a real data dependency does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def after(x: jax.Array, dep: jax.Array) -> jax.Array:
    """`x`, made to depend on the value of `dep` (x itself unless dep's first entry is NaN)."""
    flag = jnp.isnan(jnp.ravel(dep)[0])
    return x + jnp.where(flag, jnp.nan, 0.0).astype(x.dtype)
