"""Synthetic problems: values against independent references, maximum hypervolumes, batching, options."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.problems import get_problem
from benchmarks.problems import synthetic as syn



def _pymoo_problem(name: str, **kwargs):
    """pymoo's implementation, the independent reference for ZDT and DTLZ2 (skip when pymoo is absent)."""
    return pytest.importorskip("pymoo.problems").get_problem(name, **kwargs)


def _eval(problem, X) -> np.ndarray:
    return np.asarray(problem.evaluate(jnp.asarray(X, jnp.float32)), np.float64)


def _hv(Y: np.ndarray, ref) -> float:
    Y = np.asarray(Y, np.float64)
    return float(moocore.hypervolume(Y[moocore.is_nondominated(Y)], ref=np.asarray(ref, np.float64)))


# ------------------------------------------------------------------------------------------------
# values at reference inputs


def test_branin_at_its_three_global_minima():
    # Branin's global minimum 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475) on [-5, 10] x [0, 15]
    minima = np.array([[-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]])
    X = np.stack([(minima[:, 0] + 5.0) / 15.0, minima[:, 1] / 15.0], axis=1)
    Y = _eval(get_problem("branin_currin"), X)
    np.testing.assert_allclose(Y[:, 0], 0.397887, atol=2e-5)


def test_currin_at_hand_computed_points():
    problem = get_problem("branin_currin")
    # x = (0.5, 0.5): (1 - e^-1) * 1868.5 / 159.5; x = (0, 1): (1 - e^-0.5) * 60 / 20; x1 = 0: factor 1 -> 3 at x0 = 0
    X = np.array([[0.5, 0.5], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    expected = [
        (1 - math.exp(-1.0)) * 1868.5 / 159.5,
        (1 - math.exp(-0.5)) * 3.0,
        3.0,
        (1 - math.exp(-0.5)) * (2300 + 1900 + 2092 + 60) / (100 + 500 + 4 + 20),
    ]
    np.testing.assert_allclose(_eval(problem, X)[:, 1], expected, rtol=1e-6)
    # Branin at (x0, x1) = (0, 1) is (15 - 5.1*25/(4 pi^2) - 25/pi - 6)^2 + 10 (1 - 1/(8 pi)) cos(-5) + 10
    b = (15 - 5.1 * 25 / (4 * math.pi**2) - 25 / math.pi - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(-5) + 10
    np.testing.assert_allclose(_eval(problem, X[1:2])[0, 0], b, rtol=1e-6)


def _vehicle_safety_reference(x: np.ndarray) -> np.ndarray:
    """Tanabe & Ishibuchi's RE3-5-4 (vehicle crashworthiness), typed term by term from the paper's table."""
    x1, x2, x3, x4, x5 = x
    mass = 1640.2823 + 2.3573285 * x1 + 2.3220035 * x2 + 4.5688768 * x3 + 7.7213633 * x4 + 4.4559504 * x5
    ain = (
        6.5856 + 1.15 * x1 - 1.0427 * x2 + 0.9738 * x3 + 0.8364 * x4 - 0.3695 * x1 * x4 + 0.0861 * x1 * x5
        + 0.3628 * x2 * x4 - 0.1106 * x1 * x1 - 0.3437 * x3 * x3 + 0.1764 * x4 * x4
    )
    intrusion = (
        -0.0551 + 0.0181 * x1 + 0.1024 * x2 + 0.0421 * x3 - 0.0073 * x1 * x2 + 0.024 * x2 * x3
        - 0.0118 * x2 * x4 - 0.0204 * x3 * x4 - 0.008 * x3 * x5 - 0.0241 * x2 * x2 + 0.0109 * x4 * x4
    )
    return np.array([mass, ain, intrusion])


def test_vehicle_safety_against_typed_formula_and_quadratic_form():
    from benchmarks.compute_max_hv import vs_values

    rng = np.random.default_rng(3)
    X = np.concatenate([rng.uniform(1, 3, (20, 5)), np.ones((1, 5)), np.full((1, 5), 3.0)])
    Y = _eval(get_problem("vehicle_safety"), X)
    expected = np.stack([_vehicle_safety_reference(x) for x in X])
    np.testing.assert_allclose(Y, expected, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(vs_values(X), expected, rtol=1e-12, atol=1e-12)
    # at x = 1: mass is the constant plus the sum of the linear coefficients
    assert Y[-2, 0] == pytest.approx(1640.2823 + 2.3573285 + 2.3220035 + 4.5688768 + 7.7213633 + 4.4559504, rel=1e-6)


@pytest.mark.parametrize("n_obj,dim", [(2, 6), (3, 7), (5, 9), (10, 12)])
def test_dtlz2_matches_pymoo_and_front_is_unit_sphere(n_obj, dim):
    problem = get_problem("dtlz2", n_obj=n_obj, dim=dim)
    rng = np.random.default_rng(n_obj)
    X = rng.uniform(0, 1, (50, dim))
    reference = _pymoo_problem("dtlz2", n_var=dim, n_obj=n_obj).evaluate(X)
    np.testing.assert_allclose(_eval(problem, X), reference, rtol=2e-5, atol=2e-6)
    X[:, n_obj - 1 :] = 0.5  # g = 0: on the Pareto front
    Y = _eval(problem, X)
    np.testing.assert_allclose(np.sum(Y**2, axis=1), 1.0, atol=1e-5)
    assert np.all(Y >= -1e-7)


@pytest.mark.parametrize("name", ["zdt1", "zdt2", "zdt3"])
@pytest.mark.parametrize("dim", [30, 5])
def test_zdt_matches_pymoo(name, dim):
    problem = get_problem(name, dim=dim)
    X = np.random.default_rng(dim).uniform(0, 1, (64, dim))
    reference = _pymoo_problem(name, n_var=dim).evaluate(X)
    np.testing.assert_allclose(_eval(problem, X), reference, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "name,front",
    [
        ("zdt1", lambda f: 1 - np.sqrt(f)),
        ("zdt2", lambda f: 1 - f**2),
        ("zdt3", lambda f: 1 - np.sqrt(f) - f * np.sin(10 * np.pi * f)),
    ],
)
def test_zdt_on_the_front(name, front):
    f0 = np.linspace(0, 1, 101)
    X = np.zeros((101, 30))
    X[:, 0] = f0  # g = 1
    Y = _eval(get_problem(name), X)
    np.testing.assert_allclose(Y[:, 0], f0, atol=1e-7)
    np.testing.assert_allclose(Y[:, 1], front(f0), atol=2e-6)


# ------------------------------------------------------------------------------------------------
# maximum hypervolumes


def test_dtlz2_exact_max_hv_many_objectives():
    problem = get_problem("dtlz2", n_obj=10, dim=12)
    assert problem.max_hv == pytest.approx(2.5912520655298095, abs=1e-6)
    assert problem.ref_point == (1.1,) * 10


def test_dtlz2_max_hv_matches_dense_front_two_objectives():
    problem = get_problem("dtlz2", n_obj=2, dim=18)
    X = np.full((20001, 18), 0.5)
    X[:, 0] = np.linspace(0, 1, 20001)
    hv = _hv(_eval(problem, X), problem.ref_point)
    assert hv <= problem.max_hv + 1e-6
    assert hv == pytest.approx(problem.max_hv, abs=1e-4)
    assert problem.max_hv == pytest.approx(1.21 - math.pi / 4, abs=1e-12)


def test_dtlz2_max_hv_matches_dense_front_three_objectives():
    problem = get_problem("dtlz2", n_obj=3, dim=7)
    g = np.linspace(0, 1, 301)
    X = np.full((g.size**2, 7), 0.5)
    X[:, :2] = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    hv = _hv(_eval(problem, X), problem.ref_point)
    assert hv <= problem.max_hv + 1e-6
    assert hv == pytest.approx(problem.max_hv, abs=5e-3)  # staircase gap of a 301^2 grid on the sphere


@pytest.mark.parametrize("name", ["zdt1", "zdt2", "zdt3"])
def test_zdt_max_hv_matches_dense_front(name):
    problem = get_problem(name)
    X = np.zeros((200001, 30))
    X[:, 0] = np.linspace(0, 1, 200001)
    hv = _hv(_eval(problem, X), problem.ref_point)
    assert hv <= problem.max_hv + 1e-5
    assert hv == pytest.approx(problem.max_hv, abs=1e-4)


def test_zdt_max_hv_equals_botorch_published_values():
    # BoTorch's constants for reference point (11, 11): 120 + 2/3, 120 + 1/3, 128.77811613069076
    assert get_problem("zdt1").max_hv == pytest.approx(120 + 2 / 3, abs=1e-12)
    assert get_problem("zdt2").max_hv == pytest.approx(120 + 1 / 3, abs=1e-12)
    assert get_problem("zdt3").max_hv == pytest.approx(128.77811613069076, abs=1e-9)


def test_zdt3_running_min_integral_against_fine_quadrature():
    from benchmarks.compute_max_hv import zdt3_running_min_integral

    integral, m1, _ = zdt3_running_min_integral()
    t = np.linspace(0, 1, 2_000_001)
    running = np.minimum.accumulate(1 - np.sqrt(t) - t * np.sin(10 * np.pi * t))
    assert integral == pytest.approx(np.trapezoid(running, t), abs=1e-9)
    assert m1 == pytest.approx(running[-1], abs=1e-9)
    assert (integral, m1) == (syn.ZDT3_RUNNING_MIN_INTEGRAL, syn.ZDT3_FRONT_MIN_F1)


def _branin_currin_dense(n: int) -> np.ndarray:
    # the front touches the edge x1 = 1, so that edge is sampled much more finely than the grid
    g = np.linspace(0, 1, n)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    edge = np.stack([np.linspace(0, 0.1, 20 * n), np.ones(20 * n)], -1)
    return np.concatenate([grid, edge])


def test_branin_currin_max_hv_bounds_dense_sample_and_beats_published():
    problem = get_problem("branin_currin")
    hv = _hv(_eval(problem, _branin_currin_dense(401)), problem.ref_point)
    assert hv > syn.BRANIN_CURRIN_PUBLISHED_MAX_HV  # the published value is beaten by plain sampling
    assert hv < problem.max_hv
    assert problem.max_hv - hv < 0.05
    assert syn.BRANIN_CURRIN_MAX_HV_LOWER < problem.max_hv


def _vehicle_safety_faces(grid: int) -> np.ndarray:
    # every face of [1, 3]^5 with at most two free coordinates, on a regular grid
    g = np.linspace(1, 3, grid)
    square = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    parts = []
    for free in itertools.combinations(range(5), 2):
        fixed = [j for j in range(5) if j not in free]
        for values in itertools.product((1.0, 3.0), repeat=3):
            X = np.empty((len(square), 5))
            X[:, list(free)] = square
            X[:, fixed] = values
            parts.append(X)
    return np.concatenate(parts)


def test_vehicle_safety_max_hv_bounds_dense_sample_and_beats_published():
    problem = get_problem("vehicle_safety")
    hv = _hv(_eval(problem, _vehicle_safety_faces(100)), problem.ref_point)
    assert hv > syn.VEHICLE_SAFETY_PUBLISHED_MAX_HV
    assert hv < problem.max_hv
    assert problem.max_hv - hv < 0.2
    assert syn.VEHICLE_SAFETY_MAX_HV_LOWER < problem.max_hv


def test_every_problem_documents_its_max_hv():
    for name in ("branin_currin", "vehicle_safety", "dtlz2", "zdt1", "zdt2", "zdt3"):
        problem = get_problem(name)
        assert problem.max_hv is not None and math.isfinite(problem.max_hv)
        assert problem.max_hv_note
        assert problem.max_hv < math.prod(problem.ref_point_min() - _ideal_lower_bound(name))


def _ideal_lower_bound(name):
    # crude lower bounds of each objective (the HV cannot exceed the box from them to the reference point)
    return {
        "branin_currin": np.array([0.0, 0.0]),
        "vehicle_safety": np.array([1661.0, 5.0, 0.0]),
        "dtlz2": np.zeros(2),
        "zdt1": np.zeros(2),
        "zdt2": np.zeros(2),
        "zdt3": np.array([0.0, -1.0]),
    }[name]


# ------------------------------------------------------------------------------------------------
# interface: shapes, batching, metadata, options


@pytest.mark.parametrize(
    "name,options,dim,n_obj",
    [
        ("branin_currin", {}, 2, 2),
        ("vehicle_safety", {}, 5, 3),
        ("dtlz2", {"n_obj": 3, "dim": 7}, 7, 3),
        ("dtlz2", {}, 11, 2),
        ("zdt1", {}, 30, 2),
        ("zdt2", {"dim": 4}, 4, 2),
        ("zdt3", {}, 30, 2),
    ],
)
def test_shapes_jit_vmap_and_metadata(name, options, dim, n_obj):
    problem = get_problem(name, **options)
    assert problem.dim == dim and problem.n_obj == n_obj
    assert len(problem.directions) == len(problem.ref_point) == len(problem.objective_names) == n_obj
    assert problem.directions == (1,) * n_obj  # all minimised
    X = problem.space.sample(jax.random.PRNGKey(0), 16)
    Y = problem.evaluate(X)
    assert Y.shape == (16, n_obj) and Y.dtype == jnp.float32
    single = jax.jit(problem.evaluate_fn)(problem.data, X[3])
    assert single.shape == (n_obj,) and single.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(jax.jit(problem.evaluate)(X)), np.asarray(Y), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(single), np.asarray(Y[3]), rtol=1e-6, atol=1e-6)
    looped = np.stack([np.asarray(problem.evaluate_fn(problem.data, x)) for x in X[:3]])
    np.testing.assert_allclose(looped, np.asarray(Y[:3]), rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(np.asarray(Y)))


@settings(max_examples=10, deadline=None)
@given(n_obj=st.integers(2, 6), extra=st.integers(0, 5), seed=st.integers(0, 2**16))
def test_dtlz2_any_shape_matches_pymoo(n_obj, extra, seed):
    dim = n_obj + extra
    problem = get_problem("dtlz2", n_obj=n_obj, dim=dim)
    X = np.random.default_rng(seed).uniform(0, 1, (8, dim))
    reference = _pymoo_problem("dtlz2", n_var=dim, n_obj=n_obj).evaluate(X)
    np.testing.assert_allclose(_eval(problem, X), reference, rtol=2e-5, atol=2e-6)
    assert problem.max_hv == pytest.approx(1.1**n_obj - math.pi ** (n_obj / 2) / (2**n_obj * math.gamma(n_obj / 2 + 1)))


def test_custom_reference_points():
    problem = get_problem("dtlz2", n_obj=3, dim=5, ref_point=[2.0, 1.5, 1.0])
    assert problem.max_hv == pytest.approx(3.0 - math.pi / 6)
    assert get_problem("dtlz2", ref_point=0.9).max_hv is None  # cuts the front: no closed form
    assert get_problem("zdt1", ref_point=(2.0, 3.0)).max_hv == pytest.approx(6.0 - 1.0 / 3.0)
    assert get_problem("zdt2", ref_point=(0.5, 3.0)).max_hv is None
    assert get_problem("zdt3", ref_point=(1.0, -0.5)).max_hv is None  # ZDT3's front reaches f1 < -0.5


@pytest.mark.parametrize(
    "name,options,match",
    [
        ("dtlz2", {"n_obj": 1}, "n_obj must be >= 2"),
        ("dtlz2", {"n_obj": 4, "dim": 3}, "dim must be >= n_obj"),
        ("dtlz2", {"n_obj": 2.5}, "n_obj must be an integer"),
        ("dtlz2", {"n_objectives": 3}, "unknown option"),
        ("dtlz2", {"ref_point": [1.1, 1.1, 1.1]}, "ref_point needs 1 or 2 entries"),
        ("dtlz2", {"ref_point": float("nan")}, "ref_point must be finite"),
        ("dtlz2", {"ref_point": -1}, r"ref_point \[-1.0, -1.0\] must exceed the ideal point \[0.0, 0.0\]"),
        ("dtlz2", {"n_obj": 3, "ref_point": [1.0, 0.0, 1.0]}, "must exceed the ideal point"),
        ("zdt1", {"ref_point": [11.0, 0.0]}, "must exceed the ideal point"),
        ("zdt3", {"ref_point": [1.0, -0.8]}, "must exceed the ideal point"),
        ("zdt1", {"dim": 1}, "dim must be >= 2"),
        ("zdt3", {"n_obj": 3}, "unknown option"),
        ("branin_currin", {"dim": 3}, "unknown option"),
        ("vehicle_safety", {"noise": 0.1}, "unknown option"),
    ],
)
def test_bad_options_raise_clear_value_error(name, options, match):
    with pytest.raises(ValueError, match=match) as info:
        get_problem(name, **options)
    assert name in str(info.value)
