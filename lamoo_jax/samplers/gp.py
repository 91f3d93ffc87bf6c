"""Exact Gaussian-process regression for the qEHVI sampler: one independent GP per objective.

Model (per objective m, on standardised outputs z = (y - y_mean[m]) / y_std[m]):

    z(x) ~ GP(c_m, s_m * Matern52(x, x'; lengthscale_m)) + N(0, noise_m)

with an ARD Matern-5/2 kernel on unit-cube inputs (`space.to_unit(X)`), a constant mean `c_m`, an
outputscale `s_m` and Gaussian observation noise `noise_m`, as BoTorch's `SingleTaskGP` with an
outcome `Standardize` transform. Hyperparameters are fitted by maximising the exact log marginal
likelihood (plus optional Gamma log-priors, BoTorch's classic defaults) with optax Adam for a fixed
number of steps, warm-started from the previous fit.

Fixed shapes: the training data is a buffer `X[N, D]`, `Y[N, M]` with a boolean `mask[N]`. Padding
rows are removed exactly: the kernel matrix becomes `K * outer(m, m) + diag(1 - m)` and padding
residuals are zero, so a padding row contributes a decoupled unit block (log-determinant 0,
quadratic term 0) and the posterior equals the fit on the real rows alone.

Standardisation uses the masked mean and the masked population standard deviation (ddof = 0, as
scikit-learn's `normalize_y`); a constant objective gets std 1.

Everything here is pure and jit/vmap-able; `posterior*` return values in the ORIGINAL output scale
and describe the latent function f (no observation noise), which is what qEHVI integrates over.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from kernels._ordering import after
from kernels import _random

# Hyperparameter box (natural scale), enforced by projection after every optimiser step.
LENGTHSCALE_BOUNDS = (1e-2, 1e2)  # unit-cube inputs
OUTPUTSCALE_BOUNDS = (1e-2, 1e2)  # standardised outputs
NOISE_BOUNDS = (1e-6, 1.0)  # standardised outputs; the lower bound keeps the Cholesky well posed
MEAN_BOUNDS = (-5.0, 5.0)

# BoTorch's classic SingleTaskGP priors (shape, rate) of Gamma distributions on the natural scale.
LENGTHSCALE_PRIOR = (3.0, 6.0)
OUTPUTSCALE_PRIOR = (2.0, 0.15)
NOISE_PRIOR = (1.1, 0.05)


class GPParams(NamedTuple):
    """Hyperparameters of M independent GPs (log scale where positive).

    Attributes:
        log_lengthscale: [M, D] ARD lengthscales on unit-cube inputs.
        log_outputscale: [M] kernel variance on the standardised scale.
        log_noise: [M] observation-noise variance on the standardised scale.
        mean: [M] constant prior mean on the standardised scale.
    """

    log_lengthscale: jax.Array
    log_outputscale: jax.Array
    log_noise: jax.Array
    mean: jax.Array


class GPState(NamedTuple):
    """A GP conditioned on training data (everything needed to predict).

    Attributes:
        params: the `GPParams` used.
        X: [N, D] training inputs (unit cube), padding rows included.
        mask: bool[N] real training rows.
        y_mean, y_std: [M] the standardisation of each objective.
        chol: [M, N, N] lower Cholesky factor of the masked `K + noise I` per objective.
        alpha: [M, N] `(K + noise I)^{-1} (z - c)` per objective (zero on padding rows).
    """

    params: GPParams
    X: jax.Array
    mask: jax.Array
    y_mean: jax.Array
    y_std: jax.Array
    chol: jax.Array
    alpha: jax.Array


def default_params(dim: int, n_obj: int, dtype=jnp.float32) -> GPParams:
    """Starting hyperparameters: lengthscale 0.5, outputscale 1, noise 1e-2, mean 0."""
    return GPParams(
        log_lengthscale=jnp.full((n_obj, dim), jnp.log(0.5), dtype),
        log_outputscale=jnp.zeros((n_obj,), dtype),
        log_noise=jnp.full((n_obj,), jnp.log(1e-2), dtype),
        mean=jnp.zeros((n_obj,), dtype),
    )


def clamp_params(params: GPParams) -> GPParams:
    """Project hyperparameters onto the sane box (see the module-level bounds)."""
    log = jnp.log
    return GPParams(
        log_lengthscale=jnp.clip(params.log_lengthscale, log(LENGTHSCALE_BOUNDS[0]), log(LENGTHSCALE_BOUNDS[1])),
        log_outputscale=jnp.clip(params.log_outputscale, log(OUTPUTSCALE_BOUNDS[0]), log(OUTPUTSCALE_BOUNDS[1])),
        log_noise=jnp.clip(params.log_noise, log(NOISE_BOUNDS[0]), log(NOISE_BOUNDS[1])),
        mean=jnp.clip(params.mean, *MEAN_BOUNDS),
    )


def matern52(X1: jax.Array, X2: jax.Array, lengthscale: jax.Array, outputscale: jax.Array) -> jax.Array:
    """Matern-5/2 ARD kernel matrix [n1, n2] of inputs X1[n1, D], X2[n2, D] (one objective)."""
    diff = (X1[:, None, :] - X2[None, :, :]) / lengthscale
    r2 = jnp.sum(diff * diff, axis=-1)
    # Double-where keeps the gradient finite at r = 0 (d sqrt(r2) / d r2 is infinite there).
    positive = r2 > 0
    r = jnp.where(positive, jnp.sqrt(jnp.where(positive, r2, 1.0)), 0.0)
    sqrt5_r = jnp.sqrt(5.0) * r
    return outputscale * (1.0 + sqrt5_r + (5.0 / 3.0) * r2) * jnp.exp(-sqrt5_r)


def standardize(Y: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Masked per-column standardisation of Y[N, M] -> (Z[N, M] (zero on padding), mean[M], std[M])."""
    w = mask.astype(Y.dtype)[:, None]
    count = jnp.maximum(jnp.sum(w), 1.0)
    mean = jnp.sum(Y * w, axis=0) / count
    var = jnp.sum(((Y - mean) * w) ** 2, axis=0) / count
    std = jnp.sqrt(var)
    std = jnp.where(std > 1e-8 * jnp.maximum(1.0, jnp.abs(mean)), std, 1.0)
    return (Y - mean) / std * w, mean, std


def _jitter(dtype) -> float:
    # sklearn's default `alpha` in float64; float32 needs more to survive round-off.
    return 1e-10 if dtype == jnp.float64 else 1e-6


def _safe_cholesky(K: jax.Array, jitter: float | jax.Array = 0.0) -> jax.Array:
    """Cholesky factor of `K + jitter I` (K symmetric PSD); when round-off breaks it (NaN), of
    `K + (jitter + 1e-4 mean(diag K)) I` instead."""
    n = K.shape[-1]
    eye = jnp.eye(n, dtype=K.dtype)
    L = jnp.linalg.cholesky(K + jitter * eye)
    # The second factorisation depends on the first (see kernels/_ordering.py); when the first succeeded it
    # factorises the same matrix again and returns the same factor.
    extra = jnp.where(jnp.all(jnp.isfinite(L)), 0.0, 1e-4 * jnp.mean(jnp.diagonal(K)))
    return jnp.linalg.cholesky(K + (jitter + extra) * eye)


def _masked_train_matrix(X, mask, log_lengthscale, log_outputscale, log_noise):
    """[N, N] `K + (noise + jitter) I` on the real rows, the identity on padding rows."""
    m = mask.astype(X.dtype)
    K = matern52(X, X, jnp.exp(log_lengthscale), jnp.exp(log_outputscale))
    diagonal = jnp.exp(log_noise) + _jitter(X.dtype)
    return K * jnp.outer(m, m) + jnp.diag(1.0 - m) + diagonal * jnp.diag(m)


def _condition_one(X, mask, z, log_lengthscale, log_outputscale, log_noise, mean):
    """(chol[N, N], alpha[N]) for one objective."""
    K = _masked_train_matrix(X, mask, log_lengthscale, log_outputscale, log_noise)
    L = _safe_cholesky(K)
    resid = (z - mean) * mask.astype(X.dtype)
    alpha = jax.scipy.linalg.cho_solve((L, True), resid)
    return L, alpha


@jax.custom_vjp
def _gaussian_log_density(K: jax.Array, resid: jax.Array) -> jax.Array:
    """-1/2 r^T K^{-1} r - 1/2 log det K for a symmetric positive definite K[N, N] (no 2 pi term).

    A hand-written gradient, dK = (a a^T - K^{-1}) / 2 with a = K^{-1} r, costs one Cholesky and
    one inverse; JAX's generic Cholesky derivative does several N x N triangular solves more
    (about 4x slower on CPU). NaN (not an exception) when K is not positive definite.
    """
    value, _ = _gaussian_log_density_fwd(K, resid)
    return value


def _gaussian_log_density_fwd(K, resid):
    L = jnp.linalg.cholesky(K)
    alpha = jax.scipy.linalg.cho_solve((L, True), resid)
    value = -0.5 * jnp.dot(resid, alpha) - jnp.sum(jnp.log(jnp.diagonal(L)))
    return value, (L, alpha)


def _gaussian_log_density_bwd(residuals, g):
    L, alpha = residuals
    eye = after(jnp.eye(L.shape[0], dtype=L.dtype), alpha)  # after alpha's solves (see kernels/_ordering.py)
    K_inv = jax.scipy.linalg.cho_solve((L, True), eye)
    return g * 0.5 * (jnp.outer(alpha, alpha) - K_inv), -g * alpha


_gaussian_log_density.defvjp(_gaussian_log_density_fwd, _gaussian_log_density_bwd)


def _gamma_logpdf(x, shape, rate):
    return (shape - 1.0) * jnp.log(x) - rate * x


def log_prior(params: GPParams) -> jax.Array:
    """[M] sum of the Gamma log-priors (up to constants) of each objective's hyperparameters."""
    ls = _gamma_logpdf(jnp.exp(params.log_lengthscale), *LENGTHSCALE_PRIOR).sum(axis=-1)
    os_ = _gamma_logpdf(jnp.exp(params.log_outputscale), *OUTPUTSCALE_PRIOR)
    noise = _gamma_logpdf(jnp.exp(params.log_noise), *NOISE_PRIOR)
    return ls + os_ + noise


def log_marginal_likelihood(
    params: GPParams, X: jax.Array, Z: jax.Array, mask: jax.Array, retry: bool = True
) -> jax.Array:
    """[M] exact log marginal likelihood of the standardised outputs Z[N, M] (real rows only).

    Args:
        params: hyperparameters of the M GPs.
        X: [N, D] unit-cube inputs.
        Z: [N, M] standardised outputs (values on padding rows are ignored).
        mask: bool[N] real rows.
        retry: True: factorise with the fallback of `_safe_cholesky` (robust, for reporting);
            False: the fast differentiable path used by `fit` (NaN where K is not numerically
            positive definite, which makes `fit` skip that step).
    """
    n_real = jnp.sum(mask).astype(X.dtype)
    m = mask.astype(X.dtype)

    def one(z, log_ls, log_os, log_noise, mean):
        resid = (z - mean) * m
        if retry:
            L, alpha = _condition_one(X, mask, z, log_ls, log_os, log_noise, mean)
            density = -0.5 * jnp.dot(resid, alpha) - jnp.sum(jnp.log(jnp.diagonal(L)))
        else:
            K = _masked_train_matrix(X, mask, log_ls, log_os, log_noise)
            density = _gaussian_log_density(K, resid)
        return density - 0.5 * n_real * jnp.log(2.0 * jnp.pi)

    return jax.vmap(one, in_axes=(1, 0, 0, 0, 0))(Z, *params)


def condition(X_unit: jax.Array, Y: jax.Array, mask: jax.Array, params: GPParams) -> GPState:
    """Condition M independent GPs with fixed hyperparameters on (X_unit, Y, mask).

    Args:
        X_unit: [N, D] inputs in the unit cube.
        Y: [N, M] outputs in their original scale (padding rows arbitrary but finite).
        mask: bool[N] real rows.
        params: `GPParams` with leading axis M.
    """
    Y = jnp.where(mask[:, None], Y, 0.0)
    Z, y_mean, y_std = standardize(Y, mask)
    chol, alpha = jax.vmap(_condition_one, in_axes=(None, None, 1, 0, 0, 0, 0))(X_unit, mask, Z, *params)
    return GPState(params=params, X=X_unit, mask=mask, y_mean=y_mean, y_std=y_std, chol=chol, alpha=alpha)


def fit(
    X_unit: jax.Array,
    Y: jax.Array,
    mask: jax.Array,
    init_params: GPParams,
    n_steps: int = 100,
    learning_rate: float = 0.1,
    use_prior: bool = True,
) -> GPState:
    """Fit hyperparameters by maximising the marginal likelihood (MAP with `use_prior`), then condition.

    Adam on the log-scale parameters for `n_steps` (static) steps from `init_params`, projected onto
    the sane box after each step; a step whose loss or gradient is not finite is skipped. The loss is
    the negative (log marginal likelihood + log prior) divided by the number of real rows, summed over
    objectives (they are independent, so each objective follows its own gradient).

    Args:
        X_unit: [N, D] inputs in the unit cube.
        Y: [N, M] outputs, original scale.
        mask: bool[N] real rows (at least one).
        init_params: warm start (e.g. the previous iteration's fit).
        n_steps: number of Adam steps (0 = condition on `init_params`).
        learning_rate: Adam step size.
        use_prior: add BoTorch's classic Gamma priors.

    Returns:
        The conditioned `GPState` with the fitted parameters.
    """
    Y = jnp.where(mask[:, None], Y, 0.0)
    Z, _, _ = standardize(Y, mask)
    n_real = jnp.maximum(jnp.sum(mask), 1).astype(X_unit.dtype)

    def loss_fn(params):
        objective = log_marginal_likelihood(params, X_unit, Z, mask, retry=False)
        if use_prior:
            objective = objective + log_prior(params)
        return -jnp.sum(objective) / n_real

    optimizer = optax.adam(learning_rate)
    params = clamp_params(init_params)
    opt_state = optimizer.init(params)

    def step(carry, _):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        new_params = clamp_params(optax.apply_updates(params, updates))
        finite = jnp.isfinite(loss) & jnp.all(
            jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)])
        )
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        params = jax.tree_util.tree_map(keep, new_params, params)
        opt_state = jax.tree_util.tree_map(keep, new_opt_state, opt_state)
        return (params, opt_state), loss

    if n_steps > 0:
        (params, _), _ = jax.lax.scan(step, (params, opt_state), None, length=n_steps)
    return condition(X_unit, Y, mask, params)


def _cross_kernel(state: GPState, Xq: jax.Array) -> jax.Array:
    """[M, N, Q] prior covariance between training rows (zeroed on padding) and queries."""
    p = state.params
    m = state.mask.astype(Xq.dtype)

    def one(log_ls, log_os):
        return matern52(state.X, Xq, jnp.exp(log_ls), jnp.exp(log_os)) * m[:, None]

    return jax.vmap(one)(p.log_lengthscale, p.log_outputscale)


def posterior(state: GPState, Xq: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Marginal posterior of the latent functions at Xq[Q, D] (unit cube).

    Returns:
        (mean[Q, M], var[Q, M]) in the original output scale.
    """
    Ks = jax.vmap(after)(_cross_kernel(state, Xq), state.alpha)  # [M, N, Q]; see kernels/_ordering.py
    mean_z = state.params.mean[:, None] + jnp.einsum("mnq,mn->mq", Ks, state.alpha)
    V = jax.vmap(lambda L, k: jax.scipy.linalg.solve_triangular(L, k, lower=True))(state.chol, Ks)
    var_z = jnp.exp(state.params.log_outputscale)[:, None] - jnp.sum(V * V, axis=1)
    var_z = jnp.maximum(var_z, 0.0)
    mean = mean_z.T * state.y_std + state.y_mean
    var = var_z.T * state.y_std**2
    return mean, var


def posterior_joint(state: GPState, Xq: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Joint posterior of the latent functions at Xq[Q, D] (unit cube), objectives independent.

    Returns:
        (mean[Q, M], cov[M, Q, Q]) in the original output scale.
    """
    p = state.params
    Ks = jax.vmap(after)(_cross_kernel(state, Xq), state.alpha)  # see kernels/_ordering.py
    mean_z = p.mean[:, None] + jnp.einsum("mnq,mn->mq", Ks, state.alpha)
    V = jax.vmap(lambda L, k: jax.scipy.linalg.solve_triangular(L, k, lower=True))(state.chol, Ks)
    Kqq = jax.vmap(lambda ls, os_: matern52(Xq, Xq, jnp.exp(ls), jnp.exp(os_)))(p.log_lengthscale, p.log_outputscale)
    cov_z = Kqq - jnp.einsum("mnq,mnr->mqr", V, V)
    cov_z = 0.5 * (cov_z + jnp.swapaxes(cov_z, 1, 2))
    mean = mean_z.T * state.y_std + state.y_mean
    cov = cov_z * (state.y_std**2)[:, None, None]
    return mean, cov


def sample_posterior(key: jax.Array, state: GPState, Xq: jax.Array, n_samples: int) -> jax.Array:
    """Joint samples of the latent functions at Xq[Q, D]: float[n_samples, Q, M], original scale."""
    mean, cov = posterior_joint(state, Xq)
    scale = jnp.mean(jnp.diagonal(cov, axis1=1, axis2=2), axis=1)  # [M]
    L = jax.vmap(_safe_cholesky)(cov, _jitter(cov.dtype) * scale)  # [M, Q, Q]
    eps = _random.normal(key, (n_samples, Xq.shape[0], mean.shape[1]), mean.dtype)
    return mean + jnp.einsum("mqr,srm->sqm", L, eps)
