"""`Function`: a forward/backward pair, and the graph node its `apply` records.

As in PyTorch, the `ctx` that `forward` and `backward` receive is the graph node itself: an
instance of the Function subclass. It holds the saved tensors (with the storage version each had
when saved), `needs_input_grad`, and one edge per forward argument: where that argument's
gradient goes next (another node, or the AccumulateGrad of a leaf), with its shape and dtype.
"""
from tinytensor.autograd._node import FREED as _FREED  # noqa: F401
import numpy as np

from tinytensor._tensor_type import _c, _wrap
from tinytensor.autograd._node import AccumulateGrad, Node, grad_sink  # noqa: F401


class Function(Node):
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`.

    `backward` returns one gradient per forward argument (None for non-tensors or where
    `ctx.needs_input_grad` is False). Call the op with `MyFunction.apply(*args)`.

    >>> class Cube(tt.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * 3 * x ** 2
    ...
    >>> x = tt.tensor([1., 2.], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    tensor([ 3., 12.])
    """

    # the ctx contract (save_for_backward, saved_tensors, mark_non_differentiable,
    # set_materialize_grads) is compiled, in _node.Node

    # PyTorch's view of this node: its name and its `next_functions`. Set per class by
    # tinytensor/_functions/names.py (the one table of PyTorch's names); `_name` on an
    # instance overrides the name where one Function serves several PyTorch ops.
    _torch_name = None      # str, or callable(ctx) -> str
    _torch_next = None      # callable(ctx, edges) -> PyTorch's (node, nr) pairs; None: all edges

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        take_builtin_name(cls)

    def name(self):
        """PyTorch's name for this node (`MulBackward0`, `ConvolutionBackward0`, ...).

        >>> (tt.ones(1, requires_grad=True) * 2).grad_fn.name()
        'MulBackward0'
        """
        named = self.__dict__.get("_name")
        if named is not None:
            return named
        torch_name = type(self)._torch_name
        if torch_name is not None:
            return torch_name if isinstance(torch_name, str) else torch_name(self)
        name = type(self).__name__
        if name.endswith("Function"):
            name = name[:-len("Function")]
        return name if name.endswith("Backward") else name + "Backward0"

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self):
        """((node, output_nr), ...) as PyTorch's graph has them: one pair per tensor input of
        PyTorch's op ((None, 0) where no gradient flows), AccumulateGrad for leaves. Where
        tinytensor fuses ops PyTorch records separately (linear as t + addmm, cross_entropy as
        log_softmax + nll_loss), the nodes in between are ``ShownNode`` objects: for inspection only,
        the backward pass never runs through them. Computed once per node.

        >>> x = tt.ones(1, requires_grad=True)
        >>> (x * 2).grad_fn.next_functions
        ((<AccumulateGrad object at 0x...>, 0), (None, 0))
        """
        shown = self.__dict__.get("_shown_next")
        if shown is None:
            edges = tuple((e[0], e[1]) if e is not None else (None, 0) for e in self._edges)
            pick = type(self)._torch_next
            shown = edges if pick is None else tuple(pick(self, edges))
            self.__dict__["_shown_next"] = shown
        return shown

    @staticmethod
    def _refresh_view(t):
        # Node.apply calls this (through the applied class) for an input view whose base was
        # modified in place after the view was made
        refresh_view(t)

    @staticmethod
    def forward(ctx, *args):
        """The op's outputs from its inputs (static; ``ctx`` is the graph node: keep on it, or
        save with ``ctx.save_for_backward``, what backward needs), as
        ``torch.autograd.Function.forward``.

        >>> class Double(tt.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return x * 2
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         return g * 2
        ...
        >>> Double.apply(tt.tensor([1., 2.]))
        tensor([2., 4.])
        """
        raise NotImplementedError("a Function subclass must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """One gradient per forward argument from the gradients of the outputs (static; None for
        non-tensors and where ``ctx.needs_input_grad`` is False), as
        ``torch.autograd.Function.backward``.

        >>> class Double(tt.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return x * 2
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         return g * 2
        ...
        >>> x = tt.ones(2, requires_grad=True)
        >>> Double.apply(x).sum().backward()
        >>> x.grad
        tensor([2., 2.])
        """
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grad_outputs)")


# "module.Class" -> (PyTorch's name or None, its inputs): the built-in Functions' entries of
# tinytensor/_functions/names.py (the one table), which fills this dict when it is imported.
BUILTIN_NAMES = {}


def take_builtin_name(cls):
    """Give the built-in Function `cls` its entry of BUILTIN_NAMES, if it has one (a subclass
    defined elsewhere inherits its parent's)."""
    entry = BUILTIN_NAMES.get(f"{cls.__module__}.{cls.__qualname__}")
    if entry is not None:
        name, inputs = entry
        if name is not None:
            cls._torch_name = name
        cls._torch_next = inputs


class ShownNode:
    """A node of PyTorch's graph that a fused tinytensor Function stands for (the TBackward0
    of linear's weight, the LogSoftmaxBackward0 inside cross_entropy): it prints and walks
    like PyTorch's, and computes nothing."""
    __slots__ = ("_shown_name", "next_functions", "__weakref__")

    def __init__(self, name, next_functions):
        self._shown_name = name
        self.next_functions = tuple(next_functions)

    def name(self):
        return self._shown_name

    def __repr__(self):
        return f"<{self._shown_name} object at {id(self):#x}>"


def _positions(shape, stride, offset):
    """Storage index of every element of a layout, as an array of `shape`."""
    pos = np.full(shape, offset, np.int64)
    for d, (n, s) in enumerate(zip(shape, stride)):
        pos += (np.arange(n, dtype=np.int64) * s).reshape([-1 if i == d else 1
                                                           for i in range(len(shape))])
    return pos


class AsStrided(Function):
    """A view of `base`'s storage with its own layout (PyTorch's as_strided): re-derives the
    history of a view whose base was modified in place after the view was made. The gradient
    is scattered through storage positions (summed where the view overlaps itself)."""

    @staticmethod
    def forward(ctx, base, shape, stride, offset):
        ctx.base_layout = (base._shape, base._stride, base._offset)
        ctx.layout = (shape, stride, offset)
        ctx.size = base._storage.size
        return base._as_strided(shape, stride, offset)

    @staticmethod
    def backward(ctx, g):
        flat = np.zeros(ctx.size, g._dtype.np_dtype)
        np.add.at(flat, _positions(*ctx.layout).reshape(-1), g._numpy().reshape(-1))
        return _wrap(_c(flat[_positions(*ctx.base_layout)])), None, None, None


def refresh_view(t):
    """Give the view `t` a history through its base's current one (PyTorch regenerates a view's
    grad_fn the same way once its base was modified in place): an as_strided view of the base."""
    base = t._base
    new = AsStrided.apply(base, t._shape, t._stride, t._offset)
    t.grad_fn, t._output_nr = new.grad_fn, 0
    t._requires_grad = new._requires_grad
    t._view_of_fn = base.grad_fn


def stale_view(t):
    return t._base is not None and t.grad_fn is not None and t._base.grad_fn is not t._view_of_fn

