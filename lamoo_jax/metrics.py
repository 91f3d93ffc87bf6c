"""Run-level metrics: hypervolume after each evaluation, and the log hypervolume difference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from kernels.dominance import weakly_dominated_by
from kernels.hypervolume import hypervolume, hypervolume_subsets
from kernels import _random


def hv_history_exact(Y: jax.Array, ref: jax.Array) -> jax.Array:
    """float32[N]: exact hypervolume of the first i+1 samples, for every i (one run).

    Args:
        Y: float32[N, M] samples in evaluation order, minimised.
        ref: float32[M] reference point, minimised convention.
    """
    index = jnp.arange(Y.shape[0])
    if Y.shape[1] <= 2:
        # O(N log N) per prefix; batched 32 prefixes at a time to amortise the sweeps' loop overhead.
        history = jax.lax.map(lambda i: hypervolume(Y, ref, index <= i), index, batch_size=32)
    else:
        # All N prefixes as subsets of one point set: one shared O(N^2 * N) sweep instead of N.
        history = hypervolume_subsets(Y, ref, index[None, :] <= index[:, None])
    # The exact values never decrease; float32 summation in a different order can show a one-ulp
    # dip where a new sample adds nothing, which the running maximum removes.
    return jax.lax.cummax(history, axis=0)


# An objective whose box corner lies this many box sides from 0 is sampled as offsets from the
# corner: float32 points drawn at the corner's magnitude fall on a grid coarse against the box
# (objectives 1e6 + U(0, 1): spacing 0.0625) and bias the estimate.
_FAR_FROM_ZERO = 2.0**10


def uniform_points_in_dominated_box(
    key: jax.Array, Y: jax.Array, inside: jax.Array, ref: jax.Array, n_samples: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Uniform points in the box [ideal of the `inside` rows, ref], the box's volume, and the origin
    of the points' coordinates: compare the points with `Y - origin`.

    The box contains everything those rows dominate inside the reference point, so the fraction of
    points dominated, times the volume, is an unbiased hypervolume estimate. `origin` is the box's
    corner in the objectives where that lies far from 0 against the box's side (`_FAR_FROM_ZERO`),
    else 0: points and rows are then used as they are, bit for bit.

    Returns:
        points: float32[n_samples, M]; volume: float32 scalar (0 when no row is inside);
        origin: float32[M].
    """
    ideal = jnp.min(jnp.where(inside[:, None], Y, ref), axis=0)
    box = jnp.maximum(ref - ideal, 0.0)
    origin = jnp.where(jnp.abs(ideal) > _FAR_FROM_ZERO * box, ideal, 0.0)
    points = (ideal - origin) + _random.uniform(key, (n_samples, Y.shape[1])) * box
    return points, jnp.prod(box), origin


def hv_history_mc(key: jax.Array, Y: jax.Array, ref: jax.Array, n_samples: int) -> tuple[jax.Array, jax.Array]:
    """(float32[N], float32[N]): Monte Carlo hypervolume of the first i+1 samples, for every i (one
    run), and the standard error of each entry.

    One set of uniform points in the box [ideal of the run, ref] serves every prefix, so the
    history is non-decreasing by construction (a point dominated by a prefix stays dominated by
    every longer prefix) and each entry is an unbiased estimate. For each Monte Carlo point we
    find the first sample that dominates it; the prefix estimate counts points whose first
    dominating sample is within the prefix.
    """
    n = Y.shape[0]
    inside = jnp.all(Y < ref, axis=1)
    points, volume, origin = uniform_points_in_dominated_box(key, Y, inside, ref, n_samples)
    Y = Y - origin

    def first_dominator(point):
        dominates = weakly_dominated_by(point[None], Y, inside)[0]
        return jnp.where(jnp.any(dominates), jnp.argmax(dominates), n)

    first = jax.lax.map(first_dominator, points, batch_size=256)
    counts = jnp.zeros(n + 1, jnp.int32).at[first].add(1)
    dominated = jnp.cumsum(counts[:n])
    fraction = dominated / n_samples
    # Each entry is volume times a binomial proportion of n_samples points. Its plain standard error
    # is 0 at a proportion of exactly 0 or 1, which would read as "exact" (and let a full box exceed
    # a true maximum); the variance takes (count + 1/2) / (n + 1) instead, above 0 always.
    shrunk = (dominated + 0.5) / (n_samples + 1)
    stderr = volume * jnp.sqrt(shrunk * (1 - shrunk) / n_samples)
    return volume * fraction, stderr


def log_hv_difference(hv: np.ndarray, max_hv: float, hv_stderr: np.ndarray | None = None, max_hv_stderr: float | None = None) -> np.ndarray:
    """log10(max_hv - hv), elementwise.

    With Monte Carlo estimates (`hv_stderr` for the history, `max_hv_stderr` for the maximum) a gap
    below their noise is not resolved: it is reported as 4 combined standard errors, and an observed
    value above the maximum is accepted within that noise. Beyond it (or beyond float32 rounding
    for exact values), this raises: the declared maximum would be wrong, and a silent NaN would
    hide it.
    """
    hv = np.asarray(hv, dtype=np.float64)
    gap = max_hv - hv
    noise = np.sqrt(np.square(0.0 if hv_stderr is None else np.asarray(hv_stderr, np.float64)) + (max_hv_stderr or 0.0) ** 2)
    tolerance = np.maximum(1e-6 * max(abs(max_hv), 1.0), 4 * noise)
    if np.any(gap < -tolerance):
        worst = np.argmax(-gap - tolerance)
        raise ValueError(
            f"observed hypervolume {hv.ravel()[worst]:.10g} exceeds the problem's max_hv {max_hv:.10g} "
            f"beyond the tolerance {np.broadcast_to(tolerance, hv.shape).ravel()[worst]:.3g}: "
            "the declared maximum is too low"
        )
    return np.log10(np.maximum(gap, tolerance))
