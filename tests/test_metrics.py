"""Run metrics: the Monte Carlo history's standard error and the log hypervolume difference."""

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest

from lamoo_jax.metrics import hv_history_mc, log_hv_difference


def test_mc_history_standard_error_matches_the_spread_over_keys():
    rng = np.random.default_rng(0)
    Y = rng.random((30, 4)).astype(np.float32)
    ref = np.full(4, 1.1, np.float32)
    keys = jax.random.split(jax.random.key(1), 400)
    history, stderr = jax.jit(jax.vmap(hv_history_mc, in_axes=(0, None, None, None)), static_argnums=3)(keys, Y, ref, 512)
    history, stderr = np.asarray(history, np.float64), np.asarray(stderr, np.float64)
    exact = np.array([moocore.hypervolume(Y[: i + 1].astype(np.float64), ref=ref.astype(np.float64)) for i in (4, 29)])
    for column, value in zip((4, 29), exact):
        spread, reported = history[:, column].std(), stderr[:, column].mean()
        assert 0.85 < spread / reported < 1.15
        # Unbiased: the mean of 400 estimates within 4 of its own standard errors.
        assert abs(history[:, column].mean() - value) < 4 * reported / np.sqrt(len(keys))


def test_mc_history_is_unbiased_for_objectives_far_from_zero():
    """Points drawn at 1e6 in float32 fell on a grid of 0.0625 against a box of ~1: biased."""
    rng = np.random.default_rng(2)
    Y = (1e6 + rng.random((20, 4))).astype(np.float32)
    ref = np.full(4, 1e6 + 1.1, np.float32)
    history, stderr = hv_history_mc(jax.random.key(3), Y, ref, 100_000)
    exact = moocore.hypervolume(Y.astype(np.float64), ref=ref.astype(np.float64))
    assert abs(float(history[-1]) - exact) < 4 * float(stderr[-1])


def test_mc_history_standard_error_is_never_zero_for_a_non_empty_box():
    # One sample dominating the whole box, then a point dominated by it: the proportion is exactly 1.
    Y = np.array([[0.0, 0.0], [0.5, 0.5]], np.float32)
    history, stderr = hv_history_mc(jax.random.key(0), Y, np.full(2, 1.0, np.float32), 256)
    np.testing.assert_allclose(np.asarray(history), [1.0, 1.0])
    assert np.all(np.asarray(stderr) > 0)
    empty, empty_stderr = hv_history_mc(jax.random.key(0), Y, np.full(2, -1.0, np.float32), 256)  # nothing inside
    assert not np.asarray(empty).any() and not np.asarray(empty_stderr).any()


def test_log_difference_of_exact_values_raises_above_the_maximum():
    np.testing.assert_allclose(log_hv_difference(np.array([0.0, 9.0, 9.99]), 10.0), np.log10([10.0, 1.0, 0.01]))
    # float32 rounding of an exact value is tolerated and floored, a real excess is not.
    assert log_hv_difference(np.array([10.0 + 1e-6]), 10.0)[0] == pytest.approx(np.log10(1e-5))
    with pytest.raises(ValueError, match="exceeds the problem's max_hv"):
        log_hv_difference(np.array([9.0, 10.01]), 10.0)


def test_log_difference_allows_monte_carlo_noise_and_floors_at_it():
    hv, stderr = np.array([9.0, 10.05, 9.99]), np.array([0.01, 0.02, 0.01])
    out = log_hv_difference(hv, 10.0, stderr)
    np.testing.assert_allclose(out, np.log10([1.0, 4 * 0.02, 4 * 0.01]))
    with pytest.raises(ValueError, match="beyond the tolerance"):
        log_hv_difference(np.array([10.09]), 10.0, np.array([0.02]))
    # A Monte Carlo maximum's own standard error adds in quadrature.
    assert np.isfinite(log_hv_difference(np.array([10.09]), 10.0, np.array([0.02]), max_hv_stderr=0.02))[0]
