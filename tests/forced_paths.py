"""A pytest plugin that forces one kernel path for a whole test run (issue 9: "a run with every
kernel path forced on this machine's CPU"), used by .ci/forced_paths:

    TT_FORCE_PATH=rows,threads python -m pytest -p forced_paths tests/test_conv.py

(tests/ on PYTHONPATH). TT_FORCE_PATH is a comma-separated list of the names in FORCES below;
the ISA variant is chosen as usual, by TINYTENSOR_ISA at import. Convolution paths are forced
through the convolution plan (tinytensor/_functions/conv_plan.py: its force() keywords, and
plan constants in capitals; a constant that no longer exists is an error here, not a silently
unforced run). Tests that pick a path themselves (tests/test_conv.py's on_path,
tests/variants.py's on_variant) still do so inside their block.
"""
import contextlib
import os

import pytest

from tinytensor._functions import conv_plan
from tinytensor._kernels import conv as K, pool as KP

# name -> conv_plan.force() keywords and plan constants (capitals) to set
FORCES = {
    # forward by panels, input gradient by col2im panels, weight gradient by GEMM
    "panels": dict(forward="panels", input_grad="panels", weight_grad="gemm"),
    # forward by rows, input gradient as a flipped convolution, weight gradient by dot products,
    # wherever each applies
    "rows": dict(forward="rows", input_grad="flipped", weight_grad="dot"),
    # Winograd F(2x2, 3x3) forward, flipped input gradient and weight gradient wherever it
    # applies (3x3, stride 1, planes, one group), whatever the channel counts and widths
    "winograd": dict(forward="winograd", input_grad="flipped", weight_grad="winograd"),
    # Winograd F(4x4, 3x3) forward and flipped input gradient wherever it applies
    "winograd6": dict(forward="winograd6", input_grad="flipped"),
    # the 1-D Winograd forward, flipped input gradient and weight gradient wherever it
    # applies (3, 5 or 7 taps over signals, stride 1, one group), whatever the taps, channels
    # and length
    "winograd1d": dict(forward="winograd1d", input_grad="flipped", weight_grad="winograd1d"),
    # weight gradient by the window mode wherever it applies (any strides and groups)
    "window": dict(weight_grad="window"),
    # im2col + GEMM, GEMM + col2im, and the GEMM weight gradient everywhere (depthwise too)
    "gemm": dict(forward="gemm", input_grad="gemm", weight_grad="gemm"),
    # one GEMM per kernel tap over the positions it reaches inside the input
    "taps": dict(forward="taps", input_grad="taps", weight_grad="taps"),
    # the direct (depthwise) backward fused into one pass for any number of groups / never
    "fused": dict(input_grad="direct-fused", weight_grad="direct-fused"),
    "unfused": dict(input_grad="direct", weight_grad="direct"),
    # GEMM path: chunks of few columns and col blocks of 5 output positions (blocks that start
    # and end inside output rows), weight gradients over many partitions
    "blocks": dict(chunk_columns=5, col_block_bytes=1, MAX_PARTS=64),
    # every convolution on every thread, however small
    "threads": dict(MIN_MACS_PER_THREAD=1),
    # float32 max pooling by the plain loops, not the variant's vector row kernel
    "poolrows": None,
}


def names_from_environment():
    """The names in TT_FORCE_PATH (a ValueError for unknown ones)."""
    names = [n.strip() for n in os.environ.get("TT_FORCE_PATH", "").split(",") if n.strip()]
    unknown = [n for n in names if n not in FORCES and n != "default"]
    if unknown:
        raise ValueError(f"TT_FORCE_PATH: unknown {unknown}; expected some of "
                         f"default, {', '.join(FORCES)}")
    return [n for n in names if n != "default"]


def force(names):
    """Force the named paths in this process; returns a function that undoes it. Also called
    by the fuzz suite's child processes (tests/test_fuzz.py), which inherit TT_FORCE_PATH."""
    undo = []
    stack = contextlib.ExitStack()
    for name in names:
        if name == "poolrows":
            undo.append(lambda old=KP._use_vector_rows(False): KP._use_vector_rows(old))
            continue
        for attr, value in FORCES[name].items():
            if attr.isupper():
                old = getattr(conv_plan, attr)     # AttributeError: the constant is gone
                undo.append(lambda a=attr, o=old: setattr(conv_plan, a, o))
                setattr(conv_plan, attr, value)
        kw = {k: v for k, v in FORCES[name].items() if not k.isupper()}
        if kw:
            stack.enter_context(conv_plan.force(**kw))     # also empties the plan cache
    conv_plan._cache.clear()                       # plans made before the constants changed

    def undo_all():
        stack.close()
        for u in reversed(undo):
            u()
        conv_plan._cache.clear()
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
    names = getattr(config, "_tt_forced", ((),))[0]
    return (f"forced paths: {','.join(names) or 'none'}; variant {K.variant()}, "
            f"plan {conv_plan.forced()}, "
            f"max-pool rows {KP.vector_rows() or 'plain loops'}")
