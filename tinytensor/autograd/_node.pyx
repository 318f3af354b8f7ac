# cython: language_level=3
"""The graph node that `Function.apply` records, compiled: it runs on every operation, and
its cost is most of tinytensor's per-op overhead on small tensors.

The node *is* the `ctx` that forward and backward receive (PyTorch's contract). For each forward
argument it keeps one edge: None, or (next node, output number there, input shape, input dtype),
where the next node is the argument's grad_fn or the AccumulateGrad of a leaf.
"""
import weakref

from tinytensor._tensor cimport TensorBase, alias
from tinytensor.autograd.grad_mode import _state

# A node's `_saved` once backward has freed it; also the error text for reusing it.
FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
         "after they have already been freed). Saved intermediate values of the graph are freed "
         "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
         "backward through the graph a second time or if you need to access saved tensors after "
         "calling backward.")

# set by tinytensor.onnx while a model is traced for export: called as hook(cls, ctx, args, out)
# after every forward (it records the exporting thread's ops only)
_trace_hook = [None]


cdef class AccumulateGrad:
    """The sink of a leaf tensor's gradients. Holds the leaf; the leaf holds it only weakly,
    so a leaf and its sink form no reference cycle. (Fields in _node.pxd.)"""

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    @property
    def next_functions(self):
        return ()                        # a sink: PyTorch's AccumulateGrad has no inputs

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


cpdef object grad_sink(TensorBase t):
    """The node a gradient for `t` flows into: its grad_fn or its (shared) AccumulateGrad."""
    if t.grad_fn is not None:
        return t.grad_fn
    acc = t._accumulator() if t._accumulator is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._accumulator = weakref.ref(acc)
    return acc


cdef class Node:
    # fields in _node.pxd (the compiled engine reads them in C)

    # ---- the ctx contract (compiled: every op that records saves tensors)

    def save_for_backward(self, *tensors):
        # Saved as detached aliases (same storage, no grad_fn): a node that saves its own output
        # then holds no reference cycle back to itself. The version is checked at unpacking.
        cdef list saved = []
        for t in tensors:
            if t is None:
                saved.append(None)
            else:
                saved.append((alias(<TensorBase>t), (<TensorBase>t)._storage.version))
        self._saved = tuple(saved)

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is FREED:
            raise RuntimeError(FREED)
        if not saved:
            return ()
        cdef list out = []
        cdef TensorBase t
        cdef Py_ssize_t i = 0
        for item in <tuple>saved:
            if item is None:
                out.append(None)
            else:
                t = <TensorBase>(<tuple>item)[0]
                version = (<tuple>item)[1]
                if t._storage.version != version:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified "
                        f"by an inplace operation: [tinytensor.{t._dtype.name} {list(t._shape)}], "
                        f"which is saved tensor {i} of {self.name()}; is at version "
                        f"{t._storage.version}; expected version {version} instead.")
                out.append(t)
            i += 1
        return tuple(out)

    def mark_non_differentiable(self, *tensors):
        self._non_diff = set(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    @classmethod
    def apply(cls, *args):
        cdef Node ctx = cls.__new__(cls)
        cdef bint record = False
        cdef Py_ssize_t i, n = len(args)
        cdef TensorBase t
        ctx._materialize = True
        if _state.enabled:
            for a in args:
                if isinstance(a, TensorBase) and (<TensorBase>a)._requires_grad:
                    record = True
                    break
        if not record:
            ctx.needs_input_grad = _NO_GRADS[n] if n < 8 else (False,) * n
            try:
                out = cls.forward(ctx, *args)
            except MemoryError as e:
                raise RuntimeError(f"can't allocate memory: {e}") from None
            if _trace_hook[0] is not None:
                _trace_hook[0](cls, ctx, args, out)
            return out
        cdef list needs = [False] * n
        for i in range(n):
            a = args[i]
            if isinstance(a, TensorBase) and (<TensorBase>a)._requires_grad:
                needs[i] = True
        ctx.needs_input_grad = tuple(needs)
        _state.enabled = False
        try:
            out = cls.forward(ctx, *args)
        except MemoryError as e:
            # a result NumPy could not allocate: PyTorch's RuntimeError, as the core allocator
            raise RuntimeError(f"can't allocate memory: {e}") from None
        finally:
            _state.enabled = True
        cdef list edges = [None] * n
        for i in range(n):
            if needs[i]:
                t = <TensorBase>args[i]
                if (t._base is not None and t.grad_fn is not None
                        and (<TensorBase>t._base).grad_fn is not t._view_of_fn):
                    cls._refresh_view(t)    # base modified in place since (Function provides it)
                edges[i] = (grad_sink(t), t._output_nr if t.grad_fn is not None else 0,
                            t._shape, t._dtype)
        ctx._edges = tuple(edges)
        if type(out) is tuple or isinstance(out, tuple):
            out = tuple([_fresh(o, args, ctx) for o in out])
            ctx._n_outputs = len(out)
            ctx._out_meta = [((<TensorBase>o)._shape, (<TensorBase>o)._dtype)
                             if isinstance(o, TensorBase) else ((), None) for o in out]
            for nr, o in enumerate(out):
                _attach(o, ctx, nr)
        else:
            out = _fresh(out, args, ctx)
            ctx._n_outputs = 1
            _attach(out, ctx, 0)
        if _trace_hook[0] is not None:
            _trace_hook[0](cls, ctx, args, out)
        return out


# needs_input_grad of a call that records nothing, by argument count (shared tuples)
cdef tuple _NO_GRADS = tuple([(False,) * k for k in range(8)])


cdef object _fresh(object o, tuple args, Node ctx):
    """An output that *is* one of the inputs (a custom forward that returns `x`) becomes a new
    tensor on the same storage, as in PyTorch: attaching the node to the input object itself
    would turn the caller's leaf into a non-leaf, and its later uses would run this backward."""
    if not isinstance(o, TensorBase) or (ctx._non_diff is not None and id(o) in ctx._non_diff):
        return o
    for a in args:
        if a is o:
            return o.detach()
    return o


cdef _attach(out, Node ctx, Py_ssize_t nr):
    if not isinstance(out, TensorBase):
        return
    cdef TensorBase t = <TensorBase>out
    if ctx._non_diff is not None and id(out) in ctx._non_diff:
        return
    if not t._dtype.is_floating_point:
        return                           # integer and bool results carry no gradient
    t._requires_grad = True
    t.grad_fn = ctx
    t._output_nr = nr
