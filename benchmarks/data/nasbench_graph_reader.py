"""Reading NAS-Bench-Graph's tables from the `nas-bench-graph` PyPI package, without its code.

NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets and Benchmarks; package `nas-bench-graph` 1.4.0,
Apache-2.0) ships one "light" table per dataset in `nas_bench_graph/light/<dataset>.bench`. Each is a
pickle of `{arch_hash: {"valid_perf", "perf", "latency", "para"}}`. Pickles are untrusted input, so
they are read with `benchmarks.data.pickles.RestrictedUnpickler` (builtin containers, numbers and
numpy numeric scalars only), never with `pickle.load`. The package is located with
`importlib.util.find_spec`, which does not execute its code, so no download and no torch are needed.

The architecture space (package `architecture.py`): a cell of 4 computing nodes. `link[i]` is the
input of node `i` (0 = the cell input, `j >= 1` = node `j - 1`), restricted to the 9 canonical
patterns of `LINK_PATTERNS` (the package maps every other DAG onto one of them); `ops[i]` is one of
the 9 `OPERATIONS` ("gat", ..., "skip"). The table key is
`hash = (((link_index * 10 + op0) * 10 + op1) * 10 + op2) * 10 + op3` (base `len(OPERATIONS) + 1`;
the package computes it with `Arch.valid_hash()`). After removing isomorphic duplicates and the
all-skip cells, 26,206 architectures remain; 8 datasets cover all of them. `proteins` covers the
2,021 that use only gcn / sage / arma / fc / skip (the operations its authors could run there).

Values as stored: `valid_perf` and `perf` are validation / test accuracy as fractions in `[0, 1]`
(for `proteins` likewise), `latency` is the inference time in seconds, `para` the number of
parameters in millions.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.data.pickles import RestrictedUnpickler

__all__ = [
    "DATASETS",
    "OPERATIONS",
    "LINK_PATTERNS",
    "ENCODING_COLUMNS",
    "NasBenchGraphTable",
    "package_bench_dir",
    "bench_path",
    "read_bench",
    "decode_hash",
    "encode_architectures",
    "load_table",
]

# Order as listed by the package README; "cora" is the project's default.
DATASETS: tuple[str, ...] = (
    "cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins",
)

# `gnn_list` and `link_list` of nas_bench_graph/architecture.py (the hash depends on their order).
OPERATIONS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
LINK_PATTERNS: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 0, 0),
    (0, 0, 0, 1),
    (0, 0, 1, 1),
    (0, 0, 1, 2),
    (0, 0, 1, 3),
    (0, 1, 1, 1),
    (0, 1, 1, 2),
    (0, 1, 2, 2),
    (0, 1, 2, 3),
)
_HASH_BASE = len(OPERATIONS) + 1
_N_NODES = 4

# Feature layout of `encode_architectures`: one-hot operation of each node, then one-hot input of
# nodes 1..3 (node 0 always reads the cell input, so it carries no information).
ENCODING_COLUMNS: tuple[str, ...] = tuple(
    [f"op{node}={op}" for node in range(_N_NODES) for op in OPERATIONS]
    + [f"in{node}={src}" for node in range(1, _N_NODES) for src in range(node + 1)]
)

_FIELDS = ("valid_perf", "perf", "latency", "para")


@dataclass(frozen=True)
class NasBenchGraphTable:
    """One dataset's table, rows sorted by architecture hash.

    Attributes:
        dataset: dataset name.
        hashes: int64[K] the package's architecture hashes (`Arch.valid_hash()`).
        links: int8[K, 4] input of each node (0 = cell input, j = node j-1).
        ops: int8[K, 4] operation index of each node into `OPERATIONS`.
        valid_acc, test_acc: float64[K] accuracies, fractions in [0, 1].
        latency: float64[K] seconds.
        params: float64[K] millions of parameters.
        source: path of the `.bench` file; source_sha256 its SHA-256.
    """

    dataset: str
    hashes: np.ndarray
    links: np.ndarray
    ops: np.ndarray
    valid_acc: np.ndarray
    test_acc: np.ndarray
    latency: np.ndarray
    params: np.ndarray
    source: Path
    source_sha256: str

    @property
    def n_archs(self) -> int:
        return int(self.hashes.shape[0])


def package_bench_dir() -> Path:
    """The `light/` folder of the installed `nas-bench-graph` package (its code is not executed)."""
    spec = importlib.util.find_spec("nas_bench_graph")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "NAS-Bench-Graph needs the PyPI package 'nas-bench-graph' (it ships the tables): "
            "pip install nas-bench-graph"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "light"


def bench_path(dataset: str) -> Path:
    """Path of the `.bench` table of `dataset`; ValueError for an unknown dataset or missing file."""
    key = str(dataset).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"unknown NAS-Bench-Graph dataset {dataset!r}; valid datasets: {', '.join(DATASETS)}")
    path = package_bench_dir() / f"{key}.bench"
    if not path.is_file():
        raise ValueError(
            f"NAS-Bench-Graph table {path} is missing; reinstall the package: "
            "pip install --force-reinstall nas-bench-graph"
        )
    return path


def read_bench(path: str | Path) -> dict:
    """Unpickle a `.bench` file with the restricted unpickler (numpy numeric scalars allowed)."""
    with open(path, "rb") as fh:
        return RestrictedUnpickler(fh, allow_numpy_scalars=True).load()


def decode_hash(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert the package's hash: int64[K] -> (links int8[K, 4], ops int8[K, 4])."""
    hashes = np.asarray(hashes, dtype=np.int64)
    ops = np.empty(hashes.shape + (_N_NODES,), dtype=np.int8)
    rest = hashes.copy()
    for node in reversed(range(_N_NODES)):
        digit = rest % _HASH_BASE
        if np.any(digit >= len(OPERATIONS)):
            raise ValueError("architecture hash with an operation digit outside the operation list")
        ops[..., node] = digit
        rest //= _HASH_BASE
    if np.any((rest < 0) | (rest >= len(LINK_PATTERNS))):
        raise ValueError("architecture hash with a link-pattern index outside the 9 patterns")
    links = np.asarray(LINK_PATTERNS, dtype=np.int8)[rest]
    return links, ops


def encode_architectures(links: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """Numeric encoding for the SVM: float32[K, 45], columns named by `ENCODING_COLUMNS`.

    One-hot operation per node (4 x 9) and one-hot input per node 1..3 (2 + 3 + 4). One-hot rather
    than integer codes because neither operations nor inputs are ordered.
    """
    links = np.asarray(links)
    ops = np.asarray(ops)
    parts = [np.eye(len(OPERATIONS), dtype=np.float32)[ops[:, node]] for node in range(_N_NODES)]
    parts += [np.eye(node + 1, dtype=np.float32)[links[:, node]] for node in range(1, _N_NODES)]
    return np.concatenate(parts, axis=1)


def load_table(dataset: str = "cora") -> NasBenchGraphTable:
    """Read and validate one dataset's table (about 0.1 s)."""
    path = bench_path(dataset)
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    bench = read_bench(path)
    if not isinstance(bench, dict) or not bench:
        raise ValueError(f"{path}: expected a non-empty dict of architectures")
    hashes = np.asarray(sorted(bench), dtype=np.int64)
    values = np.empty((hashes.shape[0], len(_FIELDS)), dtype=np.float64)
    for row, key in enumerate(hashes.tolist()):
        record = bench[key]
        try:
            values[row] = [float(record[field]) for field in _FIELDS]
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: architecture {key} lacks a numeric field {_FIELDS}: {err}") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{path}: the table holds NaN or inf values")
    links, ops = decode_hash(hashes)
    return NasBenchGraphTable(
        dataset=path.stem,
        hashes=hashes,
        links=links,
        ops=ops,
        valid_acc=values[:, 0],
        test_acc=values[:, 1],
        latency=values[:, 2],
        params=values[:, 3],
        source=path,
        source_sha256=sha,
    )
