"""The random inner sampler: uniform candidates, rejection to the selected region."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from lamoo_jax.samplers.base import Proposal, ProposalContext, select_in_region


@dataclasses.dataclass(frozen=True)
class RandomSampler:
    """Draw `n_candidates` i.i.d. uniform points, keep those in the region (relaxing to ancestors
    when fewer than q remain) and take the first q of them: a uniform random choice without
    replacement, since the draws are i.i.d.

    The reference draws 15,000 Latin-hypercube candidates per pass; a smaller pool keeps the same
    behaviour whenever the region holds at least q of them (the relaxation handles the rest), and
    is much cheaper when thousands of seeds run at once.
    """

    n_candidates: int = 1024
    name: str = "random"

    def init(self, key: jax.Array, space, n_obj: int) -> tuple:
        del key, space, n_obj
        return ()

    def propose(self, key: jax.Array, state: tuple, context: ProposalContext, q: int) -> tuple[Proposal, tuple]:
        candidates = context.space.sample(key, self.n_candidates)
        # The candidates are i.i.d. uniform, so the first q eligible ones are a uniform random
        # choice among the eligible: no random scores needed.
        scores = -jnp.arange(self.n_candidates, dtype=jnp.float32)
        chosen = select_in_region(candidates, scores, context, q, screened=True)
        return Proposal(X=candidates[chosen.index], valid=chosen.valid, level=chosen.level), state
