"""The reproduction study's statistics: the samples ratio and the median's confidence band."""

import numpy as np
import pytest

from benchmarks.reproduce import median_confidence_band, sample_ratio


@pytest.mark.parametrize("n, ranks", [(16, (4, 13)), (10, (2, 9)), (7, (1, 7)), (32, (10, 23))])
def test_median_band_uses_the_tabulated_order_statistics(n, ranks):
    # Standard distribution-free 95% intervals of the median (ranks 1-based).
    values = np.random.default_rng(n).permutation(np.arange(1.0, n + 1))[:, None] * np.ones((1, 3))
    low, high = median_confidence_band(values)
    np.testing.assert_array_equal(low, ranks[0])
    np.testing.assert_array_equal(high, ranks[1])


def test_median_band_covers_the_median_at_least_as_often_as_promised():
    rng = np.random.default_rng(0)
    samples = rng.exponential(size=(16, 20_000))  # 20,000 experiments of 16 seeds; median ln 2
    low, high = median_confidence_band(samples)
    coverage = np.mean((low <= np.log(2)) & (np.log(2) <= high))
    assert 0.97 <= coverage <= 0.985  # exact coverage for n = 16: 97.9%


def test_median_band_rejects_too_few_seeds():
    with pytest.raises(ValueError, match="too few"):
        median_confidence_band(np.zeros((4, 2)))


def test_sample_ratio():
    budget = 10
    plain = np.tile(np.linspace(0.0, 1.0, budget), (5, 1))  # final HV 1.0
    lamoo = np.tile(np.minimum(np.linspace(0.0, 2.0, budget), 1.5), (5, 1))
    ratio, text = sample_ratio(lamoo, plain)
    first = np.flatnonzero(np.linspace(0.0, 2.0, budget) >= 1.0)[0] + 1
    assert ratio == first / budget and text == f"{100 * first / budget:.0f}%"
    assert sample_ratio(plain * 0.5, plain) == (None, "> 100% (not reached)")
    assert sample_ratio(lamoo, plain * 0.0)[0] is None
