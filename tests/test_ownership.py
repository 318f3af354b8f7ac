"""Explicit ownership (issue 13): whether a leaf's `.grad` takes a gradient's memory without a
copy, and whether recycled scratch is lent again, is decided from what the engine and the
scratch cache know -- never from CPython's reference counts, which free-threaded CPython
(3.13t) and PyPy do not keep exact. Extra references change nothing; a gradient the engine
does not own is copied however few references it has."""
import gc
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor._functions import _memory
from tinytensor._functions.linear import LinearFunction


@pytest.fixture
def lying_refcounts(monkeypatch):
    """sys.getrefcount answers 1 for everything: code that still asked it would steal and
    recycle memory that is in use."""
    monkeypatch.setattr(sys, "getrefcount", lambda obj: 1)


def test_fresh_weight_gradient_is_taken_even_while_others_reference_it(monkeypatch):
    returned = []
    backward = LinearFunction.backward

    def spy(ctx, g):
        out = backward(ctx, g)
        returned.append(out[1])                   # an extra reference the old rule counted
        return out
    monkeypatch.setattr(LinearFunction, "backward", staticmethod(spy))
    w = tt.randn(4, 3, requires_grad=True)
    F.linear(tt.randn(2, 3), w).sum().backward()
    assert w.grad is returned[0]                  # the engine owned it: no copy


def test_user_function_results_are_copied_even_with_one_reference(lying_refcounts):
    store = {}

    class Leak(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            g = grad * 2.0
            store["g"] = g.numpy()                # a NumPy view kept outside, not the tensor
            return g

    d = tt.randn(3, requires_grad=True)
    Leak.apply(d).sum().backward()
    assert not np.shares_memory(d.grad.numpy(), store["g"])
    store["g"][0] = 100.0
    assert d.grad.tolist() == [2.0, 2.0, 2.0]


def test_shared_and_caller_gradients_are_copied(lying_refcounts):
    a = tt.randn(5, requires_grad=True)
    b = tt.randn(5, requires_grad=True)
    gc.disable()                                  # no collector run changes anything either
    try:
        (a + b).sum().backward()                  # one tensor returned for both inputs
    finally:
        gc.enable()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    c = tt.randn(3, requires_grad=True)
    g = tt.ones(3)
    (c * 1.0).backward(g)                         # the caller's gradient
    assert not np.shares_memory(c.grad.numpy(), g.numpy())


def test_gradient_kept_by_the_node_is_copied(lying_refcounts):
    class Keep(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            ctx.kept = np.ones(3, np.float32)
            return tt.from_numpy(ctx.kept)

    d = tt.randn(3, requires_grad=True)
    out = Keep.apply(d)
    out.sum().backward()
    assert not np.shares_memory(d.grad.numpy(), out.grad_fn.kept)


def test_recycled_scratch_is_lent_again_only_after_its_lease_ends(monkeypatch, lying_refcounts):
    monkeypatch.setattr(_memory, "_REUSE_MIN_BYTES", 0)
    monkeypatch.setattr(_memory, "_reuse", {})
    monkeypatch.setattr(_memory, "_leases", {})
    a = _memory.recycle((4, 5), np.float32)
    view = a.reshape(-1)[3:]                      # a view keeps the lease too
    del a
    b = _memory.recycle((4, 5), np.float32)
    assert not np.shares_memory(view, b)          # still lent: a fresh block
    del view, b
    c = _memory.recycle((4, 5), np.float32)
    d = _memory.recycle((4, 5), np.float32)
    assert not np.shares_memory(c, d)
    kept = c.copy()
    del d
    e = _memory.recycle((4, 5), np.float32, zero=True)   # d's block came back
    assert not np.shares_memory(c, e) and not e.any()
    np.testing.assert_array_equal(c, kept)


def test_pool_gradient_in_recycled_scratch_survives_later_steps(monkeypatch, lying_refcounts):
    monkeypatch.setattr(_memory, "_REUSE_MIN_BYTES", 0)
    monkeypatch.setattr(_memory, "_reuse", {})
    monkeypatch.setattr(_memory, "_leases", {})
    x = tt.randn(2, 3, 8, 8, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    g1 = x.grad                                   # took the recycled memory
    kept = g1.numpy().copy()
    x.grad = None
    for _ in range(3):
        F.max_pool2d(x * 2, 2).sum().backward()
        x.grad = None
    np.testing.assert_array_equal(g1.numpy(), kept)


def test_no_reference_count_is_read():
    src = pathlib.Path(tt.__file__).parent
    for name in ("autograd/_engine.pyx", "autograd/_node.pyx", "autograd/engine.py",
                 "_functions/_memory.py"):
        path = src / name
        if path.exists():                          # (an installed wheel has no .pyx)
            text = path.read_text()
            assert "getrefcount" not in text and "_Py_REFCNT" not in text, name


def _free_threaded_python():
    """A free-threaded CPython (3.13t) with NumPy, named by TINYTENSOR_PYTHON_FT or found on
    PATH; None when there is none."""
    exe = os.environ.get("TINYTENSOR_PYTHON_FT") or shutil.which("python3.13t")
    if not exe:
        return None
    probe = subprocess.run([exe, "-c", "import sys, numpy; print(sys._is_gil_enabled())"],
                           capture_output=True, text=True)
    return exe if probe.returncode == 0 else None


@pytest.mark.skipif(_free_threaded_python() is None,
                    reason="no free-threaded CPython (3.13t) with NumPy here")
def test_autograd_suite_on_free_threaded_cpython():
    """The autograd and ownership tests under free-threaded CPython, with tinytensor built for
    it in place (TINYTENSOR_PYTHON_FT names the interpreter)."""
    exe = _free_threaded_python()
    root = pathlib.Path(tt.__file__).parent.parent
    env = dict(os.environ, PYTHONPATH=str(root), PYTHON_GIL="0")
    res = subprocess.run([exe, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "test_autograd.py", "test_ownership.py", "-k", "not free_threaded"],
                         cwd=pathlib.Path(__file__).parent, env=env, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
