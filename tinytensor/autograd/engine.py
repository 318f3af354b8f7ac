"""The backward pass: walk the recorded graph from the outputs to the leaves, without recursion.

1. Discover every node reachable from the roots with an explicit stack and count, for each node,
   how many edges point into it (its dependencies).
2. Run nodes in topological order (Kahn's algorithm): a node runs once every node that sends it
   a gradient has run, so the gradients reaching it have all been summed.
3. Each gradient is checked against the shape its input had at forward; a gradient that is
   broadcast-compatible (an op broadcast the input) is summed back to the input's shape.
4. Leaves accumulate into `.grad`; without retain_graph, saved tensors are freed as nodes run.
"""
import sys
import threading

from tinytensor._functions._memory import recycled_ids
from tinytensor._tensor_type import Tensor, sum_to_shape
from tinytensor.autograd._node import owns_memory
from tinytensor.autograd.function import _FREED, AccumulateGrad, grad_sink
from tinytensor.autograd.grad_mode import _state
from tinytensor.creation import zeros


def _collect(roots):
    """Dependency counts of every node reachable from `roots` (explicit stack, no recursion)."""
    deps = {}
    stack = list(roots)
    seen = set(id(r) for r in stack)
    while stack:
        node = stack.pop()
        if isinstance(node, AccumulateGrad):
            continue
        for edge in node._edges:
            if edge is None:
                continue
            nxt = edge[0]
            deps[id(nxt)] = deps.get(id(nxt), 0) + 1
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)
    return deps


def _fit_grad(node, i, grad, shape, dtype):
    """Check a gradient against its input's shape; sum away dimensions that broadcasting added."""
    if not isinstance(grad, Tensor):
        raise TypeError(f"function {node.name()} returned a gradient of type "
                        f"{type(grad).__name__} at index {i}; expected a Tensor or None")
    if grad._shape != shape:
        reduced = sum_to_shape(grad, shape)
        if reduced is None:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - "
                               f"got {list(grad._shape)} but expected shape compatible with "
                               f"{list(shape)}")
        grad = reduced
    if grad._dtype is not dtype:
        grad = grad.to(dtype)
    return grad


def _materialize(node, grads):
    """Missing output gradients become zeros, as PyTorch's materialize_grads does."""
    meta = getattr(node, "_out_meta", None)
    out = []
    for nr, g in enumerate(grads):
        if g is None and node._materialize and meta is not None:
            shape, dtype = meta[nr]
            g = zeros(shape, dtype=dtype)
        out.append(g)
    return out


# Accumulation into .grad is a read-modify-write (NumPy's += releases the GIL on large arrays,
# and "is it None yet" races too): backward() from several threads into one leaf lost
# contributions. One lock for every leaf; the work under it is one add per leaf per backward.
_accumulate_lock = threading.Lock()


def _accumulate(leaf, grad):
    with _accumulate_lock:
        if leaf.grad is None:
            # Take the gradient's memory when nothing else can see it: the engine's buffer list
            # and this frame are the only references to the tensor (getrefcount adds its own),
            # and owns_memory vouches for its storage. Otherwise copy: the same tensor may be
            # flowing to other leaves, or be held by a Function.
            if (sys.getrefcount(grad) <= 3 and owns_memory(grad, recycled_ids())
                    and grad.is_contiguous()
                    and grad.grad_fn is None):
                leaf.grad = grad
            else:
                leaf.grad = grad.detach().clone()
        else:
            old = leaf.grad
            old._refuse_overlap()        # an expanded .grad: += would add several times
            old._numpy()[...] += grad._numpy()


def run_backward(roots, root_grads, retain_graph, inputs=None):
    """Propagate `root_grads` backwards from the tensors `roots`.

    Without `inputs`, gradients accumulate into leaves' `.grad`. With `inputs` (autograd.grad),
    the gradients reaching those tensors are returned instead and no `.grad` is touched.
    """
    root_nodes = [grad_sink(t) for t in roots]
    deps = _collect(root_nodes)
    buffers = {}                        # id(node) -> list of summed gradients, one per output
    wanted = None
    if inputs is not None:
        # keep the sinks alive: an unused leaf's AccumulateGrad is held only weakly by the leaf,
        # and a freed node's id could be reused by another node
        sinks = [(grad_sink(t), t._output_nr if t.grad_fn is not None else 0) for t in inputs]
        wanted = {(id(node), nr): None for node, nr in sinks}

    ready = []
    for t, node, g in zip(roots, root_nodes, root_grads):
        _send(buffers, wanted, node, t._output_nr if t.grad_fn is not None else 0, g)
        if deps.get(id(node), 0) == 0 and all(node is not r for r in ready):
            ready.append(node)

    prev_mode = _state.enabled
    try:
        _state.enabled = False           # inside the try: an interrupt anywhere restores it
        while ready:
            node = ready.pop()
            grads = buffers.pop(id(node), None)
            if type(node) is AccumulateGrad:
                if wanted is None and grads is not None and grads[0] is not None:
                    leaf = node.variable
                    _accumulate(leaf, grads[0])
                    hooks = leaf.__dict__.get("_post_accumulate_grad_hooks")
                    if hooks:
                        for hook in tuple(hooks.values()):
                            hook(leaf)
                continue
            if node._saved is _FREED:
                raise RuntimeError(_FREED)
            # (`x is None` tests: `None in grads` would call Tensor.__eq__)
            if grads is None:
                grads = [None] * node._n_outputs
            elif any(g is None for g in grads):
                grads = _materialize(node, grads)
            if any(g is None for g in grads):
                results = (None,) * len(node._edges)      # nothing flows through this node
            else:
                results = node.backward(node, *grads)
                if type(results) is not tuple:
                    results = (results,)
            if len(results) < len(node._edges):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                                   f"gradients (expected {len(node._edges)}, got {len(results)})")
            if not retain_graph and node._saved is not None:
                node._saved = _FREED      # as PyTorch: only nodes that saved tensors refuse a rerun
            i = 0
            for edge in node._edges:
                if edge is not None:
                    nxt, nr, shape, dtype = edge
                    g = results[i]
                    if g is not None:
                        if type(g) is not Tensor or g._shape != shape or g._dtype is not dtype:
                            g = _fit_grad(node, i, g, shape, dtype)
                        _send(buffers, wanted, nxt, nr, g)
                    key = id(nxt)
                    left = deps[key] - 1
                    deps[key] = left
                    if left == 0:
                        ready.append(nxt)
                i += 1
            # drop this frame's references: a gradient left only in `buffers` can become a
            # leaf's .grad without a copy (_accumulate counts the references to it)
            results = g = None
    finally:
        _state.enabled = prev_mode
    if wanted is not None:
        return [wanted[(id(node), nr)] for node, nr in sinks]
    return None


def _send(buffers, wanted, node, nr, grad):
    """Add `grad` to what output `nr` of `node` has received so far."""
    key = id(node)
    if wanted is not None and (key, nr) in wanted:
        prev = wanted[(key, nr)]
        wanted[(key, nr)] = grad if prev is None else prev + grad
    buf = buffers.get(key)
    if buf is None:
        buf = buffers[key] = [None] * (1 if type(node) is AccumulateGrad else node._n_outputs)
    buf[nr] = grad if buf[nr] is None else buf[nr] + grad
