"""Dominance kernels vs an independent brute-force numpy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.dominance import (
    _screen,
    _screened,
    dominance_count,
    dominance_count_blocked,
    dominance_matrix,
    nondominated_mask,
    nondominated_mask_blocked,
)


def brute_force_matrix(Y, mask):
    """[i, j]: valid row i dominates valid row j, by explicit double loop."""
    n = len(Y)
    D = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(n):
            if mask[i] and mask[j]:
                D[i, j] = all(Y[i] <= Y[j]) and any(Y[i] < Y[j])
    return D


@st.composite
def fronts(draw, max_n=24, max_m=4):
    """Small integer-valued fronts (many ties and duplicates) in a fixed-size buffer with a mask.

    The buffer always has `max_n` rows (unused rows hold garbage and are masked), as callers use
    the kernels, and so that examples share compiled programs.
    """
    n = draw(st.integers(0, max_n))
    m = draw(st.integers(1, max_m))
    values = draw(st.lists(st.integers(0, 3), min_size=max_n * m, max_size=max_n * m))
    Y = np.asarray(values, dtype=np.float32).reshape(max_n, m)
    if n and draw(st.booleans()):
        Y[draw(st.integers(0, n - 1))] = Y[0]  # force an exact duplicate
    mask = np.asarray(draw(st.lists(st.booleans(), min_size=max_n, max_size=max_n)), dtype=bool)
    mask[n:] = False
    Y[n:] = draw(st.sampled_from([np.nan, -1.0, 9.0]))  # garbage that would dominate or poison
    return Y, mask


@settings(max_examples=60, deadline=None)
@given(fronts())
def test_dense_kernels_match_brute_force(front):
    Y, mask = front
    D = brute_force_matrix(Y, mask)
    np.testing.assert_array_equal(np.asarray(dominance_matrix(Y, mask)), D)
    counts = D.sum(axis=0)
    np.testing.assert_array_equal(np.asarray(dominance_count(Y, mask)), counts)
    np.testing.assert_array_equal(np.asarray(nondominated_mask(Y, mask)), mask & (counts == 0))


@settings(max_examples=25, deadline=None)
@given(fronts(), st.sampled_from([1, 7, 16]))
def test_blocked_matches_brute_force(front, block_size):
    Y, mask = front
    counts = brute_force_matrix(Y, mask).sum(axis=0)
    np.testing.assert_array_equal(np.asarray(dominance_count_blocked(Y, mask, block_size=block_size)), counts)
    np.testing.assert_array_equal(
        np.asarray(nondominated_mask_blocked(Y, mask, block_size=block_size)), mask & (counts == 0)
    )


@pytest.mark.parametrize("n,m", [(257, 3), (150, 40)])
@pytest.mark.parametrize("block_size", [1, 13, 100, 1000])
def test_blocked_equals_dense_on_continuous_data(n, m, block_size):
    rng = np.random.default_rng(n + m)
    Y = rng.random((n, m)).astype(np.float32)
    Y[:, 0] -= Y[:, 1]  # correlated objectives give a deeper ranking than i.i.d. ones
    mask = rng.random(n) < 0.9
    dense = np.asarray(dominance_count(Y, mask))
    np.testing.assert_array_equal(np.asarray(dominance_count_blocked(Y, mask, block_size=block_size)), dense)
    if block_size == 13:
        D = (Y[:, None] <= Y[None]).all(-1) & (Y[:, None] < Y[None]).any(-1) & mask[:, None] & mask[None]
        np.testing.assert_array_equal(dense, D.sum(0))


def test_duplicates_and_single_objective():
    Y = np.array([[1.0], [1.0], [0.0], [2.0], [0.0]], dtype=np.float32)
    # equal points do not dominate each other; M = 1 is a total preorder
    np.testing.assert_array_equal(np.asarray(dominance_count(Y)), [2, 2, 0, 4, 0])
    np.testing.assert_array_equal(np.asarray(nondominated_mask(Y)), [False, False, True, False, True])
    np.testing.assert_array_equal(np.asarray(dominance_count_blocked(Y, block_size=2)), [2, 2, 0, 4, 0])


def test_masked_rows_may_hold_nan_and_are_excluded():
    Y = np.array([[0.0, 0.0], [np.nan, np.nan], [1.0, 1.0], [-5.0, -5.0]], dtype=np.float32)
    mask = np.array([True, False, True, False])
    np.testing.assert_array_equal(np.asarray(dominance_count(Y, mask)), [0, 0, 1, 0])
    np.testing.assert_array_equal(np.asarray(dominance_count_blocked(Y, mask, block_size=3)), [0, 0, 1, 0])
    np.testing.assert_array_equal(np.asarray(nondominated_mask(Y, mask)), [True, False, False, False])
    D = np.asarray(dominance_matrix(Y, mask))
    assert not D[1].any() and not D[:, 1].any() and not D[3].any() and D[0, 2]


def test_empty_input():
    Y = np.zeros((0, 3), np.float32)
    assert dominance_count(Y).shape == (0,)
    assert dominance_count_blocked(Y, block_size=4).shape == (0,)
    assert dominance_matrix(Y).shape == (0, 0)


def test_jit_and_vmap_match_plain_calls():
    rng = np.random.default_rng(0)
    Ys = rng.integers(0, 4, (5, 20, 3)).astype(np.float32)
    masks = rng.random((5, 20)) < 0.8
    for fn in (dominance_matrix, dominance_count, nondominated_mask):
        plain = np.stack([np.asarray(fn(Y, m)) for Y, m in zip(Ys, masks)])
        np.testing.assert_array_equal(np.asarray(jax.vmap(fn)(Ys, masks)), plain)
        np.testing.assert_array_equal(np.asarray(jax.jit(fn)(Ys[0], masks[0])), plain[0])
        np.testing.assert_array_equal(np.asarray(jax.jit(fn)(Ys[1])), np.asarray(fn(Ys[1])))
    blocked = jax.vmap(lambda Y, m: dominance_count_blocked(Y, m, block_size=6))(Ys, masks)
    np.testing.assert_array_equal(
        np.asarray(blocked), np.stack([np.asarray(dominance_count(Y, m)) for Y, m in zip(Ys, masks)])
    )
    nd_blocked = jax.jit(lambda Y: nondominated_mask_blocked(Y, block_size=7))(Ys[2])
    np.testing.assert_array_equal(np.asarray(nd_blocked), np.asarray(nondominated_mask(Ys[2])))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: dominance_count(np.zeros(5)), "2-D"),
        (lambda: dominance_count(np.zeros((4, 0))), "at least one objective"),
        (lambda: dominance_count(np.array([[0.0, np.nan], [1.0, 1.0]])), "NaN or infinite"),
        (lambda: nondominated_mask(np.array([[0.0, np.inf]])), "NaN or infinite"),
        (lambda: dominance_count(np.zeros((4, 2)), mask=np.ones(3, bool)), r"mask must have shape \(4,\)"),
        (lambda: dominance_count_blocked(np.zeros((4, 2)), block_size=0), "block_size"),
        (lambda: dominance_count_blocked(np.zeros((4, 2)), block_size=2.5), "block_size"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_shape_checks_still_apply_under_jit():
    with pytest.raises(ValueError, match="2-D"):
        jax.jit(dominance_count)(jnp.zeros(3))


def brute_force_nondominated(Y, mask):
    """Numpy broadcasting reference: valid rows no valid row dominates."""
    le = (Y[:, None, :] <= Y[None, :, :]).all(-1)
    lt = (Y[:, None, :] < Y[None, :, :]).any(-1)
    dominated = ((le & lt) & mask[:, None]).any(0)
    return mask & ~dominated


@pytest.mark.parametrize("n", [150, 300])  # both sides of _ND2_SCAN_MAX_N
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_objective_sweep_matches_brute_force_and_moocore(dtype, n):
    """M = 2 uses a sort-based sweep (or N vector steps for small N): negative values, signed zeros,
    ties, huge magnitudes, NaN garbage."""
    rng = np.random.default_rng(7)
    Y = rng.normal(size=(n, 2)) * rng.choice([1e-3, 1.0, 1e30], size=(n, 1))
    Y[:40] = np.round(Y[:40])  # ties in each objective and duplicates
    Y[40:50] = Y[50:60]
    Y[60, :] = [0.0, -1.0]
    Y[61, :] = [-0.0, -1.0]  # equal to row 60: neither dominates the other
    Y[62, :] = [-0.0, -2.0]  # dominates both
    Y = Y.astype(dtype)
    mask = rng.random(n) < 0.9
    mask[60:63] = True
    garbage = Y.copy()
    garbage[~mask] = np.nan
    expected = brute_force_nondominated(Y, mask)
    assert not expected[60] and not expected[61]  # row 62 dominates both despite the signed zero
    with jax.enable_x64(dtype == np.float64):
        np.testing.assert_array_equal(np.asarray(nondominated_mask(garbage, mask)), expected)
        np.testing.assert_array_equal(np.asarray(nondominated_mask_blocked(garbage, mask, block_size=16)), expected)
        batched = jax.vmap(nondominated_mask)(np.stack([garbage, garbage[::-1]]), np.stack([mask, mask[::-1]]))
        np.testing.assert_array_equal(np.asarray(batched), np.stack([expected, expected[::-1]]))
    moocore = pytest.importorskip("moocore")
    big = rng.random((3000, 2)).astype(dtype)
    big[:, 1] = 1 - big[:, 0] + 0.05 * rng.random(3000).astype(dtype)  # a thick front
    np.testing.assert_array_equal(np.asarray(nondominated_mask(big)), moocore.is_nondominated(big.astype(np.float64)))


def test_batched_two_objective_sweep_takes_the_sorting_network():
    """Under vmap, M = 2 beyond _ND2_SCAN_MAX_N sorts the sets by a bitonic network (a `custom_vmap`
    rule, ties in any order): every tie pattern must still give the exact mask, vmapped once or twice."""
    from kernels.dominance import _ND2_SCAN_MAX_N

    rng = np.random.default_rng(12)
    n = _ND2_SCAN_MAX_N + 61
    Ys = rng.random((6, n, 2)).astype(np.float32) - 0.5
    Ys[1] = rng.integers(-3, 3, (n, 2))  # ties in both objectives, duplicates
    Ys[2, :, 0] = 1.0  # one tie group holding every point
    Ys[3, : n // 2] = Ys[3, n // 2 : 2 * (n // 2)]  # every point twice
    Ys[4, :, 1] = -Ys[4, :, 0]  # one front: nothing dominated
    masks = rng.random((6, n)) < 0.8
    expected = np.stack([brute_force_nondominated(Y, mask) for Y, mask in zip(Ys, masks)])
    batched = jax.jit(jax.vmap(nondominated_mask))(Ys, masks)
    np.testing.assert_array_equal(np.asarray(batched), expected)
    nested = jax.jit(jax.vmap(jax.vmap(nondominated_mask)))(Ys.reshape(2, 3, n, 2), masks.reshape(2, 3, n))
    np.testing.assert_array_equal(np.asarray(nested).reshape(6, n), expected)


def test_mid_size_batches_choose_network_or_scan_with_the_same_masks():
    """From NETWORK_MIN_N to _ND2_SCAN_MAX_N points a batch of 2-D sets is sorted by the network
    when the batch is large enough (`network_pays_off`), else every set takes the row scan."""
    from kernels._sorting import NETWORK_MIN_N, network_pays_off

    n, large, small = NETWORK_MIN_N + 5, 64, 4
    assert network_pays_off(n, large) and not network_pays_off(n, small)
    rng = np.random.default_rng(13)
    Ys = rng.random((large, n, 2)).astype(np.float32) - 0.5
    Ys[0] = rng.integers(-3, 3, (n, 2))  # ties in both objectives, duplicates
    Ys[1, :, 0] = 1.0  # one tie group holding every point
    Ys[2, : n // 2] = Ys[2, n // 2 : 2 * (n // 2)]  # every point twice
    Ys[3, :, 1] = -Ys[3, :, 0]  # one front: nothing dominated
    masks = rng.random((large, n)) < 0.8
    batched = jax.jit(jax.vmap(nondominated_mask))
    expected = np.stack([brute_force_nondominated(Y, mask) for Y, mask in zip(Ys, masks)])
    np.testing.assert_array_equal(np.asarray(batched(Ys, masks)), expected)
    np.testing.assert_array_equal(np.asarray(batched(Ys[:small], masks[:small])), expected[:small])


def test_sortable_keys_order_like_floats():
    from kernels.dominance import _sortable_keys

    # (no subnormals: XLA on CPU flushes them to zero in comparisons, numpy does not)
    values = np.array([-np.inf, -1e30, -1.5, -1e-30, -0.0, 0.0, 1e-30, 2.0, 3e38, np.inf], np.float32)
    keys = np.asarray(jax.jit(_sortable_keys)(values))
    np.testing.assert_array_equal(keys[:, None] < keys[None, :], values[:, None] < values[None, :])
    np.testing.assert_array_equal(keys[:, None] == keys[None, :], values[:, None] == values[None, :])


def test_integer_inputs_keep_the_exact_pairwise_path():
    Y = np.array([[2**25 + 1, 0], [2**25, 0], [0, 5]], np.int32)  # not representable in float32
    np.testing.assert_array_equal(np.asarray(nondominated_mask(Y)), [False, True, True])
    # the candidate blocks too (their invalid rows used to be +inf, which made the comparison float32)
    np.testing.assert_array_equal(np.asarray(dominance_count_blocked(Y, block_size=2)), [1, 0, 0])
    np.testing.assert_array_equal(np.asarray(nondominated_mask_blocked(Y, block_size=2)), [False, True, True])


@pytest.mark.parametrize("n", [300, 1100])  # both sides of _SCAN_MAX_N (then blocks, a partial last one)
def test_counts_row_by_row_and_in_blocks_match_brute_force(n):
    """dominance_count visits rows in a scan up to N = 1024 and counts in candidate blocks beyond."""
    rng = np.random.default_rng(12)
    Y = rng.integers(0, 6, (n, 3)).astype(np.float32)  # ties and duplicates
    mask = rng.random(n) < 0.8
    garbage = Y.copy()
    garbage[~mask] = np.nan
    le = (Y[:, None, :] <= Y[None, :, :]).all(-1)
    lt = (Y[:, None, :] < Y[None, :, :]).any(-1)
    counts = ((le & lt) & mask[:, None] & mask[None, :]).sum(0)
    np.testing.assert_array_equal(np.asarray(dominance_count(garbage, mask)), counts)
    np.testing.assert_array_equal(np.asarray(nondominated_mask(garbage, mask)), mask & (counts == 0))


@pytest.mark.parametrize("n_obj", [1, 3, 10, 40])
def test_weakly_dominated_by_matches_brute_force(n_obj):
    # Integer values: many ties, where "<=" (weak) and "<" differ. n_obj = 40 takes the
    # broadcast path (beyond the unrolled objective loop).
    from kernels.dominance import weakly_dominated_by

    rng = np.random.default_rng(n_obj)
    Y = rng.integers(0, 3, size=(30, n_obj)).astype(np.float32)
    points = rng.integers(1, 4, size=(50, n_obj)).astype(np.float32)
    valid = rng.uniform(size=30) < 0.8
    expected = np.array([[valid[n] and all(Y[n] <= p) for n in range(30)] for p in points])
    got = jax.jit(weakly_dominated_by)(jnp.asarray(points), jnp.asarray(Y), jnp.asarray(valid))
    np.testing.assert_array_equal(np.asarray(got), expected)
    assert expected.any() and not expected.all()
    unmasked = np.array([[all(Y[n] <= p) for n in range(30)] for p in points])
    np.testing.assert_array_equal(np.asarray(weakly_dominated_by(jnp.asarray(points), jnp.asarray(Y))), unmasked)


# --- Screening by pivots: nondominated_mask from _SCREEN_MIN_N rows (batches) or
# _SCREEN_MIN_N_ONE_SET rows (one set), M <= _SCREEN_MAX_M; beyond, a batch's buffers take its
# valid rows ---


# Module-level jitted functions: the tests and hypothesis's examples share their compiled programs.
_jit_screen = jax.jit(_screen)
_jit_screened_one_set = jax.jit(lambda Y, valid: _screened(Y, valid, lambda f: f))
_jit_batched_nondominated = jax.jit(jax.vmap(nondominated_mask))


def _sets_for_every_branch(rng, n, m):
    """([6, n, m] sets, [6, n] masks) whose survivors of the pivots (M <= 5; beyond, the valid rows)
    fill buffers of different sizes: random uniform (few survive), a planted front of n // 3 points
    above dominated ones (a middle buffer), points on the plane sum(y) = 1 with every row valid
    (nothing is dominated: the full computation) and with a fifth of them masked (the full
    computation too for M <= 5; beyond, a buffer of most rows), small integers (ties and
    duplicates), the planted front again with most rows masked."""
    uniform = rng.random((n, m))
    planted = rng.random((n, m)) + 1.0  # dominated by every front point below
    front = rng.dirichlet(np.ones(m), n // 3) if m > 1 else np.zeros((n // 3, 1))
    planted[: n // 3] = front
    rng.shuffle(planted)
    plane = rng.dirichlet(np.ones(m), n) if m > 1 else np.zeros((n, 1))
    integers = rng.integers(0, 4, (n, m))
    Ys = np.stack([uniform, planted, plane, integers, plane, planted]).astype(np.float32)
    masks = rng.random(Ys.shape[:2]) < np.array([0.8, 0.8, 1.0, 0.8, 0.8, 0.3])[:, None]
    return Ys, masks


def _branch_taken(Y, valid):
    """Index of the `_screened` branch a batch (`[B, N, M]`) takes: a survivor buffer or the last,
    the full computation."""
    from kernels.dominance import _survivor_capacities

    most = int(np.max(np.sum(np.asarray(jax.vmap(_screen)(Y, valid)), axis=1)))
    capacities = _survivor_capacities(*Y.shape[1:])
    return int(np.sum(np.asarray(capacities) < most)), len(capacities)


@pytest.mark.parametrize("m", [3, 5, 10])  # (M = 1, 2: the hypothesis test below; M = 2: the 2-D sweep tests above)
def test_screened_mask_matches_brute_force_in_every_branch(m):
    """Each set alone (a batch of one: its own branch), then all together (the branch of the set
    with the most survivors), vmapped twice, and unbatched: always the brute-force mask. The sets
    cover a small buffer, a larger one and the full computation; beyond M = 5 (no pivots) the
    buffers leave out the masked rows."""
    rng = np.random.default_rng(21 + m)
    n = 300
    Ys, masks = _sets_for_every_branch(rng, n, m)
    garbage = np.where(masks[..., None], Ys, np.nan)  # masked rows hold NaN
    expected = np.stack([brute_force_nondominated(Y, mask) for Y, mask in zip(Ys, masks)])
    batched, one_set = _jit_batched_nondominated, _jit_screened_one_set
    branches = set()
    for k in range(len(Ys)):
        branch, full = _branch_taken(garbage[k : k + 1], masks[k : k + 1])
        branches.add(branch)
        np.testing.assert_array_equal(np.asarray(batched(garbage[k : k + 1], masks[k : k + 1]))[0], expected[k])
        np.testing.assert_array_equal(np.asarray(one_set(garbage[k], masks[k])), expected[k])
    assert full in branches and len(branches) >= 3, branches
    np.testing.assert_array_equal(np.asarray(batched(garbage, masks)), expected)
    nested = jax.jit(jax.vmap(jax.vmap(nondominated_mask)))(garbage.reshape(2, 3, n, m), masks.reshape(2, 3, n))
    np.testing.assert_array_equal(np.asarray(nested).reshape(expected.shape), expected)


@settings(max_examples=50, deadline=None)
@given(fronts(max_n=128, max_m=5))
def test_screen_keeps_the_nondominated_rows_and_screened_masks_are_exact(front):
    """The pivots never remove a nondominated row nor keep an invalid one, whatever the ties and
    garbage; the screened mask (one set, and in a batch with the set reversed) is the brute force's.
    (128-row buffers: the examples share compiled programs per M.)"""
    Y, mask = front
    expected = brute_force_nondominated(np.where(mask[:, None], Y, 0), mask)
    survivors = np.asarray(_jit_screen(Y, mask))
    assert not np.any(expected & ~survivors) and not np.any(survivors & ~mask)
    np.testing.assert_array_equal(np.asarray(_jit_screened_one_set(Y, mask)), expected)
    batched = _jit_batched_nondominated(np.stack([Y, Y[::-1]]), np.stack([mask, mask[::-1]]))
    np.testing.assert_array_equal(np.asarray(batched), np.stack([expected, expected[::-1]]))


def test_one_large_set_is_screened_and_exact():
    """From _SCREEN_MIN_N_ONE_SET rows one set (M != 2) is screened too: random, tied and all
    nondominated sets against moocore's filter (no duplicates here, where moocore's convention
    differs)."""
    moocore = pytest.importorskip("moocore")
    from kernels.dominance import _SCREEN_MIN_N_ONE_SET

    rng = np.random.default_rng(31)
    n = _SCREEN_MIN_N_ONE_SET + 100
    for Y in (rng.random((n, 3)), rng.dirichlet(np.ones(4), n), rng.random((n, 5)) ** 3):
        Y = Y.astype(np.float32)
        np.testing.assert_array_equal(np.asarray(nondominated_mask(Y)), moocore.is_nondominated(Y.astype(np.float64)))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 31, 32, 33, 100, 300]), st.floats(0.0, 1.0), st.sampled_from([1, 5, 16, 64]), st.integers(0, 2**31 - 1))
def test_first_true_words_equals_first_true(n, density, count, seed):
    from kernels._batching import first_true, first_true_words

    flags = np.random.default_rng(seed).random(n) < density
    expected_index, expected_real = first_true(jnp.asarray(flags), count)
    index, real = jax.jit(first_true_words, static_argnums=1)(jnp.asarray(flags), count)
    np.testing.assert_array_equal(np.asarray(real), np.asarray(expected_real))
    np.testing.assert_array_equal(np.asarray(index), np.asarray(expected_index))


def test_blocked_variant_is_screened_with_its_blocks_as_the_full_computation():
    """`nondominated_mask_blocked` screens like `nondominated_mask`; where too many rows survive
    (points on a plane), the counts run in the caller's blocks. One set from
    _SCREEN_MIN_N_ONE_SET rows, and a batch."""
    from kernels.dominance import _SCREEN_MIN_N_ONE_SET

    rng = np.random.default_rng(41)
    n = _SCREEN_MIN_N_ONE_SET + 40
    for Y in (rng.integers(0, 9, (n, 3)), rng.dirichlet(np.ones(3), n)):
        Y = Y.astype(np.float32)
        mask = rng.random(n) < 0.8
        garbage = np.where(mask[:, None], Y, np.nan)
        expected = brute_force_nondominated(Y, mask)
        np.testing.assert_array_equal(np.asarray(nondominated_mask_blocked(garbage, mask, block_size=7)), expected)
    Ys, masks = _sets_for_every_branch(rng, 150, 3)
    batched = jax.jit(jax.vmap(lambda Y, mask: nondominated_mask_blocked(Y, mask, block_size=7)))
    expected = np.stack([brute_force_nondominated(Y, mask) for Y, mask in zip(Ys, masks)])
    np.testing.assert_array_equal(np.asarray(batched(Ys, masks)), expected)


def _row_scan_reference(Y, mask):
    counts = brute_force_matrix(Y.astype(np.float64), mask).sum(axis=0)
    return counts, mask & (counts == 0)


# N = 37: one row a scan step; N = 101: under vmap over 160 sets 4 rows a step, the last one
# padded. M = 3: strictness by `<`; M = 5, 10: by the rows' key sums (float32 and float64 keys);
# M = 40: broadcast.
@pytest.mark.parametrize(
    "n,m,dtype",
    [
        (37, 5, np.float32),
        (101, 3, np.float32),
        (101, 5, np.float64),
        (101, 10, np.float32),
        (37, 10, np.float64),
        (101, 40, np.float32),
    ],
)
def test_row_scan_matches_brute_force(n, m, dtype):
    """The row scan behind `dominance_count` and `nondominated_mask`, and the candidate blocks: ties
    and duplicates, signed zeros, a pair whose float sums round equal though one row dominates the
    other, masked rows holding NaN or values that would dominate everything."""
    rng = np.random.default_rng(n * m)
    Y = rng.integers(0, 3, (n, m)).astype(dtype)
    Y[5:10] = Y[10:15]  # duplicates
    Y[20] = 0.0
    Y[21] = -0.0  # equal to row 20
    Y[22], Y[23] = 1e8, 1e8
    Y[22, 1], Y[23, 1] = 1e-8, 2e-8  # row 22 dominates row 23; in float32 their sums are equal
    mask = rng.random(n) < 0.8
    mask[20:24] = True
    garbage = Y.copy()
    garbage[~mask] = rng.choice([np.nan, -np.inf, -5.0], size=(int((~mask).sum()), 1))
    counts, nondominated = _row_scan_reference(Y, mask)
    assert counts[23] >= 1 and counts[21] == counts[20]
    with jax.enable_x64(dtype == np.float64):
        np.testing.assert_array_equal(np.asarray(dominance_count(garbage, mask)), counts)
        np.testing.assert_array_equal(np.asarray(nondominated_mask(garbage, mask)), nondominated)
        # the candidate blocks (beyond N = 1024, or asked for) test strictness the same way
        np.testing.assert_array_equal(np.asarray(dominance_count_blocked(garbage, mask, block_size=16)), counts)
        # 160 sets: enough work per step for 4 rows a step (`_SCAN_ROWS_PER_STEP_MIN_WORK`) at N = 101
        swapped = np.stack([garbage, garbage[::-1]] * 80), np.stack([mask, mask[::-1]] * 80)
        np.testing.assert_array_equal(
            np.asarray(jax.vmap(dominance_count)(*swapped)), np.stack([counts, counts[::-1]] * 80)
        )
        np.testing.assert_array_equal(
            np.asarray(jax.vmap(nondominated_mask)(*swapped)), np.stack([nondominated, nondominated[::-1]] * 80)
        )
        one_mask = jax.vmap(nondominated_mask, in_axes=(0, None))(np.stack([garbage, garbage]), mask)
        np.testing.assert_array_equal(np.asarray(one_mask), np.stack([nondominated, nondominated]))
