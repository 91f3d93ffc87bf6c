"""A plainly written sequential LaMOO (numpy + scikit-learn SVC + moocore), one seed at a time.

This is the yardstick of the throughput benchmark: the same algorithm as `lamoo_jax` (median
split by dominance rank, SVC per node, label assignment, leaf-based UCB with hypervolume values,
rejection sampling with relaxation to ancestors, q distinct picks), written the way the reference
code is (Python objects, one seed after another). It lives in `benchmarks/`, never in the library.
"""

from __future__ import annotations

import dataclasses

import moocore
import numpy as np
from sklearn.svm import SVC


@dataclasses.dataclass
class Node:
    indices: np.ndarray
    depth: int
    parent: "Node | None" = None
    classifier: SVC | None = None
    side: bool = True  # which prediction of the parent's classifier leads here
    children: tuple = ()


def dominance_count(Y: np.ndarray) -> np.ndarray:
    le = np.all(Y[:, None, :] <= Y[None, :, :], axis=-1)
    lt = np.any(Y[:, None, :] < Y[None, :, :], axis=-1)
    return (le & lt).sum(axis=0)


def hypervolume(Y: np.ndarray, ref: np.ndarray) -> float:
    inside = np.all(Y < ref, axis=1)
    if not inside.any():
        return 0.0
    return float(moocore.hypervolume(Y[inside].astype(np.float64), ref=ref))


def build_tree(F, Y, *, min_split=15, max_nodes=50, kernel="poly", C=1.0, gamma="scale", degree=4):
    root = Node(indices=np.arange(len(Y)), depth=0)
    nodes, queue = [root], [root]
    while queue:
        node = queue.pop(0)
        if len(node.indices) <= min_split or len(nodes) + 2 > max_nodes:
            continue
        counts = dominance_count(Y[node.indices])
        order = np.argsort(counts, kind="stable")
        labels = np.zeros(len(node.indices), bool)
        labels[order[: len(node.indices) // 2 + 1]] = True
        if labels.all() or not labels.any():
            continue
        classifier = SVC(kernel=kernel, C=C, gamma=gamma, degree=degree).fit(F[node.indices], labels)
        predicted = classifier.predict(F[node.indices])
        if predicted.all() or not predicted.any():
            continue
        node.classifier = classifier
        good = Node(node.indices[labels], node.depth + 1, node, side=True)
        bad = Node(node.indices[~labels], node.depth + 1, node, side=False)
        node.children = (good, bad)
        nodes += [good, bad]
        queue += [good, bad]
    return root, nodes


def select_leaf(nodes, Y, ref, cp):
    best, best_ucb = None, -np.inf
    for node in nodes:
        if node.children:
            continue
        n_parent = len(node.parent.indices) if node.parent else len(node.indices)
        ucb = hypervolume(Y[node.indices], ref) + 2 * cp * np.sqrt(2 * np.log(n_parent) / len(node.indices))
        if ucb > best_ucb:
            best, best_ucb = node, ucb
    return best


def sample_in_region(rng, leaf, features_of, sample, q, n_candidates, screen_chunk=None):
    """q distinct candidates drawn uniformly from the leaf's region, relaxing to ancestors.

    `screen_chunk=None` is the reference's rule: every candidate goes through every classifier of
    the path. With `screen_chunk`, candidates are screened chunk by chunk, each classifier sees
    only the candidates that passed the ones before, and screening stops once q candidates lie in
    the leaf (the shortcut the compiled random sampler takes; same distribution of choices; the
    compiled sampler also caps each classifier at half as many of a chunk's candidates as the one
    before, min 32, which rarely binds and is not replicated here).
    """
    path = []
    node = leaf
    while node.parent is not None:
        path.append(node)
        node = node.parent
    path.reverse()
    candidates = sample(rng, n_candidates)
    F = features_of(candidates)
    depth = np.zeros(len(candidates), int)
    if screen_chunk is None:
        inside = np.ones(len(candidates), bool)
        for level, node in enumerate(path):
            inside &= node.parent.classifier.predict(F) == node.side
            depth[inside] = level + 1
    else:
        for start in range(0, len(candidates), screen_chunk):
            index = np.arange(start, min(start + screen_chunk, len(candidates)))
            for level, node in enumerate(path):
                if len(index) == 0:
                    break
                index = index[node.parent.classifier.predict(F[index]) == node.side]
                depth[index] = level + 1
            if np.sum(depth >= len(path)) >= q:
                break
    for level in range(len(path), -1, -1):
        pool = np.flatnonzero(depth >= level)
        if len(pool) >= q:
            return candidates[rng.choice(pool, q, replace=False)]
    return candidates[:q]


def run_one(problem_fn, lower, upper, ref, *, seed, budget=100, n_init=10, q=5, n_candidates=1024, kernel="poly", cp_fraction=0.1, partition=True, screen_chunk=None):
    """One sequential run on a box problem (minimised objectives). Returns (X, Y, hv_history).

    `screen_chunk`: see `sample_in_region` (None: the reference's rule)."""
    rng = np.random.default_rng(seed)
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)

    def sample(r, n):
        return lower + r.uniform(size=(n, len(lower))) * (upper - lower)

    def features_of(X):
        return (X - lower) / (upper - lower)

    X = sample(rng, n_init)
    Y = np.array([problem_fn(x) for x in X])
    while len(X) < budget:
        if partition:
            root, nodes = build_tree(features_of(X), Y, kernel=kernel)
            cp = cp_fraction * hypervolume(Y, ref)
            leaf = select_leaf(nodes, Y, ref, cp)
        else:
            leaf = None
        if leaf is None:
            new = sample(rng, q)
        else:
            new = sample_in_region(rng, leaf, features_of, sample, q, n_candidates, screen_chunk)
        X = np.vstack([X, new])[:budget]
        Y = np.vstack([Y, [problem_fn(x) for x in new]])[:budget]
    history = np.array([hypervolume(Y[: i + 1], ref) for i in range(len(Y))])
    return X, Y, history
