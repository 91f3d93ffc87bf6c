"""NAS-Bench-201 (all 15,625 cells) with accuracy, cost and HW-NAS-Bench-style latency objectives.

``get_problem("nasbench201", objectives="paper", data_dir=None)``

Space: ``Categorical((5,) * 6)``: one op per edge in arch-string order, ops ``0 none, 1 skip_connect,
2 nor_conv_1x1, 3 nor_conv_3x3, 4 avg_pool_3x3`` (:mod:`benchmarks.nb201_model`). Every one of the
5**6 codes is a cell of the benchmark; the 341 cells whose output is disconnected from the input
are legal and score what the tables say (10 % accuracy, real latencies).

Evaluation is a pure gather from device arrays:
``table[code_to_index[mixed_radix(x)]]`` with ``table`` float32[15625, M] (NB201 index order, the
chosen objectives in their own units) and ``code_to_index`` int32[15625] (mixed-radix rank of a code
-> NB201 index, from the published arch-string map).

Objective sets (:data:`benchmarks.data.nasbench201_build.PRESETS`), or any sequence of names from
:data:`~benchmarks.data.nasbench201_build.OBJECTIVES`:

- ``"paper"`` (default): CIFAR-10 test error (%, min) vs FLOPs (M multiply-adds, min).
- ``"hw_pixel3"``: CIFAR-10 test error vs Pixel 3 latency (ms).
- ``"accuracy"``: test error on CIFAR-10, CIFAR-100, ImageNet16-120.
- ``"hw"`` (7): error, params, FLOPs, latency on eyeriss, fpga, pixel3, raspi4 (HW-NAS-Bench values).
- ``"many"`` (13): three test errors, cifar10-valid validation error, training time, params, FLOPs,
  latency on eyeriss, fpga, pixel3, raspi4, RTX 2080 Ti (batch 1) and Xeon Gold 6240.

Reference point: worst value of each objective over the table plus 1 % of its range; ``max_hv`` is
the hypervolume of the table's Pareto front (exact, or a labelled Monte Carlo estimate with
``max_hv_stderr`` for ``"many"``), computed once when the cache is built.
"""

from __future__ import annotations

from os import PathLike
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from benchmarks import nb201_model
from benchmarks.data import nasbench201_build as build
from lamoo_jax.problem import Problem
from lamoo_jax.spaces import Categorical

__all__ = ["nasbench201", "evaluate_cell", "load_arrays"]

_RADIX = np.asarray(nb201_model.RADIX_WEIGHTS, dtype=np.int32)


def evaluate_cell(data: dict, x: jnp.ndarray) -> jnp.ndarray:
    """Objectives (float32[M]) of one cell code `x` (int32[6], each in 0..4): a pure gather."""
    rank = jnp.sum(x.astype(jnp.int32) * _RADIX)
    return data["table"][data["code_to_index"][rank]]


def load_arrays(data_dir: str | PathLike | None = None, cache_path: str | PathLike | None = None, **kwargs) -> dict:
    """The NAS-Bench-201 cache as numpy arrays (built on first use; see ``nasbench201_build``)."""
    return build.load_cache(data_dir, cache_path, **kwargs)


def nasbench201(
    objectives: str | Sequence[str] = "paper",
    data_dir: str | PathLike | None = None,
    cache_path: str | PathLike | None = None,
    *,
    rebuild: bool = False,
    mc_samples: int = build.DEFAULT_MC_SAMPLES,
) -> Problem:
    """NAS-Bench-201 problem with a preset name or a sequence of objective names.

    Args:
        objectives: a preset (``"paper"``, ``"hw_pixel3"``, ``"accuracy"``, ``"hw"``, ``"many"``) or
            objective names (e.g. ``("cifar100_test_error", "latency_fpga")``).
        data_dir: directory holding the source files (else ``$LAMOO_JAX_DATA``, else the user cache).
        cache_path: where the compact ``.npz`` cache lives (default: in the user cache dir).
        rebuild: rebuild the cache even when it matches the sources.
        mc_samples: Monte Carlo samples for max HV where exact HV is infeasible (cache build and
            custom objective lists).
    """
    arrays = load_arrays(data_dir, cache_path, rebuild=rebuild, mc_samples=mc_samples)
    if isinstance(objectives, str):
        key = objectives.strip().lower()
        if key not in build.PRESETS:
            raise ValueError(
                f"unknown NAS-Bench-201 objective preset {objectives!r}; presets: {', '.join(build.PRESETS)} "
                "(or pass a sequence of objective names)"
            )
        prefix = f"preset__{key}__"
        names = tuple(str(n) for n in arrays[prefix + "objectives"])
        table, directions = build.objective_matrix(arrays, names)
        ref = arrays[prefix + "ref_point"]
        max_hv = float(arrays[prefix + "max_hv"])
        stderr = float(arrays[prefix + "max_hv_stderr"])
        note = str(arrays[prefix + "max_hv_note"])
        label = key
    else:
        names = tuple(objectives)
        if not names:
            raise ValueError("NAS-Bench-201 needs at least one objective")
        if len(set(names)) != len(names):
            raise ValueError(f"NAS-Bench-201 objectives repeat a name: {names}")
        table, directions = build.objective_matrix(arrays, names)
        ref = build.reference_point(table, directions)
        info = build.max_hypervolume(table, directions, ref, mc_samples=mc_samples)
        max_hv, stderr, note = info["max_hv"], info["max_hv_stderr"], info["max_hv_note"]
        label = "+".join(names)
    return Problem.create(
        space=Categorical.create((nb201_model.N_OPS,) * nb201_model.N_EDGES),
        evaluate_fn=evaluate_cell,
        ref_point=ref,
        directions=directions,
        data={
            "table": jnp.asarray(table, jnp.float32),
            "code_to_index": jnp.asarray(arrays["code_to_index"], jnp.int32),
        },
        name=f"nasbench201[{label}]",
        objective_names=names,
        max_hv=max_hv,
        max_hv_stderr=None if stderr == 0.0 else stderr,
        max_hv_note=note,
    )
