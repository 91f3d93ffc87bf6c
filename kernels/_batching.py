"""Fixed-shape compaction and a helper for `custom_vmap` batching rules (private).

The batching rules (SMO in `kernels.svm`, the random sampler's chunked screening in
`lamoo_jax.samplers.base`) replace a lockstep loop over a batch by work compaction: each round
gathers the first few batch members that still have work (`first_true`), advances them, and
scatters them back.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def first_true(flags: jax.Array, count: int) -> tuple[jax.Array, jax.Array]:
    """(index int32[count], real bool[count]): the positions of the first `count` True entries of
    `flags`, in order; the rest of the buffer holds index 0 with `real` False.

    A cumulative-sum scatter rather than a sort: XLA's CPU sort is slow for many small arrays.
    """
    slot = jnp.where(flags, jnp.cumsum(flags) - 1, count)
    index = jnp.zeros(count, jnp.int32).at[slot].set(jnp.arange(flags.shape[0], dtype=jnp.int32), mode="drop")
    return index, jnp.arange(count) < jnp.sum(flags)


def broadcast_unbatched(axis_size: int, in_batched, args) -> tuple:
    """Give every leaf of the rule's arguments `args` that a `custom_vmap` rule received unbatched
    a leading batch axis (`in_batched` mirrors `args`, one bool per leaf). Returns a tuple."""
    return jax.tree_util.tree_map(
        lambda x, batched: x if batched else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x)), tuple(args), tuple(in_batched)
    )
