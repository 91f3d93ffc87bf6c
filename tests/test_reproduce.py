"""The reproduction study: the samples ratio, the median's confidence band, cells keyed by seed count and
studies with fewer seeds than a band needs."""

import json

import numpy as np
import pytest

from benchmarks.reproduce import cell_path, find_cell, main, median_confidence_band, sample_ratio, study_cells


@pytest.mark.parametrize("n, ranks", [(16, (4, 13)), (10, (2, 9)), (7, (1, 7)), (32, (10, 23))])
def test_median_band_uses_the_tabulated_order_statistics(n, ranks):
    # Standard distribution-free 95% intervals of the median (ranks 1-based).
    values = np.random.default_rng(n).permutation(np.arange(1.0, n + 1))[:, None] * np.ones((1, 3))
    low, high = median_confidence_band(values)
    np.testing.assert_array_equal(low, ranks[0])
    np.testing.assert_array_equal(high, ranks[1])


def test_median_band_covers_the_median_at_least_as_often_as_promised():
    rng = np.random.default_rng(0)
    samples = rng.exponential(size=(16, 20_000))  # 20,000 experiments of 16 seeds; median ln 2
    low, high = median_confidence_band(samples)
    coverage = np.mean((low <= np.log(2)) & (np.log(2) <= high))
    assert 0.97 <= coverage <= 0.985  # exact coverage for n = 16: 97.9%


def test_median_band_rejects_too_few_seeds():
    with pytest.raises(ValueError, match="too few"):
        median_confidence_band(np.zeros((4, 2)))


def test_sample_ratio():
    budget = 10
    plain = np.tile(np.linspace(0.0, 1.0, budget), (5, 1))  # final HV 1.0
    lamoo = np.tile(np.minimum(np.linspace(0.0, 2.0, budget), 1.5), (5, 1))
    ratio, text = sample_ratio(lamoo, plain)
    first = np.flatnonzero(np.linspace(0.0, 2.0, budget) >= 1.0)[0] + 1
    assert ratio == first / budget and text == f"{100 * first / budget:.0f}%"
    assert sample_ratio(plain * 0.5, plain) == (None, "> 100% (not reached)")
    assert sample_ratio(lamoo, plain * 0.0)[0] is None


def _write_cell(path, seeds, budget=10, offset=0.0):
    """A fabricated cell: seed i's hypervolume history rises to 0.5 + i / 100 (+ offset)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    history = np.linspace(0.0, 1.0, budget)[None, :] * (0.5 + offset + np.arange(seeds)[:, None] / 100)
    cell = {"hv_history": history, "max_hv": np.asarray(2.0), "seeds": np.asarray(seeds), "budget": np.asarray(budget),
            "compile_s": np.asarray(0.0), "run_s": np.asarray(0.0), "wall_s": np.asarray(0.0)}
    np.savez_compressed(path, **cell)
    return history


def test_cells_are_named_by_seed_count_and_reused_from_larger_ones(tmp_path):
    assert cell_path(tmp_path, "branin_currin", "random", True, 4).name == "branin_currin__random__lamoo__s4.npz"
    legacy = _write_cell(tmp_path / "cells" / "branin_currin__random__lamoo.npz", 16)  # earlier versions' name
    cell = find_cell(tmp_path, "branin_currin", "random", True, 4)
    np.testing.assert_array_equal(cell["hv_history"], legacy[:4])
    assert int(cell["seeds"]) == 4
    assert find_cell(tmp_path, "branin_currin", "random", True, 16)["hv_history"].shape == (16, 10)
    assert find_cell(tmp_path, "branin_currin", "random", True, 17) is None
    assert find_cell(tmp_path, "branin_currin", "random", False, 4) is None
    # An exact match is preferred over cutting a larger cell; neither overwrites the other.
    exact = _write_cell(cell_path(tmp_path, "branin_currin", "random", True, 4), 4, offset=0.1)
    np.testing.assert_array_equal(find_cell(tmp_path, "branin_currin", "random", True, 4)["hv_history"], exact)
    np.testing.assert_array_equal(find_cell(tmp_path, "branin_currin", "random", True, 16)["hv_history"], legacy)


def test_study_with_few_seeds_writes_its_table(tmp_path, capsys):
    for partition in ("lamoo", "plain"):
        _write_cell(tmp_path / "cells" / f"branin_currin__random__{partition}__s3.npz", 3, offset=0.2 if partition == "lamoo" else 0.0)
    argv = ["--cached-only", "--seeds", "3", "--problems", "branin_currin", "--samplers", "random", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "too few for a 95% confidence band" in capsys.readouterr().out
    assert "| branin_currin | random | 10 |" in (tmp_path / "table.md").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seeds"] == 3 and summary["cells"][0]["sampler"] == "random"
    with pytest.raises(SystemExit) as info:
        main(["--seeds", "0", "--out", str(tmp_path)])
    assert info.value.code == 2
    table = (tmp_path / "table.md").read_text()
    for bad in (["--samplers", "randon"], ["--samplers", ","], ["--out", str(tmp_path / "table.md")]):
        with pytest.raises(SystemExit) as info:  # a typo must not tabulate an empty study over this one
            main(["--cached-only", "--seeds", "3", "--problems", "branin_currin", "--samplers", "random",
                  "--out", str(tmp_path), *bad])
        assert info.value.code == 2
    assert (tmp_path / "table.md").read_text() == table
    err = capsys.readouterr().err
    assert "unknown sampler(s) ['randon']" in err and "cannot be created" in err


def test_workers_run_the_missing_cells_pinned_one_per_core_with_the_same_results(tmp_path, capsys):
    """--workers runs the cells not on disk in spawned processes, each pinned to one core, and the
    study is tabulated from what they wrote: the same histories as running in this process. NSGA-II
    (pymoo) cells keep this quick; a cell already on disk is not run again."""
    import os

    pytest.importorskip("pymoo")
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("pinning to cores needs Linux")
    problems = ["branin_currin", "vehicle_safety"]
    assert study_cells(problems, ["nsga2", "random"]) == [
        (key, sampler, partition) for key in problems for sampler, partition in (("nsga2", False), ("random", True), ("random", False))
    ]
    argv = ["--seeds", "2", "--problems", ",".join(problems), "--samplers", "nsga2", "--no-cache"]
    kept = _write_cell(tmp_path / "kept" / "cells" / "vehicle_safety__nsga2__plain__s2.npz", 2)
    assert main(argv + ["--workers", "2", "--out", str(tmp_path / "kept")]) == 0
    printed = capsys.readouterr().out
    assert "branin_currin    nsga2          done (worker on cores [" in printed
    assert "vehicle_safety   nsga2          done (worker" not in printed  # on disk already: not rerun
    np.testing.assert_array_equal(find_cell(tmp_path / "kept", "vehicle_safety", "nsga2", False, 2)["hv_history"], kept)

    assert main(argv + ["--workers", "2", "--out", str(tmp_path / "workers")]) == 0
    printed = capsys.readouterr().out
    cores = sorted(os.sched_getaffinity(0))
    ran_on = [line.split("cores ")[1].rstrip(")") for line in printed.splitlines() if "(worker on cores" in line]
    assert len(ran_on) == 2 and all(cores_text in {f"[{core}]" for core in cores} for cores_text in ran_on)
    assert main(argv + ["--out", str(tmp_path / "serial")]) == 0
    for key in problems:
        np.testing.assert_array_equal(find_cell(tmp_path / "workers", key, "nsga2", False, 2)["hv_history"],
                                      find_cell(tmp_path / "serial", key, "nsga2", False, 2)["hv_history"])
    with pytest.raises(SystemExit) as info:
        main(argv + ["--workers", "0", "--out", str(tmp_path / "bad")])
    assert info.value.code == 2
