"""`lamoo_jax.over_cores`: a batch in parts, one per thread, against one call, moocore and brute force."""

import math
import os

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest

import lamoo_jax as lj
import lamoo_jax.cores
from lamoo_jax.cores import default_threads


def brute_force_counts(Y, mask):
    """How many valid rows dominate each row (minimisation); 0 for masked rows."""
    counts = np.zeros(len(Y), np.int32)
    for i in range(len(Y)):
        if mask[i]:
            dominates = np.all(Y <= Y[i], axis=1) & np.any(Y < Y[i], axis=1) & mask
            counts[i] = dominates.sum()
    return counts


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("m", [2, 3])
def test_parts_give_each_front_its_own_call_result_and_moocore_volume(m, threads):
    rng = np.random.default_rng(m * 10 + threads)
    batch, n = 37, 40  # not a multiple of the parts: the last part starts early and overlaps
    Ys = rng.random((batch, n, m)).astype(np.float32)
    Ys[:, 7] = Ys[:, 3]  # duplicates
    masks = rng.random((batch, n)) < 0.8
    ref = jnp.full(m, 1.05, jnp.float32)
    per_front = jax.vmap(lj.hypervolume, in_axes=(0, None, 0))

    volumes = lj.over_cores(per_front, in_axes=(0, None, 0), threads=threads)(Ys, ref, masks)

    assert isinstance(volumes, np.ndarray) and volumes.shape == (batch,)
    # Each part is the same program on ceil(B / parts) rows: its rows are exactly that call's.
    rows = math.ceil(batch / threads)
    starts = [min(k * rows, batch - rows) for k in range(threads)]
    one_part = jax.jit(per_front)
    for k, start in enumerate(starts):
        expected = np.asarray(one_part(Ys[start : start + rows], ref, masks[start : start + rows]))
        lo, hi = k * rows, min((k + 1) * rows, batch)
        np.testing.assert_array_equal(volumes[lo:hi], expected[lo - start : hi - start])
    exact = [moocore.hypervolume(Y[mask].astype(np.float64), ref=np.full(m, 1.05)) for Y, mask in zip(Ys, masks)]
    np.testing.assert_allclose(volumes, exact, rtol=1e-5)


def test_pytree_outputs_are_joined_per_leaf_and_match_brute_force():
    rng = np.random.default_rng(5)
    Ys = rng.integers(0, 4, (9, 25, 3)).astype(np.float32)  # many ties and duplicates
    masks = rng.random((9, 25)) < 0.7

    def both(Y, mask):
        return {"counts": lj.dominance_count(Y, mask), "front": lj.nondominated_mask(Y, mask)}

    out = lj.over_cores(jax.vmap(both), threads=2)(Ys, masks)

    expected = np.stack([brute_force_counts(Y, mask) for Y, mask in zip(Ys, masks)])
    np.testing.assert_array_equal(out["counts"], expected)
    np.testing.assert_array_equal(out["front"], (expected == 0) & masks)


def test_parts_take_their_own_screening_branch():
    """`nondominated_mask` screens a batch of 120-row sets and picks one branch for the whole batch
    (a survivor buffer, or the full computation when too many rows survive). In parts, each part
    picks its own: here the part holding a set with nothing dominated takes the full computation,
    the other a buffer. Either way every set's mask is the brute force's."""
    rng = np.random.default_rng(6)
    Ys = rng.random((8, 120, 3)).astype(np.float32)
    Ys[-1] = rng.dirichlet(np.ones(3), 120)  # on the plane sum(y) = 1: nothing dominated
    masks = rng.random((8, 120)) < 0.8
    out = lj.over_cores(jax.vmap(lj.nondominated_mask), threads=2)(Ys, masks)
    expected = np.stack([(brute_force_counts(Y, mask) == 0) & mask for Y, mask in zip(Ys, masks)])
    np.testing.assert_array_equal(out, expected)


def test_one_part_is_the_plain_call_and_calls_repeat_exactly():
    rng = np.random.default_rng(6)
    Ys = rng.random((16, 30, 3)).astype(np.float32)
    ref = jnp.full(3, 1.1, jnp.float32)
    per_front = jax.vmap(lj.hypervolume, in_axes=(0, None))

    alone = lj.over_cores(per_front, in_axes=(0, None), threads=1)(Ys, ref)
    np.testing.assert_array_equal(alone, np.asarray(jax.jit(per_front)(Ys, ref)))
    split = lj.over_cores(per_front, in_axes=(0, None), threads=4)
    np.testing.assert_array_equal(split(Ys, ref), split(Ys, ref))
    # More parts than rows: one row per part.
    np.testing.assert_allclose(lj.over_cores(per_front, in_axes=(0, None), threads=64)(Ys[:3], ref), alone[:3], rtol=1e-6)


def test_programs_with_lapack_calls_run_whole_by_default_and_are_refused_in_parts(monkeypatch):
    # Two batched Cholesky factorisations at once deadlock XLA's CPU thread pool (module docstring).
    rng = np.random.default_rng(7)
    A = rng.normal(size=(6, 4, 4)).astype(np.float32)
    spd = A @ np.swapaxes(A, 1, 2) + 4 * np.eye(4, dtype=np.float32)
    factor = jax.vmap(jnp.linalg.cholesky)

    # The custom call is found in the lowered program: one compile, of the whole batch.
    compiled_rows = []
    compile_lowered = jax.stages.Lowered.compile

    def counting_compile(lowered, *args, **kwargs):
        compiled_rows.append(lowered.out_info.shape[0])
        return compile_lowered(lowered, *args, **kwargs)

    monkeypatch.setattr(jax.stages.Lowered, "compile", counting_compile)
    monkeypatch.setattr(lamoo_jax.cores, "default_threads", lambda: 2)  # as on any multi-core CPU
    np.testing.assert_allclose(lj.over_cores(factor)(spd), np.linalg.cholesky(spd), rtol=1e-4, atol=1e-5)
    assert compiled_rows == [6]
    with pytest.raises(ValueError, match="lapack.*deadlock"):
        lj.over_cores(factor, threads=2)(spd)


def test_default_is_one_part_per_usable_core_on_one_cpu_device():
    if jax.default_backend() != "cpu" or jax.local_device_count() != 1:
        assert default_threads() == 1
    else:
        assert default_threads() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    "args, in_axes, match",
    [
        ((np.zeros((4, 3)), np.zeros((5, 3))), 0, "share their leading size"),
        ((np.zeros((0, 3)),), 0, "empty"),
        ((np.zeros((4, 3)), np.float32(1.0)), 0, "scalar"),
        ((np.zeros((4, 3)),), 1, "in_axes entries"),
        ((np.zeros((4, 3)),), None, "at least one"),
        ((np.zeros((4, 3)), np.zeros(3)), (0,), "2 arguments"),
    ],
)
def test_bad_arguments_are_named(args, in_axes, match):
    with pytest.raises(ValueError, match=match):
        lj.over_cores(lambda *xs: xs[0], in_axes=in_axes, threads=2)(*args)


def test_outputs_without_the_batch_axis_and_bad_threads_are_rejected():
    with pytest.raises(ValueError, match="leading axis"):
        lj.over_cores(jnp.sum, threads=2)(np.ones((4, 3)))
    with pytest.raises(ValueError, match="threads"):
        lj.over_cores(jnp.sum, threads=0)
    with pytest.raises(TypeError, match="callable"):
        lj.over_cores("hypervolume")


def test_compiler_options_reach_the_parts_program():
    rng = np.random.default_rng(8)
    Ys = rng.random((10, 30, 4)).astype(np.float32)
    ref = jnp.full(4, 1.05, jnp.float32)
    per_front = jax.vmap(lj.hypervolume, in_axes=(0, None))
    wide = lj.over_cores(per_front, in_axes=(0, None), threads=2, compiler_options={"xla_cpu_prefer_vector_width": 512})
    exact = [moocore.hypervolume(Y.astype(np.float64), ref=np.full(4, 1.05)) for Y in Ys]
    np.testing.assert_allclose(wide(Ys, ref), exact, rtol=1e-5)
    with pytest.raises(Exception, match="xla_cpu_no_such_option"):
        lj.over_cores(per_front, in_axes=(0, None), compiler_options={"xla_cpu_no_such_option": 1})(Ys, ref)
