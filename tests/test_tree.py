"""Partition tree and MCTS: invariants, the reference's split rule, UCB and selection."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels import svm
from lamoo_jax import mcts
from lamoo_jax.config import LaMOOConfig, level_capacities
from lamoo_jax.tree import build_tree, build_tree_jit, depth_capacities, node_members


def _brute_dominance_count(Y):
    le = np.all(Y[:, None, :] <= Y[None, :, :], axis=-1)
    lt = np.any(Y[:, None, :] < Y[None, :, :], axis=-1)
    return (le & lt).sum(axis=0)


def _samples(seed, n_valid, capacity, d=3, m=2):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(capacity, d)).astype(np.float32)
    f1 = X[:, 0]
    f2 = 1 - np.sqrt(X[:, 0]) + 2 * np.sum((X[:, 1:] - 0.5) ** 2, axis=1)
    Y = np.stack([f1, f2], axis=1)[:, :m].astype(np.float32)
    mask = np.arange(capacity) < n_valid
    return X, Y, mask


@pytest.fixture(scope="module", params=["label", "prediction"])
def built(request):
    config = LaMOOConfig(svm_kernel="rbf", assign_by=request.param)
    capacity = 80
    X, Y, mask = _samples(0, 70, capacity)
    capacities = tuple(level_capacities(capacity, config))
    tree = jax.jit(lambda f, y, m: build_tree(f, y, m, config, capacities))(X, Y, mask)
    return config, X, Y, mask, tree


def test_every_sample_in_exactly_one_existing_leaf(built):
    _, _, _, mask, tree = built
    node_of_sample = np.asarray(tree.node_of_sample)
    assert np.all(node_of_sample[~mask] == -1)
    leaves = np.asarray(tree.is_leaf)
    assert np.all(leaves[node_of_sample[mask]])
    members = np.asarray(mcts.node_member_matrix(tree))
    leaf_members = members[leaves]
    assert np.array_equal(leaf_members.sum(axis=0), mask.astype(int))


def test_children_partition_their_parent(built):
    _, _, _, mask, tree = built
    members = np.asarray(mcts.node_member_matrix(tree))
    exists, is_leaf = np.asarray(tree.exists), np.asarray(tree.is_leaf)
    n_samples = np.asarray(tree.n_samples)
    assert np.array_equal(members[0], mask)
    internal = np.flatnonzero(exists & ~is_leaf)
    assert internal.size >= 1, "70 samples must give at least one split"
    for node in internal:
        good, bad = members[2 * node + 1], members[2 * node + 2]
        assert not np.any(good & bad)
        assert np.array_equal(good | bad, members[node])
        assert good.any() and bad.any()
        assert n_samples[node] == members[node].sum() == n_samples[2 * node + 1] + n_samples[2 * node + 2]
    assert int(tree.n_nodes) <= 50


def test_root_split_follows_the_dominance_rank(built):
    config, X, Y, mask, tree = built
    if config.assign_by != "label":
        pytest.skip("the rank rule fixes the children only under label assignment")
    if not bool(tree.exists[1]):
        pytest.skip("root was not split")
    valid = np.flatnonzero(mask)
    counts = _brute_dominance_count(Y[valid])
    order = np.argsort(counts, kind="stable")
    n_good = len(valid) // 2 + 1
    expected_good = np.zeros(len(mask), bool)
    expected_good[valid[order[:n_good]]] = True
    members = np.asarray(mcts.node_member_matrix(tree))
    assert np.array_equal(members[1], expected_good)


def test_prediction_assignment_matches_the_classifiers(built):
    config, X, Y, mask, tree = built
    if config.assign_by != "prediction":
        pytest.skip("only under prediction assignment")
    members = np.asarray(mcts.node_member_matrix(tree))
    root_model = jax.tree_util.tree_map(lambda a: a[0], tree.models[0])
    predicted = np.asarray(svm.predict(root_model, jnp.asarray(X)))
    assert np.array_equal(members[1], predicted & mask)
    # And every leaf's samples satisfy every constraint of the leaf's region.
    for leaf in np.flatnonzero(np.asarray(tree.is_leaf)):
        region = mcts.region_of(tree, jnp.int32(leaf))
        depth = np.asarray(region.depth_satisfied(jnp.asarray(X)))
        assert np.all(depth[members[leaf]] == int(region.length))


def test_small_nodes_are_not_split_and_node_cap_holds():
    X, Y, mask = _samples(1, 15, 40)
    config = LaMOOConfig(svm_kernel="rbf")
    tree = build_tree_jit(jnp.asarray(X), jnp.asarray(Y), jnp.asarray(mask), config, tuple(level_capacities(40, config)))
    assert int(tree.n_nodes) == 1
    X, Y, mask = _samples(2, 200, 200)
    capped = LaMOOConfig(svm_kernel="rbf", max_nodes=5)
    tree = build_tree_jit(jnp.asarray(X), jnp.asarray(Y), jnp.asarray(mask), capped, tuple(level_capacities(200, capped)))
    assert 3 <= int(tree.n_nodes) <= 5


def test_one_class_node_is_not_split():
    # All samples identical in objectives: every dominance number is 0; labels still split by
    # rank, but identical features make the SVM unable to predict both classes.
    X = np.full((40, 2), 0.5, np.float32)
    Y = np.ones((40, 2), np.float32)
    mask = np.ones(40, bool)
    config = LaMOOConfig(svm_kernel="rbf")
    tree = build_tree_jit(jnp.asarray(X), jnp.asarray(Y), jnp.asarray(mask), config, tuple(level_capacities(40, config)))
    assert int(tree.n_nodes) == 1


def test_ucb_and_selection(built):
    config, X, Y, mask, tree = built
    ref = jnp.asarray([1.5, 3.0], jnp.float32)
    selection = mcts.select(jax.random.key(0), tree, jnp.asarray(Y), jnp.asarray(mask), ref, 0.05, strategy="leaf", exact_hv=True, hv_mc_samples=1024)
    exists = np.asarray(tree.exists)
    n = np.asarray(tree.n_samples).astype(float)
    hv = np.asarray(selection.node_hv)
    ids = np.arange(len(n))
    parent = np.maximum((ids - 1) // 2, 0)
    expected = hv + 2 * 0.05 * np.sqrt(2 * np.log(np.maximum(n[parent], 1)) / np.maximum(n, 1))
    ucb = np.asarray(selection.ucb)
    np.testing.assert_allclose(ucb[exists], expected[exists], rtol=1e-5)
    leaves = np.flatnonzero(np.asarray(tree.is_leaf))
    assert int(selection.leaf) == leaves[np.argmax(ucb[leaves])]
    assert np.array_equal(np.asarray(selection.leaf_mask), np.asarray(node_members(tree, selection.leaf)))

    path = mcts.select_leaf(tree, selection.ucb, "path")
    node = 0
    is_leaf = np.asarray(tree.is_leaf)
    while not is_leaf[node]:
        node = 2 * node + 1 if ucb[2 * node + 1] >= ucb[2 * node + 2] else 2 * node + 2
    assert int(path) == node


def test_monte_carlo_node_values_agree_with_exact(built):
    _, X, Y, mask, tree = built
    ref = jnp.asarray([1.5, 3.0], jnp.float32)
    members = mcts.node_member_matrix(tree)
    exact = np.asarray(mcts.node_hypervolumes_exact(members, jnp.asarray(Y), ref))
    approx = np.asarray(mcts.node_hypervolumes_mc(jax.random.key(1), members, jnp.asarray(Y), jnp.asarray(mask), ref, 200_000))
    exists = np.asarray(tree.exists)
    np.testing.assert_allclose(approx[exists], exact[exists], rtol=0.02, atol=1e-3)


@pytest.mark.parametrize("m", [2, 3])
def test_exact_node_values_with_depth_capacities_match_moocore(m):
    """The per-depth shortcut (compacted buffers for M = 2, bounded sweeps sharing one pair of orders for
    M = 3) against moocore on each node's samples; some buffer rows are not samples yet."""
    moocore = pytest.importorskip("moocore")
    X, Y, mask = _samples(7, 90, 100)
    if m == 3:
        Y = np.concatenate([Y, np.round(np.sum(X, axis=1, keepdims=True), 1)], axis=1)  # ties in f3
    Y[~mask] = 0.0  # unevaluated buffer rows: zeros, inside the reference box but in no node
    ref = np.asarray([1.5, 3.0, 3.5][:m], np.float32)
    config = LaMOOConfig(svm_kernel="rbf")
    capacities = tuple(level_capacities(100, config))
    tree = build_tree_jit(jnp.asarray(X), jnp.asarray(Y), jnp.asarray(mask), config, capacities)
    assert int(tree.n_levels) >= 2 and int(np.sum(np.asarray(tree.exists))) >= 3
    members = mcts.node_member_matrix(tree)
    depth_capacity = depth_capacities(capacities, config)
    values = np.asarray(jax.jit(mcts.node_hypervolumes_exact, static_argnums=3)(members, jnp.asarray(Y), jnp.asarray(ref), depth_capacity))
    for node in np.flatnonzero(np.asarray(tree.exists)):
        rows = Y[np.asarray(members[node])].astype(np.float64)
        rows = rows[np.all(rows < ref, axis=1)]
        expected = float(moocore.hypervolume(rows, ref=ref.astype(np.float64))) if len(rows) else 0.0
        assert values[node] == pytest.approx(expected, rel=1e-5, abs=1e-6), node


def _deepest_region():
    """120 samples in 3-d, an rbf tree, and the region of its deepest leaf: (X, Y, mask, region)."""
    X, Y, mask = _samples(5, 120, 120)
    config = LaMOOConfig(svm_kernel="rbf")
    tree = build_tree_jit(jnp.asarray(X), jnp.asarray(Y), jnp.asarray(mask), config, tuple(level_capacities(120, config)))
    leaves = np.flatnonzero(np.asarray(tree.is_leaf))
    region = mcts.region_of(tree, jnp.int32(leaves[np.argmax([int(mcts.node_depth(jnp.int32(l))) for l in leaves])]))
    return X, Y, mask, region


def test_screened_depth_is_exact_on_what_it_tests_and_never_overstates():
    # A 3-level path; 2,000 uniform candidates: deeper levels test a halving pool.
    X, Y, mask, region = _deepest_region()
    length = int(region.length)
    assert length >= 2
    candidates = jnp.asarray(np.random.default_rng(0).uniform(size=(2000, X.shape[1])), jnp.float32)
    exact = np.asarray(region.depth_satisfied(candidates))
    screened = np.asarray(region.screened_depth(candidates))
    assert np.all(screened <= exact)
    # Level l is tested on the first max(n / 2^l, 64) points (pool order) that passed level l - 1:
    # replay that rule on the exact per-level results.
    satisfied = np.asarray(region.constraint_satisfied(candidates))
    passed = np.ones(2000, bool)
    expected = np.zeros(2000, int)
    for level in range(region.max_depth):
        capacity = min(2000, max(2000 >> level, 64))
        tested = np.zeros(2000, bool)
        tested[np.flatnonzero(passed)[:capacity]] = True
        passed = tested & satisfied[level]
        expected += passed
    np.testing.assert_array_equal(screened, np.minimum(expected, length))
    # Screening drops points only when a level has more passers than its buffer.
    assert np.sum(screened == length) > 0
    # Small pools are tested in full.
    np.testing.assert_array_equal(np.asarray(region.screened_depth(candidates[:64])), exact[:64])


@pytest.mark.parametrize("q", [5, 40, 400])
def test_select_first_in_region_replays_chunked_screening(q):
    # The 3-level path of the test above; 2,000 candidates in chunks of 128 (the last one partial).
    # q = 5 stops after a chunk or two, q = 40 after several, q = 400 needs the relaxation.
    from lamoo_jax.samplers.base import ProposalContext, select_first_in_region
    from lamoo_jax.spaces import Box

    X, Y, mask, region = _deepest_region()
    length = int(region.length)
    space = Box.create([0.0] * 3, [1.0] * 3)
    context = ProposalContext(
        X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.asarray(mask), leaf_mask=jnp.asarray(mask),
        ref_point=jnp.asarray([1.5, 3.0]), region=region, space=space,
    )
    n, chunk = 2000, 128
    candidates = jnp.asarray(np.random.default_rng(1).uniform(size=(n, 3)), jnp.float32)
    got = jax.jit(select_first_in_region, static_argnums=2, static_argnames=("chunk",))(candidates, context, q, chunk=chunk)

    # Replay: screen chunk after chunk (each with screened_depth, tested above) until q reach the
    # leaf; then the deepest level with q candidates, and its first q in pool order.
    depth = np.zeros(n, int)
    for start in range(0, n, chunk):
        depth[start:start + chunk] = np.asarray(region.screened_depth(candidates[start:start + chunk], 32))
        if np.sum(depth >= length) >= q:
            break
    counts = [np.sum(depth >= level) for level in range(length + 1)]
    level = max([lvl for lvl in range(length + 1) if counts[lvl] >= q] + [0])
    expected = np.flatnonzero(depth >= level)[:q]
    assert int(got.level) == level
    np.testing.assert_array_equal(np.asarray(got.index), expected)
    assert np.all(np.asarray(got.valid))
    # The chosen points do satisfy the level's constraints (exact classifiers).
    assert np.all(np.asarray(region.depth_satisfied(candidates[expected])) >= level)
    # Stopping early changes nothing: screening every chunk first gives the same choice.
    full = np.concatenate([np.asarray(region.screened_depth(candidates[s:s + chunk], 32)) for s in range(0, n, chunk)])
    counts_full = [np.sum(full >= lvl) for lvl in range(length + 1)]
    level_full = max([lvl for lvl in range(length + 1) if counts_full[lvl] >= q] + [0])
    np.testing.assert_array_equal(np.flatnonzero(full >= level_full)[:q], expected)
    if q == 5:
        assert level == length and expected[-1] < 2 * chunk
    if q == 400:
        assert level < length


def test_select_first_in_region_batched_over_seeds_equals_each_seed_alone():
    # Under vmap the chunked screening serves the seeds that need more chunks a few at a time
    # (a custom batching rule). Seeds here differ in pool and region depth, so they need from one
    # chunk to all of them (relaxation included); each must get what it gets alone.
    from lamoo_jax.samplers.base import ProposalContext, select_first_in_region
    from lamoo_jax.spaces import Box

    X, Y, mask, region = _deepest_region()
    space = Box.create([0.0] * 3, [1.0] * 3)
    lengths = [0, 1, int(region.length), int(region.length), 2, int(region.length), int(region.length)]
    n, chunk, q = 1000, 128, 40
    pools = np.random.default_rng(3).uniform(size=(len(lengths), n, 3))
    pools[-1] *= 0.05  # a pool in one corner: too few candidates reach the leaf, relaxation
    pools = jnp.asarray(pools, jnp.float32)

    def context_of(length):
        return ProposalContext(
            X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.asarray(mask), leaf_mask=jnp.asarray(mask),
            ref_point=jnp.asarray([1.5, 3.0]), region=region._replace(length=jnp.int32(length)), space=space,
        )

    select = functools.partial(select_first_in_region, q=q, chunk=chunk)
    contexts = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *[context_of(length) for length in lengths])
    batched = jax.jit(jax.vmap(select))(pools, contexts)
    alone = [jax.jit(select)(pool, context_of(length)) for pool, length in zip(pools, lengths)]
    last_chosen = [int(np.max(np.asarray(sel.index))) for sel in alone]
    assert last_chosen[0] < chunk and max(last_chosen) >= 3 * chunk  # one chunk ... several
    assert int(alone[-1].level) < lengths[-1]  # relaxed: every chunk screened
    for b, sel in enumerate(alone):
        np.testing.assert_array_equal(np.asarray(batched.index[b]), np.asarray(sel.index))
        assert int(batched.level[b]) == int(sel.level)
    # The screening itself (which chunks each seed screened, and every depth) is the same too.
    from lamoo_jax.samplers.base import _screen_pool

    screen = _screen_pool(q, chunk, 32, 8, None)
    features = jnp.concatenate([pools, pools[:, : 8 * chunk - n]], axis=1)  # 8 chunks, the last one padded
    usable = jnp.broadcast_to(jnp.arange(8 * chunk) < n, features.shape[:2])
    depth_batched, _ = jax.jit(jax.vmap(screen))(features, usable, contexts.region)
    for b, length in enumerate(lengths):
        depth_alone, _ = jax.jit(screen)(features[b], usable[b], context_of(length).region)
        np.testing.assert_array_equal(np.asarray(depth_batched[b]), np.asarray(depth_alone))


def test_pool_drawn_chunk_by_chunk_equals_the_same_pool_given():
    # select_first_drawn_in_region draws chunk k as space.sample(fold_in(key, k), chunk) while it
    # screens; given that very pool up front, select_first_in_region must choose the same points.
    # Batched over seeds (regions of different depths, one relaxing), each seed as alone.
    from lamoo_jax.samplers.base import ProposalContext, select_first_drawn_in_region, select_first_in_region
    from lamoo_jax.spaces import Box

    X, Y, mask, region = _deepest_region()
    space = Box.create([0.0] * 3, [1.0] * 3)
    n, chunk, q = 1000, 128, 40
    lengths = [0, 2, int(region.length), int(region.length)]
    keys = jax.random.split(jax.random.key(5), len(lengths))

    def context_of(length):
        return ProposalContext(
            X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.asarray(mask), leaf_mask=jnp.asarray(mask),
            ref_point=jnp.asarray([1.5, 3.0]), region=region._replace(length=jnp.int32(length)), space=space,
        )

    drawn = functools.partial(select_first_drawn_in_region, q=q, n_candidates=n, chunk=chunk)
    contexts = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *[context_of(length) for length in lengths])
    batched, batched_pool = jax.jit(jax.vmap(drawn))(keys, contexts)
    for b, length in enumerate(lengths):
        selection, pool = jax.jit(drawn)(keys[b], context_of(length))
        full_pool = jnp.concatenate([space.sample(jax.random.fold_in(keys[b], k), chunk) for k in range(8)])[:n]
        given = jax.jit(functools.partial(select_first_in_region, q=q, chunk=chunk))(full_pool, context_of(length))
        np.testing.assert_array_equal(np.asarray(selection.index), np.asarray(given.index))
        assert int(selection.level) == int(given.level)
        np.testing.assert_array_equal(np.asarray(pool[selection.index]), np.asarray(full_pool[given.index]))
        np.testing.assert_array_equal(np.asarray(batched.index[b]), np.asarray(selection.index))
        np.testing.assert_array_equal(np.asarray(batched_pool[b][selection.index]), np.asarray(pool[selection.index]))
    # only the chunks that were screened were drawn: the root's region needs one
    assert not np.any(np.asarray(jax.jit(drawn)(keys[0], context_of(0))[1][chunk:]))
