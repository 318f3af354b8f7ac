# cython: language_level=3
"""The backward pass, compiled: it runs once per node of every graph, and on small tensors its
bookkeeping was most of a backward call (engine.py describes the algorithm).

Ownership of gradient buffers is stated, not inferred from reference counts (free-threaded
CPython and PyPy do not give meaningful ones). Each gradient waiting in a node's buffer carries
an `owned` flag: True when the engine knows nothing but that buffer can see the tensor's memory,
so that a leaf's `.grad` may take the memory without a copy. A gradient is owned when

- the engine made it itself (the sum of two gradients, a gradient reduced or cast to its
  input's shape and dtype); or
- a tinytensor Function's backward returned it as a new tensor (not a view, no history, returned
  once) whose storage is none of what the node could still see: the gradients passed in, the
  tensors it saved, and the arrays and tensors it keeps as ctx attributes; or a gradient passed
  in and returned as it is, once, that was owned already.

Everything else (the caller's gradients, results of user-defined Functions, a tensor returned
for two inputs) is copied into `.grad`. Scratch memory that kernels recycle is leased
(_functions/_memory.py): a `.grad` holding it keeps the lease, so it is never handed out again
while the gradient lives.
"""
import threading

import numpy as np
from numpy import may_share_memory as _may_share

from tinytensor._kernels import elementwise as _K
from tinytensor._tensor cimport Storage, TensorBase
from tinytensor._tensor import wrap_array
from tinytensor.autograd._node cimport AccumulateGrad, Node, grad_sink
from tinytensor.autograd.grad_mode import _state

# Accumulation into .grad is a read-modify-write (NumPy's += releases the GIL on large arrays,
# and "is it None yet" races too): backward() from several threads into one leaf lost
# contributions. One lock for every leaf; the work under it is one add per leaf per backward.
_accumulate_lock = threading.Lock()


cdef dict _collect(list roots):
    """Dependency counts of every node reachable from `roots` (explicit stack, no recursion)."""
    cdef dict deps = {}
    cdef list stack = list(roots)
    cdef set seen = set([id(r) for r in stack])
    cdef Node node
    while stack:
        n = stack.pop()
        if type(n) is AccumulateGrad:
            continue
        node = <Node>n
        for edge in node._edges:
            if edge is None:
                continue
            nxt = (<tuple>edge)[0]
            key = id(nxt)
            deps[key] = deps.get(key, 0) + 1
            if key not in seen:
                seen.add(key)
                stack.append(nxt)
    return deps


cdef class _Buffer:
    """The gradients a node has received so far, one slot per output, and whether the engine
    owns each (see the module docstring)."""
    cdef list grads
    cdef list owned

    def __cinit__(self, Py_ssize_t n):
        self.grads = [None] * n
        self.owned = [False] * n


cdef void _send(dict buffers, dict wanted, object node, Py_ssize_t nr, object grad, bint owned):
    """Add `grad` to what output `nr` of `node` has received so far."""
    key = id(node)
    if wanted is not None and (key, nr) in wanted:
        prev = wanted[(key, nr)]
        wanted[(key, nr)] = grad if prev is None else prev + grad
        owned = False                  # the caller of autograd.grad gets this tensor
    cdef _Buffer buf = buffers.get(key)
    if buf is None:
        buf = _Buffer(1 if type(node) is AccumulateGrad else (<Node>node)._n_outputs)
        buffers[key] = buf
    prev = buf.grads[nr]
    if prev is None:
        buf.grads[nr] = grad
        buf.owned[nr] = owned
    else:
        buf.grads[nr] = _add(<TensorBase>prev, <TensorBase>grad)
        buf.owned[nr] = True           # a new tensor that only this buffer sees


cdef object _add(TensorBase a, TensorBase b):
    """a + b for two gradients of one input (one shape and dtype, checked by the caller): the
    kernel directly, without the operator's argument handling."""
    return wrap_array(_K.binary("add", a._numpy(), b._numpy()))


cdef bint _sees(object held, Storage storage):
    """True when `held` (a ctx attribute: a tensor, an array, or a tuple/list of them) may
    share memory with `storage`."""
    if isinstance(held, TensorBase):
        return (<TensorBase>held)._storage is storage or _may_share(
            (<TensorBase>held)._storage.data, storage.data)
    if isinstance(held, np.ndarray):
        return _may_share(held, storage.data)
    if isinstance(held, (tuple, list)):
        for h in held:
            if _sees(h, storage):
                return True
    return False


cdef bint _fresh_result(Node node, object g, tuple results, tuple grads_in, list owned_in):
    """Whether the result `g` of `node`'s backward is memory the engine may own (module
    docstring). Called only for results bound for a leaf: a few checks per leaf per backward."""
    cdef TensorBase t = <TensorBase>g
    cdef Py_ssize_t i, count = 0
    if t._base is not None or t.grad_fn is not None:
        return False
    if not type(node).__module__.startswith("tinytensor."):
        return False                   # a user's Function may keep what it returns anywhere
    for r in results:
        if r is g:
            count += 1
    if count != 1:
        return False                   # one tensor for two inputs
    cdef Storage storage = t._storage
    for i in range(len(grads_in)):
        gi = grads_in[i]
        if gi is g:
            return owned_in[i]         # passed through: owned if it was
        if gi is not None and _sees(gi, storage):
            return False
    saved = node._saved
    if type(saved) is tuple:
        for item in <tuple>saved:
            if item is not None and _sees((<tuple>item)[0], storage):
                return False
    for value in (<object>node).__dict__.values():
        if _sees(value, storage):
            return False
    return True


cdef void _accumulate(TensorBase leaf, TensorBase grad, bint owned) except *:
    cdef TensorBase old
    cdef Py_ssize_t i
    with _accumulate_lock:
        if leaf._grad is None:
            # Take the gradient's memory when the engine owns it (module docstring); else copy:
            # the same tensor may be flowing to other leaves, or be held by the caller.
            if owned and grad.is_contiguous():
                leaf.grad = grad
            else:
                leaf.grad = grad.detach().clone()
        else:
            old = <TensorBase>leaf._grad
            for i in range(len(old._shape)):
                if old._stride[i] == 0 and old._shape[i] > 1:
                    old._refuse_overlap()        # an expanded .grad: += would add several times
                    break
            o = old._numpy()
            np.add(o, grad._numpy(), out=o)


def run_backward(list roots, list root_grads, bint retain_graph, inputs, freed, fit_grad,
                 materialize):
    """Propagate `root_grads` backwards from the tensors `roots` (engine.run_backward).

    `freed`: the marker a node's `_saved` takes once backward freed it; `fit_grad(node, i,
    grad, shape, dtype)` and `materialize(node, grads)`: the rare paths, in engine.py.
    """
    cdef list root_nodes = [grad_sink(<TensorBase>t) for t in roots]
    cdef dict deps = _collect(root_nodes)
    cdef dict buffers = {}               # id(node) -> _Buffer
    cdef dict wanted = None
    cdef list sinks = None
    cdef list ready = []
    cdef Node node
    cdef _Buffer buf
    cdef TensorBase t
    cdef Py_ssize_t i, left, nr
    cdef bint owned
    cdef tuple results, edges, edge, grads
    if inputs is not None:
        # keep the sinks alive: an unused leaf's AccumulateGrad is held only weakly by the leaf,
        # and a freed node's id could be reused by another node
        sinks = [(grad_sink(<TensorBase>t), (<TensorBase>t)._output_nr
                  if (<TensorBase>t).grad_fn is not None else 0) for t in inputs]
        wanted = {(id(n), nr): None for n, nr in sinks}

    for t, n, g in zip(roots, root_nodes, root_grads):
        # the caller's gradient (or the implicit one): not owned, .grad copies it
        _send(buffers, wanted, n, t._output_nr if t.grad_fn is not None else 0, g, False)
        if deps.get(id(n), 0) == 0 and all([n is not r for r in ready]):
            ready.append(n)

    prev_mode = _state.enabled
    try:
        _state.enabled = False           # inside the try: an interrupt anywhere restores it
        while ready:
            n = ready.pop()
            buf = buffers.pop(id(n), None)
            if type(n) is AccumulateGrad:
                if wanted is None and buf is not None and buf.grads[0] is not None:
                    leaf = (<AccumulateGrad>n).variable
                    g = buf.grads[0]
                    owned = buf.owned[0]
                    buf = None
                    _accumulate(<TensorBase>leaf, <TensorBase>g, owned)
                    g = None
                    hooks = leaf.__dict__.get("_post_accumulate_grad_hooks")
                    if hooks:
                        for hook in tuple(hooks.values()):
                            hook(leaf)
                continue
            node = <Node>n
            if node._saved is freed:
                raise RuntimeError(freed)
            if buf is None:
                grads = (None,) * node._n_outputs
                owned_in = [False] * node._n_outputs
            else:
                grads = tuple(buf.grads)
                owned_in = buf.owned
                buf = None
                # (`x is None` tests: `None in grads` would call Tensor.__eq__)
                for g in grads:
                    if g is None:
                        grads = tuple(materialize(node, list(grads)))
                        break
            edges = node._edges
            results = None
            for g in grads:
                if g is None:
                    results = (None,) * len(edges)      # nothing flows through this node
                    break
            if results is None:
                r = node.backward(node, *grads)
                results = r if type(r) is tuple else (r,)
            if len(results) < len(edges):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                                   f"gradients (expected {len(edges)}, got {len(results)})")
            for i in range(len(edges)):
                e = edges[i]
                if e is None:
                    continue
                edge = <tuple>e
                nxt = edge[0]
                g = results[i]
                if g is not None:
                    if not isinstance(g, TensorBase):
                        g = fit_grad(node, i, g, edge[2], edge[3])   # raises its TypeError
                    t = <TensorBase>g
                    owned = (type(nxt) is AccumulateGrad
                             and _fresh_result(node, g, results, grads, owned_in))
                    if t._shape != edge[2] or t._dtype is not edge[3]:
                        fitted = fit_grad(node, i, g, edge[2], edge[3])
                        # a reduced or cast gradient is the engine's own new tensor
                        owned = fitted is not g and (<TensorBase>fitted)._storage is not t._storage
                        g = fitted
                    _send(buffers, wanted, nxt, edge[1], g, owned)
                key = id(nxt)
                left = deps[key] - 1
                deps[key] = left
                if left == 0:
                    ready.append(nxt)
            if not retain_graph and node._saved is not None:
                node._saved = freed       # as PyTorch: only nodes that saved tensors refuse a rerun
            results = grads = None
            g = r = None
    finally:
        _state.enabled = prev_mode
    if wanted is not None:
        return [wanted[(id(n), nr)] for n, nr in sinks]
    return None


def run_implicit(TensorBase t, bint retain_graph, freed, fit_grad, materialize):
    """`t.backward()` with no arguments for a one-element tensor with a current history, the
    usual call; False (nothing done) for anything else: the general path then checks and
    raises as it always did."""
    if t.grad_fn is None or not t._requires_grad:
        return False
    if t._base is not None and (<TensorBase>t._base).grad_fn is not t._view_of_fn:
        return False                     # a stale view: the general path refreshes it
    for s in t._shape:
        if s != 1:
            return False
    ones = np.empty(t._shape, t._dtype.np_dtype)
    ones.fill(1)
    g = wrap_array(ones)
    run_backward([t], [g], retain_graph, None, freed, fit_grad, materialize)
    return True
