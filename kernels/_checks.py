"""Input validation shared by the kernels' Python-level entry points.

Shape checks always run (shapes are static even under `jit`/`vmap`). Value checks (NaN/inf) run only
when the array is concrete, i.e. not a JAX tracer, so the kernels stay jit-able and the compiled math
stays pure. Rows excluded by a concrete `mask` may hold anything (fixed-size buffers often carry
garbage in unused rows), so they are not checked for finiteness.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_int(value: Any) -> bool:
    """A Python or numpy integer that is not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_concrete(x: Any) -> bool:
    """True when `x` holds actual values (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def float_dtype() -> jnp.dtype:
    """The working float dtype: float64 when jax x64 is enabled, float32 otherwise."""
    return jnp.dtype(jnp.result_type(float))


def _as_array(x: Any) -> Any:
    if isinstance(x, (jax.Array, np.ndarray)):
        return x
    return np.asarray(x)


def _within_working_precision(x: Any, name: str) -> Any:
    """`x`, safe to hand to JAX in the working precision (concrete numpy input only).

    Without jax's x64, JAX narrows 64-bit inputs: an int64 beyond int32's range wraps around (a
    point 2**31 + 5 became negative and dominated others), a float64 beyond float32's range becomes
    inf. Such integers are passed on as floats (rounded, never wrapped); such floats raise.
    """
    if not isinstance(x, np.ndarray) or x.dtype.itemsize < 8 or float_dtype() == jnp.float64 or x.size == 0:
        return x
    if x.dtype.kind in "iu":
        info = np.iinfo(np.int32)
        if x.min() < info.min or x.max() > info.max:
            return x.astype(np.float64)
        return x
    if x.dtype.kind == "f":
        finite = np.abs(x[np.isfinite(x)])
        if finite.size and finite.max() > np.finfo(np.float32).max:
            raise ValueError(
                f"{name} holds values beyond float32's range (largest magnitude {finite.max():.4g}); rescale them or "
                "enable jax's float64 mode (jax.config.update('jax_enable_x64', True)) before any JAX work"
            )
    return x


def check_objectives(Y: Any, name: str = "Y") -> Any:
    """Validate the shape of an objective matrix `[N, M]` (N >= 0, M >= 1); returns it as an array."""
    Y = _as_array(Y)
    if Y.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape [N, M] (one row per point), got shape {tuple(Y.shape)}")
    if Y.shape[1] < 1:
        raise ValueError(f"{name} must have at least one objective (M >= 1), got shape {tuple(Y.shape)}")
    # dtype.kind covers numpy's float/int/uint/bool quickly; jnp.issubdtype handles bfloat16 etc.
    if Y.dtype.kind not in "fiub" and not jnp.issubdtype(Y.dtype, jnp.floating):
        raise ValueError(f"{name} must hold real numbers, got dtype {Y.dtype}")
    return _within_working_precision(Y, name)


def check_mask(mask: Any, n: int, name: str = "mask") -> Any:
    """Validate an optional row mask of shape `(n,)`; returns it as an array (or None)."""
    if mask is None:
        return None
    mask = _as_array(mask)
    if mask.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the {n} rows, got shape {tuple(mask.shape)}")
    return mask


def check_finite_rows(Y: Any, mask: Any, name: str = "Y") -> None:
    """Raise if a valid row of a concrete `Y` holds NaN or +-inf (skipped when traced)."""
    if not is_concrete(Y) or (mask is not None and not is_concrete(mask)):
        return
    values = np.asarray(Y)  # zero-copy for numpy and CPU jax arrays
    if np.isfinite(values).all():
        return
    bad_rows = ~np.isfinite(values).all(axis=1)
    if mask is not None:
        bad_rows &= np.asarray(mask).astype(bool)
    if bad_rows.any():
        first = int(np.flatnonzero(bad_rows)[0])
        raise ValueError(
            f"{name} contains NaN or infinite values in {int(bad_rows.sum())} valid row(s) "
            f"(first at row {first}: {values[first].tolist()}); mask such rows out or remove them"
        )


def check_reference(ref: Any, m: int, name: str = "ref") -> Any:
    """Validate a reference point: shape `(m,)`, finite when concrete; returns it as an array."""
    ref = _as_array(ref)
    if ref.dtype.kind not in "fiub" and not jnp.issubdtype(ref.dtype, jnp.floating):
        raise ValueError(f"reference point {name} must hold real numbers, got dtype {ref.dtype}")
    ref = _within_working_precision(ref, f"reference point {name}")
    if ref.ndim != 1 or ref.shape[0] != m:
        raise ValueError(
            f"reference point {name} must have shape ({m},) to match the {m} objectives, got shape {tuple(ref.shape)}"
        )
    if is_concrete(ref):
        values = np.asarray(ref)
        if not np.isfinite(values).all():
            raise ValueError(f"reference point {name} must be finite, got {values.tolist()}")
    return ref


def check_static_positive_int(value: Any, name: str) -> int:
    """Validate a static (Python) positive integer argument such as a block or sample count."""
    if isinstance(value, jax.core.Tracer) or not is_int(value):
        raise ValueError(f"{name} must be a static positive Python int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
