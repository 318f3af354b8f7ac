"""`Function`: a forward/backward pair, and the graph node its `apply` records.

As in PyTorch, the `ctx` that `forward` and `backward` receive is the graph node itself: an
instance of the Function subclass. It holds the saved tensors (with the storage version each had
when saved), `needs_input_grad`, and one edge per forward argument: where that argument's
gradient goes next (another node, or the AccumulateGrad of a leaf), with its shape and dtype.
"""
import weakref

from tinytensor.autograd.grad_mode import _state
from tinytensor.tensor import Tensor

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
          "backward through the graph a second time or if you need to access saved tensors after "
          "calling backward.")


class AccumulateGrad:
    """The sink of a leaf tensor's gradients. Holds the leaf; the leaf holds it only weakly."""
    __slots__ = ("variable", "__weakref__")

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"


def grad_sink(t):
    """The node a gradient for tensor `t` flows into: its grad_fn or its (shared) AccumulateGrad."""
    if t.grad_fn is not None:
        return t.grad_fn
    acc = t._accumulator() if t._accumulator is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._accumulator = weakref.ref(acc)
    return acc


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`.

    `backward` returns one gradient per forward argument (None for non-tensors or where
    `ctx.needs_input_grad` is False). Call the op with `MyFunction.apply(*args)`.
    """

    # ---- the ctx contract

    def save_for_backward(self, *tensors):
        # Saved as detached aliases (same storage, no grad_fn): a node that saves its own output
        # then holds no reference cycle back to itself. The version is checked at unpacking.
        self._saved = tuple(None if t is None else (t.detach(), t._storage.version) for t in tensors)

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(_FREED)
        if not saved:
            return ()
        out = []
        for i, item in enumerate(saved):
            if item is None:
                out.append(None)
                continue
            t, version = item
            if t._storage.version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [tinytensor.{t.dtype.name} {list(t.shape)}], which is "
                    f"saved tensor {i} of {self.name()}; is at version {t._storage.version}; "
                    f"expected version {version} instead.")
            out.append(t)
        return tuple(out)

    def mark_non_differentiable(self, *tensors):
        self._non_diff = set(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    def name(self):
        name = type(self).__name__
        if name.endswith("Function"):
            name = name[:-len("Function")]
        return name if name.endswith("Backward") else name + "Backward0"

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self._edges)

    # ---- recording

    @classmethod
    def apply(cls, *args):
        ctx = cls.__new__(cls)
        ctx._saved = None
        ctx._non_diff = None
        ctx._materialize = True
        record = False
        if _state.enabled:
            needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
            record = True in needs
        else:
            needs = (False,) * len(args)
        ctx.needs_input_grad = needs
        if record:
            _state.enabled = False
            try:
                out = cls.forward(ctx, *args)
            finally:
                _state.enabled = True
        else:
            return cls.forward(ctx, *args)
        ctx._edges = tuple((grad_sink(a), a._output_nr if a.grad_fn is not None else 0,
                            a._shape, a._dtype) if n else None for a, n in zip(args, needs))
        if isinstance(out, tuple):
            ctx._n_outputs = len(out)
            ctx._out_meta = [(o._shape, o._dtype) if isinstance(o, Tensor) else ((), None)
                             for o in out]
            for nr, o in enumerate(out):
                _attach(o, ctx, nr)
        else:
            ctx._n_outputs = 1
            _attach(out, ctx, 0)
        return out

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grad_outputs)")


def _attach(out, ctx, nr):
    if not isinstance(out, Tensor):
        return
    if ctx._non_diff is not None and id(out) in ctx._non_diff:
        return
    if not out._dtype.is_floating_point:
        return                           # integer and bool results carry no gradient
    out._requires_grad = True
    out.grad_fn = ctx
    out._output_nr = nr
