"""NAS-Bench-Graph problem: checked against the package's own architecture code and an independent read.

The independent read unpickles the `.bench` file with numpy's own scalar reconstruction (allow-list of
exactly the two numpy globals the file uses), a different code path from the project's reader, and
looks architectures up by the package's `Arch.valid_hash()`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import pickle
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.data import nasbench_graph_reader as reader
from benchmarks.problems import get_problem
from benchmarks.problems.table import _hypervolume_numpy, pareto_front_mask

nbg = pytest.importorskip("nas_bench_graph", reason="the nas-bench-graph package is not installed")
moocore = pytest.importorskip("moocore", reason="moocore (test extra) is needed as the HV reference")

ALL_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
PROTEINS_OPS = {"gcn", "sage", "arma", "fc", "skip"}


class _NumpyScalarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("numpy.core.multiarray", "scalar"):
            core = np._core if hasattr(np, "_core") else np.core
            return core.multiarray.scalar
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")


def _independent_bench(dataset: str) -> dict:
    root = Path(list(importlib.util.find_spec("nas_bench_graph").submodule_search_locations)[0])
    with open(root / "light" / f"{dataset}.bench", "rb") as fh:
        return _NumpyScalarUnpickler(fh).load()


@pytest.fixture(scope="module")
def package_archs():
    with contextlib.redirect_stdout(io.StringIO()):  # all_archs() prints the count
        return nbg.all_archs()


@pytest.fixture(scope="module")
def cora_bench():
    return _independent_bench("cora")


def test_all_datasets_cover_the_package_enumeration(package_archs):
    all_hashes = {a.valid_hash() for a in package_archs}
    proteins_hashes = {a.valid_hash() for a in package_archs if set(a.ops) <= PROTEINS_OPS}
    assert len(all_hashes) == 26206
    assert reader.DATASETS == ALL_DATASETS
    for dataset in ALL_DATASETS:
        table = reader.load_table(dataset)
        expected = proteins_hashes if dataset == "proteins" else all_hashes
        assert set(table.hashes.tolist()) == expected, dataset
        assert np.all(np.diff(table.hashes) > 0)
    assert len(proteins_hashes) == 2021


def test_decoded_architectures_match_package(package_archs):
    table = reader.load_table("cora")
    row_of = {h: i for i, h in enumerate(table.hashes.tolist())}
    for arch in package_archs[::97]:
        row = row_of[arch.valid_hash()]
        assert table.links[row].tolist() == list(arch.link)
        assert [reader.OPERATIONS[o] for o in table.ops[row]] == list(arch.ops)


def test_encoding_is_one_hot_ops_and_inputs(package_archs):
    problem = get_problem("nasbench_graph", dataset="cora")
    table = reader.load_table("cora")
    row_of = {h: i for i, h in enumerate(table.hashes.tolist())}
    enc = np.asarray(problem.space.encodings)
    assert enc.shape == (26206, len(reader.ENCODING_COLUMNS)) == (26206, 45)
    assert np.unique(enc, axis=0).shape[0] == 26206
    for arch in package_archs[::211]:
        row = enc[row_of[arch.valid_hash()]]
        expected = []
        for op in arch.ops:
            expected += [1.0 if op == name else 0.0 for name in nbg.gnn_list]
        for node in range(1, 4):
            expected += [1.0 if arch.link[node] == src else 0.0 for src in range(node + 1)]
        np.testing.assert_array_equal(row, expected)


@pytest.mark.parametrize("objectives", ["acc_latency", "acc_latency_params", "test_acc_latency_params"])
def test_evaluate_equals_independent_read(package_archs, cora_bench, objectives):
    fields = {"valid_acc": "valid_perf", "test_acc": "perf", "latency": "latency", "params": "para"}
    names = {"acc_latency": ("valid_acc", "latency"),
             "acc_latency_params": ("valid_acc", "latency", "params"),
             "test_acc_latency_params": ("test_acc", "latency", "params")}[objectives]
    problem = get_problem("nasbench_graph", dataset="cora", objectives=objectives)
    assert problem.objective_names == names
    assert problem.n_obj == len(names)
    expected_dirs = tuple(-1 if n.endswith("acc") else 1 for n in names)
    assert problem.directions == expected_dirs
    table = reader.load_table("cora")
    row_of = {h: i for i, h in enumerate(table.hashes.tolist())}
    picks = package_archs[::523]
    rows = jnp.asarray([[row_of[a.valid_hash()]] for a in picks], dtype=jnp.int32)
    got = np.asarray(jax.jit(problem.evaluate)(rows))
    want = np.asarray([[float(cora_bench[a.valid_hash()][fields[n]]) for n in names] for a in picks])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_ref_point_and_max_hv_against_moocore(cora_bench):
    for objectives, names in [("acc_latency", ("valid_perf", "latency")),
                              ("acc_latency_params", ("valid_perf", "latency", "para"))]:
        problem = get_problem("nasbench_graph", dataset="cora", objectives=objectives)
        Y = np.asarray([[float(rec[f]) for f in names] for rec in cora_bench.values()], dtype=np.float32)
        Y_min = Y.astype(np.float64) * np.asarray(problem.directions)
        ref_min = problem.ref_point_min()
        # Documented rule: worst + 10% of the range, so every architecture is strictly inside;
        # rounded up to the float32 number the runs measure against.
        rule = Y_min.max(0) + 0.1 * (Y_min.max(0) - Y_min.min(0))
        assert np.array_equal(ref_min.astype(np.float32), ref_min) and np.all(ref_min >= rule)
        np.testing.assert_allclose(ref_min, rule, rtol=1.2e-7)
        assert np.all(Y_min < ref_min)
        expected = moocore.hypervolume(Y_min, ref=ref_min)
        assert problem.max_hv == pytest.approx(expected, rel=1e-12)
        # The numpy fallback (used when moocore is absent) agrees on the real table.
        assert _hypervolume_numpy(Y_min, ref_min) == pytest.approx(expected, rel=1e-10)
        np.testing.assert_array_equal(pareto_front_mask(Y_min), moocore.is_nondominated(Y_min, keep_weakly=True))
        # The lexicographically best row (best accuracy, ties by the rest) is on the front.
        lexicographic_best = np.lexsort(Y_min.T[::-1])[0]
        assert pareto_front_mask(Y_min)[lexicographic_best]


def test_max_hv_reached_by_evaluating_the_whole_table():
    problem = get_problem("nasbench_graph", dataset="proteins", objectives="acc_latency_params")
    all_rows = jnp.arange(problem.space.cardinality, dtype=jnp.int32)[:, None]
    Y_min = np.asarray(problem.to_minimization(problem.evaluate(all_rows)), dtype=np.float64)
    assert Y_min.shape == (2021, 3)
    assert moocore.hypervolume(Y_min, ref=problem.ref_point_min()) == pytest.approx(problem.max_hv, rel=1e-12)


def test_custom_objectives_and_ref_point():
    problem = get_problem("nasbench_graph", dataset="citeseer", objectives=["params", "test_acc"], ref_point=[20.0, 0.0])
    assert problem.objective_names == ("params", "test_acc")
    assert problem.directions == (1, -1)
    assert problem.ref_point == (20.0, 0.0)
    table = reader.load_table("citeseer")
    Y_min = np.stack([table.params, -table.test_acc], axis=1).astype(np.float32).astype(np.float64)
    assert problem.max_hv == pytest.approx(moocore.hypervolume(Y_min, ref=[20.0, 0.0]), rel=1e-12)


def test_unknown_dataset_and_preset_errors():
    with pytest.raises(ValueError, match=r"unknown NAS-Bench-Graph dataset 'imagenet'.*cora, citeseer.*proteins"):
        get_problem("nasbench_graph", dataset="imagenet")
    with pytest.raises(ValueError, match="unknown NAS-Bench-Graph objectives preset"):
        get_problem("nasbench_graph", objectives="accuracy")
    with pytest.raises(ValueError, match="distinct names"):
        get_problem("nasbench_graph", objectives=["valid_acc", "energy"])


def test_reader_refuses_foreign_globals(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.bench"
    path.write_bytes(pickle.dumps({0: Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        reader.read_bench(path)


def test_problem_passes_through_jit_as_an_argument():
    """The table is a traced leaf, not a baked-in constant: new table values reuse the compiled function."""
    cora = get_problem("nasbench_graph", dataset="cora")
    pubmed_values = get_problem("nasbench_graph", dataset="pubmed").data["objectives"]
    # Same static metadata as cora, pubmed's table values.
    swapped = cora.replace(data={"objectives": pubmed_values})

    @jax.jit
    def best_of_sample(problem, key):
        X = problem.space.sample(key, 4096)
        Y_min = problem.to_minimization(problem.evaluate(X))
        return jnp.min(Y_min, axis=0)

    key = jax.random.PRNGKey(0)
    X = np.asarray(cora.space.sample(key, 4096))[:, 0]
    for problem in (cora, swapped):
        table = np.asarray(problem.data["objectives"]) * np.asarray(problem.directions)
        np.testing.assert_allclose(np.asarray(best_of_sample(problem, key)), table[X].min(axis=0), rtol=1e-6)
    assert best_of_sample._cache_size() == 1


def _check_run_against_table(problem, result):
    """Samples are distinct rows, Y is their table values, hv_history is their moocore hypervolume."""
    table = np.asarray(problem.data["objectives"])
    ref_min = problem.ref_point_min()
    for seed in range(result.X.shape[0]):
        rows = result.X[seed, :, 0]
        assert len(set(rows.tolist())) == rows.shape[0]
        np.testing.assert_array_equal(result.Y[seed], table[rows])
        Y_min = result.Y[seed].astype(np.float64) * np.asarray(problem.directions)
        for t in (9, rows.shape[0] - 1):
            assert result.hv_history[seed, t] == pytest.approx(moocore.hypervolume(Y_min[: t + 1], ref=ref_min), rel=1e-5)
        assert result.hv_history[seed, -1] <= problem.max_hv * (1 + 1e-6)


def test_lamoo_end_to_end_on_default_problem():
    from lamoo_jax.api import optimize
    from lamoo_jax.config import LaMOOConfig

    problem = get_problem("nasbench_graph")
    config = LaMOOConfig(min_split_size=5, max_nodes=7, n_candidates=256, svm_max_iter=50)
    result = optimize(problem, budget=20, n_init=10, batch_size=5, seeds=2, config=config)
    assert result.X.shape == (2, 20, 1)
    _check_run_against_table(problem, result)
