"""The `lamoo-jax` command: runs, prints a per-seed summary and writes results atomically."""

import numpy as np

from lamoo_jax.cli import main


def test_run_writes_npz_and_summary(tmp_path, capsys):
    code = main(["run", "--problem", "zdt1", "-P", "dim=4", "--budget", "25", "--seeds", "2", "-C", "svm_kernel=rbf", "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "log10(HVmax-HV)" in printed and "final HV" in printed
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    data = np.load(files[0])
    assert data["X"].shape == (2, 25, 4)
    assert data["Y"].shape == (2, 25, 2)
    assert data["hv_history"].shape == (2, 25)
    # The summary's final HV is the last entry of the stored history.
    for seed in range(2):
        assert f"{data['hv_history'][seed, -1]:.6g}" in printed


def test_bad_arguments_give_clear_errors(capsys):
    assert main(["run", "--problem", "no_such_problem", "--budget", "20"]) == 2
    assert "unknown problem" in capsys.readouterr().err
    assert main(["run", "--problem", "zdt1", "--budget", "5", "--n-init", "10"]) == 2
    assert "at least n_init" in capsys.readouterr().err
    assert main(["run", "--problem", "zdt1", "--budget", "20", "-C", "svm_kernel=sigmoid"]) == 2
    assert "unknown svm_kernel" in capsys.readouterr().err
