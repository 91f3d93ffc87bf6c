"""NAS-Bench-Graph as a finite-table problem: the project's embedded default (no download).

`nasbench_graph(dataset="cora", objectives="acc_latency")` builds a `FiniteSet` problem over every
architecture the benchmark holds for `dataset` (26,206 for eight datasets, 2,021 for `proteins`),
read from the tables the `nas-bench-graph` PyPI package ships (see
`benchmarks.data.nasbench_graph_reader` for the format, the encoding and the units).

The space is not a full product (isomorphic cells were removed by the benchmark's authors), hence a
finite set: a point is a row index, rows sorted by the package's architecture hash. The SVM sees a
45-column one-hot encoding (operation of each of the 4 nodes, input of nodes 1..3).

Objectives (units as stored in the tables):

    valid_acc  validation accuracy, fraction in [0, 1], maximised
    test_acc   test accuracy, fraction in [0, 1], maximised
    latency    inference latency, seconds, minimised
    params     parameters, millions, minimised

Presets: `"acc_latency"` (default: valid_acc, latency), `"acc_latency_params"` (valid_acc, latency,
params), `"test_acc_latency"`, `"test_acc_latency_params"`; or a sequence of the names above.
Searching uses validation accuracy by default, as the benchmark intends; test accuracy is there for
reporting.

Reference point: the table's worst value of each objective plus 10% of its range (so every
architecture is strictly inside), in the problem's own units; `max_hv` is the exact hypervolume of
the whole table (see `benchmarks.problems.table`). Building takes about 0.2 s (reading the pickle,
decoding, exact HV), so no cache file is written.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from benchmarks.data.nasbench_graph_reader import DATASETS, encode_architectures, load_table
from benchmarks.problems.table import finite_table_problem
from lamoo_jax.problem import Problem

__all__ = ["OBJECTIVES", "PRESETS", "nasbench_graph"]

# name -> (table attribute, direction)
OBJECTIVES: dict[str, tuple[str, str]] = {
    "valid_acc": ("valid_acc", "max"),
    "test_acc": ("test_acc", "max"),
    "latency": ("latency", "min"),
    "params": ("params", "min"),
}

PRESETS: dict[str, tuple[str, ...]] = {
    "acc_latency": ("valid_acc", "latency"),
    "acc_latency_params": ("valid_acc", "latency", "params"),
    "test_acc_latency": ("test_acc", "latency"),
    "test_acc_latency_params": ("test_acc", "latency", "params"),
}


def _objective_list(objectives: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(objectives, str):
        if objectives not in PRESETS:
            raise ValueError(
                f"unknown NAS-Bench-Graph objectives preset {objectives!r}; presets: {', '.join(PRESETS)} "
                f"(or a list of objective names from {', '.join(OBJECTIVES)})"
            )
        return PRESETS[objectives]
    names = tuple(objectives)
    unknown = [n for n in names if n not in OBJECTIVES]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(
            f"NAS-Bench-Graph objectives must be distinct names from {', '.join(OBJECTIVES)}; got {list(names)}"
        )
    return names


def nasbench_graph(
    dataset: str = "cora",
    objectives: str | Sequence[str] = "acc_latency",
    ref_point: Sequence[float] | None = None,
) -> Problem:
    """NAS-Bench-Graph on `dataset` with the given objectives (see the module docstring).

    Args:
        dataset: one of `DATASETS` (cora, citeseer, pubmed, cs, physics, photo, computers, arxiv,
            proteins).
        objectives: a preset name or a sequence of objective names.
        ref_point: override of the reference point, in the problem's own units.
    Returns:
        Problem named `nasbench_graph_<dataset>_<objectives>`; `data = {"objectives": float32[K, M]}`.
    """
    key = str(dataset).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"unknown NAS-Bench-Graph dataset {dataset!r}; valid datasets: {', '.join(DATASETS)}")
    names = _objective_list(objectives)
    table = load_table(key)
    values = np.stack([getattr(table, OBJECTIVES[n][0]) for n in names], axis=1)
    label = objectives if isinstance(objectives, str) else "_".join(names)
    return finite_table_problem(
        encode_architectures(table.links, table.ops),
        values,
        [OBJECTIVES[n][1] for n in names],
        objective_names=names,
        ref_point=ref_point,
        name=f"nasbench_graph_{key}_{label}",
        source=str(table.source),
    )
