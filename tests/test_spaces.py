"""Search spaces and problem declarations: exact sizes, bounds kept, clear errors for bad input."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from lamoo_jax import Box, Categorical, FiniteSet, Problem
from lamoo_jax.tree import node_depth


def test_categorical_cardinality_is_exact_beyond_int64():
    assert Categorical.create((2,) * 64).cardinality == 2**64  # numpy's int64 product gave 0
    assert Categorical.create((5,) * 28).cardinality == 5**28
    assert Categorical.create((3, 1, 7)).cardinality == 21


def test_box_from_unit_stays_within_the_bounds():
    # lower + 1 * (upper - lower) rounds above upper in float32 for about one pair in ten.
    rng = np.random.default_rng(0)
    lower = rng.uniform(-10, 0, 20_000).astype(np.float32)
    upper = rng.uniform(0.1, 10, 20_000).astype(np.float32)
    box = Box.create(lower, upper)
    for u in (0.0, 1.0, 1.5, -0.5):
        X = np.asarray(box.from_unit(jnp.full((1, lower.size), u, jnp.float32)))[0]
        assert np.all(X >= lower) and np.all(X <= upper)
    np.testing.assert_array_equal(np.asarray(box.from_unit(jnp.zeros((1, lower.size))))[0], lower)


def test_bad_space_declarations_raise_clear_errors():
    with pytest.raises(ValueError, match="span more than float32"):
        Box.create([-3e38], [3e38])
    with pytest.raises(ValueError, match="choice counts must be integers"):
        Categorical.create([2.7, 3])
    with pytest.raises(ValueError, match="choice counts must be integers"):
        Categorical.create([True, 3])
    assert Categorical.create([3.0, np.int64(2)]).n_choices == (3, 2)
    with pytest.raises(ValueError, match="row 2 repeats row 1"):
        FiniteSet.create([[0.0], [1.0], [1.0]])
    with pytest.raises(ValueError, match="row 1 repeats row 0"):
        FiniteSet.create([[0.1], [0.1 + 1e-12]])  # distinct in float64, one point in float32


def test_bad_problem_declarations_raise_clear_errors():
    space = Box.create([0.0], [1.0])

    def evaluate(data, x):
        return jnp.stack([x[0], 1 - x[0]])

    with pytest.raises(ValueError, match="not the string 'ab'"):
        Problem.create(space=space, evaluate_fn=evaluate, ref_point=[1.1, 1.1], objective_names="ab")
    with pytest.raises(ValueError, match="unknown objective direction True"):
        Problem.create(space=space, evaluate_fn=evaluate, ref_point=[1.1, 1.1], directions=[True, -1])
    problem = Problem.create(space=space, evaluate_fn=evaluate, ref_point=[1.1, 1.1], directions=["min", -1.0])
    assert problem.directions == (1, -1)
    with pytest.raises(ValueError, match="directions takes one entry per objective .* got 'max'"):
        Problem.create(space=space, evaluate_fn=evaluate, ref_point=[1.1], directions="max")  # read letter by letter before
    with pytest.raises(ValueError, match="directions takes one entry per objective"):
        Problem.create(space=space, evaluate_fn=evaluate, ref_point=[1.1, 1.1], directions={"a": "min", "b": "max"})
    for bad in (float("nan"), -1.0):
        with pytest.raises(ValueError, match="max_hv must be a finite non-negative number"):
            Problem.create(space=space, evaluate_fn=evaluate, ref_point=[1.1, 1.1], max_hv=bad)
    with pytest.raises(ValueError, match="space must be a lamoo_jax Box, Categorical or FiniteSet; got tuple"):
        Problem.create(space=(0, 1), evaluate_fn=evaluate, ref_point=[1.1, 1.1])
    with pytest.raises(ValueError, match="one choice count per variable"):
        Categorical.create(3)


def test_node_depth_is_exact_for_deep_heaps():
    ids = np.array([0, 1, 2, 3, 6, 7, 2**20 - 2, 2**20 - 1, 2**21 - 2, 2**21 - 3, 2**30 - 2, 2**31 - 2])
    expected = [math.floor(math.log2(i + 1)) for i in ids.tolist()]
    np.testing.assert_array_equal(np.asarray(node_depth(jnp.asarray(ids, jnp.int32))), expected)
