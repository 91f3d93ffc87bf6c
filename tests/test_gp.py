"""GP regression against scikit-learn, marginal-likelihood fitting, and exact masking."""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from lamoo_jax.samplers import gp


@contextlib.contextmanager
def float64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def _problem(seed=0, n=25, d=3, m=2, q=40):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    Y = np.stack([np.sin(3 * X[:, 0]) + X[:, 1] ** 2, 10 * np.cos(2 * X.sum(1)) + 5], axis=1)[:, :m]
    Y = Y + 0.05 * rng.normal(size=Y.shape)
    Xq = rng.uniform(size=(q, d))
    lengthscales = rng.uniform(0.2, 1.5, size=(m, d))
    outputscales = rng.uniform(0.5, 2.0, size=m)
    noises = rng.uniform(1e-3, 5e-2, size=m)
    return X, Y, Xq, lengthscales, outputscales, noises


def _sklearn_posterior(X, y, Xq, lengthscale, outputscale, noise):
    kernel = ConstantKernel(outputscale, "fixed") * Matern(lengthscale, "fixed", nu=2.5) + WhiteKernel(noise, "fixed")
    model = GaussianProcessRegressor(kernel, alpha=1e-10, optimizer=None, normalize_y=True)
    model.fit(X, y)
    mean, std = model.predict(Xq, return_std=True)
    # sklearn's predictive variance includes the white noise at the query; ours is the latent f.
    return mean, std**2 - noise * np.std(y) ** 2


@jax.jit
def _condition_and_predict(X, Y, mask, params, Xq):
    return gp.posterior(gp.condition(X, Y, mask, params), Xq)


@jax.jit
def _condition_and_predict_joint(X, Y, mask, params, Xq):
    state = gp.condition(X, Y, mask, params)
    return gp.posterior(state, Xq), gp.posterior_joint(state, Xq)


def _params(lengthscales, outputscales, noises, dtype):
    return gp.GPParams(
        log_lengthscale=jnp.log(jnp.asarray(lengthscales, dtype)),
        log_outputscale=jnp.log(jnp.asarray(outputscales, dtype)),
        log_noise=jnp.log(jnp.asarray(noises, dtype)),
        mean=jnp.zeros(len(outputscales), dtype),
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_posterior_matches_sklearn_float64(seed):
    X, Y, Xq, ls, os_, noise = _problem(seed)
    with float64():
        mean, var = _condition_and_predict(
            jnp.asarray(X), jnp.asarray(Y), jnp.ones(len(X), bool), _params(ls, os_, noise, jnp.float64), jnp.asarray(Xq)
        )
        mean, var = np.asarray(mean), np.asarray(var)
    assert mean.dtype == np.float64
    for m in range(Y.shape[1]):
        ref_mean, ref_var = _sklearn_posterior(X, Y[:, m], Xq, ls[m], os_[m], noise[m])
        scale = np.std(Y[:, m])
        np.testing.assert_allclose(mean[:, m], ref_mean, atol=1e-6 * scale, rtol=1e-6)
        np.testing.assert_allclose(var[:, m], ref_var, atol=1e-6 * scale**2, rtol=1e-6)


def test_posterior_matches_sklearn_float32():
    X, Y, Xq, ls, os_, noise = _problem(2)
    mean, var = map(np.asarray, _condition_and_predict(
        jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32), jnp.ones(len(X), bool),
        _params(ls, os_, noise, jnp.float32), jnp.asarray(Xq, jnp.float32)))
    for m in range(Y.shape[1]):
        ref_mean, ref_var = _sklearn_posterior(X, Y[:, m], Xq, ls[m], os_[m], noise[m])
        scale = np.std(Y[:, m])
        # 1e-4 relative to the output scale; float32 round-off on a condition number ~1e3.
        np.testing.assert_allclose(mean[:, m], ref_mean, atol=1e-4 * scale * 10, rtol=0)
        np.testing.assert_allclose(var[:, m], ref_var, atol=1e-4 * scale**2 * 10, rtol=0)


def test_joint_posterior_diagonal_and_log_marginal_likelihood_match_sklearn():
    X, Y, Xq, ls, os_, noise = _problem(3, m=1)
    with float64():
        params = _params(ls, os_, noise, jnp.float64)
        (mean, var), (mean_j, cov) = _condition_and_predict_joint(
            jnp.asarray(X), jnp.asarray(Y), jnp.ones(len(X), bool), params, jnp.asarray(Xq))
        np.testing.assert_allclose(np.asarray(mean_j), np.asarray(mean), rtol=1e-10)
        np.testing.assert_allclose(np.diagonal(np.asarray(cov)[0]), np.asarray(var)[:, 0], rtol=1e-8, atol=1e-12)
        Z, _, _ = gp.standardize(jnp.asarray(Y), jnp.ones(len(X), bool))
        lml = float(gp.log_marginal_likelihood(params, jnp.asarray(X), Z, jnp.ones(len(X), bool))[0])
    kernel = ConstantKernel(os_[0], "fixed") * Matern(ls[0], "fixed", nu=2.5) + WhiteKernel(noise[0], "fixed")
    model = GaussianProcessRegressor(kernel, alpha=1e-10, optimizer=None, normalize_y=True).fit(X, Y[:, 0])
    # Both work on the standardised scale with zero mean.
    assert lml == pytest.approx(model.log_marginal_likelihood_value_, rel=1e-8)
    # Joint covariance of the query points: sklearn's return_cov includes the white noise on the diagonal.
    _, ref_cov = model.predict(Xq, return_cov=True)
    ref_cov = ref_cov - noise[0] * np.std(Y[:, 0]) ** 2 * np.eye(len(Xq))
    np.testing.assert_allclose(np.asarray(cov)[0], ref_cov, atol=1e-8 * np.std(Y[:, 0]) ** 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_masked_rows_are_ignored_exactly(seed):
    X, Y, Xq, ls, os_, noise = _problem(seed, n=18)
    rng = np.random.default_rng(seed + 10)
    N = 30
    rows = np.sort(rng.choice(N, size=len(X), replace=False))
    Xp = rng.uniform(size=(N, X.shape[1]))
    Yp = rng.normal(size=(N, Y.shape[1])) * 100.0
    Xp[rows], Yp[rows] = X, Y
    mask = np.zeros(N, bool)
    mask[rows] = True
    with float64():
        params = _params(ls, os_, noise, jnp.float64)
        dense = _condition_and_predict(jnp.asarray(X), jnp.asarray(Y), jnp.ones(len(X), bool), params, jnp.asarray(Xq))
        padded = _condition_and_predict(jnp.asarray(Xp), jnp.asarray(Yp), jnp.asarray(mask), params, jnp.asarray(Xq))
        for a, b in zip(dense, padded):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-10, atol=1e-12)
        Zd, _, _ = gp.standardize(jnp.asarray(Y), jnp.ones(len(X), bool))
        Zp, _, _ = gp.standardize(jnp.asarray(Yp), jnp.asarray(mask))
        lml = jax.jit(gp.log_marginal_likelihood)
        np.testing.assert_allclose(
            np.asarray(lml(params, jnp.asarray(Xp), Zp, jnp.asarray(mask))),
            np.asarray(lml(params, jnp.asarray(X), Zd, jnp.ones(len(X), bool))),
            rtol=1e-10,
        )
        # The gradient `fit` follows is the same too.
        grad = jax.jit(jax.grad(lambda p, X, Z, m: gp.log_marginal_likelihood(p, X, Z, m, retry=False).sum()))
        gd = grad(params, jnp.asarray(X), Zd, jnp.ones(len(X), bool))
        gp_ = grad(params, jnp.asarray(Xp), Zp, jnp.asarray(mask))
        for a, b in zip(gd, gp_):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-8, atol=1e-10)


def test_fit_increases_likelihood_and_recovers_lengthscale():
    # A 1-D draw with a known lengthscale: f(x) = sin(2 pi x / 0.5) has a characteristic scale
    # ~0.1 - 0.2 in the unit cube, a linear function a long one. The fit must tell them apart.
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(40, 1)).astype(np.float32)
    mask = jnp.ones(40, bool)
    wiggly = np.sin(4 * np.pi * X[:, 0]) + 0.01 * rng.normal(size=40)
    smooth = 2 * X[:, 0] + 0.01 * rng.normal(size=40)
    Y = jnp.asarray(np.stack([wiggly, smooth], 1), jnp.float32)
    init = gp.default_params(1, 2)
    Z, _, _ = gp.standardize(Y, mask)
    lml = jax.jit(gp.log_marginal_likelihood)
    before = lml(init, jnp.asarray(X), Z, mask)
    state = jax.jit(gp.fit, static_argnames=("n_steps", "use_prior"))(jnp.asarray(X), Y, mask, init, n_steps=150, use_prior=False)
    after = lml(state.params, jnp.asarray(X), Z, mask)
    assert np.all(np.asarray(after) > np.asarray(before) + 1.0)
    ls = np.exp(np.asarray(state.params.log_lengthscale)[:, 0])
    assert 0.05 < ls[0] < 0.4, ls
    assert ls[1] > 1.0, ls
    noise = np.exp(np.asarray(state.params.log_noise))
    assert np.all(noise < 1e-2), noise
    # The fitted GP interpolates held-out points of the wiggly function well.
    Xt = np.linspace(0.05, 0.95, 50, dtype=np.float32)[:, None]
    mean, var = jax.jit(gp.posterior)(state, jnp.asarray(Xt))
    assert np.max(np.abs(np.asarray(mean)[:, 0] - np.sin(4 * np.pi * Xt[:, 0]))) < 0.1
    assert np.all(np.asarray(var) >= 0)


def test_samples_match_joint_posterior_and_vmap_over_keys():
    X, Y, Xq, ls, os_, noise = _problem(4, q=5)
    state = jax.jit(gp.condition)(jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32), jnp.ones(len(X), bool),
                                  _params(ls, os_, noise, jnp.float32))
    Xq = jnp.asarray(Xq, jnp.float32)
    sample = jax.jit(gp.sample_posterior, static_argnums=3)
    samples = np.asarray(sample(jax.random.key(0), state, Xq, 20000))
    mean, cov = map(np.asarray, jax.jit(gp.posterior_joint)(state, Xq))
    np.testing.assert_allclose(samples.mean(0), mean, atol=4 * np.sqrt(np.diagonal(cov, axis1=1, axis2=2).T.max() / 20000) + 1e-4)
    for m in range(2):
        emp = np.cov(samples[:, :, m].T)
        np.testing.assert_allclose(emp, cov[m], atol=0.05 * cov[m].diagonal().max())
    keys = jax.random.split(jax.random.key(1), 3)
    batched = jax.jit(jax.vmap(lambda k: gp.sample_posterior(k, state, Xq, 4)))(keys)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(sample(keys[i], state, Xq, 4)), rtol=1e-4, atol=1e-4)


def test_hand_written_gradient_matches_autodiff():
    X, Y, _, ls, os_, noise = _problem(5, n=15)
    mask = jnp.asarray(np.arange(15) < 12)
    with float64():
        params = _params(ls, os_, noise, jnp.float64)
        Z, _, _ = gp.standardize(jnp.asarray(Y), mask)
        fast = jax.jit(jax.grad(lambda p: gp.log_marginal_likelihood(p, jnp.asarray(X), Z, mask, retry=False).sum()))(params)
        # retry=True differentiates through jnp.linalg.cholesky with JAX's generic rule.
        slow = jax.jit(jax.grad(lambda p: gp.log_marginal_likelihood(p, jnp.asarray(X), Z, mask, retry=True).sum()))(params)
        for a, b in zip(fast, slow):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-10)
        assert np.any(np.abs(np.asarray(fast.log_lengthscale)) > 1e-3)
