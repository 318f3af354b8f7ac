"""A pytest plugin that forces one kernel path for a whole test run (issue 9: "a run with every
kernel path forced on this machine's CPU"), used by .ci/forced_paths:

    TT_FORCE_PATH=rows,threads python -m pytest -p forced_paths tests/test_conv.py

(tests/ on PYTHONPATH). TT_FORCE_PATH is a comma-separated list of the names in FORCES below;
the ISA variant is chosen as usual, by TINYTENSOR_ISA at import. Tests that pick a path
themselves (tests/test_conv.py's on_path, tests/variants.py's on_variant) still do so inside
their block, and the forced path is back after it.

The conv paths are forced through the thresholds of tinytensor/_functions/conv.py (the same
way tests/test_conv.py's PATHS does), or, where tinytensor/_functions/conv_plan.py exists,
through its force() (PLAN_FORCES); a threshold or constant that no longer exists is an error
here, not a silently unforced run.
"""
import os

import pytest

# name -> {attribute of tinytensor._functions.conv: value}, or a callable for kernel toggles
FORCES = {
    # forward by panels (im2col rows in registers), input gradient by col2im panels, weight
    # gradient by GEMM: every float32 convolution that is not depthwise
    "panels": dict(_ROWS_MIN_WIDTH=10**9, _MAX_FLIPPED_GROWTH=-1.0, _PANEL_MIN_IN_CHANNELS=1,
                   _WGRAD_MIN_LANE_USE=2.0, _WGRAD_WIN_MAX_POSITIONS=0),
    # forward by rows wherever the W-stride allows, input gradient as a flipped convolution
    # wherever the stride allows, weight gradient by dot products (AVX-512) wherever it applies
    "rows": dict(_ROWS_MIN_WIDTH=1, _MAX_FLIPPED_GROWTH=1e9, _PANEL_MIN_IN_CHANNELS=1,
                 _WGRAD_MIN_LANE_USE=0.0, _WGRAD_MIN_CHANNELS=1),
    # weight gradient by the window mode (AVX-512) wherever it applies (groups == 1)
    "window": dict(_WGRAD_MIN_LANE_USE=2.0, _WGRAD_MIN_CHANNELS=1,
                   _WGRAD_WIN_MAX_POSITIONS=10**9, _WGRAD_WIN_MIN_LANE_USE=0.0),
    # float32 GEMMs by BLAS (im2col + GEMM, GEMM + col2im), not tinytensor's own kernels
    "blas": "blas",
    # depthwise convolutions through the general paths instead of the direct kernels
    "nodirect": dict(_DIRECT_MAX_OUT_PER_GROUP=-1),
    # the direct (depthwise) backward fused into one pass for any number of groups / never
    "fused": dict(_FUSED_MIN_GROUPS=1),
    "unfused": dict(_FUSED_MIN_GROUPS=10**9),
    # GEMM path: chunks of few columns and col blocks of 5 output positions (blocks that start
    # and end inside output rows), weight gradients over many partitions
    "blocks": dict(_CHUNK_COLUMNS=5, _COL_BLOCK_BYTES=1, _MAX_PARTS=64),
    # every convolution on every thread, however small
    "threads": dict(_MIN_MACS_PER_THREAD=1),
    # max pooling by the portable rows, not the AVX-512 ones
    "poolrows": "poolrows",
}


def names_from_environment():
    """The names in TT_FORCE_PATH (a UsageError-worthy ValueError for unknown ones)."""
    names = [n.strip() for n in os.environ.get("TT_FORCE_PATH", "").split(",") if n.strip()]
    unknown = [n for n in names if n not in FORCES and n != "default"]
    if unknown:
        raise ValueError(f"TT_FORCE_PATH: unknown {unknown}; expected some of "
                         f"default, {', '.join(FORCES)}")
    return [n for n in names if n != "default"]


# The same names on the convolution plan (tinytensor/_functions/conv_plan.py, where it exists:
# it replaces the thresholds above): conv_plan.force() keywords, and plan constants to set.
PLAN_FORCES = {
    "panels": dict(forward="panels", input_grad="panels", weight_grad="gemm"),
    "rows": dict(forward="rows", input_grad="flipped", weight_grad="dot"),
    "window": dict(weight_grad="window"),
    "blas": dict(forward="gemm", input_grad="gemm", weight_grad="gemm"),   # no BLAS there
    "nodirect": dict(forward="gemm", input_grad="gemm", weight_grad="gemm"),
    "fused": dict(input_grad="direct-fused", weight_grad="direct-fused"),
    "unfused": dict(input_grad="direct", weight_grad="direct"),
    "blocks": dict(chunk_columns=5, col_block_bytes=1, MAX_PARTS=64),
    "threads": dict(MIN_MACS_PER_THREAD=1),
}


def _conv_plan():
    try:
        from tinytensor._functions import conv_plan
    except ImportError:
        return None
    return conv_plan


def force(names):
    """Force the named paths in this process; returns a function that undoes it. Also called
    by the fuzz suite's child processes (tests/test_fuzz.py), which inherit TT_FORCE_PATH."""
    import contextlib
    from tinytensor._kernels import pool as KP
    plan = _conv_plan()
    undo = []
    stack = contextlib.ExitStack()
    for name in names:
        how = FORCES[name]
        if how == "poolrows":
            undo.append(lambda old=KP._set_avx512(False): KP._set_avx512(old))
        elif plan is not None:
            kw = {k: v for k, v in PLAN_FORCES[name].items() if not k.isupper()}
            for attr, value in PLAN_FORCES[name].items():
                if attr.isupper():
                    old = getattr(plan, attr)      # AttributeError: the constant is gone
                    undo.append(lambda a=attr, o=old: setattr(plan, a, o))
                    setattr(plan, attr, value)
            if kw:
                stack.enter_context(plan.force(**kw))     # also empties the plan cache
        elif how == "blas":
            from tinytensor._kernels import conv as K
            undo.append(lambda own=K.own_sgemm(): K.use_own_sgemm(own))
            K.use_own_sgemm(False)
        else:
            from tinytensor._functions import conv as conv_fn
            for attr, value in how.items():
                old = getattr(conv_fn, attr)       # AttributeError: the threshold is gone
                undo.append(lambda a=attr, o=old: setattr(conv_fn, a, o))
                setattr(conv_fn, attr, value)
    if plan is not None:
        plan._cache.clear()                        # plans made before the constants changed

    def undo_all():
        stack.close()
        for u in reversed(undo):
            u()
        if plan is not None:
            plan._cache.clear()
    return undo_all


def pytest_configure(config):
    try:
        names = names_from_environment()
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    config._tt_forced = (names, force(names))


def pytest_unconfigure(config):
    names, undo = getattr(config, "_tt_forced", ((), None))
    if undo is not None:
        undo()
def pytest_report_header(config):
    from tinytensor._kernels import conv as K, pool as KP
    names = getattr(config, "_tt_forced", ((),))[0]
    plan = _conv_plan()
    how = f"plan {plan.forced()}" if plan is not None else f"own sgemm {K.own_sgemm()}"
    return (f"forced paths: {','.join(names) or 'none'}; variant {K.variant()}, {how}, "
            f"pool rows AVX-512 {KP.avx512_rows()}")
