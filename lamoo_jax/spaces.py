"""Search spaces: how points are stored, sampled, encoded for the SVM and relaxed for CMA-ES.

Every space is a `flax.struct` pytree so that it can be passed into a jitted function as data; its
array fields are leaves (shapes are static, values are traced), everything else is static.

A point is stored as one row of a fixed-width array `X[d]` of dtype `space.dtype`:

- `Box`: `d` floats inside `[lower, upper]`.
- `Categorical`: `d` integer codes, variable `i` in `0 .. n_choices[i] - 1`.
- `FiniteSet`: `d = 1`, the index of a row of a finite table of encodings.

Three views of a point are used by the optimizer:

- `features(X) -> float32[n, feature_dim]`: what the SVM classifies (scaled to about `[0, 1]`).
- `to_unit(X) -> float32[n, unit_dim]` and `from_unit(U) -> X`: a continuous relaxation in the unit
  cube, used by continuous inner samplers (CMA-ES, qEHVI). `from_unit(to_unit(X)) == X`.
- `sample(key, n) -> X[n, d]`: uniform random points.

Finite spaces (`is_finite=True`) must never spend budget on a point that was already evaluated:
`same_point(a, b)` is the equality the optimizer uses to deduplicate.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from kernels import _random


@struct.dataclass
class Box:
    """Continuous box `[lower, upper]^d`.

    Attributes:
        lower: float32[d] lower bounds.
        upper: float32[d] upper bounds, strictly greater than `lower`.
    """

    lower: jax.Array
    upper: jax.Array

    is_finite = False
    dtype = jnp.float32

    @classmethod
    def create(cls, lower: Sequence[float], upper: Sequence[float]) -> "Box":
        lower = np.asarray(lower, dtype=np.float32).reshape(-1)
        upper = np.asarray(upper, dtype=np.float32).reshape(-1)
        if lower.shape != upper.shape:
            raise ValueError(f"Box bounds differ in length: lower {lower.shape}, upper {upper.shape}")
        if lower.size == 0:
            raise ValueError("Box needs at least one dimension")
        if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
            raise ValueError("Box bounds must be finite")
        if np.any(upper <= lower):
            raise ValueError(f"Box needs upper > lower in every dimension; got lower={lower}, upper={upper}")
        with np.errstate(over="ignore"):
            span = upper - lower
        if not np.all(np.isfinite(span)):
            raise ValueError(f"Box bounds span more than float32 can hold (upper - lower overflows); got lower={lower}, upper={upper}")
        return cls(lower=jnp.asarray(lower), upper=jnp.asarray(upper))

    @property
    def dim(self) -> int:
        return self.lower.shape[0]

    @property
    def feature_dim(self) -> int:
        return self.dim

    @property
    def unit_dim(self) -> int:
        return self.dim

    @property
    def cardinality(self) -> float:
        return math.inf

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """Uniform points, float32[n, d]."""
        return self.from_unit(_random.uniform(key, (n, self.dim)))

    def features(self, X: jax.Array) -> jax.Array:
        return (X - self.lower) / (self.upper - self.lower)

    def to_unit(self, X: jax.Array) -> jax.Array:
        return self.features(X)

    def from_unit(self, U: jax.Array) -> jax.Array:
        U = jnp.clip(U, 0.0, 1.0)
        # lower + 1 * (upper - lower) rounds above upper for about one bound pair in ten (float32).
        return jnp.clip(self.lower + U * (self.upper - self.lower), self.lower, self.upper)

    def same_point(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.all(a == b, axis=-1)


@struct.dataclass
class Categorical:
    """Product of categorical variables, variable `i` taking `n_choices[i]` values.

    Stored as int32 codes; encoded for the SVM as concatenated one-hot vectors (the ops of a NAS
    cell have no order, so integer codes would impose a false metric). The unit relaxation bins a
    float in `[0, 1)` into `n_choices[i]` equal bins, as the reference implementation does.
    """

    n_choices: tuple[int, ...] = struct.field(pytree_node=False)

    is_finite = True
    dtype = jnp.int32

    @classmethod
    def create(cls, n_choices: Sequence[int]) -> "Categorical":
        if isinstance(n_choices, (str, bytes)) or not hasattr(n_choices, "__iter__"):
            raise ValueError(f"Categorical takes one choice count per variable (a sequence such as (5, 5, 3)); got {n_choices!r}")
        if any(isinstance(c, (bool, np.bool_)) or not float(c).is_integer() for c in n_choices):
            raise ValueError(f"Categorical choice counts must be integers; got {list(n_choices)}")
        n_choices = tuple(int(c) for c in n_choices)
        if not n_choices:
            raise ValueError("Categorical needs at least one variable")
        if any(c < 1 for c in n_choices):
            raise ValueError(f"every variable needs at least one choice; got {n_choices}")
        return cls(n_choices=n_choices)

    @property
    def dim(self) -> int:
        return len(self.n_choices)

    @property
    def feature_dim(self) -> int:
        return int(sum(self.n_choices))

    @property
    def unit_dim(self) -> int:
        return self.dim

    @property
    def cardinality(self) -> int:
        return math.prod(self.n_choices)  # exact: numpy's int64 product wraps from 2**63 points on

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.from_unit(_random.uniform(key, (n, self.dim)))

    def features(self, X: jax.Array) -> jax.Array:
        parts = [jax.nn.one_hot(X[..., i], c, dtype=jnp.float32) for i, c in enumerate(self.n_choices)]
        return jnp.concatenate(parts, axis=-1)

    def to_unit(self, X: jax.Array) -> jax.Array:
        counts = jnp.asarray(self.n_choices, jnp.float32)
        return (X.astype(jnp.float32) + 0.5) / counts

    def from_unit(self, U: jax.Array) -> jax.Array:
        counts = jnp.asarray(self.n_choices, jnp.float32)
        codes = jnp.floor(jnp.clip(U, 0.0, 1.0) * counts)
        return jnp.minimum(codes, counts - 1).astype(jnp.int32)

    def same_point(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.all(a == b, axis=-1)


@struct.dataclass
class FiniteSet:
    """A finite table of `K` points given by their encodings (e.g. a NAS benchmark's architectures).

    A point is stored as its row index (int32[1]). Features are the encodings scaled to `[0, 1]`
    per column; the unit relaxation maps a point of the unit cube to the nearest row.

    Attributes:
        encodings: float32[K, e] raw encodings, one row per point.
        feature_low, feature_scale: float32[e] per-column affine map to `[0, 1]`.
    """

    encodings: jax.Array
    feature_low: jax.Array
    feature_scale: jax.Array

    is_finite = True
    dtype = jnp.int32

    @classmethod
    def create(cls, encodings: np.ndarray) -> "FiniteSet":
        encodings = np.asarray(encodings, dtype=np.float32)
        if encodings.ndim != 2 or encodings.shape[0] == 0 or encodings.shape[1] == 0:
            raise ValueError(f"FiniteSet encodings must be a non-empty 2-D array; got shape {encodings.shape}")
        if not np.all(np.isfinite(encodings)):
            raise ValueError("FiniteSet encodings contain NaN or inf")
        # A repeated row could never be proposed (the unit relaxation maps to the first nearest row).
        distinct = np.unique(encodings, axis=0).shape[0]
        if distinct < encodings.shape[0]:
            seen: dict[bytes, int] = {}
            for row, values in enumerate(encodings):
                earlier = seen.setdefault(values.tobytes(), row)
                if earlier != row:
                    raise ValueError(
                        f"FiniteSet encodings repeat: {encodings.shape[0] - distinct} row(s) equal an earlier one "
                        f"in float32 (first: row {row} repeats row {earlier}); every point needs its own encoding"
                    )
        low = encodings.min(axis=0)
        span = encodings.max(axis=0) - low
        scale = np.where(span > 0, 1.0 / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)
        return cls(encodings=jnp.asarray(encodings), feature_low=jnp.asarray(low), feature_scale=jnp.asarray(scale))

    @property
    def dim(self) -> int:
        return 1

    @property
    def feature_dim(self) -> int:
        return self.encodings.shape[1]

    @property
    def unit_dim(self) -> int:
        return self.encodings.shape[1]

    @property
    def cardinality(self) -> int:
        return self.encodings.shape[0]

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return _random.randint(key, (n, 1), 0, self.cardinality)

    def features(self, X: jax.Array) -> jax.Array:
        rows = self.encodings[X[..., 0]]
        return (rows - self.feature_low) * self.feature_scale

    def to_unit(self, X: jax.Array) -> jax.Array:
        return self.features(X)

    def from_unit(self, U: jax.Array) -> jax.Array:
        table = (self.encodings - self.feature_low) * self.feature_scale

        def nearest(u):
            return jnp.argmin(jnp.sum((table - u) ** 2, axis=-1)).astype(jnp.int32)

        flat = U.reshape(-1, U.shape[-1])
        return jax.vmap(nearest)(flat).reshape(U.shape[:-1] + (1,))

    def same_point(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return a[..., 0] == b[..., 0]


Space = Box | Categorical | FiniteSet
