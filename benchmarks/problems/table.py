"""Finite-table problems: a benchmark given as a table of encodings plus objective columns.

A point is a row index (`FiniteSet`, int32[1]); `evaluate_fn` is a pure gather from the device array
`data["objectives"]` (float32[K, M], problem's own units), so millions of look-ups run inside a jit.

Entry points:

- `finite_table_problem(encodings, values, directions, ...)`: from arrays.
- `table_problem(path, objectives={...}, ...)`: from a user's `.csv`, `.npz` or `.npy` file.
- `nasbench301_sample(data_dir=None)`, `nasbench101_sample(data_dir=None)`: the NASLib zero-cost
  SAMPLES of NAS-Bench-301 (725 DARTS genotypes) and NAS-Bench-101 (500 cells). These are small
  samples of those spaces, not the full benchmarks. Their data directory is resolved by
  `benchmarks.data.locate.resolve_data_dir` (`data_dir` argument, else `$LAMOO_JAX_DATA`, else the
  user cache `~/.cache/lamoo-jax`); a missing file raises `DataNotFoundError` (a FileNotFoundError)
  naming the file, the directory searched and the file's source (repository, commit, path).

Conventions shared with `benchmarks.problems.nasbench_graph`:

- Default reference point (problem's own units): in the minimised convention, the worst value of each
  objective over the whole table plus 10% of its range (`worst + 0.1 * (worst - best)`; when an
  objective is constant, `worst + 0.1 * max(|worst|, 1)`). Every row of the table is then strictly
  inside the reference box, so every row can contribute hypervolume.
- `max_hv` is the exact hypervolume of the whole table w.r.t. the reference point, computed once at
  build time from the float32 values that `evaluate` returns (so a run that finds the whole front
  reaches `max_hv` exactly, up to summation order). moocore is used when installed (any M);
  otherwise an exact numpy computation for M <= 3; for M > 3 without moocore `max_hv` is None.
- Duplicate encodings (two rows with the same encoding) are an error by default: the optimizer
  deduplicates by row index, so duplicates would make the same architecture look like two points.
  `duplicates="first"` keeps the first occurrence of each encoding and warns.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.data.locate import ENV_VAR, DataNotFoundError, resolve_data_dir, user_cache_dir
from lamoo_jax.problem import Problem, parse_direction
from lamoo_jax.spaces import FiniteSet

__all__ = [
    "REF_MARGIN",
    "default_ref_point",
    "pareto_front_mask",
    "exact_hypervolume",
    "finite_table_problem",
    "table_problem",
    "nasbench301_sample",
    "nasbench101_sample",
    "NB301_OPERATIONS",
    "NB101_OPERATIONS",
    "encode_darts_genotype",
    "encode_nb101_spec",
]

REF_MARGIN = 0.1
"""Fraction of each objective's range added beyond its worst value for the default reference point."""


# --------------------------------------------------------------------------------------------------
# Pareto front and exact hypervolume (numpy at build time; moocore when available)


def default_ref_point(Y_min: np.ndarray, margin: float = REF_MARGIN) -> np.ndarray:
    """Default reference point in the minimised convention: `worst + margin * range` per objective.

    Args:
        Y_min: float[K, M] objective values, all minimised.
    Returns:
        float64[M].
    """
    Y_min = np.asarray(Y_min, dtype=np.float64)
    worst = Y_min.max(axis=0)
    span = worst - Y_min.min(axis=0)
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return worst + margin * span


def pareto_front_mask(Y_min: np.ndarray) -> np.ndarray:
    """Exact nondominated mask (all minimised), bool[K]; duplicates of a front point are all kept.

    Peels the front one point at a time: the remaining point with the smallest coordinate sum is
    nondominated, and everything it dominates is dropped. Cost O(K * |front|), vectorised per step.
    """
    Y = np.asarray(Y_min, dtype=np.float64)
    K = Y.shape[0]
    on_front = np.zeros(K, dtype=bool)
    alive = np.ones(K, dtype=bool)
    totals = Y.sum(axis=1)
    while alive.any():
        idx = np.flatnonzero(alive)
        best = idx[np.argmin(totals[idx])]
        p = Y[best]
        rest = Y[idx]
        equal = np.all(rest == p, axis=1)
        dominated = np.all(rest >= p, axis=1) & np.any(rest > p, axis=1)
        on_front[idx[equal]] = True
        alive[idx[equal | dominated]] = False
    return on_front


def _hv2d(P: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume of points strictly inside `ref` (minimised)."""
    if P.shape[0] == 0:
        return 0.0
    P = P[np.lexsort((P[:, 1], P[:, 0]))]
    best_y = np.minimum.accumulate(P[:, 1])
    # Only points that lower the running minimum of y are on the staircase.
    keep = np.concatenate(([True], best_y[1:] < best_y[:-1]))
    xs, ys = P[keep, 0], best_y[keep]
    widths = np.diff(np.append(xs, ref[0]))
    return float(np.sum(widths * (ref[1] - ys)))


def _hypervolume_numpy(Y_min: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume for M = 2 (staircase) or M = 3 (slices along the last objective)."""
    Y = np.asarray(Y_min, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    Y = Y[np.all(Y < ref, axis=1)]
    if Y.shape[0] == 0:
        return 0.0
    Y = Y[pareto_front_mask(Y)]
    M = Y.shape[1]
    if M == 1:
        return float(ref[0] - Y[:, 0].min())
    if M == 2:
        return _hv2d(Y, ref)
    if M == 3:
        Y = Y[np.argsort(Y[:, 2], kind="stable")]
        z = np.append(Y[:, 2], ref[2])
        total = 0.0
        for i in range(Y.shape[0]):
            depth = z[i + 1] - z[i]
            if depth > 0:
                total += depth * _hv2d(Y[: i + 1, :2], ref[:2])
        return total
    raise ValueError(f"numpy exact hypervolume supports M <= 3 objectives, got M={M}")


def exact_hypervolume(Y_min: np.ndarray, ref_min: np.ndarray) -> tuple[float | None, str]:
    """Exact hypervolume of `Y_min` (minimised) w.r.t. `ref_min`, and a note saying how it was computed.

    Points that are not strictly better than `ref_min` in every objective contribute nothing.
    Returns `(None, note)` when M > 3 and moocore is not installed.
    """
    Y = np.asarray(Y_min, dtype=np.float64)
    ref = np.asarray(ref_min, dtype=np.float64)
    try:
        import moocore
    except ImportError:
        moocore = None
    if moocore is not None:
        inside = Y[np.all(Y < ref, axis=1)]
        value = float(moocore.hypervolume(inside, ref=ref)) if inside.shape[0] else 0.0
        return value, "exact hypervolume of the whole table (moocore)"
    if Y.shape[1] <= 3:
        return _hypervolume_numpy(Y, ref), "exact hypervolume of the whole table (numpy)"
    return None, f"not computed: exact hypervolume for M={Y.shape[1]} > 3 needs moocore (pip install moocore)"


# --------------------------------------------------------------------------------------------------
# Problems from arrays


def _gather_objectives(data, x: jax.Array) -> jax.Array:
    """Objective row of point `x` (int32[1] row index): float32[M], a pure gather."""
    return data["objectives"][x[0]]


def finite_table_problem(
    encodings: np.ndarray,
    values: np.ndarray,
    directions: Sequence[str | int],
    *,
    objective_names: Sequence[str] = (),
    ref_point: Sequence[float] | None = None,
    name: str = "table",
    duplicates: str = "error",
    source: str = "table",
) -> Problem:
    """A `FiniteSet` problem over the rows of a table.

    Args:
        encodings: float[K, e] numeric encoding of each row (what the SVM sees, scaled per column).
        values: float[K, M] objective values in the problem's own units.
        directions: M entries, "min"/"max" (or +1/-1).
        objective_names: M names (default f0, f1, ...).
        ref_point: M values in the problem's own units; default: see module docstring.
        name: problem name.
        duplicates: "error" (default) or "first" (keep the first row of each encoding, warn).
        source: what to call the table in error messages (e.g. its file path).
    Returns:
        Problem with `data = {"objectives": float32[K, M]}` and exact `max_hv` (see module docstring).
    """
    enc = np.asarray(encodings, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if enc.ndim != 2 or enc.shape[0] == 0 or enc.shape[1] == 0:
        raise ValueError(f"{source}: encodings must be a non-empty 2-D array [rows, columns]; got shape {enc.shape}")
    if vals.ndim != 2 or vals.shape[1] == 0:
        raise ValueError(f"{source}: objective values must be a 2-D array [rows, objectives]; got shape {vals.shape}")
    if vals.shape[0] != enc.shape[0]:
        raise ValueError(f"{source}: {enc.shape[0]} encoding rows but {vals.shape[0]} objective rows")
    if not np.all(np.isfinite(enc)):
        rows = np.flatnonzero(~np.all(np.isfinite(enc), axis=1))
        raise ValueError(f"{source}: encodings hold NaN or inf in {rows.size} rows (first rows: {rows[:5].tolist()})")
    names = tuple(objective_names) if objective_names else tuple(f"f{i}" for i in range(vals.shape[1]))
    if len(names) != vals.shape[1]:
        raise ValueError(f"{source}: {len(names)} objective names for {vals.shape[1]} objective columns")
    for j, col in enumerate(names):
        bad = ~np.isfinite(vals[:, j])
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"{source}: objective {col!r} has NaN or inf in {rows.size} rows (first rows: {rows[:5].tolist()})"
            )
    if len(directions) != vals.shape[1]:
        raise ValueError(f"{source}: {len(directions)} directions for {vals.shape[1]} objective columns")
    signs = np.asarray([parse_direction(d) for d in directions], dtype=np.float64)

    if duplicates not in ("error", "first"):
        raise ValueError(f"duplicates must be 'error' or 'first', got {duplicates!r}")
    # Compared as stored (float32): rows distinct only in float64 would be one point of the space.
    _, first, inverse = np.unique(enc.astype(np.float32), axis=0, return_index=True, return_inverse=True)
    if first.size != enc.shape[0]:
        inverse = inverse.reshape(-1)
        dup_rows = np.flatnonzero(first[inverse] != np.arange(enc.shape[0]))
        detail = f"row {dup_rows[0]} repeats row {first[inverse[dup_rows[0]]]}"
        if duplicates == "error":
            raise ValueError(
                f"{source}: {dup_rows.size} rows repeat an earlier row's encoding ({detail}); "
                "pass duplicates='first' to keep the first occurrence"
            )
        warnings.warn(f"{source}: dropping {dup_rows.size} rows with duplicate encodings ({detail})", stacklevel=2)
        keep = np.sort(first)
        enc, vals = enc[keep], vals[keep]

    # Everything downstream (max_hv, ref point) uses the float32 values that evaluate() returns.
    vals32 = vals.astype(np.float32)
    Y_min = vals32.astype(np.float64) * signs
    if ref_point is None:
        ref_min = default_ref_point(Y_min)
    else:
        ref_user = np.asarray(ref_point, dtype=np.float64).reshape(-1)
        if ref_user.shape[0] != vals.shape[1] or not np.all(np.isfinite(ref_user)):
            raise ValueError(
                f"{source}: ref_point must hold {vals.shape[1]} finite values; got {np.asarray(ref_point).tolist()}"
            )
        ref_min = ref_user * signs
        if not np.any(np.all(Y_min < ref_min, axis=1)):
            raise ValueError(
                f"{source}: no row of the table is strictly better than ref_point {ref_user.tolist()} in every "
                "objective, so every hypervolume would be 0; give a reference point beyond the values to improve on "
                "(or none: the default lies just beyond the table's worst value of each objective)"
            )
    # The run measures against the float32 reference point, so the maximum must too (or a run that
    # finds the whole front can exceed it). Rounded up: points inside the float64 point stay inside.
    ref32 = ref_min.astype(np.float32)
    ref_min = np.where(ref32 < ref_min, np.nextafter(ref32, np.float32(np.inf)), ref32).astype(np.float64)
    max_hv, note = exact_hypervolume(Y_min, ref_min)
    return Problem.create(
        space=FiniteSet.create(enc.astype(np.float32)),
        evaluate_fn=_gather_objectives,
        ref_point=ref_min * signs,
        directions=tuple(int(s) for s in signs),
        data={"objectives": jnp.asarray(vals32)},
        name=name,
        objective_names=names,
        max_hv=max_hv,
        max_hv_note=note,
    )


# --------------------------------------------------------------------------------------------------
# Problems from files


def _read_csv_columns(path: Path, delimiter: str) -> dict[str, np.ndarray | ValueError]:
    """Columns by header name: float64 arrays, or the ValueError naming a column's first cell that is
    not a number (raised by `table_problem` only if the column is used)."""
    # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first column's name.
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{path}: the CSV file is empty (a header row naming the columns is required)")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header) or any(not h for h in header):
        raise ValueError(f"{path}: the header row needs distinct, non-empty column names; got {header}")
    body = rows[1:]
    if not body:
        raise ValueError(f"{path}: the CSV file has a header but no data rows")
    columns: dict[str, list[float]] = {h: [] for h in header}
    not_numbers: dict[str, ValueError] = {}
    for line_no, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line_no} has {len(row)} fields, the header has {len(header)}")
        for h, cell in zip(header, row):
            if h in not_numbers:
                continue
            text = cell.strip()
            try:
                columns[h].append(float(text) if text else float("nan"))
            except ValueError:
                not_numbers[h] = ValueError(f"{path}: line {line_no}, column {h!r}: {cell!r} is not a number")
    return {h: not_numbers.get(h, np.asarray(v, dtype=np.float64)) for h, v in columns.items()}


def _read_array_columns(path: Path) -> dict[str, np.ndarray]:
    """Columns of a `.npz` (one 1-D array per column, or 2-D blocks) or `.npy` file."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: np.asarray(archive[k]) for k in archive.files}
    else:
        arr = np.load(path, allow_pickle=False)
        if arr.dtype.names:
            arrays = {n: np.asarray(arr[n]) for n in arr.dtype.names}
        elif arr.ndim == 2:
            # A plain 2-D array: columns are named by their index ("0", "1", ...).
            arrays = {str(j): arr[:, j] for j in range(arr.shape[1])}
        else:
            raise ValueError(f"{path}: a .npy table must be 2-D or a structured array; got shape {arr.shape}")
    columns: dict[str, np.ndarray] = {}
    for key, arr in arrays.items():
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{path}: array {key!r} has non-numeric dtype {arr.dtype}")
        if arr.ndim == 1:
            columns[key] = arr.astype(np.float64)
        elif arr.ndim == 2:
            # A 2-D block of encoding columns, named key[0], key[1], ...
            for j in range(arr.shape[1]):
                columns[f"{key}[{j}]"] = arr[:, j].astype(np.float64)
            columns[key] = arr.astype(np.float64)
        else:
            raise ValueError(f"{path}: array {key!r} must be 1-D or 2-D; got shape {arr.shape}")
    return columns


def table_problem(
    path: str | os.PathLike,
    objectives: Mapping[str, str],
    encoding_columns: Sequence[str] | None = None,
    ref_point: Sequence[float] | None = None,
    name: str | None = None,
    duplicates: str = "error",
    delimiter: str = ",",
) -> Problem:
    """A finite-table problem from a file of encodings plus objective columns.

    File formats:
      - `.csv`: a header row of column names, then one numeric row per point.
      - `.npz`: one 1-D array per column (length K); a 2-D array `[K, e]` is a block of encoding
        columns usable by its own name in `encoding_columns`.
      - `.npy`: a structured array (fields are columns) or a plain 2-D array (columns "0", "1", ...).

    Args:
        path: the file.
        objectives: `{column: "min" | "max"}`, in the order the objectives should have.
        encoding_columns: columns that encode a point (default: every column that is not an objective).
        ref_point: reference point in the table's own units (default: module docstring rule).
        name: problem name (default `table_<file stem>`).
        duplicates: "error" or "first" (see module docstring).
        delimiter: CSV field delimiter.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"table file not found: {path}")
    if not isinstance(objectives, Mapping) or not objectives:
        raise ValueError("objectives must be a non-empty mapping {column: 'min' | 'max'}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        columns = _read_csv_columns(path, delimiter)
    elif suffix in (".npz", ".npy"):
        columns = _read_array_columns(path)
    else:
        raise ValueError(f"{path}: unsupported table format {path.suffix!r}; use .csv, .npz or .npy")
    block_names = {k for k, v in columns.items() if isinstance(v, np.ndarray) and v.ndim == 2}
    objective_names = [str(k) for k in objectives]
    directions = [objectives[k] for k in objectives]
    for col, direction in zip(objective_names, directions):
        if col not in columns or col in block_names:
            raise ValueError(f"{path}: objective column {col!r} not found; columns: {sorted(columns)}")
        try:
            parse_direction(direction)
        except ValueError:
            raise ValueError(f"{path}: objective {col!r} has direction {direction!r}; use 'min' or 'max'") from None
    if encoding_columns is None:
        # Default: every non-objective column (a 2-D .npz block counts once, by its own name).
        split = {c for b in block_names for c in columns if c.startswith(f"{b}[")}
        encoding_columns = [c for c in columns if c not in objective_names and c not in split]
    encoding_columns = [str(c) for c in encoding_columns]
    missing = [c for c in encoding_columns if c not in columns]
    if missing:
        raise ValueError(f"{path}: encoding columns {missing} not found; columns: {sorted(columns)}")
    overlap = sorted(set(encoding_columns) & set(objective_names))
    if overlap:
        raise ValueError(f"{path}: columns {overlap} are both encoding and objective columns")
    if not encoding_columns:
        raise ValueError(f"{path}: no encoding columns (every column is an objective)")
    used = list(encoding_columns) + objective_names
    for c in used:
        if isinstance(columns[c], ValueError):
            raise columns[c]
    lengths = {c: columns[c].shape[0] for c in used}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path}: columns differ in length: {lengths}")
    enc = np.concatenate([columns[c].reshape(columns[c].shape[0], -1) for c in encoding_columns], axis=1)
    vals = np.stack([columns[c] for c in objective_names], axis=1)
    return finite_table_problem(
        enc,
        vals,
        directions,
        objective_names=objective_names,
        ref_point=ref_point,
        name=name or f"table_{path.stem}",
        duplicates=duplicates,
        source=str(path),
    )


# --------------------------------------------------------------------------------------------------
# NASLib zero-cost samples of NAS-Bench-301 and NAS-Bench-101

# Op index of NASLib's compact DARTS genotype (see ../shared/data/nasbench301/naslib-zc/SOURCE.md).
NB301_OPERATIONS: tuple[str, ...] = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)
# Op codes of NASLib's NB101 spec tuple: 0=input, 1=output, 2..4 the choices of intermediate vertices.
NB101_OPERATIONS: tuple[str, ...] = ("maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")

_NB301_FILE = ("nasbench301", "naslib-zc", "zc_nasbench301.json")
_NB101_FILE = ("nasbench101", "naslib-zc", "zc_nasbench101.json")
_SOURCE_HINT = (
    "github.com/automl/NASLib at commit 6639fd1579010457885c641553c55b0c153045aa, "
    "path naslib/data/{name}; put it at {where}"
)

_SAMPLE_PRESETS: dict[str, tuple[tuple[str, str], ...]] = {
    "acc_params": (("val_accuracy", "max"), ("params", "min")),
    "acc_params_flops": (("val_accuracy", "max"), ("params", "min"), ("flops", "min")),
}


def _sample_file(data_dir, parts: tuple[str, ...]) -> Path:
    root, origin = resolve_data_dir(data_dir)
    path = root.joinpath(*parts)
    if not path.is_file():
        raise DataNotFoundError(
            f"missing data file {path} (data directory {root}, from {origin}; resolution order: data_dir "
            f"argument, then ${ENV_VAR}, then {user_cache_dir()}). Get {parts[-1]} from "
            + _SOURCE_HINT.format(name=parts[-1], where=path)
        )
    return path


def _sample_objectives(objectives: str) -> tuple[tuple[str, str], ...]:
    if objectives not in _SAMPLE_PRESETS:
        raise ValueError(f"unknown objectives preset {objectives!r}; presets: {', '.join(_SAMPLE_PRESETS)}")
    return _SAMPLE_PRESETS[objectives]


def _score(value) -> float:
    # NB301 records hold {"score", "time"} dicts, NB101 records plain floats.
    return float(value["score"]) if isinstance(value, dict) else float(value)


def encode_darts_genotype(genotype: Sequence[Sequence[Sequence[int]]]) -> np.ndarray:
    """NASLib compact DARTS genotype -> float32[192].

    For each cell (normal, reduce), each intermediate node 2..5 and each of its two incoming edges:
    one-hot input node (5: inputs 0..4) + one-hot op (7). The two edges of a node are unordered in
    DARTS, so they are sorted by (input, op) first: equivalent genotypes get the same encoding.
    """
    genotype = [list(map(tuple, cell)) for cell in genotype]
    if len(genotype) != 2 or any(len(cell) != 8 for cell in genotype):
        raise ValueError(f"a DARTS genotype is 2 cells x 8 (input, op) edges; got {genotype}")
    parts = []
    for cell in genotype:
        for node in range(4):
            for inp, op in sorted(cell[2 * node: 2 * node + 2]):
                if not (0 <= inp <= node + 1) or not (0 <= op < len(NB301_OPERATIONS)):
                    raise ValueError(f"invalid DARTS edge (input {inp}, op {op}) into node {node + 2}")
                parts.append(np.eye(5, dtype=np.float32)[inp])
                parts.append(np.eye(len(NB301_OPERATIONS), dtype=np.float32)[op])
    return np.concatenate(parts)


def encode_nb101_spec(spec: Sequence[int]) -> np.ndarray:
    """NASLib NB101 spec (49 adjacency entries + 7 op codes) -> float32[36].

    The 21 strictly-upper-triangular adjacency bits of the 7x7 DAG, then a one-hot op (3 choices)
    for each of the 5 intermediate vertices (vertex 0 is the input, vertex 6 the output).
    """
    spec = np.asarray(spec, dtype=np.int64)
    if spec.shape != (56,):
        raise ValueError(f"an NB101 spec has 56 entries (7x7 adjacency + 7 ops); got shape {spec.shape}")
    adjacency = spec[:49].reshape(7, 7)
    ops = spec[49:]
    if ops[0] != 0 or ops[6] != 1 or np.any((ops[1:6] < 2) | (ops[1:6] > 4)):
        raise ValueError(f"NB101 ops must be input, 5 x {{2, 3, 4}}, output; got {ops.tolist()}")
    upper = adjacency[np.triu_indices(7, k=1)].astype(np.float32)
    one_hot = np.eye(3, dtype=np.float32)[ops[1:6] - 2].reshape(-1)
    return np.concatenate([upper, one_hot])


def _sample_problem(records: Mapping[str, dict], encode, objectives: str, prefix: str, source: Path) -> Problem:
    preset = _sample_objectives(objectives)
    keys = list(records)
    enc = np.stack([encode(ast.literal_eval(k)) for k in keys])
    vals = np.asarray([[_score(records[k][col]) for col, _ in preset] for k in keys], dtype=np.float64)
    return finite_table_problem(
        enc,
        vals,
        [d for _, d in preset],
        objective_names=[col for col, _ in preset],
        name=f"{prefix}_{len(keys)}",
        source=str(source),
    )


def nasbench301_sample(data_dir: str | os.PathLike | None = None, objectives: str = "acc_params") -> Problem:
    """A 725-genotype SAMPLE of the NAS-Bench-301 (DARTS) space, not the full benchmark.

    Source: NASLib's `zc_nasbench301.json` (`<data_dir>/nasbench301/naslib-zc/`). Its CIFAR-10
    `val_accuracy` (%) is most likely the NB301 v1.0 surrogate's prediction (see that folder's
    SOURCE.md). Objectives: `"acc_params"` (default: val_accuracy max, params in millions min) or
    `"acc_params_flops"` (+ MFLOPs min). Rows in file order; encoding: `encode_darts_genotype`.
    Name: `nasbench301_sample_725`.
    """
    path = _sample_file(data_dir, _NB301_FILE)
    with open(path) as fh:
        records = json.load(fh)["cifar10"]
    return _sample_problem(records, encode_darts_genotype, objectives, "nasbench301_sample", path)


def nasbench101_sample(data_dir: str | os.PathLike | None = None, objectives: str = "acc_params") -> Problem:
    """A 500-cell SAMPLE of the NAS-Bench-101 space, not the full benchmark.

    Source: NASLib's `zc_nasbench101.json` (`<data_dir>/nasbench101/naslib-zc/`): CIFAR-10
    `val_accuracy` (%), params (millions), flops (MFLOPs, NASLib's counter). Objectives as in
    `nasbench301_sample`. Rows in file order; encoding: `encode_nb101_spec`.
    Name: `nasbench101_sample_500`.
    """
    path = _sample_file(data_dir, _NB101_FILE)
    with open(path) as fh:
        records = json.load(fh)["nasbench101"]["cifar10"]
    return _sample_problem(records, encode_nb101_spec, objectives, "nasbench101_sample", path)
