"""Elementwise operations: forward/backward pairs over broadcast, promoted operands.

Each op promotes its operands to PyTorch's result dtype, computes with a kernel from
`tinytensor._kernels.elementwise`, and saves for backward only what the gradient formula needs.
Gradients come out in the broadcast shape; the engine sums them back to each input's shape.
"""
import numpy as np

from tinytensor._kernels import elementwise as K
from tinytensor._tensor import bool_, float32, float64
from tinytensor._promotion import _scalar_or_tensor, get_default_dtype, result_type
from tinytensor._tensor_type import Tensor, _c, _oom, _wrap
from tinytensor.autograd.function import Function


def _operand(x, dt):
    """A NumPy array (or Python scalar) of `x` in dtype `dt`."""
    if isinstance(x, Tensor):
        a = x._numpy()
        return a if a.dtype == dt.np_dtype else a.astype(dt.np_dtype)
    return dt.np_dtype.type(x) if dt is not bool_ else bool(x)


def _arr(x):
    return x._numpy() if isinstance(x, Tensor) else x


def _check_broadcast(a, b):
    sa = a._shape if isinstance(a, Tensor) else ()
    sb = b._shape if isinstance(b, Tensor) else ()
    if sa == sb:
        return
    for i in range(1, min(len(sa), len(sb)) + 1):
        x, y = sa[-i], sb[-i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                               f"at non-singleton dimension {max(len(sa), len(sb)) - i}")


class _Binary(Function):
    op = None

    @classmethod
    def run(cls, a, b):
        if type(a) is Tensor and type(b) is Tensor and a._shape == b._shape:
            return cls.apply(a, b)           # the common call: nothing to convert or check
        a, b = _scalar_or_tensor(a), _scalar_or_tensor(b)
        _check_broadcast(a, b)
        return cls.apply(a, b)


class Add(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        dt = result_type(a, b)
        return _wrap(K.binary("add", _operand(a, dt), _operand(b, dt)))

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        dt = result_type(a, b)
        if dt is bool_:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        if any(x._dtype is bool_ if isinstance(x, Tensor) else isinstance(x, (bool, np.bool_))
               for x in (a, b)):
            # PyTorch refuses a bool operand on either side, whatever the result type
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                               "supported. If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return _wrap(K.binary("sub", _operand(a, dt), _operand(b, dt)))

    @staticmethod
    def backward(ctx, g):
        return g, (_wrap(K.unary("neg", g._numpy())) if ctx.needs_input_grad[1] else None)


class Mul(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        dt = result_type(a, b)
        # Python scalars stay on ctx; tensors are saved (version-checked) only where needed
        ctx.sa = None if isinstance(a, Tensor) else a
        ctx.sb = None if isinstance(b, Tensor) else b
        ctx.save_for_backward(a if ctx.sa is None and ctx.needs_input_grad[1] else None,
                              b if ctx.sb is None and ctx.needs_input_grad[0] else None)
        return _wrap(K.binary("mul", _operand(a, dt), _operand(b, dt)))

    @staticmethod
    def backward(ctx, g):
        ta, tb = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _wrap(K.binary("mul", g._numpy(), _arr(tb) if tb is not None else ctx.sb))
        if ctx.needs_input_grad[1]:
            gb = _wrap(K.binary("mul", g._numpy(), _arr(ta) if ta is not None else ctx.sa))
        return ga, gb


class Div(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        dt = result_type(a, b)
        if dt.category < 2:
            dt = get_default_dtype()          # true division of integers gives a float
        ctx.dt = dt
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.a, ctx.b = (None if isinstance(a, Tensor) else a), (None if isinstance(b, Tensor) else b)
        return _wrap(K.binary("div", _operand(a, dt), _operand(b, dt)))

    @staticmethod
    def backward(ctx, g):
        ta, tb = ctx.saved_tensors
        a = _operand(ta, ctx.dt) if ta is not None else ctx.a
        b = _operand(tb, ctx.dt) if tb is not None else ctx.b
        gy = g._numpy()
        ga = _wrap(K.binary("div", gy, b)) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = _wrap(-(gy * a) / (b * b))
        return ga, gb


class Pow(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        dt = result_type(a, b)
        if dt.category < 2 and isinstance(b, Tensor) is False and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        xa, xb = _operand(a, dt), _operand(b, dt)
        if dt.category < 2 and np.any(xb < 0):
            # integer tensor exponents may be negative (PyTorch: 1, +-1 for base -1, else 0)
            neg = xb < 0
            out = np.power(xa, np.where(neg, 0, xb))
            out = np.where(neg, np.where(xa == 1, 1, np.where(xa == -1, 1 - 2 * (xb & 1), 0)),
                           out).astype(out.dtype)
        else:
            out = np.power(xa, xb)
        ctx.xa, ctx.xb = xa, xb
        y = _wrap(_c(out))
        # the inputs and (for the exponent's gradient) the returned tensor itself: an in-place
        # change to any of them after forward makes backward refuse
        ctx.save_for_backward(*(t for t in (a, b) if isinstance(t, Tensor)),
                              y if ctx.needs_input_grad[1] else None)
        return y

    @staticmethod
    def backward(ctx, g):
        saved = ctx.saved_tensors        # refuses if an input or the output changed in place
        xa, xb, gy = ctx.xa, ctx.xb, g._numpy()
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # d/dx x**b = b * x**(b - 1), and 0 where b == 0 (x**0 is constant; 0**-1 is inf)
            with np.errstate(divide="ignore", invalid="ignore"):
                d = xb * np.power(xa, xb - 1)
            ga = _wrap(_c(gy * np.where(xb == 0, d.dtype.type(0), d)))
        if ctx.needs_input_grad[1]:
            out = saved[-1]._numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.where((xa == 0) & (xb >= 0), 0.0, out * np.log(xa))
            gb = _wrap(_c(gy * lg).astype(gy.dtype, copy=False))
        return ga, gb


class _MaxMin(_Binary):
    """maximum/minimum; at ties each side gets half the gradient, as PyTorch."""

    @staticmethod
    def forward(ctx, a, b):
        dt = result_type(a, b)
        xa, xb = _operand(a, dt), _operand(b, dt)
        ctx.save_for_backward(a, b)
        return _wrap(_c(ctx.fn(xa, xb)))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xa, xb, gy = a._numpy(), b._numpy(), g._numpy()
        win = ctx.win(xa, xb)
        half = np.where(xa == xb, gy * 0.5, gy)
        ga = _wrap(_c(np.where(win | (xa == xb), half, 0).astype(gy.dtype)))
        gb = _wrap(_c(np.where(~win | (xa == xb), half, 0).astype(gy.dtype)))
        return ga, gb


class Maximum(_MaxMin):
    @staticmethod
    def forward(ctx, a, b):
        ctx.fn, ctx.win = np.maximum, np.greater
        return _MaxMin.forward(ctx, a, b)


class Minimum(_MaxMin):
    @staticmethod
    def forward(ctx, a, b):
        ctx.fn, ctx.win = np.minimum, np.less
        return _MaxMin.forward(ctx, a, b)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        dt = result_type(a, b)
        c = cond._numpy()
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            ctx.save_for_backward(cond)       # version-checked: the mask routes the gradient
        return _wrap(_c(np.where(c, _operand(a, dt), _operand(b, dt))))

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        c, gy = cond._numpy(), g._numpy()
        ga = _wrap(_c(np.where(c, gy, 0).astype(gy.dtype))) if ctx.needs_input_grad[1] else None
        gb = _wrap(_c(np.where(c, 0, gy).astype(gy.dtype))) if ctx.needs_input_grad[2] else None
        return None, ga, gb


# ---------------------------------------------------------------------- unary

_FLOAT_RESULT = {"exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos"}


class Unary(Function):
    """exp log sqrt abs tanh sigmoid relu sin cos neg: y = f(x), dy/dx from x or y."""

    @staticmethod
    def forward(ctx, x, op):
        a = x._numpy()
        if op in _FLOAT_RESULT and not x._dtype.is_floating_point:
            a = a.astype(get_default_dtype().np_dtype)
        if op in ("neg",) and x._dtype is bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        y = K.unary(op, a)
        ctx.op = op
        out = _wrap(y)
        if ctx.needs_input_grad[0]:
            # the gradient of these is cheapest from the output; of the rest from the input.
            # Save the returned tensor itself, so an in-place change to it bumps the version seen here
            ctx.save_for_backward(out if op in ("exp", "sqrt", "tanh", "sigmoid", "relu") else x)
            ctx.out = op in ("exp", "sqrt", "tanh", "sigmoid", "relu")
        return out

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return _wrap(K.unary_backward(ctx.op, g._numpy(), s._numpy())), None


class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        a = x._numpy()
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        dt = x._dtype
        if (isinstance(lo, float) or isinstance(hi, float)) and not dt.is_floating_point:
            a = a.astype(get_default_dtype().np_dtype)
        return _wrap(_c(np.clip(a, lo, hi)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        a = x._numpy()
        keep = np.ones(a.shape, bool)
        if ctx.lo is not None:
            keep &= a >= ctx.lo
        if ctx.hi is not None:
            keep &= a <= ctx.hi
        gy = g._numpy()
        return _wrap(_c(np.where(keep, gy, 0).astype(gy.dtype))), None, None


# ---------------------------------------------------------------------- entry points

def add(a, b):
    return Add.run(a, b)


def sub(a, b):
    return Sub.run(a, b)


def mul(a, b):
    return Mul.run(a, b)


def div(a, b):
    return Div.run(a, b)


def pow(a, b):
    return Pow.run(a, b)


def maximum(a, b):
    return Maximum.run(a, b)


def minimum(a, b):
    return Minimum.run(a, b)


def neg(x):
    return Unary.apply(x, "neg")


def unary(op, x):
    return Unary.apply(x, op)


def clamp(x, lo=None, hi=None):
    if lo is None and hi is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        out = x
        if lo is not None:
            out = maximum(out, lo)
        if hi is not None:
            out = minimum(out, hi)
        return out
    return Clamp.apply(x, lo, hi)


def where(cond, a, b):
    if not isinstance(cond, Tensor) or cond._dtype is not bool_:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {getattr(cond, 'dtype', type(cond).__name__)}")
    a, b = _scalar_or_tensor(a), _scalar_or_tensor(b)
    _check_broadcast(cond, a if isinstance(a, Tensor) else b)
    _check_broadcast(a, b)
    return Where.apply(cond, a, b)


_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
            "gt": np.greater, "ge": np.greater_equal}
_LOGICAL = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}


@_oom()
def compare(op, a, b):
    """Comparisons give bool tensors and carry no gradient."""
    try:
        b = _scalar_or_tensor(b)
    except TypeError:
        return NotImplemented if op not in ("eq", "ne") else (op == "ne")
    _check_broadcast(a, b)
    dt = result_type(a, b)
    return _wrap(_c(_COMPARE[op](_operand(a, dt), _operand(b, dt))))


@_oom()
def logical(op, a, b):
    b = _scalar_or_tensor(b)
    _check_broadcast(a, b)
    dt = result_type(a, b)
    if dt.is_floating_point:
        raise TypeError(f"bitwise_{op} is not implemented for floating point tensors")
    fn = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}[op]
    return _wrap(_c(fn(_operand(a, dt), _operand(b, dt))))
