"""One LaMOO run as a pair of pure functions, `init` and `step`, and the compiled batched run.

A run's samples live in fixed-size buffers of `budget + q` rows (the extra q rows absorb a last
batch that overshoots the budget; they are dropped from the result). Every iteration:

1. rebuild the partition tree from all samples so far (`tree.build_tree`),
2. value the nodes by hypervolume and select a leaf by MCTS (`mcts.select`),
3. let the inner sampler propose q new points inside the leaf's region,
4. evaluate them (a pure call of the problem) and append them to the buffers.

`run` is `lax.scan` over iterations; `run_batch` vmaps it over seeds under one `jax.jit`:
no Python loop over iterations or seeds and no host round trip inside the run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from kernels._ordering import after
from kernels.dominance import nondominated_mask
from lamoo_jax import mcts
from lamoo_jax.config import LaMOOConfig, level_capacities
from lamoo_jax.metrics import hv_history_exact, hv_history_mc
from lamoo_jax.problem import Problem
from lamoo_jax.samplers.base import ProposalContext, empty_region
from lamoo_jax.samplers.random import RandomSampler
from lamoo_jax.tree import build_tree, depth_capacities

# Key of the Monte Carlo hypervolume history (M > 3 or node_hv="mc"), the same for every seed.
HISTORY_MC_SEED = 0


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Static description of a run (hashable: a static argument of the compiled program)."""

    budget: int
    n_init: int
    batch_size: int
    partition: bool
    config: LaMOOConfig
    sampler: Any

    @property
    def n_iterations(self) -> int:
        return math.ceil((self.budget - self.n_init) / self.batch_size)

    @property
    def capacity(self) -> int:
        return self.budget + self.batch_size

    @property
    def capacities(self) -> tuple[int, ...]:
        return self.capacities_for(self.budget)

    def capacities_for(self, rows: int) -> tuple[int, ...]:
        return tuple(level_capacities(rows, self.config)) if self.partition else ()

    def phases(self) -> list[tuple[int, int]]:
        """(tree rows, iterations) per phase of the run.

        The tree of iteration t only needs as many rows as there are samples then
        (n_init + t q). With `config.tree_phases = P > 1` the run is split into up to P phases
        whose tree buffers grow geometrically up to the budget, so early iterations fit their
        SVMs on smaller buffers (each phase compiles its own step: more compile time, less run
        time). With P = 1 every iteration uses a buffer of `budget` rows.
        """
        n_phases = self.config.tree_phases if self.partition else 1
        caps = sorted({max(math.ceil(self.budget / 2**k), 1) for k in range(n_phases)})
        phases, t = [], 0
        for cap in caps:
            end = self.n_iterations if cap == caps[-1] else sum(
                1 for i in range(self.n_iterations) if self.n_init + i * self.batch_size <= cap
            )
            if end > t:
                phases.append((cap, end - t))
                t = end
        return phases


class RunState(NamedTuple):
    """State of one run between iterations.

    Attributes:
        X: [budget + q, d] samples (space dtype), rows >= count are padding.
        Y: float32[budget + q, M] objectives, minimised convention.
        count: int32 number of samples so far (may exceed budget after the last batch).
        sampler_state: the inner sampler's state.
        key: PRNG key.
        invalid: int32 number of proposed slots the sampler could not fill with a new point.
        non_finite: bool whether the problem ever returned NaN or inf.
    """

    X: jax.Array
    Y: jax.Array
    count: jax.Array
    sampler_state: Any
    key: jax.Array
    invalid: jax.Array
    non_finite: jax.Array


class IterationInfo(NamedTuple):
    """Per-iteration diagnostics (stacked over iterations by `lax.scan`)."""

    tree_nodes: jax.Array
    tree_leaves: jax.Array
    leaf_id: jax.Array
    leaf_depth: jax.Array
    leaf_size: jax.Array
    region_level: jax.Array
    node_hv_max: jax.Array


def _evaluate(problem: Problem, X: jax.Array) -> jax.Array:
    return problem.to_minimization(problem.evaluate(X))


def design_pool_size(space, n_init: int) -> int:
    """Candidates drawn (i.i.d.) for the initial design: 4 per point, at least 256. A design of more
    than half a finite space of K points draws K (ln K + 10) instead, enough to find every point
    (the chance of missing one is below K exp(-(ln K + 10)) = exp(-10)); 4 per point rarely found
    all K of a design covering the space."""
    pool = max(4 * n_init, 256)
    if space.is_finite and 2 * n_init > space.cardinality:
        cardinality = int(space.cardinality)
        pool = max(pool, math.ceil(cardinality * (math.log(cardinality) + 10)))
    return pool


def init(key: jax.Array, problem: Problem, spec: RunSpec) -> RunState:
    """Draw and evaluate `n_init` distinct uniform points; set up the buffers and the sampler."""
    space = problem.space
    design_key, sampler_key, key = jax.random.split(key, 3)
    capacity = spec.capacity
    X = jnp.zeros((capacity, space.dim), space.dtype)
    Y = jnp.zeros((capacity, problem.n_obj), jnp.float32)
    ref = jnp.asarray(problem.ref_point_min(), jnp.float32)
    context = ProposalContext(
        X=X, Y=Y, mask=jnp.zeros(capacity, bool), leaf_mask=jnp.zeros(capacity, bool),
        ref_point=ref, region=empty_region(), space=space,
    )
    # The design is drawn as one pool (its region is the whole space: one chunk always suffices),
    # which keeps every run's initial design the one earlier versions drew.
    design, _ = RandomSampler(n_candidates=design_pool_size(space, spec.n_init), draw_by_chunk=False).propose(
        design_key, (), context, spec.n_init
    )
    Y_init = _evaluate(problem, design.X)
    X = X.at[: spec.n_init].set(design.X)
    Y = Y.at[: spec.n_init].set(Y_init)
    return RunState(
        X=X,
        Y=Y,
        count=jnp.int32(spec.n_init),
        sampler_state=spec.sampler.init(sampler_key, space, problem.n_obj),
        key=key,
        invalid=jnp.sum(~design.valid).astype(jnp.int32),
        non_finite=~jnp.all(jnp.isfinite(Y_init)),
    )


def step(state: RunState, problem: Problem, spec: RunSpec, tree_rows: int | None = None) -> tuple[RunState, IterationInfo]:
    """One LaMOO iteration (one seed).

    `tree_rows` (static, default the budget) is the number of leading buffer rows the tree is
    built on; it must be at least the number of samples so far (see `RunSpec.phases`).
    """
    tree_rows = spec.budget if tree_rows is None else tree_rows
    space = problem.space
    config = spec.config
    q = spec.batch_size
    key, hv_key, propose_key = jax.random.split(state.key, 3)
    ref = jnp.asarray(problem.ref_point_min(), jnp.float32)
    rows = jnp.arange(spec.capacity)
    mask = rows < jnp.minimum(state.count, spec.budget)

    if spec.partition:
        capacities = spec.capacities_for(tree_rows)
        X, Y, budget_mask = state.X[:tree_rows], state.Y[:tree_rows], mask[:tree_rows]
        tree = build_tree(space.features(X), Y, budget_mask, config, capacities)
        selection = mcts.select(
            hv_key, tree, Y, budget_mask, ref, config.cp,
            strategy=config.selection,
            exact_hv=config.use_exact_hv(problem.n_obj),
            hv_mc_samples=config.hv_mc_samples,
            depth_capacity=depth_capacities(capacities, config),
        )
        node_hv, leaf, region, leaf_mask = selection.node_hv, selection.leaf, selection.region, selection.leaf_mask
        leaf_mask = jnp.concatenate([leaf_mask, jnp.zeros(spec.capacity - tree_rows, bool)])
        info_tree = (jnp.sum(tree.exists), jnp.sum(tree.is_leaf), leaf, region.length, jnp.sum(leaf_mask), jnp.max(node_hv))
    else:
        region = empty_region()
        leaf_mask = mask
        info_tree = (jnp.int32(1), jnp.int32(1), jnp.int32(0), jnp.int32(0), jnp.sum(mask), jnp.float32(0.0))

    sampler_state = state.sampler_state
    if spec.partition:
        # The sampler's own LAPACK calls (CMA-ES eigh, GP Cholesky) must not run concurrently with
        # the tree's batched SVM factorisations: that can deadlock XLA's CPU thread pool (see
        # kernels/_ordering.py). A data dependency on the node values orders them after the tree.
        sampler_state = jax.tree_util.tree_map(
            lambda leaf: after(leaf, node_hv) if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating) else leaf,
            sampler_state,
        )
    context = ProposalContext(
        X=state.X, Y=state.Y, mask=mask, leaf_mask=leaf_mask, ref_point=ref, region=region, space=space,
    )
    proposal, sampler_state = spec.sampler.propose(propose_key, sampler_state, context, q)
    Y_new = _evaluate(problem, proposal.X)
    X = jax.lax.dynamic_update_slice(state.X, proposal.X.astype(state.X.dtype), (state.count, jnp.int32(0)))
    Y = jax.lax.dynamic_update_slice(state.Y, Y_new, (state.count, jnp.int32(0)))
    counted = (state.count + jnp.arange(q)) < spec.budget
    new_state = RunState(
        X=X,
        Y=Y,
        count=state.count + q,
        sampler_state=sampler_state,
        key=key,
        invalid=state.invalid + jnp.sum(~proposal.valid & counted).astype(jnp.int32),
        non_finite=state.non_finite | ~jnp.all(jnp.isfinite(Y_new) | ~counted[:, None]),
    )
    tree_nodes, tree_leaves, leaf, leaf_depth, leaf_size, node_hv_max = info_tree
    info = IterationInfo(
        tree_nodes=jnp.int32(tree_nodes),
        tree_leaves=jnp.int32(tree_leaves),
        leaf_id=jnp.int32(leaf),
        leaf_depth=jnp.int32(leaf_depth),
        leaf_size=jnp.int32(leaf_size),
        region_level=proposal.level.astype(jnp.int32),
        node_hv_max=jnp.float32(node_hv_max),
    )
    return new_state, info


class RunOutput(NamedTuple):
    """Everything a run returns (one seed; `run_batch` adds a leading seed axis).

    Attributes:
        X: [budget, d] samples in evaluation order.
        Y: float32[budget, M] objectives, minimised convention.
        hv_history: float32[budget] hypervolume of the first i+1 samples.
        hv_history_stderr: float32[budget] its standard error (0 where it is exact).
        pareto_mask: bool[budget] non-dominated samples of the run.
        info: IterationInfo stacked over iterations.
        invalid: int32 slots that could not be filled with new points.
        non_finite: bool whether the problem returned NaN/inf.
    """

    X: jax.Array
    Y: jax.Array
    hv_history: jax.Array
    hv_history_stderr: jax.Array
    pareto_mask: jax.Array
    info: IterationInfo
    invalid: jax.Array
    non_finite: jax.Array


def run(key: jax.Array, problem: Problem, spec: RunSpec) -> RunOutput:
    """A whole run of one seed: init, `lax.scan` of `step`, then the hypervolume history."""
    # The run draws from the second key of a split of the seed's key. The Monte Carlo history does
    # not use the seed: one key for all seeds, so equal sample sets get equal estimates.
    key = jax.random.split(key)[1]
    state = init(key, problem, spec)
    infos = []
    # budget == n_init: no iteration; a zero-length scan still gives the diagnostics their shape.
    for tree_rows, length in spec.phases() or [(spec.budget, 0)]:
        state, info = jax.lax.scan(lambda s, _: step(s, problem, spec, tree_rows), state, None, length=length)
        infos.append(info)
    info = jax.tree_util.tree_map(lambda *parts: jnp.concatenate(parts), *infos)
    X, Y = state.X[: spec.budget], state.Y[: spec.budget]
    ref = jnp.asarray(problem.ref_point_min(), jnp.float32)
    if spec.config.use_exact_hv(problem.n_obj):
        history = hv_history_exact(Y, ref)
        history_stderr = jnp.zeros_like(history)
    else:
        history, history_stderr = hv_history_mc(jax.random.key(HISTORY_MC_SEED), Y, ref, spec.config.hv_mc_samples)
    return RunOutput(
        X=X,
        Y=Y,
        hv_history=history,
        hv_history_stderr=history_stderr,
        pareto_mask=nondominated_mask(Y),
        info=info,
        invalid=state.invalid,
        non_finite=state.non_finite,
    )


@functools.partial(jax.jit, static_argnames=("spec",))
def run_batch(keys: jax.Array, problem: Problem, spec: RunSpec) -> RunOutput:
    """`run` vmapped over a batch of PRNG keys (one per seed), compiled as one program.

    A single seed runs as two copies of itself. XLA compiles a batch axis of size 1 like no batch
    axis at all, and some ops then round differently from any larger batch (CMA-ES's small
    matmuls, measured: a seed's samples alone and in a batch parted after about 30 evaluations);
    every batch of two or more seeds gives each seed the same floats.
    """
    n_seeds = keys.shape[0]
    if n_seeds == 1:
        keys = jnp.concatenate([keys, keys])
    out = jax.vmap(run, in_axes=(0, None, None))(keys, problem, spec)
    return jax.tree.map(lambda leaf: leaf[:n_seeds], out)
