"""PyTorch 2.13 as a second oracle for GroupNorm, LayerNorm, InstanceNorm, LocalResponseNorm."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

import tinytensor as tt  # noqa: E402
import tinytensor.nn as nn  # noqa: E402

CASES = [
    ("GroupNorm", (3, 6), {}, (2, 6, 4, 5)),
    ("GroupNorm", (1, 4), dict(affine=False), (3, 4, 7)),
    ("GroupNorm", (4, 4), dict(bias=False), (2, 4, 3, 2, 2)),
    ("LayerNorm", ((4, 5),), {}, (3, 4, 5)),
    ("LayerNorm", (7,), dict(bias=False), (2, 3, 7)),
    ("LayerNorm", (6,), dict(elementwise_affine=False, eps=1e-3), (5, 6)),
    ("InstanceNorm1d", (3,), dict(affine=True), (2, 3, 9)),
    ("InstanceNorm2d", (3,), dict(track_running_stats=True), (2, 3, 4, 5)),
    ("InstanceNorm3d", (2,), dict(affine=True, track_running_stats=True), (2, 2, 3, 2, 3)),
    ("LocalResponseNorm", (3,), dict(alpha=0.1, k=2.0), (2, 5, 4, 4)),
    ("LocalResponseNorm", (2,), {}, (2, 4, 6)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kw,shape", CASES)
def test_module_matches_torch(name, args, kw, shape, dtype):
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    mine, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(mine) == repr(theirs)
    if dtype == np.float64:
        mine, theirs = mine.double(), theirs.double()
    for p, q in zip(mine.parameters(), theirs.parameters()):   # random affine parameters
        v = rng.standard_normal(tuple(q.shape)).astype(dtype)
        p.detach()._numpy()[...] = v
        with torch.no_grad():
            q.copy_(torch.tensor(v))
    out = []
    for lib, m in ((tt, mine), (torch, theirs)):
        for step in range(2):                      # training twice, then eval
            xs = lib.tensor(x, requires_grad=True)
            y = m(xs)
            y.backward(lib.tensor(g))
        m.eval()
        ye = m(lib.tensor(x))
        out.append([np.array(t.detach().numpy()) for t in
                    [y, xs.grad, ye] + [p.grad for p in m.parameters()] + list(m.buffers())])
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for a, e in zip(*out):
        np.testing.assert_allclose(a, e, **tol)


@settings(max_examples=20)
@given(data=st.data())
def test_group_norm_functional_matches_torch(data):
    groups = data.draw(st.integers(1, 4))
    c = groups * data.draw(st.integers(1, 3))
    shape = (data.draw(st.integers(2, 3)), c) + tuple(
        data.draw(st.lists(st.integers(2, 5), min_size=0, max_size=3)))
    x = np.random.default_rng(data.draw(st.integers(0, 2**31))).standard_normal(shape) * 5 + 3
    y = tt.nn.functional.group_norm(tt.tensor(x), groups, eps=1e-3)
    e = torch.nn.functional.group_norm(torch.tensor(x), groups, eps=1e-3)
    np.testing.assert_allclose(np.array(y.numpy()), e.numpy(), rtol=1e-10, atol=1e-10)
