"""The random inner sampler: uniform candidates, rejection to the selected region."""

from __future__ import annotations

import dataclasses

import jax

from lamoo_jax.samplers.base import Proposal, ProposalContext, select_in_region


@dataclasses.dataclass(frozen=True)
class RandomSampler:
    """Draw `n_candidates` uniform points, keep those in the region (relaxing to ancestors when
    fewer than q remain) and take q of them uniformly at random without replacement.

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
        candidate_key, score_key = jax.random.split(key)
        candidates = context.space.sample(candidate_key, self.n_candidates)
        scores = jax.random.uniform(score_key, (self.n_candidates,))
        chosen = select_in_region(candidates, scores, context, q)
        return Proposal(X=candidates[chosen.index], valid=chosen.valid, level=chosen.level), state
