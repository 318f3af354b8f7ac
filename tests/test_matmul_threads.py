"""matmul and linear on tinytensor's own GEMM (products of >= _OWN_MIN_MACS multiply-adds):
values against NumPy in float64 for every layout the API can hand it (transposed views,
expanded rows of stride 0, slices, broadcast batches), and bitwise identical results for
any thread count."""
import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor._functions import matmul as mm

# Each case: (a, b) from two (300, 257) float arrays, big enough for our GEMM.
LAYOUTS = {
    "plain": lambda a, b: (a, b.t()),
    "transposed_left": lambda a, b: (a.t().contiguous().t(), b.t()),
    "both_transposed": lambda a, b: (a[:, :200].t(), b[:, :256]),
    "sliced": lambda a, b: (a[10:290:2, 3:250], b[5:252, 1:200:3]),
    "expanded_rows": lambda a, b: (a[0].expand(300, 257), b.t()),
    "batched": lambda a, b: (a[:256].reshape(8, 32, 257), b[:256].reshape(8, 257, 32)),
    "broadcast_batch": lambda a, b: (a[:256].reshape(2, 1, 128, 257),
                                     b[:257, :192].t().reshape(3, 64, 257).transpose(1, 2)),
    "matvec_tall": lambda a, b: (tt.cat([a, a, a, a])[:, :256], b[0, :256]),
}


def _pair(dtype):
    rng = np.random.default_rng(1)
    return (tt.tensor(rng.standard_normal((300, 257)), dtype=dtype),
            tt.tensor(rng.standard_normal((300, 257)), dtype=dtype))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64], ids=lambda d: d.name)
def test_matmul_layouts_against_numpy(layout, dtype):
    a0, b0 = _pair(dtype)
    a, b = LAYOUTS[layout](a0.requires_grad_(), b0.requires_grad_())
    out = a @ b
    x, y = a.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64)
    tol = 1e-4 if dtype is tt.float32 else 1e-11
    np.testing.assert_allclose(out.detach().numpy(), x @ y, rtol=tol, atol=tol * 30)
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(tt.tensor(g, dtype=dtype))
    ga, gb = a0.grad.numpy(), b0.grad.numpy()
    assert np.isfinite(ga).all() and np.isfinite(gb).all()
    # the gradients through the views: the same layout in float64 (NumPy's GEMM for float64
    # until the kernels have their own; float32 runs ours)
    a1, b1 = [t.detach().to(tt.float64).requires_grad_() for t in _pair(dtype)]
    va, vb = LAYOUTS[layout](a1, b1)
    (va @ vb).backward(tt.tensor(g))
    np.testing.assert_allclose(ga, a1.grad.numpy(), rtol=tol, atol=tol * 30)
    np.testing.assert_allclose(gb, b1.grad.numpy(), rtol=tol, atol=tol * 30)


def test_own_gemm_is_used_for_float32():
    """The float32 products above take our GEMM (a kernel variant exists on GCC/Clang builds)."""
    from tinytensor._kernels import conv as kc
    if kc.variant() is None:
        pytest.skip("a build without kernel variants")
    assert mm._own_gemm(np.dtype(np.float32)) in (kc.variant_sgemm,
                                                  getattr(kc, "variant_gemm", None))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64], ids=lambda d: d.name)
def test_matmul_bitwise_for_any_thread_count(layout, dtype, threads):
    a0, b0 = _pair(dtype)
    results = []
    for n in (1, 2, 3, 5):
        threads(n)
        a, b = [t.detach().requires_grad_() for t in (a0, b0)]
        x, y = LAYOUTS[layout](a, b)
        out = x @ y
        out.sum().backward()
        results.append((out.detach().numpy().tobytes(), a.grad.numpy().tobytes(),
                        b.grad.numpy().tobytes()))
    assert all(r == results[0] for r in results)


def test_linear_bitwise_for_any_thread_count(threads):
    rng = np.random.default_rng(3)
    x0 = tt.tensor(rng.standard_normal((4, 64, 256)), dtype=tt.float32)
    w0 = tt.tensor(rng.standard_normal((200, 256)), dtype=tt.float32)
    b0 = tt.tensor(rng.standard_normal(200), dtype=tt.float32)
    results = []
    for n in (1, 2, 4):
        threads(n)
        x, w, b = [t.detach().requires_grad_() for t in (x0, w0, b0)]
        y = F.linear(x, w, b)
        (y * y).sum().backward()
        results.append(b"".join(t.numpy().tobytes() for t in (y.detach(), x.grad, w.grad, b.grad)))
    assert all(r == results[0] for r in results)
    ref = x0.numpy().astype(np.float64) @ w0.numpy().T.astype(np.float64) + b0.numpy()
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-3)
