"""Generic finite-table problem and the NASLib NB301 / NB101 samples.

References: brute-force hypervolume on the grid of point coordinates, O(n^2) brute-force dominance,
moocore, and the JSON files re-read here independently of the problem code.
"""

from __future__ import annotations

import ast
import csv
import itertools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.problems import get_problem
from benchmarks.problems.table import (
    _hypervolume_numpy,
    exact_hypervolume,
    finite_table_problem,
    pareto_front_mask,
    table_problem,
)

moocore = pytest.importorskip("moocore", reason="moocore (test extra) is needed as the HV reference")

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NB301_JSON = DATA_DIR / "nasbench301" / "naslib-zc" / "zc_nasbench301.json"
NB101_JSON = DATA_DIR / "nasbench101" / "naslib-zc" / "zc_nasbench101.json"


def brute_force_hv(Y_min: np.ndarray, ref: np.ndarray) -> float:
    """Volume of the union of boxes [y, ref], summed over the cells of the coordinate grid."""
    Y = Y_min[np.all(Y_min < ref, axis=1)]
    if Y.shape[0] == 0:
        return 0.0
    axes = [np.unique(np.append(Y[:, j], ref[j])) for j in range(Y.shape[1])]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        low = np.array([axes[j][c] for j, c in enumerate(cell)])
        if np.any(np.all(Y <= low, axis=1)):
            total += float(np.prod([axes[j][c + 1] - axes[j][c] for j, c in enumerate(cell)]))
    return total


def brute_force_front(Y_min: np.ndarray) -> np.ndarray:
    le = np.all(Y_min[:, None, :] <= Y_min[None, :, :], axis=-1)
    lt = np.any(Y_min[:, None, :] < Y_min[None, :, :], axis=-1)
    dominated = np.any(le & lt, axis=0)
    return ~dominated


def write_csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def random_table(seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    enc = rng.permutation(np.arange(n * 3).reshape(n, 3) % 7 + np.arange(n)[:, None] * 10).astype(float)
    vals = np.round(rng.normal(size=(n, 3)) * 10, 3)
    return enc, vals


# ------------------------------------------------------------------------------------------------
# Hypervolume / Pareto helpers


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=2, max_value=3),
    st.integers(min_value=1, max_value=14),
    st.integers(min_value=0, max_value=2**31 - 1),
)
def test_numpy_hv_and_front_match_brute_force(n_obj, n, seed):
    rng = np.random.default_rng(seed)
    # Few distinct values so ties and duplicates occur often.
    Y = rng.integers(0, 5, size=(n, n_obj)).astype(float)
    ref = np.full(n_obj, 4.5)
    ref[0] = 3.5  # some points lie outside the reference box
    assert _hypervolume_numpy(Y, ref) == pytest.approx(brute_force_hv(Y, ref), abs=1e-9)
    np.testing.assert_array_equal(pareto_front_mask(Y), brute_force_front(Y))


def test_exact_hypervolume_uses_moocore_for_four_objectives():
    rng = np.random.default_rng(3)
    Y = rng.random((30, 4))
    value, note = exact_hypervolume(Y, np.full(4, 1.1))
    assert value == pytest.approx(moocore.hypervolume(Y, ref=np.full(4, 1.1)), rel=1e-12)
    assert "moocore" in note


# ------------------------------------------------------------------------------------------------
# table_problem from files


def test_csv_round_trip_directions_ref_and_max_hv(tmp_path):
    enc, vals = random_table(0)
    path = tmp_path / "bench.csv"
    write_csv(path, ["a", "acc", "b", "lat", "c", "size"], [
        [e[0], v[0], e[1], v[1], e[2], v[2]] for e, v in zip(enc, vals)
    ])
    problem = get_problem("table", path=str(path), objectives={"acc": "max", "lat": "min", "size": "min"})
    assert problem.name == "table_bench"
    assert problem.objective_names == ("acc", "lat", "size")
    assert problem.directions == (-1, 1, 1)
    assert problem.space.cardinality == 40
    np.testing.assert_array_equal(np.asarray(problem.space.encodings), enc.astype(np.float32))
    rows = jnp.arange(40, dtype=jnp.int32)[:, None]
    Y = np.asarray(jax.jit(problem.evaluate)(rows))
    np.testing.assert_array_equal(Y, vals.astype(np.float32))
    Y_min = np.asarray(problem.to_minimization(Y), dtype=np.float64)
    np.testing.assert_array_equal(Y_min, vals.astype(np.float32) * np.array([-1, 1, 1]))
    ref_min = problem.ref_point_min()
    span = Y_min.max(0) - Y_min.min(0)
    # worst + 10% of the range, rounded up to the float32 number the runs measure against
    assert np.array_equal(ref_min.astype(np.float32), ref_min) and np.all(ref_min >= Y_min.max(0) + 0.1 * span)
    np.testing.assert_allclose(ref_min, Y_min.max(0) + 0.1 * span, rtol=1.2e-7)
    assert np.all(Y_min < ref_min)
    assert problem.max_hv == pytest.approx(brute_force_hv(Y_min, ref_min), rel=1e-9)
    assert problem.max_hv == pytest.approx(moocore.hypervolume(Y_min, ref=ref_min), rel=1e-12)


def test_explicit_encoding_columns_and_ref_point(tmp_path):
    enc, vals = random_table(1, n=12)
    path = tmp_path / "t.csv"
    write_csv(path, ["x", "y", "z", "f", "g", "unused"], [list(e) + list(v) for e, v in zip(enc, vals)])
    problem = table_problem(path, objectives={"g": "min", "f": "max"}, encoding_columns=["x", "z"],
                            ref_point=[30.0, -30.0], name="mine")
    assert problem.name == "mine"
    np.testing.assert_array_equal(np.asarray(problem.space.encodings), enc[:, [0, 2]].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(problem.data["objectives"]), vals[:, [1, 0]].astype(np.float32))
    assert problem.ref_point == (30.0, -30.0)
    Y_min = vals[:, [1, 0]].astype(np.float32).astype(np.float64) * np.array([1, -1])
    assert problem.max_hv == pytest.approx(brute_force_hv(Y_min, np.array([30.0, 30.0])), rel=1e-9)


def test_a_reference_point_no_row_improves_on_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(path, ["e", "acc", "lat"], [[0, 0.9, 5.0], [1, 0.8, 3.0], [2, 0.7, 4.0]])
    objectives = {"acc": "max", "lat": "min"}
    with pytest.raises(ValueError, match=r"no row of the table is strictly better than ref_point \[1.0, 0.0\]"):
        table_problem(path, objectives=objectives, ref_point=[1.0, 0.0])
    with pytest.raises(ValueError, match="no row of the table is strictly better"):
        table_problem(path, objectives=objectives, ref_point=[0.7, 3.0])  # only ties, never strictly better
    assert table_problem(path, objectives=objectives, ref_point=[0.75, 4.5]).max_hv == pytest.approx(0.05 * 1.5)


def test_csv_from_a_spreadsheet_and_unused_text_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffname,e,acc\nalpha,0,0.5\nbeta,1,0.7\n".encode("utf-8"))  # a byte-order mark first
    problem = table_problem(path, objectives={"acc": "max"}, encoding_columns=["e"])
    np.testing.assert_array_equal(np.asarray(problem.data["objectives"])[:, 0], np.float32([0.5, 0.7]))
    with pytest.raises(ValueError, match=r"line 2, column 'name': 'alpha' is not a number"):
        table_problem(path, objectives={"acc": "max"})  # by default every other column encodes a point


def test_the_table_problem_takes_its_name_option(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(path, ["e", "f"], [[0, 1.0], [1, 2.0]])
    assert get_problem("table", path=str(path), objectives={"f": "min"}, name="mine").name == "mine"


def test_npz_and_npy_round_trip(tmp_path):
    enc, vals = random_table(2, n=20)
    npz = tmp_path / "t.npz"
    np.savez(npz, arch=enc, err=vals[:, 0], cost=vals[:, 1])
    problem = table_problem(npz, objectives={"err": "min", "cost": "min"})
    np.testing.assert_array_equal(np.asarray(problem.space.encodings), enc.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(problem.data["objectives"]), vals[:, :2].astype(np.float32))
    # A 2-D block can also be used column by column.
    part = table_problem(npz, objectives={"err": "min"}, encoding_columns=["arch[1]"], duplicates="error")
    np.testing.assert_array_equal(np.asarray(part.space.encodings)[:, 0], enc[:, 1].astype(np.float32))

    npy = tmp_path / "t.npy"
    np.save(npy, np.concatenate([enc, vals], axis=1))
    problem = table_problem(npy, objectives={"3": "max", "5": "min"})
    np.testing.assert_array_equal(np.asarray(problem.space.encodings), np.concatenate(
        [enc, vals[:, 1:2]], axis=1).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(problem.data["objectives"]), vals[:, [0, 2]].astype(np.float32))


def test_duplicate_encodings(tmp_path):
    path = tmp_path / "dup.csv"
    write_csv(path, ["e1", "e2", "f"], [[0, 1, 5.0], [1, 1, 3.0], [0, 1, 4.0], [2, 0, 1.0]])
    with pytest.raises(ValueError, match=r"row 2 repeats row 0.*duplicates='first'"):
        table_problem(path, objectives={"f": "min"})
    with pytest.warns(UserWarning, match="dropping 1 rows"):
        problem = table_problem(path, objectives={"f": "min"}, duplicates="first")
    np.testing.assert_array_equal(np.asarray(problem.data["objectives"])[:, 0], [5.0, 3.0, 1.0])
    np.testing.assert_array_equal(np.asarray(problem.space.encodings), [[0, 1], [1, 1], [2, 0]])


@pytest.mark.parametrize(
    "rows, objectives, kwargs, message",
    [
        ([[0, 1.0], [1, float("nan")]], {"f": "min"}, {}, r"objective 'f' has NaN or inf in 1 rows \(first rows: \[1\]\)"),
        ([[0, 1.0], [1, 2.0]], {"g": "min"}, {}, r"objective column 'g' not found"),
        ([[0, 1.0], [1, 2.0]], {"f": "up"}, {}, r"objective 'f' has direction 'up'"),
        ([[0, 1.0], [1, 2.0]], {"f": "min"}, {"encoding_columns": ["q"]}, r"encoding columns \['q'\] not found"),
        ([[0, 1.0], [1, 2.0]], {"f": "min"}, {"encoding_columns": ["e", "f"]}, r"both encoding and objective"),
        ([[0, 1.0], [1, 2.0]], {"f": "min", "e": "max"}, {}, r"no encoding columns"),
        ([[0, 1.0], [1, 2.0]], {"f": "min"}, {"ref_point": [1.0, 2.0]}, r"ref_point must hold 1 finite values"),
        ([[0, 1.0], ["x", 2.0]], {"f": "min"}, {}, r"line 3, column 'e': 'x' is not a number"),
        ([[0, 1.0], [1]], {"f": "min"}, {}, r"line 3 has 1 fields, the header has 2"),
    ],
)
def test_bad_input_errors(tmp_path, rows, objectives, kwargs, message):
    path = tmp_path / "bad.csv"
    write_csv(path, ["e", "f"], rows)
    with pytest.raises(ValueError, match=message):
        table_problem(path, objectives=objectives, **kwargs)


def test_file_level_errors(tmp_path):
    with pytest.raises(ValueError, match="table file not found"):
        table_problem(tmp_path / "nope.csv", objectives={"f": "min"})
    other = tmp_path / "t.txt"
    other.write_text("e,f\n0,1\n")
    with pytest.raises(ValueError, match="unsupported table format"):
        table_problem(other, objectives={"f": "min"})
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="CSV file is empty"):
        table_problem(empty, objectives={"f": "min"})
    with pytest.raises(ValueError, match="non-empty mapping"):
        table_problem(empty, objectives={})


def test_finite_table_problem_from_arrays_minimised_view():
    enc, vals = random_table(4, n=25)
    problem = finite_table_problem(enc, vals[:, :2], ["max", "max"], objective_names=["a", "b"])
    Y_min = -vals[:, :2].astype(np.float32).astype(np.float64)
    assert problem.max_hv == pytest.approx(moocore.hypervolume(Y_min, ref=problem.ref_point_min()), rel=1e-12)
    # In its own units the reference point lies below every value of a maximised objective.
    assert np.all(vals[:, :2] > np.asarray(problem.ref_point))


# ------------------------------------------------------------------------------------------------
# NASLib samples

needs_nb301 = pytest.mark.skipif(not NB301_JSON.is_file(), reason=f"NAS-Bench-301 sample not found at {NB301_JSON}")
needs_nb101 = pytest.mark.skipif(not NB101_JSON.is_file(), reason=f"NAS-Bench-101 sample not found at {NB101_JSON}")


@pytest.mark.data
@needs_nb301
@pytest.mark.parametrize("objectives", ["acc_params", "acc_params_flops"])
def test_nasbench301_sample(objectives):
    records = list(json.loads(NB301_JSON.read_text())["cifar10"].items())
    problem = get_problem("nasbench301_sample", data_dir=str(DATA_DIR), objectives=objectives)
    assert problem.name == "nasbench301_sample_725"
    assert problem.space.cardinality == len(records) == 725
    fields = ["val_accuracy", "params"] + (["flops"] if objectives == "acc_params_flops" else [])
    assert problem.objective_names == tuple(fields)
    assert problem.directions == (-1,) + (1,) * (len(fields) - 1)
    picks = [0, 1, 100, 363, 724]
    got = np.asarray(problem.evaluate(jnp.asarray([[i] for i in picks], dtype=jnp.int32)))
    for row, i in zip(got, picks):
        rec = records[i][1]
        want = [rec["val_accuracy"]] + [rec[f]["score"] for f in fields[1:]]
        np.testing.assert_allclose(row, want, rtol=1e-6)
    # Encoding: edge (node k, slot s) of a cell -> one-hot input (5) then one-hot op (7).
    enc = np.asarray(problem.space.encodings).reshape(725, 2, 4, 2, 12)
    genotype = ast.literal_eval(records[100][0])
    for cell in range(2):
        for node in range(4):
            edges = sorted(tuple(e) for e in genotype[cell][2 * node: 2 * node + 2])
            for slot, (inp, op) in enumerate(edges):
                assert np.argmax(enc[100, cell, node, slot, :5]) == inp
                assert np.argmax(enc[100, cell, node, slot, 5:]) == op
    Y_min = np.asarray(problem.to_minimization(got.astype(np.float32)))
    assert np.all(Y_min < problem.ref_point_min())


@pytest.mark.data
@needs_nb101
def test_nasbench101_sample():
    records = list(json.loads(NB101_JSON.read_text())["nasbench101"]["cifar10"].items())
    problem = get_problem("nasbench101_sample", data_dir=str(DATA_DIR), objectives="acc_params_flops")
    assert problem.name == "nasbench101_sample_500"
    assert problem.space.cardinality == len(records) == 500
    values = np.asarray([[r["val_accuracy"], r["params"], r["flops"]] for _, r in records])
    all_rows = jnp.arange(500, dtype=jnp.int32)[:, None]
    np.testing.assert_allclose(np.asarray(problem.evaluate(all_rows)), values, rtol=1e-6)
    Y_min = values.astype(np.float32).astype(np.float64) * np.array([-1, 1, 1])
    assert problem.max_hv == pytest.approx(moocore.hypervolume(Y_min, ref=problem.ref_point_min()), rel=1e-12)
    enc = np.asarray(problem.space.encodings)
    for i in (0, 250, 499):
        spec = ast.literal_eval(records[i][0])
        adjacency = np.asarray(spec[:49]).reshape(7, 7)
        np.testing.assert_array_equal(enc[i, :21], adjacency[np.triu_indices(7, 1)])
        np.testing.assert_array_equal(np.argmax(enc[i, 21:].reshape(5, 3), axis=1) + 2, spec[50:55])


@pytest.mark.data
@needs_nb101
def test_sample_data_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMOO_JAX_DATA", str(DATA_DIR))
    assert get_problem("nasbench101_sample").space.cardinality == 500
    # An explicit data_dir wins over the environment variable; the error names the missing file.
    missing = tmp_path / "nasbench101" / "naslib-zc" / "zc_nasbench101.json"
    with pytest.raises(FileNotFoundError, match=r"zc_nasbench101\.json") as info:
        get_problem("nasbench101_sample", data_dir=str(tmp_path))
    assert str(missing) in str(info.value)
    assert "NASLib" in str(info.value)
    with pytest.raises(ValueError, match="unknown objectives preset"):
        get_problem("nasbench101_sample", data_dir=str(DATA_DIR), objectives="accuracy")


@pytest.mark.data
@needs_nb301
@needs_nb101
@pytest.mark.parametrize("name", ["nasbench301_sample", "nasbench101_sample", "csv"])
def test_lamoo_end_to_end_on_tables(name, tmp_path):
    """Slow (one compile per problem, ~30 s each on a shared CPU): LaMOO over each table problem."""
    from lamoo_jax.api import optimize
    from lamoo_jax.config import LaMOOConfig
    from tests.test_nasbench_graph import _check_run_against_table

    if name == "csv":
        enc, vals = random_table(5, n=60)
        path = tmp_path / "bench.csv"
        write_csv(path, ["a", "b", "c", "f", "g"], [list(e) + list(v[:2]) for e, v in zip(enc, vals)])
        problem = table_problem(path, objectives={"f": "max", "g": "min"})
    else:
        problem = get_problem(name, data_dir=str(DATA_DIR))
    config = LaMOOConfig(min_split_size=5, max_nodes=7, n_candidates=256, svm_max_iter=50)
    result = optimize(problem, budget=20, n_init=10, batch_size=5, seeds=2, config=config)
    _check_run_against_table(problem, result)


def test_max_hv_uses_the_float32_reference_point_the_run_uses():
    # Objectives near 1000 with a span of 10: the default reference point is not a float32 number,
    # and the maximum at the float64 point was below what a run (float32) measures.
    from lamoo_jax.api import optimize

    rng = np.random.default_rng(3)
    values = np.stack([rng.uniform(990, 1000, 50), rng.uniform(0, 1, 50)], 1)
    problem = finite_table_problem(rng.random((50, 2)), values, ["min", "min"])
    ref = problem.ref_point_min()
    assert np.array_equal(ref.astype(np.float32).astype(np.float64), ref)
    assert np.all(ref > values.astype(np.float32).max(axis=0))
    assert problem.max_hv == moocore.hypervolume(values.astype(np.float32).astype(np.float64), ref=ref)
    result = optimize(problem, budget=50, n_init=10, batch_size=10, seeds=1, partition=False)
    assert result.hv_history[0, -1] == pytest.approx(problem.max_hv, rel=1e-6)
    assert np.isfinite(result.log_hv_difference()).all()
