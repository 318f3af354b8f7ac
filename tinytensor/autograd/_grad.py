"""`backward()` and `grad()`: the entry points that run the engine from user code (checking the
roots and making their first gradients)."""
import numpy as np

from tinytensor._tensor_type import Tensor, _wrap
from tinytensor.autograd.engine import run_backward
from tinytensor.autograd.function import refresh_view, stale_view
from tinytensor.creation import tensor


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(outputs, grads):
    out = []
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward(): expected a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               "grad_fn")
        g = grads[i] if grads is not None and i < len(grads) else None
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = _wrap(np.ones(t._shape, t._dtype.np_dtype))
            out.append(g)
            continue
        elif not isinstance(g, Tensor):
            g = tensor(g, dtype=t.dtype)
        if g.shape != t.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{g.shape} and output[{i}] has a shape of {t.shape}.")
        out.append(g.detach())
    return out


def _refresh_roots(tensors):
    for t in tensors:
        if isinstance(t, Tensor) and stale_view(t):
            refresh_view(t)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's `.grad`.

    >>> x = tt.tensor([1., 2.], requires_grad=True)
    >>> tt.autograd.backward([(x * x).sum()])
    >>> x.grad
    tensor([2., 4.])
    """
    if create_graph:
        raise RuntimeError("create_graph=True (higher-order gradients) is not supported by tinytensor")
    if inputs is not None:
        raise RuntimeError("backward(inputs=...) is not supported by tinytensor; use autograd.grad")
    tensors = _as_list(tensors)
    _refresh_roots(tensors)
    run_backward(tensors, _root_grads(tensors, _as_list(grad_tensors)), bool(retain_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None):
    """Gradients of `outputs` with respect to `inputs`, without touching any `.grad`.

    >>> x = tt.tensor([1., 2.], requires_grad=True)
    >>> tt.autograd.grad((x ** 3).sum(), [x])
    (tensor([ 3., 12.]),)
    """
    if create_graph:
        raise RuntimeError("create_graph=True (higher-order gradients) is not supported by tinytensor")
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    _refresh_roots(outputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad")
    result = run_backward(outputs, _root_grads(outputs, _as_list(grad_outputs)),
                          bool(retain_graph), inputs=inputs)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in "
                               "the graph. Set allow_unused=True if this is the desired behavior.")
    return tuple(result)
