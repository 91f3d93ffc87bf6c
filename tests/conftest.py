"""Test-session settings.

XLA's optimisation passes dominate the wall time of this suite (each compiled LaMOO program takes
10-30 s to optimise on 2 CPU cores, and the tests run small inputs where optimised code buys
little). Turning most of them off keeps the suite within its time budget; it changes no semantics,
and the benchmarks in `benchmarks/` run with the default, fully optimised settings.
"""

import jax

jax.config.update("jax_disable_most_optimizations", True)
