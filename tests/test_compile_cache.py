"""The CLI's persistent compilation cache: where it lives, that a repeated run loads its program, and
that the loaded program gives the same results."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lamoo_jax.cli import main
from lamoo_jax.compile_cache import default_cache_dir, enable_compilation_cache

RUN = ["run", "--problem", "zdt1", "-P", "dim=4", "--budget", "25", "--seeds", "2", "-C", "svm_kernel=rbf"]


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("LAMOO_JAX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "lamoo-jax" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "lamoo-jax" / "xla"
    monkeypatch.setenv("LAMOO_JAX_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("LAMOO_JAX_CACHE_DIR")

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert default_cache_dir() is None
    for off in ("off", "", "0", "None"):
        monkeypatch.setenv("LAMOO_JAX_CACHE_DIR", off)
        assert default_cache_dir() is None


def test_a_file_in_place_of_the_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="compilation cache folder .*not_a_folder.* cannot be created"):
        enable_compilation_cache(blocker / "xla")


def test_an_unusable_default_folder_warns_and_leaves_the_cache_off(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("LAMOO_JAX_CACHE_DIR", str(blocker / "xla"))
    with pytest.warns(UserWarning, match="compiling without the persistent cache"):
        assert enable_compilation_cache() is None


def test_no_cache_is_reported(tmp_path, capsys):
    assert main(RUN + ["--no-cache", "--budget", "15"]) == 0
    assert "(no compilation cache)" in capsys.readouterr().out


def _run_cli(args, tmp_path):
    # A fresh process: the cache is opened once per process. XLA's optimisations are off as in the
    # rest of the suite (conftest.py), to keep the compile short.
    env = {**os.environ, "JAX_DISABLE_MOST_OPTIMIZATIONS": "1", "JAX_PLATFORMS": "cpu"}
    env.pop("LAMOO_JAX_CACHE_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "lamoo_jax.cli", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_a_repeated_run_loads_its_program_from_the_cache_and_gives_the_same_results(tmp_path):
    cache = tmp_path / "cache"
    first = _run_cli(RUN + ["--cache-dir", str(cache), "--out", str(tmp_path / "first")], tmp_path)
    assert f"(compiled; cache {cache})" in first
    entries = [p.name for p in cache.iterdir()]
    assert any(name.startswith("jit_run_batch") for name in entries), entries

    second = _run_cli(RUN + ["--cache-dir", str(cache), "--out", str(tmp_path / "second")], tmp_path)
    assert f"(loaded from the cache {cache})" in second

    (a_path,) = (tmp_path / "first").glob("*.npz")
    (b_path,) = (tmp_path / "second").glob("*.npz")
    assert a_path.name == b_path.name
    a, b = np.load(a_path), np.load(b_path)
    for name in ("X", "Y", "hv_history", "pareto_mask"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
