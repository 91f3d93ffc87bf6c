"""Hypervolume kernels vs moocore (exact reference) and Monte Carlo statistics."""

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.hypervolume import hypervolume, hypervolume_contributions, hypervolume_mc, hypervolume_subsets

RTOL = 1e-5  # float32 kernels vs float64 moocore


def moocore_hv(Y, ref, mask=None):
    """moocore on the valid rows, in float64; 0 for an empty set."""
    Y = np.asarray(Y, dtype=np.float64)
    if mask is not None:
        Y = Y[np.asarray(mask, bool)]
    if len(Y) == 0:
        return 0.0
    return float(moocore.hypervolume(Y, ref=np.asarray(ref, dtype=np.float64)))


def random_front(rng, n, m, kind):
    """float32 points: 'front' mutually nondominated (on a sphere), 'cloud' with many dominated."""
    Y = rng.random((n, m))
    if kind == "front":
        Y = 1.0 - Y / np.linalg.norm(Y, axis=1, keepdims=True)
    return (Y * 3.0 - 1.0).astype(np.float32)  # non-unit scale and offset


@pytest.mark.parametrize("m,n", [(1, 40), (2, 60), (2, 500), (3, 60), (3, 300), (4, 32), (4, 40)])
def test_exact_matches_moocore_on_random_sets(m, n):
    rng = np.random.default_rng(10 * m + n)
    ref = np.full(m, 1.7, np.float32)
    for kind in ("front", "cloud"):
        Y = random_front(rng, n, m, kind)
        if kind == "cloud":
            assert (Y >= ref).any(axis=1).any()  # some points lie outside the reference box
        got = float(hypervolume(Y, ref))
        assert got == pytest.approx(moocore_hv(Y, ref), rel=RTOL)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 4), st.data())
def test_exact_matches_moocore_on_grid_points_with_ties(m, data):
    """Integer grid: many duplicates, ties and points on the reference box boundary."""
    n = 12
    values = data.draw(st.lists(st.integers(0, 4), min_size=n * m, max_size=n * m))
    Y = np.asarray(values, np.float32).reshape(n, m)
    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    ref = np.full(m, 4.0, np.float32)  # points with a 4 are on the boundary and contribute nothing
    assert float(hypervolume(Y, ref, mask)) == pytest.approx(moocore_hv(Y, ref, mask), rel=RTOL, abs=1e-6)


def test_edge_cases_against_moocore():
    ref = np.array([1.0, 1.0, 1.0], np.float32)
    # rows 0-2 inside; then a duplicate, a dominated point, a point equal to ref in one coordinate,
    # one beyond ref, one exactly at ref. Subsets are selected by masks (one compiled program).
    Y = np.array(
        [
            [0.2, 0.5, 0.4],
            [0.5, 0.2, 0.3],
            [0.3, 0.3, 0.9],
            [0.2, 0.5, 0.4],
            [0.6, 0.6, 0.6],
            [0.0, 0.0, 1.0],
            [0.0, 2.0, 0.0],
            [1.0, 1.0, 1.0],
        ],
        np.float32,
    )
    everything = np.ones(8, bool)
    first_three = np.arange(8) < 3
    expected = moocore_hv(Y, ref)
    assert expected == pytest.approx(moocore_hv(Y, ref, first_three))
    assert float(hypervolume(Y, ref, everything)) == pytest.approx(expected, rel=RTOL)
    assert float(hypervolume(Y, ref, first_three)) == pytest.approx(expected, rel=RTOL)
    # only boundary / outside / at-ref points: zero (moocore agrees)
    boundary_only = np.arange(8) >= 5
    assert moocore_hv(Y, ref, boundary_only) == 0.0
    assert float(hypervolume(Y, ref, boundary_only)) == 0.0
    # all-masked set and the empty set
    assert float(hypervolume(Y, ref, np.zeros(8, bool))) == 0.0
    assert float(hypervolume(np.zeros((0, 3), np.float32), ref)) == 0.0
    # M = 1: ref - min over points strictly below ref
    assert float(hypervolume(np.array([[3.0], [1.5], [7.0]]), np.array([4.0]))) == pytest.approx(2.5)


def test_masked_rows_are_ignored_even_if_nan():
    rng = np.random.default_rng(1)
    Y = random_front(rng, 40, 3, "cloud")
    mask = rng.random(40) < 0.6
    garbage = Y.copy()
    garbage[~mask] = np.nan
    expected = moocore_hv(Y, np.full(3, 2.0), mask)
    assert float(hypervolume(garbage, np.full(3, 2.0), mask)) == pytest.approx(expected, rel=RTOL)


def test_float64_when_x64_enabled():
    rng = np.random.default_rng(2)
    Y = rng.random((50, 3))
    with jax.enable_x64(True):
        got = hypervolume(Y, np.ones(3))
        assert got.dtype == jnp.float64
        assert float(got) == pytest.approx(moocore_hv(Y, np.ones(3)), rel=1e-12)


def test_precision_with_large_offsets_and_scales():
    """Normalising by the reference box keeps float32 accurate for objectives in odd units."""
    rng = np.random.default_rng(3)
    Y = random_front(rng, 200, 3, "front").astype(np.float64)
    Y = Y * np.array([1e4, 1e-3, 1.0]) + np.array([0.0, 5.0, -300.0])
    ref = np.array([1.7e4, 5.0017, -298.3])
    expected = moocore_hv(Y, ref)
    Y32 = Y.astype(np.float32)
    assert float(hypervolume(Y32, ref.astype(np.float32))) == pytest.approx(
        moocore_hv(Y32, ref.astype(np.float32)), rel=RTOL
    )
    assert expected > 0


@pytest.mark.parametrize("scales", [(1e20, 1e20, 1e-20, 1e-20), (1e-25, 1e-25, 1e25, 1e25), (1e30, 1e30, 1e-30)])
def test_objectives_whose_scales_multiply_beyond_float32_range(scales):
    """The volume fits float32 though the running product of the objectives' scales does not."""
    rng = np.random.default_rng(4)
    m = len(scales)
    Y = random_front(rng, 30, m, "front") * np.asarray(scales)
    ref = 1.1 * np.asarray(scales)
    Y32, ref32 = Y.astype(np.float32), ref.astype(np.float32)
    expected = moocore_hv(Y32.astype(np.float64), ref32.astype(np.float64))
    assert float(hypervolume(Y32, ref32)) == pytest.approx(expected, rel=RTOL)
    contributions = moocore.hv_contributions(Y32.astype(np.float64), ref=ref32.astype(np.float64))
    np.testing.assert_allclose(np.asarray(hypervolume_contributions(Y32, ref32)), contributions, rtol=1e-3, atol=1e-6 * expected)
    estimate, stderr = hypervolume_mc(jax.random.key(0), Y32, ref32, 20_000)
    assert np.isfinite(float(estimate)) and abs(float(estimate) - expected) <= 4 * float(stderr)


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_mc_is_unbiased_for_objectives_far_from_zero(offset):
    """Samples drawn as offsets from the box's corner: absolute float32 draws near 1e6 fell on a grid
    of 0.0625 and the estimate sat 206 standard errors too high."""
    rng = np.random.default_rng(5)
    Y = random_front(rng, 20, 4, "front") + offset
    ref = np.full(4, offset + 1.1)
    Y32, ref32 = Y.astype(np.float32), ref.astype(np.float32)
    expected = moocore_hv(Y32.astype(np.float64), ref32.astype(np.float64))
    estimate, stderr = hypervolume_mc(jax.random.key(1), Y32, ref32, 200_000)
    assert abs(float(estimate) - expected) <= 4 * float(stderr)


def test_64_bit_integers_beyond_int32_are_not_wrapped():
    from kernels.dominance import dominance_matrix, nondominated_mask

    Y = np.array([[2**31 + 5, 10], [3, 20]], np.int64)  # a trade-off: neither row dominates
    assert np.asarray(nondominated_mask(Y)).tolist() == [True, True]
    assert not np.asarray(dominance_matrix(Y)).any()
    assert float(hypervolume(np.zeros((1, 2), np.int64), np.array([2**31 + 10, 1], np.int64))) == pytest.approx(2**31, rel=1e-6)


@pytest.mark.parametrize("m,n", [(2, 30), (3, 25), (4, 7)])
def test_contributions_match_moocore(m, n):
    rng = np.random.default_rng(m)
    Y = random_front(rng, n, m, "front")
    Y = np.concatenate([Y, Y[:2], Y[2:4] + 0.05, np.full((1, m), 5.0, np.float32)])  # dups, dominated, outside
    ref = np.full(m, 1.9, np.float32)
    expected = moocore.hv_contributions(Y.astype(np.float64), ref=ref.astype(np.float64))
    got = np.asarray(hypervolume_contributions(Y, ref))
    scale = moocore_hv(Y, ref)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)
    assert (got[n : n + 2] == 0).all() and (expected[:2] == 0).all()


def test_contributions_respect_mask():
    rng = np.random.default_rng(5)
    Y = random_front(rng, 30, 2, "cloud")
    mask = rng.random(30) < 0.7
    ref = np.full(2, 2.0, np.float32)
    got = np.asarray(hypervolume_contributions(Y, ref, mask))
    expected = np.zeros(30)
    expected[mask] = moocore.hv_contributions(Y[mask].astype(np.float64), ref=ref.astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("m,n,seed", [(2, 20, 0), (3, 20, 1), (4, 20, 2), (6, 20, 3)])
def test_mc_within_four_standard_errors_of_exact(m, n, seed):
    rng = np.random.default_rng(seed)
    Y = random_front(rng, n, m, "cloud")
    mask = rng.random(n) < 0.8
    ref = np.full(m, 1.8, np.float32)
    exact = moocore_hv(Y, ref, mask)
    estimate, stderr = hypervolume_mc(jax.random.key(seed), Y, ref, 40_000, mask=mask, chunk_size=4096)
    assert 0 < float(stderr) < 0.05 * exact
    assert abs(float(estimate) - exact) <= 4 * float(stderr)


def test_mc_standard_error_shrinks_like_inverse_sqrt():
    rng = np.random.default_rng(7)
    Y = random_front(rng, 30, 4, "front")
    ref = np.full(4, 1.5, np.float32)
    _, se_small = hypervolume_mc(jax.random.key(0), Y, ref, 4_000)
    _, se_large = hypervolume_mc(jax.random.key(1), Y, ref, 64_000)
    assert float(se_small) / float(se_large) == pytest.approx(4.0, rel=0.1)


def test_mc_draws_exactly_n_samples_and_handles_empty_sets():
    rng = np.random.default_rng(8)
    Y = random_front(rng, 20, 3, "cloud")
    ref = np.full(3, 1.8, np.float32)
    key = jax.random.key(3)
    # a non-divisor chunk size must still draw exactly n_samples samples: the estimate is a
    # multiple of box_volume / n_samples
    est, se = hypervolume_mc(key, Y, ref, 1000, chunk_size=300)
    inside = Y[(Y < ref).all(1)]
    box = float(np.prod(ref - inside.min(0)))
    count = float(est) / box * 1000
    assert count == pytest.approx(round(count), abs=1e-2) and 0 < count < 1000
    assert hypervolume_mc(key, Y, ref, 1000, mask=np.zeros(20, bool), chunk_size=300) == (0.0, 0.0)
    outside = np.full((20, 3), 5.0, np.float32)
    assert hypervolume_mc(key, outside, ref, 1000, chunk_size=300) == (0.0, 0.0)


def test_jit_and_vmap_match_plain_calls():
    rng = np.random.default_rng(9)
    for m in (2, 3, 4):
        # same shapes as other tests so compiled programs are shared
        Ys = np.stack([random_front(rng, 12, m, "cloud") for _ in range(4)])
        masks = rng.random((4, 12)) < 0.8
        ref = np.full(m, 1.8, np.float32)
        plain = np.array([float(hypervolume(Y, ref, mk)) for Y, mk in zip(Ys, masks)])
        batched = np.asarray(jax.vmap(hypervolume, in_axes=(0, None, 0))(Ys, ref, masks))
        np.testing.assert_allclose(batched, plain, rtol=1e-6)
        if m == 3:  # compiles are slow; one jit-of-wrapper and the two contribution paths suffice
            assert float(jax.jit(hypervolume)(Ys[0], ref, masks[0])) == pytest.approx(plain[0], rel=1e-6)
        if m < 4:
            contrib = jax.vmap(hypervolume_contributions, in_axes=(0, None))(Ys[:2], ref)
            # M = 3 contributions are differences of totals: a few float32 ulps of the total apart
            np.testing.assert_allclose(
                np.asarray(contrib),
                np.stack([np.asarray(hypervolume_contributions(Y, ref)) for Y in Ys[:2]]),
                rtol=1e-5,
                atol=1e-6 * plain[:2].max(),
            )
    keys = jax.random.split(jax.random.key(0), 4)
    Ys = np.stack([random_front(rng, 20, 3, "cloud") for _ in range(4)])
    ref = np.full(3, 1.8, np.float32)
    mc = jax.vmap(lambda k, Y: hypervolume_mc(k, Y, ref, 1000, chunk_size=300))
    est, se = mc(keys, Ys)
    for i in range(4):
        e_i, s_i = hypervolume_mc(keys[i], Ys[i], ref, 1000, chunk_size=300)
        assert float(est[i]) == pytest.approx(float(e_i), rel=1e-6)
        assert float(se[i]) == pytest.approx(float(s_i), rel=1e-6)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: hypervolume(np.zeros((3, 2)), np.ones(3)), r"reference point ref must have shape \(2,\)"),
        (lambda: hypervolume(np.zeros((3, 2)), np.ones((1, 2))), "reference point"),
        (lambda: hypervolume(np.array([[0.0, np.nan]]), np.ones(2)), "NaN or infinite"),
        (lambda: hypervolume(np.array([[0.0, -np.inf]]), np.ones(2)), "NaN or infinite"),
        (lambda: hypervolume(np.zeros((3, 2)), np.array([1.0, np.nan])), "must be finite"),
        (lambda: hypervolume(np.zeros(3), np.ones(3)), "2-D"),
        (lambda: hypervolume(np.zeros((3, 0)), np.ones(0)), "at least one objective"),
        (lambda: hypervolume(np.zeros((3, 5)), np.ones(5)), "hypervolume_mc"),
        (lambda: hypervolume_contributions(np.zeros((3, 6)), np.ones(6)), "hypervolume_mc"),
        (lambda: hypervolume(np.zeros((3, 2)), np.ones(2), mask=np.ones(4, bool)), "mask"),
        (lambda: hypervolume_mc(jax.random.key(0), np.zeros((3, 2)), np.ones(3), 10), "reference point"),
        (lambda: hypervolume_mc(jax.random.key(0), np.zeros((3, 2)), np.ones(2), 0), "n_samples"),
        (lambda: hypervolume_mc(jax.random.key(0), np.array([[np.nan, 0.0]]), np.ones(2), 10), "NaN"),
        (lambda: hypervolume(np.zeros((1, 2)), ["1", "1"]), "must hold real numbers"),
        (lambda: hypervolume(np.zeros((1, 2)), np.array([1 + 9j, 1])), "must hold real numbers"),
        (lambda: hypervolume(np.array([[1e39, 1.0], [2e39, 1.0]]), np.array([3e39, 2.0])), "beyond float32's range"),
        (lambda: hypervolume_subsets(np.zeros((3, 3)), np.ones(3), np.ones((2, 3), bool), max_members=2.0), "max_members"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_shape_checks_apply_under_jit_and_value_checks_are_skipped():
    with pytest.raises(ValueError, match="reference point"):
        jax.jit(hypervolume)(jnp.zeros((3, 2)), jnp.ones(3))
    # traced values are not inspected (no error, no host sync) ...
    jax.jit(hypervolume)(jnp.zeros((3, 2)), jnp.ones(2)).block_until_ready()


@pytest.mark.parametrize("m,n", [(2, 200), (2, 300), (3, 200), (3, 300), (4, 60)])  # both sides of _PAIRWISE_MAX_N
def test_exact_matches_moocore_with_heavy_ties_at_larger_n(m, n):
    """Coarse integer values: every objective has long runs of ties and many rows are duplicates."""
    rng = np.random.default_rng(100 + m)
    Y = rng.integers(0, 8, (n, m)).astype(np.float32)
    mask = rng.random(n) < 0.8
    ref = np.full(m, 7.5, np.float32)
    assert float(hypervolume(Y, ref, mask)) == pytest.approx(moocore_hv(Y, ref, mask), rel=RTOL)
    # with x64 the integer keys are int64
    with jax.enable_x64(True):
        got = hypervolume(Y.astype(np.float64), ref.astype(np.float64), mask)
        assert float(got) == pytest.approx(moocore_hv(Y, ref, mask), rel=1e-12)


def test_sort_helpers_match_numpy_including_ties_and_the_payload_fallback(monkeypatch):
    import kernels.hypervolume as hv

    rng = np.random.default_rng(11)
    values = rng.integers(0, 6, 40).astype(np.float32) / 5  # ties and exact zeros
    values[:3] = [0.0, 1.0, 1e-40]  # a denormal keeps its place too
    positions, descending = jax.jit(hv._descending_positions)(values)
    np.testing.assert_array_equal(np.asarray(descending), np.sort(values)[::-1])
    np.testing.assert_array_equal(np.asarray(positions), [(values > v).sum() for v in values])
    expected_order = np.argsort(-values, kind="stable")  # ties in index order
    order = jax.jit(hv._descending_order)(values)
    np.testing.assert_array_equal(np.asarray(order), expected_order)
    # beyond the int32 packing limit the order comes from a sort with an index payload
    monkeypatch.setattr(hv, "_PACKED_ORDER_MAX_N", 10)
    order = jax.jit(lambda v: hv._descending_order(v))(values)
    np.testing.assert_array_equal(np.asarray(order), expected_order)
    # the sort-free path: unique ranks (ties in index order) counted pairwise, for two columns at once
    other = rng.permutation(values)
    ranks, other_ranks = jax.jit(hv._descending_ranks)(values, other)
    np.testing.assert_array_equal(np.asarray(ranks), np.argsort(expected_order))
    np.testing.assert_array_equal(np.asarray(other_ranks), np.argsort(np.argsort(-other, kind="stable")))
    np.testing.assert_array_equal(np.asarray(jax.jit(hv._invert_permutation)(ranks)), expected_order)
    ranks, descending = jax.jit(hv._ranked_descending)(values)
    np.testing.assert_array_equal(np.asarray(descending), np.sort(values)[::-1])


@pytest.mark.parametrize("n, batch", [(1, ()), (2, (3,)), (5, ()), (100, (4,)), (257, (2, 3))])
def test_bitonic_network_sorts_like_numpy(n, batch):
    """The sorting network behind batched large-N hypervolumes: any N (padded to a power of two),
    trailing batch axes, ties, zeros and a denormal's bit pattern; the payload follows its key."""
    import kernels.hypervolume as hv

    rng = np.random.default_rng(n)
    values = (rng.integers(0, 6, (n,) + batch) / 5).astype(np.float32)
    values.reshape(-1)[:1] = 1e-40
    keys = hv._sortable_bits(jnp.asarray(values))
    # An int16 payload, as the kernels carry for N < 2**15.
    index = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int16).reshape((n,) + (1,) * len(batch)), keys.shape)
    sorted_keys, order = map(np.asarray, jax.jit(hv._bitonic_descending)(keys, index))
    np.testing.assert_array_equal(sorted_keys, -np.sort(-np.asarray(keys), axis=0))
    np.testing.assert_array_equal(np.sort(order, axis=0), np.asarray(index))  # a permutation per column
    np.testing.assert_array_equal(np.take_along_axis(np.asarray(keys), order, axis=0), sorted_keys)


@pytest.mark.parametrize("m", [2, 3])
def test_batched_large_n_takes_the_sorting_network_and_matches_moocore(m):
    """Under vmap, N > _PAIRWISE_MAX_N sorts by the bitonic network (a `custom_vmap` rule), one
    point set alone by XLA's sort. Both must match moocore on fronts with heavy ties and duplicates;
    a set's value must not depend on the batch around it (vmapped once or twice: the same floats)."""
    import kernels.hypervolume as hv

    rng = np.random.default_rng(20 + m)
    n = hv._PAIRWISE_MAX_N + 44
    Ys = rng.integers(0, 8, (2, 3, n, m)).astype(np.float32)
    Ys[0, 1] = random_front(rng, n, m, "cloud")
    Ys[1, 2, : n // 2] = Ys[1, 2, n // 2 : 2 * (n // 2)]  # every point twice
    masks = rng.random((2, 3, n)) < 0.8
    ref = np.full(m, 7.5, np.float32)
    one = jax.vmap(hypervolume, in_axes=(0, None, 0))
    nested = np.asarray(jax.jit(jax.vmap(one, in_axes=(0, None, 0)))(Ys, ref, masks))
    flat = np.asarray(jax.jit(one)(Ys.reshape(6, n, m), ref, masks.reshape(6, n)))
    np.testing.assert_array_equal(flat.reshape(2, 3), nested)
    expected = [moocore_hv(Y, ref, mask) for Y, mask in zip(Ys.reshape(6, n, m), masks.reshape(6, n))]
    np.testing.assert_allclose(flat, expected, rtol=RTOL)
    plain = [float(hypervolume(Y, ref, mask)) for Y, mask in zip(Ys.reshape(6, n, m)[:2], masks.reshape(6, n)[:2])]
    np.testing.assert_allclose(flat[:2], plain, rtol=1e-6)
    if m == 3:  # the orders shared by many subsets go through the same rule
        members = rng.random((4, n)) < 0.5
        subsets = jax.jit(jax.vmap(lambda Y, mask: hypervolume_subsets(Y, ref, members, mask)))(Ys[0], masks[0])
        expected = [[moocore_hv(Y, ref, mask & member) for member in members] for Y, mask in zip(Ys[0], masks[0])]
        np.testing.assert_allclose(np.asarray(subsets), expected, rtol=RTOL)
    if m == 2:  # int64 keys (the same network code for both M; one compile suffices)
        with jax.enable_x64(True):
            got = jax.jit(one)(Ys[1].astype(np.float64), ref.astype(np.float64), masks[1])
            expected = [moocore_hv(Y, ref, mask) for Y, mask in zip(Ys[1], masks[1])]
            np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)


@pytest.mark.parametrize("m", [2, 3])
def test_mid_size_batches_choose_network_or_counted_ranks_without_changing_volumes(m):
    """From NETWORK_MIN_N to _PAIRWISE_MAX_N points the vmap rules sort by the network or count
    ranks depending on the batch's size (`network_pays_off`). Both must match moocore, and a front's
    volume must not depend on which one ran: the same floats in a batch of 64 and of 4."""
    from kernels._sorting import NETWORK_MIN_N, network_pays_off

    n, large, small = NETWORK_MIN_N + 2, 64, 4
    assert network_pays_off(n, large) and not network_pays_off(n, small)
    rng = np.random.default_rng(40 + m)
    Ys = rng.integers(0, 8, (large, n, m)).astype(np.float32)  # ties in every objective, duplicates
    Ys[1] = random_front(rng, n, m, "front") * 7
    Ys[2] = random_front(rng, n, m, "cloud") * 7
    Ys[3, : n // 2] = Ys[3, n // 2 : 2 * (n // 2)]
    masks = rng.random((large, n)) < 0.8
    ref = np.full(m, 7.5, np.float32)
    batched = jax.jit(jax.vmap(hypervolume, in_axes=(0, None, 0)))
    volumes = np.asarray(batched(Ys, ref, masks))
    np.testing.assert_array_equal(np.asarray(batched(Ys[:small], ref, masks[:small])), volumes[:small])
    expected = [moocore_hv(Y, ref, mask) for Y, mask in zip(Ys[:8], masks[:8])]
    np.testing.assert_allclose(volumes[:8], expected, rtol=RTOL)
    if m == 3:  # subsets share the orders, which take the same rule
        members = rng.random((3, n)) < 0.5
        subsets = jax.jit(jax.vmap(lambda Y, mask: hypervolume_subsets(Y, ref, members, mask)))
        got = np.asarray(subsets(Ys, masks))
        np.testing.assert_array_equal(np.asarray(subsets(Ys[:small], masks[:small])), got[:small])
        expected = [[moocore_hv(Y, ref, mask & member) for member in members] for Y, mask in zip(Ys[:small], masks[:small])]
        np.testing.assert_allclose(got[:small], expected, rtol=RTOL)


def test_large_batches_sweep_in_chunks_with_the_same_volumes():
    """A batch whose 3-D sweep state exceeds _SWEEP_WHOLE_MAX_BYTES is swept in chunks of rows
    (fronts x subsets), the last one padded: the same floats as a small batch swept whole, and
    moocore's values."""
    import kernels.hypervolume as hv

    rng = np.random.default_rng(31)
    n, large, small = 300, 120, 4
    assert large * n * 4 > hv._SWEEP_WHOLE_MAX_BYTES >= small * n * 4
    assert large % (hv._SWEEP_CHUNK_BYTES // (n * 4)) != 0  # a padded last chunk
    Ys = np.stack([random_front(rng, n, 3, "front") for _ in range(large)])
    Ys[1] = np.round(Ys[1] * 5) / 5  # ties
    Ys[2, : n // 2] = Ys[2, n // 2 : 2 * (n // 2)]  # duplicates
    masks = rng.random((large, n)) < 0.9
    ref = np.full(3, 1.1, np.float32)
    batched = jax.jit(jax.vmap(hypervolume, in_axes=(0, None, 0)))
    volumes = np.asarray(batched(Ys, ref, masks))
    for start in (0, large - small):
        window = slice(start, start + small)
        np.testing.assert_array_equal(np.asarray(batched(Ys[window], ref, masks[window])), volumes[window])
    expected = [moocore_hv(Y, ref, mask) for Y, mask in zip(Ys[:6], masks[:6])]
    np.testing.assert_allclose(volumes[:6], expected, rtol=RTOL)


def test_hv4_set_minor_layout_is_batch_invariant_and_matches_the_per_set_layout():
    """Small N takes the 4-D kernel with the point sets on the minor axis (`_hv4_columns`, whose
    vmap rule folds each new batch axis into that axis). A set's value must not depend on the batch
    around it (plain, vmapped, vmapped twice: the same floats), and must match the per-set kernel
    and moocore."""
    import kernels.hypervolume as hv

    rng = np.random.default_rng(4)
    n = hv._HV4_COLUMNS_MAX_N
    gains = rng.integers(0, 6, (3, 4, n, 4)).astype(np.float32) / 5  # ties, zeros, duplicates
    gains[..., 1, :] = gains[..., 0, :]
    active = rng.random((3, 4, 2, n)) < 0.8
    nested = np.asarray(jax.jit(jax.vmap(jax.vmap(hv._hv4)))(gains, active))
    flat = jax.jit(jax.vmap(hv._hv4))(gains.reshape(12, n, 4), active.reshape(12, 2, n))
    np.testing.assert_array_equal(np.asarray(flat).reshape(3, 4, 2), nested)
    plain = jax.jit(hv._hv4)(gains[2, 1], active[2, 1])
    np.testing.assert_array_equal(np.asarray(plain), nested[2, 1])
    per_set = jax.jit(jax.vmap(jax.vmap(hv._hv4_batched)))(gains, active)
    np.testing.assert_allclose(nested, np.asarray(per_set), rtol=1e-6)
    expected = [moocore_hv(1.0 - gains[2, 1][a], np.ones(4)) for a in active[2, 1]]
    np.testing.assert_allclose(np.asarray(plain), expected, rtol=RTOL)


def test_hv4_large_batches_sweep_slices_in_chunks_with_the_same_volumes():
    """With the sets on the minor axis, a sweep state beyond _SWEEP_WHOLE_MAX_BYTES runs a few
    slices at a time (the last chunk padded past N): the same floats as a small batch swept whole."""
    import kernels.hypervolume as hv

    rng = np.random.default_rng(6)
    n, sets = hv._HV4_COLUMNS_MAX_N, 20  # 2 subsets each: 40 columns
    slice_bytes = n * 2 * sets * 4
    assert n * slice_bytes > hv._SWEEP_WHOLE_MAX_BYTES >= n * n * 2 * 4 * 4
    assert n % (hv._HV4_SLICE_CHUNK_BYTES // slice_bytes) != 0
    gains = rng.integers(0, 6, (sets, n, 4)).astype(np.float32) / 5  # ties, zeros, duplicates
    gains[:, 1] = gains[:, 0]
    front = rng.random((n, 4))
    gains[3] = front / np.linalg.norm(front, axis=1, keepdims=True)  # mutually nondominated
    active = rng.random((sets, 2, n)) < 0.8
    batched = jax.jit(jax.vmap(hv._hv4))
    volumes = np.asarray(batched(gains, active))
    np.testing.assert_array_equal(np.asarray(batched(gains[:4], active[:4])), volumes[:4])
    expected = [[moocore_hv(1.0 - g[a], np.ones(4)) for a in act] for g, act in zip(gains[:4], active[:4])]
    np.testing.assert_allclose(volumes[:4], expected, rtol=RTOL)


@pytest.mark.parametrize("n", [1, 2, 129, 256])
def test_rank_counters_shared_by_columns_match_numpy(n):
    """Several columns' ranks share one int32 counter in bit fields (bit_length(N - 1) bits each, at
    most 31 bits a counter): four columns take two counters; N = 129 and 256 fill each field to its top."""
    import kernels.hypervolume as hv

    rng = np.random.default_rng(n)
    columns = [rng.integers(0, 5, n).astype(np.float32) / 4 for _ in range(3)]  # heavy ties, zeros
    columns.append(rng.random(n).astype(np.float32))
    ranks = jax.jit(hv._descending_ranks)(*columns)
    for got, values in zip(ranks, columns, strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.argsort(np.argsort(-values, kind="stable")))


@pytest.mark.parametrize("m,n", [(1, 30), (2, 50), (3, 50), (4, 20)])
def test_subsets_match_moocore_on_prefixes_and_random_subsets(m, n):
    rng = np.random.default_rng(100 + m)
    Y = random_front(rng, n, m, "cloud")
    Y[5] = Y[3]  # a duplicate
    ref = np.full(m, 1.7, np.float32)
    mask = np.ones(n, bool)
    mask[7] = False
    Y[7] = np.nan  # masked rows may hold anything
    index = np.arange(n)
    prefixes = index[None, :] <= index[:, None]
    random_subsets = rng.uniform(size=(9, n)) < 0.4
    random_subsets[0] = False  # an empty subset
    members = np.concatenate([prefixes, random_subsets])
    values = np.asarray(hypervolume_subsets(Y, ref, members, mask))
    expected = [moocore_hv(Y, ref, row & mask) for row in members]
    np.testing.assert_allclose(values, expected, rtol=RTOL, atol=1e-6)
    assert values[n] == 0.0


@pytest.mark.parametrize("m", [2, 3, 4])
def test_subsets_with_member_bounds_match_moocore_and_flag_overflow(m):
    """Disjoint groups (like the nodes of one tree level) with bounds on their sizes, some tight,
    some loose, one exceeded; ties and duplicates inside groups."""
    rng = np.random.default_rng(200 + m)
    n = 60
    Y = np.round(random_front(rng, n, m, "cloud"), 1)  # coarse values: many ties
    Y[5] = Y[3]
    ref = np.full(m, 1.7, np.float32)
    mask = rng.random(n) < 0.9
    group = rng.integers(0, 5, n)
    members = group[None, :] == np.arange(5)[:, None]
    sizes = (members & mask).sum(axis=1)
    bounds = (int(sizes[0]), int(sizes[1]) + 7, int(sizes[2]) + 1, n, int(sizes[4]) - 1)  # the last one overflows
    values = np.asarray(hypervolume_subsets(Y, ref, members, mask, max_members=bounds))
    expected = [moocore_hv(Y, ref, row & mask) for row in members]
    np.testing.assert_allclose(values[:4], expected[:4], rtol=RTOL, atol=1e-6)
    assert np.isnan(values[4])
    # one int for all subsets; the result does not depend on the bound once it is large enough
    loose = np.asarray(hypervolume_subsets(Y, ref, members, mask, max_members=int(sizes.max())))
    np.testing.assert_allclose(loose, expected, rtol=RTOL, atol=1e-6)


def test_subsets_bad_inputs():
    Y = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="members must have shape"):
        hypervolume_subsets(Y, np.ones(3), np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="members must be boolean"):
        hypervolume_subsets(Y, np.ones(3), np.ones((2, 4), np.int32))
    with pytest.raises(ValueError, match="M <= 4"):
        hypervolume_subsets(np.zeros((4, 5), np.float32), np.ones(5), np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="max_members"):
        hypervolume_subsets(Y, np.ones(3), np.ones((2, 4), bool), max_members=(3,))
    with pytest.raises(ValueError, match="max_members"):
        hypervolume_subsets(Y, np.ones(3), np.ones((2, 4), bool), max_members=0)
    with pytest.raises(ValueError, match="max_members"):
        hypervolume_subsets(Y, np.ones(3), np.ones((2, 4), bool), max_members=(True, 2))
