"""repr of tensors in PyTorch's format: `tensor([[1., 2.]], requires_grad=True)`."""
import numpy as np

from tinytensor._tensor import float32, float64, int64, bool_


def _float_formatter(a):
    """PyTorch's choice: integral values print as `1.`; a wide dynamic range switches to
    scientific notation; otherwise four decimals. Every element gets the same width."""
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        fmt = "{:.4f}"
    elif np.all(finite == np.round(finite)):
        big = np.abs(finite).max()
        fmt = "{:.4e}" if big > 1e8 else "{:.0f}."
    else:
        nz = np.abs(finite[finite != 0])
        lo, hi = (nz.min(), nz.max()) if nz.size else (0.0, 0.0)
        fmt = "{:.4e}" if nz.size and (hi / lo > 1000 or hi > 1e8 or lo < 1e-4) else "{:.4f}"

    def one(x):
        if np.isnan(x):
            return "nan"
        if np.isinf(x):
            return "inf" if x > 0 else "-inf"
        return fmt.format(x)
    width = max((len(one(x)) for x in a.reshape(-1)[:10000]), default=0)
    return lambda x: one(x).rjust(width)


def format_tensor(t):
    a = t.detach()._numpy()
    suffix = []
    if t._dtype is float64 or (t._dtype is not float32 and t._dtype is not int64
                               and t._dtype is not bool_):
        suffix.append(f"dtype=tinytensor.{t._dtype.name}")
    if t.numel() == 0 and t.ndim != 1:
        body = "[]"
        suffix.insert(0, f"size={tuple(t.shape)}")
    else:
        if t._dtype.is_floating_point:
            formatter = {"float_kind": _float_formatter(a)}
        elif t._dtype is bool_:
            formatter = {"bool": lambda x: "True" if x else "False"}
        else:
            width = max((len(str(x)) for x in a.reshape(-1)[:10000]), default=0)
            formatter = {"int": lambda x: str(x).rjust(width)}
        body = np.array2string(a, separator=", ", prefix="tensor(", formatter=formatter,
                               threshold=1000, edgeitems=3, max_line_width=80)
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffix) + ")"
