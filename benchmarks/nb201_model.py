"""The NAS-Bench-201 cell space and exact cost counts of its network.

Cell encoding used throughout the project
-----------------------------------------
A cell is 6 integer codes, one per edge, in NAS-Bench-201 arch-string order

    edge 0: node1 <- node0      edge 3: node3 <- node0
    edge 1: node2 <- node0      edge 4: node3 <- node1
    edge 2: node2 <- node1      edge 5: node3 <- node2

so that ``|{e0}~0|+|{e1}~0|{e2}~1|+|{e3}~0|{e4}~1|{e5}~2|`` is its arch string, with op codes
``0 none, 1 skip_connect, 2 nor_conv_1x1, 3 nor_conv_3x3, 4 avg_pool_3x3`` (:data:`OPS`).
The mixed-radix rank of a code is ``sum(code[i] * 5 ** (5 - i))`` (edge 0 most significant), so
ranks run over ``0 .. 5**6 - 1 = 15624``; the NB201 *index* of a cell is a different order, given by
the published arch-string-to-index map.

The network (NAS-Bench-201 ``infer.tiny``, C=16, N=5)
------------------------------------------------------
stem ``Conv3x3(3->C) + BN`` -> 5 cells (C) -> ResNet reduction block (C->2C, stride 2) -> 5 cells
(2C) -> reduction block (2C->4C) -> 5 cells (4C) -> ``BN + ReLU`` -> global average pool ->
``Linear(4C -> classes)``. Cell ops: ``nor_conv_kxk = ReLU + Conv(kxk, no bias) + BN(affine)``,
``avg_pool_3x3`` and ``skip_connect`` are parameter-free (channels match inside a cell), ``none``
outputs zeros. A reduction block is ``ReLUConvBN(3x3, stride 2)`` -> ``ReLUConvBN(3x3)`` plus the
shortcut ``AvgPool2d(2, 2) -> Conv1x1(no bias)``. Every op is built whether or not it is connected
to the output, so parameters and FLOPs are counted for all six edges.

FLOPs convention
----------------
:func:`count_flops` counts multiply-accumulates the way NAS-Bench-201's own counter
(``xautodl/utils/flop_benchmark.py``, the ``flops`` of ``api.get_cost_info``) does, for batch 1:

- conv: ``k*k*C_in*C_out/groups * H_out*W_out`` (+ ``C_out*H_out*W_out`` if biased; none here),
- average pool: ``k*k * C*H_out*W_out``,
- linear: ``in*out + out`` (bias),
- BatchNorm, ReLU, the additions that merge edges and the global pool are not counted.

NASLib's ``flops`` in ``zc_nasbench201.json`` (in millions) use another counter. Measured on all 2174
records, exactly (residual < 1e-12):
``naslib = ours/1e6 + 3 * N * sum_stages(C*H*W)/1e6 * n_conv_edges + const`` , i.e. NASLib also charges
3 operations per output element of every cell edge's ``ReLUConvBN`` (ReLU + BN scale and shift):
0.43008 M per conv edge at 32x32 (CIFAR), 0.10752 M at 16x16 (ImageNet16-120), and const = 0.136246 /
0.136156 / 0.034248 M for CIFAR-10 / CIFAR-100 / ImageNet16-120 (stem and reduction-block BN/ReLU work,
minus the classifier bias this module counts). NASLib / ours ranges over 1.0105 .. 1.0789.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
N_OPS = len(OPS)
N_EDGES = 6
N_CELLS = N_OPS**N_EDGES  # 15625
# (target node, source node) of each edge, in arch-string order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

# Classes and input resolution of the three NAS-Bench-201 datasets.
DATASETS: dict[str, tuple[int, int]] = {
    "cifar10": (10, 32),
    "cifar100": (100, 32),
    "ImageNet16-120": (120, 16),
}

_OP_INDEX = {name: i for i, name in enumerate(OPS)}
RADIX_WEIGHTS = np.array([N_OPS ** (N_EDGES - 1 - i) for i in range(N_EDGES)], dtype=np.int64)


def arch_string(code: Sequence[int]) -> str:
    """NB201 arch string of a 6-edge op code (see module docstring)."""
    ops = [OPS[int(c)] for c in code]
    if len(ops) != N_EDGES:
        raise ValueError(f"a NAS-Bench-201 cell has {N_EDGES} edges; got a code of length {len(ops)}")
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


def parse_arch_string(arch: str) -> tuple[int, ...]:
    """Inverse of :func:`arch_string`; raises `ValueError` on a malformed string."""
    nodes = arch.strip().split("+")
    if len(nodes) != 3:
        raise ValueError(f"not a NAS-Bench-201 arch string (expected 3 nodes): {arch!r}")
    code: list[int] = []
    for target, node in enumerate(nodes, start=1):
        parts = [p for p in node.split("|") if p]
        if len(parts) != target:
            raise ValueError(f"not a NAS-Bench-201 arch string (node {target} has {len(parts)} inputs): {arch!r}")
        for source, part in enumerate(parts):
            op, _, src = part.partition("~")
            if op not in _OP_INDEX or src != str(source):
                raise ValueError(f"not a NAS-Bench-201 arch string (bad edge {part!r}): {arch!r}")
            code.append(_OP_INDEX[op])
    return tuple(code)


def all_codes() -> np.ndarray:
    """All cells as int32[15625, 6], row r = the code whose mixed-radix rank is r."""
    return np.array(list(itertools.product(range(N_OPS), repeat=N_EDGES)), dtype=np.int32)


def mixed_radix(codes: np.ndarray) -> np.ndarray:
    """Mixed-radix rank(s) of code(s) `[..., 6]` -> int64[...]."""
    return np.asarray(codes, dtype=np.int64) @ RADIX_WEIGHTS


def output_connected(code: Sequence[int]) -> bool:
    """Whether node 3 (the cell output) is reachable from node 0 through edges whose op is not `none`."""
    reachable = {0}
    for (target, source), op in zip(EDGES, code):  # edges are topologically ordered
        if op != 0 and source in reachable:
            reachable.add(target)
    return 3 in reachable


def _relu_conv_bn_params(c_in: int, c_out: int, k: int) -> int:
    return k * k * c_in * c_out + 2 * c_out


def _cell_op_params(op: int, c: int) -> int:
    if OPS[op] == "nor_conv_1x1":
        return _relu_conv_bn_params(c, c, 1)
    if OPS[op] == "nor_conv_3x3":
        return _relu_conv_bn_params(c, c, 3)
    return 0


def _cell_op_flops(op: int, c: int, hw: int) -> int:
    if OPS[op] == "nor_conv_1x1":
        return c * c * hw * hw
    if OPS[op] == "nor_conv_3x3":
        return 9 * c * c * hw * hw
    if OPS[op] == "avg_pool_3x3":
        return 9 * c * hw * hw
    return 0


def _stages(c: int, input_size: int) -> list[tuple[int, int]]:
    return [(c * 2**s, input_size // 2**s) for s in range(3)]


def count_params(code: Sequence[int], num_classes: int, *, C: int = 16, N: int = 5) -> int:
    """Exact number of trainable parameters (conv weights, BN affine, classifier) of the network."""
    total = 9 * 3 * C + 2 * C  # stem conv + BN
    stages = _stages(C, 1)
    for s, (c, _) in enumerate(stages):
        total += N * sum(_cell_op_params(op, c) for op in code)
        if s + 1 < len(stages):
            c_out = stages[s + 1][0]
            total += _relu_conv_bn_params(c, c_out, 3) + _relu_conv_bn_params(c_out, c_out, 3) + c * c_out
    c_last = stages[-1][0]
    total += 2 * c_last  # last BN
    total += c_last * num_classes + num_classes
    return total


def count_flops(code: Sequence[int], num_classes: int, input_size: int, *, C: int = 16, N: int = 5) -> int:
    """Multiply-accumulates of one forward pass (batch 1) in NAS-Bench-201's convention (module docstring)."""
    total = 9 * 3 * C * input_size * input_size  # stem conv
    stages = _stages(C, input_size)
    for s, (c, hw) in enumerate(stages):
        total += N * sum(_cell_op_flops(op, c, hw) for op in code)
        if s + 1 < len(stages):
            c_out, hw_out = stages[s + 1]
            total += 9 * c * c_out * hw_out * hw_out  # conv_a, stride 2
            total += 9 * c_out * c_out * hw_out * hw_out  # conv_b
            total += 4 * c * hw_out * hw_out  # shortcut AvgPool2d(2, 2)
            total += c * c_out * hw_out * hw_out  # shortcut conv 1x1
    c_last = stages[-1][0]
    total += c_last * num_classes + num_classes
    return total


def cost_tables(codes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Params and FLOPs of every code for each dataset: ``{"params_<ds>": int64[n], "flops_<ds>": int64[n]}``.

    `codes` defaults to :func:`all_codes` (rows in mixed-radix order).
    """
    codes = all_codes() if codes is None else np.asarray(codes)
    out: dict[str, np.ndarray] = {}
    for name, (classes, size) in DATASETS.items():
        out[f"params_{name}"] = np.array([count_params(c, classes) for c in codes], dtype=np.int64)
        out[f"flops_{name}"] = np.array([count_flops(c, classes, size) for c in codes], dtype=np.int64)
    return out
