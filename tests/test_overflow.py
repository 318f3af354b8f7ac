"""Sizes whose element count or byte size overflows 64-bit arithmetic raise instead of
allocating or reading out of bounds.

Every call runs in one child process with a 3 GB address-space limit: a call that tries to
allocate what it computed fails there instead of taking the machine's memory, a size that
wrapped around would show up as a wrong result (the calls that are valid are checked), and a
read outside the storage crashes the child, which fails the test instead of pytest.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

# `python -c` children put the current directory on sys.path: from the repo root that is the
# source tree, without compiled modules. They run from this folder instead.
_HERE = os.path.dirname(os.path.abspath(__file__))

B62, B63, B64 = 2 ** 62, 2 ** 63, 2 ** 64

# (id, expression, overflows int64): the expression runs with tt, F, x4 (1x1x4x4 ones), w (1x1x3x3),
# e (a 1x4 tensor expanded to 2**62 x 4 = 2**64 elements, a legal view) in scope.
CASES = [
    # creation
    ("zeros_count", "tt.zeros(2 ** 40, 2 ** 40)", True),
    ("empty_bytes", "tt.empty(2 ** 62, 4)", True),
    ("ones_beyond_int64", "tt.ones(2 ** 63)", True),
    ("empty_beyond_uint64", "tt.empty(2 ** 64)", True),
    ("full_count", "tt.full((2 ** 33, 2 ** 33), 1.0)", True),
    ("randn_count", "tt.randn(2 ** 31, 2 ** 31, 4)", True),
    ("zeros_neg_huge", "tt.zeros(-2 ** 63)", True),
    ("arange_inf", "tt.arange(0, float('inf'))", True),
    ("arange_huge", "tt.arange(0, 2 ** 70)", False),
    ("linear_huge", "tt.nn.Linear(2 ** 62, 4)", True),
    # view / reshape / expand on a 2**64-element expanded view
    ("numel_overflow", "e.numel()", True),
    ("view_flat", "e.view(-1)", True),
    ("reshape_flat", "e.reshape(-1)", True),
    ("flatten", "e.flatten()", True),
    ("contiguous", "e.contiguous()", True),
    ("clone", "e.clone()", True),
    ("sum", "e.sum()", True),
    ("add", "e + 1", True),
    ("matmul", "e @ tt.ones(4, 2)", True),
    ("softmax", "F.softmax(e, 1)", True),
    ("cat", "tt.cat([e, e])", True),
    ("repr", "repr(e)", True),
    ("view_beyond_int64", "tt.ones(2).view(2 ** 63)", True),
    ("reshape_infer_huge", "tt.ones(4).reshape(-1, 2 ** 62)", True),
    ("view_split_huge", "tt.ones(4).view(2, -1, 2 ** 63)", True),
    ("expand_more", "tt.ones(1, 1).expand(2 ** 32, 2 ** 32).view(-1)", True),
    # as_strided-like views: layouts that overflow or reach outside the storage
    ("strided_overflow", "tt.ones(10)._as_strided((2, 2), (2 ** 62, 2 ** 62), 0)", True),
    ("strided_size_overflow", "tt.ones(10)._as_strided((2 ** 62, 2 ** 62), (1, 1), 0)", True),
    ("strided_out_of_bounds", "tt.ones(10)._as_strided((3,), (4,), 2)", False),
    ("strided_offset_overflow", "tt.ones(10)._as_strided((2,), (1,), 2 ** 63 - 1)", True),
    ("strided_negative_offset", "tt.ones(10)._as_strided((2,), (1,), -1)", False),
    # conv output sizes
    ("conv_padding", "F.conv2d(x4, w, padding=2 ** 62)", True),
    ("conv_padding_beyond", "F.conv2d(x4, w, padding=2 ** 63)", True),
    ("conv_dilation", "F.conv2d(x4, w, dilation=2 ** 62)", True),
    ("conv_stride_beyond", "F.conv2d(x4, w, stride=2 ** 63)", True),
    ("conv1d_padding", "F.conv1d(tt.ones(1, 1, 4), tt.ones(1, 1, 3), padding=2 ** 61)", True),
    ("conv_module", "tt.nn.Conv2d(1, 1, 3, padding=2 ** 62)(x4)", True),
    ("conv_padding_32bit", "F.conv2d(x4, w, padding=2 ** 31)", False),
    # pooling output sizes
    ("max_pool_kernel", "F.max_pool2d(x4, 2 ** 62)", True),
    ("max_pool_dilation", "F.max_pool2d(x4, 3, dilation=2 ** 62)", True),
    ("max_pool_stride_ceil", "F.max_pool2d(x4, 2, stride=2 ** 62, ceil_mode=True)", True),
    ("max_pool_padding", "F.max_pool2d(x4, 2, padding=2 ** 62)", True),
    ("max_pool1d_kernel", "F.max_pool1d(tt.ones(1, 1, 4), 2 ** 63)", True),
    ("avg_pool_kernel", "F.avg_pool2d(x4, 2 ** 62)", True),
    ("avg_pool_divisor", "F.avg_pool2d(x4, 2, divisor_override=2 ** 63)", True),
    ("adaptive_avg_huge", "F.adaptive_avg_pool2d(x4, 2 ** 62)", True),
    ("adaptive_max_huge", "F.adaptive_max_pool2d(x4, (2 ** 31, 2 ** 31))", True),
    ("unpool_huge", "F.max_unpool2d(x4, tt.zeros(1, 1, 4, 4, dtype=tt.int64), 2 ** 62)", True),
    # pad widths
    ("pad_constant", "F.pad(x4, (2 ** 62, 2 ** 62))", True),
    ("pad_beyond_int64", "F.pad(x4, (1, 2 ** 63))", True),
    ("pad_negative_huge", "F.pad(x4, (-2 ** 62, 0))", True),
    ("pad_replicate", "F.pad(x4, (2 ** 62, 2 ** 62), mode='replicate')", True),
    ("pad_replicate_big", "F.pad(x4, (2 ** 40, 0), mode='replicate')", False),
    ("pad_circular", "F.pad(x4, (2 ** 62, 0), mode='circular')", True),
    ("pad_reflect", "F.pad(x4, (2 ** 62, 0), mode='reflect')", True),
    ("pad_2d_product", "F.pad(x4, (2 ** 31, 2 ** 31, 2 ** 31, 2 ** 31))", True),
    # unfold / fold
    ("unfold_kernel", "F.unfold(x4, 2 ** 62)", True),
    ("unfold_padding", "F.unfold(x4, 2, padding=2 ** 62)", True),
    ("unfold_dilation", "F.unfold(x4, 2, dilation=2 ** 62)", True),
    ("unfold_padding_32bit", "F.unfold(x4, 2, padding=2 ** 31)", False),
    ("fold_output", "F.fold(tt.ones(1, 4, 9), (2 ** 62, 2 ** 62), 2)", True),
    # indexing
    ("index_beyond_int64", "tt.ones(3)[2 ** 63]", True),
    ("index_neg_beyond", "tt.ones(3)[-2 ** 63 - 1]", True),
    ("index_tensor_huge", "tt.ones(3)[tt.tensor([2 ** 62])]", True),
    ("index_expanded_far", "e[2 ** 62]", True),
    ("setitem_far", "tt.ones(3).__setitem__(2 ** 62, 1.0)", True),
]

# results that fit int64 but not the child's memory: PyTorch's RuntimeError, not MemoryError
TOO_BIG = [
    ("big_matmul",
     "tt.ones(1, 1).expand(2 ** 20, 2 ** 10) @ tt.ones(1, 1).expand(2 ** 10, 2 ** 20)"),
    ("big_add", "tt.ones(2 ** 16, 1) + tt.ones(1, 2 ** 16)"),
    ("big_cat", "tt.cat([e16, e16, e16])"),
    ("big_conv", "F.conv2d(e16, tt.ones(4, 1, 1, 1))"),
    ("big_pool", "F.max_pool2d(e16, 1)"),
    ("big_unfold", "F.unfold(e16, 3)"),
    ("big_clone", "e16.clone()"),
    ("big_softmax", "F.softmax(e16, 3)"),
    ("big_pad", "F.pad(x4, (2 ** 15, 2 ** 15, 2 ** 15, 2 ** 15))"),
    ("big_randn", "tt.randn(2 ** 31)"),
    ("big_randperm", "tt.randperm(2 ** 31)"),
    ("big_randint", "tt.randint(0, 3, (2 ** 31,))"),
    ("big_eye", "tt.eye(2 ** 16)"),
    ("big_linspace", "tt.linspace(0, 1, 2 ** 31)"),
    ("big_arange", "tt.arange(2 ** 31 + 0.0)"),
]

# calls on the same objects that are valid and must still work (no false alarms)
VALID = [
    ("expanded_view", "tuple(e.shape)", (B62, 4)),
    ("expanded_index", "e[2 ** 62 - 1].tolist()", [1.0, 1.0, 1.0, 1.0]),
    ("expanded_slice", "tuple(e[:: 2 ** 60].shape)", (4, 4)),
    ("huge_slice_bounds", "tt.ones(3)[2 ** 70:].numel()", 0),
    ("huge_slice_step", "tt.arange(3.0)[:: 2 ** 63].tolist()", [0.0]),
    ("huge_slice_neg_start", "tt.arange(3.0)[-2 ** 70:].tolist()", [0.0, 1.0, 2.0]),
    ("zero_times_huge", "tuple(tt.zeros(0, 2 ** 62).shape)", (0, B62)),
    ("zero_times_huge_view", "tuple(tt.zeros(0, 2 ** 62).view(2 ** 62, 0).shape)", (B62, 0)),
]

DRIVER = textwrap.dedent("""
    import json, os, resource, sys, warnings
    if "asan" not in os.environ.get("LD_PRELOAD", ""):     # ASan: max_allocation_size_mb
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    warnings.simplefilter("ignore")
    import tinytensor as tt, tinytensor.nn.functional as F
    cases = json.loads(sys.stdin.read())
    x4, w = tt.ones(1, 1, 4, 4), tt.ones(1, 1, 3, 3)
    e = tt.ones(1, 4).expand(2 ** 62, 4)
    e16 = tt.ones(1, 1, 1, 1).expand(1, 1, 2 ** 16, 2 ** 16)   # a 16 GB result when copied
    out = {}
    for name, expr in cases:
        try:
            r = eval(expr)
            out[name] = ["ok", repr(r)[:200]]
        except BaseException as ex:
            out[name] = [type(ex).__name__, str(ex)[:300]]
        print(json.dumps({name: out[name]}), flush=True)
""")


@pytest.fixture(scope="module")
def outcomes():
    cases = [(n, x) for n, x, _ in CASES] + [(n, x) for n, x, _ in VALID] + TOO_BIG
    res = subprocess.run([sys.executable, "-c", DRIVER], cwd=_HERE, input=json.dumps(cases),
                         capture_output=True, text=True, timeout=600)
    got = {}
    for line in res.stdout.splitlines():
        got.update(json.loads(line))
    if res.returncode != 0:
        done = set(got)
        crashed = next((n for n, _ in cases if n not in done), None)
        pytest.fail(f"the child died (exit code {res.returncode}) at case {crashed!r}: "
                    f"{res.stderr[-2000:]}")
    return got


ALLOWED = ("ValueError", "TypeError", "IndexError", "RuntimeError", "NotImplementedError")


@pytest.mark.parametrize("name,expr,overflow", CASES, ids=[c[0] for c in CASES])
def test_refused(outcomes, name, expr, overflow):
    kind, msg = outcomes[name]
    assert kind in ALLOWED, f"{expr} -> {kind}: {msg}"
    if overflow:       # refused by a size check, never by the allocator of the 3 GB child
        assert "MemoryError" not in msg and "Unable to allocate" not in msg, msg


@pytest.mark.parametrize("name,expr,expected", VALID, ids=[c[0] for c in VALID])
def test_valid_extremes_still_work(outcomes, name, expr, expected):
    kind, msg = outcomes[name]
    assert kind == "ok", f"{expr} -> {kind}: {msg}"
    assert msg == repr(expected)


@pytest.mark.parametrize("name,expr", TOO_BIG, ids=[c[0] for c in TOO_BIG])
def test_too_big_to_allocate_is_runtime_error(outcomes, name, expr):
    kind, msg = outcomes[name]
    assert kind == "RuntimeError" and "can't allocate memory" in msg, f"{expr} -> {kind}: {msg}"
