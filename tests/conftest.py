"""Test-session settings.

XLA's optimisation passes dominate the wall time of this suite (each compiled LaMOO program takes
10-30 s to optimise on 2 CPU cores, and the tests run small inputs where optimised code buys
little). Turning most of them off keeps the suite within its time budget; it changes no semantics,
and the benchmarks in `benchmarks/` run with the default, fully optimised settings.
"""

import os

import jax
import pytest

jax.config.update("jax_disable_most_optimizations", True)
# The CLI turns on JAX's persistent compilation cache (a process-wide setting) by default; tests
# that call it in this process must not write to the user's cache. tests/test_compile_cache.py
# exercises the cache in subprocesses with folders of their own.
os.environ["LAMOO_JAX_CACHE_DIR"] = "off"


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop every compiled program after each test module.

    Each XLA:CPU executable keeps a few memory mappings of its JIT-compiled code while it is cached.
    The whole suite compiles thousands of programs in one process: without this, the process grew
    past 62,000 mappings by the last modules and segfaulted inside XLA's compiler at Linux's
    default limit of 65,530 (vm.max_map_count). No test relies on a cache kept across modules.
    """
    yield
    jax.clear_caches()
