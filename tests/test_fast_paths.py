"""The fast paths of issue 13 give exactly what the full paths give: validation caches keyed on
values (conv, max_pool2d), the common linear call, plain-int shapes, from_numpy of contiguous
arrays, tensors that wrap fresh results with their NumPy view, the compiled engine."""
import re
import warnings

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor.nn.functional import conv as fconv
from tinytensor.nn.functional import pooling as fpool


def _x(*shape, seed=0):
    return tt.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_conv_cache_hit_gives_the_same_result_and_bad_calls_still_raise():
    x, w, b = _x(1, 2, 6, 6), _x(3, 2, 3, 3, seed=1), _x(3, seed=2)
    first = F.conv2d(x, w, b, stride=1, padding=1)
    again = F.conv2d(x, w, b, stride=1, padding=1)          # from the cache
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    with pytest.raises(RuntimeError, match=re.escape("expected bias to be 1-dimensional with 3")):
        F.conv2d(x, w, _x(4), stride=1, padding=1)          # another bias shape: checked
    with pytest.raises(RuntimeError, match="negative padding is not supported"):
        F.conv2d(x, w, b, stride=1, padding=-1)
    with pytest.raises(RuntimeError, match="Expected 3D .unbatched. or 4D .batched. input"):
        F.conv2d(_x(2, 6), w, b, stride=1, padding=1)
    x.data = _x(1, 2, 1, 1)                                # same tensor, new shape: checked
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input"):
        F.conv2d(x, w, b)


def test_conv_cache_keys_are_values_only_and_bounded(monkeypatch):
    monkeypatch.setattr(fconv, "_VALIDATED", {})
    x, w = _x(1, 2, 5, 5), _x(3, 2, 3, 3, seed=1)
    F.conv2d(x, w, None, (1, 1), [0, 0])                   # a list: not cached
    F.conv2d(x, w, None, (1, 1), np.int64(0))              # a NumPy int: not cached
    assert fconv._VALIDATED == {}
    F.conv2d(x, w, None, 1, 0)
    (key,) = fconv._VALIDATED
    assert all(isinstance(k, (str, int, tuple, type(None), tt.dtype)) for k in key)
    monkeypatch.setattr(fconv, "_VALIDATED_MAX", 2)
    for n in range(3, 8):
        F.conv2d(_x(1, 2, n, n), w)
    assert len(fconv._VALIDATED) <= 2


def test_same_padding_warns_every_call():
    x, w = _x(1, 1, 5, 5), _x(1, 1, 2, 2, seed=1)
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            F.conv2d(x, w, padding="same")
        assert any("padding='same'" in str(c.message) for c in caught)


def test_max_pool_cache_hit_and_revalidation():
    x = _x(1, 2, 6, 6)
    a = F.max_pool2d(x, 2)
    b = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    y, i = F.max_pool2d(x, 2, return_indices=True)
    assert i.dtype == tt.int64 and y.shape == a.shape
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError):
        F.max_pool2d(_x(1, 2, 1, 1), 2)
    assert all(type(k[1]) is tuple for k in fpool._VALIDATED)


@pytest.mark.parametrize("bias_shape", [None, (4,), (1,)])
def test_linear_fast_path_matches_full_path(bias_shape):
    x, w = _x(3, 5), _x(4, 5, seed=1)
    b = None if bias_shape is None else _x(*bias_shape, seed=2)
    got = F.linear(x, w, b).numpy()
    want = x.numpy() @ w.numpy().T + (0 if b is None else b.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match=re.escape("mat1 and mat2 shapes cannot be multiplied")):
        F.linear(x, _x(4, 6))


def test_plain_int_shapes_and_their_errors():
    t = tt.arange(6.0)
    assert t.view(2, 3).shape == (2, 3) and t.reshape(3, -1).shape == (3, 2)
    with pytest.raises(TypeError, match="Overflow when unpacking long long"):
        t.view(2 ** 63, 1)                                  # beyond int64: the parser's error
    with pytest.raises(TypeError):
        t.view(2.0, 3)


def test_from_numpy_fast_path_keeps_memory_flags_and_identity():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tt.from_numpy(a)
    assert np.shares_memory(t.numpy(), a) and t.numpy() is not a
    a.flags.writeable = False
    r = tt.from_numpy(a)
    with pytest.raises(RuntimeError):
        r.add_(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        m = np.asmatrix(np.ones((2, 2), np.float32))        # a subclass: the general path
    assert tt.from_numpy(m).shape == (2, 2)


def test_fresh_results_carry_their_view_and_detach_shares_it():
    x = _x(2, 3)
    y = x * 2
    assert y._numpy() is y._numpy()
    d = y.detach()
    assert np.shares_memory(d.numpy(), y.numpy()) and d.grad_fn is None


def test_compiled_engine_errors_unchanged():
    class Bad(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return "nope"

    x = tt.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="returned a gradient of type str at index 0"):
        Bad.apply(x).sum().backward()
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()


def test_prepared_conv_and_pool_shapes_follow_the_arguments():
    """The per-shape caches of ConvNdFunction and MaxPoolNdFunction (_prepare) key on every
    value that fixes a result's shape: the same input with other arguments, or other inputs
    with the same arguments, get their own shapes and values (checked against the first call
    of each, computed with the caches emptied)."""
    from tinytensor._functions import conv as cconv
    from tinytensor._functions import pool as cpool
    cases = [(_x(1, 2, 7, 7), _x(3, 2, 3, 3, seed=1), {}),
             (_x(1, 2, 7, 7), _x(3, 2, 3, 3, seed=1), {"stride": 2}),
             (_x(1, 2, 7, 7), _x(3, 2, 3, 3, seed=1), {"padding": (1, 2), "dilation": 2}),
             (_x(2, 2, 9, 6), _x(3, 2, 3, 3, seed=1), {}),
             (_x(2, 6, 7), _x(3, 2, 3, 3, seed=1), {}),                 # unbatched
             (_x(1, 2, 7, 7).double(), _x(3, 2, 3, 3, seed=1).double(), {})]
    first = []
    for x, w, kw in cases:
        cconv._PREPARED.clear()
        cpool._PREPARED.clear()
        y = F.conv2d(x, w, **kw)
        first.append((y.numpy().copy(), F.max_pool2d(y, 2, ceil_mode=True).numpy().copy()))
    for _ in range(2):                                     # now from the caches, interleaved
        for (x, w, kw), (want_y, want_p) in zip(cases, first):
            y = F.conv2d(x, w, **kw)
            np.testing.assert_array_equal(y.numpy(), want_y)
            np.testing.assert_array_equal(F.max_pool2d(y, 2, ceil_mode=True).numpy(), want_p)


def test_inference_records_nothing_and_training_still_does():
    """Under no_grad no node is recorded (and conv saves nothing); with grad the gradients
    are those of the full path."""
    conv, fc = tt.nn.Conv2d(1, 2, 3), tt.nn.Linear(8, 3)
    x = _x(1, 1, 6, 6)
    with tt.no_grad():
        y = fc(F.relu(F.max_pool2d(conv(x), 2)).view(1, 8))
    assert y.grad_fn is None and not y.requires_grad
    y = fc(F.relu(F.max_pool2d(conv(x), 2)).view(1, 8))
    assert y.grad_fn.name() == "AddmmBackward0"
    y.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.shape == (2, 1, 3, 3)


def test_permute_inverse_only_when_recording():
    x = tt.randn(2, 3, 4, requires_grad=True)
    with tt.no_grad():
        assert x.permute(2, 0, 1).grad_fn is None
    y = x.permute(2, 0, -2)
    (y * tt.arange(24.).reshape(4, 2, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(),
                                  np.arange(24.).reshape(4, 2, 3).transpose(1, 2, 0))


def test_random_generator_made_on_first_draw_and_seeded_streams_repeat():
    from tinytensor import random
    g = random.generator()
    assert random.generator() is g                         # one stream, made once
    tt.manual_seed(3)
    a = tt.rand(4)
    tt.manual_seed(3)
    np.testing.assert_array_equal(tt.rand(4).numpy(), a.numpy())
