"""ONNX export: ``tinytensor.onnx.export(model, args, f, ...)`` as ``torch.onnx.export``.

Needs the optional ``onnx`` package (``pip install "tinytensor[onnx]"``); importing this module
does not. The ops that convert are listed in ``tinytensor/onnx/_ops.py``; anything else raises
:class:`UnsupportedOperatorError` naming the op.
"""
from tinytensor.onnx._export import UnsupportedOperatorError, export

__all__ = ["export", "UnsupportedOperatorError"]
