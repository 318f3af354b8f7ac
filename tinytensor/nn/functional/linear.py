"""linear: y = input @ weight.T + bias."""
from tinytensor._functions.linear import LinearFunction
from tinytensor.tensor import Tensor, _named

__all__ = ["linear"]

_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}
_C_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "bool": "bool"}


def linear(input, weight, bias=None):
    """Apply y = x W^T + b.

    Args:
        input: ``(*, in_features)``. weight: (out_features, in_features). bias: (out_features,).

    Shape:
        output ``(*, out_features)``.

    Raises:
        RuntimeError: PyTorch's "mat1 and mat2 shapes cannot be multiplied (4x3 and 5x2)" when
            in_features differ, or a dtype mismatch.

    >>> F.linear(tt.tensor([[1., 2.]]), tt.tensor([[1., 1.], [0., 1.]]), tt.tensor([0.5, 0.]))
    tensor([[3.5000, 2.0000]])
    """
    if (isinstance(input, Tensor) and isinstance(weight, Tensor) and len(input._shape) >= 2
            and len(weight._shape) == 2 and input._shape[-1] == weight._shape[1]
            and input._dtype is weight._dtype
            and (bias is None or (isinstance(bias, Tensor) and bias._dtype is input._dtype
                                  and bias._shape == (weight._shape[0],)))):
        return LinearFunction.apply(input, weight, bias)     # the common call: all checks pass
    for i, (name, t) in enumerate((("input", input), ("weight", weight))):
        if not isinstance(t, Tensor):
            raise TypeError(f"linear(): argument '{name}' (position {i + 1}) must be Tensor, "
                            f"not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"linear(): argument 'bias' (position 3) must be Tensor, not "
                        f"{type(bias).__name__}")
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.ndim}D and {weight.ndim}D")
    if weight.ndim != 2:
        # PyTorch computes input @ weight.T for these ranks too (a 1-D weight is a dot product)
        out = input.matmul(weight.t() if weight.ndim <= 2 else weight.transpose(-1, -2))
        return out + bias if bias is not None else out
    if input.ndim == 1:
        out = linear(input.unsqueeze(0), weight, bias).squeeze(0)
        return _named(out, "ViewBackward0")       # PyTorch's node for a 1-D input
    k = input.shape[-1]
    rows = input.numel() // k if k else 0
    if k != weight.shape[1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    if input._dtype is not weight._dtype:
        if bias is None:         # PyTorch's matmul path
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{_C_NAMES[input._dtype.name]} != "
                               f"{_C_NAMES[weight._dtype.name]}")
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "        # addmm
                           f"{_SCALAR_NAMES[input._dtype.name]} and "
                           f"{_SCALAR_NAMES[weight._dtype.name]}")
    if bias is not None:
        if bias._dtype is not input._dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{_SCALAR_NAMES[bias._dtype.name]} and "
                               f"{_SCALAR_NAMES[input._dtype.name]}")
        out_features = weight.shape[0]
        if bias.ndim > 1 or (bias.numel() != out_features and bias.numel() != 1):
            target = list(input.shape[:-1]) + [out_features]
            raise RuntimeError(f"The expanded size of the tensor ({out_features}) must match "
                               f"the existing size ({bias.shape[-1] if bias.ndim else 1}) at "
                               f"non-singleton dimension {len(target) - 1}.  Target sizes: "
                               f"{target}.  Tensor sizes: {list(bias.shape)}")
        if bias.numel() == 1 and weight.shape[0] != 1:
            return LinearFunction.apply(input, weight, None) + bias
    return LinearFunction.apply(input, weight, bias)
