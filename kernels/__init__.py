"""Pure, jit/vmap-able array kernels with no optimizer state.

All kernels take an optional boolean `mask` of shape `(N,)` marking which rows are real, so that
callers can keep fixed-size buffers. Objectives are minimised.
"""
