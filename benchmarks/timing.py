"""Shared timing, table and JSON helpers for the benchmark scripts.

Every benchmark section reports compile time separately from steady-state time: a jitted function is
called once (compile + first run, ``block_until_ready``), then timed over repeated calls on the same
inputs. Reference implementations (numpy, moocore, sklearn) are timed with :func:`time_py`.
"""

from __future__ import annotations

import math
import os
import platform
import time
from typing import Any, Callable, Iterable, Sequence

import jax

from lamoo_jax._atomic import atomic_write_json


def _block(out: Any) -> Any:
    return jax.block_until_ready(out)


def time_jax(fn: Callable, *args, repeats: int = 5, min_time_s: float = 0.0, **kwargs) -> tuple[float, float]:
    """Time a JAX function: ``(compile_s, steady_s)``.

    ``compile_s`` is the wall time of the first call (tracing + compilation + one execution);
    ``steady_s`` is the median wall time of ``repeats`` further calls, each blocked until ready.
    When ``min_time_s`` > 0, more repeats are run until their total reaches it (useful for
    sub-millisecond calls where the median of a handful of calls is noisy).
    """
    t0 = time.perf_counter()
    _block(fn(*args, **kwargs))
    compile_s = time.perf_counter() - t0
    steady_s = _median_repeats(lambda: _block(fn(*args, **kwargs)), repeats, min_time_s)
    return compile_s, steady_s


def time_py(fn: Callable, *args, repeats: int = 5, min_time_s: float = 0.0, warmup: int = 1, **kwargs) -> float:
    """Median wall time (s) of ``fn(*args, **kwargs)`` over ``repeats`` calls after ``warmup`` calls.

    Works for JAX functions too (results are blocked until ready), but then prefer :func:`time_jax`.
    """
    for _ in range(warmup):
        _block(fn(*args, **kwargs))
    return _median_repeats(lambda: _block(fn(*args, **kwargs)), repeats, min_time_s)


def _median_repeats(call: Callable[[], Any], repeats: int, min_time_s: float) -> float:
    times: list[float] = []
    total = 0.0
    while len(times) < max(1, repeats) or total < min_time_s:
        t0 = time.perf_counter()
        call()
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
        if len(times) >= 10_000:
            break
    times.sort()
    mid = len(times) // 2
    return times[mid] if len(times) % 2 else 0.5 * (times[mid - 1] + times[mid])


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == 0:
            return "0"
        mag = abs(value)
        if mag >= 1e5 or mag < 1e-3:
            return f"{value:.3g}"
        if mag >= 100:
            return f"{value:.1f}"
        return f"{value:.4g}"
    return str(value)


def print_table(rows: Iterable[dict], columns: Sequence[str], title: str | None = None) -> str:
    """Print rows (dicts) as an aligned text table with the given columns; returns the text.

    Missing keys print as ``-``; floats are shown with about 4 significant digits.
    """
    rows = list(rows)
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = []
    if title:
        lines.append(title)
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def machine_info() -> dict:
    """A small description of the machine and software versions for benchmark JSON files."""
    import numpy as np

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "jax_backend": jax.default_backend(),
        "x64": bool(jax.config.jax_enable_x64),
        # XLA's code generation options change the timings (e.g. --xla_cpu_prefer_vector_width=512).
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (numpy scalars and arrays become JSON numbers / lists)."""
    atomic_write_json(path, obj, default=_json_default)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__array__"):
        return np.asarray(value).tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
