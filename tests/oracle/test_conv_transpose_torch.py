"""PyTorch 2.13 as a second oracle for conv_transpose1d/2d/3d and nn.ConvTranspose*."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

import tinytensor as tt  # noqa: E402
import tinytensor.nn as nn  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402

NAMES = {1: "conv_transpose1d", 2: "conv_transpose2d", 3: "conv_transpose3d"}


def _run(lib, fn, x, w, b, go, **kw):
    xs, ws = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
    bs = None if b is None else lib.tensor(b, requires_grad=True)
    y = fn(xs, ws, bs, **kw)
    y.backward(lib.tensor(go.astype(x.dtype)))
    out = [y] + [t.grad for t in (xs, ws, bs) if t is not None]
    return [np.array(t.detach().numpy()) for t in out]


@settings(max_examples=30)
@given(nsp=st.sampled_from([1, 2, 3]), groups=st.integers(1, 3), cg=st.integers(1, 3),
       og=st.integers(1, 3), data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_matches_torch(nsp, groups, cg, og, data, dtype):
    ks = tuple(data.draw(st.integers(1, 4)) for _ in range(nsp))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
    dil = tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
    pad = tuple(data.draw(st.integers(0, 1)) for _ in range(nsp))
    opad = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dil))
    sizes = tuple(data.draw(st.integers(2, 5 if nsp < 3 else 3)) for _ in range(nsp))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    x = rng.standard_normal((data.draw(st.integers(1, 3)), groups * cg, *sizes)).astype(dtype)
    w = rng.standard_normal((groups * cg, og, *ks)).astype(dtype)
    b = rng.standard_normal(groups * og).astype(dtype) if data.draw(st.booleans()) else None
    kw = dict(stride=stride, padding=pad, output_padding=opad, dilation=dil, groups=groups)
    outs = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1
            for n, s, p, d, k, op in zip(sizes, stride, pad, dil, ks, opad)]
    if min(outs) < 1:
        # PyTorch's slow path raises; some of its backends (float32 grouped) return an empty
        # tensor instead. tinytensor always raises, with the slow path's message.
        with pytest.raises(RuntimeError, match="Output size is too small"):
            getattr(F, NAMES[nsp])(tt.tensor(x), tt.tensor(w), None, **kw)
        return
    try:
        expect_y = getattr(torch.nn.functional, NAMES[nsp])(
            torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b), **kw)
    except RuntimeError as e:                     # output too small: the same message
        with pytest.raises(RuntimeError) as mine:
            getattr(F, NAMES[nsp])(tt.tensor(x), tt.tensor(w), None, **kw)
        assert str(mine.value) == str(e)
        return
    go = rng.standard_normal(tuple(expect_y.shape))
    mine = _run(tt, getattr(F, NAMES[nsp]), x, w, b, go, **kw)
    theirs = _run(torch, getattr(torch.nn.functional, NAMES[nsp]), x, w, b, go, **kw)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for a, e in zip(mine, theirs):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, **tol)


@pytest.mark.parametrize("args,kw", [
    ((4, 4, 3), dict(stride=2, output_padding=1, groups=2, bias=False, dilation=2)),
    ((512, 256, 4), dict(stride=2, padding=1)),
    ((3, 6, (2, 3)), dict(stride=(1, 2), padding=(0, 1))),
])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_repr_and_parameter_shapes(args, kw, nd):
    if isinstance(args[2], tuple) and nd != 2:
        return
    name = f"ConvTranspose{nd}d"
    mine, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(mine) == repr(theirs)
    assert tuple(mine.weight.shape) == tuple(theirs.weight.shape)


@pytest.mark.parametrize("size", [(7, 7), (8, 8), (8, 7), (1, 4, 8, 7), (6, 9), (1, 4, 9)])
def test_output_size_rules(size):
    mine, theirs = nn.ConvTranspose2d(4, 4, 3, stride=2), torch.nn.ConvTranspose2d(4, 4, 3, stride=2)
    x = np.random.default_rng(0).standard_normal((1, 4, 3, 3)).astype(np.float32)
    try:
        expect = tuple(theirs(torch.tensor(x), output_size=size).shape)
    except ValueError as e:
        with pytest.raises(ValueError, match=str(e).split(" (for")[0].replace("(", r"\(")
                           .replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
            mine(tt.tensor(x), output_size=size)
        return
    assert tuple(mine(tt.tensor(x), output_size=size).shape) == expect
