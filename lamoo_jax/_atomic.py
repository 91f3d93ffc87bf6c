"""Atomic file writes: the one helper every result, cache and download writer uses.

A file is written to a temporary file in the target's folder (same file system, so the final
``os.replace`` is an atomic rename), flushed and fsynced, given ordinary permissions and only then
moved over the target. A reader therefore sees either the old file or the complete new one, never a
truncated one; on any exception inside the block the temporary file is removed and the target is
left untouched.

    with atomic_file(path, "wb") as handle:
        handle.write(data)          # raise here to abort: nothing is written under `path`
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from os import PathLike
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping

__all__ = ["atomic_file", "atomic_write_text", "atomic_write_json", "atomic_savez_compressed"]

_MODES = ("w", "wb")


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows.

    ``os.umask`` can only be read by setting it; doing that briefly opens a window in which
    another thread would create files with the wrong permissions, so Linux's /proc is read first.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every OS or file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | PathLike, mode: str = "wb", *, suffix: str = ".tmp") -> Iterator[IO[Any]]:
    """Open a temporary file next to `path`; on normal exit move it into place as `path`.

    Args:
        path: the final file; its folder is created when missing.
        mode: "wb" (bytes) or "w" (UTF-8 text).
        suffix: suffix of the temporary file (e.g. ".part" for downloads).

    On success the file is flushed and fsynced, gets the permissions a plain ``open`` would give
    (0o666 minus the umask; ``mkstemp`` creates 0o600) and replaces `path`. On any exception
    (including KeyboardInterrupt) the temporary file is deleted and the exception re-raised.
    """
    if mode not in _MODES:
        raise ValueError(f"atomic_file: mode must be one of {_MODES}; got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(target.parent)


def atomic_write_text(path: str | PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_file(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | PathLike, obj: Any, *, default: Callable[[Any], Any] | None = None, indent: int = 2) -> None:
    """Write `obj` as indented JSON (plus a final newline) to `path` atomically."""
    # Serialise first: an unserialisable object then fails before any file is created.
    atomic_write_text(path, json.dumps(obj, indent=indent, default=default) + "\n")


def atomic_savez_compressed(path: str | PathLike, arrays: Mapping[str, Any]) -> None:
    """``numpy.savez_compressed(path, **arrays)``, atomically."""
    import numpy as np

    with atomic_file(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
