"""The `lamoo-jax` command: runs, prints a per-seed summary and writes results atomically."""

import io
import json
import os
import stat
import types

import numpy as np
import pytest

from lamoo_jax import cli
from lamoo_jax.cli import main


def test_run_writes_npz_and_summary(tmp_path, capsys):
    code = main(["run", "--problem", "zdt1", "-P", "dim=4", "--budget", "25", "--seeds", "2", "-C", "svm_kernel=rbf", "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "log10(HVmax-HV)" in printed and "final HV" in printed
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    data = np.load(files[0])
    assert data["X"].shape == (2, 25, 4)
    assert data["Y"].shape == (2, 25, 2)
    assert data["hv_history"].shape == (2, 25)
    # The summary's final HV is the last entry of the stored history.
    for seed in range(2):
        assert f"{data['hv_history'][seed, -1]:.6g}" in printed
    # The run's options travel with its results.
    assert json.loads(str(data["config"]))["svm_kernel"] == "rbf"
    assert json.loads(str(data["problem_options"])) == {"dim": 4}
    assert int(data["n_init"]) == 10 and int(data["batch_size"]) == 5
    np.testing.assert_array_equal(data["ref_point"], [11.0, 11.0])
    assert str(data["run_hash"]) in files[0].name


def test_runs_differing_in_any_option_get_their_own_file_saved_before_the_summary(tmp_path, monkeypatch, capsys):
    base = ["run", "--problem", "zdt1", "-P", "dim=3", "--budget", "15", "--seeds", "1", "--no-partition", "--out", str(tmp_path)]
    assert main(base) == 0

    def broken_summary(result, compile_note=""):
        raise RuntimeError("summary failed")

    monkeypatch.setattr(cli, "summarize", broken_summary)
    assert main(base + ["--n-init", "5"]) == 2  # same name before the fix: overwrote the first run
    assert "summary failed" in capsys.readouterr().err
    files = sorted(tmp_path.glob("*.npz"))
    assert len(files) == 2, "the finished run is saved before it is summarised"
    assert sorted(int(np.load(f)["n_init"]) for f in files) == [5, 10]


def test_skip_existing_redoes_only_missing_or_unreadable_runs(tmp_path, capsys):
    base = ["run", "--problem", "zdt1", "-P", "dim=3", "--budget", "15", "--seeds", "2", "--no-partition",
            "--out", str(tmp_path), "--skip-existing"]
    assert main(base) == 0
    (first,) = tmp_path.glob("*.npz")
    written = first.read_bytes()
    capsys.readouterr()
    assert main(base) == 0  # the same run again: nothing to do
    assert capsys.readouterr().out.startswith(f"skipped: {first}")
    assert first.read_bytes() == written
    assert main(base + ["--n-init", "5"]) == 0  # another option: another run, another file
    assert "skipped" not in capsys.readouterr().out and len(list(tmp_path.glob("*.npz"))) == 2
    first.write_bytes(b"not a result")  # unreadable: redone and replaced
    assert main(base) == 0
    assert "skipped" not in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(first)["X"], np.load(io.BytesIO(written))["X"])
    without = [arg for arg in base if arg != "--skip-existing"]
    assert main(without) == 0 and "skipped" not in capsys.readouterr().out  # the default reruns
    assert main(["run", "--problem", "zdt1", "--budget", "15", "--skip-existing"]) == 2
    assert "--skip-existing needs --out" in capsys.readouterr().err


def test_result_name_hashes_every_option():
    args = types.SimpleNamespace(problem="ZDT1", sampler="random", no_partition=False, budget=20, n_init=10, batch_size=5, seeds=2)
    from lamoo_jax.config import LaMOOConfig

    name = "zdt1 d/4"
    options = cli.run_options(args, {"dim": 4}, LaMOOConfig())
    path = cli.result_path("out", name, options)
    assert path == cli.result_path("out", name, cli.run_options(args, {"dim": 4}, LaMOOConfig()))  # stable
    assert path.name.startswith("zdt1_d_4_random_lamoo_b20_s2_") and "/" not in path.name
    variants = [
        cli.run_options(args, {"dim": 5}, LaMOOConfig()),
        cli.run_options(args, {"dim": 4}, LaMOOConfig(svm_kernel="rbf")),
        cli.run_options(types.SimpleNamespace(**{**vars(args), "n_init": 5}), {"dim": 4}, LaMOOConfig()),
        cli.run_options(types.SimpleNamespace(**{**vars(args), "batch_size": 1}), {"dim": 4}, LaMOOConfig()),
    ]
    assert len({cli.result_path("out", name, v) for v in variants} | {path}) == 5


def test_summary_survives_a_failing_log_hv_difference():
    def failing():
        raise ValueError("observed hypervolume 2 exceeds the problem's max_hv 1")

    result = types.SimpleNamespace(
        problem_name="p", sampler="random", partition=True, budget=3, seeds=np.arange(2), compile_seconds=1.0,
        run_seconds=0.5, max_hv=1.0, final_hv=np.array([2.0, 0.5]), pareto_mask=np.ones((2, 3), bool),
        log_hv_difference=failing,
    )
    text = cli.summarize(result)
    assert "final HV" in text and "log10(HVmax-HV)" not in text.splitlines()[2]
    assert text.splitlines()[-1].startswith("warning:") and "exceeds" in text


def test_bad_arguments_give_clear_errors(capsys):
    assert main(["run", "--problem", "no_such_problem", "--budget", "20"]) == 2
    assert "unknown problem" in capsys.readouterr().err
    assert main(["run", "--problem", "zdt1", "--budget", "5", "--n-init", "10"]) == 2
    assert "at least n_init" in capsys.readouterr().err
    assert main(["run", "--problem", "zdt1", "--budget", "20", "-C", "svm_kernel=sigmoid"]) == 2
    assert "unknown svm_kernel" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--problem", "dtlz2", "-P", "n_obj"], "-P/--problem-option 'n_obj' is not of the form key=value"),
        (["--problem", "dtlz2", "-C", "=rbf"], "-C/--config '=rbf' is not of the form key=value"),
        (["--problem", "dtlz2", "-P", "ref_point=abc"], "problem dtlz2: option ref_point='abc': could not convert"),
        (["--problem", "table"], "problem table: missing required option(s) path, objectives; accepted options: path (required)"),
        (["--problem", "table", "-P", "path=x.csv"], "missing required option(s) objectives"),
        (["--problem", "nasbench_graph", "-P", "datset=cora"], "problem nasbench_graph: unknown option(s) datset; accepted options: dataset"),
        (["--problem", "nasbench301_sample", "-P", "objective=x"], "unknown option(s) objective"),
        (["--problem", "nasbench201", "-P", "objective=paper"], "problem nasbench201: unknown option(s) objective; accepted options: objectives"),
    ],
)
def test_problem_option_errors_name_the_option(argv, expected, capsys):
    assert main(["run", *argv, "--budget", "20"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_missing_nasbench201_data_gives_a_short_error(tmp_path, capsys):
    assert main(["run", "--problem", "nasbench201", "-P", f"data_dir={tmp_path}", "--budget", "20"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("error: nasbench201:") and str(tmp_path) in lines[0]
    assert "lamoo-jax data fetch nasbench201 --dest" in lines[1] and "LAMOO_JAX_DATA" in lines[1]
    assert "-P data_dir=DIR" in lines[1] and "lamoo-jax data list nasbench201" in lines[1]


def test_data_list_names_every_file_and_its_source(tmp_path, capsys):
    from benchmarks.data.locate import MANIFESTS

    assert main(["data", "list", "nasbench201", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for spec in MANIFESTS["nasbench201"]:
        assert spec.relpath in out and spec.commit in out and spec.repo in out
    assert "present" not in out.split("\n", 2)[2]  # every file is missing from the empty folder


def test_a_bad_out_folder_is_an_error_before_the_run(tmp_path, monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("the run must not start")

    monkeypatch.setattr("lamoo_jax.api.optimize", no_run)
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for out in (str(a_file), str(a_file / "sub"), ""):
        assert main(["run", "--problem", "zdt1", "--budget", "15", "--out", out]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and ("cannot be written" in err or "--out must name a folder" in err), err
    assert a_file.read_text() == "" and not list(tmp_path.glob(".*"))  # the write test leaves nothing


def test_long_result_names_are_cut_before_the_hash():
    args = types.SimpleNamespace(problem="table", sampler="random", no_partition=False, budget=20, n_init=10, batch_size=5, seeds=2)
    from lamoo_jax.config import LaMOOConfig

    options = cli.run_options(args, {"path": "x" * 300 + ".csv"}, LaMOOConfig())
    path = cli.result_path("out", "table_" + "x" * 300, options)
    assert len(path.name) <= 200 and path.name.endswith(f"_{cli.options_hash(options)}.npz")


def test_the_same_config_spelled_differently_is_the_same_run():
    args = types.SimpleNamespace(problem="zdt1", sampler="random", no_partition=False, budget=20, n_init=10, batch_size=5, seeds=2)
    from lamoo_jax.config import LaMOOConfig

    default = cli.run_options(args, {}, LaMOOConfig())
    spelled = cli.run_options(args, {}, LaMOOConfig().replace(svm_C=1, svm_coef0=0, cp="auto"))
    assert cli.options_hash(spelled) == cli.options_hash(default)
    assert cli.options_hash(cli.run_options(args, {}, LaMOOConfig(svm_C=2))) != cli.options_hash(default)


def test_a_table_edited_in_place_is_a_new_run(tmp_path):
    from benchmarks import get_problem
    from lamoo_jax.config import LaMOOConfig

    args = types.SimpleNamespace(problem="table", sampler="random", no_partition=False, budget=20, n_init=10, batch_size=5, seeds=2)
    table = tmp_path / "t.csv"
    problem_options = {"path": str(table), "objectives": {"f": "min", "g": "max"}}

    def options_now(rows):
        table.write_text("e,f,g\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
        return cli.run_options(args, problem_options, LaMOOConfig(), get_problem("table", **problem_options))

    first = options_now([(0, 1.0, 2.0), (1, 2.0, 3.0), (2, 3.0, 1.0)])
    assert cli.options_hash(options_now([(0, 1.0, 2.0), (1, 2.0, 3.0), (2, 3.0, 1.0)])) == cli.options_hash(first)
    edited = options_now([(0, 1.0, 2.0), (1, 2.0, 3.5), (2, 3.0, 1.0)])
    assert cli.options_hash(edited) != cli.options_hash(first)
    assert cli.result_path("out", "t", edited) != cli.result_path("out", "t", first)


def test_interrupt_prints_a_line_not_a_traceback(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("lamoo_jax.api.optimize", interrupted)
    assert main(["run", "--problem", "zdt1", "--budget", "15"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted") and "Traceback" not in err
