"""PyTorch 2.13 as a second oracle for interpolate (indices exactly; values and gradients to
rounding), pixel_shuffle / pixel_unshuffle, and the size errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

import tinytensor as tt  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402

LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


@settings(max_examples=60)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_interpolate_matches_torch(data, dtype):
    nsp = data.draw(st.integers(1, 3))
    mode = data.draw(st.sampled_from(["nearest", "nearest-exact", LINEAR[nsp]]))
    sp = tuple(data.draw(st.integers(1, 9)) for _ in range(nsp))
    kw = {}
    if data.draw(st.booleans()):
        kw["size"] = tuple(data.draw(st.integers(1, 17)) for _ in range(nsp))
    else:
        kw["scale_factor"] = tuple(data.draw(st.floats(0.1, 4.0)) for _ in range(nsp))
        kw["recompute_scale_factor"] = data.draw(st.sampled_from([None, True, False]))
    if mode == LINEAR[nsp]:
        kw["align_corners"] = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    x = rng.standard_normal((2, 2) + sp).astype(dtype)
    try:
        tx = torch.tensor(x, requires_grad=True)
        e = torch.nn.functional.interpolate(tx, mode=mode, **kw)
    except RuntimeError as err:
        with pytest.raises(RuntimeError) as mine:
            F.interpolate(tt.tensor(x), mode=mode, **kw)
        assert str(mine.value) == str(err)
        return
    g = rng.standard_normal(tuple(e.shape)).astype(dtype)
    e.backward(torch.tensor(g))
    t = tt.tensor(x, requires_grad=True)
    y = F.interpolate(t, mode=mode, **kw)
    y.backward(tt.tensor(g))
    assert tuple(y.shape) == tuple(e.shape)
    if mode.startswith("nearest"):          # the same source for every output position
        np.testing.assert_array_equal(y.detach().numpy(), e.detach().numpy())
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.detach().numpy(), e.detach().numpy(), **tol)
    np.testing.assert_allclose(t.grad.numpy(), tx.grad.numpy(), **tol)


def test_nearest_float32_scale_rule_on_large_sizes():
    """Sizes where float32 and float64 index arithmetic disagree: PyTorch's float32 wins."""
    for n_in, n_out in [(999, 1000), (1000, 999), (300, 7), (7, 300), (1023, 2047)]:
        x = np.arange(n_in, dtype=np.float64).reshape(1, 1, n_in)
        for mode in ("nearest", "nearest-exact"):
            e = torch.nn.functional.interpolate(torch.tensor(x), size=n_out, mode=mode)
            y = F.interpolate(tt.tensor(x), size=n_out, mode=mode)
            np.testing.assert_array_equal(y.numpy(), e.numpy())


@pytest.mark.parametrize("shape,r", [((1, 8, 3, 2), 2), ((2, 3, 18, 1, 2), 3), ((4, 5, 5), 1)])
def test_pixel_shuffle_matches_torch(shape, r):
    x = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_array_equal(F.pixel_shuffle(tt.tensor(x), r).numpy(),
                                  torch.nn.functional.pixel_shuffle(torch.tensor(x), r).numpy())
    y = torch.nn.functional.pixel_shuffle(torch.tensor(x), r)
    np.testing.assert_array_equal(F.pixel_unshuffle(tt.tensor(y.numpy()), r).numpy(),
                                  torch.nn.functional.pixel_unshuffle(y, r).numpy())
