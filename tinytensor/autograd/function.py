"""`Function`: a forward/backward pair, and the graph node its `apply` records.

As in PyTorch, the `ctx` that `forward` and `backward` receive is the graph node itself: an
instance of the Function subclass. It holds the saved tensors (with the storage version each had
when saved), `needs_input_grad`, and one edge per forward argument: where that argument's
gradient goes next (another node, or the AccumulateGrad of a leaf), with its shape and dtype.
"""
from tinytensor.autograd import _node
from tinytensor.autograd._node import FREED as _FREED  # noqa: F401
from tinytensor.autograd._node import AccumulateGrad, Node, grad_sink  # noqa: F401


class Function(Node):
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`.

    `backward` returns one gradient per forward argument (None for non-tensors or where
    `ctx.needs_input_grad` is False). Call the op with `MyFunction.apply(*args)`.
    """

    # the ctx contract (save_for_backward, saved_tensors, mark_non_differentiable,
    # set_materialize_grads) is compiled, in _node.Node

    # PyTorch's view of this node: its name and its `next_functions`. Set per class by
    # tinytensor/_functions/names.py (the one table of PyTorch's names); `_name` on an
    # instance overrides the name where one Function serves several PyTorch ops.
    _torch_name = None      # str, or callable(ctx) -> str
    _torch_next = None      # callable(ctx, edges) -> PyTorch's (node, nr) pairs; None: all edges

    def name(self):
        """PyTorch's name for this node (`MulBackward0`, `ConvolutionBackward0`, ...)."""
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
        the backward pass never runs through them. Computed once per node."""
        shown = self.__dict__.get("_shown_next")
        if shown is None:
            edges = tuple((e[0], e[1]) if e is not None else (None, 0) for e in self._edges)
            pick = type(self)._torch_next
            shown = edges if pick is None else tuple(pick(self, edges))
            self.__dict__["_shown_next"] = shown
        return shown

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grad_outputs)")


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


def refresh_view(t):
    """Give the view `t` a history through its base's current one (PyTorch regenerates a view's
    grad_fn the same way once its base was modified in place): an as_strided view of the base."""
    from tinytensor._functions.shape import AsStrided
    base = t._base
    new = AsStrided.apply(base, t._shape, t._stride, t._offset)
    t.grad_fn, t._output_nr = new.grad_fn, 0
    t._requires_grad = new._requires_grad
    t._view_of_fn = base.grad_fn


def stale_view(t):
    return t._base is not None and t.grad_fn is not None and t._base.grad_fn is not t._view_of_fn


_node._refresh_view[0] = refresh_view
