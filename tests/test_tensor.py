"""The strided tensor: views share storage and copy nothing; copies happen exactly where PyTorch
copies; NumPy/DLPack exchange; tt.tensor and dtype inference; creation functions; repr."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import strategies as S


def shares(a, b):
    """Same storage object, and NumPy agrees their memory overlaps."""
    return a._storage is b._storage and np.shares_memory(a.detach()._numpy(), b.detach()._numpy())


def base():
    return tt.arange(24, dtype=tt.float32).view(2, 3, 4)


# ------------------------------------------------------------------------------ views

VIEWS = {
    "view": lambda x: x.view(6, 4),
    "view_infer": lambda x: x.view(-1),
    "reshape": lambda x: x.reshape(4, 6),
    "permute": lambda x: x.permute(2, 0, 1),
    "transpose": lambda x: x.transpose(0, 2),
    "t": lambda x: x[0].t(),
    "T": lambda x: x.T,
    "unsqueeze": lambda x: x.unsqueeze(1),
    "squeeze": lambda x: x[:, :1].squeeze(1),
    "squeeze_all": lambda x: x[:1, :, :1].squeeze(),
    "expand": lambda x: x[:, :1].expand(2, 5, 4),
    "flatten": lambda x: x.flatten(),
    "flatten_part": lambda x: x.flatten(1),
    "slice_step": lambda x: x[:, ::2, 1::3],
    "int_index": lambda x: x[1, 2],
    "none": lambda x: x[None, :, None],
    "ellipsis": lambda x: x[..., 1],
    "ellipsis_none": lambda x: x[0, ..., None],
    "negative_int": lambda x: x[-1, -2:],
    "chain": lambda x: x.permute(1, 0, 2)[1:, :, ::2].unsqueeze(0).transpose(1, 3),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_shares_storage_and_writes_through(name):
    x = base()
    ref = x.numpy().copy()
    v = VIEWS[name](x)
    assert shares(v, x)
    expected_view = VIEWS[name](tt.tensor(ref)).numpy()     # the values the view must show
    np.testing.assert_array_equal(v.numpy(), expected_view)
    if 0 in v.stride() and v.numel() > 1:
        return                                   # writing through a stride-0 view is ambiguous
    # write through the view: the base changes exactly where the view points
    if v.ndim == 0:
        v.fill_(-1.0)
    else:
        v[...] = -tt.ones(v.shape)
    assert (x.numpy() == -1).sum() == v.numel()
    assert np.all(v.numpy() == -1)
    # and the other way round: writing the base shows through the view
    x.fill_(7.0)
    assert np.all(v.numpy() == 7.0)


def test_views_copy_nothing():
    x = base()
    lo = x.data_ptr()
    hi = lo + x.numel() * x.element_size()
    for name, fn in VIEWS.items():
        v = fn(x)
        assert lo <= v.data_ptr() < hi or v.numel() == 0, name
        assert v._storage.size == x._storage.size, name


def test_reshape_views_when_possible_copies_otherwise():
    x = base()
    assert shares(x.reshape(6, 4), x)
    assert shares(x.permute(1, 0, 2).reshape(3, 2, 4), x)         # merges nothing non-contiguous
    assert shares(x[:, :, ::2].reshape(2, 3, 2, 1), x)
    t = x.transpose(1, 2)                                          # (2, 4, 3), strides (12, 1, 4)
    r = t.reshape(2, 12)
    assert not shares(r, x)
    np.testing.assert_array_equal(r.numpy(), x.numpy().transpose(0, 2, 1).reshape(2, 12))
    assert shares(t.reshape(2, 4, 3, 1), x)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.view(2, 12)
    # PyTorch: size-1 and stride-0 views
    e = x[:, :1].expand(2, 5, 4)
    assert shares(e.reshape(2, 5, 2, 2), x)
    assert not shares(e.reshape(40), x)


def test_flatten_copies_only_when_needed():
    x = base()
    assert shares(x.flatten(), x)
    assert not shares(x.transpose(0, 1).flatten(), x)
    assert shares(x.transpose(0, 1).flatten(2), x)
    assert x.flatten(1, 1) is x or shares(x.flatten(1, 1), x)


def test_contiguous_copies_only_when_needed():
    x = base()
    assert x.contiguous() is x
    t = x.transpose(0, 1)
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and not shares(c, x)
    np.testing.assert_array_equal(c.numpy(), t.numpy())
    assert c.stride() == (8, 4, 1)


def test_size_one_dims_never_break_contiguity():
    x = tt.zeros(3, 1, 4)
    for stride in [(4, 0, 1), (4, 99, 1), (4, 4, 1)]:
        v = x._as_strided((3, 1, 4), stride, 0)
        assert v.is_contiguous(), stride
        assert v.contiguous() is v
    y = tt.zeros(1, 5)._as_strided((1, 5), (0, 1), 0)
    assert y.is_contiguous() and shares(y.view(5), y)
    assert tt.zeros(4, 1).t().is_contiguous()
    assert tt.zeros(1, 1, 1).permute(2, 0, 1).is_contiguous()
    assert tt.zeros(2, 0, 3).transpose(0, 2).is_contiguous()        # empty: always contiguous
    assert not tt.zeros(2, 3).t().is_contiguous()
    assert tt.zeros(3).unsqueeze(0).unsqueeze(2).is_contiguous()


@given(data=st.data())
def test_layouts_roundtrip(data):
    a, x = data.draw(S.tensors())
    np.testing.assert_array_equal(x.numpy(), a)
    c = x.contiguous()
    assert c.is_contiguous()
    np.testing.assert_array_equal(c.numpy(), a)
    assert (c is x) == x.is_contiguous()
    np.testing.assert_array_equal(x.reshape(-1).numpy(), a.reshape(-1))
    np.testing.assert_array_equal(x.clone().numpy(), a)
    assert not shares(x.clone(), x)
    assert x.tolist() == a.tolist()


def test_view_strides_match_pytorch_rules():
    x = tt.zeros(2, 3, 4)
    assert x.stride() == (12, 4, 1)
    assert x.unsqueeze(0).stride() == (24, 12, 4, 1)
    assert x.unsqueeze(3).stride() == (12, 4, 1, 1)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.unsqueeze(-4).shape == (1, 2, 3, 4)
    assert x[:, 1].stride() == (12, 1) and x[:, 1].storage_offset() == 4
    assert x[1:, ::2, 1::2].stride() == (12, 8, 2)
    assert x[1:, ::2, 1::2].storage_offset() == 13
    assert x.expand(5, 2, 3, 4).stride() == (0, 12, 4, 1)
    assert x[:, 3:].shape == (2, 0, 4)
    assert x[:, 5:9].shape == (2, 0, 4)
    assert x[:, -100:100].shape == (2, 3, 4)
    assert x.squeeze().shape == (2, 3, 4)
    assert tt.zeros(1, 2, 1).squeeze(0).shape == (2, 1)
    assert tt.zeros(1, 2, 1).squeeze((0, 2)).shape == (2,)
    assert tt.zeros(1, 2, 1).squeeze(1).shape == (1, 2, 1)


def test_zero_dim_tensors():
    s = tt.tensor(3.5)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1 and s.stride() == ()
    assert s.item() == 3.5 and float(s) == 3.5
    assert s[None].shape == (1,) and s[...].shape == ()
    assert s.unsqueeze(0).shape == (1,)
    assert s.reshape(1, 1).shape == (1, 1)
    assert s.t().shape == ()
    with pytest.raises(TypeError):
        len(s)


# ------------------------------------------------------------------------------ advanced indexing

@given(data=st.data())
def test_integer_tensor_indexing_copies_and_matches_numpy(data):
    shape = data.draw(S.shapes(min_dims=1, max_dims=3))
    a, x = data.draw(S.tensors(shape=shape, dtype=tt.float32))
    idx = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=0, max_size=5))
    it = tt.tensor(idx, dtype=tt.int64)
    out = x[it]
    np.testing.assert_array_equal(out.numpy(), a[np.array(idx, dtype=np.int64)])
    if out.numel():
        assert not shares(out, x)
    # a list index is advanced indexing too
    np.testing.assert_array_equal(x[idx].numpy(), a[np.array(idx, dtype=np.int64)])


@given(data=st.data())
def test_bool_mask_indexing_copies_and_matches_numpy(data):
    shape = data.draw(S.shapes(min_dims=1, max_dims=3))
    a, x = data.draw(S.tensors(shape=shape, dtype=tt.float64))
    k = data.draw(st.integers(1, len(shape)))
    m = data.draw(S.arrays(shape[:k], tt.bool, repeat=False))
    out = x[tt.tensor(m)]
    np.testing.assert_array_equal(out.numpy(), a[m])
    if out.numel():
        assert not shares(out, x)


def test_mixed_advanced_indexing():
    a = np.arange(60.0).reshape(3, 4, 5)
    x = tt.tensor(a)
    i = np.array([2, 0])
    np.testing.assert_array_equal(x[:, tt.tensor(i)].numpy(), a[:, i])
    np.testing.assert_array_equal(x[tt.tensor(i), 1:3].numpy(), a[i, 1:3])
    np.testing.assert_array_equal(x[1, tt.tensor(i), tt.tensor(i)].numpy(), a[1, i, i])
    np.testing.assert_array_equal(x[..., tt.tensor([4, 0])].numpy(), a[..., [4, 0]])
    np.testing.assert_array_equal(x[x > 30].numpy(), a[a > 30])


def test_index_assignment():
    x = tt.zeros(3, 4)
    x[1] = 5.0
    x[:, 2] = tt.tensor([1.0, 2.0, 3.0])
    x[0, ::2] = tt.tensor([7.0, 8.0])
    x[x == 0] = -1.0
    x[tt.tensor([2]), 0] = 9.0
    e = np.full((3, 4), -1.0)
    e[1] = 5
    e[:, 2] = [1, 2, 3]
    e[0, ::2] = [7, 8]
    e[2, 0] = 9
    np.testing.assert_array_equal(x.numpy(), e)
    v = x[1:3]
    v[0, 0] = 42.0
    assert x[1, 0].item() == 42.0


# ------------------------------------------------------------------------------ NumPy and DLPack

@pytest.mark.parametrize("np_dtype,dtype", [(np.float32, tt.float32), (np.float64, tt.float64),
                                            (np.int64, tt.int64), (np.bool_, tt.bool)])
def test_from_numpy_shares_memory_both_ways(np_dtype, dtype):
    a = np.zeros((3, 4), np_dtype)
    t = tt.from_numpy(a)
    assert t.dtype is dtype and t.shape == (3, 4)
    a[1, 2] = 1
    assert t[1, 2].item() == 1
    t[0, 0] = 1
    assert a[0, 0] == 1
    t.zero_()
    assert not a.any()


def test_from_numpy_strided_views():
    a = np.arange(24.0).reshape(4, 6)
    for v in (a[:, ::2], a.T, a[1:3, 2:], a[None, :, None, 1::4]):
        t = tt.from_numpy(v)
        np.testing.assert_array_equal(t.numpy(), v)
        assert np.shares_memory(t.numpy(), a)
        t.fill_(-1.0)
        assert np.all(v == -1)
        a[...] = np.arange(24.0).reshape(4, 6)


def test_from_numpy_keeps_array_alive():
    t = tt.from_numpy(np.arange(5.0))
    import gc
    gc.collect()
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_from_numpy_read_only():
    a = np.arange(6.0).reshape(2, 3)
    a.flags.writeable = False
    t = tt.from_numpy(a)
    np.testing.assert_array_equal(t.numpy(), a)
    for write in (lambda: t.fill_(0.0), lambda: t.zero_(), lambda: t.add_(1.0),
                  lambda: t.mul_(2.0), lambda: t.__setitem__(0, 1.0),
                  lambda: t[0].copy_(tt.ones(3, dtype=tt.float64)), lambda: t.view(6).fill_(1)):
        with pytest.raises(RuntimeError, match="read-only"):
            write()
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    assert (t + 1).tolist() == [[1, 2, 3], [4, 5, 6]]        # reading is fine


def test_from_numpy_negative_strides_raise():
    with pytest.raises(ValueError, match="At least one stride in the given numpy array is negative"):
        tt.from_numpy(np.arange(5.0)[::-1])


def test_from_numpy_unsupported_dtype():
    with pytest.raises(TypeError, match="can't convert np.ndarray of type int32"):
        tt.from_numpy(np.zeros(3, np.int32))


def test_numpy_and_asarray_share_memory():
    t = base()
    for a in (t.numpy(), np.asarray(t), t[:, 1::2].numpy(), t.T.numpy()):
        assert np.shares_memory(a, t.numpy())
    a = t.numpy()
    a[0, 0, 0] = 100
    assert t[0, 0, 0].item() == 100
    v = t.T
    np.testing.assert_array_equal(np.asarray(v), t.numpy().T)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        tt.ones(2, requires_grad=True).numpy()


def test_dlpack_shares_memory():
    t = base()
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t.numpy())
    a[1, 1, 1] = -5
    assert t[1, 1, 1].item() == -5
    n = np.arange(12.0).reshape(3, 4)
    u = tt.from_dlpack(n)
    assert u.dtype is tt.float64
    u[0, 0] = 99
    assert n[0, 0] == 99
    v = tt.from_dlpack(n[:, 1::2])
    np.testing.assert_array_equal(v.numpy(), n[:, 1::2])
    w = tt.from_dlpack(t.T)
    np.testing.assert_array_equal(w.numpy(), t.numpy().T)
    assert shares(w, t)


# ------------------------------------------------------------------------------ tt.tensor

def test_tensor_copies_and_infers_dtype():
    assert tt.tensor(3.5).dtype is tt.float32 and tt.tensor(3.5).shape == ()
    assert tt.tensor(3).dtype is tt.int64
    assert tt.tensor(True).dtype is tt.bool
    assert tt.tensor([1, 2.5]).dtype is tt.float32
    assert tt.tensor([[1, 2], [3, 4]]).dtype is tt.int64
    assert tt.tensor([True, False]).dtype is tt.bool
    assert tt.tensor([]).dtype is tt.float32 and tt.tensor([]).shape == (0,)
    assert tt.tensor([[1, 2]], dtype=tt.float64).dtype is tt.float64
    assert tt.tensor(np.float64(2.0)).dtype is tt.float64           # a NumPy scalar keeps its dtype
    assert tt.tensor(np.arange(3.0)).dtype is tt.float64            # arrays keep their dtype
    assert tt.tensor(np.arange(3, dtype=np.float32)).dtype is tt.float32
    assert tt.tensor(np.arange(3)).dtype is tt.int64
    assert tt.tensor([1.0], requires_grad=True).requires_grad


@pytest.mark.parametrize("make", [
    lambda a: a, lambda a: a[::-1], lambda a: a[:, ::-2], lambda a: a.T, lambda a: a[1:, 1::2],
    lambda a: np.broadcast_to(a[:1], a.shape), lambda a: np.asfortranarray(a)])
def test_tensor_from_arrays_of_any_strides(make):
    src = make(np.arange(20.0).reshape(4, 5))
    t = tt.tensor(src)
    np.testing.assert_array_equal(t.numpy(), src)
    assert t.is_contiguous() and not np.shares_memory(t.numpy(), src)
    t.fill_(0.0)
    assert src.max() > 0 or src.size == 0


def test_tensor_from_tensor_copies():
    x = base()
    y = tt.tensor(x.T)
    np.testing.assert_array_equal(y.numpy(), x.numpy().T)
    assert not shares(y, x) and y.is_contiguous()
    z = tt.tensor([[1.0, 2.0]])
    w = tt.tensor(z)
    w[0, 0] = 9
    assert z[0, 0].item() == 1.0


def test_tensor_from_nested_lists_of_tensors_scalars():
    t = tt.tensor([[1, 2, 3], [4, 5, 6]])
    assert t.shape == (2, 3) and t.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert tt.tensor([[[0.5]]]).shape == (1, 1, 1)


# ------------------------------------------------------------------------------ creation

@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
def test_filled_creation(fn):
    f = getattr(tt, fn)
    for args in [(2, 3), ((2, 3),), ([2, 3],), (tt.Size([2, 3]),)]:
        t = f(*args)
        assert t.shape == (2, 3) and t.dtype is tt.float32 and not t.requires_grad
        assert t.is_contiguous() and t.is_leaf
    assert f(0).shape == (0,) and f(()).shape == ()
    assert f(2, dtype=tt.int64).dtype is tt.int64
    assert f(2, dtype=tt.float64, requires_grad=True).requires_grad
    if fn != "empty":
        assert np.all(f(3, 2).numpy() == (0 if fn == "zeros" else 1))
        like = getattr(tt, fn + "_like")(tt.zeros(2, 4, dtype=tt.float64))
        assert like.shape == (2, 4) and like.dtype is tt.float64
    assert tt.empty_like(tt.zeros(2, dtype=tt.int64)).dtype is tt.int64


def test_full_arange_linspace_eye():
    assert tt.full((2, 2), 1.5).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert tt.full((2,), 1.5).dtype is tt.float32
    assert tt.full((2,), 3).dtype is tt.int64
    assert tt.full((2,), True).dtype is tt.bool
    assert tt.full_like(tt.zeros(3), 2.0).tolist() == [2.0, 2.0, 2.0]
    assert tt.arange(5).tolist() == [0, 1, 2, 3, 4] and tt.arange(5).dtype is tt.int64
    assert tt.arange(1, 4).tolist() == [1, 2, 3]
    assert tt.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tt.arange(0, 1, 0.25).dtype is tt.float32
    assert tt.arange(5.0).dtype is tt.float32
    assert tt.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert tt.arange(3, dtype=tt.float64).dtype is tt.float64
    assert tt.arange(0).shape == (0,)
    np.testing.assert_allclose(tt.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert tt.linspace(0, 1, 5).dtype is tt.float32
    assert tt.linspace(2, 3, 1).tolist() == [2.0] and tt.linspace(0, 1, 0).shape == (0,)
    np.testing.assert_array_equal(tt.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(tt.eye(2, 3).numpy(), np.eye(2, 3))
    assert tt.eye(2, dtype=tt.int64).dtype is tt.int64
    assert tt.arange(3.0, requires_grad=True).requires_grad


def test_random_creation_and_manual_seed():
    tt.manual_seed(123)
    a, b, c = tt.rand(3, 4), tt.randn(5), tt.randint(0, 10, (6,))
    tt.manual_seed(123)
    a2, b2, c2 = tt.rand(3, 4), tt.randn(5), tt.randint(0, 10, (6,))
    assert a.tolist() == a2.tolist() and b.tolist() == b2.tolist() and c.tolist() == c2.tolist()
    assert a.dtype is tt.float32 and b.dtype is tt.float32 and c.dtype is tt.int64
    assert np.all((a.numpy() >= 0) & (a.numpy() < 1))
    assert np.all((c.numpy() >= 0) & (c.numpy() < 10))
    assert tt.randint(3, (2, 2)).shape == (2, 2) and tt.randint(3, (100,)).numpy().max() <= 2
    assert tt.rand(2, dtype=tt.float64).dtype is tt.float64
    assert tt.randn(2, 3, requires_grad=True).requires_grad
    assert tt.rand_like(tt.zeros(2, 2)).shape == (2, 2)
    assert tt.randn_like(tt.zeros(4, dtype=tt.float64)).dtype is tt.float64
    tt.manual_seed(7)
    big = tt.randn(20000).numpy()
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05
    tt.manual_seed(7)
    assert tt.randn(20000).numpy().tolist() == big.tolist()


# ------------------------------------------------------------------------------ repr

@pytest.mark.parametrize("make,expected", [
    (lambda: tt.tensor([[1.0, 2.0]], requires_grad=True), "tensor([[1., 2.]], requires_grad=True)"),
    (lambda: tt.tensor(3.5), "tensor(3.5000)"),
    (lambda: tt.tensor([1.0, 2.0], dtype=tt.float64), "tensor([1., 2.], dtype=tinytensor.float64)"),
    (lambda: tt.tensor([[1.0, 2.0]], requires_grad=True) * 2, "tensor([[2., 4.]], grad_fn=<MulBackward0>)"),
    (lambda: tt.tensor([1.0, 2.0], requires_grad=True).sum(), "tensor(3., grad_fn=<SumBackward0>)"),
    (lambda: tt.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (lambda: tt.tensor([True, False]), "tensor([ True, False])"),
    (lambda: tt.tensor([1.5, -2.25]), "tensor([ 1.5000, -2.2500])"),
    (lambda: tt.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: tt.tensor([]), "tensor([])"),
    (lambda: tt.tensor([[1, -20], [300, 4]]), "tensor([[  1, -20],\n        [300,   4]])"),
    (lambda: tt.tensor([[1.0, 2.5], [3.0, 4.0]]), "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"),
    (lambda: tt.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: tt.tensor(2, dtype=tt.float64), "tensor(2., dtype=tinytensor.float64)"),
    (lambda: tt.tensor(7), "tensor(7)"),
    (lambda: tt.tensor(False), "tensor(False)"),
    (lambda: tt.arange(2000.0), "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
                                "        1.9990e+03])"),
    (lambda: tt.arange(1, 2001), "tensor([   1,    2,    3,  ..., 1998, 1999, 2000])"),
    (lambda: tt.tensor([float("nan"), 1.0, float("inf")]), "tensor([nan, 1., inf])"),
])
def test_repr_matches_pytorch_format(make, expected):
    assert repr(make()) == expected


def test_size_and_misc_attributes():
    x = tt.zeros(2, 3)
    assert x.shape == (2, 3) and isinstance(x.shape, tuple) and repr(x.shape) == "tinytensor.Size([2, 3])"
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.stride() == (3, 1) and x.stride(0) == 3
    assert x.dim() == 2 and x.ndim == 2 and x.numel() == 6 and len(x) == 2
    assert x.element_size() == 4 and x.double().element_size() == 8
    assert x.is_leaf and x.grad is None and x.grad_fn is None
    assert x.to(tt.float64).dtype is tt.float64 and x.to(tt.float32) is x
    assert x.long().dtype is tt.int64 and x.float() is x and x.bool().dtype is tt.bool
    assert [r.tolist() for r in x] == [[0.0] * 3, [0.0] * 3]


def test_tensor_refuses_ints_beyond_int64():
    assert tt.tensor(-2 ** 63).item() == -2 ** 63 and tt.tensor(2 ** 63 - 1).item() == 2 ** 63 - 1
    for v in (2 ** 63, [1, 2 ** 63], [[-2 ** 64]]):
        with pytest.raises(ValueError, match="Overflow when unpacking long long"):
            tt.tensor(v)
    with pytest.raises(RuntimeError, match="Could not infer dtype of NoneType"):
        tt.tensor(None)


def test_arange_integer_dtype_truncates_arguments_first():
    # PyTorch converts start/end/step to the integer type before computing the length
    assert tt.arange(0.5, 3.7, 1, dtype=tt.int64).tolist() == [0, 1, 2]
    assert tt.arange(0, 5, 1.5, dtype=tt.int64).tolist() == [0, 1, 2, 3, 4]
    assert tt.arange(-2.5, 2, 1, dtype=tt.int64).tolist() == [-2, -1, 0, 1]
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        tt.arange(0, 2, 0.5, dtype=tt.int64)


def test_invert():
    assert (~tt.tensor([1, -2, 0])).tolist() == [-2, 1, -1]
    assert (~tt.tensor([True, False])).tolist() == [False, True]
    with pytest.raises(TypeError):
        ~tt.tensor([1.0])
