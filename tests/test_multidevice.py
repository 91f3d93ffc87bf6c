"""The kernels under `jit(vmap)` with the batch axis sharded over several CPU devices.

JAX fixes the number of host devices when it starts, so the check runs in a fresh Python process
started with `--xla_force_host_platform_device_count=4` (how `benchmarks/bench_kernels.py` puts both
cores of a CPU to work); it prints JSON that this test compares with moocore and brute force.
"""

import json
import os
import subprocess
import sys

import moocore
import numpy as np

SCRIPT = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from lamoo_jax import dominance_count, hypervolume

assert len(jax.devices()) == 4, jax.devices()
by_set = NamedSharding(Mesh(np.array(jax.devices()), ("sets",)), PartitionSpec("sets"))
rng = np.random.default_rng(0)
out = {}
for m in (2, 3, 4):
    Ys = rng.random((8, 40, m)).astype(np.float32)
    Ys[:, 5] = Ys[:, 3]  # duplicates
    masks = rng.random((8, 40)) < 0.8
    ref = jnp.full(m, 1.05, jnp.float32)
    hv = jax.jit(jax.vmap(hypervolume, in_axes=(0, None, 0)))
    counts = jax.jit(jax.vmap(dominance_count))
    sharded_Y, sharded_masks = jax.device_put(Ys, by_set), jax.device_put(masks, by_set)
    sharded_hv = hv(sharded_Y, ref, sharded_masks)
    out[m] = dict(
        Ys=Ys.tolist(), masks=masks.tolist(),
        hv_sharded=np.asarray(sharded_hv).tolist(), hv_one_device=np.asarray(hv(jnp.asarray(Ys), ref, jnp.asarray(masks))).tolist(),
        hv_devices=len(sharded_hv.sharding.device_set),
        counts_sharded=np.asarray(counts(sharded_Y, sharded_masks)).tolist(),
    )
print(json.dumps(out))
"""


def test_kernels_sharded_over_four_cpu_devices_match_references():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=root, capture_output=True, text=True, timeout=300,
        env={**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for m, result in out.items():
        Ys, masks = np.asarray(result["Ys"], np.float32), np.asarray(result["masks"])
        assert result["hv_devices"] == 4  # the output stayed sharded: each device did its own fronts
        # the same program on one device gives the same numbers; both agree with moocore
        np.testing.assert_array_equal(result["hv_sharded"], result["hv_one_device"])
        expected = [moocore.hypervolume(Y[mk].astype(np.float64), ref=np.full(int(m), 1.05)) for Y, mk in zip(Ys, masks)]
        np.testing.assert_allclose(result["hv_sharded"], expected, rtol=1e-5)
        for Y, mk, counts in zip(Ys, masks, result["counts_sharded"]):
            le = (Y[:, None, :] <= Y[None, :, :]).all(-1)
            lt = (Y[:, None, :] < Y[None, :, :]).any(-1)
            brute = ((le & lt) & mk[:, None] & mk[None, :]).sum(0)
            np.testing.assert_array_equal(counts, brute)
