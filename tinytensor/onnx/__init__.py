"""ONNX export: ``tinytensor.onnx.export(model, args, f, ...)`` as ``torch.onnx.export``.

Needs the optional ``onnx`` package (``pip install "tinytensor[onnx]"``); importing this module
does not. What converts (one converter per autograd Function, in ``tinytensor/onnx/_ops.py``):
Conv1d/2d/3d (any stride, padding, dilation, groups; padding modes through F.pad: reflect,
replicate, circular, constant), max/avg pools 1-3-D (ceil_mode, count_include_pad, dilation),
adaptive avg/max pools (global, or input sizes that are multiples of the output), BatchNorm in
eval, Linear, matmul, relu/leaky_relu/sigmoid/tanh/softmax/log_softmax and the elementwise
unary ops, add/sub/mul/div/pow/maximum/minimum with scalars and broadcasting, clamp, where,
view/reshape/flatten/squeeze/unsqueeze/permute/transpose/expand, basic indexing, cat/stack,
sum/mean/amax/amin/max(dim)/min(dim)/var/std, dtype casts. Dropout in eval is the identity
(no op). Anything else raises :class:`UnsupportedOperatorError` naming the op.

Example:
    >>> import io
    >>> import tinytensor as tt
    >>> import tinytensor.onnx
    >>> buf = io.BytesIO()
    >>> tt.onnx.export(tt.nn.Linear(3, 2), tt.randn(1, 3), buf)
    >>> len(buf.getvalue()) > 0
    True
"""
from tinytensor.onnx._export import UnsupportedOperatorError, export

__all__ = ["export", "UnsupportedOperatorError"]
