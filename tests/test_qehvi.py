"""qEHVI: exact / Monte Carlo hypervolume improvement against moocore, the acquisition on cases
with a known answer, the greedy batch, and the sampler's region and novelty guarantees."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from kernels import svm
from lamoo_jax.samplers import qehvi
from lamoo_jax.samplers.base import ProposalContext, Region, empty_region, select_in_region
from lamoo_jax.spaces import Box, Categorical


def _hv(points, ref):
    """Exact HV by moocore of the rows strictly better than ref in every objective."""
    points = np.asarray(points, np.float64).reshape(-1, len(ref))
    points = points[np.all(points < ref, axis=1)]
    return float(moocore.hypervolume(points, ref=ref)) if len(points) else 0.0


# ---------------------------------------------------------------------------------------------------
# Hypervolume improvement


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_obj=st.sampled_from([1, 2, 3]),
    n_pending=st.integers(0, 3),
)
def test_exact_hvi_with_pending_points_matches_moocore(seed, n_obj, n_pending):
    rng = np.random.default_rng(seed)
    K = 12
    P = rng.uniform(size=(K, n_obj)).astype(np.float32)
    P[1] = P[0]  # duplicates
    P[2, 0] = 1.5  # beyond the reference point in one objective
    mask = rng.uniform(size=K) < 0.75
    P[~mask] = rng.uniform(-5, 5, size=(int((~mask).sum()), n_obj))  # garbage in padding rows
    ref = np.full(n_obj, 1.1, np.float32)
    F = rng.uniform(-0.1, 1.0, size=(n_pending, n_obj)).astype(np.float32)
    Yq = rng.uniform(-0.3, 1.3, size=(8, n_obj)).astype(np.float32)
    Yq[0] = P[np.argmax(mask)]  # a point already in the set: no improvement
    got = np.asarray(_hvi_exact_batch(jnp.asarray(P), jnp.asarray(mask), jnp.asarray(ref), jnp.asarray(F), jnp.asarray(Yq)))
    base = np.vstack([P[mask], F])
    expected = np.array([_hv(np.vstack([base, y]), ref) - _hv(base, ref) for y in Yq])
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert got[0] == pytest.approx(0.0, abs=1e-6)


@jax.jit
def _hvi_exact_batch(P, mask, ref, F, Yq):
    grid = qehvi.nondominated_grid(P, mask, ref)
    return jax.vmap(lambda y: qehvi.hvi_exact(grid, y, F))(Yq)


def _assert_within_monte_carlo_error(got, expected, ref, Yq, H):
    """Each improvement within 5 binomial standard errors of the exact one (box [y, ref], H points)."""
    box = np.prod(ref - Yq, axis=1)
    p = expected / box
    stderr = box * np.sqrt(p * (1 - p) / H)
    assert np.all(np.abs(got - expected) <= 5 * stderr + 1e-6), (got, expected, stderr)
    assert np.all(expected > 0)


def test_monte_carlo_hvi_matches_moocore_within_error():
    rng = np.random.default_rng(0)
    M = 4
    A = rng.uniform(size=(25, M)).astype(np.float32)
    ref = np.full(M, 1.1, np.float32)
    Yq = rng.uniform(0.0, 0.7, size=(6, M)).astype(np.float32)
    H = 100_000
    base = jax.random.uniform(jax.random.key(0), (H, M))
    got = np.asarray(jax.jit(qehvi.hypervolume_improvement)(jnp.asarray(A), jnp.ones(25, bool), jnp.asarray(ref), jnp.asarray(Yq), base))
    expected = np.array([_hv(np.vstack([A, y]), ref) - _hv(A, ref) for y in Yq])
    _assert_within_monte_carlo_error(got, expected, ref, Yq, H)


@pytest.mark.parametrize("n_pending", [0, 1, 3])
def test_monte_carlo_hvi_with_masked_rows_and_pending_points_matches_moocore(n_pending):
    # The observed set keeps padded rows (mask False, placed to dominate everything were they
    # counted) and the pending points F enter separately, as in the greedy batch.
    rng = np.random.default_rng(n_pending)
    M = 6
    A = rng.uniform(0.2, 1.0, size=(30, M)).astype(np.float32)
    mask = np.ones(30, bool)
    mask[[3, 17, 29]] = False
    A[~mask] = 0.0
    F = rng.uniform(0.2, 1.0, size=(n_pending, M)).astype(np.float32)
    ref = np.full(M, 1.1, np.float32)
    Yq = rng.uniform(0.0, 0.6, size=(5, M)).astype(np.float32)
    H = 100_000
    base = jax.random.uniform(jax.random.key(1), (H, M))
    estimate = jax.jit(jax.vmap(qehvi.hvi_monte_carlo, in_axes=(None, None, None, 0, None, None)))
    got = np.asarray(estimate(jnp.asarray(A), jnp.asarray(mask), jnp.asarray(ref), jnp.asarray(Yq), base, jnp.asarray(F)))
    observed = np.vstack([A[mask], F])
    expected = np.array([_hv(np.vstack([observed, y]), ref) - _hv(observed, ref) for y in Yq])
    _assert_within_monte_carlo_error(got, expected, ref, Yq, H)


def test_hvi_validation():
    with pytest.raises(ValueError, match="mc_base"):
        qehvi.hypervolume_improvement(jnp.zeros((3, 4)), jnp.ones(3, bool), jnp.ones(4), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="at most 3"):
        qehvi.nondominated_grid(jnp.zeros((3, 4)), jnp.ones(3, bool), jnp.ones(4))


# ---------------------------------------------------------------------------------------------------
# The acquisition on cases with known answers


@functools.partial(jax.jit, static_argnames=("q",))
def _greedy(base, mean, cov, Y_obs, obs_mask, ref, available, q):
    return qehvi.greedy_qehvi(base, mean, cov, Y_obs, obs_mask, ref, available, q)


def test_single_objective_ehvi_is_expected_improvement():
    mean = np.array([[0.2], [0.5], [0.9], [-0.3]], np.float32)
    sd = np.array([0.3, 0.1, 0.5, 0.05], np.float32)
    Y_obs = np.array([[0.4], [0.7], [5.0]], np.float32)  # incumbent 0.4
    ref = np.array([2.0], np.float32)
    S = 40_000
    base = jax.random.normal(jax.random.key(1), (S, 4, 1))
    cov = np.diag(sd**2)[None]
    _, values = _greedy(base, jnp.asarray(mean), jnp.asarray(cov), jnp.asarray(Y_obs), jnp.ones(3, bool),
                        jnp.asarray(ref), jnp.ones(4, bool), 1)
    z = (0.4 - mean[:, 0]) / sd
    ei = (0.4 - mean[:, 0]) * norm.cdf(z) + sd * norm.pdf(z)
    np.testing.assert_allclose(np.asarray(values[0]), ei, atol=float(5 * sd.max() / np.sqrt(S)))


def test_two_objective_ehvi_with_tiny_variance_is_the_exact_improvement():
    rng = np.random.default_rng(3)
    Y_obs = rng.uniform(size=(10, 2)).astype(np.float32)
    mean = rng.uniform(-0.1, 0.9, size=(6, 2)).astype(np.float32)
    ref = np.array([1.2, 1.1], np.float32)
    cov = np.stack([np.eye(6) * 1e-12] * 2).astype(np.float32)
    base = jax.random.normal(jax.random.key(2), (16, 6, 2))
    _, values = _greedy(base, jnp.asarray(mean), jnp.asarray(cov), jnp.asarray(Y_obs), jnp.ones(10, bool),
                        jnp.asarray(ref), jnp.ones(6, bool), 1)
    expected = np.array([_hv(np.vstack([Y_obs, m]), ref) - _hv(Y_obs, ref) for m in mean])
    np.testing.assert_allclose(np.asarray(values[0]), expected, atol=1e-5)
    assert expected.max() > 0.01


def test_certainly_dominated_candidate_has_no_value():
    Y_obs = np.array([[0.2, 0.3], [0.5, 0.1]], np.float32)
    mean = np.array([[0.6, 0.6], [0.1, 0.1]], np.float32)  # first is dominated by 10 sd, second improves
    cov = np.stack([np.diag([0.01**2, 0.01**2])] * 2).astype(np.float32)
    base = jax.random.normal(jax.random.key(3), (256, 2, 2))
    _, values = _greedy(base, jnp.asarray(mean), jnp.asarray(cov), jnp.asarray(Y_obs), jnp.ones(2, bool),
                        jnp.ones(2) * 1.0, jnp.ones(2, bool), 1)
    assert float(values[0, 0]) == pytest.approx(0.0, abs=1e-7)
    assert float(values[0, 1]) > 0.05


def test_greedy_conditions_on_the_chosen_points_jointly():
    # Candidates 0 and 1 are the same point (correlation 1): once one is chosen, the other adds
    # nothing in every joint sample. Candidate 2 is independent and still has value.
    Y_obs = np.array([[0.5, 0.5]], np.float32)
    mean = np.array([[0.2, 0.2], [0.2, 0.2], [0.3, 0.3], [0.9, 0.9]], np.float32)
    block = np.array([[1.0, 1.0, 0, 0], [1.0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]]) * 0.1**2
    cov = np.stack([block, block]).astype(np.float32)
    base = jax.random.normal(jax.random.key(4), (512, 4, 2))
    index, values = _greedy(base, jnp.asarray(mean), jnp.asarray(cov), jnp.asarray(Y_obs), jnp.ones(1, bool),
                            jnp.ones(2) * 1.0, jnp.ones(4, bool), 3)
    index, values = np.asarray(index), np.asarray(values)
    assert index[0] in (0, 1)
    twin = 1 - index[0]
    assert values[1, twin] < 1e-3 * values[0, twin]
    assert values[1, 2] > 0.01
    assert index[1] == 2
    assert len(set(index.tolist())) == 3
    assert np.isneginf(values[1, index[0]]) and np.isneginf(values[2, index[1]])


def test_second_greedy_step_matches_brute_force_joint_expectation():
    rng = np.random.default_rng(5)
    Y_obs = np.array([[0.1, 0.8], [0.5, 0.45], [0.85, 0.1]], np.float32)
    ref = np.array([1.0, 1.0], np.float32)
    mean = np.array([[0.35, 0.5], [0.45, 0.35], [0.6, 0.25]], np.float32)
    covs = []
    for _ in range(2):
        G = rng.normal(size=(3, 3))
        C = G @ G.T + 0.5 * np.eye(3)
        d = np.sqrt(np.diag(C))
        covs.append(0.15**2 * C / np.outer(d, d))  # correlated, sd 0.15
    cov = np.stack(covs).astype(np.float32)
    S = 8000
    base = jax.random.normal(jax.random.key(6), (S, 3, 2))
    index, values = _greedy(base, jnp.asarray(mean), jnp.asarray(cov), jnp.asarray(Y_obs), jnp.ones(3, bool),
                            jnp.asarray(ref), jnp.ones(3, bool), 2)
    first = int(index[0])
    B = 6000
    for c in range(3):
        if c == first:
            continue
        pair = [first, c]
        draws = np.stack([rng.multivariate_normal(mean[pair, m], cov[m][np.ix_(pair, pair)], size=B) for m in range(2)], -1)
        gains = np.array([_hv(np.vstack([Y_obs, d]), ref) - _hv(np.vstack([Y_obs, d[0]]), ref) for d in draws])
        tol = 5 * gains.std() * np.sqrt(1 / B + 1 / S)
        assert abs(float(values[1, c]) - gains.mean()) < tol, (c, float(values[1, c]), gains.mean(), tol)


# ---------------------------------------------------------------------------------------------------
# The sampler


SMALL = qehvi.QEHVISampler(n_candidates=48, raw_samples=96, mc_samples=16, gp_steps=10)


def _toy_context(space, n_real, N, region, seed=0):
    rng = np.random.default_rng(seed)
    X = np.asarray(space.sample(jax.random.key(seed), N))
    U = np.asarray(space.to_unit(jnp.asarray(X)))
    Y = np.stack([U[:, 0], 1 - np.sqrt(U[:, 0]) + (U[:, 1] - 0.5) ** 2], 1).astype(np.float32)
    Y = Y + 0.01 * rng.normal(size=Y.shape).astype(np.float32)
    mask = np.arange(N) < n_real
    return ProposalContext(
        X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.asarray(mask), leaf_mask=jnp.asarray(mask),
        ref_point=jnp.array([1.1, 1.1], jnp.float32), region=region, space=space,
    )


def _left_region():
    """A region from a fitted linear SVM: the side x0 < 0.4 of the unit square."""
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 12), np.linspace(0, 1, 12)), -1).reshape(-1, 2).astype(np.float32)
    model = svm.fit(jnp.asarray(grid), jnp.asarray(grid[:, 0] < 0.4), kernel="linear", C=10.0)
    return Region(models=(model,), sides=jnp.array([True]), length=jnp.int32(1))


_propose = jax.jit(SMALL.propose, static_argnums=3)


def test_proposals_stay_in_the_region_and_fit_the_gp():
    space = Box.create([0.0, 0.0], [1.0, 1.0])
    region = _left_region()
    context = _toy_context(space, 20, 32, region)
    state = SMALL.init(jax.random.key(0), space, 2)
    proposal, new_state = _propose(jax.random.key(1), state, context, 4)
    X = np.asarray(proposal.X)
    assert X.shape == (4, 2) and np.all(np.asarray(proposal.valid))
    assert int(proposal.level) == 1
    assert np.all(np.asarray(svm.predict(region.models[0], space.features(proposal.X))))
    assert len({tuple(x) for x in X.tolist()}) == 4
    assert not np.allclose(np.asarray(new_state.gp_params.log_lengthscale), np.asarray(state.gp_params.log_lengthscale))
    # The chosen points are the greedy acquisition maximisers of the in-region pool.
    candidates, available, level = SMALL.candidate_pool(jax.random.split(jax.random.key(1), 3)[0], context, 4)
    assert int(level) == 1
    inside = np.asarray(svm.predict(region.models[0], space.features(candidates)))
    assert np.all(inside[np.asarray(available)])
    pool = {tuple(x) for x in np.asarray(candidates).tolist()}
    assert all(tuple(x) in pool for x in X.tolist())


def test_vmap_over_seeds_equals_per_seed_calls():
    space = Box.create([0.0, 0.0], [1.0, 1.0])
    context = _toy_context(space, 20, 32, _left_region())
    state = SMALL.init(jax.random.key(0), space, 2)
    keys = jax.random.split(jax.random.key(7), 3)
    batched, batched_state = jax.jit(jax.vmap(lambda k: SMALL.propose(k, state, context, 4)))(keys)
    for i in range(3):
        single, single_state = _propose(keys[i], state, context, 4)
        np.testing.assert_allclose(np.asarray(batched.X[i]), np.asarray(single.X), atol=1e-6)
        np.testing.assert_allclose(np.asarray(batched_state.gp_params.log_lengthscale[i]),
                                   np.asarray(single_state.gp_params.log_lengthscale), rtol=1e-4, atol=1e-5)


def test_finite_space_never_repeats_an_evaluated_point():
    space = Categorical.create([3, 3])
    all_points = np.array([[a, b] for a in range(3) for b in range(3)], np.int32)
    N = 12
    X = np.zeros((N, 2), np.int32)
    X[:6] = all_points[[0, 2, 4, 5, 7, 8]]
    Y = np.stack([X[:, 0] / 2.0, 1 - X[:, 1] / 2.0], 1).astype(np.float32)
    mask = np.arange(N) < 6
    context = ProposalContext(
        X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.asarray(mask), leaf_mask=jnp.asarray(mask),
        ref_point=jnp.array([1.1, 1.1], jnp.float32), region=empty_region(), space=space,
    )
    sampler = qehvi.QEHVISampler(n_candidates=32, raw_samples=64, mc_samples=8, gp_steps=3)
    proposal, _ = jax.jit(sampler.propose, static_argnums=3)(jax.random.key(0), sampler.init(None, space, 2), context, 3)
    chosen = [tuple(x) for x in np.asarray(proposal.X).tolist()]
    assert np.all(np.asarray(proposal.valid))
    assert len(set(chosen)) == 3
    assert set(chosen) == {tuple(p) for p in all_points[[1, 3, 6]].tolist()}


def test_many_objectives_use_monte_carlo_and_run():
    space = Box.create([0.0] * 3, [1.0] * 3)
    rng = np.random.default_rng(0)
    N = 16
    X = rng.uniform(size=(N, 3)).astype(np.float32)
    Y = np.concatenate([X, 1 - X.mean(1, keepdims=True)], 1).astype(np.float32)
    context = ProposalContext(
        X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.ones(N, bool), leaf_mask=jnp.ones(N, bool),
        ref_point=jnp.full(4, 1.1, jnp.float32), region=empty_region(), space=space,
    )
    sampler = qehvi.QEHVISampler(n_candidates=16, raw_samples=32, mc_samples=4, gp_steps=2, hv_mc_samples=64)
    proposal, _ = jax.jit(sampler.propose, static_argnums=3)(jax.random.key(0), sampler.init(None, space, 4), context, 2)
    assert proposal.X.shape == (2, 3) and np.all(np.isfinite(np.asarray(proposal.X)))
    assert not np.allclose(np.asarray(proposal.X[0]), np.asarray(proposal.X[1]))


def test_relaxation_level_agrees_with_select_in_region():
    # A region that few raw draws satisfy: the pool must come from the relaxed level that
    # select_in_region picks for the same draws.
    space = Box.create([0.0, 0.0], [1.0, 1.0])
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 12), np.linspace(0, 1, 12)), -1).reshape(-1, 2).astype(np.float32)
    corner = (grid[:, 0] > 0.9) & (grid[:, 1] > 0.9)
    model = svm.fit(jnp.asarray(grid), jnp.asarray(corner), kernel="rbf", C=10.0, gamma=20.0)
    region = Region(models=(model,), sides=jnp.array([True]), length=jnp.int32(1))
    context = _toy_context(space, 20, 32, region)
    sampler = qehvi.QEHVISampler(n_candidates=8, raw_samples=16, mc_samples=4, gp_steps=1)
    for seed in range(3):
        key = jax.random.key(seed)
        candidates, available, level = sampler.candidate_pool(key, context, 5)
        raw = space.sample(jax.random.split(key)[0], 16)
        assert int(level) == int(select_in_region(raw, jnp.zeros(16), context, 5).level)
        depth = np.asarray(region.depth_satisfied(space.features(candidates)))
        assert np.all(depth[np.asarray(available)] >= int(level))


def test_config_validation():
    with pytest.raises(ValueError, match="n_candidates"):
        qehvi.QEHVISampler(n_candidates=0)
    with pytest.raises(ValueError, match="cannot exceed raw_samples"):
        qehvi.QEHVISampler(n_candidates=100, raw_samples=50)
    with pytest.raises(ValueError, match="gp_steps"):
        qehvi.QEHVISampler(gp_steps=-1)
    # A bool is an int to Python, but True is not a count.
    with pytest.raises(ValueError, match="sample_batch must be a positive int"):
        qehvi.QEHVISampler(sample_batch=True)
    with pytest.raises(ValueError, match="gp_steps"):
        qehvi.QEHVISampler(gp_steps=False)
    assert hash(qehvi.QEHVISampler()) == hash(qehvi.QEHVISampler())
    assert qehvi.QEHVISampler().name == "qehvi"
