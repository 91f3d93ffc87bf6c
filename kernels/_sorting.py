"""A bitonic sorting network in jnp ops, for sorting many arrays at once (private).

XLA's CPU sort is slow for a batch of arrays: 256 arrays of 1000 int32 keys take 9.0 ms, and a
payload or float keys cost several times more. This network sorts the batch with the arrays in
the columns (`[N, *batch]`, batch on the trailing axes), so that every pass is one elementwise
expression over contiguous rows. The kernels use it under vmap (`custom_vmap` rules that move the
batch to the minor axis); a single array keeps XLA's sort, which is faster for one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def bitonic_descending(keys, payload, pad_key=-1):
    """(keys, payload) sorted along axis 0 by descending key, by a bitonic sorting network.

    keys: integers `[N, *batch]`; payload: `[N, *batch]`, carried along. Tied keys come out in no
    particular order. N is padded to a power of two with `pad_key`, which must sort after every real
    key (-1 for non-negative keys). Every pass of the network is one elementwise expression over
    the whole array; with the batch on the trailing axes its rows are contiguous vectors. Under vmap
    over 256 arrays (measured) this beats XLA's CPU sort: N = 1000, 3.6-4.2 ms for the network with
    a payload against 9.0 ms for one single-operand integer sort of the keys alone (before the
    searchsorted and the second sort a permutation takes). For one array XLA's sort stays faster.
    """
    n = keys.shape[0]
    size = 1 << max(n - 1, 0).bit_length()
    batch = keys.shape[1:]
    padding = [(0, size - n)] + [(0, 0)] * len(batch)
    keys, payload = jnp.pad(keys, padding, constant_values=pad_key), jnp.pad(payload, padding)
    block = 2
    while block <= size:
        distance = block // 2
        while distance >= 1:
            keys, payload = _bitonic_pass(keys, payload, block, distance)
            distance >>= min(STAGES_PER_PASS, distance.bit_length())
        block *= 2
    return keys[:n], payload[:n]


# Compare-exchange stages done in one pass over the arrays (groups of 2**stages elements). Measured
# under vmap over 256 arrays with an index payload: N = 1000 3.6-4.2 ms with 2 stages a pass against
# 5.8-6.8 ms with 1; N = 300 2.0 against 3.1 ms; 3 stages 5.0 / 2.1 ms, 4 stages 9.0 / 3.7 ms.
STAGES_PER_PASS = 2


def _bitonic_pass(keys, payload, block, distance):
    """The stages at `distance`, `distance / 2`, ... (up to `STAGES_PER_PASS`) of the
    merge into sorted runs of `block`, as one elementwise expression over `[size, *batch]`.

    Element i meets i + distance within runs of 2 * distance; a run sorts descending when its start
    has the `block` bit clear, so runs pair into bitonic sequences for the next block. The members
    of a group (elements `stride` apart) are exchanged stage after stage without a pass between.
    """
    size, batch = keys.shape[0], keys.shape[1:]
    stages = min(STAGES_PER_PASS, distance.bit_length())
    group, runs = 1 << stages, size // (2 * distance)
    stride = 2 * distance // group
    descending = (np.arange(runs) * 2 * distance) & block == 0
    descending = jnp.asarray(descending).reshape((runs, 1) + (1,) * len(batch))
    shape = (runs,) + (2,) * stages + (stride,) + batch
    member = lambda x, g: x[(slice(None),) + tuple((g >> (stages - 1 - b)) & 1 for b in range(stages))]  # noqa: E731
    k = [member(keys.reshape(shape), g) for g in range(group)]
    p = [member(payload.reshape(shape), g) for g in range(group)]
    for stage in range(stages):
        bit = 1 << (stages - 1 - stage)
        for low in (g for g in range(group) if not g & bit):
            high = low | bit
            swap = (k[low] < k[high]) == descending
            k[low], k[high] = jnp.where(swap, k[high], k[low]), jnp.where(swap, k[low], k[high])
            p[low], p[high] = jnp.where(swap, p[high], p[low]), jnp.where(swap, p[low], p[high])
    return jnp.stack(k, 1).reshape(keys.shape), jnp.stack(p, 1).reshape(payload.shape)


# Under vmap, the kernels' sort-free O(N^2) paths (counted ranks, the row-by-row scan) and this
# network trade places with the batch size as well as N: the network makes ~log^2 N passes over the
# whole batch, the sort-free paths N vector steps of O(N) work per set. Measured here (ms, sort-free
# against network; the 3-D sweep's orders, the 2-D nondominated mask):
#   256 sets: N = 100 0.43 / 0.57 and 0.39 / 0.47; N = 128 0.95 / 0.70 and 0.94 / 0.60;
#             N = 256 3.0 / 1.2 and 2.9 / 1.2
#    32 sets: N = 192 0.18 / 0.18 and 0.18 / 0.17; N = 256 0.31 / 0.23 and 0.31 / 0.22
#     8 sets: the network is slower at every N <= 256 (N = 256: 0.09 / 0.20 and 0.09 / 0.13).
NETWORK_MIN_N = 128
NETWORK_MIN_ELEMENTS = 8192


def network_pays_off(n: int, batch_size: int) -> bool:
    """Whether sorting `batch_size` arrays of `n` keys by the network beats the sort-free paths
    (static shapes only). Only where both paths give the same values (integer orders, masks, the
    2-D hypervolume's strips): the choice depends on the batch, which must never change a value."""
    return n >= NETWORK_MIN_N and n * batch_size >= NETWORK_MIN_ELEMENTS


def sort_free_wins(n: int, batch_size: int, sort_free_max_n: int) -> bool:
    """The vmap rules' choice: whether `batch_size` arrays of `n` keys keep the caller's sort-free
    path, which serves up to `sort_free_max_n` keys, rather than the network (`network_pays_off`)."""
    return n <= sort_free_max_n and not network_pays_off(n, batch_size)


def column_index(values):
    """The row index of every entry of `values` (`[N, B]`), as the sorting network's payload: int16
    when N allows, which halves the payload's traffic through the network (measured, 256 columns
    of 1000: 3.7 ms against 4.6 ms with a 32-bit payload)."""
    n = values.shape[0]
    dtype = jnp.int16 if n <= np.iinfo(np.int16).max else jnp.int32
    return jnp.broadcast_to(jnp.arange(n, dtype=dtype)[:, None], values.shape)


def place(values, ranks):
    """values[i] written at ranks[i] along axis 0 (ranks a permutation of each batch column): the
    inverse of gathering by a permutation, e.g. results in sorted order back to the input order."""
    if values.ndim > 1:
        # vmap over the batch column gives a scatter with batching dimensions, which XLA's SPMD
        # partitioner keeps on each device when that axis is sharded.
        return jax.vmap(place, in_axes=-1, out_axes=-1)(values, ranks)
    return jnp.zeros_like(values).at[ranks].set(values, unique_indices=True, mode="promise_in_bounds")
