"""The problem interface the optimizer consumes.

A `Problem` is a `flax.struct` pytree: its `data` (e.g. a NAS table preloaded as device arrays) and
its `space` are traced leaves, so large tables enter a jitted run as arguments rather than being
baked into the compiled program as constants. Everything else is static metadata.

Conventions:
- `evaluate_fn(data, x) -> y` evaluates ONE point `x` (shape `[space.dim]`, dtype `space.dtype`)
  and returns float32[M] objective values in the problem's own units and directions. It must be
  pure and jit-able; `Problem.evaluate(X)` vmaps it over rows.
- `directions[i]` is `+1` when objective `i` is minimised and `-1` when it is maximised.
  The optimizer works on `to_minimization(Y) = Y * directions` throughout.
- `ref_point` is in the problem's own units; in the minimised convention it must be an upper
  bound of the region whose hypervolume is measured (points not strictly better are ignored).
- `max_hv` is the maximum achievable hypervolume w.r.t. `ref_point` when known (exact, or an
  estimate with `max_hv_stderr`), used for the log hypervolume difference `log10(max_hv - hv)`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from lamoo_jax.spaces import Box, Categorical, FiniteSet, Space


@struct.dataclass
class Problem:
    """A multi-objective problem over a search space (see module docstring for conventions)."""

    space: Space
    data: Any
    evaluate_fn: Callable[[Any, jax.Array], jax.Array] = struct.field(pytree_node=False)
    directions: tuple[int, ...] = struct.field(pytree_node=False)
    ref_point: tuple[float, ...] = struct.field(pytree_node=False)
    name: str = struct.field(pytree_node=False, default="problem")
    objective_names: tuple[str, ...] = struct.field(pytree_node=False, default=())
    max_hv: float | None = struct.field(pytree_node=False, default=None)
    max_hv_stderr: float | None = struct.field(pytree_node=False, default=None)
    max_hv_note: str = struct.field(pytree_node=False, default="")

    @classmethod
    def create(
        cls,
        *,
        space: Space,
        evaluate_fn: Callable[[Any, jax.Array], jax.Array],
        ref_point: Sequence[float],
        directions: Sequence[int] | Sequence[str] | None = None,
        data: Any = None,
        name: str = "problem",
        objective_names: Sequence[str] = (),
        max_hv: float | None = None,
        max_hv_stderr: float | None = None,
        max_hv_note: str = "",
    ) -> "Problem":
        ref = np.asarray(ref_point, dtype=np.float64).reshape(-1)
        n_obj = ref.shape[0]
        if n_obj < 1:
            raise ValueError("ref_point must have at least one entry (one per objective)")
        if not np.all(np.isfinite(ref)):
            raise ValueError(f"ref_point must be finite; got {ref.tolist()}")
        if not isinstance(space, (Box, Categorical, FiniteSet)):
            raise ValueError(f"space must be a lamoo_jax Box, Categorical or FiniteSet; got {type(space).__name__}")
        if directions is None:
            directions = (1,) * n_obj
        if isinstance(directions, (str, bytes, Mapping)):
            raise ValueError(
                f"directions takes one entry per objective (a sequence such as ('min', 'max')); got {directions!r}"
            )
        dirs = tuple(parse_direction(d) for d in directions)
        if len(dirs) != n_obj:
            raise ValueError(f"directions has {len(dirs)} entries but ref_point has {n_obj}")
        if isinstance(objective_names, str):
            raise ValueError(f"objective_names must be a sequence of names, not the string {objective_names!r}")
        names = tuple(objective_names) if objective_names else tuple(f"f{i}" for i in range(n_obj))
        if len(names) != n_obj:
            raise ValueError(f"objective_names has {len(names)} entries but ref_point has {n_obj}")
        if max_hv is not None and not (np.isfinite(max_hv) and max_hv >= 0):
            raise ValueError(f"max_hv must be a finite non-negative number or None; got {max_hv!r}")
        return cls(
            space=space,
            data=data,
            evaluate_fn=evaluate_fn,
            directions=dirs,
            ref_point=tuple(float(r) for r in ref),
            name=name,
            objective_names=names,
            max_hv=None if max_hv is None else float(max_hv),
            max_hv_stderr=None if max_hv_stderr is None else float(max_hv_stderr),
            max_hv_note=max_hv_note,
        )

    @property
    def n_obj(self) -> int:
        return len(self.ref_point)

    @property
    def dim(self) -> int:
        return self.space.dim

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objective values of the rows of `X` (`[n, dim]`), float32[n, M], problem's own units."""
        # jnp.asarray: an evaluate_fn may return a tuple or list of the M values.
        return jax.vmap(lambda x: jnp.asarray(self.evaluate_fn(self.data, x)))(X).astype(jnp.float32)

    def direction_signs(self) -> jax.Array:
        return jnp.asarray(self.directions, jnp.float32)

    def to_minimization(self, Y: jax.Array) -> jax.Array:
        """Map values in the problem's units to the minimised convention (`[..., M]`)."""
        return Y * self.direction_signs()

    def from_minimization(self, Y: jax.Array) -> jax.Array:
        return Y * self.direction_signs()

    def ref_point_min(self) -> np.ndarray:
        """The reference point in the minimised convention, float64[M]."""
        return np.asarray(self.ref_point) * np.asarray(self.directions, dtype=np.float64)


def parse_direction(d: int | str) -> int:
    """+1 for a minimised objective, -1 for a maximised one ("min"/"max" or +1/-1)."""
    if isinstance(d, str):
        key = d.strip().lower()
        if key in ("min", "minimize", "minimise"):
            return 1
        if key in ("max", "maximize", "maximise"):
            return -1
        raise ValueError(f"unknown objective direction {d!r}: use 'min' or 'max'")
    if not isinstance(d, (bool, np.bool_)) and d in (1, -1):
        return int(d)
    raise ValueError(f"unknown objective direction {d!r}: use +1 (minimise) or -1 (maximise)")
