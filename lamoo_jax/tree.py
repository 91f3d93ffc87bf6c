"""The LaMOO partition tree of one seed's samples, rebuilt from scratch every iteration.

Layout: a complete binary heap with fixed capacity. Node `i` has children `2i + 1` (the "good"
child: the side the node's classifier predicts True) and `2i + 2` (the "bad" child). Depth `k`
holds nodes `2^k - 1 .. 2^(k+1) - 2`. Nodes that were never created have `exists = False`.

The tree is built level by level. A node at depth `k` holds at most `capacities[k]` samples (see
`config.level_capacities`), so each node's dominance counting and SVM fit run on a gathered buffer
of that size rather than on all N samples: the work per node scales with the node's own size,
which is what keeps a batched build cheaper than fitting every node on the full masked set.

Split rule (reference implementation):
- dominance number of each sample among the node's samples (`kernels.dominance.dominance_count`);
- sort by dominance number (stable, ties by sample order); the first floor(n/2) + 1 are "good";
- fit the SVM on the node's features; split only when the node holds more than
  `min_split_size` samples, both labels occur, the SVM could be fit and predicts both classes on
  the node's samples, and the node count stays within `max_nodes` (nodes considered in
  breadth-first order);
- children receive the samples by label (default) or by the SVM's prediction.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from kernels import svm
from kernels._batching import first_true
from kernels.dominance import dominance_count
from lamoo_jax.config import LaMOOConfig


class Tree(NamedTuple):
    """A built partition tree (one seed).

    Attributes:
        node_of_sample: int32[N] heap id of the leaf holding each sample; -1 for padding rows.
        exists: bool[H] whether heap node i was created (H = 2^(L+1) - 1, L = len(capacities)).
        is_leaf: bool[H] whether node i exists and was not split.
        n_samples: int32[H] number of samples in node i (0 for absent nodes).
        models: tuple of length L; `models[k]` is the SVM model pytree of the 2^k nodes at depth k,
            stacked along a leading axis (meaningful only for nodes that were split).
    """

    node_of_sample: jax.Array
    exists: jax.Array
    is_leaf: jax.Array
    n_samples: jax.Array
    models: tuple

    @property
    def n_levels(self) -> int:
        """Number of depths at which a split may happen (the tree has n_levels + 1 depths)."""
        return len(self.models)

    @property
    def n_nodes(self) -> jax.Array:
        return jnp.sum(self.exists)


def heap_size(n_levels: int) -> int:
    return 2 ** (n_levels + 1) - 1


def level_ids(depth: int) -> jax.Array:
    """int32[2^depth] heap ids of the nodes at `depth`."""
    return (2**depth - 1 + jnp.arange(2**depth)).astype(jnp.int32)


def compact(member: jax.Array, capacity: int) -> tuple[jax.Array, jax.Array]:
    """Indices (int32[capacity]) and validity (bool[capacity]) of the True entries of `member`.

    The members come first, in their original order; the rest of the buffer is padding (index 0).
    """
    return first_true(member, capacity)


def gather_node(node_of_sample: jax.Array, node_id: jax.Array, capacity: int) -> tuple[jax.Array, jax.Array]:
    """Indices (int32[capacity]) and membership (bool[capacity]) of the samples whose leaf is
    `node_id`, in sample order (so that ties later break by sample order)."""
    return compact(node_of_sample == node_id, capacity)


def depth_capacities(capacities: tuple[int, ...], config: LaMOOConfig) -> tuple[int, ...]:
    """Static sample capacity of a node at every depth of the tree, including the last depth
    (which holds only leaves): `len(capacities) + 1` entries."""
    if not capacities:
        return ()
    last = capacities[-1] // 2 + 1 if config.assign_by == "label" else capacities[-1]
    return tuple(capacities) + (last,)


def _fit_svm(features, labels, member, config: LaMOOConfig):
    return svm.fit(
        features,
        labels,
        member,
        kernel=config.svm_kernel,
        C=config.svm_C,
        gamma=config.svm_gamma,
        degree=config.svm_degree,
        coef0=config.svm_coef0,
        max_iter=config.svm_max_iter,
        solver=config.svm_solver,
    )


def good_labels(Y_node: jax.Array, member: jax.Array) -> jax.Array:
    """bool[n]: the reference's median split by dominance rank within one node.

    Args:
        Y_node: float32[n, M] objectives (minimised) of the gathered node samples.
        member: bool[n] which gathered rows are real.
    """
    count = dominance_count(Y_node, member)
    key = jnp.where(member, count, jnp.iinfo(jnp.int32).max)
    # Stable rank by pairwise comparison (ties by sample order); cheaper than a sort at node sizes.
    index = jnp.arange(key.shape[0])
    before = (key[None, :] < key[:, None]) | ((key[None, :] == key[:, None]) & (index[None, :] < index[:, None]))
    position = jnp.sum(before, axis=1)
    n = jnp.sum(member)
    return member & (position < n // 2 + 1)


def build_tree(
    features: jax.Array, Y: jax.Array, mask: jax.Array, config: LaMOOConfig, capacities: tuple[int, ...]
) -> Tree:
    """Build the partition tree of one seed's samples.

    Args:
        features: float32[N, f] SVM features of the samples (`space.features(X)`).
        Y: float32[N, M] objectives, minimised.
        mask: bool[N] which rows are real samples.
        config: static configuration.
        capacities: static per-depth node capacities (`config.level_capacities(N, config)`).
    """
    n_levels = len(capacities)
    size = heap_size(n_levels)
    node_of_sample = jnp.where(mask, 0, -1).astype(jnp.int32)
    exists = jnp.zeros(size, bool).at[0].set(True)
    is_leaf = exists
    models = []
    for depth, capacity in enumerate(capacities):
        ids = level_ids(depth)
        idx, member = jax.vmap(gather_node, in_axes=(None, 0, None))(node_of_sample, ids, capacity)
        labels = jax.vmap(good_labels)(Y[idx], member)
        model = jax.vmap(lambda f, y, m: _fit_svm(f, y, m, config))(features[idx], labels, member)
        # The fit's own decision values at its rows: no second kernel matrix.
        predicted = model.train_decision > 0
        n_member = jnp.sum(member, axis=1)
        predicts_both = jnp.any(predicted & member, axis=1) & jnp.any(~predicted & member, axis=1)
        wants_split = exists[ids] & (n_member > config.min_split_size) & model.can_split & predicts_both
        # Breadth-first node budget: the j-th split of this level is allowed only if the tree
        # (all nodes so far plus two children per earlier split) stays within max_nodes.
        nodes_after = jnp.sum(exists) + 2 * jnp.cumsum(wants_split)
        split = wants_split & (nodes_after <= config.max_nodes)

        goes_good = labels if config.assign_by == "label" else predicted
        child = jnp.where(goes_good, 2 * ids[:, None] + 1, 2 * ids[:, None] + 2)
        moved = jnp.where(split[:, None] & member, child, -1)
        update = jnp.full(node_of_sample.shape, -1, jnp.int32).at[idx.reshape(-1)].max(moved.reshape(-1))
        node_of_sample = jnp.where(update >= 0, update, node_of_sample)

        children = jnp.concatenate([2 * ids + 1, 2 * ids + 2])
        exists = exists.at[children].set(jnp.concatenate([split, split]))
        is_leaf = is_leaf.at[ids].set(is_leaf[ids] & ~split).at[children].set(jnp.concatenate([split, split]))
        models.append(model)

    node_ids = jnp.arange(size)
    n_samples = jnp.sum(node_of_sample[None, :] == node_ids[:, None], axis=1)
    # Internal nodes hold the samples of their descendant leaves.
    for depth in range(n_levels - 1, -1, -1):
        ids = level_ids(depth)
        internal = exists[ids] & ~is_leaf[ids]
        from_children = n_samples[2 * ids + 1] + n_samples[2 * ids + 2]
        n_samples = n_samples.at[ids].set(jnp.where(internal, from_children, n_samples[ids]))
    return Tree(
        node_of_sample=node_of_sample,
        exists=exists,
        is_leaf=is_leaf,
        n_samples=n_samples.astype(jnp.int32),
        models=tuple(models),
    )


def node_depth(node_id: jax.Array) -> jax.Array:
    """Depth of heap node `node_id` (root = 0)."""
    # Exact integer bit length of node_id + 1, minus one (a float32 log2 is off from 2**20 nodes on).
    return (31 - jax.lax.clz(jnp.asarray(node_id, jnp.int32) + 1)).astype(jnp.int32)


def ancestor(node_id: jax.Array, depth: jax.Array, level: int) -> jax.Array:
    """Heap id of the ancestor at `level` of a node at `depth` (the node itself when equal)."""
    shift = jnp.maximum(depth - level, 0)
    return ((node_id + 1) >> shift) - 1


def node_members(tree: Tree, node_id: jax.Array) -> jax.Array:
    """bool[N]: samples inside heap node `node_id` (a leaf or an internal node)."""
    leaf = tree.node_of_sample
    depth = node_depth(node_id)
    leaf_depth = node_depth(jnp.maximum(leaf, 0))
    up = jnp.maximum(leaf_depth - depth, 0)
    ancestor_of_leaf = ((leaf + 1) >> up) - 1
    return (leaf >= 0) & (leaf_depth >= depth) & (ancestor_of_leaf == node_id)


#: `build_tree` compiled on its own (config and capacities static), for use outside the loop.
build_tree_jit = jax.jit(build_tree, static_argnames=("config", "capacities"))
