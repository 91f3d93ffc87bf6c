"""Node values, UCB and Monte Carlo tree search selection over a built `Tree` (one seed).

Node value v_j = hypervolume of the node's own samples w.r.t. the problem's reference point.
UCB_j = v_j + 2 Cp sqrt(2 ln n_parent / n_j), n = number of samples in the node (the root is its
own parent).

- Leaf-based selection (reference default): argmax of UCB over the leaves.
- Path-based selection: from the root, go to the child with the larger UCB until a leaf.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from kernels.dominance import weakly_dominated_by
from kernels.hypervolume import hypervolume, hypervolume_subsets
from lamoo_jax.metrics import uniform_points_in_dominated_box
from lamoo_jax.samplers.base import Region
from lamoo_jax.tree import Tree, ancestor, compact, heap_size, node_depth, node_members


def node_member_matrix(tree: Tree) -> jax.Array:
    """bool[H, N]: which samples lie in each heap node."""
    ids = jnp.arange(heap_size(tree.n_levels))
    return jax.vmap(lambda i: node_members(tree, i))(ids) & tree.exists[:, None]


def node_hypervolumes_exact(members: jax.Array, Y: jax.Array, ref: jax.Array, depth_capacity: tuple[int, ...] = ()) -> jax.Array:
    """float32[H] exact hypervolume of each node's samples (kernels.hypervolume).

    With `depth_capacity` (static, one entry per depth: `tree.depth_capacities`) the cost per node
    scales with its depth's capacity rather than with all N samples: for M = 3 the orders are shared
    by the whole tree and each node's sweep takes as many steps as its capacity
    (`hypervolume_subsets` with `max_members`); otherwise each node's samples are compacted into a
    buffer of that capacity.
    """
    if not depth_capacity:
        return jax.vmap(lambda m: hypervolume(Y, ref, m))(members)
    if Y.shape[1] == 3:
        bounds = tuple(capacity for depth, capacity in enumerate(depth_capacity) for _ in range(2**depth))
        return hypervolume_subsets(Y, ref, members, jnp.any(members, axis=0), max_members=bounds)
    values = []
    for depth, capacity in enumerate(depth_capacity):
        level_members = members[2**depth - 1 : 2 ** (depth + 1) - 1]
        idx, valid = jax.vmap(lambda m: compact(m, capacity))(level_members)
        values.append(jax.vmap(lambda i, v: hypervolume(Y[i], ref, v))(idx, valid))
    return jnp.concatenate(values)


def node_hypervolumes_mc(key: jax.Array, members: jax.Array, Y: jax.Array, mask: jax.Array, ref: jax.Array, n_samples: int) -> jax.Array:
    """float32[H] Monte Carlo hypervolume of every node with common random numbers.

    All nodes share one set of uniform points in the box [ideal of all samples, ref], so the
    sample-versus-point dominance test (the O(S N M) part) is done once for the whole tree and
    each node only ORs its members' columns (O(S N) per node). Each estimate is unbiased.
    """
    inside = mask & jnp.all(Y < ref, axis=1)
    points, volume, origin = uniform_points_in_dominated_box(key, Y, inside, ref, n_samples)
    dominated_by = weakly_dominated_by(points, Y - origin, inside)  # [S, N]
    fraction = jax.vmap(lambda m: jnp.mean(jnp.any(dominated_by & m[None, :], axis=1)))(members)
    return volume * fraction


def ucb_values(tree: Tree, node_hv: jax.Array, cp: jax.Array) -> jax.Array:
    """float32[H] UCB of every node; -inf for nodes that do not exist."""
    ids = jnp.arange(node_hv.shape[0])
    parent = jnp.maximum((ids - 1) // 2, 0)
    n = jnp.maximum(tree.n_samples, 1).astype(jnp.float32)
    n_parent = jnp.maximum(tree.n_samples[parent], 1).astype(jnp.float32)
    bonus = 2.0 * cp * jnp.sqrt(2.0 * jnp.log(n_parent) / n)
    return jnp.where(tree.exists, node_hv + bonus, -jnp.inf)


def select_leaf(tree: Tree, ucb: jax.Array, strategy: str) -> jax.Array:
    """int32 heap id of the selected leaf ("leaf": argmax over leaves; "path": greedy descent)."""
    if strategy == "leaf":
        return jnp.argmax(jnp.where(tree.is_leaf, ucb, -jnp.inf)).astype(jnp.int32)
    if strategy != "path":
        raise ValueError(f"unknown selection strategy {strategy!r}; use 'leaf' or 'path'")
    node = jnp.int32(0)
    for _ in range(tree.n_levels):
        good, bad = 2 * node + 1, 2 * node + 2
        child = jnp.where(ucb[good] >= ucb[bad], good, bad)
        node = jnp.where(tree.is_leaf[node], node, child).astype(jnp.int32)
    return node


def region_of(tree: Tree, leaf: jax.Array) -> Region:
    """The region of a node: the SVM constraints along its root-to-node path."""
    depth = node_depth(leaf)
    models, sides = [], []
    for level, level_models in enumerate(tree.models):
        node = ancestor(leaf, depth, level)
        next_node = ancestor(leaf, depth, level + 1)
        slot = jnp.clip(node - (2**level - 1), 0, 2**level - 1)
        models.append(jax.tree_util.tree_map(lambda a: a[slot], level_models))
        sides.append(next_node == 2 * node + 1)
    sides = jnp.stack(sides) if sides else jnp.zeros((0,), bool)
    return Region(models=tuple(models), sides=sides, length=depth)


class Selection(NamedTuple):
    """The outcome of MCTS selection.

    Attributes:
        leaf: int32 heap id of the selected node.
        region: its `Region`.
        leaf_mask: bool[N] samples inside it.
        node_hv: float32[H] node values.
        ucb: float32[H] UCB values.
    """

    leaf: jax.Array
    region: Region
    leaf_mask: jax.Array
    node_hv: jax.Array
    ucb: jax.Array


def select(
    key: jax.Array,
    tree: Tree,
    Y: jax.Array,
    mask: jax.Array,
    ref: jax.Array,
    cp: float | str,
    *,
    strategy: str,
    exact_hv: bool,
    hv_mc_samples: int,
    depth_capacity: tuple[int, ...] = (),
) -> Selection:
    """Value every node, compute UCB and select a leaf (one seed).

    `cp` is an absolute exploration constant, or "auto": 10% of the hypervolume of all samples
    (the root's value, since the root holds every sample), the paper's rule when the maximum
    hypervolume is unknown.
    """
    members = node_member_matrix(tree)
    if exact_hv:
        node_hv = node_hypervolumes_exact(members, Y, ref, depth_capacity)
    else:
        node_hv = node_hypervolumes_mc(key, members, Y, mask, ref, hv_mc_samples)
    node_hv = jnp.where(tree.exists, node_hv, 0.0)
    cp_value = 0.1 * node_hv[0] if cp == "auto" else jnp.float32(cp)
    ucb = ucb_values(tree, node_hv, cp_value)
    leaf = select_leaf(tree, ucb, strategy)
    return Selection(leaf=leaf, region=region_of(tree, leaf), leaf_mask=members[leaf], node_hv=node_hv, ucb=ucb)
