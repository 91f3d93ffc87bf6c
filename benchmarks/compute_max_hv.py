"""Reproduce the maximum hypervolumes stored in `benchmarks/problems/synthetic.py`.

    python -m benchmarks.compute_max_hv            # full run (about 1-2 minutes on one core)
    python -m benchmarks.compute_max_hv --quick    # coarser, for a smoke test
    python -m benchmarks.compute_max_hv --out results/max_hv.json

All objectives are minimised; reference points are BoTorch's.

Branin-Currin and VehicleSafety (epsilon-constraint integral)
--------------------------------------------------------------
For minimised objectives and reference point r, the dominated hypervolume of the whole feasible set is

    M = 2:  HV = integral over b in [min f0, r0] of (r1 - c(b))_+ db,          c(b) = min f1 s.t. f0 <= b
    M = 3:  HV = integral over (b0, b1) of (r2 - c(b0, b1))_+ db1 db0,          c = min f2 s.t. f0 <= b0, f1 <= b1

(c = +inf where infeasible). This is exact: a point y is dominated by the image iff some x has
f(x) <= y, i.e. iff y_last >= c(y_0, ...). Each value of c is a constrained subproblem, solved with SLSQP
(analytic gradients) from several starts: the best point of a dense boundary-aware sample satisfying the
constraints (the Pareto sets lie largely on the box's faces and edges: Branin-Currin's on the edge
x1 = 1, VehicleSafety's on faces with at most two free coordinates, so the sample is a fine grid plus fine
edge lines, resp. a grid on every face of the box), and the neighbouring solution (continuation).
Slightly infeasible SLSQP results are pulled back onto the constraints, so every value is attained.

- Branin-Currin: trapezoidal rule in t with b = b_min + (b_end - b_min) t^2 (c has a square-root
  singularity at Branin's minimum b_min, smooth in t), b_end = branin(0, 1) where Currin reaches its
  minimum (beyond it c is constant: exact tail). Doubling the grid shows clean second-order convergence.
- VehicleSafety: c has kinks (the active face changes) and jumps (a new component of {f1 <= b1} becomes
  the best), so the inner integral over b1 (from the feasibility limit min f1 s.t. f0 <= b0 up to the box
  maximum of f1, constant tail beyond) is adaptive (bisect an interval while refining it changes its
  integral by more than a tolerance; jumps get bracketed to 1e-9). The inner integral is continuous in b0
  ({f0 <= b0} is convex and grows continuously), so the outer integral over b0 in [f0(1..1), f0(3..3)]
  (constant tail beyond, weighing about 80% of the total) is a trapezoidal rule on nested grids.

The printed estimate is the finest grid's; the change from the previous grid shows the error.

Two extra numbers per problem:
- `lower`: the exact (moocore) hypervolume of every point actually found (samples and SLSQP solutions).
  The true maximum is >= this; the stored constant must be above it.
- `upper_bracket` (Branin-Currin only): since c is non-increasing, sum over grid intervals of
  (r1 - c(right end)) * width is an upper bound of the integral, provided the subproblems were solved
  to global optimality (which the multi-start only makes very likely).

ZDT3
----
On the front (g = 1) f1 = h(f0) = 1 - sqrt(f0) - f0 sin(10 pi f0) for f0 in [0, 1], and the attainment
boundary is the running minimum m(f0) = min_{s <= f0} h(s). m follows h on some intervals and is flat
(at a local minimum of h) on others. The breakpoints are found with Brent's method, h is integrated in
closed form on the intervals where m = h, so I = integral_0^1 m and m(1) = min h are exact to ~1e-14.
Then HV = r0 r1 - I - (r0 - 1) m(1) for r0 >= 1, r1 >= 1.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import moocore
import numpy as np
from scipy.optimize import brentq, minimize

from lamoo_jax._atomic import atomic_write_json

BC_REF = np.array([18.0, 6.0])
VS_REF = np.array([1864.72022, 11.81993945, 0.2903999384])
BC_PUBLISHED = 59.36011874867746
# SLSQP meets constraints only to ~1e-10; accepting such a point makes c(b) lower by ~slope * 1e-9, i.e. the
# integral higher by far less than the quadrature error (the safe direction for an upper estimate).
_FEAS_TOL = 1e-9
VS_PUBLISHED = 246.81607081187002


# ----------------------------------------------------------------------------------------------
# ZDT3


def _zdt3_h(t: float) -> float:
    return 1.0 - math.sqrt(t) - t * math.sin(10.0 * math.pi * t)


def _zdt3_dh(t: float) -> float:
    w = 10.0 * math.pi
    return -0.5 / math.sqrt(t) - math.sin(w * t) - w * t * math.cos(w * t)


def _zdt3_h_antiderivative(t: float) -> float:
    w = 10.0 * math.pi
    # integral of t sin(w t) = sin(w t) / w^2 - t cos(w t) / w
    return t - (2.0 / 3.0) * t**1.5 - (math.sin(w * t) / w**2 - t * math.cos(w * t) / w)


def zdt3_running_min_integral() -> tuple[float, float, list[tuple[float, float]]]:
    """(integral over [0, 1] of the running minimum of h, min h, the intervals where m = h)."""
    grid = np.linspace(1e-9, 1.0, 200_001)
    dh = np.array([_zdt3_dh(t) for t in grid])
    # local minima of h: dh changes sign from - to +
    minima = [brentq(_zdt3_dh, grid[i], grid[i + 1], xtol=1e-15) for i in np.flatnonzero((dh[:-1] < 0) & (dh[1:] >= 0))]
    if _zdt3_dh(1.0) < 0:  # h still decreasing at the end: f0 = 1 closes the last piece
        minima.append(1.0)
    follow: list[tuple[float, float]] = []  # intervals where m = h, each ending at a local minimum
    level = math.inf  # current running minimum when flat
    previous = 0.0
    for t_min in minima:
        if not follow:
            start = 0.0
        elif _zdt3_h(t_min) >= level:
            previous = t_min
            continue  # this dip stays above the running minimum: m stays flat
        else:
            # h rises then falls between consecutive minima: the crossing of the level going down is
            # the last sign change on (previous minimum, t_min)
            seg = grid[(grid > previous) & (grid < t_min)]
            vals = np.array([_zdt3_h(t) for t in seg]) - level
            i = np.flatnonzero((vals[:-1] > 0) & (vals[1:] <= 0))[-1]
            start = brentq(lambda t: _zdt3_h(t) - level, seg[i], seg[i + 1], xtol=1e-15)
        follow.append((start, t_min))
        level = _zdt3_h(t_min)
        previous = t_min
    integral = 0.0
    cursor = 0.0
    for a, b in follow:
        integral += (a - cursor) * _zdt3_h(cursor)  # flat part at the level of the previous minimum
        integral += _zdt3_h_antiderivative(b) - _zdt3_h_antiderivative(a)
        cursor = b
    integral += (1.0 - cursor) * _zdt3_h(cursor)
    return integral, level, follow


# ----------------------------------------------------------------------------------------------
# Epsilon-constraint subproblem: min f(x) s.t. g_k(x) <= level_k, x in a box


def solve_epsilon_constraint(objective, constraints, levels, starts, bounds, values) -> tuple[float, np.ndarray | None]:
    """Best feasible objective value (and its x) found by SLSQP from every start, or (inf, None).

    `objective` and each of `constraints` map x -> (value, gradient); `values(x)` gives the exact values
    [f, g_0, g_1, ...] used to accept a point. SLSQP can stop slightly infeasible (~1e-7, "positive
    directional derivative in line search"); such a result is pulled back onto the constraints by a few
    Gauss-Newton steps, so every accepted point is feasible to `_FEAS_TOL` (the starts are candidates too).
    """
    levels = np.asarray(levels, float)
    best_val, best_x = math.inf, None
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    tol = _FEAS_TOL * np.maximum(1.0, np.abs(levels))

    def accept(x):
        nonlocal best_val, best_x
        v = values(x)
        if np.all(v[1:] <= levels + tol) and v[0] < best_val:
            best_val, best_x = float(v[0]), x

    cons = [
        {"type": "ineq", "fun": (lambda x, g=g, v=v: v - g(x)[0]), "jac": (lambda x, g=g: -g(x)[1])}
        for g, v in zip(constraints, levels)
    ]
    for x0 in starts:
        x0 = np.asarray(x0, float)
        accept(x0)
        res = minimize(objective, x0, jac=True, method="SLSQP", bounds=bounds, constraints=cons, options={"ftol": 1e-13, "maxiter": 200})
        x = np.clip(res.x, lo, hi)
        # Gauss-Newton steps onto the violated constraints (minimum-norm correction), aiming slightly inside.
        for _ in range(5):
            g_val = np.array([g(x)[0] for g in constraints])
            violated = g_val > levels + tol
            if not violated.any():
                break
            J = np.array([g(x)[1] for g, v in zip(constraints, violated) if v])
            r = (g_val - levels + 0.5 * tol)[violated]
            x = np.clip(x - J.T @ np.linalg.solve(J @ J.T, r), lo, hi)
        accept(x)
    return best_val, best_x


def adaptive_monotone_integral(a, b, c_a, c_b, x_a, x_b, solve_at, ref, tol, min_width) -> tuple[float, list]:
    """Integral over [a, b] of (ref - c)_+ for a non-increasing, piecewise smooth c with kinks and jumps.

    Adaptive trapezoidal rule: an interval is halved (one subproblem solve at its midpoint) while the
    one-level refinement changes its integral by more than `tol` (absolute, per interval) and it is wider
    than `min_width`. Smooth pieces end up with O(h^2) error per unit length; a jump (a new component of
    the feasible set becoming the best) is bracketed down to `min_width`, and kinks are refined likewise.
    `solve_at(v, x_left, x_right) -> (c(v), x)`. Returns (integral, every point solved).
    """
    found = []
    total = 0.0
    stack = [(a, b, c_a, c_b, x_a, x_b)]
    while stack:
        lo, hi, c_lo, c_hi, x_lo, x_hi = stack.pop()
        f_lo, f_hi = max(ref - c_lo, 0.0), max(ref - c_hi, 0.0)
        coarse = 0.5 * (hi - lo) * (f_lo + f_hi)
        if f_lo == 0.0 and f_hi == 0.0:
            continue  # c >= ref at both ends, hence inside (c is non-increasing)
        if c_lo == c_hi:
            total += coarse  # c is constant here (non-increasing with equal ends)
            continue
        mid = 0.5 * (lo + hi)
        c_mid, x_mid = solve_at(mid, x_lo, x_hi)
        found.append(x_mid)
        f_mid = max(ref - c_mid, 0.0)
        fine = 0.25 * (hi - lo) * (f_lo + 2.0 * f_mid + f_hi)
        if abs(fine - coarse) <= tol or hi - lo <= min_width:
            total += fine
        else:
            stack.append((lo, mid, c_lo, c_mid, x_lo, x_mid))
            stack.append((mid, hi, c_mid, c_hi, x_mid, x_hi))
    return total, found


# ----------------------------------------------------------------------------------------------
# Branin-Currin (float64 numpy with gradients; independent of the JAX version in synthetic.py)

_B = 5.1 / (4.0 * math.pi**2)
_C = 5.0 / math.pi
_T = 1.0 / (8.0 * math.pi)


def bc_values(U: np.ndarray) -> np.ndarray:
    """[n, 2] in [0, 1]^2 -> [n, 2] (branin, currin)."""
    u0 = 15.0 * U[..., 0] - 5.0
    u1 = 15.0 * U[..., 1]
    branin = (u1 - _B * u0**2 + _C * u0 - 6.0) ** 2 + 10.0 * (1.0 - _T) * np.cos(u0) + 10.0
    x0, x1 = U[..., 0], U[..., 1]
    with np.errstate(divide="ignore"):
        factor = 1.0 - np.exp(-1.0 / (2.0 * x1))
    currin = factor * (2300 * x0**3 + 1900 * x0**2 + 2092 * x0 + 60) / (100 * x0**3 + 500 * x0**2 + 4 * x0 + 20)
    return np.stack([branin, currin], axis=-1)


def _branin_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
    u0 = 15.0 * x[0] - 5.0
    u1 = 15.0 * x[1]
    inner = u1 - _B * u0**2 + _C * u0 - 6.0
    val = inner**2 + 10.0 * (1.0 - _T) * math.cos(u0) + 10.0
    d_u0 = 2.0 * inner * (-2.0 * _B * u0 + _C) - 10.0 * (1.0 - _T) * math.sin(u0)
    d_u1 = 2.0 * inner
    return val, np.array([15.0 * d_u0, 15.0 * d_u1])


def _currin_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
    x0 = x[0]
    x1 = max(x[1], 1e-12)
    e = math.exp(-1.0 / (2.0 * x1))
    factor = 1.0 - e
    d_factor = -e / (2.0 * x1**2)
    num = 2300 * x0**3 + 1900 * x0**2 + 2092 * x0 + 60
    den = 100 * x0**3 + 500 * x0**2 + 4 * x0 + 20
    d_num = 6900 * x0**2 + 3800 * x0 + 2092
    d_den = 300 * x0**2 + 1000 * x0 + 4
    ratio = num / den
    return factor * ratio, np.array([factor * (d_num * den - num * d_den) / den**2, d_factor * ratio])


def _solve_bc(level: float, starts: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """min currin s.t. branin <= level over [0, 1]^2."""
    return solve_epsilon_constraint(
        _currin_and_grad, [_branin_and_grad], [level], starts, [(0.0, 1.0), (0.0, 1.0)], lambda x: bc_values(x)[::-1]
    )


def _bc_dense_sample(n_grid: int) -> np.ndarray:
    g = np.linspace(0.0, 1.0, n_grid)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    fine = np.linspace(0.0, 1.0, 50 * n_grid)
    edges = [np.stack([fine, np.full_like(fine, v)], -1) for v in (0.0, 1.0)]
    edges += [np.stack([np.full_like(fine, v), fine], -1) for v in (0.0, 1.0)]
    return np.concatenate([grid] + edges)


def branin_currin_max_hv(levels: tuple[int, ...], n_grid: int) -> dict:
    U = _bc_dense_sample(n_grid)
    F = bc_values(U)
    keep = moocore.is_nondominated(F)
    front_x, front_f = U[keep], F[keep]
    order = np.argsort(front_f[:, 0])
    front_x, front_f = front_x[order], front_f[order]
    sample_hv = float(moocore.hypervolume(front_f, ref=BC_REF))

    # Branin's three global minimisers, polished; c(b_min) is the lowest Currin among them.
    minimisers = []
    for guess in ([-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]):
        x0 = np.array([(guess[0] + 5.0) / 15.0, guess[1] / 15.0])
        res = minimize(_branin_and_grad, x0, jac=True, method="BFGS", options={"gtol": 1e-12})
        minimisers.append(res.x)
    b_min = min(_branin_and_grad(x)[0] for x in minimisers)
    c_at_min = min(_currin_and_grad(x)[0] for x in minimisers)

    # Currin's global minimiser is the corner (0, 1) (Currin falls with x1, and its x0 factor is smallest
    # at x0 = 0); beyond b_end = branin(0, 1) the constraint is inactive and c is constant. Integrating that
    # tail exactly removes the kink of c at b_end from the quadrature.
    corner = np.array([0.0, 1.0])
    b_end, c_end = bc_values(corner)
    assert np.all(front_f[:, 1] >= c_end - 1e-12), "Currin's minimum is not at the corner (0, 1)"
    tail = (BC_REF[0] - b_end) * max(BC_REF[1] - c_end, 0.0)

    all_points = [front_f]
    rows = []
    for n in levels:
        t = np.linspace(0.0, 1.0, n + 1)
        b = b_min + (b_end - b_min) * t**2
        c = np.empty_like(b)
        c[0] = c_at_min
        c[-1] = c_end
        prev = minimisers[int(np.argmin([_currin_and_grad(x)[0] for x in minimisers]))]
        found = []
        for i in range(1, len(b) - 1):
            # best sampled point with branin <= b: the front is sorted by branin with decreasing currin
            j = np.searchsorted(front_f[:, 0], b[i], side="right") - 1
            starts = [prev] + ([front_x[j]] if j >= 0 else [])
            c[i], prev = _solve_bc(b[i], starts)
            found.append(prev)
        found_f = bc_values(np.asarray(found))
        all_points.append(found_f)
        integrand = np.clip(BC_REF[1] - c, 0.0, None) * 2.0 * (b_end - b_min) * t
        integral = float(np.sum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(t))) + tail
        upper = float(np.sum(np.clip(BC_REF[1] - c[1:], 0.0, None) * np.diff(b))) + tail
        rows.append({"n": n, "integral": integral, "upper_bracket": upper})
    pts = np.concatenate(all_points)
    lower = float(moocore.hypervolume(pts[moocore.is_nondominated(pts)], ref=BC_REF))
    return {"sample_hv": sample_hv, "lower": lower, "rows": rows, "b_min": b_min}


# ----------------------------------------------------------------------------------------------
# VehicleSafety: f0 linear, f1 and f2 quadratic; written as c + g.x + x^T Q x (independently typed)

_VS_CONST = np.array([1640.2823, 6.5856, -0.0551])
_VS_LIN = np.array(
    [
        [2.3573285, 2.3220035, 4.5688768, 7.7213633, 4.4559504],
        [1.15, -1.0427, 0.9738, 0.8364, 0.0],
        [0.0181, 0.1024, 0.0421, 0.0, 0.0],
    ]
)


def _vs_quadratic_forms() -> np.ndarray:
    Q = np.zeros((3, 5, 5))
    # acceleration: -0.3695 x1x4 + 0.0861 x1x5 + 0.3628 x2x4 - 0.1106 x1^2 - 0.3437 x3^2 + 0.1764 x4^2
    for (i, j), v in {(0, 3): -0.3695, (0, 4): 0.0861, (1, 3): 0.3628}.items():
        Q[1, i, j] = Q[1, j, i] = v / 2.0
    Q[1, 0, 0], Q[1, 2, 2], Q[1, 3, 3] = -0.1106, -0.3437, 0.1764
    # intrusion: -0.0073 x1x2 + 0.024 x2x3 - 0.0118 x2x4 - 0.0204 x3x4 - 0.008 x3x5 - 0.0241 x2^2 + 0.0109 x4^2
    for (i, j), v in {(0, 1): -0.0073, (1, 2): 0.024, (1, 3): -0.0118, (2, 3): -0.0204, (2, 4): -0.008}.items():
        Q[2, i, j] = Q[2, j, i] = v / 2.0
    Q[2, 1, 1], Q[2, 3, 3] = -0.0241, 0.0109
    return Q


_VS_Q = _vs_quadratic_forms()


def vs_values(X: np.ndarray) -> np.ndarray:
    """[n, 5] in [1, 3]^5 -> [n, 3]."""
    return _VS_CONST + X @ _VS_LIN.T + np.einsum("ni,kij,nj->nk", X, _VS_Q, X)


def _vs_obj(k: int):
    def f(x):
        return float(_VS_CONST[k] + _VS_LIN[k] @ x + x @ _VS_Q[k] @ x), _VS_LIN[k] + 2.0 * _VS_Q[k] @ x

    return f


_VS_F = [_vs_obj(k) for k in range(3)]
_VS_BOUNDS = [(1.0, 3.0)] * 5


def _solve_vs(objective: int, limits: dict[int, float], starts: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """min f_objective s.t. f_k <= limits[k] over [1, 3]^5."""
    keys = list(limits)
    order = [objective] + keys
    return solve_epsilon_constraint(
        _VS_F[objective], [_VS_F[k] for k in keys], [limits[k] for k in keys], starts, _VS_BOUNDS, lambda x: vs_values(x[None])[0, order]
    )


def _vs_face_sample(grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, F) of the non-dominated points of a sample of every face of [1, 3]^5 (3^5 faces: each
    coordinate free, at 1 or at 3). The Pareto set lies mostly on faces with at most two free coordinates:
    those get a regular grid (`grid` points a side; edges `8 grid` points); faces with more free
    coordinates get `grid^2 / 4` uniform random points.
    """
    rng = np.random.default_rng(0)
    keep_x, keep_f = [], []
    for code in itertools.product((0.0, 1.0, 3.0), repeat=5):
        free = [j for j, c in enumerate(code) if c == 0.0]
        if len(free) == 1:
            U = np.linspace(1.0, 3.0, 8 * grid)[:, None]
        elif len(free) == 2:
            g = np.linspace(1.0, 3.0, grid)
            U = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
        else:
            U = rng.uniform(1.0, 3.0, (grid**2 // 4 if free else 1, len(free)))
        X = np.tile(np.asarray(code), (len(U), 1))
        X[:, free] = U
        F = vs_values(X)
        nd = moocore.is_nondominated(F)
        keep_x.append(X[nd])
        keep_f.append(F[nd])
    X, F = np.concatenate(keep_x), np.concatenate(keep_f)
    nd = moocore.is_nondominated(F)
    return X[nd], F[nd]


class _StartPool:
    """Best pool point for min f2 s.t. f0 <= b0, f1 <= b1 (b0 fixed per instance): prefix minima over f1."""

    def __init__(self, X: np.ndarray, F: np.ndarray, b0: float):
        ok = F[:, 0] <= b0
        X, F = X[ok], F[ok]
        order = np.argsort(F[:, 1])
        self.X, self.f1 = X[order], F[order, 1]
        f2 = F[order, 2]
        self.argmin = np.array([], int) if len(f2) == 0 else _prefix_argmin(f2)
        self.best_f1 = X[order[0]] if len(order) else None
        self.best_f2 = X[order][np.argmin(f2)] if len(order) else None

    def __call__(self, b1: float) -> list[np.ndarray]:
        i = np.searchsorted(self.f1, b1, side="right") - 1
        return [] if i < 0 else [self.X[self.argmin[i]]]


def _prefix_argmin(v: np.ndarray) -> np.ndarray:
    running = np.minimum.accumulate(v)
    idx = np.arange(len(v))
    # index of the first occurrence of each running minimum
    is_new = np.concatenate([[True], running[1:] < running[:-1]])
    return np.maximum.accumulate(np.where(is_new, idx, 0))


def vehicle_safety_max_hv(sizes: tuple[int, ...], face_grid: int, inner_tol: float) -> dict:
    sample_x, sample_f = _vs_face_sample(face_grid)
    sample_hv = float(moocore.hypervolume(sample_f, ref=VS_REF))
    # f0 (mass) increases in every coordinate: its range is [f0(1, ..., 1), f0(3, ..., 3)], and above
    # f0_max the mass constraint is inactive. Likewise above the box maximum of f1 the f1 constraint is
    # inactive. Integrating those constant tails exactly keeps the quadrature on the part that varies.
    f0_min = float(vs_values(np.ones((1, 5)))[0, 0])
    f0_max = float(vs_values(np.full((1, 5), 3.0))[0, 0])
    neg_f1 = lambda x: tuple(-v for v in _VS_F[1](x))  # noqa: E731
    corners = np.array(list(itertools.product((1.0, 3.0), repeat=5)))
    f1_max = -min(minimize(neg_f1, x0, jac=True, method="L-BFGS-B", bounds=_VS_BOUNDS).fun for x0 in corners)
    f1_hi = min(f1_max, VS_REF[1])

    # The grids are nested (every size divides the finest), so each b0 line is solved once.
    n_fine = max(sizes)
    if any(n_fine % n for n in sizes):
        raise ValueError(f"grid sizes {sizes} must all divide the finest one")
    b0 = np.linspace(f0_min, f0_max, n_fine + 1)
    areas = np.zeros(n_fine + 1)
    prev_f1 = prev_free = np.ones(5)
    found = []
    f = vs_values(np.ones((1, 5)))[0]
    areas[0] = max(VS_REF[1] - f[1], 0.0) * max(VS_REF[2] - f[2], 0.0)  # only x = (1, ..., 1) is feasible
    for i in range(1, n_fine + 1):
        level0 = b0[i]
        pool = _StartPool(sample_x, sample_f, level0)
        f1_low, prev_f1 = _solve_vs(1, {0: level0}, [prev_f1, pool.best_f1])
        c_free, prev_free = _solve_vs(2, {0: level0}, [prev_free, pool.best_f2])
        found += [prev_f1, prev_free]
        c_low = vs_values(prev_f1[None])[0, 2]

        def solve_at(v, x_left, x_right, level0=level0, pool=pool):
            return _solve_vs(2, {0: level0, 1: v}, [x_left, x_right] + pool(v))

        # the last line also gives the tail b0 >= f0_max, which carries most of the volume: finer
        tol = inner_tol * (0.001 if i == n_fine else 1.0)
        areas[i], extra = adaptive_monotone_integral(f1_low, f1_hi, c_low, c_free, prev_f1, prev_free, solve_at, VS_REF[2], tol, 1e-9)
        areas[i] += (VS_REF[1] - f1_hi) * max(VS_REF[2] - c_free, 0.0)
        found += extra
    rows = []
    for n in sizes:
        a, b = areas[:: n_fine // n], b0[:: n_fine // n]
        integral = float(np.sum(0.5 * (a[1:] + a[:-1]) * np.diff(b))) + (VS_REF[0] - f0_max) * areas[-1]
        rows.append({"n": n, "integral": integral})
    all_points = [sample_f, vs_values(np.asarray(found))]
    pts = np.concatenate(all_points)
    lower = float(moocore.hypervolume(pts[moocore.is_nondominated(pts)], ref=VS_REF))
    return {"sample_hv": sample_hv, "lower": lower, "rows": rows}


# ----------------------------------------------------------------------------------------------


def _report(name: str, published: float, result: dict) -> dict:
    print(f"\n{name}: published {published!r}, dense boundary-aware sample {result['sample_hv']:.10f}")
    print(f"{'grid n':>8} {'integral':>18} {'change':>12}" + (f" {'upper bracket':>16}" if "upper_bracket" in result["rows"][0] else ""))
    prev = None
    for row in result["rows"]:
        change = "" if prev is None else f"{row['integral'] - prev:+.3e}"
        extra = f" {row['upper_bracket']:16.10f}" if "upper_bracket" in row else ""
        print(f"{row['n']:>8} {row['integral']:18.12f} {change:>12}{extra}")
        prev = row["integral"]
    estimate = float(result["rows"][-1]["integral"])
    error = float(abs(result["rows"][-1]["integral"] - result["rows"][-2]["integral"])) if len(result["rows"]) > 1 else math.nan
    print(f"  HV of all points found (achievable, true max >= this): {result['lower']!r}")
    print(f"  estimate {estimate!r}, discretisation error estimate {error:.2e}")
    return {"published": published, **result, "estimate": estimate, "error_estimate": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="coarser grids (smoke test)")
    parser.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    results = {}

    t0 = time.perf_counter()
    integral, m1, pieces = zdt3_running_min_integral()
    hv = 11.0 * 11.0 - integral - 10.0 * m1
    print(f"ZDT3: integral of running min over [0, 1] = {integral!r}, min f1 = {m1!r}, HV(ref 11, 11) = {hv!r}")
    print(f"  front pieces (f0 intervals where the running min follows the curve): {[(round(a, 10), round(b, 10)) for a, b in pieces]}")
    results["zdt3"] = {"running_min_integral": integral, "front_min_f1": m1, "max_hv_ref_11": hv, "pieces": pieces}

    bc_levels = (250, 500, 1000) if args.quick else (500, 1000, 2000, 4000)
    bc = branin_currin_max_hv(bc_levels, n_grid=401 if args.quick else 1001)
    results["branin_currin"] = _report("Branin-Currin", BC_PUBLISHED, bc)
    t1 = time.perf_counter()
    print(f"  ({t1 - t0:.1f} s)")

    vs_sizes = (6, 12) if args.quick else (12, 24, 48, 96)
    vs = vehicle_safety_max_hv(vs_sizes, face_grid=60 if args.quick else 200, inner_tol=1e-5 if args.quick else 1e-6)
    results["vehicle_safety"] = _report("VehicleSafety", VS_PUBLISHED, vs)
    print(f"  ({time.perf_counter() - t1:.1f} s)")

    if args.out:
        atomic_write_json(args.out, results)


if __name__ == "__main__":
    main()
