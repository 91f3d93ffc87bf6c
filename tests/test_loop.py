"""The compiled loop end to end: determinism, batching, HV history, regions, finite spaces, errors."""

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest

from lamoo_jax import Box, Categorical, Problem
from lamoo_jax.api import optimize
from lamoo_jax.config import LaMOOConfig, level_capacities
from lamoo_jax.mcts import region_of
from lamoo_jax.samplers.base import ProposalContext
from lamoo_jax.samplers.random import RandomSampler
from lamoo_jax.tree import build_tree_jit


def _zdt1_like(data, x):
    g = 1.0 + 9.0 * jnp.mean(x[1:])
    f1 = x[0]
    return jnp.stack([f1, g * (1.0 - jnp.sqrt(f1 / g))])


TOY = Problem.create(space=Box.create([0.0] * 3, [1.0] * 3), evaluate_fn=_zdt1_like, ref_point=[1.1, 11.0], name="toy")
CONFIG = LaMOOConfig(svm_kernel="rbf", n_candidates=256)


@pytest.fixture(scope="module")
def batch():
    return optimize(TOY, budget=40, n_init=10, batch_size=5, seeds=[0, 1, 2], config=CONFIG)


def test_shapes_and_units(batch):
    assert batch.X.shape == (3, 40, 3)
    assert batch.Y.shape == (3, 40, 2)
    assert batch.hv_history.shape == (3, 40)
    assert batch.pareto_mask.shape == (3, 40)
    assert batch.diagnostics["tree_nodes"].shape == (3, 6)
    recomputed = np.asarray(jax.vmap(TOY.evaluate)(jnp.asarray(batch.X)))
    np.testing.assert_allclose(batch.Y, recomputed, rtol=1e-6)
    assert np.all((batch.X >= 0) & (batch.X <= 1))


def test_hv_history_is_monotone_and_matches_moocore(batch):
    ref = np.asarray(TOY.ref_point)
    assert np.all(np.diff(batch.hv_history, axis=1) >= -1e-6)
    for s in range(3):
        for i in (0, 9, 25, 39):
            expected = moocore.hypervolume(batch.Y[s, : i + 1].astype(np.float64), ref=ref)
            assert batch.hv_history[s, i] == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_pareto_mask_matches_brute_force(batch):
    for s in range(3):
        Y = batch.Y[s]
        dominated = np.array([np.any(np.all(Y <= y, 1) & np.any(Y < y, 1)) for y in Y])
        assert np.array_equal(batch.pareto_mask[s], ~dominated)


def test_same_seed_same_result_batched_or_alone(batch):
    alone = optimize(TOY, budget=40, n_init=10, batch_size=5, seeds=[2], config=CONFIG)
    np.testing.assert_array_equal(alone.X[0], batch.X[2])
    np.testing.assert_array_equal(alone.hv_history[0], batch.hv_history[2])
    assert not np.array_equal(batch.X[0], batch.X[1])


def test_same_seed_same_result_alone_and_batched_cmaes_five_dimensions():
    # Found by review: alone, seed 2's CMA-ES samples parted from its samples in a batch after about
    # 30 evaluations (last-bit differences from CMA-ES's small matmuls, which XLA compiles
    # differently for a batch axis of size 1); a single seed now runs as two copies of itself.
    problem = Problem.create(space=Box.create([0.0] * 5, [1.0] * 5), evaluate_fn=_zdt1_like, ref_point=[1.1, 11.0], name="toy5")
    batch = optimize(problem, budget=60, seeds=[0, 1, 2], sampler="cmaes", partition=False)
    alone = optimize(problem, budget=60, seeds=[2], sampler="cmaes", partition=False)
    np.testing.assert_array_equal(alone.X[0], batch.X[2])
    np.testing.assert_array_equal(alone.hv_history[0], batch.hv_history[2])


def test_tree_grows_and_regions_are_used(batch):
    diag = batch.diagnostics
    assert diag["tree_nodes"].max() >= 3
    assert np.all(diag["region_level"] <= diag["leaf_depth"])
    assert np.all(diag["leaf_size"] >= 1)


def test_random_sampler_stays_in_region_or_documented_relaxation():
    rng = np.random.default_rng(0)
    n, capacity = 60, 60
    X = rng.uniform(size=(capacity, 2)).astype(np.float32)
    Y = np.stack([X[:, 0], 1 - X[:, 0] ** 0.5 + X[:, 1]], 1).astype(np.float32)
    mask = np.ones(capacity, bool)
    config = LaMOOConfig(svm_kernel="rbf")
    space = Box.create([0, 0], [1, 1])
    tree = build_tree_jit(jnp.asarray(X), jnp.asarray(Y), jnp.asarray(mask), config, tuple(level_capacities(capacity, config)))
    deepest = int(np.flatnonzero(np.asarray(tree.is_leaf))[-1])
    region = region_of(tree, jnp.int32(deepest))
    assert int(region.length) >= 1
    context = ProposalContext(
        X=jnp.asarray(X), Y=jnp.asarray(Y), mask=jnp.asarray(mask), leaf_mask=jnp.asarray(mask),
        ref_point=jnp.asarray([1.1, 2.1]), region=region, space=space,
    )
    for n_candidates, q in ((2000, 5), (8, 5)):
        proposal, _ = RandomSampler(n_candidates=n_candidates).propose(jax.random.key(3), (), context, q)
        depth = np.asarray(region.depth_satisfied(space.features(proposal.X)))
        level = int(proposal.level)
        assert np.all(depth >= level)
        assert np.all(np.asarray(proposal.valid))
        assert len({tuple(row) for row in np.asarray(proposal.X)}) == q
        if n_candidates == 2000:
            assert level == int(region.length)


def test_finite_space_never_repeats_a_point():
    space = Categorical.create((3, 3, 3))

    def evaluate(data, x):
        x = x.astype(jnp.float32)
        return jnp.stack([x[0] + 0.1 * x[1], 2.0 - x[0] + 0.1 * x[2]])

    problem = Problem.create(space=space, evaluate_fn=evaluate, ref_point=[3.0, 3.0], name="tiny")
    result = optimize(problem, budget=27, n_init=7, batch_size=5, seeds=2, config=LaMOOConfig(min_split_size=5, svm_kernel="rbf", n_candidates=512))
    for s in range(2):
        rows = {tuple(r) for r in result.X[s]}
        assert len(rows) == 27  # the whole space, each point once


def test_bad_input_is_rejected_clearly():
    with pytest.raises(ValueError, match="budget .* at least n_init"):
        optimize(TOY, budget=5, n_init=10)
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        optimize(TOY, budget=True, n_init=1)
    with pytest.raises(ValueError, match=r"seeds must be in \[0, 2\*\*32\)"):
        optimize(TOY, budget=20, seeds=[0, 2**32])  # would repeat seed 0's 32-bit key
    with pytest.raises(ValueError, match="seeds must be a positive int count"):
        optimize(TOY, budget=20, seeds=2.0)
    with pytest.raises(ValueError, match=r"n_candidates \(3\) must be at least batch_size \(5\)"):
        optimize(TOY, budget=20, batch_size=5, config=CONFIG.replace(n_candidates=3))
    with pytest.raises(ValueError, match="RandomSampler.n_candidates must be a positive int; got True"):
        RandomSampler(n_candidates=True)
    with pytest.raises(ValueError, match="cmaes sampler needs batch_size >= 2"):
        optimize(TOY, budget=20, batch_size=1, sampler="cmaes")
    with pytest.raises(ValueError, match="svm_C must be a positive number; got 'abc'"):
        LaMOOConfig(svm_C="abc")
    with pytest.raises(ValueError, match="min_split_size must be an int >= 2; got 2.5"):
        LaMOOConfig(min_split_size=2.5)
    with pytest.raises(ValueError, match="unknown svm_solver"):
        LaMOOConfig(svm_solver="newton")
    with pytest.raises(ValueError, match="svm_coef0: kernel='poly' needs coef0 >= 0"):
        LaMOOConfig(svm_kernel="poly", svm_coef0=-1.0)
    with pytest.raises(ValueError, match="unknown sampler"):
        optimize(TOY, budget=20, sampler="nope")
    with pytest.raises(ValueError, match="unknown svm_kernel"):
        LaMOOConfig(svm_kernel="sigmoid")
    wrong_ref = Problem.create(space=TOY.space, evaluate_fn=_zdt1_like, ref_point=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="reference point has 3 entries"):
        optimize(wrong_ref, budget=20)

    def nan_after_half(data, x):
        y = _zdt1_like(data, x)
        return jnp.where(x[0] > 0.5, jnp.nan, y)

    nan_problem = Problem.create(space=TOY.space, evaluate_fn=nan_after_half, ref_point=[1.1, 11.0], name="nan")
    with pytest.raises(FloatingPointError, match="NaN"):
        optimize(nan_problem, budget=20, config=CONFIG)
    with pytest.raises(TypeError, match="config must be a LaMOOConfig"):
        optimize(TOY, budget=20, config={})  # an empty dict used to pass as the default config
    with pytest.raises(ValueError, match="partition must be True or False; got 'no'"):
        optimize(TOY, budget=20, partition="no")
    six = Problem.create(space=TOY.space, evaluate_fn=lambda data, x: jnp.concatenate([x, x]), ref_point=[2.0] * 6)
    with pytest.raises(ValueError, match="node_hv='exact' supports up to 4 objectives .* has 6; use node_hv='auto'"):
        optimize(six, budget=20, config=CONFIG.replace(node_hv="exact"))


def test_a_reference_point_no_sample_improves_on_warns_and_tuples_are_objectives():
    def tuple_objectives(data, x):  # error (min) and an accuracy in [0, 1] (max), as a tuple
        return x[0], (1.0 - x[0] + x[1]) / 2

    wrong_side = Problem.create(space=TOY.space, evaluate_fn=tuple_objectives, ref_point=[1.1, 1.1], directions=["min", "max"])
    with pytest.warns(UserWarning, match="no sample .* strictly better than its reference point .* every hypervolume is 0"):
        result = optimize(wrong_side, budget=15, n_init=10, config=CONFIG)
    assert np.all(result.hv_history == 0)
    np.testing.assert_allclose(result.Y[0, :, 1], (1.0 - result.X[0, :, 0] + result.X[0, :, 1]) / 2, rtol=1e-6)


def test_path_selection_monte_carlo_values_and_prediction_assignment_run_end_to_end():
    def three_objectives(data, x):
        return jnp.stack([x[0], x[1], 2.0 - x[0] - x[1] + jnp.sum((x[2:] - 0.5) ** 2)])

    problem = Problem.create(space=Box.create([0.0] * 4, [1.0] * 4), evaluate_fn=three_objectives, ref_point=[1.1, 1.1, 2.6], name="tri")
    config = LaMOOConfig(svm_kernel="rbf", selection="path", node_hv="mc", hv_mc_samples=2048, assign_by="prediction", cp=0.05, n_candidates=256)
    result = optimize(problem, budget=45, n_init=15, batch_size=5, seeds=2, config=config)
    assert result.diagnostics["tree_nodes"].max() >= 3
    # Monte Carlo history: monotone by construction (common random numbers) and close to exact.
    assert np.all(np.diff(result.hv_history, axis=1) >= 0)
    exact = moocore.hypervolume(result.Y[0].astype(np.float64), ref=np.asarray(problem.ref_point))
    assert result.hv_history[0, -1] == pytest.approx(exact, rel=0.05)


def test_growing_tree_buffers_give_the_same_run(batch):
    # Phases only change the size of the (masked) buffers the tree is built on, not the samples
    # it sees, so with the SMO solver the runs coincide exactly.
    single = optimize(TOY, budget=40, n_init=10, batch_size=5, seeds=[0, 1, 2], config=CONFIG.replace(tree_phases=1))
    assert CONFIG.tree_phases == 3
    np.testing.assert_array_equal(single.X, batch.X)
    np.testing.assert_array_equal(single.diagnostics["tree_nodes"], batch.diagnostics["tree_nodes"])


def test_budget_equal_to_n_init_is_the_initial_design_only():
    result = optimize(TOY, budget=10, n_init=10, batch_size=5, seeds=2, config=CONFIG)
    assert result.X.shape == (2, 10, 3) and result.diagnostics["tree_nodes"].shape == (2, 0)
    for s in range(2):
        expected = moocore.hypervolume(result.Y[s].astype(np.float64), ref=np.asarray(TOY.ref_point))
        assert result.hv_history[s, -1] == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_monte_carlo_history_equal_sets_equal_estimates_with_standard_errors():
    from benchmarks.problems.table import finite_table_problem

    # Four objectives: the history is Monte Carlo. Every seed evaluates the whole 40-row table
    # (in its own order), so all final sample sets are equal.
    rng = np.random.default_rng(4)
    values = rng.random((40, 4))
    problem = finite_table_problem(rng.random((40, 2)), values, ["min"] * 4)
    result = optimize(problem, budget=40, n_init=10, batch_size=10, seeds=4, partition=False,
                      config=LaMOOConfig(hv_mc_samples=4096))
    final, stderr = result.hv_history[:, -1], result.hv_history_stderr[:, -1]
    assert np.all(final == final[0]) and np.all(stderr == stderr[0]) and stderr[0] > 0
    exact = moocore.hypervolume(values.astype(np.float32).astype(np.float64), ref=problem.ref_point_min())
    assert problem.max_hv == pytest.approx(exact, rel=1e-12)
    assert abs(final[0] - exact) < 4 * stderr[0]
    # Within its noise a Monte Carlo estimate may exceed the maximum: no error, a floor of 4 SE.
    log_difference = result.log_hv_difference()[:, -1]
    assert np.all(log_difference <= np.log10(max(exact - final[0], 0) + 4 * stderr[0]) + 1e-9)


def test_float64_mode_runs_end_to_end():
    # jax_enable_x64 is process-wide: run it in a fresh interpreter.
    script = """
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np, moocore
from tests.test_loop import TOY, CONFIG
from lamoo_jax.api import optimize
for sampler in ("random", "cmaes"):
    r = optimize(TOY, budget=20, n_init=10, batch_size=5, seeds=2, config=CONFIG, sampler=sampler)
    hv = moocore.hypervolume(r.Y[1].astype(np.float64), ref=np.asarray(TOY.ref_point))
    assert abs(r.hv_history[1, -1] - hv) <= 1e-5 * hv, (sampler, r.hv_history[1, -1], hv)
print("ok")
"""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


@pytest.mark.slow
def test_hv_history_is_the_same_in_any_batch_branin_currin_cmaes():
    # Found by review: with XLA's reductions, the history of seed 2 differed in the last float32 bit
    # between a batch of 6 seeds and seed 2 alone (entries 23 and 28), though X and Y were equal.
    # The exact hypervolume kernels now sum in an order fixed by the shape alone.
    from benchmarks import get_problem

    problem = get_problem("branin_currin")
    batch = optimize(problem, budget=40, n_init=10, batch_size=5, seeds=6, sampler="cmaes")
    alone = optimize(problem, budget=40, n_init=10, batch_size=5, seeds=[2], sampler="cmaes")
    np.testing.assert_array_equal(alone.Y[0], batch.Y[2])
    np.testing.assert_array_equal(alone.hv_history[0], batch.hv_history[2])


def test_an_initial_design_may_cover_a_whole_finite_space():
    """K = 150 points, all of them the initial design: 4 draws a point rarely found every point."""
    from lamoo_jax import FiniteSet
    from lamoo_jax.loop import design_pool_size

    rng = np.random.default_rng(7)
    points = rng.permutation(150)[:, None].astype(np.float32)
    space = FiniteSet.create(points)
    problem = Problem.create(space=space, evaluate_fn=lambda data, x: jnp.stack([x[0], 150.0 - x[0]]), ref_point=[151.0, 151.0])
    assert design_pool_size(space, 75) == 300 and design_pool_size(space, 76) > 150 * np.log(150)
    result = optimize(problem, budget=150, n_init=150, seeds=[0, 1], config=CONFIG)
    for seed in range(2):
        assert sorted(result.X[seed, :, 0].tolist()) == list(range(150))
