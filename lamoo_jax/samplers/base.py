"""The inner-sampler interface and the region machinery every sampler shares.

An inner sampler proposes `q` new points inside the region selected by MCTS. It is a small static
object (hashable, so it can be a static argument of `jax.jit`) with a pair of pure functions, in the
style of evosax's `ask`/`tell` and blackjax's `init`/`step`:

    state = sampler.init(key, space, n_obj)                       # once per run
    proposal, state = sampler.propose(key, state, context, q)     # once per iteration

`state` is any pytree with shapes fixed for the whole run (CMA-ES state, GP hyperparameters, ...).
`proposal.X` is `[q, space.dim]` in `space.dtype`: q distinct points, never a point already
evaluated when the space is finite, inside the selected region or inside the documented
relaxation of it (`select_in_region`); `proposal.valid` and `proposal.level` report on that.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from kernels._batching import advance_first, broadcast_unbatched
from kernels._ordering import after
from lamoo_jax.spaces import Space


class Region(NamedTuple):
    """The selected region: the intersection of the SVM half-spaces along a root-to-leaf path.

    Attributes:
        models: tuple of length `max_depth`; `models[l]` is the `kernels.svm` model that split the
            path's node at depth `l` (levels may differ in support-vector capacity, hence a tuple
            rather than a stacked array).
        sides: bool[max_depth]; True when the path goes to the "good" child at depth `l`
            (the side where the classifier predicts True).
        length: int32 scalar, number of valid constraints (0 = the root, i.e. the whole space).
    """

    models: tuple
    sides: jax.Array
    length: jax.Array

    @property
    def max_depth(self) -> int:
        return self.sides.shape[0]

    def constraint_satisfied(self, features: jax.Array) -> jax.Array:
        """bool[max_depth, n]: whether each point lies on the path's side of each classifier.

        Levels at or beyond `length` report True (no constraint).
        """
        from kernels.svm import decision_function

        rows, decision = [], None
        for level, model in enumerate(self.models):
            # One level after the other: XLA would start the independent predictions concurrently,
            # and on a small CPU their thread pools then compete (measured 2x slower on 2 cores).
            decision = decision_function(model, features if decision is None else after(features, decision))
            rows.append(jnp.where(level < self.length, (decision > 0) == self.sides[level], True))
        if not rows:
            return jnp.ones((0, features.shape[0]), dtype=bool)
        return jnp.stack(rows)

    def depth_satisfied(self, features: jax.Array) -> jax.Array:
        """int32[n]: how many leading constraints of the path each point satisfies (0..length)."""
        return self.screened_depth(features, min_screened=features.shape[0])

    def screened_depth(self, features: jax.Array, min_screened: int = 64) -> jax.Array:
        """int32[n]: how many leading constraints of the path each point satisfies (0..length), where
        only the first `max(n / 2^l, min_screened)` points (in pool order) that satisfy the first l
        constraints are tested against constraint l; the others count as failing it (with
        `min_screened >= n` every point is tested: `depth_satisfied`).

        Deeper classifiers thus see a halving pool instead of all n points. A reported depth never
        exceeds the exact one, so points chosen at a level do satisfy its constraints. Which
        points are screened out depends only on pool order, not on position, so for a pool of
        i.i.d. draws the points that reach a level are still i.i.d. draws from its region; the
        pool is just smaller for deep levels (rarely: it matters only when fewer than q of the
        screened points reach the leaf, which then relaxes to its parent a little more often).
        """
        from kernels.svm import decision_function
        from lamoo_jax.tree import compact

        n = features.shape[0]
        passed = jnp.ones(n, bool)
        depth = jnp.zeros(n, jnp.int32)
        decision = None
        for level, model in enumerate(self.models):
            capacity = max(n >> level, min_screened)
            full = capacity >= n
            if full:
                tested, valid = features, passed
            else:
                index, valid = compact(passed, capacity)
                tested = features[index]
            # One level after the other (see constraint_satisfied).
            decision = decision_function(model, tested if decision is None else after(tested, decision))
            ok = valid & jnp.where(level < self.length, (decision > 0) == self.sides[level], True)
            passed = ok if full else jnp.zeros(n, bool).at[index].max(ok)
            depth = depth + passed.astype(jnp.int32)
        return jnp.minimum(depth, self.length).astype(jnp.int32)


class ProposalContext(NamedTuple):
    """What a sampler may look at when proposing (one seed; all shapes fixed).

    Attributes:
        X: [N, d] all samples so far (buffer of capacity N; rows beyond `mask` are padding).
        Y: float32[N, M] their objective values, minimised convention.
        mask: bool[N] which buffer rows hold real samples.
        leaf_mask: bool[N] which samples lie in the selected leaf.
        ref_point: float32[M] reference point, minimised convention.
        region: the selected `Region`.
        space: the search space (a pytree; static structure).
    """

    X: jax.Array
    Y: jax.Array
    mask: jax.Array
    leaf_mask: jax.Array
    ref_point: jax.Array
    region: Region
    space: Space


class Sampler(Protocol):
    name: str

    def init(self, key: jax.Array, space: Space, n_obj: int) -> Any: ...

    def propose(self, key: jax.Array, state: Any, context: ProposalContext, q: int) -> tuple["Proposal", Any]: ...


class Proposal(NamedTuple):
    """What a sampler returns each iteration.

    Attributes:
        X: [q, d] the proposed points (space dtype).
        valid: bool[q] False for slots that could not be filled with a new point (finite space
            exhausted); the loop refuses to count such slots and reports an error.
        level: int32 scalar, the number of path constraints the points satisfy (== the region's
            length unless the sampler had to relax to an ancestor's region).
    """

    X: jax.Array
    valid: jax.Array
    level: jax.Array


def empty_region() -> Region:
    """The region of the root: no constraint, the whole space."""
    return Region(models=(), sides=jnp.zeros((0,), bool), length=jnp.int32(0))


def novelty_mask(candidates: jax.Array, context: ProposalContext) -> jax.Array:
    """bool[n]: candidates that are new, i.e. not an evaluated sample and not a repeat of an
    earlier candidate in the pool. Only meaningful for finite spaces; continuous candidates
    are always new."""
    space = context.space
    if not space.is_finite:
        return jnp.ones(candidates.shape[0], dtype=bool)
    seen = jax.vmap(lambda c: jnp.any(space.same_point(context.X, c) & context.mask))(candidates)
    same = jax.vmap(lambda c: space.same_point(candidates, c))(candidates)  # [n, n]
    earlier = jnp.tril(same, k=-1)
    repeated = jnp.any(earlier, axis=1)
    return ~seen & ~repeated


class Selection(NamedTuple):
    """Result of `select_in_region`.

    Attributes:
        index: int32[q] indices into the candidate pool of the chosen points.
        valid: bool[q] False only when the pool had fewer than q usable candidates at all
            (a finite space nearly exhausted); such slots repeat the best usable candidate and the
            caller must not count them as evaluations.
        level: int32 scalar, the number of path constraints the chosen points satisfy
            (`== region.length` when no relaxation was needed).
    """

    index: jax.Array
    valid: jax.Array
    level: jax.Array


def select_in_region(candidates: jax.Array, scores: jax.Array, context: ProposalContext, q: int) -> Selection:
    """Choose the q best-scoring usable candidates inside the region, relaxing when needed.

    Relaxation (as the reference implementation): when fewer than q new candidates satisfy every
    constraint of the path, drop the deepest constraint (use the parent's region) and try again,
    down to the root (the whole space). Among the candidates of the chosen level, the q with the
    highest `scores` are taken, without replacement (the reference picks with replacement: a defect).

    Args:
        candidates: [n, d] candidate points (space dtype).
        scores: float32[n], higher is better (random numbers for the random sampler).
        context: the proposal context.
        q: number of points to choose (static).

    Samplers that take i.i.d. candidates in pool order use `select_first_in_region` instead.
    """
    depth = context.region.depth_satisfied(context.space.features(candidates))
    return _choose(depth, novelty_mask(candidates, context), scores, context.region, q)


def _choose(depth: jax.Array, usable: jax.Array, scores: jax.Array, region: Region, q: int) -> Selection:
    """The relaxation rule and the pick, given each candidate's depth (int32[n]) in the region,
    which candidates are usable (bool[n]) and their scores (float32[n], higher is better)."""
    levels = jnp.arange(region.max_depth + 1)
    count_at_level = jax.vmap(lambda lvl: jnp.sum(usable & (depth >= lvl)))(levels)
    feasible = (count_at_level >= q) & (levels <= region.length)
    # Deepest feasible level; level 0 (the whole space) is the last resort.
    level = jnp.max(jnp.where(feasible, levels, 0))
    eligible = usable & (depth >= level)
    masked_scores = jnp.where(eligible, scores, -jnp.inf)
    # The barrier keeps XLA from fusing top_k with its consumers: on CPU, fusing it with the
    # gather below (under vmap) replaces the fast top-k by a ~100x slower generic path.
    top_scores, index = jax.lax.optimization_barrier(jax.lax.top_k(masked_scores, q))
    valid = jnp.isfinite(top_scores)
    index = jnp.where(valid, index, index[0])
    return Selection(index=index.astype(jnp.int32), valid=valid, level=level.astype(jnp.int32))


def select_first_in_region(
    candidates: jax.Array, context: ProposalContext, q: int, *, chunk: int = 128, min_screened: int = 32
) -> Selection:
    """The first q usable candidates, in pool order, inside the region (relaxing as
    `select_in_region`), testing the pool one chunk at a time and stopping early.

    For samplers whose candidates are i.i.d. draws, so that the first q eligible ones are a uniform
    choice among the eligible. Chunk k (`candidates[k * chunk:(k + 1) * chunk]`) is screened with
    `Region.screened_depth(chunk_features, min_screened)`: constraint l sees at most
    `max(chunk >> l, min_screened)` of the chunk's candidates that satisfy the first l. Chunks are
    processed in order until q usable candidates satisfy the whole path; only when the whole pool
    holds fewer does the relaxation of `select_in_region` apply, over every chunk. The result is
    what screening every chunk and then choosing would give (the chosen points all lie in
    processed chunks), so stopping early changes no result, only the work: with regions holding
    a few percent of the space, one or two chunks of a 1024-point pool instead of all of it.
    Which candidates are screened out depends on pool order only, so the points reaching a level
    are still i.i.d. draws from its region (see `Region.screened_depth`).

    Under `vmap` (many seeds), every seed screens its first chunk together; the seeds that need more
    are then served a few at a time, each screening its next chunk, until none needs more (see
    `_screen_pool`): the work follows the chunks each seed needs, not the largest need in the batch.
    """
    n = candidates.shape[0]
    chunk = min(chunk, n)
    n_chunks = -(-n // chunk)
    region = context.region
    features = context.space.features(candidates)
    # A last partial chunk is padded with unusable copies of the first candidate.
    features = jnp.concatenate([features, jnp.broadcast_to(features[:1], (n_chunks * chunk - n,) + features.shape[1:])])
    usable = jnp.concatenate([novelty_mask(candidates, context), jnp.zeros(n_chunks * chunk - n, bool)])
    depth, _ = _screen_pool(q, chunk, min_screened, n_chunks, None)(features, usable, region)
    # The first q eligible in pool order: a pool-order score.
    return _choose(depth[:n], usable[:n], -jnp.arange(n, dtype=jnp.float32), region, q)


def select_first_drawn_in_region(
    key: jax.Array, context: ProposalContext, q: int, n_candidates: int, *, chunk: int = 128, min_screened: int = 32
) -> tuple[Selection, jax.Array]:
    """`select_first_in_region` over a pool of `n_candidates` uniform points of a continuous space
    that is drawn chunk by chunk as it is screened (chunk k: `space.sample(fold_in(key, k), chunk)`),
    so chunks that are never screened are never drawn either.

    Returns the selection and the drawn pool (`[n_chunks * chunk, d]`; rows of chunks never screened
    are zeros): the chosen points are `pool[selection.index]`.
    """
    if context.space.is_finite:
        raise ValueError("select_first_drawn_in_region draws continuous points; a finite space needs novelty checks over the whole pool (use select_first_in_region)")
    chunk = min(chunk, n_candidates)
    n_chunks = -(-n_candidates // chunk)
    region = context.region
    # Candidates beyond n_candidates (the last chunk's tail) are drawn but never usable.
    usable = jnp.arange(n_chunks * chunk) < n_candidates
    depth, pool = _screen_pool(q, chunk, min_screened, n_chunks, context.space.dim)((key, context.space), usable, region)
    n = n_candidates
    return _choose(depth[:n], usable[:n], -jnp.arange(n, dtype=jnp.float32), region, q), pool


# Under vmap, the seeds that need more than their first chunk are served this fraction of the batch
# at a time (at least one).
_SERVED_FRACTION = 8


@functools.lru_cache(maxsize=None)
def _screen_pool(q: int, chunk: int, min_screened: int, n_chunks: int, draw_dim: int | None):
    """The chunked screening of `select_first_in_region` for static (q, chunk, min_screened,
    n_chunks): `screen(pool, usable [W], region) -> (depth int32[W], drawn [W, draw_dim or 0])`,
    W = n_chunks * chunk, chunks never screened keep depth -1.

    `pool` is the candidates' features `[W, f]` (`draw_dim` None), or `(key, space)` to draw the
    candidates chunk by chunk while screening (`draw_dim` = the space's dimension; chunk k is
    `space.sample(fold_in(key, k), chunk)`, recorded in `drawn`).

    One seed: a `while_loop` over chunks in pool order, stopping once q usable candidates satisfy the
    whole path. Batched over seeds (a `custom_vmap` rule) the result is the same for every seed, but
    the lockstep loop, which would run every seed through as many chunks as the seed with the
    smallest region needs, is replaced by work compaction: all seeds screen their first chunk
    together, then each round gathers up to B / `_SERVED_FRACTION` seeds that still need candidates
    (their regions and next chunks), screens one chunk for each and scatters the results back.
    Measured on VehicleSafety with 64 seeds: 1.1 chunks per seed and iteration on average against a
    lockstep maximum of up to 8.
    """
    width = n_chunks * chunk

    def enough(depth, usable, region):
        return jnp.sum(usable & (depth >= region.length)) >= q

    def chunk_of(pool, k):
        """(features [chunk, f], drawn points [chunk, draw_dim or 0]) of chunk k."""
        if draw_dim is None:
            return jax.lax.dynamic_slice_in_dim(pool, k * chunk, chunk), jnp.zeros((chunk, 0), jnp.float32)
        key, space = pool
        points = space.sample(jax.random.fold_in(key, k), chunk)
        return space.features(points), points.astype(jnp.float32)

    def screen_next(pool, region, k, depth, drawn):
        features, points = chunk_of(pool, k)
        depth = jax.lax.dynamic_update_slice_in_dim(depth, region.screened_depth(features, min_screened), k * chunk, 0)
        return depth, jax.lax.dynamic_update_slice_in_dim(drawn, points, k * chunk, 0)

    def empty():
        # Depth -1 marks candidates not screened (for a drawn pool: not drawn): never eligible,
        # not even for the whole space, which relaxation picks only once every chunk is screened.
        return jnp.full(width, -1, jnp.int32), jnp.zeros((width, draw_dim or 0), jnp.float32)

    @custom_vmap
    def screen(pool, usable, region):
        def not_done(carry):
            k, depth, _ = carry
            return (k < n_chunks) & ~enough(depth, usable, region)

        def next_chunk(carry):
            k, depth, drawn = carry
            return (k + 1, *screen_next(pool, region, k, depth, drawn))

        _, depth, drawn = jax.lax.while_loop(not_done, next_chunk, (jnp.int32(0), *empty()))
        return depth, drawn

    @screen.def_vmap
    def screen_batched(axis_size, in_batched, pool, usable, region):
        pool, usable, region = broadcast_unbatched(axis_size, in_batched, (pool, usable, region))
        served = max(1, -(-axis_size // _SERVED_FRACTION))
        depth, drawn = jax.vmap(lambda p, r: screen_next(p, r, 0, *empty()))(pool, region)
        screened = jnp.ones(axis_size, jnp.int32)

        def needs_more(state):
            depth, _, screened = state
            return (screened < n_chunks) & ~jax.vmap(enough)(depth, usable, region)

        def screen_next_chunk(inputs, state):
            pool, region = inputs
            depth, drawn, screened = state
            return (*jax.vmap(screen_next)(pool, region, screened, depth, drawn), screened + 1)

        def serve(carry):
            state, need = carry
            state = advance_first(need, served, screen_next_chunk, (pool, region), state)
            return state, needs_more(state)

        state = (depth, drawn, screened)
        (depth, drawn, _), _ = jax.lax.while_loop(lambda carry: jnp.any(carry[1]), serve, (state, needs_more(state)))
        return (depth, drawn), (True, True)

    return screen
