"""The autograd engine: graph walking, gradient summing and reduction, leaves, retain_graph,
custom Functions, grad modes, autograd.grad, gradcheck, in-place ops and the version counter,
and freeing the graph by reference counting alone."""
import gc
import weakref

import numpy as np
import pytest

import tinytensor as tt
from tinytensor.autograd import Function

FREED = "Trying to backward through the graph a second time"


def leaf(values, dtype=tt.float64):
    return tt.tensor(values, dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------------------ graph walking

def test_long_chain_does_not_overflow_the_stack():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-9)


def test_long_chain_of_views_and_adds():
    x = leaf([[1.0, 2.0]])
    y = x
    for _ in range(10_000):
        y = (y + 1).view(1, 2)
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0]]


def test_diamond_gradients_are_summed():
    x = leaf([2.0, 3.0])
    a = x * 3
    b = x * x
    c = a + b            # dc/dx = 3 + 2x
    d = c * a            # dd/dx = (3 + 2x) * 3x + c * 3
    d.sum().backward()
    xv = np.array([2.0, 3.0])
    expected = (3 + 2 * xv) * 3 * xv + (3 * xv + xv * xv) * 3
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_same_tensor_used_twice_in_one_op():
    x = leaf([1.5, -2.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [3.0, -4.0]
    y = leaf([1.0, 2.0])
    (y + y + y).sum().backward()
    assert y.grad.tolist() == [3.0, 3.0]


def test_broadcast_gradients_reduced_to_input_shapes():
    a = leaf(np.ones((2, 1, 3)))
    b = leaf(np.arange(4.0).reshape(4, 1))
    c = leaf(5.0)
    out = a * b + c                       # (2, 4, 3)
    out.sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (4, 1) and c.grad.shape == ()
    np.testing.assert_allclose(a.grad.numpy(), np.full((2, 1, 3), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full((4, 1), 6.0))
    assert c.grad.item() == 24.0


def test_expand_gradient_reduced():
    x = leaf([[1.0], [2.0]])
    x.expand(2, 3).sum().backward()
    assert x.grad.tolist() == [[3.0], [3.0]]


def test_leaves_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    g = x.grad
    (x * 1).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    assert g.tolist() == [6.0, 6.0]         # the old .grad object is not reused after reset


def test_grad_is_not_aliased_between_leaves():
    x, y = leaf([1.0]), leaf([1.0])
    (x + y).sum().backward()
    x.grad.add_(10.0)
    assert y.grad.tolist() == [1.0]


def test_grad_dtype_and_shape_match_leaf():
    x = tt.zeros(2, 3, requires_grad=True)
    (x.double() * 2).sum().backward()
    assert x.grad.dtype is tt.float32 and x.grad.shape == (2, 3)
    assert x.grad.tolist() == [[2.0] * 3] * 2


def test_non_leaf_and_intermediate_grads():
    x = leaf([1.0])
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and x.is_leaf
    y.sum().backward()
    assert y.grad is None


# ------------------------------------------------------------------------------ retain_graph

def test_second_backward_raises_for_nodes_that_saved_tensors():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()


def test_second_backward_ok_when_nothing_was_saved():
    x = leaf([1.0, 2.0])
    y = (x + 1).sum()             # add and sum save no tensors: PyTorch allows the rerun
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()


def test_saved_tensors_freed_after_backward():
    x = leaf([1.0, 2.0])
    y = x * x
    node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match=FREED):
        node.saved_tensors


def test_backward_non_scalar_requires_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(tt.tensor([1.0, 10.0], dtype=tt.float64))
    assert x.grad.tolist() == [2.0, 20.0]


def test_backward_gradient_shape_checked():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(tt.ones(3, dtype=tt.float64))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        tt.ones(2).sum().backward()


# ------------------------------------------------------------------------------ custom Function

class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return tt.tensor(x.detach().numpy() ** 3 * scale)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


class MulAdd(Function):
    calls = []

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b + a

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        MulAdd.calls.append(ctx.needs_input_grad)
        ga = g * (b + 1) if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return ga, gb


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, g):
        return tt.ones(7, dtype=g.dtype)


class TwoOutputs(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2 + g2 * 3


def test_custom_function():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x, 2.0)
    assert y.requires_grad and isinstance(y.grad_fn, Cube)
    assert y.grad_fn.name() == "CubeBackward0"
    np.testing.assert_allclose(y.detach().numpy(), [2.0, 16.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])
    assert tt.autograd.gradcheck(lambda t: Cube.apply(t, 0.5), (leaf([0.3, -1.2]),))


def test_needs_input_grad():
    MulAdd.calls.clear()
    a, b = leaf([2.0]), tt.tensor([3.0], dtype=tt.float64)
    MulAdd.apply(a, b).sum().backward()
    assert MulAdd.calls == [(True, False)]
    assert a.grad.tolist() == [4.0] and b.grad is None
    MulAdd.calls.clear()
    a2 = tt.tensor([2.0], dtype=tt.float64)
    b2 = leaf([3.0])
    MulAdd.apply(a2, b2).sum().backward()
    assert MulAdd.calls == [(False, True)] and b2.grad.tolist() == [2.0]


def test_custom_function_without_grad_records_nothing():
    x = tt.tensor([1.0, 2.0])
    y = Cube.apply(x, 1.0)
    assert not y.requires_grad and y.grad_fn is None
    with tt.no_grad():
        y = Cube.apply(leaf([1.0]), 1.0)
    assert not y.requires_grad


def test_wrong_shape_gradient_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0 - got \\[7\\] "
                                           "but expected shape compatible with \\[2\\]"):
        WrongShape.apply(x).sum().backward()


def test_multiple_outputs_and_materialized_grads():
    x = leaf([1.0, 2.0])
    a, b = TwoOutputs.apply(x)
    (a.sum() + b.sum()).backward()
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad = None
    a, b = TwoOutputs.apply(x)
    a.sum().backward()            # b's gradient is materialized as zeros
    assert x.grad.tolist() == [2.0, 2.0]


# ------------------------------------------------------------------------------ grad modes

def test_no_grad_and_enable_grad():
    x = leaf([1.0])
    assert tt.is_grad_enabled()
    with tt.no_grad():
        assert not tt.is_grad_enabled()
        y = x * 2
        with tt.enable_grad():
            assert tt.is_grad_enabled()
            z = x * 2
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_grad_mode_decorators_and_set_grad_enabled():
    x = leaf([1.0])

    @tt.no_grad()
    def f():
        assert not tt.is_grad_enabled()
        return x * 2

    @tt.enable_grad()
    def g():
        return x * 2

    assert not f().requires_grad
    with tt.no_grad():
        assert g().requires_grad
    with tt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tt.is_grad_enabled()
    with tt.set_grad_enabled(True):
        assert (x * 2).requires_grad
    tt.set_grad_enabled(False)
    try:
        assert not tt.is_grad_enabled()
    finally:
        tt.set_grad_enabled(True)
    assert tt.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with tt.no_grad():
            raise ValueError
    assert tt.is_grad_enabled()


def test_detach():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d._storage is y._storage
    d[0] = 100.0
    assert y[0].item() == 100.0
    (d * x).sum().backward()
    assert x.grad.tolist() == [100.0, 4.0]


def test_requires_grad_():
    x = tt.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad
    for bad in (tt.ones(2, dtype=tt.int64), tt.tensor([True])):
        with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
            bad.requires_grad_()
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype can "
                                           "require gradients"):
        tt.tensor([1, 2], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_integer_results_carry_no_grad():
    x = leaf([1.0, 3.0, 2.0])
    assert not x.argmax().requires_grad
    assert not (x > 1).requires_grad
    assert not x.long().requires_grad


# ------------------------------------------------------------------------------ autograd.grad

def test_autograd_grad_does_not_touch_dot_grad():
    x, y = leaf([1.0, 2.0]), leaf([3.0])
    out = (x * x * y).sum()
    gx, gy = tt.autograd.grad(out, [x, y])
    assert x.grad is None and y.grad is None
    assert gx.tolist() == [6.0, 12.0] and gy.tolist() == [5.0]
    out = (x * 2).sum()
    (g,) = tt.autograd.grad(out, x)
    assert g.tolist() == [2.0, 2.0]


def test_autograd_grad_of_intermediate_and_unused():
    x = leaf([1.0, 2.0])
    h = x * 3
    out = (h * h).sum()
    (gh,) = tt.autograd.grad(out, [h], retain_graph=True)
    assert gh.tolist() == [6.0, 12.0]
    z = leaf([0.0])
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        tt.autograd.grad(out, [z], retain_graph=True)
    gz = tt.autograd.grad(out, [x, z], allow_unused=True)
    assert gz[1] is None and gz[0].tolist() == [18.0, 36.0]
    assert x.grad is None


def test_autograd_grad_with_grad_outputs():
    x = leaf([1.0, 2.0])
    (g,) = tt.autograd.grad(x * x, x, grad_outputs=tt.tensor([1.0, 0.5], dtype=tt.float64))
    assert g.tolist() == [2.0, 2.0]


# ------------------------------------------------------------------------------ gradcheck

def test_gradcheck_passes_and_fails_naming_worst_element():
    x = leaf([0.5, -1.0, 2.0])
    assert tt.autograd.gradcheck(lambda t: (t * t).sum(), (x,)) is True

    class Bad(Function):
        @staticmethod
        def forward(ctx, t):
            return t * t

        @staticmethod
        def backward(ctx, g):
            return g * 2.0                   # wrong: should be g * 2 t

    with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to input 0"
                       ",\\s*worst at input element \\d+, output element \\d+"):
        tt.autograd.gradcheck(Bad.apply, (x,))
    assert tt.autograd.gradcheck(Bad.apply, (x,), raise_exception=False) is False


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        tt.autograd.gradcheck(lambda t: t * 2, (tt.ones(2, requires_grad=True),))


# ------------------------------------------------------------------------------ in place

@pytest.mark.parametrize("op,expected", [
    (lambda t: t.add_(2), [3.0, 4.0]),
    (lambda t: t.add_(tt.tensor([1.0, 1.0]), alpha=3), [4.0, 5.0]),
    (lambda t: t.sub_(1), [0.0, 1.0]),
    (lambda t: t.mul_(tt.tensor([2.0, 3.0])), [2.0, 6.0]),
    (lambda t: t.div_(2), [0.5, 1.0]),
    (lambda t: t.zero_(), [0.0, 0.0]),
    (lambda t: t.fill_(7), [7.0, 7.0]),
    (lambda t: t.copy_(tt.tensor([9.0, 8.0])), [9.0, 8.0]),
    (lambda t: t.copy_(tt.tensor([5])), [5.0, 5.0]),
    (lambda t: t.clamp_(1.5, 1.75), [1.5, 1.75]),
])
def test_inplace_ops(op, expected):
    t = tt.tensor([1.0, 2.0])
    storage = t._storage
    v0 = t._version
    assert op(t) is t
    assert t.tolist() == expected
    assert t._storage is storage and t._version > v0


def test_inplace_through_views_and_slices():
    t = tt.zeros(3, 4)
    t[1:3] = tt.ones(2, 4)
    t[0, ::2] = 5.0
    t.T[3].add_(1)
    e = np.zeros((3, 4))
    e[1:3] = 1
    e[0, ::2] = 5
    e[:, 3] += 1
    np.testing.assert_array_equal(t.numpy(), e)


def test_inplace_refuses_dtype_downcast_and_bad_shape():
    i = tt.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type Float can.t be cast to the desired output type Long"):
        i.add_(1.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        tt.zeros(2).add_(tt.ones(3, 2))


def test_inplace_on_saved_tensor_raises_at_backward():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * y               # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation "
                                           "has been modified by an inplace operation"):
        z.sum().backward()


def test_inplace_on_saved_output_raises_at_backward():
    x = leaf([0.5, 1.0])
    y = x.exp()             # exp saves its output
    with tt.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_on_unsaved_tensor_is_fine():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y + 1               # add saves nothing
    y.add_(5)
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_inplace_on_leaf_requiring_grad():
    x = leaf([1.0, 2.0])
    for op in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(1.0),
               lambda: x.__setitem__(0, 5.0), lambda: x.copy_(tt.ones(2, dtype=tt.float64))):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                               "in an in-place operation"):
            op()
    assert x.tolist() == [1.0, 2.0]
    with tt.no_grad():
        x.add_(1)
        x[0] = 10.0
        x.mul_(2)
    assert x.tolist() == [20.0, 6.0] and x.is_leaf and x.requires_grad


def test_non_leaf_inplace_history():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    y = x * 2
    y.mul_(x)                 # y = 2x * x: needs the old y for x's gradient (PyTorch keeps it)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]
    x.grad = None
    y = x * 2
    y.div_(x)                 # y = 2x / x = 2
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    x.grad = None
    y = x * 2
    y.pow_(2)                 # 4 x**2
    y.sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]
    x.grad = None
    y = x * 2
    y.mul_(y)                 # the other operand is the tensor being written: PyTorch refuses too
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("op,expected", [
    (lambda y, x: y.zero_(), [0.0, 0.0]),
    (lambda y, x: y.fill_(3.0), [0.0, 0.0]),
    (lambda y, x: y.copy_(tt.tensor([5.0, 5.0], dtype=tt.float64)), [0.0, 0.0]),
    (lambda y, x: y.clamp_(0.0, 3.0), [2.0, 0.0]),
    (lambda y, x: y.relu_(), [2.0, 2.0]),
    (lambda y, x: y.sub_(x), [1.0, 1.0]),
    (lambda y, x: y.__setitem__(0, 7.0), [0.0, 2.0]),
])
def test_overwriting_inplace_ops_on_non_leaf_cut_the_gradient(op, expected):
    # PyTorch: the overwritten part of y's old value gets a zero gradient
    x = leaf([1.0, 2.0])
    y = x * 2
    op(y, x)
    y.sum().backward()
    assert x.grad.tolist() == expected


def test_fill_with_tensor_value_records():
    v = leaf(2.0)
    z = tt.zeros(3, dtype=tt.float64)
    z.fill_(v)
    assert z.grad_fn.name() == "FillBackward3"
    (z * tt.tensor([1.0, 2.0, 3.0], dtype=tt.float64)).sum().backward()
    assert v.grad.item() == 6.0


def test_inplace_with_grad_operand_records():
    a = tt.zeros(2, dtype=tt.float64)
    w = leaf([3.0, 4.0])
    a.add_(w * 2)             # a now depends on w
    assert a.requires_grad and a.grad_fn is not None
    a.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]


def test_slice_assignment_under_autograd():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    y = x * 1
    y[1:3] = tt.tensor([0.0, 0.0], dtype=tt.float64)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0, 1.0]
    v = leaf([5.0, 6.0])
    z = tt.zeros(4, dtype=tt.float64)
    z[1:3] = v * 3
    (z * tt.tensor([1.0, 2.0, 3.0, 4.0], dtype=tt.float64)).sum().backward()
    assert v.grad.tolist() == [6.0, 9.0]


def test_version_counter_shared_by_views():
    x = tt.zeros(4)
    v = x[1:3]
    v0 = x._version
    v.add_(1)
    assert x._version == v0 + 1 and v._version == x._version


# ------------------------------------------------------------------------------ freeing the graph

def test_graph_freed_by_refcounting_alone():
    gc.collect()
    gc.disable()
    try:
        x = leaf(np.ones((3, 3)))
        y = x.exp()                       # saves its output
        z = (y * x).sigmoid()             # saves inputs / output
        w = (z @ y).tanh().sum()
        nodes = [weakref.ref(t.grad_fn) for t in (y, z, w)]
        saved = weakref.ref(y.grad_fn._saved[0][0]) if y.grad_fn._saved else None
        out_ref = weakref.ref(y)
        w.backward()
        del y, z, w
        assert all(n() is None for n in nodes)
        assert saved is None or saved() is None
        assert out_ref() is None
        assert x.grad is not None
    finally:
        gc.enable()


def test_no_cycles_without_backward():
    gc.collect()
    gc.disable()
    try:
        x = leaf([1.0, 2.0])
        y = (x * x).exp().sum()
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None
        x_ref = weakref.ref(x)
        del x
        assert x_ref() is None
    finally:
        gc.enable()


# ------------------------------------------------------------------------------ views and in place

def test_inplace_on_view_of_non_leaf():
    # the base takes a new history (PyTorch's CopySlices); the view reads through it
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    y[0:2].mul_(2)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 1.0]
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[1:]
    v.mul_(x[1:])
    (y * y).sum().backward()
    assert y.tolist() == [1.0, 4.0, 9.0] and v.tolist() == [4.0, 9.0]
    assert x.grad.tolist() == [2.0, 32.0, 108.0]
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * 1
    y.t()[0].add_(10)                        # a view of a view: column 0 of y
    (y ** 2).sum().backward()
    assert x.grad.tolist() == [[22.0, 4.0], [26.0, 8.0]]


def test_inplace_through_view_gives_base_a_history():
    a = tt.zeros(3, dtype=tt.float64)
    w = leaf([1.0, 2.0])
    a[1:].add_(w * w)
    assert a.requires_grad and not a.is_leaf
    a.sum().backward()
    assert w.grad.tolist() == [2.0, 4.0] and a.tolist() == [0.0, 1.0, 4.0]


def test_inplace_on_expanded_tensor_refused():
    with pytest.raises(RuntimeError, match="unsupported operation: more than one element of the "
                                           "written-to tensor refers to a single memory location"):
        tt.zeros(3, 1).expand(3, 4).add_(1)


def test_view_used_after_its_base_was_modified_in_place():
    # PyTorch re-derives the view's history from the base's new one (AsStridedBackward0)
    x = leaf([1.0, 2.0])
    y = x * 1
    v = y[0:1]
    y.mul_(2)
    v.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0]
    assert v.grad_fn.name() == "AsStridedBackward0"
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y.view(3, 1).t()
    y.mul_(x)
    (v * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 12.0, 18.0]


def test_old_uses_of_a_view_keep_their_history():
    # w was computed from v before y changed: its graph keeps v's old node; later uses of v
    # go through y's new history
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[1:]
    w = v * 1
    y.mul_(2)
    (w + v).sum().backward()
    assert x.grad.tolist() == [0.0, 3.0, 3.0]
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[0:1].expand(2, 2)
    y[0] = 5.0
    v.backward(tt.ones(2, 2, dtype=tt.float64))
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_leaf_grad_takes_memory_only_when_nothing_else_sees_it():
    """The engine hands a fresh gradient to .grad without a copy, but never aliases a gradient
    that another leaf, the caller or a Function can still see."""
    a = tt.randn(3, requires_grad=True)
    b = tt.randn(3, requires_grad=True)
    (a + b).sum().backward()                      # one gradient tensor flows to both leaves
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[0] = 100.0
    assert b.grad.tolist() == [1.0, 1.0, 1.0]

    c = tt.randn(3, requires_grad=True)
    g = tt.ones(3)
    (c * 1.0).backward(g)                         # the caller's gradient is copied
    assert not np.shares_memory(c.grad.numpy(), g.numpy())

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

