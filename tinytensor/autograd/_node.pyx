# cython: language_level=3
"""The graph node that `Function.apply` records, compiled: it runs on every operation, and
its cost is most of tinytensor's per-op overhead on small tensors.

The node *is* the `ctx` that forward and backward receive (PyTorch's contract). For each forward
argument it keeps one edge: None, or (next node, output number there, input shape, input dtype),
where the next node is the argument's grad_fn or the AccumulateGrad of a leaf.
"""
import weakref

import numpy as np
from cpython.ref cimport PyObject, _Py_REFCNT

from tinytensor._tensor cimport TensorBase
from tinytensor.autograd.grad_mode import _state

# set by tinytensor.onnx while a model is traced for export: called as hook(cls, ctx, args, out)
# after every forward (it records the exporting thread's ops only)
_trace_hook = [None]


cdef class AccumulateGrad:
    """The sink of a leaf tensor's gradients. Holds the leaf; the leaf holds it only weakly,
    so a leaf and its sink form no reference cycle."""
    cdef public object variable
    cdef object __weakref__

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
    cdef public object _saved          # None, a tuple of (tensor, version), or the FREED marker
    cdef public tuple _edges
    cdef public Py_ssize_t _n_outputs
    cdef public object _non_diff       # ids of outputs marked non-differentiable
    cdef public bint _materialize
    cdef public tuple needs_input_grad
    cdef public object _out_meta       # (shape, dtype) per output, for multi-output nodes
    cdef dict __dict__                 # ctx attributes that forward sets for backward

    @classmethod
    def apply(cls, *args):
        cdef Node ctx = cls.__new__(cls)
        cdef bint record = False, enabled = _state.enabled
        cdef list needs = []
        cdef TensorBase t
        ctx._saved = None
        ctx._non_diff = None
        ctx._materialize = True
        for a in args:
            if enabled and isinstance(a, TensorBase) and (<TensorBase>a)._requires_grad:
                needs.append(True)
                record = True
            else:
                needs.append(False)
        ctx.needs_input_grad = tuple(needs)
        try:
            if not record:
                out = cls.forward(ctx, *args)
                if _trace_hook[0] is not None:
                    _trace_hook[0](cls, ctx, args, out)
                return out
            _state.enabled = False
            try:
                out = cls.forward(ctx, *args)
            finally:
                _state.enabled = True
        except MemoryError as e:
            # a result NumPy could not allocate: PyTorch's RuntimeError, as the core allocator
            raise RuntimeError(f"can't allocate memory: {e}") from None
        edges = []
        for a, n in zip(args, needs):
            if n:
                t = <TensorBase>a
                if (t._base is not None and t.grad_fn is not None
                        and (<TensorBase>t._base).grad_fn is not t._view_of_fn):
                    cls._refresh_view(t)    # base modified in place since (Function provides it)
                edges.append((grad_sink(t), t._output_nr if t.grad_fn is not None else 0,
                              t._shape, t._dtype))
            else:
                edges.append(None)
        ctx._edges = tuple(edges)
        if isinstance(out, tuple):
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


cpdef bint owns_memory(TensorBase t, object recycled=None):
    """True when no other tensor shares `t`'s storage and nothing else holds the NumPy array
    behind it (a Function's ctx, a kernel's scratch cache), so that its memory can become a
    leaf's `.grad` without a copy once the caller has checked that it holds the only references
    to `t` itself. PyTorch steals gradients under the same condition; copying a large input
    gradient cost ~20 ms per step for a 102 MB max-pool input.

    `recycled`: ids of arrays held by a recycling scratch cache (_functions._memory), whose
    one reference does not count: such a cache hands an array out again only when nothing
    else references it, so a `.grad` that took its memory keeps it to itself.
    """
    if t._base is not None:
        return False
    if _Py_REFCNT(<PyObject*>t._storage) > 1:
        return False
    # The storage's flat array, and the array that owns the memory (data.base when data is a
    # flat view of a kernel's output). NumPy points a view's base at the owner directly.
    cdef object data = t._storage.data                  # +1 for this local
    cdef object owner = data.base if data.base is not None else data
    if owner is not data and (type(owner) is not np.ndarray or owner.base is not None):
        return False
    cdef Py_ssize_t data_refs = 2, owner_refs = 2       # data: storage + local; owner: data.base + local
    cdef object view = t._array                         # t's cached NumPy view, if any
    if view is not None:
        if _Py_REFCNT(<PyObject*>view) > 2:             # t._array and this local only
            return False
        if view.base is data:
            data_refs += 1
        elif view.base is owner:
            owner_refs += 1
        else:
            return False
    if recycled is not None and id(owner) in recycled:
        if owner is data:
            data_refs += 1
        else:
            owner_refs += 1
    if owner is data:
        return _Py_REFCNT(<PyObject*>data) <= data_refs + 1      # + the `owner` local
    return (_Py_REFCNT(<PyObject*>data) <= data_refs
            and _Py_REFCNT(<PyObject*>owner) <= owner_refs)
