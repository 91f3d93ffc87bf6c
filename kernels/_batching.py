"""Fixed-shape compaction and a helper for `custom_vmap` batching rules (private).

The batching rules (SMO in `kernels.svm`, the random sampler's chunked screening in
`lamoo_jax.samplers.base`) replace a lockstep loop over a batch by work compaction: each round
(`advance_first`) gathers the first few batch members that still have work (`first_true`),
advances them, and scatters them back.
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


def fold_into_columns(columns):
    """The `custom_vmap` rule of `columns`, a function of point sets held in the last axis of every
    argument and every output (`[..., B]`): a new batch axis joins those sets (`[outer, ..., B]` ->
    `[..., B * outer]`), so nested vmaps become one wider call. Register with
    `columns.def_vmap(fold_into_columns(columns))`."""

    def rule(axis_size, in_batched, *args):
        args = broadcast_unbatched(axis_size, in_batched, args)
        inner = args[0].shape[-1]
        folded = [jnp.moveaxis(x, 0, -1).reshape(x.shape[1:-1] + (inner * axis_size,)) for x in args]
        out = columns(*folded)
        unfold = lambda y: jnp.moveaxis(y.reshape(y.shape[:-1] + (inner, axis_size)), -1, 0)  # noqa: E731
        return jax.tree_util.tree_map(unfold, out), jax.tree_util.tree_map(lambda _: True, out)

    return rule


def advance_first(flags: jax.Array, count: int, advance, inputs, state):
    """One round of work compaction over a batch (leading axis B of `inputs` and `state`).

    The first `count` members whose `flags` (bool[B]) are set are gathered and advanced together,
    `advance(inputs[sel], state[sel]) -> new state[sel]` (pytrees, batched over their leading axis),
    and their new state is written back; every other member keeps its state. Padding slots (fewer
    than `count` flags set) are computed on a repeated member but never written.
    """
    index, real = first_true(flags, count)
    target = jnp.where(real, index, flags.shape[0])
    take = lambda tree: jax.tree_util.tree_map(lambda a: a[index], tree)  # noqa: E731
    new = advance(take(inputs), take(state))
    return jax.tree_util.tree_map(lambda a, n: a.at[target].set(n, mode="drop"), state, new)
