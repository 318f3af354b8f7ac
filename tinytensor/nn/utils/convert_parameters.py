"""Parameters as one flat vector and back (`torch.nn.utils.convert_parameters`)."""
from tinytensor._functions.shape import cat
from tinytensor.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Concatenate the flattened `parameters` into one 1-D tensor (differentiable).

    Example:
        >>> parameters_to_vector(nn.Linear(2, 3).parameters()).shape
        tinytensor.Size([9])
    """
    vec = []
    for param in parameters:
        vec.append(param.view(-1))
    return cat(vec)


def vector_to_parameters(vec, parameters):
    """Make each of `parameters` the next slice of the 1-D `vec` (as `param.data = ...`: the
    parameters then share `vec`'s memory, as in PyTorch).

    Raises:
        TypeError: `vec` is not a tensor.
        RuntimeError: `vec` is too short for a parameter's shape.

    Example:
        >>> lin = nn.Linear(2, 3)
        >>> vector_to_parameters(tt.zeros(9), lin.parameters())
        >>> lin.bias
        Parameter containing:
        tensor([0., 0., 0.], requires_grad=True)
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for param in parameters:
        num = param.numel()
        param.data = vec[pointer:pointer + num].view_as(param).data
        pointer += num
