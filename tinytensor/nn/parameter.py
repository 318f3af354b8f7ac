"""`Parameter`: a Tensor that a Module registers as one of its learnable parameters."""
from tinytensor.creation import empty
from tinytensor.tensor import Tensor, from_numpy


class Parameter(Tensor):
    """A leaf tensor that, assigned as a Module attribute, is registered as a parameter.

    `Parameter(data, requires_grad=True)` shares `data`'s storage (no copy), as PyTorch's does.

    Args:
        data: the tensor to wrap (default: an empty float32 tensor).
        requires_grad: whether the parameter takes gradients (default True).

    Example:
        >>> w = nn.Parameter(tt.ones(2))
        >>> w
        Parameter containing:
        tensor([1., 1.], requires_grad=True)
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, got {type(data).__name__}")
        obj = Tensor.__new__(cls)
        obj._init(data._storage, data._shape, data._stride, data._offset, data._dtype)
        obj._base = None
        obj.grad = None
        obj.grad_fn = None
        if requires_grad:
            obj.requires_grad_(True)
        return obj

    def __init__(self, data=None, requires_grad=True):
        pass                          # everything happens in __new__ (Tensor.__init__ refuses)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach()._numpy().copy(), self.requires_grad))


def _rebuild_parameter(array, requires_grad):
    return Parameter(from_numpy(array), requires_grad)
