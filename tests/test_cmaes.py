"""CMA-ES inner sampler: multi-objective fitness, region confinement, state carried across iterations."""

import jax
import jax.numpy as jnp
import numpy as np

from lamoo_jax import Box
from lamoo_jax.config import LaMOOConfig, level_capacities
from lamoo_jax.mcts import region_of
from lamoo_jax.samplers.base import ProposalContext, empty_region
from lamoo_jax.samplers.cmaes import CMAESSampler, multiobjective_fitness
from lamoo_jax.tree import build_tree_jit


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2)).astype(np.float32)
    Y = np.stack([X[:, 0], 1 - np.sqrt(X[:, 0]) + (X[:, 1] - 0.3) ** 2], 1).astype(np.float32)
    return X, Y


def test_fitness_orders_by_dominance_number_first():
    X, Y = _data()
    mask = np.ones(len(Y), bool)
    mask[-5:] = False
    fitness = np.asarray(multiobjective_fitness(jnp.asarray(Y), jnp.asarray(mask)))
    valid = Y[mask]
    le = np.all(valid[:, None] <= valid[None], -1) & np.any(valid[:, None] < valid[None], -1)
    count = le.sum(0)
    np.testing.assert_array_equal(np.floor(fitness[mask]).astype(int), count)
    # A strictly larger dominance number always means a worse (larger) fitness.
    f = fitness[mask]
    worse = count[:, None] > count[None, :]
    rows, cols = np.nonzero(worse)
    assert np.all(f[rows] > f[cols])


def _context(X, Y, region):
    return ProposalContext(
        X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.ones(len(X), bool), leaf_mask=jnp.ones(len(X), bool),
        ref_point=jnp.asarray([1.1, 2.0]), region=region, space=Box.create([0, 0], [1, 1]),
    )


def test_proposals_stay_in_region_and_bounds_and_state_is_carried():
    X, Y = _data()
    config = LaMOOConfig(svm_kernel="rbf")
    tree = build_tree_jit(jnp.asarray(X), jnp.asarray(Y), jnp.ones(len(X), bool), config, tuple(level_capacities(len(X), config)))
    leaf = int(np.flatnonzero(np.asarray(tree.is_leaf))[0])
    region = region_of(tree, jnp.int32(leaf))
    sampler = CMAESSampler(n_candidates=512, batch_size=5, recenter=False)
    space = Box.create([0, 0], [1, 1])
    state = sampler.init(jax.random.key(0), space, 2)
    proposal, state = jax.jit(sampler.propose, static_argnums=3)(jax.random.key(1), state, _context(X, Y, region), 5)
    points = np.asarray(proposal.X)
    assert np.all((points >= 0) & (points <= 1))
    depth = np.asarray(region.depth_satisfied(space.features(proposal.X)))
    assert np.all(depth >= int(proposal.level))
    assert bool(state.pending)
    np.testing.assert_allclose(np.asarray(state.population), points, rtol=1e-6)

    # Tell: with the proposed points appended, the next call updates the mean toward them.
    Y_new = np.stack([points[:, 0], 1 - np.sqrt(points[:, 0]) + (points[:, 1] - 0.3) ** 2], 1).astype(np.float32)
    X2, Y2 = np.vstack([X, points]), np.vstack([Y, Y_new])
    mean_before = np.asarray(state.es_state.mean)
    _, state2 = sampler.propose(jax.random.key(2), state, _context(X2, Y2, empty_region()), 5)
    assert not np.allclose(np.asarray(state2.es_state.mean), mean_before)
    assert int(state2.es_state.generation_counter) == int(state.es_state.generation_counter) + 1


def test_recenter_moves_the_mean_to_the_best_leaf_sample():
    X, Y = _data()
    sampler = CMAESSampler(n_candidates=64, batch_size=5, recenter=True, std_init=1e-3)
    space = Box.create([0, 0], [1, 1])
    state = sampler.init(jax.random.key(0), space, 2)
    leaf_mask = np.zeros(len(X), bool)
    leaf_mask[10:20] = True
    context = _context(X, Y, empty_region())._replace(leaf_mask=jnp.asarray(leaf_mask))
    proposal, _ = sampler.propose(jax.random.key(1), state, context, 5)
    fitness = np.asarray(multiobjective_fitness(jnp.asarray(Y), jnp.ones(len(Y), bool)))
    best = 10 + int(np.argmin(fitness[10:20]))
    # Tiny step size: every proposal sits next to the best sample of the leaf.
    assert np.max(np.abs(np.asarray(proposal.X) - X[best])) < 0.05
