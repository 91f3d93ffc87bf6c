"""Hypervolume kernels (minimisation) with respect to a reference point.

Conventions
-----------
- `Y` is `[N, M]` objective values, all minimised; `ref` is `[M]`. The hypervolume is the Lebesgue
  measure of the region dominated by the valid points and bounded above by `ref`.
- Only points *strictly* better than `ref` in every objective contribute (a point equal to `ref` in
  one coordinate has zero-volume box and is ignored), as in moocore. The empty set, an all-masked
  set or a set with no point inside the reference box has hypervolume 0.
- `mask` is an optional boolean `(N,)` marking real rows; masked rows are ignored and may hold
  anything, including NaN.
- Computation runs in float64 when jax x64 is enabled, float32 otherwise. Internally every point is
  turned into its non-negative gain `ref - y`, divided per objective by the largest gain, so all
  algorithms work on the unit box (maximisation w.r.t. the origin); the result is multiplied back by
  the product of the scales, taken as mantissas and exponents apart so that it cannot overflow on the
  way (`_times_product`). This keeps float32 sums well conditioned whatever the objectives' units.
  A gain `ref - y` itself must fit the working float (float32 without jax's x64).

Exact algorithms (dispatch on the static M):
- M = 1: `ref - min`.
- M = 2: for N < 128, N vector steps of "best second objective among the points before me" in
  the order of the first objective (O(N^2) work, no sort: faster on CPU at these sizes); from
  N = 128, strips of the first objective in descending order (see Ordering), each as high as the
  running max of the second objective: O(N log N) (O(N log^2 N) under vmap, where the sort is a
  sorting network).
- Ordering: for N <= 256 one point set is not sorted: ranks are counted in N vector steps
  (`_descending_ranks`) and permutations scattered from them. Beyond, one point set is sorted by
  single-operand integer sorts of the gains' bit patterns (exact for non-negative floats), the fast
  path of XLA's CPU sort; positions come from `searchsorted` and a permutation from sorting packed
  `position * N + index` keys (see `_descending_positions`). Under vmap (a `custom_vmap` rule) the
  batch moves to the minor axis and a bitonic sorting network sorts keys with a payload
  (`_bitonic_descending`): faster than XLA's sort for many arrays, slower for one. From N = 128 to
  256 the rule picks the network or counted ranks by the batch's size (`network_pays_off`). All
  orders give the same volumes (ties come out in another order, which only moves zero-width strips
  and zero-depth slices), so the choice of order does not change a front's volume. The floats can
  still differ in the last bit between batch sizes: XLA's CPU code contracts a multiply and an add
  into one fused multiply-add where its fusions allow, and programs for different batch sizes fuse
  differently. Measured on 256 sphere fronts against each front alone: up to 27 volumes an ulp
  apart at M = 2 and 3, N = 30, and 196 at M = 3, N = 300 (batches of 7-256); none at N = 10, 64,
  100 or M = 4; none at all with `--xla_cpu_max_isa=AVX` (no FMA). `optimization_barrier`s at
  three places (the gains for every N, the 3-D sweep's inputs, the terms of `_fixed_order_sum`)
  made every batch size agree on those fronts, at ~10% more time for M = 3, N = 100 (256 fronts,
  1.11-1.2 -> 1.31 ms); not applied, as the LaMOO loop does not need it: its runs were the same in
  batches of 1 and 12 seeds (budget 100: Branin-Currin, VehicleSafety, DTLZ2 M = 3) and of 1 and 48
  seeds (VehicleSafety, budget 300).
- M = 3: slice along the third objective. Points are added in order of decreasing gain in the third
  objective; a `lax.scan` keeps the 2-D "staircase" of the points added so far as a length-N vector
  over the points sorted by the first objective (a running maximum); slice depths times staircase
  heights are accumulated elementwise and reduced once at the end. O(N^2) time, O(N) memory, no data-dependent shapes.
  A batch (vmap, subsets) sweeps its fronts as rows of one state; on one CPU device a state beyond
  128 KB runs in cache-sized chunks of rows, one after the other (`_SWEEP_WHOLE_MAX_BYTES`).
- M = 4: slice along the fourth objective; every slice is a 3-D hypervolume of a prefix of the points,
  and all slices run as one batched 3-D sweep (state `[slices, N]`). O(N^3) time, O(N^2) memory,
  practical for N up to a few hundred. For N <= 32 the point sets of a batch (vmap, subsets) sit on
  the minor axis of the sweep state (`[slices, N, sets]`, a `custom_vmap` rule), where vectors of N
  elements would be too short to vectorise well; a large batch sweeps a few slices at a time.
- M > 4: not exact; use `hypervolume_mc`.

`hypervolume_subsets` gives the exact hypervolumes of many subsets of the same points (every prefix of
a run, every node of a partition tree) in one pass: for M = 3 and 4 the orders and the sweep are shared
(the sweep's state becomes `[subsets, N]`; for M = 4 with N <= 32 the subsets are the columns of one
batched sweep, each ranking its own points), for M <= 2 each subset is its own 2-D computation.

`hypervolume_mc` is an unbiased Monte Carlo estimate for any M with its standard error.
`hypervolume_contributions` gives exclusive contributions (moocore's `hv_contributions` with its
default `ignore_dominated=True`).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from kernels import _random
from kernels._sorting import bitonic_descending as _bitonic_descending
from kernels._sorting import column_index as _column_index
from kernels._sorting import NETWORK_MIN_N as _NETWORK_MIN_N
from kernels._sorting import sort_free_wins
from kernels._sorting import place as _place
from kernels._batching import broadcast_unbatched, first_true, fold_into_columns
from kernels._checks import (
    check_finite_rows,
    check_mask,
    check_objectives,
    check_reference,
    check_static_positive_int,
    float_dtype,
    is_int,
)
from kernels.dominance import _dominance_count, weakly_dominated_by

__all__ = [
    "hypervolume",
    "hypervolume_subsets",
    "hypervolume_mc",
    "hypervolume_contributions",
    "MAX_EXACT_OBJECTIVES",
]

MAX_EXACT_OBJECTIVES = 4

# Number of 4-D slices swept together as one batched 3-D sweep (bounds memory to [chunk, N]).
_HV4_SLICE_CHUNK = 256
# Unrolling the 3-D sweep's scan was measured not to help on CPU (only slower compiles).
_HV3_UNROLL = 1
# The 3-D sweep's state is `[rows, N]` (a batch's fronts times their subsets). Swept whole, a state
# beyond ~128 KB ran at about half speed on this CPU: each step's fusion left the L1 cache and XLA
# split it over both cores, paying their synchronisation at every step (1 core under `taskset` was
# faster than 2). Beyond `_SWEEP_WHOLE_MAX_BYTES` the rows are swept in chunks of at most
# `_SWEEP_CHUNK_BYTES` per array, one after the other. Measured, 256 fronts, whole / chunks of
# 16 KB: N = 250 4.6 / 2.3 ms, N = 500 14 / 8.3-8.6 ms, N = 1000 50 / 28.6 ms; N = 100 (not chunked)
# 0.44-0.53 / 0.46-0.49 ms; chunks of 8 KB about the same, 32-128 KB 10-25% slower.
_SWEEP_WHOLE_MAX_BYTES = 128 * 1024
_SWEEP_CHUNK_BYTES = 16 * 1024
# The same for the 4-D sweep with the sets on the minor axis, in chunks of slices (see `_hv4_columns_impl`).
_HV4_SLICE_CHUNK_BYTES = 64 * 1024
# Up to this N the exact kernels skip sorting: the 2-D hypervolume (`_hv2_pairwise`) and the 3-D
# sweep's orders (`_descending_ranks`) take N vector steps instead, cheaper than XLA's CPU sort and
# searchsorted there (measured under vmap over 256 fronts: 2-D 2.3x faster at N = 51, 1.1x at
# N = 256, slower at N = 400; 3-D 1.8x faster at N = 100, 1.2x at N = 200, slower at N = 300).
# Those were measured against XLA's sort, which still serves one point set beyond this N. Under
# vmap the sorting network takes over from `_NETWORK_MIN_N` (128) where the batch is large enough
# (`network_pays_off`; M = 2 from that N replaces the pairwise steps by counted-rank strips, the
# same terms as the network's): 256 fronts, 2-D 3.1 -> 1.0 ms at N = 256, 0.63 -> 0.43 ms at
# N = 128; 3-D 7.7 -> 5.5 ms at N = 256, 2.1 -> 1.7 ms at N = 128.
_PAIRWISE_MAX_N = 256
# Up to this N the 4-D kernel keeps the point sets on the minor axis (`_hv4_columns`): measured
# under vmap over 256 fronts, N = 30: 2.2 ms against 4.3 ms for `_hv4_batched`; at N = 40 its
# [N, N, 256] sweep state outgrows the cache and the per-set layout wins (3.8 ms against 6.2 ms).
_HV4_COLUMNS_MAX_N = 32
# Default Monte Carlo chunk: about this many (sample, point) pairs per chunk.
_MC_PAIRS_PER_CHUNK = 1 << 21


def _validate(Y, ref, mask):
    Y = check_objectives(Y)
    n, m = Y.shape
    mask = check_mask(mask, n)
    ref = check_reference(ref, m)
    check_finite_rows(Y, mask)
    # Casting happens inside the jitted functions: eager jnp calls cost tens of microseconds each.
    return Y, ref, mask


def _cast(Y, ref, mask):
    dtype = float_dtype()
    valid = jnp.ones(Y.shape[0], dtype=bool) if mask is None else mask.astype(bool)
    return Y.astype(dtype), ref.astype(dtype), valid


def _unit_gains(Y, ref, valid):
    """Gains `(ref - y) / scale` in [0, 1] (0 for non-contributing rows), the M scales, and `inside`.

    `inside` marks valid rows strictly better than `ref` in every objective. A unit-box volume times
    the product of the scales (`_times_product`) is the volume in the objectives' units.
    """
    # Column by column: with M (2-4) as the minor axis, row-wise reductions vectorise poorly on
    # CPU (measured under vmap over 256 fronts of 100 x 3: 0.07-0.14 ms instead of 0.26 ms).
    columns = [Y[:, k] for k in range(Y.shape[1])]
    inside = valid
    for k, column in enumerate(columns):
        inside = inside & (column < ref[k])
    gains = [jnp.where(inside, ref[k] - column, 0) for k, column in enumerate(columns)]
    scales = [jnp.max(gain, initial=0) for gain in gains]
    scales = [jnp.where(scale > 0, scale, 1) for scale in scales]
    gains = jnp.stack([gain / scale for gain, scale in zip(gains, scales)], axis=1)
    if _NETWORK_MIN_N <= gains.shape[0] <= _PAIRWISE_MAX_N:
        # Here the vmap rules choose their algorithm by the batch's size. Left free to fuse into
        # what follows, the gains came out an ulp apart in the two programs (seen as a 1-ulp
        # change in a volume between batches of 4 and 64), although each kernel's arithmetic is the
        # same; behind a barrier every program sees the same gains. Not elsewhere: it costs 6-10%
        # at N = 30-100 (256 fronts, M = 3, N = 100: 1.14 -> 1.23 ms).
        gains = lax.optimization_barrier(gains)
    return gains, scales, inside


def _times_product(values, factors):
    """`values * prod(factors)` (positive factors) without overflowing or underflowing on the way.

    Objectives in different units can have scales whose product leaves float32's range although
    the volume does not (scales 1e20, 1e20, 1e-20, 1e-20: the running product reached inf). The
    factors' mantissas are multiplied and their exponents added apart; powers of two scale exactly,
    so wherever the plain product is representable the result has the same bits.
    """
    mantissa, exponent = jnp.frexp(factors[0])
    for factor in factors[1:]:
        m, e = jnp.frexp(factor)
        mantissa, exponent = mantissa * m, exponent + e
    return jnp.ldexp(values * mantissa, exponent)


# Sorting. XLA's CPU sort runs a compiled comparator per comparison when it carries a payload or
# sorts floats (total order), but has a fast path for a single integer operand (measured here: 1,000
# int32 keys ~30 us vs ~170-230 us for float keys with an index payload, and 2 us vs 11 us per
# row of 100 under vmap). Gains are non-negative floats, whose IEEE bit patterns read as signed
# integers of the same width order exactly like the values, so every sort below is a single-operand
# integer sort: values are sorted directly, positions come from `searchsorted` on the sorted keys,
# and a permutation comes from sorting the packed integer `position * N + index`.
# Under vmap, beyond `_PAIRWISE_MAX_N` (and from `_NETWORK_MIN_N` for large batches), a bitonic
# sorting network replaces these sorts (`_bitonic_descending`). For the 3-D orders at N = 100 it is
# no faster than counted ranks (256 arrays: 0.57 against 0.43-0.58 ms), so the sort-free path
# stays below N = 128.
_PACKED_ORDER_MAX_N = 46_340  # position * N + index must fit in int32


def _sortable_bits(values):
    """Integer keys ordered like the non-negative float `values` (their bit patterns)."""
    int_dtype = jnp.int64 if values.dtype == jnp.float64 else jnp.int32
    return lax.bitcast_convert_type(values, int_dtype)


def _descending_positions(values):
    """(positions, values sorted descending) for non-negative `values` [N].

    positions[i] = #{j: values[j] > values[i]}: the first index of values[i] in the descending
    order (tied values share it).
    """
    n = values.shape[0]
    keys = _sortable_bits(values)
    ascending = lax.sort(keys)
    positions = n - jnp.searchsorted(ascending, keys, side="right").astype(jnp.int32)
    return positions, lax.bitcast_convert_type(ascending[::-1], values.dtype)


def _descending_order(values):
    """int32[N] permutation: `values[order]` is descending, ties in index order."""
    n = values.shape[0]
    positions, _ = _descending_positions(values)
    iota = jnp.arange(n, dtype=jnp.int32)
    if n > _PACKED_ORDER_MAX_N:
        return lax.sort((positions, iota), num_keys=1)[1]
    return lax.sort(positions * n + iota) % n


def _descending_ranks(*columns):
    """int32[N] per column: unique descending ranks, ties in index order, without sorting.

    Columns may carry trailing batch axes (`[N, *batch]`): each batch column is ranked on its own.

    rank[i] = #{j: v[j] > v[i] or (v[j] == v[i] and j < i)} for non-negative values, counted in N
    steps of O(N) vector work (all columns in the same steps). Values are compared as their bit
    patterns, like the sorts: exact even for denormals, which float comparisons on CPU flush to
    zero. Under vmap over many small arrays this beats XLA's CPU sort and searchsorted (256 arrays
    of 100: one column ~0.4 ms vs ~0.9 ms for positions, ~1.5 ms for a permutation); see
    `_PAIRWISE_MAX_N`.

    The columns' counts share one int32 counter, each in its own bit field (a rank < N needs
    `bit_length(N - 1)` bits): one carry instead of one per column, so each step reads and writes
    one array (measured, 256 arrays of 100, two columns: 0.55 ms against 0.65 ms with two carries).
    """
    n = columns[0].shape[0]
    keys = tuple(_sortable_bits(column) for column in columns)
    field_bits = max(n - 1, 1).bit_length()
    per_counter = max(1, 31 // field_bits)
    ranks = []
    for start in range(0, len(keys), per_counter):
        ranks.extend(_packed_ranks(keys[start : start + per_counter], field_bits))
    return tuple(ranks)


def _packed_ranks(keys, field_bits):
    """Descending ranks along axis 0 of several key arrays (`[N, *batch]`, ranked per batch column)
    counted in one int32, `field_bits` bits per array."""
    n = keys[0].shape[0]
    index = jnp.arange(n, dtype=jnp.int32)
    iota = index.reshape((n,) + (1,) * (keys[0].ndim - 1))

    def count(counter, point):
        values, j = point
        # Integer keys: "v[j] > v[i], or equal with j < i" is "v[j] + (j < i) > v[i]", one
        # comparison fewer (keys of finite non-negative floats are below the sign bit minus one).
        earlier = (j < iota).astype(keys[0].dtype)
        for field, (v, column) in enumerate(zip(values, keys)):
            counter = counter + ((v + earlier > column).astype(jnp.int32) << (field * field_bits))
        return counter, None

    counter, _ = lax.scan(count, jnp.zeros(keys[0].shape, jnp.int32), (keys, index))
    field_mask = (1 << field_bits) - 1
    return [(counter >> (field * field_bits)) & field_mask for field in range(len(keys))]


def _invert_permutation(ranks):
    """int32[N, *batch] `order` with `order[ranks[i]] = i` along axis 0 (ranks a permutation of 0..N-1)."""
    index = jnp.arange(ranks.shape[0], dtype=jnp.int32).reshape((-1,) + (1,) * (ranks.ndim - 1))
    return _place(jnp.broadcast_to(index, ranks.shape), ranks)


def _sweep_orders(a, c):
    """What the 3-D sweep needs: (position of each point among the strips of `a`, `a` sorted
    descending, the permutation putting `c` in descending order).

    Tied values of `a` may get distinct consecutive positions (the pairwise path, the sorting
    network): the strips between them have zero width and every tied point covers the last one, so
    the sweep is unchanged. Tied values of `c` come in index order except under the sorting network,
    where their order is unspecified: the slices between them have depth 0 and add exact zeros.
    """
    if a.shape[0] < _NETWORK_MIN_N:
        return _counted_sweep_orders(a, c)
    return _sorted_sweep_orders(a, c)


def _counted_sweep_orders(a, c):
    """`_sweep_orders` without sorting (`_descending_ranks`): unique ranks, ties in index order."""
    rank_a, rank_c = _descending_ranks(a, c)
    return rank_a, _place(a, rank_a), _invert_permutation(rank_c)


@jax.custom_batching.custom_vmap
def _sorted_sweep_orders(a, c):
    """`_sweep_orders` for N >= `_NETWORK_MIN_N`. One point set: counted ranks up to
    `_PAIRWISE_MAX_N`, beyond XLA's single-operand integer sorts (the fastest sort for one array).
    Under vmap: the bitonic network (`_sorted_sweep_orders_columns`) where it pays off for the
    batch's size (`network_pays_off`), else the counted ranks of every set. The orders are exact
    either way (only tied values may come in another order), so the volumes do not depend on it."""
    if a.shape[0] <= _PAIRWISE_MAX_N:
        return _counted_sweep_orders(a, c)
    position_in_a, a_sorted = _descending_positions(a)
    return position_in_a, a_sorted, _descending_order(c)


@_sorted_sweep_orders.def_vmap
def _sorted_sweep_orders_vmap(axis_size, in_batched, a, c):
    a, c = broadcast_unbatched(axis_size, in_batched, (a, c))
    if sort_free_wins(a.shape[1], axis_size, _PAIRWISE_MAX_N):
        return jax.vmap(_counted_sweep_orders)(a, c), (True, True, True)
    orders = _sorted_sweep_orders_columns(a.T, c.T)
    return tuple(order.T for order in orders), (True, True, True)


@jax.custom_batching.custom_vmap
def _sorted_sweep_orders_columns(a, c):
    """`_sweep_orders` of the point sets in the columns of `a`, `c` (`[N, B]`) by the bitonic network.

    Tied values of `c` come out in no particular order: the sweep adds their slices of depth 0
    (exact zeros), so the volume is the same as with ties in index order.
    """
    index = _column_index(a)
    a_keys, order_a = _bitonic_descending(_sortable_bits(a), index)
    _, order_c = _bitonic_descending(_sortable_bits(c), index)
    order_a, order_c = order_a.astype(jnp.int32), order_c.astype(jnp.int32)
    return _invert_permutation(order_a), lax.bitcast_convert_type(a_keys, a.dtype), order_c


_sorted_sweep_orders_columns.def_vmap(fold_into_columns(_sorted_sweep_orders_columns))


def _ranked_descending(values):
    """(ranks, values sorted descending): `_descending_positions` or, for small N, unique ranks."""
    if values.shape[0] <= _PAIRWISE_MAX_N:
        (ranks,) = _descending_ranks(values)
        return ranks, _place(values, ranks)
    return _descending_positions(values)


def _next_shifted(values):
    """values[1:] followed by 0 along axis 0 (the sweep's end at the reference point, gain 0)."""
    return jnp.concatenate([values[1:], jnp.zeros((1,) + values.shape[1:], values.dtype)])


def _at_least(current, candidate):
    """Elementwise max for values that cannot be NaN (gains are finite): a compare and a select.

    `jnp.maximum` must propagate NaN, which costs XLA's CPU code extra instructions per vector;
    in the sweeps' inner steps this select was measured 20% faster (256 x 100 3-D sweep: 0.54 ms
    against 0.70 ms).
    """
    return jnp.where(candidate > current, candidate, current)


def _running_max(values):
    """Inclusive prefix maximum along axis 0 (`[N, *batch]`).

    A sequential scan: under vmap each step is one vector op over the batch, several times faster
    on CPU than `lax.cummax` (a windowed reduction) or `associative_scan` for the batched sizes
    measured in benchmarks/bench_kernels.py.
    """
    _, out = lax.scan(lambda best, v: (_at_least(best, v),) * 2, jnp.zeros(values.shape[1:], values.dtype), values)
    return out


def _fixed_order_sum(values, axis=-1):
    """Sum over `axis` in an order fixed by the shape alone: a pairwise tree of elementwise adds.

    A front's hypervolume should not depend on the batch it is computed in (a seed's run is the same
    whatever batch it is part of; the module docstring names the last-bit exception). XLA's
    reductions and dots may associate a sum differently with the batch shape and the surrounding
    fusion (seen as one-ulp differences in a run's hypervolume
    history between batches of 1 and 6 seeds); elementwise adds of the halves cannot. The tree is
    the same whichever axis holds the terms, so layouts with the batch on either side agree.
    """
    axis = axis % values.ndim
    n = values.shape[axis]
    size = 1 << max(n - 1, 0).bit_length()
    padding = [(0, 0)] * values.ndim
    padding[axis] = (0, size - n)
    values = jnp.pad(values, padding)
    while values.shape[axis] > 1:
        half = values.shape[axis] // 2
        values = lax.slice_in_dim(values, 0, half, axis=axis) + lax.slice_in_dim(values, half, 2 * half, axis=axis)
    return jnp.squeeze(values, axis)


def _hv1(gains):
    return jnp.max(gains[:, 0])


def _hv2(gains):
    """2-D hypervolume (unit box, maximisation): strips of the first objective, in descending order,
    each as high as the best second objective among the points reaching it."""
    if gains.shape[0] < _NETWORK_MIN_N:
        return _hv2_pairwise(gains)
    return _hv2_sorted(gains)


def _hv2_counted(gains):
    """`_hv2_sorted`'s strips without sorting: the points placed by their counted ranks."""
    (rank_a,) = _descending_ranks(gains[:, 0])
    a_descending, b = _place(gains[:, 0], rank_a), _place(gains[:, 1], rank_a)
    return _fixed_order_sum((a_descending - _next_shifted(a_descending)) * _running_max(b))


@jax.custom_batching.custom_vmap
def _hv2_sorted(gains):
    """`_hv2` for N >= `_NETWORK_MIN_N`: the strips of the points in descending order of the first
    objective. One point set: ordered by counted ranks up to `_PAIRWISE_MAX_N`, beyond by XLA's
    single-operand integer sort. Under vmap: the bitonic network (`_hv2_columns`) where it pays off
    for the batch's size, else counted ranks. Every way gives the same strips in the same places
    (tied points only swap zero-width strips), summed by the same tree, so a front's volume does not
    depend on the batch."""
    if gains.shape[0] <= _PAIRWISE_MAX_N:
        return _hv2_counted(gains)
    a, b = gains[:, 0], gains[:, 1]
    positions, a_descending = _descending_positions(a)
    # Tied points share a position: the strip keeps the best of them.
    best_b = jnp.zeros_like(b).at[positions].max(b, mode="promise_in_bounds")
    return _fixed_order_sum((a_descending - _next_shifted(a_descending)) * _running_max(best_b))


@_hv2_sorted.def_vmap
def _hv2_sorted_vmap(axis_size, in_batched, gains):
    (gains,) = broadcast_unbatched(axis_size, in_batched, (gains,))
    if sort_free_wins(gains.shape[1], axis_size, _PAIRWISE_MAX_N):
        return jax.vmap(_hv2_counted)(gains), True
    return _hv2_columns(jnp.moveaxis(gains, 0, -1)), True


@jax.custom_batching.custom_vmap
def _hv2_columns(gains):
    """2-D hypervolumes (unit box) of the point sets in the columns of `gains` (`[N, 2, B]`) -> `[B]`.

    The points are sorted by the first objective (bitonic network) and the second is gathered in
    that order; tied points may come in any order: the strips between them have zero width and the
    last one's height is the best of them, the same terms as `_hv2_sorted`'s shared positions.
    """
    a, b = gains[:, 0], gains[:, 1]
    # A narrow index through the network and one gather after (0.26 ms for 256 columns of 1000)
    # cost less than carrying b itself.
    keys, order = _bitonic_descending(_sortable_bits(a), _column_index(a))
    b = jnp.take_along_axis(b, order.astype(jnp.int32), axis=0)
    a_descending = lax.bitcast_convert_type(keys, a.dtype)
    return _fixed_order_sum((a_descending - _next_shifted(a_descending)) * _running_max(b), axis=0)


_hv2_columns.def_vmap(fold_into_columns(_hv2_columns))


def _hv2_pairwise(gains):
    """2-D hypervolume without sorting: O(N^2) work as N steps of O(N) vector work.

    Order the points by descending first objective, ties by index. Each point adds the band between
    its own second objective and the best second objective of the points before it, as wide as its
    first objective; dominated points and repeated points add nothing.
    """
    a, b = gains[:, 0], gains[:, 1]
    iota = jnp.arange(a.shape[0], dtype=jnp.int32)

    def absorb(best_before, point):
        a_j, b_j, j = point
        before = (a_j > a) | ((a_j == a) & (j < iota))
        return _at_least(best_before, jnp.where(before, b_j, 0)), None

    best_before, _ = lax.scan(absorb, jnp.zeros_like(b), (a, b, iota))
    return _fixed_order_sum(a * jnp.maximum(b - best_before, 0))


def _hv3_batched(gains, active, max_members=None):
    """3-D hypervolumes (unit box, maximisation) of several subsets of the same points.

    gains: [N, 3] in [0, 1]; active: bool [K, N], the members of each subset. Returns [K].
    The orders (`_sweep_orders`) are shared by all subsets. Without `max_members` the sweep visits
    all N points in the shared order (non-members and zero-gain rows never raise the staircase). With
    `max_members` (static: one int per subset), each subset's members are gathered in that order
    and subsets with equal bounds are swept together in as many steps as their bound (the caller
    guarantees no subset has more members).
    """
    n = gains.shape[0]
    a, b, c = gains[:, 0], gains[:, 1], gains[:, 2]
    # A point covers every strip whose upper edge is <= its own a: strips >= its position (tied
    # points share a position; the zero-width strips between tied values cost nothing).
    position_in_a, a_sorted, order_c = _sweep_orders(a, c)
    widths_a = a_sorted - _next_shifted(a_sorted)  # >= 0; strip i spans (a_sorted[i+1], a_sorted[i]]
    if max_members is None:
        # [steps, K] sweep inputs: the same point for every subset, raising only where it is a member.
        c_sorted = c[order_c]
        k = active.shape[0]
        positions = jnp.broadcast_to(position_in_a[order_c][:, None], (n, k))
        heights = jnp.where(active[:, order_c].T, b[order_c][:, None], 0)
        depths = jnp.broadcast_to((c_sorted - _next_shifted(c_sorted))[:, None], (n, k))
        return _hv3_sweep(positions, heights, depths, widths_a)

    def members_in_order(member, bound):
        position, real = first_true(member[order_c], bound)
        return order_c[position], real

    volumes = jnp.zeros(active.shape[0], gains.dtype)
    for bound in sorted(set(max_members)):
        group = jnp.array([k for k, subset_bound in enumerate(max_members) if subset_bound == bound])
        bound = max(1, min(bound, n))
        index, real = jax.vmap(lambda member: members_in_order(member, bound))(active[group])
        # Padding slots have c = 0: the last member's slice reaches down to the reference point and
        # the padding adds nothing.
        c_members = jnp.where(real, c[index], 0)
        depths = c_members - jnp.concatenate([c_members[:, 1:], jnp.zeros_like(c_members[:, :1])], axis=1)
        heights = jnp.where(real, b[index], 0)
        group_volumes = _hv3_sweep(position_in_a[index].T, heights.T, depths.T, widths_a)
        volumes = volumes.at[group].set(group_volumes)
    return volumes


def _hv3_sweep(positions, heights, depths, widths):
    """The 3-D sweep over [steps, K] inputs: at each step every subset's staircase (over the N strips
    of the first objective) rises to the point's height from its position on, and the slice of the
    given depth adds depth * staircase. Returns [K]: the weighted staircases dotted with the widths."""
    return _hv3_sweep_columns(positions, heights, depths, jnp.broadcast_to(widths[:, None], widths.shape + positions.shape[1:]))


@jax.custom_batching.custom_vmap
def _hv3_sweep_columns(positions, heights, depths, widths):
    """`_hv3_sweep` of R independent rows: positions, heights, depths `[steps, R]`, widths `[N, R]`
    -> `[R]`. Under vmap the batch joins the rows (`fold_into_columns`), so a batch of fronts and
    their subsets make one set of rows, swept in chunks that fit the cache (`_SWEEP_CHUNK_BYTES`)."""
    rows, n = positions.shape[1], widths.shape[0]
    row_bytes = n * widths.dtype.itemsize
    if not _sweep_in_chunks(rows * row_bytes):
        return _sweep_rows(positions, heights, depths, widths)
    per_chunk = max(1, _SWEEP_CHUNK_BYTES // row_bytes)
    chunks = -(-rows // per_chunk)

    def split(x):  # [..., R] -> [chunks, ..., per_chunk]; padded rows have zero depth and width
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, chunks * per_chunk - rows)])
        return jnp.moveaxis(x.reshape(x.shape[:-1] + (chunks, per_chunk)), -2, 0)

    volumes = lax.map(lambda chunk: _sweep_rows(*chunk), tuple(map(split, (positions, heights, depths, widths))))
    return volumes.reshape(-1)[:rows]


_hv3_sweep_columns.def_vmap(fold_into_columns(_hv3_sweep_columns))


def _sweep_in_chunks(state_bytes: int) -> bool:
    """Whether a sweep whose state array takes `state_bytes` runs in chunks: beyond
    `_SWEEP_WHOLE_MAX_BYTES`, and only on one CPU device (a cache optimisation). With the batch
    sharded over several CPU devices the whole state was faster (2 devices, 256 fronts, M = 3:
    N = 1000 25 ms whole against 34 ms in chunks; N = 300 4.6 against 6.6 ms), and a GPU wants
    the whole batch at once. Either way the volumes are the same."""
    return state_bytes > _SWEEP_WHOLE_MAX_BYTES and jax.default_backend() == "cpu" and jax.local_device_count() == 1


def _sweep_rows(positions, heights, depths, widths):
    """`_hv3_sweep_columns` in one scan; its state is `[R, N]`."""
    n = widths.shape[0]
    iota = jnp.arange(n, dtype=jnp.int32)

    def add_point(carry, point):
        staircase, weighted = carry
        position, height, depth = point
        raise_to = jnp.where(iota[None, :] >= position[:, None], height[:, None], 0)
        staircase = _at_least(staircase, raise_to)
        # The dot with the widths is deferred (done once at the end) so each step is a single
        # fused elementwise pass with no reduction.
        return (staircase, weighted + depth[:, None] * staircase), None

    zeros = jnp.zeros((positions.shape[1], n), widths.dtype)
    (_, weighted), _ = lax.scan(add_point, (zeros, zeros), (positions, heights, depths), unroll=_HV3_UNROLL)
    return _fixed_order_sum(weighted * widths.T)


def _hv3(gains):
    return _hv3_batched(gains, jnp.ones((1, gains.shape[0]), bool))[0]


def _hv4_batched(gains, active):
    """4-D hypervolumes of several subsets (active: bool [K, N]) by slicing along objective 4."""
    n = gains.shape[0]
    rank_d, d_sorted = _ranked_descending(gains[:, 3])
    depths_d = d_sorted - _next_shifted(d_sorted)
    # [slice k, point]: the point reaches slice k (tied points enter together or, with unique
    # ranks, one by one: the zero-depth slices between tied values cost nothing).
    prefix = rank_d[None, :] <= jnp.arange(n)[:, None]

    def one_subset(member):
        slices = prefix & member[None, :]
        chunk = min(_HV4_SLICE_CHUNK, n)
        n_chunks = math.ceil(n / chunk)
        slices = jnp.pad(slices, ((0, n_chunks * chunk - n), (0, 0)))
        volumes = lax.map(lambda s: _hv3_batched(gains[:, :3], s), slices.reshape(n_chunks, chunk, n))
        return _fixed_order_sum(depths_d * volumes.reshape(-1)[:n])

    return lax.map(one_subset, active)


def _hv4_columns_impl(gains):
    """4-D hypervolumes (unit box, maximisation) of B point sets: gains `[N, 4, B]` -> `[B]`.

    The algorithm of `_hv4_batched` (slices along objective 4, each a 3-D sweep over the points in
    order of objective 3) with the sets on the minor axis: the sweep state is `[slices, strips, B]`,
    so every step's vector work runs along B instead of along N strips. For small N, where rows of N
    elements vectorise poorly, this is about twice as fast under vmap (`_HV4_COLUMNS_MAX_N`). Sums
    run in an order fixed by the shape alone, so a set's value does not depend on the batch around
    it (it may differ from `_hv4_batched`'s in the last bit: the compiler fuses multiply-adds
    differently in the two layouts).
    """
    n = gains.shape[0]
    a, b, c, d = (gains[:, k] for k in range(4))  # [N, B] each
    rank_a, rank_c, rank_d = _descending_ranks(a, c, d)
    a_sorted, d_sorted = _place(a, rank_a), _place(d, rank_d)
    widths_a = a_sorted - _next_shifted(a_sorted)  # strip i spans (a_sorted[i+1], a_sorted[i]]
    depths_d = d_sorted - _next_shifted(d_sorted)  # slice k holds the points of d-rank <= k
    order_c = _invert_permutation(rank_c)

    def in_c_order(values):
        return jnp.take_along_axis(values, order_c, axis=0)

    c_sorted = in_c_order(c)
    steps = (in_c_order(rank_a), in_c_order(b), c_sorted - _next_shifted(c_sorted), in_c_order(rank_d))
    iota = jnp.arange(n, dtype=jnp.int32)[:, None]

    def sweep_slices(first, count):
        """Volumes `[count, B]` of the slices first, first + 1, ... (each slice is independent)."""
        slices = first + jnp.arange(count, dtype=jnp.int32)[:, None]

        def add_point(carry, point):
            staircase, weighted = carry  # [slices, strips, B]
            position, height, depth, rank = point  # [B]
            height_per_slice = jnp.where(slices >= rank, height, 0)  # [slices, B]
            raise_to = jnp.where((iota >= position)[None], height_per_slice[:, None, :], 0)
            staircase = _at_least(staircase, raise_to)
            return (staircase, weighted + depth * staircase), None

        zeros = jnp.zeros((count, n, gains.shape[2]), gains.dtype)
        (_, weighted), _ = lax.scan(add_point, (zeros, zeros), steps)
        return _fixed_order_sum(jnp.moveaxis(weighted * widths_a[None], 1, -1))

    slice_bytes = n * gains.shape[2] * gains.dtype.itemsize
    if not _sweep_in_chunks(n * slice_bytes):
        slice_volumes = sweep_slices(0, n)  # [slices, B]
    else:
        # A few slices at a time, like the 3-D sweep's rows (measured, 256 sets of N = 30: 2.3 ms
        # whole against 1.6 ms in chunks of 1-5 slices; chunks of 6-10 slices were erratic, 2.5-3.1 ms).
        per_chunk = max(1, _HV4_SLICE_CHUNK_BYTES // slice_bytes)
        chunks = -(-n // per_chunk)
        firsts = jnp.arange(chunks, dtype=jnp.int32) * per_chunk
        slice_volumes = lax.map(lambda first: sweep_slices(first, per_chunk), firsts).reshape(chunks * per_chunk, -1)[:n]
    return _fixed_order_sum((depths_d * slice_volumes).T)


@jax.custom_batching.custom_vmap
def _hv4_columns(gains):
    """`_hv4_columns_impl`; under vmap the new batch axis joins the sets on the minor axis."""
    return _hv4_columns_impl(gains)


_hv4_columns.def_vmap(fold_into_columns(_hv4_columns))


def _hv4(gains, active):
    """4-D hypervolumes of the subsets `active` (bool [K, N]) of one point set: `[K]`."""
    if gains.shape[0] <= _HV4_COLUMNS_MAX_N:
        # Non-members' gains are zeroed: a zero-gain point adds nothing.
        return _hv4_columns(jnp.where(active.T[:, None, :], gains[:, :, None], 0))
    return _hv4_batched(gains, active)


def _unit_hypervolume(gains):
    m = gains.shape[1]
    if m == 1:
        return _hv1(gains)
    if m == 2:
        return _hv2(gains)
    if m == 3:
        return _hv3(gains)
    if m == 4:
        return _hv4(gains, jnp.ones((1, gains.shape[0]), bool))[0]
    raise ValueError(_too_many_objectives(m))


def _subset_volumes(gains, active, max_members=None):
    """Unit-box hypervolumes of the subsets `active` (bool `[K, N]`) of one point set: `[K]`.

    M = 3 and 4 share the orders and the sweep among the subsets (`max_members`: see
    `_hv3_batched`; M = 3 only); M <= 2 computes each subset on its own.
    """
    m = gains.shape[1]
    if m == 3:
        return _hv3_batched(gains, active, max_members)
    if m == 4:
        return _hv4(gains, active)
    return jax.vmap(lambda member: _unit_hypervolume(jnp.where(member[:, None], gains, 0)))(active)


def _too_many_objectives(m):
    return (
        f"exact hypervolume supports M <= {MAX_EXACT_OBJECTIVES} objectives, got M = {m}; "
        "use kernels.hypervolume.hypervolume_mc for a Monte Carlo estimate with a standard error"
    )


@jax.jit
def _hypervolume(Y, ref, mask):
    Y, ref, valid = _cast(Y, ref, mask)
    if Y.shape[0] == 0:
        return jnp.zeros((), Y.dtype)
    gains, scales, _ = _unit_gains(Y, ref, valid)
    return _times_product(_unit_hypervolume(gains), scales)


def hypervolume(Y, ref, mask=None) -> jax.Array:
    """Exact hypervolume (float scalar) of the valid rows of `Y` w.r.t. `ref` (minimisation).

    Args:
      Y: `[N, M]` objective values, 1 <= M <= 4.
      ref: `[M]` reference point; only points strictly better than it in every objective count.
      mask: optional bool `(N,)`; False rows are ignored.

    Cost: M <= 2: O(N log N) (O(N^2) vector work without sorting for N <= 256); M = 3: O(N^2)
    time, O(N) memory; M = 4: O(N^3) time (N up to a few hundred). Raises ValueError for M > 4 (use `hypervolume_mc`), bad shapes, a non-finite
    reference point, or NaN/inf in valid rows of concrete inputs.
    """
    Y, ref, mask = _validate(Y, ref, mask)
    if Y.shape[1] > MAX_EXACT_OBJECTIVES:
        raise ValueError(_too_many_objectives(Y.shape[1]))
    return _hypervolume(Y, ref, mask)


@partial(jax.jit, static_argnames=("max_members",))
def _hypervolume_subsets(Y, ref, mask, members, max_members=None):
    Y, ref, valid = _cast(Y, ref, mask)
    k = members.shape[0]
    if Y.shape[0] == 0 or k == 0:
        return jnp.zeros((k,), Y.dtype)
    # One scale for all subsets: the unit-box hypervolume times the shared volume factor is each
    # subset's hypervolume whatever scale is used.
    gains, scales, inside = _unit_gains(Y, ref, valid)
    volumes = _times_product(_subset_volumes(gains, members & inside[None, :], max_members), scales)
    if max_members is None:
        return volumes
    overflow = jnp.sum(members & valid[None, :], axis=1) > jnp.array(max_members)
    return jnp.where(overflow, jnp.nan, volumes)


def hypervolume_subsets(Y, ref, members, mask=None, max_members=None) -> jax.Array:
    """Exact hypervolumes of K subsets of the same points: float[K].

    Args:
      Y: `[N, M]` objective values, 1 <= M <= 4.
      ref: `[M]` reference point.
      members: bool `[K, N]`; row k selects the points of subset k.
      mask: optional bool `(N,)`; False rows belong to no subset.
      max_members: optional static bound on the number of (valid) members of each subset: an int
        for all subsets or a tuple of K ints. For M = 3 a subset's sweep then takes that many steps
        instead of N (subsets with equal bounds are swept together), which is how the nodes of a
        partition tree, whose depth bounds their size, are valued. A subset with more members than
        its bound gets NaN, never a wrong value.

    Equal to `vmap(lambda m: hypervolume(Y, ref, m & mask))(members)`, but for M = 3 and 4 the
    orders are shared by all subsets and so is the sweep (one O(N^2 K) sweep for M = 3, or
    O(N * bound * K) with bounds; for M = 4 and N <= 32 the subsets are the columns of one batched
    sweep), which is how a run's hypervolume after every evaluation (K = N
    prefixes) and a partition tree's node values are computed.
    """
    Y, ref, mask = _validate(Y, ref, mask)
    if Y.shape[1] > MAX_EXACT_OBJECTIVES:
        raise ValueError(_too_many_objectives(Y.shape[1]))
    members = jnp.asarray(members)
    if members.ndim != 2 or members.shape[1] != Y.shape[0]:
        raise ValueError(f"members must have shape (K, N) = (K, {Y.shape[0]}), got {members.shape}")
    if members.dtype != jnp.bool_:
        raise ValueError(f"members must be boolean, got dtype {members.dtype}")
    if max_members is not None:
        if is_int(max_members):
            bounds = (max_members,) * members.shape[0]
        else:
            bounds = tuple(max_members) if isinstance(max_members, (tuple, list)) else ()
        if len(bounds) != members.shape[0] or not all(is_int(b) and b >= 1 for b in bounds):
            raise ValueError(
                f"max_members must be a positive int or a tuple of {members.shape[0]} positive ints (one per subset); "
                f"got {max_members!r}"
            )
        max_members = tuple(int(b) for b in bounds)
    valid = jnp.ones(Y.shape[0], bool) if mask is None else mask
    return _hypervolume_subsets(Y, ref, valid, members, max_members)


@partial(jax.jit, static_argnames=("n_samples", "chunk_size"))
def _hypervolume_mc(key, Y, ref, mask, n_samples, chunk_size):
    Y, ref, valid = _cast(Y, ref, mask)
    n, m = Y.shape
    inside = valid & jnp.all(Y < ref, axis=1)
    any_inside = jnp.any(inside)
    lower = jnp.min(jnp.where(inside[:, None], Y, ref), axis=0) if n else ref
    box = ref - lower
    # Samples are drawn as offsets from `lower` and the rows compared as offsets too: drawn as
    # `lower + box * u`, samples far from 0 fell on float32's coarse grid there (objectives near 1e6:
    # spacing 0.0625) and the estimate was biased (z = +206 at an offset of 1e6, +4.2 at 1e4).
    offsets = Y - lower
    # Rows outside the box can never weakly dominate a sample (samples are < ref): only `inside`
    # rows take part (the mask also drops masked rows, NaN included).
    chunk = min(chunk_size, n_samples)
    n_chunks = math.ceil(n_samples / chunk)

    def count_chunk(i, count):
        # A flat draw (`_random`): the 2-D draw's values, 4x faster for odd chunk sizes such as the
        # default 69905 at N = 30 (10.4 ms against 3.2 ms per chunk of M = 8).
        u = box * _random.uniform(jax.random.fold_in(key, i), (chunk, m), Y.dtype)
        dominated = jnp.any(weakly_dominated_by(u, offsets, inside), axis=1)
        real_sample = i * chunk + jnp.arange(chunk) < n_samples  # the last chunk may overhang
        return count + jnp.sum(dominated & real_sample, dtype=jnp.int32)

    count = lax.fori_loop(0, n_chunks, count_chunk, jnp.zeros((), jnp.int32))
    p_hat = count.astype(Y.dtype) / n_samples
    box_sides = [box[k] for k in range(m)]
    estimate = jnp.where(any_inside, _times_product(p_hat, box_sides), 0)
    stderr = jnp.where(any_inside, _times_product(jnp.sqrt(p_hat * (1 - p_hat) / n_samples), box_sides), 0)
    return estimate, stderr


def hypervolume_mc(key, Y, ref, n_samples: int, mask=None, chunk_size: int | None = None):
    """Monte Carlo hypervolume estimate for any M: `(estimate, standard_error)`, both float scalars.

    Samples are drawn uniformly in the box `[lower, ref]`, `lower` being the per-objective minimum
    over valid points strictly inside the reference box (which contains the whole dominated region,
    so the estimate is unbiased). A sample counts as dominated when some valid point is `<=` it in
    every objective. `estimate = box_volume * p_hat` and
    `standard_error = box_volume * sqrt(p_hat * (1 - p_hat) / n_samples)`.

    Args:
      key: a `jax.random` key (the only source of randomness).
      Y: `[N, M]`, any M >= 1. ref: `[M]`. mask: optional bool `(N,)`.
      n_samples: static int, number of samples.
      chunk_size: static int, samples per chunk (default: about 2M sample-point pairs per chunk);
        memory is O(chunk_size * N), the chunks run in a `lax.fori_loop`.
    Returns (0, 0) when no valid point is strictly inside the reference box.
    """
    n_samples = check_static_positive_int(n_samples, "n_samples")
    Y, ref, mask = _validate(Y, ref, mask)
    if chunk_size is None:
        chunk_size = max(256, _MC_PAIRS_PER_CHUNK // max(Y.shape[0], 1))
    chunk_size = check_static_positive_int(chunk_size, "chunk_size")
    return _hypervolume_mc(key, Y, ref, mask, n_samples, chunk_size)


@jax.jit
def _contributions(Y, ref, mask):
    Y, ref, valid = _cast(Y, ref, mask)
    n, m = Y.shape
    if n == 0:
        return jnp.zeros((0,), Y.dtype)
    gains, scales, inside = _unit_gains(Y, ref, valid)
    if m == 2:
        return _times_product(_contributions2(gains, inside), scales)
    # Leave-one-out over the nondominated set: duplicates get 0 automatically (removing one copy
    # leaves the hypervolume unchanged) and dominated points are ignored, as in moocore's default.
    nondominated = inside & (_dominance_count(Y, inside) == 0)
    leave_one_out = nondominated[None, :] & ~jnp.eye(n, dtype=bool)
    volumes = _subset_volumes(gains, jnp.concatenate([nondominated[None, :], leave_one_out], axis=0))
    return _times_product(jnp.where(nondominated, volumes[0] - volumes[1:], 0), scales)


def _contributions2(gains, inside):
    """Exact 2-D exclusive contributions from sorted neighbours on the staircase. O(N log N)."""
    n = gains.shape[0]
    a, b = gains[:, 0], gains[:, 1]
    order = jnp.lexsort((-b, -a))  # a descending, ties: b descending
    a_s, b_s, inside_s = a[order], b[order], inside[order]
    best_b_before = jnp.concatenate([jnp.zeros((1,), b.dtype), lax.associative_scan(jnp.maximum, b_s)[:-1]])
    on_staircase = inside_s & (b_s > best_b_before)
    # The copy of a duplicated point that sorts first is on the staircase but contributes nothing.
    has_twin_after = jnp.concatenate([(a_s[1:] == a_s[:-1]) & (b_s[1:] == b_s[:-1]), jnp.zeros((1,), bool)])
    stair_a = jnp.where(on_staircase, a_s, 0)
    next_stair_a = _next_shifted(lax.associative_scan(jnp.maximum, stair_a, reverse=True))
    contribution_s = jnp.where(
        on_staircase & ~has_twin_after, (a_s - next_stair_a) * (b_s - best_b_before), 0
    )
    return jnp.zeros(n, gains.dtype).at[order].set(contribution_s)


def hypervolume_contributions(Y, ref, mask=None) -> jax.Array:
    """Exclusive hypervolume contribution of every row: float `[N]` (minimisation).

    Matches moocore's `hv_contributions(Y, ref)` (default `ignore_dominated=True`): dominated rows,
    duplicated rows, masked rows and rows not strictly inside `ref` get 0, and dominated rows do not
    affect the contributions of the others.

    M = 2 is exact from sorted staircase neighbours, O(N log N). M = 1, 3, 4 use leave-one-out
    differences of exact hypervolumes over the nondominated set (M = 3: O(N^3), M = 4: O(N^4); meant
    for small N); being differences, their absolute error is that of the total hypervolume.
    """
    Y, ref, mask = _validate(Y, ref, mask)
    if Y.shape[1] > MAX_EXACT_OBJECTIVES:
        raise ValueError(_too_many_objectives(Y.shape[1]))
    return _contributions(Y, ref, mask)
