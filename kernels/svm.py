"""Kernel support vector classifier (C-SVC) trained in JAX, matching scikit-learn's ``SVC``.

``fit(X, y, mask)`` solves the dual of the soft-margin SVM with a bias term,

    min_a  1/2 a^T Q a - 1^T a    s.t.  0 <= a_i <= C,  y^T a = 0,    Q_ij = y_i y_j K(x_i, x_j),

with labels ``y`` in {-1, +1} (``True`` -> +1). The kernel matrix is computed once per fit. Two solvers:

- ``'smo'`` (default for rbf, linear and large poly problems): sequential minimal optimisation with libsvm's second-order
  working-set selection (Fan, Chen & Lin 2005), libsvm's stopping rule
  ``max_{I_up} -y G - min_{I_low} -y G < tol`` (``G = Q a - 1``) and libsvm's bias (mean of ``-y_i G_i``
  over free support vectors, else the midpoint of the feasible interval). This is the algorithm
  scikit-learn runs; a step costs O(N) (two kernel rows) and the step count is libsvm's, a few times N
  on rbf / linear problems.
- ``'ipm'`` (default for poly with N <= 400, or any N with explicit features): a Mehrotra
  predictor-corrector interior-point method, iterated until the mean complementarity ``mu`` falls
  below ``1e-6 C`` (``1e-12 C`` in float64; or ``max_iter``, default 50), each iteration one factorisation. The bias is the
  multiplier of ``y^T a = 0``. On poly kernels (values up to ~1e4 with ``gamma='scale'``, a nearly
  hard-margin problem) SMO, like libsvm, needs thousands to tens of thousands of steps; the
  interior-point method needs 10-25 iterations whatever the conditioning.

Explicit features (poly kernels of low-dimensional inputs): ``(gamma <a, b> + coef0)^degree`` is the
inner product of two vectors of scaled monomials of degree ``degree`` (of ``[sqrt(gamma) x, sqrt(coef0)]``,
or of ``sqrt(gamma) x`` when ``coef0 == 0``), ``r = C(d + degree - 1, degree)`` of them (5 for d = 2,
degree 4). When ``r <= N / 2`` the kernel matrix ``Q = V V^T`` has rank ``r``: the interior point then
solves ``(V V^T + D) x = b`` by the Woodbury identity (an ``r x r`` Cholesky, O(N r^2) per iteration
instead of O(N^3)), and the fitted model keeps the primal weights ``w = V^T (alpha * y)`` so that a
prediction costs O(r) instead of O(N d). Same optimum, same predictions (tests compare both with
scikit-learn).

On uniform [0, 1]^d data with N = 30..1000, each default solver agrees with ``SVC`` on >= 99.5% of
held-out predictions (``tests/test_svm.py`` asserts >= 98%; ``benchmarks/bench_svm.py`` reports the
agreement next to the timings, for both solvers). SMO stays the default for rbf and linear kernels:
there it needs few steps, each O(N).

Float32 details: SMO updates ``G`` incrementally inside blocks of ``_BLOCK`` steps and recomputes it
exactly (one ``Q @ a``) after each block so rounding does not accumulate; its tolerance is
``max(tol, min(1e-6 * max|K|, 0.1))`` because float32 cannot resolve libsvm's absolute 1e-3 on
poly-sized kernels (capped below SMO's starting gap of 2, so it always takes its steps). Inputs far
from the origin relative to their spread are moved to it before an rbf or linear kernel (the same
SVM; ``SVMModel.origin``), where ``|a|^2 + |b|^2 - 2<a, b>`` would lose their distances in float32.
The interior-point method adds a ``1e-6 * max diag(Q)`` jitter to the factorised matrix, stops
once ``mu <= 1e-6 C`` (float32 cannot go much further) and keeps its last finite iterate if float32
breaks down near the end.

Limits, measured against ``SVC``: up to C = 100 on the tests' data the agreement stays >= 98.5%.
Poly kernels at large C are out of float32's reach: kernel values ~1e4 (``gamma='scale'``) times
alphas near C leave no digits for the optimality conditions, and at C = 1e4 both solvers stop short
of libsvm's optimum (53-97% agreement on nearly separable problems, N = 100, d = 2-3). With jax's x64
enabled the solvers compute in float64, with float64 floors (``_FLOAT64_*``: a 1e-12 jitter and
stopping rule): the interior point then converges there too.

Everything is fixed-shape: masked rows (``mask == False``) keep ``a_i = 0`` and never enter the solver,
the bias or ``gamma='scale'``; they may hold anything, NaN and inf included (``fit`` replaces them by
zeros before any arithmetic, so no ``NaN * 0`` reaches a sum). ``fit`` works for one problem; batch
it with ``jax.vmap``: SMO then runs the whole batch together while many problems are unfinished and
serves the last few a handful at a time (a custom batching rule; nested vmaps become one batch), so
a batch costs about what its problems need rather than its slowest problem times its size; each
problem's steps are its own.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.custom_batching import custom_vmap

from kernels._batching import advance_first, broadcast_unbatched
from kernels._checks import check_finite_rows, float_dtype, is_concrete, is_int
from kernels._ordering import after

__all__ = ["SVMModel", "fit", "decision_function", "predict", "kkt_violation", "kernel_matrix", "poly_features", "n_poly_features", "KERNELS"]

KERNELS = ("rbf", "poly", "linear")
SOLVERS = ("smo", "ipm")

# SMO steps between two exact recomputations of the gradient (one Q @ a each).
_BLOCK = 32
# Relative part of the stopping tolerance, in units of the largest |K_ij|.
_REL_TOL = 1e-6
# Cap of SMO's tolerance: SMO starts at a KKT gap of exactly 2 (G = -1, labels +-1), so a relative
# tolerance at or above it (max|K| >= 2e6: linear kernels on features ~1000) stopped SMO before its
# first step and returned a constant classifier. Capped, SMO takes its steps (and reports its gap).
_MAX_TOL = 0.1
# Inputs whose mean's squared norm exceeds this many times their total variance (a mean more than
# 128 standard deviations from the origin) are moved to it before an rbf or linear kernel: float32's
# |a|^2 + |b|^2 - 2<a, b> loses the distances there (inputs 1000 + U(0, 1): 52-63% agreement with
# SVC). Both kernels, with the bias, give the same SVM for shifted inputs. Below, the inputs are
# used as given (bit for bit): the error in gamma |a - b|^2 is about 6e-8 times the ratio, below
# 1e-3.
_FAR_FROM_ORIGIN = 2.0**14
# Interior-point iteration cap and stopping rule (mu <= _IPM_MU_TOL * C); 12 fixed iterations, the
# earlier rule, stopped some nearly separable poly problems at N = 100 far from the optimum.
_IPM_ITER = 50
_IPM_MU_TOL = 1e-6
# The interior point's diagonal jitter, relative to max diag(Q) (plus an absolute floor).
_IPM_JITTER = (1e-6, 1e-7)
# With jax x64 the solvers run in float64 and these replace _REL_TOL, _IPM_MU_TOL and _IPM_JITTER:
# float32's floors would stop them early (poly at C = 1e4: a 1e-6 jitter left the interior point 8-20%
# above libsvm's dual objective after 50-100 iterations; with 1e-12 it gets below it in ~20).
_FLOAT64_REL_TOL = 1e-12
_FLOAT64_IPM_MU_TOL = 1e-12
_FLOAT64_IPM_JITTER = (1e-12, 1e-14)


def _precision_floors():
    """(SMO relative tolerance, interior-point mu tolerance, interior-point jitter) of the working dtype."""
    if float_dtype() == jnp.float64:
        return _FLOAT64_REL_TOL, _FLOAT64_IPM_MU_TOL, _FLOAT64_IPM_JITTER
    return _REL_TOL, _IPM_MU_TOL, _IPM_JITTER


# Largest N for which solver='auto' picks the interior point on poly kernels.
_IPM_MAX_AUTO_N = 400
# libsvm's TAU: floor on the curvature of a working pair.
_TAU = 1e-12


@struct.dataclass
class SVMModel:
    """A fitted kernel SVM (a pytree; batched models carry a leading batch axis on every leaf).

    Float leaves are float32, or float64 when jax's x64 is enabled.

    Attributes:
        support_vectors: float[N, d] the training inputs, masked rows replaced by zeros (all N
            rows; rows with ``dual_coef == 0``, masked rows included, do not contribute).
        origin: float[d] subtracted from the support vectors and the queries before an rbf or
            linear kernel: the valid rows' mean where they lie far from the origin relative to
            their spread (see ``_FAR_FROM_ORIGIN``), else zeros.
        dual_coef: float[N] ``alpha_i * y_i`` with ``y_i`` in {-1, +1}; 0 for masked rows.
        bias: float[] intercept; ``decision(x) = sum_i dual_coef_i K(sv_i, x) + bias``.
        gamma: float[] kernel coefficient actually used (after resolving ``'scale'`` / ``'auto'``).
        coef0: float[] independent term of the poly kernel.
        can_split: bool[] False when the valid rows hold fewer than two classes; the decision is
            then the constant sign of the single class (``-1`` when there are no valid rows).
        n_iter: int32[] SMO steps taken, or interior-point iterations run.
        gap: float[] convergence measure: SMO's final KKT gap ``max_{I_up} -yG - min_{I_low} -yG``,
            or the interior-point method's mean complementarity ``mu`` (0 when it cannot split). The
            interior point stopped on its rule when ``gap <= 1e-6 C`` (``1e-12 C`` in float64); a
            larger gap means it ran out of ``max_iter`` or float32 broke down (``n_iter`` then counts
            the failed iteration). The rule checks complementarity only, not the dual residual: in
            float32 on poly kernels at C = 1e4 it was met short of the optimum in 15 of 60 fits (30
            nearly separable problems, N = 100, d = 2-3, dense and explicit features: 48-99%
            agreement with ``SVC``, dual objective 3-57% above libsvm's); at C = 100 every fit that
            met it agreed on >= 98.7%. Use x64 there; ``kkt_violation`` checks any fit.
        train_decision: float[N] the decision function at the training rows (what
            ``decision_function(model, support_vectors)`` returns, up to rounding), from the kernel
            matrix the fit already holds; callers that need the training predictions (LaMOO's
            split test) avoid recomputing the kernel. Meaningless for masked rows.
        primal_weight: float[r] ``sum_i dual_coef_i phi(sv_i)`` for a model fitted with explicit
            features (``feature_map != "none"``); shape ``(0,)`` otherwise.
        kernel: static, one of ``KERNELS``.
        degree: static, degree of the poly kernel.
        solver: static, the solver that fitted the model (``"smo"`` or ``"ipm"``; what ``"auto"`` chose).
        feature_map: static, ``"none"`` (kernel expansion over the support vectors), ``"poly"``
            (monomials of ``sqrt(gamma) x``) or ``"poly_affine"`` (of ``[sqrt(gamma) x, sqrt(coef0)]``).
    """

    support_vectors: jax.Array
    origin: jax.Array
    dual_coef: jax.Array
    bias: jax.Array
    gamma: jax.Array
    coef0: jax.Array
    can_split: jax.Array
    n_iter: jax.Array
    gap: jax.Array
    train_decision: jax.Array
    primal_weight: jax.Array
    kernel: str = struct.field(pytree_node=False, default="rbf")
    degree: int = struct.field(pytree_node=False, default=4)
    solver: str = struct.field(pytree_node=False, default="smo")
    feature_map: str = struct.field(pytree_node=False, default="none")


def kernel_matrix(A: jax.Array, B: jax.Array, *, kernel: str, gamma: Any, coef0: Any = 0.0, degree: int = 4) -> jax.Array:
    """Kernel values ``K[i, j] = k(A[i], B[j])`` as in scikit-learn: float[n, m] (float32; float64 with jax x64).

    ``rbf``: ``exp(-gamma |a - b|^2)``; ``poly``: ``(gamma <a, b> + coef0)^degree``; ``linear``: ``<a, b>``.
    """
    A = jnp.asarray(A, float_dtype())
    B = jnp.asarray(B, float_dtype())
    dot = A @ B.T
    if kernel == "linear":
        return dot
    if kernel == "poly":
        return jax.lax.integer_pow(gamma * dot + coef0, degree)
    if kernel == "rbf":
        sq = jnp.sum(A * A, axis=1)[:, None] + jnp.sum(B * B, axis=1)[None, :] - 2.0 * dot
        return jnp.exp(-gamma * jnp.maximum(sq, 0.0))
    raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")


@functools.lru_cache(maxsize=None)
def _monomials(d: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Index tuples (int32[r, degree]) and sqrt multinomial coefficients (float64[r]) of the
    degree-`degree` monomials in d variables: sum_m c_m^2 prod(a[idx_m]) prod(b[idx_m]) = <a, b>^degree."""
    combos = list(itertools.combinations_with_replacement(range(d), degree))
    index = np.asarray(combos, np.int32).reshape(len(combos), degree)
    counts = [np.bincount(c, minlength=d) for c in combos]
    coef = [math.factorial(degree) / math.prod(math.factorial(int(k)) for k in c) for c in counts]
    return index, np.sqrt(np.asarray(coef, np.float64))


def n_poly_features(d: int, degree: int, affine: bool) -> int:
    """Number of explicit features of the poly kernel: C(d' + degree - 1, degree), d' = d (+1 if affine)."""
    return math.comb(d + int(affine) + degree - 1, degree)


def poly_features(X: jax.Array, gamma, coef0, degree: int, affine: bool) -> jax.Array:
    """Explicit feature map of the poly kernel: float[n, r] with
    ``poly_features(A) @ poly_features(B).T == (gamma A B^T + coef0)^degree`` (``coef0 >= 0``; it is
    ignored unless ``affine``)."""
    dtype = float_dtype()
    X = jnp.asarray(X, dtype) * jnp.sqrt(gamma)
    if affine:
        X = jnp.concatenate([X, jnp.broadcast_to(jnp.sqrt(coef0), (X.shape[0], 1)).astype(dtype)], axis=1)
    index, coef = _monomials(X.shape[1], degree)
    return jnp.prod(X[:, index], axis=-1) * jnp.asarray(coef, dtype)


def _resolve_gamma(X, mask, gamma_mode: str, gamma_value):
    d = X.shape[1]
    dtype = float_dtype()
    if gamma_mode == "value":
        return jnp.asarray(gamma_value, dtype)
    if gamma_mode == "auto":
        return jnp.asarray(1.0 / d, dtype)
    # 'scale': 1 / (d * Var(X)) over all entries of the valid rows (scikit-learn uses 1 when Var == 0).
    m = mask.astype(dtype)[:, None]
    count = jnp.maximum(jnp.sum(m) * d, 1.0)
    mean = jnp.sum(X * m) / count
    var = jnp.sum(((X - mean) * m) ** 2) / count
    return jnp.where(var > 0, 1.0 / (d * jnp.where(var > 0, var, 1.0)), 1.0).astype(dtype)


def _origin(X, mask):
    """float[d]: the valid rows' mean if it lies more than sqrt(_FAR_FROM_ORIGIN) total standard
    deviations from the origin, else zeros (inputs then used as given, bit for bit)."""
    m = mask.astype(X.dtype)[:, None]
    count = jnp.maximum(jnp.sum(m), 1.0)
    mean = jnp.sum(X * m, axis=0) / count
    total_variance = jnp.sum(((X - mean) * m) ** 2) / count
    far = jnp.sum(mean**2) > _FAR_FROM_ORIGIN * total_variance
    return jnp.where(far, mean, 0.0)


def _first_index_of(values: jax.Array, target: jax.Array) -> jax.Array:
    """Index of the first entry equal to `target` (argmax / argmin given the extreme value).

    A plain max followed by this integer min is ~1.6x faster on CPU than XLA's variadic
    (value, index) reduction behind jnp.argmax, and SMO does two per step.
    """
    n = values.shape[0]
    return jnp.min(jnp.where(values == target, jnp.arange(n, dtype=jnp.int32), n - 1))


def _smo(K, ys, mask, C, tol, max_iter: int):
    """SMO on the precomputed kernel. Returns (alpha, G, n_iter, gap).

    Under `vmap` (one problem per tree node and seed) the problems are solved by `_smo_solver`'s
    batching rule: same result for every problem, without running all of them as long as the
    slowest.
    """
    C, tol = jnp.asarray(C, float_dtype()), jnp.asarray(tol, float_dtype())
    return _smo_solver(max_iter)(K, ys, mask, C, tol)


def _smo_start(K, ys, mask, C):
    """The initial SMO state (alpha, G, steps, gap) of one problem."""
    alpha = jnp.zeros(K.shape[0], K.dtype)
    G = jnp.where(mask, -1.0, 0.0).astype(K.dtype)
    return alpha, G, jnp.int32(0), _smo_gap(alpha, G, ys, mask, C)


def _smo_kkt(alpha, G, ys, mask, C):
    pos = ys > 0
    # I_up: a can move so that y_t a_t grows; I_low: so that it shrinks.
    up = mask & jnp.where(pos, alpha < C, alpha > 0)
    low = mask & jnp.where(pos, alpha > 0, alpha < C)
    return up, low, -ys * G


def _smo_gap(alpha, G, ys, mask, C):
    up, low, minus_yG = _smo_kkt(alpha, G, ys, mask, C)
    return jnp.max(jnp.where(up, minus_yG, -jnp.inf)) - jnp.min(jnp.where(low, minus_yG, jnp.inf))


def _smo_running(state, tol, max_iter: int):
    _, _, it, gap = state
    return (gap >= tol) & (it < max_iter)


def _smo_block(K, ys, mask, C, tol, state):
    """`_BLOCK` SMO steps of one problem, then the exact gradient and the KKT gap."""
    alpha, G, it, _ = state
    diagK = jnp.diagonal(K)
    pos = ys > 0
    neg_inf = jnp.asarray(-jnp.inf, K.dtype)

    def step(carry):
        alpha, G, it = carry
        up, low, minus_yG = _smo_kkt(alpha, G, ys, mask, C)
        v_up = jnp.where(up, minus_yG, neg_inf)
        g_max = jnp.max(v_up)
        i = _first_index_of(v_up, g_max)
        g_min = jnp.min(jnp.where(low, minus_yG, -neg_inf))
        active = (g_max - g_min) >= tol
        K_i = K[i]
        # Second-order choice of j: the largest guaranteed decrease b^2 / a over violating pairs.
        b = g_max - minus_yG
        a = jnp.maximum(diagK[i] + diagK - 2.0 * K_i, _TAU)
        score = jnp.where(low & (b > 0), -(b * b) / a, jnp.inf)
        j = _first_index_of(score, jnp.min(score))
        # Move along d = y_i e_i - y_j e_j (keeps y^T a = 0) by t >= 0.
        t_star = b[j] / a[j]
        room_i = jnp.where(pos[i], C - alpha[i], alpha[i])
        room_j = jnp.where(pos[j], alpha[j], C - alpha[j])
        t = jnp.where(active, jnp.clip(jnp.minimum(t_star, jnp.minimum(room_i, room_j)), 0.0, None), 0.0)
        new_ai = alpha[i] + ys[i] * t
        new_aj = alpha[j] - ys[j] * t
        # Snap to the bounds so that "at bound" tests are exact in float32.
        new_ai = jnp.where(t == room_i, jnp.where(pos[i], C, 0.0), new_ai)
        new_aj = jnp.where(t == room_j, jnp.where(pos[j], 0.0, C), new_aj)
        alpha = alpha.at[i].set(new_ai).at[j].set(new_aj)
        G = G + t * ys * (K_i - K[j])
        return alpha, G, it + active.astype(jnp.int32)

    alpha, G, it = jax.lax.fori_loop(0, _BLOCK, lambda _, c: step(c), (alpha, G, it))
    # Q @ alpha with Q = K * y y^T, without forming Q every block (y is +-1: the same numbers).
    G = jnp.where(mask, ys * (K @ (ys * alpha)) - 1.0, 0.0)
    return alpha, G, it, _smo_gap(alpha, G, ys, mask, C)


# Under vmap, once no more than this fraction of the batch is still running, the running problems
# are served this many at a time (at least one) instead of all together.
_SMO_SERVED_FRACTION = 8


@functools.lru_cache(maxsize=None)
def _smo_solver(max_iter: int):
    """SMO for a static step cap: `solve(K, ys, mask, C, tol) -> (alpha, G, n_iter, gap)`.

    One problem: a `while_loop` of `_smo_block`s until the KKT gap is below `tol` (or `max_iter`).
    Batched (a `custom_vmap` rule; nested vmaps, e.g. nodes x seeds, are flattened into one batch),
    every problem runs exactly its own blocks, but instead of a lockstep loop that runs the whole
    batch for as many blocks as its slowest problem, all problems run together only while more than
    B / `_SMO_SERVED_FRACTION` are unfinished; then the unfinished ones are served that many at a
    time (their kernels and states gathered, one block, scattered back). Step counts of LaMOO's node
    problems vary about 2x between the median and the slowest of a batch.
    """

    @custom_vmap
    def solve(K, ys, mask, C, tol):
        state = _smo_start(K, ys, mask, C)
        return jax.lax.while_loop(
            lambda state: _smo_running(state, tol, max_iter), lambda state: _smo_block(K, ys, mask, C, tol, state), state
        )

    @custom_vmap
    def solve_batch(K, ys, mask, C, tol):
        # K: [B, N, N], the rest [B, ...]: the compaction schedule over the leading axis.
        batch = K.shape[0]
        served = max(1, -(-batch // _SMO_SERVED_FRACTION))
        block = jax.vmap(_smo_block)
        state = jax.vmap(_smo_start)(K, ys, mask, C)

        def running(state):
            return jax.vmap(lambda s, t: _smo_running(s, t, max_iter))(state, tol)

        def all_together(state):
            new = block(K, ys, mask, C, tol, state)
            keep = running(state)
            return jax.tree_util.tree_map(lambda n, o: jnp.where(keep.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), new, state)

        state = jax.lax.while_loop(lambda state: jnp.sum(running(state)) > served, all_together, state)

        def serve(state):
            return advance_first(running(state), served, lambda inputs, state: block(*inputs, state), (K, ys, mask, C, tol), state)

        return jax.lax.while_loop(lambda state: jnp.any(running(state)), serve, state)

    @solve.def_vmap
    def solve_vmap(axis_size, in_batched, *args):
        return solve_batch(*broadcast_unbatched(axis_size, in_batched, args)), (True, True, True, True)

    @solve_batch.def_vmap
    def solve_batch_vmap(axis_size, in_batched, *args):
        # Another vmap around a batch: one larger batch [axis_size * B], scheduled together.
        args = broadcast_unbatched(axis_size, in_batched, args)
        inner = args[0].shape[1]
        out = solve_batch(*[a.reshape((axis_size * inner,) + a.shape[2:]) for a in args])
        return jax.tree_util.tree_map(lambda a: a.reshape((axis_size, inner) + a.shape[1:]), out), (True, True, True, True)

    return solve


def _dense_system(K, ys, valid):
    """``Q a`` and the factorisation of ``Q + diag(D)`` for a dense kernel matrix (Cholesky, O(N^3))."""
    Q = jnp.where(valid[:, None] & valid[None, :], K * ys[:, None] * ys[None, :], 0.0)
    diag_Q = jnp.diagonal(Q)

    def matvec(a):
        return Q @ a

    def factor(D):
        chol = jnp.linalg.cholesky(Q + jnp.diag(D))
        return lambda rhs: jax.scipy.linalg.cho_solve((chol, True), rhs)

    return matvec, factor, diag_Q


def _low_rank_system(V, ys, valid):
    """``Q a`` and the solver of ``Q + diag(D)`` for ``Q = (y V)(y V)^T`` of rank r (Woodbury, O(N r^2)).

    ``(D + U U^T)^-1 b = D^-1 b - D^-1 U S^-1 U^T D^-1 b`` with ``S = I + U^T D^-1 U`` (r x r).
    The barrier terms make ``D`` span many orders of magnitude, yet the interior point needs only
    approximate Newton directions: measured on 180 problems (d = 2..5, N = 26..100) it reaches the
    dense Cholesky's iterations and agreement with scikit-learn (one step of iterative refinement
    per solve changed neither, so there is none).

    ``U`` is held transposed (``Ut``, r x N): every product then contracts a contiguous axis, which
    on CPU makes the batched (vmapped) matrix-vector products about 6x faster than with ``U``.
    """
    Ut = jnp.where(valid[None, :], V.T * ys[None, :], 0.0)
    diag_Q = jnp.sum(Ut * Ut, axis=0)
    eye = jnp.eye(Ut.shape[0], dtype=Ut.dtype)

    def matvec(a):
        return (Ut @ a) @ Ut

    def factor(D):
        Wt = Ut / jnp.sqrt(D)[None, :]
        chol = jnp.linalg.cholesky(eye + Wt @ Wt.T)

        def solve(rhs):
            t = rhs / D
            return t - (jax.scipy.linalg.cho_solve((chol, True), Ut @ t) @ Ut) / D

        return solve

    return matvec, factor, diag_Q


def _ipm(system, ys, mask, C, max_iter: int):
    """Mehrotra predictor-corrector interior-point method on the dual. Returns (alpha, bias, mu, n_iter).

    ``system = (matvec, factor, diag_Q)`` (``_dense_system`` or ``_low_rank_system``). Each iteration
    factors ``H = Q + diag(z / a + s / (C - a))`` once and solves three right-hand sides. It stops when
    the mean complementarity ``mu`` is below ``_IPM_MU_TOL * C`` (10-25 iterations, independently of
    the conditioning that makes SMO take thousands of steps on poly kernels), when an iteration no
    longer changes the iterate (float32 breakdown), or after ``max_iter`` iterations.
    Variables: ``a`` (dual), ``z >= 0`` / ``s >= 0`` (multipliers of ``a >= 0`` / ``a <= C``) and ``b``
    (multiplier of ``y^T a = 0``, which is the SVM bias).
    """
    matvec, factor, diag_Q = system
    valid = mask
    yv = jnp.where(valid, ys, 0.0)
    ones = jnp.where(valid, 1.0, 0.0)
    dtype = float_dtype()
    n_valid = jnp.maximum(jnp.sum(valid), 1).astype(dtype)
    # float32 factorisation of a rank-deficient (poly) Q + small barrier terms needs a floor on the diagonal.
    _, mu_tol, (jitter_rel, jitter_abs) = _precision_floors()
    jitter = jitter_rel * jnp.max(jnp.abs(diag_Q)) + jitter_abs

    def safe(v):
        return jnp.where(valid, v, 1.0)

    def complementarity(a, z, s):
        return (jnp.sum(a * z) + jnp.sum(jnp.where(valid, C - a, 0.0) * s)) / (2.0 * n_valid)

    def body(carry):
        state, it, _ = carry
        a, z, s, b = state
        slack_lo, slack_up = safe(a), safe(C - a)
        r_dual = jnp.where(valid, matvec(a) - ones + b * yv - z + s, 0.0)
        r_prim = yv @ a
        mu = complementarity(a, z, s)
        D = jnp.where(valid, z / slack_lo + s / slack_up + jitter, 1.0)
        solve = factor(D)

        v = solve(yv)
        yv_v = yv @ v
        yv_v = jnp.where(yv_v != 0, yv_v, 1.0)

        def newton(target_lo, target_up):
            # Linearised a_i z_i = target_lo, (C - a_i) s_i = target_up, eliminated into H da + y db = rhs.
            rhs = -r_dual + jnp.where(valid, target_lo / slack_lo - target_up / slack_up, 0.0)
            # Ordered after the solve for v: two independent batched LAPACK calls can deadlock
            # XLA's CPU thread pool (see kernels/_ordering.py).
            u = solve(after(rhs, v))
            db = (yv @ u + r_prim) / yv_v
            da = u - v * db
            dz = jnp.where(valid, (target_lo - z * da) / slack_lo, 0.0)
            ds = jnp.where(valid, (target_up + s * da) / slack_up, 0.0)
            return da, db, dz, ds

        def step_length(da, dz, ds):
            def ratio(x, dx):
                neg = valid & (dx < 0)
                return jnp.min(jnp.where(neg, -x / jnp.where(neg, dx, -1.0), jnp.inf))

            longest = jnp.minimum(jnp.minimum(ratio(a, da), ratio(C - a, -da)), jnp.minimum(ratio(z, dz), ratio(s, ds)))
            return jnp.minimum(1.0, 0.99 * longest)

        da, _, dz, ds = newton(-a * z, -(C - a) * s)
        step = step_length(da, dz, ds)
        mu_aff = complementarity(a + step * da, z + step * dz, s + step * ds)
        sigma = jnp.clip(mu_aff / jnp.maximum(mu, 1e-30), 0.0, 1.0) ** 3
        da, db, dz, ds = newton(sigma * mu - a * z - da * dz, sigma * mu - (C - a) * s + da * ds)
        step = step_length(da, dz, ds)
        new = (
            jnp.where(valid, a + step * da, 0.0),
            jnp.where(valid, z + step * dz, 0.0),
            jnp.where(valid, s + step * ds, 0.0),
            b + step * db,
        )
        # Once float32 runs out of precision the factorisation can break down; keep the last good point.
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in new]))
        new = jax.tree.map(lambda n_, o: jnp.where(finite, n_, o), new, state)
        return new, it + 1, finite

    def not_done(carry):
        (a, z, s, _), it, progressing = carry
        return (it < max_iter) & progressing & (complementarity(a, z, s) > mu_tol * C)

    a0 = jnp.where(valid, 0.5 * C, 0.0)
    state = (a0, ones, ones, jnp.zeros((), dtype))
    (a, z, s, b), n_iter, _ = jax.lax.while_loop(not_done, body, (state, jnp.int32(0), jnp.bool_(True)))
    return a, b, complementarity(a, z, s), n_iter


def _bias(alpha, G, ys, mask, C):
    """libsvm's rho, returned as bias = -rho."""
    yG = ys * G
    pos = ys > 0
    at_upper = alpha >= C
    at_lower = alpha <= 0
    free = mask & ~at_upper & ~at_lower
    n_free = jnp.sum(free)
    mean_free = jnp.sum(jnp.where(free, yG, 0.0)) / jnp.maximum(n_free, 1)
    ub_set = mask & ((at_upper & ~pos) | (at_lower & pos))
    lb_set = mask & ((at_upper & pos) | (at_lower & ~pos))
    ub = jnp.min(jnp.where(ub_set, yG, jnp.inf))
    lb = jnp.max(jnp.where(lb_set, yG, -jnp.inf))
    mid = 0.5 * (jnp.where(jnp.isfinite(ub), ub, lb) + jnp.where(jnp.isfinite(lb), lb, ub))
    rho = jnp.where(n_free > 0, mean_free, mid)
    return -rho


def _fit_impl(X, y, mask, C, gamma_value, coef0, tol, rel_tol, *, kernel: str, gamma_mode: str, degree: int, max_iter: int, solver: str, feature_map: str):
    mask = jnp.asarray(mask, bool)
    # Masked rows may hold anything (NaN, inf, huge values). Zero them before any arithmetic: a
    # multiplication by a 0 mask or dual coefficient does not remove them (NaN * 0 = NaN, inf * 0 =
    # NaN), neither in 'scale' nor in the kernel rows of the stored support vectors. Valid rows are
    # untouched, so their results are the same bits as without this line.
    dtype = float_dtype()
    X = jnp.where(mask[:, None], jnp.asarray(X, dtype), 0.0)
    y = jnp.asarray(y, bool)
    C = jnp.asarray(C, dtype)
    coef0 = jnp.asarray(coef0, dtype)
    ys = jnp.where(y, 1.0, -1.0).astype(dtype)
    n_pos = jnp.sum(mask & y)
    n_neg = jnp.sum(mask & ~y)
    can_split = (n_pos > 0) & (n_neg > 0)
    # A one-class problem is solved on an empty mask (no work) and replaced by a constant below.
    solve_mask = mask & can_split

    gamma = _resolve_gamma(X, mask, gamma_mode, gamma_value)
    explicit = feature_map != "none"
    # rbf and linear kernels do not change when every input moves by the same vector.
    origin = _origin(X, mask) if kernel in ("rbf", "linear") and not explicit else jnp.zeros(X.shape[1], dtype)
    if explicit:
        V = jnp.where(solve_mask[:, None], poly_features(X, gamma, coef0, degree, feature_map == "poly_affine"), 0.0)
    if explicit and solver == "ipm":
        K = None  # the interior point works on V directly (Woodbury)
    else:
        Xc = X - origin
        K = V @ V.T if explicit else kernel_matrix(Xc, Xc, kernel=kernel, gamma=gamma, coef0=coef0, degree=degree)
        K = jnp.where(solve_mask[:, None] & solve_mask[None, :], K, 0.0)

    if solver == "smo":
        relative = jnp.minimum(rel_tol * jnp.max(jnp.abs(K)), _MAX_TOL)
        tol_eff = jnp.maximum(jnp.asarray(tol, dtype), relative)
        alpha, G, n_iter, gap = _smo(K, ys, solve_mask, C, tol_eff, max_iter)
        bias = _bias(alpha, G, ys, solve_mask, C)
    else:
        system = _low_rank_system(V, ys, solve_mask) if explicit else _dense_system(K, ys, solve_mask)
        alpha, bias, gap, n_iter = _ipm(system, ys, solve_mask, C, max_iter)
    const_bias = jnp.where(n_pos > 0, 1.0, -1.0)
    bias = jnp.where(can_split, bias, const_bias).astype(dtype)
    dual_coef = jnp.where(solve_mask, alpha * ys, 0.0).astype(dtype)
    primal_weight = V.T @ dual_coef if explicit else jnp.zeros((0,), dtype)
    if explicit:
        train_decision = V @ primal_weight + bias
    else:
        train_decision = K @ dual_coef + bias
    return SVMModel(
        support_vectors=X,  # masked rows zeroed: decision_function never meets their original values
        origin=origin,
        dual_coef=dual_coef,
        bias=bias,
        gamma=gamma,
        coef0=coef0,
        can_split=can_split,
        n_iter=n_iter,
        gap=jnp.where(can_split, gap, 0.0).astype(dtype),
        train_decision=train_decision.astype(dtype),
        primal_weight=primal_weight,
        kernel=kernel,
        degree=degree,
        solver=solver,
        feature_map=feature_map,
    )


_fit_jit = jax.jit(_fit_impl, static_argnames=("kernel", "gamma_mode", "degree", "max_iter", "solver", "feature_map"))


def _check_positive_scalar(name: str, value) -> None:
    """Raise unless a concrete `value` is a finite positive scalar (skipped when traced)."""
    if is_concrete(value):
        v = np.asarray(value)
        if v.shape != ():
            raise ValueError(f"{name} must be a scalar, got shape {v.shape}")
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")


def fit(
    X,
    y,
    mask=None,
    *,
    kernel: str = "rbf",
    C=1.0,
    gamma="scale",
    degree: int = 4,
    coef0=0.0,
    max_iter: int | None = None,
    tol=1e-3,
    solver: str = "auto",
    explicit_features: bool | None = None,
) -> SVMModel:
    """Fit a C-SVC on one problem.

    Args:
        X: float[N, d] inputs.
        y: bool[N] labels, True = positive class (scikit-learn's ``classes_[1]`` for bool labels).
        mask: optional bool[N], True for real rows; masked rows are ignored completely.
        kernel: ``'rbf'``, ``'poly'`` or ``'linear'`` (static).
        C: box constraint, > 0 (may be traced).
        gamma: ``'scale'`` (``1 / (d * Var(X_valid))``, scikit-learn's default), ``'auto'`` (``1 / d``)
            or a positive number (may be traced). Ignored by the linear kernel.
        degree: poly degree (static int >= 1).
        coef0: poly independent term, >= 0 for the poly kernel (may be traced; a concrete negative
            value is rejected, see below).
        max_iter: static; SMO: cap on steps (default ``max(5000, 50 * N)``); interior point: cap on
            iterations (default 50; it stops earlier once converged).
        tol: SMO's absolute KKT-gap tolerance (libsvm's ``eps``); it uses ``max(tol, min(1e-6 * max|K|, 0.1))``
            because of float32 (``1e-12 * max|K|`` in float64). Unused by the interior-point solver.
        solver: ``'auto'`` (interior point for poly with N <= 400 or with explicit features, SMO
            otherwise), ``'smo'`` or ``'ipm'`` (static).
        explicit_features: poly kernel only (static): fit and predict through the explicit monomial
            feature map (see module doc). ``None`` (default) uses it when it has at most N / 2
            features and ``coef0`` is a concrete number >= 0; ``True`` requires it; ``False`` never.

    Returns:
        SVMModel. ``model.can_split`` is False when the valid rows hold fewer than two classes.

    Works under ``jax.jit`` and ``jax.vmap`` (the keyword options must then be Python constants or,
    for ``C``, ``gamma`` (number), ``coef0``, ``tol``, traced scalars). Value checks (NaN in valid rows,
    C <= 0, poly with coef0 < 0) run only on concrete inputs; the NaN check also needs a concrete
    ``mask`` (masked rows are never checked: they may hold anything).

    Raises:
        ValueError: for a bad option or input, including ``kernel='poly'`` with a concrete
            ``coef0 < 0``: ``(gamma <x, x'> + coef0)^degree`` is then not positive semi-definite in
            general, the dual is not a convex QP and neither solver reaches scikit-learn's solution
            (the interior point's factorisation breaks down at its first iteration).
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
    if isinstance(gamma, str):
        if gamma not in ("scale", "auto"):
            raise ValueError(f"gamma must be 'scale', 'auto' or a positive number, got {gamma!r}")
        gamma_mode, gamma_value = gamma, 0.0
    else:
        gamma_mode, gamma_value = "value", gamma
    if not is_int(degree) or degree < 1:
        raise ValueError(f"degree must be an int >= 1, got {degree!r}")
    X_shape = np.shape(X)
    y_shape = np.shape(y)
    if len(X_shape) != 2:
        raise ValueError(f"X must have shape (N, d), got {X_shape}")
    if np.iscomplexobj(X):
        raise ValueError(f"X must hold real numbers, got dtype {np.result_type(X)}")
    n, d = X_shape
    if n < 1 or d < 1:
        raise ValueError(f"X must have at least one row and one column, got shape {X_shape}")
    if y_shape != (n,):
        raise ValueError(f"y must have shape (N,) = ({n},) matching X {X_shape}, got {y_shape}")
    if mask is None:
        mask = jnp.ones((n,), bool)
    elif np.shape(mask) != (n,):
        raise ValueError(f"mask must have shape (N,) = ({n},) matching X {X_shape}, got {np.shape(mask)}")
    check_poly_coef0(kernel, degree, coef0)
    feature_map = _choose_feature_map(kernel, n, d, degree, coef0, explicit_features)
    if solver == "auto":
        # The interior point's O(N^3) factorisations only pay off against SMO's many poly steps at
        # the node sizes LaMOO uses; for large N SMO is faster (benchmarks/bench_svm.py). With
        # explicit features an iteration costs O(N r^2) and the interior point wins at any N.
        solver = "ipm" if kernel == "poly" and (n <= _IPM_MAX_AUTO_N or feature_map != "none") else "smo"
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected 'auto' or one of {SOLVERS}")
    if max_iter is None:
        max_iter = max(5000, 50 * n) if solver == "smo" else _IPM_ITER
    if not is_int(max_iter) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")

    if is_concrete(X):
        X_np = np.asarray(X)
        if not np.issubdtype(X_np.dtype, np.number) and X_np.dtype != bool:
            raise ValueError(f"X must be numeric, got dtype {X_np.dtype}")
        # Only valid rows: masked rows may hold anything (skipped when the mask is traced).
        check_finite_rows(X_np, mask, name="X")
    if is_concrete(y):
        y_np = np.asarray(y)
        if y_np.dtype != bool:
            if not np.all(np.isin(y_np, (0, 1))):
                raise ValueError(f"y must be boolean (or 0/1), got values {np.unique(y_np)[:5]}")
    for name, value in (("C", C), ("gamma", gamma_value if gamma_mode == "value" else 1.0), ("tol", tol)):
        _check_positive_scalar(name, value)
    if is_concrete(coef0) and not np.all(np.isfinite(np.asarray(coef0))):
        raise ValueError(f"coef0 must be finite, got {coef0!r}")

    return _fit_jit(
        X,
        y,
        mask,
        C,
        gamma_value,
        coef0,
        tol,
        _precision_floors()[0],
        kernel=kernel,
        gamma_mode=gamma_mode,
        degree=int(degree),
        max_iter=int(max_iter),
        solver=solver,
        feature_map=feature_map,
    )


def check_poly_coef0(kernel: str, degree: int, coef0) -> None:
    """Reject a concrete ``coef0 < 0`` for the poly kernel (a traced coef0 cannot be checked).

    ``(gamma <x, x'> + coef0)^degree`` with ``coef0 < 0`` is not positive semi-definite in general, so
    the dual is not a convex QP: the interior point's Cholesky factorisation fails at its first
    iteration (it returns ``n_iter == 1``, ``gap`` 0.5, the starting point) and SMO's answer depends
    on its path; measured against scikit-learn, 31-71% agreement instead of >= 98%.
    """
    if kernel != "poly" or not is_concrete(coef0):
        return
    if np.any(np.asarray(coef0) < 0):
        raise ValueError(
            f"kernel='poly' needs coef0 >= 0, got coef0={coef0!r} (degree={degree}): with coef0 < 0 the kernel "
            "(gamma <x, x'> + coef0)^degree is not positive semi-definite in general, so the SVM dual is not "
            "convex and the solvers do not converge to scikit-learn's solution; use coef0 >= 0"
        )


def _choose_feature_map(kernel: str, n: int, d: int, degree: int, coef0, explicit_features: bool | None) -> str:
    if explicit_features is not None and not isinstance(explicit_features, bool):
        raise ValueError(f"explicit_features must be None, True or False, got {explicit_features!r}")
    if explicit_features is False or (explicit_features is None and kernel != "poly"):
        return "none"
    if kernel != "poly":
        raise ValueError(f"explicit_features=True needs kernel='poly', got kernel={kernel!r}")
    # The feature count is static, so coef0 must be known at trace time to decide between maps.
    coef0_known = is_concrete(coef0) and np.ndim(coef0) == 0
    if not coef0_known or float(coef0) < 0:
        if explicit_features:
            raise ValueError(f"explicit_features=True needs a concrete coef0 >= 0, got {coef0!r}")
        return "none"
    affine = float(coef0) != 0.0
    if explicit_features is None and n_poly_features(d, degree, affine) > n // 2:
        return "none"
    return "poly_affine" if affine else "poly"


def decision_function(model: SVMModel, Xq: jax.Array) -> jax.Array:
    """Signed distance-like score for query points: float[Q] (positive -> class True).

    Xq: float[Q, d] (any array-like). For a model that cannot split, a constant ``+1`` / ``-1``
    (the single class).
    """
    return _decision_function(model, Xq if isinstance(Xq, jax.Array) else jnp.asarray(Xq))


@jax.jit
def _decision_function(model: SVMModel, Xq: jax.Array) -> jax.Array:
    d = model.support_vectors.shape[-1]
    if Xq.ndim != 2 or Xq.shape[1] != d:
        raise ValueError(f"Xq must have shape (Q, {d}) like the training X, got {Xq.shape}")
    if model.feature_map != "none":
        # Explicit features: O(r) per query instead of a kernel row over all N support vectors.
        phi = poly_features(Xq, model.gamma, model.coef0, model.degree, model.feature_map == "poly_affine")
        return phi @ model.primal_weight + model.bias
    if model.kernel == "linear":
        # The primal weight vector makes a linear prediction O(d) per query instead of O(N d).
        w = model.dual_coef @ (model.support_vectors - model.origin)
        return (jnp.asarray(Xq, w.dtype) - model.origin) @ w + model.bias
    Kq = kernel_matrix(Xq - model.origin, model.support_vectors - model.origin, kernel=model.kernel, gamma=model.gamma,
                       coef0=model.coef0, degree=model.degree)
    return Kq @ model.dual_coef + model.bias


@jax.jit
def predict(model: SVMModel, Xq: jax.Array) -> jax.Array:
    """Predicted class for query points: bool[Q], True where ``decision_function > 0``."""
    return decision_function(model, Xq) > 0


# An alpha within this fraction of C from a bound counts as at the bound in `kkt_violation` (the
# interior point never reaches a bound exactly).
_KKT_BOUND_TOL = 1e-3


def kkt_violation(model: SVMModel, y, C, mask=None) -> jax.Array:
    """How far a fitted model is from the C-SVC optimum on its training rows: float[], 0 at the optimum.

    The optimality (KKT) conditions of the dual, in terms of each valid row's margin
    ``m_i = y_i f(x_i)`` (``f`` the decision function, ``y_i`` in {-1, +1}) and its
    ``alpha_i = |dual_coef_i|``: ``m_i >= 1`` where ``alpha_i = 0``, ``m_i <= 1`` where ``alpha_i = C``
    and ``m_i = 1`` in between. Returns the largest violation over the valid rows, in margin units
    (an alpha within ``1e-3 C`` of a bound counts as at it). Measured on float32 interior-point fits
    of 30 nearly separable poly problems (N = 100, d = 2-3, dense and explicit features), among the
    fits that met their stopping rule (``model.gap``): 8e-5 to 0.017 at C = 1 (60 fits), 0.008 to 0.32
    at C = 100 (54 fits, >= 98.7% agreement with ``SVC``), 0.98 to 194 at C = 1e4 (15 fits stopped
    short of the optimum, 48-99% agreement); under x64 a C = 1e4 fit read 8e-6. A value near 1 or
    above means the fit is not at the optimum, whatever its solver reported.

    Args:
        model: from ``fit`` (unbatched; ``jax.vmap`` for a batch).
        y: bool[N] the labels given to ``fit``.
        C: the ``C`` given to ``fit``.
        mask: the ``mask`` given to ``fit`` (None: every row).

    Uses the model's ``train_decision`` (no kernel is recomputed). 0 for a model that cannot split.
    """
    n = model.dual_coef.shape[-1]
    if np.shape(y) != (n,):
        raise ValueError(f"y must have shape ({n},) like the model's training rows, got {np.shape(y)}")
    if mask is not None and np.shape(mask) != (n,):
        raise ValueError(f"mask must have shape ({n},) like the model's training rows, got {np.shape(mask)}")
    _check_positive_scalar("C", C)
    dtype = model.dual_coef.dtype
    valid = jnp.ones(n, bool) if mask is None else jnp.asarray(mask, bool)
    ys = jnp.where(jnp.asarray(y, bool), 1.0, -1.0).astype(dtype)
    C = jnp.asarray(C, dtype)
    alpha = model.dual_coef * ys
    slack = ys * model.train_decision - 1.0  # m_i - 1
    at_zero = alpha <= _KKT_BOUND_TOL * C
    at_c = alpha >= (1.0 - _KKT_BOUND_TOL) * C
    violation = jnp.where(at_zero, jnp.maximum(-slack, 0.0), jnp.where(at_c, jnp.maximum(slack, 0.0), jnp.abs(slack)))
    worst = jnp.max(jnp.where(valid, violation, 0.0), initial=0.0)
    return jnp.where(model.can_split, worst, 0.0)
