"""The random inner sampler: uniform candidates, rejection to the selected region."""

from __future__ import annotations

import dataclasses

import jax

from kernels._checks import is_int
from lamoo_jax.samplers.base import Proposal, ProposalContext, select_first_drawn_in_region, select_first_in_region


@dataclasses.dataclass(frozen=True)
class RandomSampler:
    """Draw `n_candidates` i.i.d. uniform points, keep those in the region (relaxing to ancestors
    when fewer than q remain) and take the first q of them: a uniform random choice without
    replacement, since the draws are i.i.d.

    The reference draws 15,000 Latin-hypercube candidates per pass; a smaller pool keeps the same
    behaviour whenever the region holds at least q of them (the relaxation handles the rest), and
    is much cheaper when thousands of seeds run at once. The pool is screened `screen_chunk`
    candidates at a time until q lie in the region (`select_first_in_region`). With
    `draw_by_chunk` (continuous spaces) the pool is also drawn a chunk at a time, as it is screened
    (`select_first_drawn_in_region`): most iterations need one chunk, and drawing the rest of a
    1024-point pool cost ~8% of a VehicleSafety run. Finite spaces draw the whole pool, whose
    novelty (no repeats) is checked across it.
    """

    n_candidates: int = 1024
    screen_chunk: int = 128
    draw_by_chunk: bool = True
    name: str = "random"

    def __post_init__(self):
        for field in ("n_candidates", "screen_chunk"):
            value = getattr(self, field)
            if not is_int(value) or value < 1:
                raise ValueError(f"RandomSampler.{field} must be a positive int; got {value!r}")

    def init(self, key: jax.Array, space, n_obj: int) -> tuple:
        del key, space, n_obj
        return ()

    def propose(self, key: jax.Array, state: tuple, context: ProposalContext, q: int) -> tuple[Proposal, tuple]:
        if self.draw_by_chunk and not context.space.is_finite:
            chosen, pool = select_first_drawn_in_region(key, context, q, self.n_candidates, chunk=self.screen_chunk)
            X = pool[chosen.index].astype(context.X.dtype)
            return Proposal(X=X, valid=chosen.valid, level=chosen.level), state
        candidates = context.space.sample(key, self.n_candidates)
        # The candidates are i.i.d. uniform, so the first q eligible ones are a uniform random
        # choice among the eligible: no random scores needed, and the pool can be screened chunk
        # by chunk until q of them are found.
        chosen = select_first_in_region(candidates, context, q, chunk=self.screen_chunk)
        return Proposal(X=candidates[chosen.index], valid=chosen.valid, level=chosen.level), state
