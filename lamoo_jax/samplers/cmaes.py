"""The CMA-ES inner sampler (evosax `CMA_ES`), confined to the selected region and the bounds.

Choices (the reference code's CMA-ES told pycma only the first objective, with a sign that
differed between benchmarks; we do not copy that):

- CMA-ES runs in the space's unit-cube relaxation (`space.to_unit` / `space.from_unit`), with
  population size q: the q points evaluated in an iteration are the population told next time.
- Fitness (minimised, as evosax expects) is multi-objective: the dominance number of each evaluated
  point among ALL samples so far, plus a tie-break in [0, 1) by the point's mean normalised
  objective value (so that among equally non-dominated points the one nearer the ideal ranks first).
- Its state (mean, step size, covariance and evolution paths) is carried across iterations.
  With `recenter=True` (used under partitioning) the mean is moved every iteration to the best
  sample of the selected leaf (lowest dominance number among all samples, same tie-break), as the
  reference starts CMA-ES at a good sample of the region; the covariance and step size are kept.
  Without it (the plain baseline) CMA-ES starts from the best sample of the initial design.
- Candidates: `n_candidates` draws from the current search distribution (one `ask` refreshes its
  eigendecomposition; the pool is sampled with evosax's formula mean + std * B diag(D) z).
  Those outside the unit cube are clipped to the bounds but ranked after every in-bounds candidate;
  the region constraint with its relaxation to ancestors is then applied by `select_in_region`.
  Among usable candidates, q are taken in random order (all are draws of the same distribution).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from evosax.algorithms import CMA_ES

from kernels._checks import float_dtype
from kernels.dominance import dominance_count
from kernels import _random
from lamoo_jax.samplers.base import Proposal, ProposalContext, select_in_region


class CMAESState(NamedTuple):
    """Carried across iterations.

    Attributes:
        es_state: evosax CMA-ES state.
        es_params: evosax CMA-ES params.
        population: float32[q, unit_dim] unit coordinates of the last proposed points.
        pending: bool whether `population` awaits its `tell` (False before the first proposal).
    """

    es_state: object
    es_params: object
    population: jax.Array
    pending: jax.Array


def multiobjective_fitness(Y: jax.Array, mask: jax.Array) -> jax.Array:
    """float32[N] minimised fitness: dominance number among valid samples + tie-break in [0, 1)."""
    count = dominance_count(Y, mask).astype(jnp.float32)
    low = jnp.min(jnp.where(mask[:, None], Y, jnp.inf), axis=0)
    high = jnp.max(jnp.where(mask[:, None], Y, -jnp.inf), axis=0)
    span = jnp.where(high > low, high - low, 1.0)
    closeness = jnp.mean((Y - low) / span, axis=1)
    return count + 0.999 * jnp.clip(closeness, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class CMAESSampler:
    """LaMOO's CMA-ES inner sampler (see module docstring).

    Attributes:
        n_candidates: draws from the search distribution per iteration.
        std_init: initial step size in the unit cube.
        recenter: move the mean to the selected leaf's best sample every iteration.
    """

    n_candidates: int = 1024
    std_init: float = 0.2
    recenter: bool = True
    name: str = "cmaes"
    batch_size: int = 5

    def __post_init__(self) -> None:
        # evosax's recombination weights for a population of one are NaN: every proposal would be NaN.
        if self.batch_size < 2:
            raise ValueError(f"the cmaes sampler needs batch_size >= 2 (its population); got {self.batch_size}")

    def _strategy(self, unit_dim: int, q: int) -> CMA_ES:
        return CMA_ES(population_size=q, solution=jnp.zeros(unit_dim))

    def init(self, key: jax.Array, space, n_obj: int) -> CMAESState:
        es = self._strategy(space.unit_dim, self.batch_size)
        # evosax updates the step size in the default float dtype (float64 under jax x64).
        params = es.default_params.replace(std_init=jnp.asarray(self.std_init, float_dtype()))
        es_state = es.init(key, jnp.full(space.unit_dim, 0.5), params)
        return CMAESState(
            es_state=es_state,
            es_params=params,
            population=jnp.zeros((self.batch_size, space.unit_dim), jnp.float32),
            pending=jnp.bool_(False),
        )

    def propose(self, key: jax.Array, state: CMAESState, context: ProposalContext, q: int) -> tuple[Proposal, CMAESState]:
        if q != self.batch_size:
            raise ValueError(f"CMAESSampler was built for batch_size {self.batch_size}, called with q={q}")
        space = context.space
        es = self._strategy(space.unit_dim, q)
        tell_key, ask_key, draw_key, score_key = jax.random.split(key, 4)
        fitness_all = multiobjective_fitness(context.Y, context.mask)

        # Tell the previous population its fitness: the last q valid rows of the buffer.
        count = jnp.sum(context.mask)
        last_rows = count - q + jnp.arange(q)
        told, _ = es.tell(tell_key, state.population, fitness_all[last_rows], state.es_state, state.es_params)
        es_state = jax.tree_util.tree_map(lambda new, old: jnp.where(state.pending, new, old), told, state.es_state)

        # Under partitioning the mean moves to the selected leaf's best sample every iteration;
        # the plain baseline starts from the best sample of the initial design and then carries
        # its own mean.
        recenter_now = jnp.bool_(self.recenter) | ~state.pending
        leaf_fitness = jnp.where(context.leaf_mask, fitness_all, jnp.inf)
        best = jnp.argmin(leaf_fitness)
        mean = space.to_unit(context.X[best][None, :])[0]
        es_state = es_state.replace(mean=jnp.where(recenter_now & jnp.any(context.leaf_mask), mean, es_state.mean))

        # One `ask` refreshes the eigendecomposition (B, D) of the covariance; the candidate pool
        # is drawn from that same search distribution directly (evosax's sampling formula), so
        # the decomposition runs once per iteration.
        _, asked_state = es.ask(ask_key, es_state, state.es_params)
        z = _random.normal(draw_key, (self.n_candidates, space.unit_dim))
        draws = asked_state.mean + asked_state.std * ((z * asked_state.D) @ asked_state.B.T)
        in_bounds = jnp.all((draws >= 0.0) & (draws <= 1.0), axis=1)
        candidates = space.from_unit(jnp.clip(draws, 0.0, 1.0))
        scores = jax.random.uniform(score_key, (draws.shape[0],)) + jnp.where(in_bounds, 1.0, 0.0)
        chosen = select_in_region(candidates, scores, context, q)
        X_new = candidates[chosen.index]
        new_state = CMAESState(
            es_state=asked_state,
            es_params=state.es_params,
            population=space.to_unit(X_new).astype(jnp.float32),
            pending=jnp.bool_(True),
        )
        return Proposal(X=X_new, valid=chosen.valid, level=chosen.level), new_state
