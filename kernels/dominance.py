"""Pareto dominance kernels (minimisation).

Conventions
-----------
- `Y` is `[N, M]`: N points (rows), M >= 1 objectives, all minimised.
- Row `i` dominates row `j` when `Y[i] <= Y[j]` in every objective and `Y[i] < Y[j]` in at least one.
  Equal rows (duplicates) therefore do not dominate each other.
- `mask` is an optional boolean `(N,)` marking the real rows (None: all rows are real). Masked rows
  neither dominate nor are dominated: their rows/columns of the dominance matrix are False, their
  dominance count is defined as 0 and they are never reported as nondominated. Their values may be
  anything, including NaN.

All functions are pure and jit/vmap-able; the Python wrappers validate shapes always and values
(NaN/inf in valid rows) only on concrete inputs. Comparisons are XLA's: on CPU, subnormal floats
(below ~1.2e-38 in float32) compare as zero, so `[1e-40, 0]` and `[2e-40, 0]` count as equal rows.

`dominance_count` and `nondominated_mask` visit the rows in a scan for N <= 1024: N steps, each
comparing one row with all rows as `[N]` vectors per objective (O(N M) memory), or under vmap over a
large enough batch N / 4 steps of 4 rows; faster on CPU than comparison planes, above all under
vmap. From M = 5 a pair's strictness is tested on exact sums of the rows' sortable keys rather than
by M more comparisons (in the candidate blocks below too, up to ~30,000 rows at M = 10: N = 20,000
200 -> 146 ms). `nondominated_mask` and `nondominated_mask_blocked` with M = 2 and N > 192 use an
O(N log N) sweep instead (sort by the first objective, prefix minimum of the second), with O(N)
memory; under vmap so does `nondominated_mask` from N = 128 when the batch is large enough for the
sorting network to pay off (`kernels._sorting.network_pays_off`).

`nondominated_mask` and `nondominated_mask_blocked` with M <= 5 screen first, under vmap from
N = 100 and for one set from N = 512 (one 2-D set keeps its sweep): 16 pivots (in 16 groups of rows,
the row of smallest scaled objective sum) remove the rows they dominate, and only the survivors are
compared among themselves, in the smallest of a few fixed buffers (32, 64, ... rows, N / 2) that
holds them; when more survive, the computation above runs on all rows. Under vmap with M > 5 there
are no pivots (most rows of a typical set are nondominated), and buffers of N / 2, 3N / 4 and 7N / 8
rows only leave out the masked rows (256 sets of 100 at M = 10, a quarter masked: 1.25 against
1.4-1.5 ms). The mask is exact either way (see `_SCREEN_MIN_N`), so the branch taken never changes a
result. On random uniform sets this is O(16 N + S^2) for S survivors instead of O(N^2): 256 sets of
1000 at M = 3 in 2.7-3.6 ms against 40-60 ms. On a front (nothing dominated) the screening is pure
cost: 256 sets on a sphere, M = 3, N = 100 0.97-1.11 against 0.70 ms, N = 300 5.4-5.6 against
4.7-4.8 ms, N = 1000 the same 40 ms; M = 2, N = 1000 7.7 against 7.0 ms (measured with the row scan
at one row a step).

`dominance_matrix` builds the `[N, N]` boolean matrix (memory O(N^2)). `dominance_count_blocked` /
`nondominated_mask_blocked` (and `dominance_count` beyond N = 1024) process the candidates in blocks
of `block_size` rows with `lax.map` and keep only an `[N, block_size]` intermediate alive, i.e. memory
O(N * block_size) for M <= 32 (the objective loop is unrolled, so no `[N, block, M]` tensor is formed;
for larger M the broadcast form uses O(N * block_size * M)).
"""

from __future__ import annotations

import math
from functools import cache, partial

import jax
import jax.numpy as jnp
from jax import lax

from kernels._batching import broadcast_unbatched, first_true_words, fold_into_columns
from kernels._checks import check_finite_rows, check_mask, check_objectives, check_static_positive_int
from kernels._sorting import NETWORK_MIN_N, bitonic_descending, column_index, place, sort_free_wins

__all__ = [
    "weakly_dominated_by",
    "dominance_matrix",
    "dominance_count",
    "nondominated_mask",
    "dominance_count_blocked",
    "nondominated_mask_blocked",
    "DEFAULT_BLOCK_SIZE",
]

DEFAULT_BLOCK_SIZE = 64

# Above this many objectives the per-objective loop is not unrolled (it would bloat the program);
# the broadcast form is used instead, whose [P, Q, M] temporary XLA usually fuses away.
_UNROLL_MAX_M = 32


def _validate(Y, mask):
    Y = check_objectives(Y)
    mask = check_mask(mask, Y.shape[0])
    check_finite_rows(Y, mask)
    # Conversions happen inside the jitted functions: eager jnp calls cost tens of microseconds each.
    return Y, mask


def _valid_rows(Y, mask):
    return jnp.ones(Y.shape[0], dtype=bool) if mask is None else mask.astype(bool)


def _dominates_by_columns(better, worse, better_sums=None, worse_sums=None):
    """bool, in the broadcast shape of the operands: `better` dominates `worse` (minimisation), both
    given as their M columns (sequences of mutually broadcastable arrays, one per objective).

    Looping over the objectives keeps every temporary in the broadcast shape, so memory does not
    grow with M. With both sides' `_row_sums` (pairs, broadcastable the same way), strictness is
    tested on them instead of by M more comparisons.
    """
    if better_sums is not None:
        dominated = (better_sums[0] != worse_sums[0]) | (better_sums[1] != worse_sums[1])
        for b, w in zip(better, worse):
            dominated = dominated & (b <= w)
        return dominated
    weakly_better, strictly_better_somewhere = better[0] <= worse[0], better[0] < worse[0]
    for b, w in zip(better[1:], worse[1:]):
        weakly_better = weakly_better & (b <= w)
        strictly_better_somewhere = strictly_better_somewhere | (b < w)
    return weakly_better & strictly_better_somewhere


def _dominates(A: jax.Array, B: jax.Array) -> jax.Array:
    """bool[P, Q]: A[p] dominates B[q] (minimisation). A: [P, M], B: [Q, M]."""
    M = A.shape[1]
    if M > _UNROLL_MAX_M:
        a, b = A[:, None, :], B[None, :, :]
        return jnp.all(a <= b, axis=-1) & jnp.any(a < b, axis=-1)
    return _dominates_by_columns([A[:, m][:, None] for m in range(M)], [B[:, m][None, :] for m in range(M)])


def weakly_dominated_by(points: jax.Array, Y: jax.Array, valid: jax.Array | None = None) -> jax.Array:
    """bool[P, N]: `[p, n]` is True when row n of `Y` is `<=` `points[p]` in every objective (and
    `valid[n]`): the test behind every Monte Carlo hypervolume, where a sample point counts as
    dominated when some row weakly dominates it.

    points: [P, M]; Y: [N, M]; valid: optional bool[N]. No validation (a building block for
    jitted callers). The comparison runs objective by objective on [P, N] planes: reducing the
    short trailing M axis of a [P, N, M] comparison vectorises poorly on CPU (6x slower at
    M = 10, N = 200, P = 256).
    """
    M = Y.shape[1]
    if M > _UNROLL_MAX_M:
        covered = jnp.all(Y[None, :, :] <= points[:, None, :], axis=-1)
    else:
        covered = jnp.ones((points.shape[0], Y.shape[0]), dtype=bool)
        for m in range(M):
            covered = covered & (Y[None, :, m] <= points[:, m, None])
    return covered if valid is None else covered & valid[None, :]


def _dominated_by_count(candidates, dominators_t, valid, candidate_sums=None, dominator_sums=None):
    """int32[Q]: how many valid dominators dominate each candidate row.

    candidates: [Q, M]; dominators_t: [M, P] (transposed so the reduction runs along the contiguous
    axis, which is several times faster on CPU than reducing over the leading axis); valid: [P].
    With the rows' `_row_sums` ([Q] and [P] pairs), strictness is tested on them.
    """
    M = candidates.shape[1]
    if M > _UNROLL_MAX_M:
        a, b = dominators_t.T[None, :, :], candidates[:, None, :]
        dominated = jnp.all(a <= b, axis=-1) & jnp.any(a < b, axis=-1)
    else:
        dominator_columns = [dominators_t[m][None, :] for m in range(M)]
        candidate_columns = [candidates[:, m][:, None] for m in range(M)]
        if candidate_sums is None:
            dominated = _dominates_by_columns(dominator_columns, candidate_columns)
        else:
            dominated = _dominates_by_columns(
                dominator_columns,
                candidate_columns,
                tuple(part[None, :] for part in dominator_sums),
                tuple(part[:, None] for part in candidate_sums),
            )
    return jnp.sum(dominated & valid[None, :], axis=1, dtype=jnp.int32)


@jax.jit
def _dominance_matrix(Y, mask):
    valid = _valid_rows(Y, mask)
    return _dominates(Y, Y) & valid[:, None] & valid[None, :]


# Up to this N, `dominance_count` (and `nondominated_mask` for M > 2) visits the rows in a scan
# (`_scan_rows`), each step comparing rows with all N as [N] vectors, O(N) memory. Measured on this
# CPU under vmap over 256 sets of 100, one row a step: 0.86 ms instead of 1.3-1.7 ms for candidate
# blocks at M = 3, on par at M = 10, and as fast or faster for single calls up to N = 1000. Beyond,
# candidate blocks.
_SCAN_MAX_N = 1024


def _unrolled_columns(Y):
    """Y's columns as a tuple (the objective loops are unrolled over them), or None beyond
    `_UNROLL_MAX_M` objectives (the broadcast form is used)."""
    return tuple(Y[:, k] for k in range(Y.shape[1])) if Y.shape[1] <= _UNROLL_MAX_M else None


def _row_sums(Y):
    """(high, low) int[N] each, or None: the sums over each row of its sortable keys'
    (`_sortable_keys`) high and low halves, which together give the keys' sum exactly, for floats
    with unrolled columns; None otherwise.

    If row j is `<=` row i in every objective, each key of j is `<=` i's, so the two keys' sums are
    equal exactly when the rows are equal. Given the M `<=` comparisons, "(high, low) differ"
    therefore stands for the M `<` comparisons of the strictness test: half the work per pair of
    rows. (A float sum would not do: rounding can make the sums of different rows equal.)
    """
    if Y.shape[1] > _UNROLL_MAX_M or Y.dtype not in (jnp.float32, jnp.float64):
        return None
    keys = _sortable_keys(Y)
    bits = keys.dtype.itemsize * 4
    # Halves below 2**bits in magnitude: no overflow up to `_UNROLL_MAX_M` objectives.
    high = jnp.sum(keys >> bits, axis=1, dtype=keys.dtype)
    low = jnp.sum(keys & jnp.array((1 << bits) - 1, keys.dtype), axis=1, dtype=keys.dtype)
    return high, low


def _dominated_by_point(point, Y, columns, point_sums=None, sums=None):
    """bool[N]: rows of `Y` ([N, M], with its `columns`) that `point` ([M]) dominates; with the
    `_row_sums` of the point and of `Y`, strictness is tested on them."""
    if columns is None:
        return jnp.all(point <= Y, axis=1) & jnp.any(point < Y, axis=1)
    return _dominates_by_columns([point[k] for k in range(len(columns))], columns, point_sums, sums)


# Under vmap the row scan visits 4 rows per step from N = 64 when a step's work, batch x N x M,
# reaches 48,000: each step is one fused pass over the batch's rows, which XLA then splits over the
# cores of a multi-core CPU, paying a thread hand-off per step; 4 rows a step cut those hand-offs
# 4-fold. Smaller steps run on one thread and 4 rows only add padding and a 4-fold larger program
# (counts, one row a step against four: batch 8 x N 150, M = 3: 0.050 against 0.117 ms; 128 x 100,
# M = 3: 0.33 / 0.36 ms; 64 x 300, M = 3: 1.25 / 1.16 ms; 32 x 100, M = 10: 0.29 / 0.26 ms;
# 64 x 100, M = 10: 0.47 / 0.38 ms). One set keeps one row a step (N = 100, M = 2: 0.016 against
# 0.09 ms with 4). From M = 5 strictness is tested on the row sums (`_row_sums`; one set of
# N = 1000, M = 10: 0.91 -> 0.65 ms). Measured under vmap over 256 random sets (a quarter masked),
# one row a step with 2M comparisons against this: N = 100, M = 10 1.96 -> 1.42 ms; M = 5 1.15 ->
# 0.79 ms; N = 300, M = 3 4.5 -> 3.3 ms. At M = 3 the sums gained nothing (N = 100: 0.64 against
# 0.61 ms).
_SCAN_ROWS_PER_STEP_MIN_N = 64
_SCAN_ROWS_PER_STEP_MIN_WORK = 48_000
_SCAN_ROWS_PER_STEP = 4
_SCAN_SUMS_MIN_M = 5


def _largest(dtype):
    if jnp.issubdtype(dtype, jnp.floating):
        return jnp.inf
    return True if dtype == jnp.bool_ else jnp.iinfo(dtype).max


def _scan_rows(Y, valid, init, accumulate, rows_per_step):
    """Fold `accumulate(carry, dominated_by_row)` over the valid rows (bool[N]: the rows it
    dominates) in a scan of N / `rows_per_step` steps of O(N M) vector work."""
    n, m = Y.shape
    columns = _unrolled_columns(Y)
    sums = _row_sums(Y) if m >= _SCAN_SUMS_MIN_M else None
    steps = -(-n // rows_per_step)
    # Invalid rows (and the padding) visit as rows of the dtype's largest value, which dominate no
    # row: `<=` everywhere needs a row of that value, and then `<` somewhere fails and the sums
    # are equal. That spares a validity test per row and step (M = 10, N = 100: 1.47 -> 1.32 ms).
    largest = _largest(Y.dtype)
    pad = steps * rows_per_step - n
    in_steps = [jnp.pad(jnp.where(valid[:, None], Y, largest), ((0, pad), (0, 0)), constant_values=largest)]
    if sums is not None:
        in_steps += [jnp.pad(part, (0, pad)) for part in sums]
    in_steps = [x.reshape(steps, rows_per_step, *x.shape[1:]) for x in in_steps]

    def visit(carry, step):
        for r in range(rows_per_step):
            point_sums = None if sums is None else (step[1][r], step[2][r])
            carry = accumulate(carry, _dominated_by_point(step[0][r], Y, columns, point_sums, sums))
        return carry, None

    carry, _ = lax.scan(visit, init, in_steps)
    return carry


def _count_dominators(Y, valid, rows_per_step):
    zeros = jnp.zeros(Y.shape[0], jnp.int32)
    return _scan_rows(Y, valid, zeros, lambda counts, hit: counts + hit.astype(jnp.int32), rows_per_step)


def _any_dominator(Y, valid, rows_per_step):
    # Or-ing the hits is cheaper than counting them.
    return _scan_rows(Y, valid, jnp.zeros(Y.shape[0], bool), jnp.logical_or, rows_per_step)


def _row_scan(fold):
    """`fold(Y, valid, rows_per_step)` as `f(Y, valid)`: one row a step for one set, and under vmap
    `_SCAN_ROWS_PER_STEP` rows a step for large enough batches (the innermost vmap's batch counts)."""

    @jax.custom_batching.custom_vmap
    def one_set(Y, valid):
        return fold(Y, valid, 1)

    @one_set.def_vmap
    def sets(axis_size, in_batched, Y, valid):
        Y, valid = broadcast_unbatched(axis_size, in_batched, (Y, valid))
        _, n, m = Y.shape
        large = n >= _SCAN_ROWS_PER_STEP_MIN_N and axis_size * n * m >= _SCAN_ROWS_PER_STEP_MIN_WORK
        rows_per_step = _SCAN_ROWS_PER_STEP if large else 1
        return jax.vmap(partial(fold, rows_per_step=rows_per_step))(Y, valid), True

    return one_set


_count_dominators_scan = _row_scan(_count_dominators)
_any_dominator_scan = _row_scan(_any_dominator)


def _dominance_count_scan(Y, valid):
    """int32[N] dominators per row (0 for invalid rows) by the row scan (`_scan_rows`)."""
    return jnp.where(valid, _count_dominators_scan(Y, valid), 0)


def _nondominated_scan(Y, valid):
    """bool[N]: the nondominated valid rows by the row scan."""
    return valid & ~_any_dominator_scan(Y, valid)


@jax.jit
def _dominance_count(Y, mask):
    if Y.shape[0] > _SCAN_MAX_N:
        return _dominance_count_blocked(Y, mask, DEFAULT_BLOCK_SIZE)
    return _dominance_count_scan(Y, _valid_rows(Y, mask))


def _sortable_keys(values):
    """Signed integers ordered exactly like the finite or infinite floats `values` (-0.0 == 0.0).

    A single-operand integer sort is several times faster on XLA's CPU backend than a float sort
    (which runs a compiled total-order comparator per comparison).
    """
    int_dtype = jnp.int64 if values.dtype == jnp.float64 else jnp.int32
    bits = lax.bitcast_convert_type(jnp.where(values == 0, jnp.zeros_like(values), values), int_dtype)
    magnitude = jnp.array(jnp.iinfo(int_dtype).max, int_dtype)
    # Negative floats order backwards by their bit patterns: flip their magnitude bits.
    return jnp.where(bits < 0, bits ^ magnitude, bits)


@jax.custom_batching.custom_vmap
def _nondominated_2d(Y, valid):
    """bool[N] nondominated valid rows for M = 2 in O(N log N): sort by the first objective, then a
    point is dominated iff a point with a strictly smaller first objective has a second objective
    <= its own, or a point with the same first objective has a strictly smaller second one.

    One set: the row-by-row scan up to `_ND2_SCAN_MAX_N` points, beyond XLA's integer sort. Under
    vmap the sets move to the minor axis and a sorting network orders them
    (`_nondominated_2d_columns`) where it pays off for the batch's size (`network_pays_off`), else
    every set takes the scan; the mask is the same either way (it is exact).
    """
    n = Y.shape[0]
    if n <= _ND2_SCAN_MAX_N:
        return _nondominated_scan(Y, valid)
    Y = jnp.where(valid[:, None], Y, jnp.inf)  # invalid rows (maybe NaN) can dominate nobody
    y0, y1 = Y[:, 0], Y[:, 1]
    keys = _sortable_keys(y0)
    # positions[i] = #{j: y0[j] < y0[i]}: tied first objectives share a slot.
    positions = jnp.searchsorted(lax.sort(keys), keys, side="left").astype(jnp.int32)
    slot_min = jnp.full((n,), jnp.inf, Y.dtype).at[positions].min(y1, mode="promise_in_bounds")
    # best_before[p]: smallest second objective over slots < p (strictly smaller first objective).
    _, running_min = lax.scan(lambda best, v: (jnp.minimum(best, v),) * 2, jnp.array(jnp.inf, Y.dtype), slot_min)
    best_before = jnp.concatenate([jnp.full((1,), jnp.inf, Y.dtype), running_min[:-1]])
    dominated = (best_before[positions] <= y1) | (slot_min[positions] < y1)
    return valid & ~dominated


@_nondominated_2d.def_vmap
def _nondominated_2d_vmap(axis_size, in_batched, Y, valid):
    Y, valid = broadcast_unbatched(axis_size, in_batched, (Y, valid))
    if sort_free_wins(Y.shape[1], axis_size, _ND2_SCAN_MAX_N):
        return jax.vmap(_nondominated_scan)(Y, valid), True
    return _nondominated_2d_columns(Y[:, :, 0].T, Y[:, :, 1].T, valid.T).T, True


@jax.custom_batching.custom_vmap
def _nondominated_2d_columns(y0, y1, valid):
    """`_nondominated_2d` of the sets in the columns of `y0`, `y1`, `valid` (`[N, B]`) -> bool `[N, B]`.

    The points are sorted by descending first objective (bitonic network; ties in any order) and
    visited from the back: `below` is the smallest second objective among strictly smaller first
    objectives, and the smallest second objective within a point's own tie group comes from one
    scan each way. Measured under vmap over 256 sets of 1000: 7.7-8.0 ms against 17.8-19.6 ms
    with XLA's sort, searchsorted and scatter.
    """
    inf = jnp.array(jnp.inf, y1.dtype)
    y0, y1 = jnp.where(valid, y0, inf), jnp.where(valid, y1, inf)  # invalid rows dominate nobody
    keys = _sortable_keys(y0)
    # No finite or infinite value maps to the smallest integer (only a NaN pattern does).
    keys, order = bitonic_descending(keys, column_index(keys), pad_key=jnp.iinfo(keys.dtype).min)
    order = order.astype(jnp.int32)
    y1_sorted = jnp.take_along_axis(y1, order, axis=0)
    tied = keys[1:] == keys[:-1]  # position p and p + 1 hold the same first objective
    no_tie = jnp.zeros_like(keys[:1], bool)
    same_as_next, same_as_previous = jnp.concatenate([tied, no_tie]), jnp.concatenate([no_tie, tied])

    def from_the_back(carry, point):
        below, group_min = carry  # below: strictly smaller first objectives; group_min: the tie group after this point
        value, same_as_next_point = point
        below = jnp.where(same_as_next_point, below, jnp.minimum(below, group_min))
        group_min = jnp.where(same_as_next_point, group_min, inf)
        return (below, jnp.minimum(group_min, value)), (below, group_min)

    def from_the_front(group_min, point):
        value, same_as_previous_point = point
        group_min = jnp.where(same_as_previous_point, group_min, inf)
        return jnp.minimum(group_min, value), group_min

    start = jnp.full(y1.shape[1:], inf)
    _, (below, after_in_group) = lax.scan(from_the_back, (start, start), (y1_sorted, same_as_next), reverse=True)
    _, before_in_group = lax.scan(from_the_front, start, (y1_sorted, same_as_previous))
    dominated = (below <= y1_sorted) | (jnp.minimum(after_in_group, before_in_group) < y1_sorted)
    return valid & ~place(dominated, order)  # back to the input order: row order[p] takes position p's flag


_nondominated_2d_columns.def_vmap(fold_into_columns(_nondominated_2d_columns))


# Up to this N one 2-D set skips sorting: the row-by-row scan of `_dominance_count` is faster on
# CPU there than XLA's sort (measured under vmap over 256 sets: 1.6x at N = 100, even at N = 200).
# Under vmap the sorting network takes over from `NETWORK_MIN_N` for large enough batches.
_ND2_SCAN_MAX_N = 192


def _use_2d_sweep(Y):
    # Integer, bool and 16-bit inputs keep the exact pairwise comparison (no float keys for them).
    return Y.shape[1] == 2 and Y.shape[0] > 0 and Y.dtype in (jnp.float32, jnp.float64)


def _nondominated_unscreened(Y, valid, block_size=None):
    """bool[N]: the nondominated valid rows by the 2-D sweep (M = 2; without `block_size` from
    N = `NETWORK_MIN_N`), the row scan (without `block_size`, up to `_SCAN_MAX_N` rows) or the
    dominance counts in candidate blocks (of `block_size`, else `DEFAULT_BLOCK_SIZE`)."""
    if _use_2d_sweep(Y) and (block_size is not None or Y.shape[0] >= NETWORK_MIN_N):
        return _nondominated_2d(Y, valid)
    if block_size is None and Y.shape[0] <= _SCAN_MAX_N:
        return _nondominated_scan(Y, valid)
    return valid & (_dominance_count_blocked(Y, valid, block_size or DEFAULT_BLOCK_SIZE) == 0)


# Screening. Every nondominated row survives elimination by any valid rows (pivots), and a survivor
# that is dominated is dominated by a nondominated row, which survived too: so the nondominated rows
# are exactly the survivors that no survivor dominates. A few pivots leave few survivors on
# typical data (random uniform, 256 sets of 1000, 16 pivots: at most 48 of ~750 valid rows survive
# at M = 2, 95 at M = 3), and the survivors are compared among themselves only. Where too many
# survive (most rows nondominated: many objectives, points on a front) the full computation runs
# after the screening. Measured under vmap over 256 sets (random uniform, a quarter masked), M = 3:
# N = 100 0.60 against 0.78 ms, 128 0.54 / 1.46, 1000 2.8-3.6 / 40-60 ms; M = 2, N = 1000: 2.0-2.5
# against 8.3-8.6 ms. At N = 64 the screening's fixed costs (compaction, gather, scatter) outweigh
# the gain (0.46 against 0.34 ms).
_SCREEN_MIN_N = 100
# With more objectives most rows of a typical set are nondominated (random uniform sets of 1000 at
# M = 10: 83% survive the pivots) and pivots only add their cost (256 sets of 100 at M = 10: 2.6
# against 2.1 ms). Beyond this M a batch's buffers take the valid rows, and one set is not screened.
_SCREEN_MAX_M = 5
# One set is screened from this N: its fixed costs weigh more without a batch to spread them over
# (measured, M = 3: N = 100 0.060 against 0.041 ms, 300 0.066 / 0.060, 1000 0.15 / 0.32, 5000
# 0.31 / 8.4 ms).
_SCREEN_MIN_N_ONE_SET = 512
# Pivots: one per group of rows (rows i with the same i % pivots).
_SCREEN_PIVOTS = 16
# The objectives' spans that weight the pivots' score come from the first rows only (a rough scale
# is enough to pick good pivots; the result never depends on the choice).
_SCALE_SAMPLE_ROWS = 64


def _pivots(Y, valid):
    """(pivots [P, M], real bool[P]): from each of P groups of rows (row i in group i % P) the valid
    row with the smallest objective sum, each objective divided by its span; `real` is False for a
    group without such a row. A row of smallest weighted sum is nondominated within its group, and
    such rows tend to dominate many others."""
    n, m = Y.shape
    groups = min(_SCREEN_PIVOTS, n)
    per_group = -(-n // groups)
    inf = jnp.array(jnp.inf, jnp.float32)
    sample_valid = valid[:_SCALE_SAMPLE_ROWS]
    score = jnp.zeros(n, jnp.float32)
    for k in range(m):
        column = Y[:, k].astype(jnp.float32)
        sample = column[:_SCALE_SAMPLE_ROWS]
        span = jnp.max(jnp.where(sample_valid, sample, -inf)) - jnp.min(jnp.where(sample_valid, sample, inf))
        score = score + column / jnp.where((span > 0) & (span < inf), span, 1)
    score = jnp.pad(jnp.where(valid, score, inf), (0, groups * per_group - n), constant_values=inf)
    # One integer minimum per group finds its row: the score's sortable bits with the row's place in
    # its group in the low bits (unique keys; scores that differ in those bits only may swap). Two
    # float reductions (smallest score, then its first row) took twice as long.
    low_bits = (1 << max(per_group - 1, 1).bit_length()) - 1
    keys = _sortable_keys(score.reshape(per_group, groups))
    best = jnp.min((keys & ~low_bits) | jnp.arange(per_group, dtype=keys.dtype)[:, None], axis=0)
    rows = jnp.minimum((best & low_bits).astype(jnp.int32) * groups + jnp.arange(groups, dtype=jnp.int32), n - 1)
    # NaN scores (not possible for valid finite rows) may be picked; their rows dominate nobody.
    return Y[rows], (best & ~low_bits) < (_sortable_keys(inf) & ~low_bits)


def _screen(Y, valid):
    """bool[N]: the valid rows that no pivot dominates (a superset of the nondominated rows); beyond
    `_SCREEN_MAX_M` objectives the valid rows (no pivots: the buffers only leave out masked rows)."""
    if Y.shape[1] > _SCREEN_MAX_M:
        return valid
    columns = _unrolled_columns(Y)
    pivots, real = _pivots(Y, valid)
    alive = valid
    # Unrolled: the eliminations fuse into one pass over the rows.
    for p in range(pivots.shape[0]):
        alive = alive & ~(_dominated_by_point(pivots[p], Y, columns) & real[p])
    return alive


def _survivor_capacities(n, m):
    """The survivor buffers tried, smallest first: powers of two from 32, then N / 2 (beyond, the
    full computation is about as fast). Each is a branch of the compiled program (XLA compiles
    each: ~0.2-0.3 s). For M = 2 only buffers below `NETWORK_MIN_N`, whose survivors are compared
    row by row: a larger one would compile another sorting network (measured, 256 sets of 1000:
    5.6 s of compile with three of them), and the full 2-D sweep is O(N log N) anyway.

    Beyond `_SCREEN_MAX_M` objectives (no pivots: the survivors are the valid rows) N / 2, 3N / 4
    and 7N / 8 rows, in multiples of 8 (a 256-bit vector of floats; 256 sets at M = 10 with at
    most 85 valid rows of 100: 1.2 ms in a buffer of 88 rows, 1.5 ms in one of 92, 1.4 ms without
    a buffer). Buffers of 3N / 4 and 7N / 8 for M <= 5 as well made sphere fronts of 1000 at M = 3
    faster (35-37 -> 28-31 ms) but every screened program slower to compile (N = 100, M = 3: 0.9
    -> 1.5 s), and so were not kept."""
    if m > _SCREEN_MAX_M:
        return tuple(sorted({c for c in (-(-n // 16) * 8, -(-3 * n // 32) * 8, -(-7 * n // 64) * 8) if c < n}))
    largest = NETWORK_MIN_N - 1 if m == 2 else n // 2
    capacities, capacity = [], 32
    while capacity < min(largest, n // 2):
        capacities.append(capacity)
        capacity *= 2
    return tuple(capacities) + (max(1, min(largest, n // 2)),)


def _among_survivors(Y, valid, alive, capacity, block_size):
    """bool[N]: the nondominated rows, given that at most `capacity` rows are `alive`."""
    del valid
    n = Y.shape[0]
    index, real = first_true_words(alive, capacity)
    nondominated = _nondominated_unscreened(Y[index], real, block_size)
    return jnp.zeros(n, bool).at[jnp.where(real, index, n)].set(nondominated, mode="drop")


def _screened(Y, valid, over, block_size=None):
    """The screened nondominated mask of one set (`over` the identity) or of a batch of sets
    (`over` = `jax.vmap`, leading batch axis). The survivors go to the smallest buffer that holds
    the most survivors of any set (one branch for the whole batch), else the full computation runs
    (`_nondominated_unscreened` with `block_size`)."""
    alive = over(_screen)(Y, valid)
    most = jnp.max(jnp.sum(alive, axis=-1))
    capacities = _survivor_capacities(*Y.shape[-2:])
    branches = [over(partial(_among_survivors, capacity=c, block_size=block_size)) for c in capacities]
    branches.append(over(lambda Y, valid, alive: _nondominated_unscreened(Y, valid, block_size)))
    return lax.switch(jnp.sum(jnp.asarray(capacities) < most), branches, Y, valid, alive)


@cache
def _nondominated_screened(block_size=None):
    """The screened nondominated mask `f(Y, valid)` (`_screened`, its full computation with
    `block_size`) for a batch (the vmap rule) or from `_SCREEN_MIN_N_ONE_SET` rows for one set.
    One set of M = 2 keeps the 2-D sweep, which XLA's sort makes faster for one set (N = 1000:
    0.07 against 0.12 ms). Nested vmaps join their batches."""

    @jax.custom_batching.custom_vmap
    def sets(Y, valid):  # [B, N, M], [B, N]
        return _screened(Y, valid, jax.vmap, block_size)

    @sets.def_vmap
    def sets_vmap(axis_size, in_batched, Y, valid):
        Y, valid = broadcast_unbatched(axis_size, in_batched, (Y, valid))
        batch, n, m = Y.shape[1:]
        out = sets(Y.reshape(axis_size * batch, n, m), valid.reshape(axis_size * batch, n))
        return out.reshape(axis_size, batch, n), True

    @jax.custom_batching.custom_vmap
    def one_set(Y, valid):
        if _use_2d_sweep(Y) or Y.shape[0] < _SCREEN_MIN_N_ONE_SET or Y.shape[1] > _SCREEN_MAX_M:
            return _nondominated_unscreened(Y, valid, block_size)
        return _screened(Y, valid, lambda f: f, block_size)

    @one_set.def_vmap
    def one_set_vmap(axis_size, in_batched, Y, valid):
        Y, valid = broadcast_unbatched(axis_size, in_batched, (Y, valid))
        return sets(Y, valid), True

    return one_set


def _screens(Y):
    return _SCREEN_MIN_N <= Y.shape[0]


@jax.jit
def _nondominated_mask(Y, mask):
    valid = _valid_rows(Y, mask)
    if _screens(Y):
        return _nondominated_screened()(Y, valid)
    return _nondominated_unscreened(Y, valid)


@partial(jax.jit, static_argnames=("block_size",))
def _nondominated_mask_blocked(Y, mask, block_size):
    valid = _valid_rows(Y, mask)
    if _screens(Y):
        return _nondominated_screened(block_size)(Y, valid)
    return _nondominated_unscreened(Y, valid, block_size)


def dominance_matrix(Y, mask=None) -> jax.Array:
    """bool[N, N] with `[i, j]` True when valid row i dominates valid row j.

    Args:
      Y: `[N, M]` objective values (minimised).
      mask: optional bool `(N,)`; False rows are excluded (their rows and columns are all False).
    """
    Y, mask = _validate(Y, mask)
    return _dominance_matrix(Y, mask)


def dominance_count(Y, mask=None) -> jax.Array:
    """int32[N]: for each row, how many valid rows dominate it (LaMOO's dominance number).

    Masked rows are not counted as dominators, and their own count is defined as 0.
    O(N^2 M) time. For N <= 1024 the rows are visited in a scan (N steps of O(N M) vector work,
    N / 4 steps under vmap over a large batch; O(N M) memory); beyond, candidates are processed in
    blocks of 64 (`dominance_count_blocked` lets the caller choose the block size).
    """
    Y, mask = _validate(Y, mask)
    return _dominance_count(Y, mask)


def nondominated_mask(Y, mask=None) -> jax.Array:
    """bool[N]: True for valid rows that no valid row dominates (False for masked rows).

    M = 2 (float32/float64) and N > 192 (from N = 128 under vmap over a large enough batch):
    O(N log N) time, O(N) memory (sort + prefix minimum); otherwise O(N^2 M) time as
    `dominance_count(Y, mask) == 0`. With M <= 5 and N >= 100 under vmap (N >= 512 for one set of
    M != 2), 16 pivot rows screen out the rows they dominate first and only the survivors are
    compared among themselves (module docstring): much faster when most rows are dominated, about
    as fast otherwise. With M > 5 under vmap, only the valid rows are compared.
    """
    Y, mask = _validate(Y, mask)
    return _nondominated_mask(Y, mask)


# The candidate blocks test strictness on the rows' key sums from M = 5 while all dominators with
# their sums stay within ~1.5 MiB; each block reads them all, and beyond this CPU's L2 (2 MiB a
# core) the extra 8 bytes a row cost more than the comparisons they save. One set, M = 10, blocks of
# 64: N = 10,000 53 -> 39 ms, 20,000 200 -> 146 ms, 30,000 435 -> 353 ms; N = 50,000 1.32 s
# without the sums, 1.70 s with them.
_BLOCKS_SUMS_MAX_BYTES = 3 << 19


def _blocks_test_sums(Y):
    n, m = Y.shape
    return m >= _SCAN_SUMS_MIN_M and n * (m + 2) * Y.dtype.itemsize <= _BLOCKS_SUMS_MAX_BYTES


@partial(jax.jit, static_argnames=("block_size",))
def _dominance_count_blocked(Y, mask, block_size):
    valid = _valid_rows(Y, mask)
    n, _ = Y.shape
    block = min(block_size, max(n, 1))
    n_blocks = max(1, math.ceil(n / block))
    padded = n_blocks * block
    # Padding rows are candidates only (they are never dominators), so their value is irrelevant;
    # their counts are sliced away below.
    Y_candidates = jnp.pad(Y, ((0, padded - n), (0, 0)))
    # Invalid rows (possibly NaN) are set to the dtype's largest value so they cannot dominate
    # (`_scan_rows`); they are also masked. (A float +inf here turned integer inputs into float32.)
    dominators_t = jnp.where(valid[:, None], Y, _largest(Y.dtype)).T

    sums = _row_sums(Y) if _blocks_test_sums(Y) else None
    candidate_sums = None if sums is None else tuple(jnp.pad(part, (0, padded - n)) for part in sums)

    def count_block(start):
        candidates = lax.dynamic_slice_in_dim(Y_candidates, start, block, axis=0)
        if sums is None:
            return _dominated_by_count(candidates, dominators_t, valid)
        block_sums = tuple(lax.dynamic_slice_in_dim(part, start, block) for part in candidate_sums)
        return _dominated_by_count(candidates, dominators_t, valid, block_sums, sums)

    counts = lax.map(count_block, jnp.arange(n_blocks) * block).reshape(padded)[:n]
    return jnp.where(valid, counts, 0)


def dominance_count_blocked(Y, mask=None, block_size: int = DEFAULT_BLOCK_SIZE) -> jax.Array:
    """int32[N], identical to `dominance_count`, in O(N * block_size) memory.

    The candidate rows are processed `block_size` at a time (N padded up to a multiple of the
    block); each block is compared against all N rows. Time is O(N^2 M) either way.
    """
    block_size = check_static_positive_int(block_size, "block_size")
    Y, mask = _validate(Y, mask)
    return _dominance_count_blocked(Y, mask, block_size)


def nondominated_mask_blocked(Y, mask=None, block_size: int = DEFAULT_BLOCK_SIZE) -> jax.Array:
    """bool[N], identical to `nondominated_mask`, in O(N * block_size) memory (O(N) for M = 2).

    Screened like `nondominated_mask`; where too many rows survive the pivots, the dominance counts
    run in candidate blocks of `block_size`."""
    block_size = check_static_positive_int(block_size, "block_size")
    Y, mask = _validate(Y, mask)
    return _nondominated_mask_blocked(Y, mask, block_size)
