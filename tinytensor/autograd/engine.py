"""The backward pass: walk the recorded graph from the outputs to the leaves, without recursion.

1. Discover every node reachable from the roots with an explicit stack and count, for each node,
   how many edges point into it (its dependencies).
2. Run nodes in topological order (Kahn's algorithm): a node runs once every node that sends it
   a gradient has run, so the gradients reaching it have all been summed.
3. Each gradient is checked against the shape its input had at forward; a gradient that is
   broadcast-compatible (an op broadcast the input) is summed back to the input's shape.
4. Leaves accumulate into `.grad`; without retain_graph, saved tensors are freed as nodes run.
   A leaf's first gradient becomes its `.grad` without a copy only when the engine knows it
   owns that memory (stated ownership, not reference counts: see _engine.pyx).

The loop itself is compiled (`_engine.pyx`); the rare paths (a gradient of the wrong shape,
dtype or type; missing output gradients) are here.
"""
from tinytensor._tensor_type import Tensor, sum_to_shape
from tinytensor.autograd import _engine
from tinytensor.autograd.function import _FREED
from tinytensor.creation import zeros


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


def run_backward(roots, root_grads, retain_graph, inputs=None):
    """Propagate `root_grads` backwards from the tensors `roots`.

    Without `inputs`, gradients accumulate into leaves' `.grad`. With `inputs` (autograd.grad),
    the gradients reaching those tensors are returned instead and no `.grad` is touched.
    """
    return _engine.run_backward(list(roots), list(root_grads), bool(retain_graph), inputs,
                                _FREED, _fit_grad, _materialize)


def backward_implicit(t, retain_graph):
    """`t.backward()` without arguments for a one-element tensor with a history (the common
    call), without the general path's conversions; False when that path must run."""
    return _engine.run_implicit(t, bool(retain_graph), _FREED, _fit_grad, _materialize)
