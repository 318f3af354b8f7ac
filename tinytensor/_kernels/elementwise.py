"""Elementwise kernels, NumPy fallback (replaced by the Cython kernels in elementwise.pyx)."""
import numpy as np


def _c(a):
    """C-contiguous, keeping 0-d results 0-d (np.ascontiguousarray makes them 1-d)."""
    return np.asarray(a, order="C")

_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}


def binary(op, a, b):
    return _c(_BINARY[op](a, b))


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


_UNARY = {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
          "tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda a: np.maximum(a, 0),
          "sin": np.sin, "cos": np.cos}


def unary(op, a):
    with np.errstate(all="ignore"):
        return _c(_UNARY[op](a)).astype(a.dtype, copy=False)


def unary_backward(op, g, s):
    """dL/dx from dL/dy `g` and the saved `s` (the output for exp/sqrt/tanh/sigmoid/relu,
    the input for the rest)."""
    with np.errstate(all="ignore"):
        if op == "neg":
            r = -g
        elif op == "exp":
            r = g * s
        elif op == "log":
            r = g / s
        elif op == "sqrt":
            r = g / (2 * s)
        elif op == "abs":
            r = g * np.sign(s)
        elif op == "tanh":
            r = g * (1 - s * s)
        elif op == "sigmoid":
            r = g * s * (1 - s)
        elif op == "relu":
            r = np.where(s > 0, g, 0)
        elif op == "sin":
            r = g * np.cos(s)
        elif op == "cos":
            r = -g * np.sin(s)
        else:
            raise ValueError(op)
    return _c(r).astype(g.dtype, copy=False)
