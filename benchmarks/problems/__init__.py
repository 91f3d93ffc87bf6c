"""Problems by name: `get_problem(name, **options)`.

Problem modules are imported lazily so that asking for a synthetic problem never touches table
loading code (and vice versa).
"""

from __future__ import annotations

import importlib

from lamoo_jax.problem import Problem

# name -> "module:factory"; each factory takes the problem's options as keyword arguments.
_REGISTRY: dict[str, str] = {
    "branin_currin": "benchmarks.problems.synthetic:branin_currin",
    "vehicle_safety": "benchmarks.problems.synthetic:vehicle_safety",
    "dtlz2": "benchmarks.problems.synthetic:dtlz2",
    "zdt1": "benchmarks.problems.synthetic:zdt1",
    "zdt2": "benchmarks.problems.synthetic:zdt2",
    "zdt3": "benchmarks.problems.synthetic:zdt3",
    "nasbench201": "benchmarks.problems.nasbench201:nasbench201",
    "nasbench_graph": "benchmarks.problems.nasbench_graph:nasbench_graph",
    "table": "benchmarks.problems.table:table_problem",
    "nasbench301_sample": "benchmarks.problems.table:nasbench301_sample",
    "nasbench101_sample": "benchmarks.problems.table:nasbench101_sample",
}


def list_problems() -> list[str]:
    return sorted(_REGISTRY)


def get_problem(name: str, **options) -> Problem:
    """Build the problem registered under `name` with its options (e.g. `n_obj=3, dim=12`)."""
    key = name.strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown problem {name!r}; known problems: {', '.join(list_problems())}")
    module_name, factory_name = _REGISTRY[key].split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    return factory(**options)
