"""Issue 9: nothing a user does may crash, hang or silently corrupt a result.

One regression test (or a few) per defect the issue lists, numbered as there. Calls that
crashed or hung the interpreter run in a child process with a timeout (tests/childproc.py), so
a regression fails one test instead of killing the suite. The fork hangs (items 5 and 6) are
in tests/test_fork.py.
"""
import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F
from childproc import check_python


# ---------------------------------------------------------------------------------------------
# 1, 2. max_unpool2d: indices are user memory; the kernels check each index where they read it


def test_1_unpool_backward_with_indices_changed_after_forward():
    """Indices changed through NumPy after forward (no version bump): backward raises instead
    of reading outside the gradient (a segfault for large values, heap garbage for small)."""
    out = check_python("""
        import numpy as np
        import tinytensor as tt, tinytensor.nn.functional as F
        x = tt.randn(2, 3, 8, 8)
        v, idx = F.max_pool2d(x, 2, return_indices=True)
        for bad in (10**12, 64, 65, -1, -2**63, 2**63 - 1):
            v = v.detach().requires_grad_(True)
            i = idx.clone()
            y = F.max_unpool2d(v, i, 2)
            i.numpy()[1, 2, 3, 1] = bad
            try:
                y.sum().backward()
            except RuntimeError as e:
                assert f"Found an invalid max index: {bad} " in str(e), str(e)
            else:
                raise AssertionError(f"no error for index {bad}")
        print("done")
    """, timeout=60)
    assert "done" in out


def test_1_unpool_backward_unchanged_indices_still_correct():
    x = tt.randn(2, 3, 6, 6, dtype=tt.float64)
    v, idx = F.max_pool2d(x, 2, return_indices=True)
    v.requires_grad_(True)
    w = tt.randn(2, 3, 6, 6, dtype=tt.float64)
    (F.max_unpool2d(v, idx, 2) * w).sum().backward()
    expect = np.take_along_axis(w.numpy().reshape(6, -1), idx.numpy().reshape(6, -1), axis=1)
    np.testing.assert_array_equal(v.grad.numpy().reshape(6, -1), expect)


def test_1_unpool_forward_reports_the_last_bad_index():
    v = tt.ones(1, 2, 2, 2)
    idx = tt.tensor([[[[0, 99], [2, 3]], [[0, 1], [-5, 3]]]])
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: -5 \(output volumes are "
                                           r"of size 4x4\)"):
        F.max_unpool2d(v, idx, 2)


def test_2_unpool_forward_with_indices_changed_by_another_thread():
    """A thread flips the indices between valid and huge while the main thread unpools: every
    call returns a result or raises RuntimeError (the check happens where the kernel writes)."""
    out = check_python("""
        import threading
        import numpy as np
        import tinytensor as tt, tinytensor.nn.functional as F
        tt.set_num_threads(2)
        x = tt.randn(4, 8, 32, 32)
        v, idx = F.max_pool2d(x, 2, return_indices=True)
        a = idx.numpy()
        good = a.copy()
        stop = threading.Event()
        def flip():
            while not stop.is_set():
                a[...] = 2**40
                a[...] = good
                a[:, :, ::2] = -2**50
                a[...] = good
        t = threading.Thread(target=flip)
        t.start()
        ok = err = 0
        try:
            for _ in range(400):
                try:
                    F.max_unpool2d(v, idx, 2)
                    ok += 1
                except RuntimeError as e:
                    assert "Found an invalid max index" in str(e)
                    err += 1
        finally:
            stop.set()
            t.join()
        print("done", ok, err)
    """, timeout=120)
    assert "done" in out


# ---------------------------------------------------------------------------------------------
# 3. integer average pooling: INT64_MIN / -1 wraps (two's complement), never traps


def test_3_int_avg_pool_divisor_minus_one_over_int64_min():
    out = check_python("""
        import tinytensor as tt, tinytensor.nn.functional as F
        m = -2**63
        y2 = F.avg_pool2d(tt.full((1, 1, 1, 1), m, dtype=tt.int64), 1, divisor_override=-1)
        y3 = F.avg_pool3d(tt.full((1, 1, 1, 1, 1), m, dtype=tt.int64), 1, divisor_override=-1)
        print(y2.item(), y3.item())
    """, timeout=60)
    assert out.split() == [str(-2**63), str(-2**63)]


def test_3_int_avg_pool_sums_wrap_and_divide_toward_zero():
    m = -2**63
    x = tt.tensor([[[[m, m], [m, 7]]]])
    # the sum wraps: 3 * INT64_MIN + 7 == INT64_MIN + 7 (mod 2**64); then / -1 and / 2
    assert F.avg_pool2d(x, 2, divisor_override=-1).item() == 2**63 - 7
    assert F.avg_pool2d(x, 2, divisor_override=2).item() == -((2**63 - 7) // 2)
    assert F.avg_pool2d(tt.tensor([[[[-7, 0]]]]), (1, 2), divisor_override=-2).item() == 3


def test_3_int_avg_pool_matches_torch_where_torch_does_not_trap():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    big = np.array([-2**63, 2**63 - 1, -2**62, 5, -3], np.int64)
    a = rng.choice(big, size=(2, 2, 4, 4))
    for dov in (None, 1, 2, 3, -2, -3):
        got = F.avg_pool2d(tt.from_numpy(a.copy()), 2, divisor_override=dov).numpy()
        want = torch.nn.functional.avg_pool2d(torch.from_numpy(a.copy()), 2,
                                              divisor_override=dov).numpy()
        np.testing.assert_array_equal(got, want, err_msg=str(dov))


# ---------------------------------------------------------------------------------------------
# 4, 10. set_num_threads: bounded, and a refused value changes nothing


@pytest.mark.parametrize("bad, kind, text", [
    (0, RuntimeError, "set_num_threads expects a positive integer"),
    (-3, RuntimeError, "set_num_threads expects a positive integer"),
    (10**6, RuntimeError, "set_num_threads expects at most 1024 threads, but got 1000000"),
    (2**31, RuntimeError, "set_num_threads expects at most 1024 threads"),
    (2**64, RuntimeError, "set_num_threads expects at most 1024 threads"),
    (1.5, RuntimeError, "set_num_threads expects an int, but got float"),
    (True, RuntimeError, "set_num_threads expects an int, but got bool"),
    ("2", RuntimeError, "set_num_threads expects an int, but got str"),
    (None, RuntimeError, "set_num_threads expects an int, but got NoneType"),
])
def test_4_10_set_num_threads_refuses_and_keeps_the_setting(threads, bad, kind, text):
    threads(2)
    with pytest.raises(kind, match=text):
        tt.set_num_threads(bad)
    assert tt.get_num_threads() in (2, 1)          # 1: a build without OpenMP
    x = tt.randn(3_000_000)                         # large enough for every thread
    assert abs(x.sum().item() - x.numpy().sum(dtype=np.float64)) < 1.0


def test_4_set_num_threads_accepts_numpy_ints(threads):
    threads(np.int64(3))
    assert tt.get_num_threads() in (3, 1)


def test_4_every_kernel_safe_at_the_largest_accepted_value():
    """At MAX_THREADS (1024) the parallel kernels run, and agree with one thread."""
    out = check_python("""
        import numpy as np
        import tinytensor as tt, tinytensor.nn.functional as F
        from tinytensor._threads import MAX_THREADS
        def work():
            g = np.random.default_rng(0)
            x = tt.tensor(g.standard_normal((2, 4, 33, 33)), requires_grad=True)
            w = tt.tensor(g.standard_normal((4, 4, 3, 3)), requires_grad=True)
            y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), w)
            z = F.max_pool2d(y, 2).sum() + F.avg_pool2d(y, 3).sum() + y.exp().mean()
            z = z + (x.view(2, -1) @ x.view(2, -1).t()).sum() + tt.randn(2_000_000).sum() * 0
            z.backward()
            return [a.detach().numpy().copy() for a in (y, z, x.grad, w.grad)]
        tt.set_num_threads(1)
        one = work()
        tt.set_num_threads(MAX_THREADS)
        assert tt.get_num_threads() == MAX_THREADS
        many = work()
        assert all(np.array_equal(a, b) for a, b in zip(one, many))
        print("done")
    """, timeout=180)
    assert "done" in out


def test_4_omp_num_threads_beyond_the_bound_is_clamped():
    import os
    out = check_python("""
        import tinytensor as tt
        print(tt.get_num_threads(), float(tt.ones(3_000_000).sum()))
    """, timeout=60, env=dict(os.environ, OMP_NUM_THREADS="1000000"))
    n, s = out.split()
    assert int(n) in (1024, 1) and float(s) == 3_000_000.0
