"""Reading published pickles (and PyTorch ``.pt`` zip archives) as untrusted input.

Several NAS benchmark tables are distributed as Python pickles. Unpickling can run arbitrary code
(a pickle may name any importable callable, e.g. ``os.system``, and ask for it to be called), so
this module never uses ``pickle.load`` directly: :class:`RestrictedUnpickler` resolves only a small
allow-list of globals that build containers and numbers, and refuses everything else with
:class:`UnsafePickleError` *before* anything is called.

What is accepted:

- Everything the pickle protocol builds without naming a global: ``None``, ``bool``, ``int``,
  ``float``, ``str``, ``bytes``, ``list``, ``tuple``, ``dict`` (and their nesting).
- ``collections.OrderedDict``, ``builtins.set``, ``builtins.frozenset``, ``builtins.complex``,
  ``builtins.bytearray``, and ``_codecs.encode`` restricted to latin1 (protocol 2 writes ``bytes`` so).
- Optionally (``allow_numpy_scalars=True``) numpy *scalars* of numeric/bool dtypes, as pickled by
  ``numpy.float64(...)`` etc. (``numpy.core.multiarray.scalar`` + ``numpy.dtype``). They are rebuilt
  by this module's own reconstructors from raw bytes, never by calling numpy's unpickling hooks, and
  returned as plain Python ``int``/``float``/``bool``.

PyTorch ``.pt`` files saved with the zip format are archives ``<prefix>/data.pkl`` (+ ``version``
and, for tensors, ``<prefix>/data/<n>`` storages). :func:`load_pt` reads the pickle of such an
archive with the restricted unpickler; tensors (persistent ids) are refused, so only archives that
hold plain Python containers load. torch is not needed.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "UnsafePickleError",
    "RestrictedUnpickler",
    "safe_loads",
    "safe_load",
    "load_pt",
    "MAX_PICKLE_BYTES",
]

# Refuse absurdly large embedded pickles (a zip entry can claim any uncompressed size).
MAX_PICKLE_BYTES = 1 << 30


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle asked for a global (class or function) outside the allow-list, or for a tensor."""


def _numpy_dtype(name: Any, align: Any = False, copy: Any = True) -> np.dtype:
    # Only plain numeric/bool dtypes; structured or object dtypes could carry arbitrary payloads.
    if not isinstance(name, str):
        raise UnsafePickleError(f"numpy dtype spec must be a string, got {type(name).__name__}")
    dtype = np.dtype(name)
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise UnsafePickleError(f"numpy dtype {name!r} is not an allowed numeric dtype")
    return dtype


def _numpy_scalar(dtype: Any, raw: Any = None) -> int | float | bool:
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        raise UnsafePickleError("numpy scalar with a non-numeric dtype refused")
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != dtype.itemsize:
        raise UnsafePickleError("numpy scalar payload has the wrong size")
    return np.frombuffer(bytes(raw), dtype=dtype)[0].item()


def _latin1_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    # Protocol-2 pickles of `bytes` call `_codecs.encode(str, "latin1")`; no other codec is accepted.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode is only allowed for the latin1 encoding of a str")
    return text.encode("latin1")


_BASE_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
    ("_codecs", "encode"): _latin1_encode,
    # Python 2 pickles name the builtins module `__builtin__`.
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "complex"): complex,
}

_NUMPY_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` resolves only an allow-list of safe globals.

    Args:
        file: binary file object holding the pickle.
        allow_numpy_scalars: also accept numpy numeric scalars (returned as Python numbers).
    """

    def __init__(self, file, *, allow_numpy_scalars: bool = False):
        super().__init__(file)
        self._allowed = dict(_BASE_ALLOWED)
        if allow_numpy_scalars:
            self._allowed.update(_NUMPY_ALLOWED)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle global {module}.{name}: only builtin containers and numbers "
                "are allowed (pickles are treated as untrusted input)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"refusing persistent id {str(pid)[:80]!r} (e.g. a torch tensor storage): only plain "
            "Python containers and numbers are supported"
        )


def safe_loads(data: bytes, *, allow_numpy_scalars: bool = False) -> Any:
    """Unpickle `data` with :class:`RestrictedUnpickler`; raises :class:`UnsafePickleError` on refusal."""
    if len(data) > MAX_PICKLE_BYTES:
        raise ValueError(f"pickle of {len(data)} bytes exceeds the limit of {MAX_PICKLE_BYTES} bytes")
    return RestrictedUnpickler(io.BytesIO(data), allow_numpy_scalars=allow_numpy_scalars).load()


def safe_load(path: str | PathLike, *, allow_numpy_scalars: bool = False) -> Any:
    """Unpickle the file at `path` with :class:`RestrictedUnpickler`."""
    return safe_loads(Path(path).read_bytes(), allow_numpy_scalars=allow_numpy_scalars)


def load_pt(path: str | PathLike) -> Any:
    """Read a PyTorch zip-format ``.pt`` file that holds a plain pickle of Python objects.

    The archive must contain exactly one ``*/data.pkl`` entry; it is unpickled with the restricted
    unpickler (tensors and any non-allow-listed class are refused). Raises `ValueError` when the file
    is not such an archive.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a zip-format .pt archive (legacy torch pickles are not supported)"
        )
    with zipfile.ZipFile(path) as archive:
        entries = [info for info in archive.infolist() if info.filename.endswith("/data.pkl")
                   or info.filename == "data.pkl"]
        if len(entries) != 1:
            raise ValueError(f"{path}: expected one data.pkl entry in the archive, found {len(entries)}")
        if entries[0].file_size > MAX_PICKLE_BYTES:
            raise ValueError(f"{path}: data.pkl claims {entries[0].file_size} bytes, over the limit")
        data = archive.read(entries[0])
    try:
        return safe_loads(data)
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{path}: {err}") from None
