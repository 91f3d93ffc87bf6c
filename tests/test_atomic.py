"""`lamoo_jax._atomic`: complete contents, umask-following permissions, nothing left on failure."""

import json
import os
import stat

import numpy as np
import pytest

from lamoo_jax._atomic import atomic_file, atomic_savez_compressed, atomic_write_json, atomic_write_text


@pytest.fixture()
def umask_027():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_contents_and_folder_creation(tmp_path):
    with atomic_file(tmp_path / "a" / "b.bin", "wb") as handle:
        handle.write(b"\x00\x01")
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x00\x01"
    atomic_write_text(tmp_path / "t.txt", "héllo\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    atomic_write_json(tmp_path / "j.json", {"x": [1, 2]})
    assert json.loads((tmp_path / "j.json").read_text()) == {"x": [1, 2]}
    atomic_savez_compressed(tmp_path / "z.npz", {"a": np.arange(3)})
    np.testing.assert_array_equal(np.load(tmp_path / "z.npz")["a"], np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "j.json", "t.txt", "z.npz"]


def test_replaces_an_existing_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with atomic_file(path, "w") as handle:
        handle.write("new")
        assert path.read_text() == "old"  # not visible until the block ends
    assert path.read_text() == "new"


def test_permissions_follow_the_umask(tmp_path, umask_027):
    with atomic_file(tmp_path / "f", "wb") as handle:
        handle.write(b"x")
    assert _mode(tmp_path / "f") == 0o666 & ~umask_027  # 0o640, not mkstemp's 0o600
    os.umask(0o022)
    atomic_write_text(tmp_path / "g", "x")
    assert _mode(tmp_path / "g") == 0o644


def test_exception_removes_the_temporary_file_and_keeps_the_target(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="abort"):
        with atomic_file(path, "w", suffix=".part") as handle:
            handle.write("partial")
            raise RuntimeError("abort")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "new.json", {"x": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_rejects_other_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_file(tmp_path / "f", "ab"):
            pass
