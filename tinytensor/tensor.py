"""The Tensor API: PyTorch's tensor methods, and the ops of the tinytensor namespace.

Layering: the layout (storage, shape, strides, offset, views) lives in `_tensor.TensorBase`;
every operation that computes is a `Function` in `tinytensor._functions`, which records the
autograd graph and calls a kernel. This file connects names to those functions, converts
arguments, and applies PyTorch's type promotion.

Where the class lives. The Functions create tensors, so the class object must exist below them:
it is made in `_tensor_type.py` (with the data and autograd slots of `TensorBase`), and this
file, above the Functions, gives it its methods: they are written below in the body of
`_TensorMethods`, in one place, and `_install` copies every one onto `Tensor` at import. So
`tinytensor.tensor.Tensor is tinytensor.Tensor is tinytensor._tensor_type.Tensor`, one class
(pickle, isinstance and subclasses such as nn.Parameter see nothing else), and no module imports
one above it. The methods stay here, not in the low module, because they call the Functions.
"""
import numpy as np

from tinytensor import _args, _tensor, autograd, random
from tinytensor._format import format_tensor
from tinytensor._functions import activation as _act
from tinytensor._functions import elementwise as _ew
from tinytensor._functions import matmul as _mm
from tinytensor._functions import reduce as _red
from tinytensor._functions import shape as _shape
from tinytensor._functions import sort as _sort
from tinytensor._hooks import RemovableHandle
# Re-exported: the names other modules (and user code) import from tinytensor.tensor.
from tinytensor._promotion import (_DEFAULT_DTYPE, _promotion_info, _scalar_or_tensor,  # noqa: F401
                                   get_default_dtype, promote_types, result_type)
from tinytensor._tensor import (Size, Storage, TensorBase, as_dtype, bool_,  # noqa: F401
                                dtype_from_numpy, float32, float64, int64, wrap_dim)
from tinytensor._tensor_type import (Tensor, _OutOfMemory, _c, _named, _oom, _wrap,  # noqa: F401
                                     from_numpy, sum_to_shape)
from tinytensor.autograd.function import refresh_view, stale_view
from tinytensor.autograd.grad_mode import _state
from tinytensor.creation import (_check_creation_grad, _has_big_int, _infer_numpy,  # noqa: F401
                                 _shape_arg, as_tensor, from_dlpack, ones, tensor, zeros)


class _TensorMethods:
    """The body of `Tensor` (the class made in `_tensor_type.py`): `_install` below copies
    every method and property defined here onto it."""

    # Make NumPy defer to our reflected operators (`ndarray + Tensor` -> Tensor.__radd__).
    __array_priority__ = 1000

    def __init__(self, *args, **kwargs):
        raise TypeError("use tinytensor.tensor(data), tinytensor.zeros(shape), ... to make a tensor")

    # ------------------------------------------------------------------ attributes

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't require "
                               "differentiation use var_no_grad = var.detach().")
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def T(self):
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, other):
        """Point this tensor at `other`'s memory, shape and dtype, outside autograd (PyTorch's
        checks: a tensor, and a floating point one when this tensor requires grad)."""
        if not isinstance(other, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(other).__name__}")
        if self._requires_grad and not other._dtype.is_floating_point:
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")
        self._init(other._storage, other._shape, other._stride, other._offset, other._dtype)

    @property
    def device(self):
        """Always `device(type='cpu')`: tinytensor computes on the CPU."""
        return _args.CPU

    is_cuda = False
    is_xpu = False
    is_mps = False
    is_meta = False

    def is_floating_point(self):
        return self._dtype.is_floating_point

    # ------------------------------------------------------------------ conversion

    def numpy(self):
        """A NumPy array sharing this tensor's memory."""
        if self._requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._numpy()

    def __array__(self, dtype=None, copy=None):
        a = self.detach()._numpy()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        if copy:
            return a.copy()
        return a

    def __dlpack__(self, *args, **kwargs):
        return self.detach()._numpy().__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._numpy().__dlpack_device__()

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._numpy().reshape(-1)[0].item()

    @_oom()
    def tolist(self):
        return self._numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self._dtype is not int64 or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return format_tensor(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self.ndim == 0:
            return self.item().__format__(spec)
        return repr(self)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self.detach()._numpy().copy(), self._requires_grad))

    def __deepcopy__(self, memo):
        out = self.detach().clone()
        out._requires_grad = self._requires_grad
        if type(self) is not Tensor:
            out = type(self)(out, self._requires_grad)
        memo[id(self)] = out
        return out

    def to(self, *args, **kwargs):
        """`to(dtype)`, `to('cpu')`, `to(other_tensor)`, `to(device, dtype)`: a dtype change
        (or copy=True) copies, else self. Any device but the CPU raises RuntimeError.

        >>> tt.ones(2).to("cpu", tt.float64)
        tensor([1., 1.], dtype=tinytensor.float64)
        """
        _, dt, _, copy = _args.parse_to(*args, **kwargs)
        if dt is None or dt is self._dtype:
            return self.clone() if copy else self
        return _named(_shape.ToDtype.apply(self, dt), "ToCopyBackward0")

    def type(self, dtype=None):
        if dtype is None:
            return f"tinytensor.{self._dtype.name}"
        return self.to(dtype)

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def long(self):
        return self.to(int64)

    def bool(self):
        return self.to(bool_)

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        _args.check_device("cuda" if device is None else device)

    # ------------------------------------------------------------------ autograd

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self):
        """A tensor on the same storage, outside the graph."""
        t = self._make_view(self._shape, self._stride, self._offset)
        t._base = self._base
        return t

    def detach_(self):
        if self._base is not None and self.grad_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            return
        raise RuntimeError("retain_grad() on non-leaf tensors is not supported by tinytensor; "
                           "use tinytensor.autograd.grad(output, [tensor]) instead")

    def register_post_accumulate_grad_hook(self, hook):
        """Call `hook(self)` each time backward has accumulated a gradient into `self.grad`.

        Only for leaf tensors that require grad (DistributedDataParallel starts a bucket's
        all-reduce from these). Returns a handle whose `remove()` unregisters the hook.

        >>> w = tt.ones(2, requires_grad=True)
        >>> h = w.register_post_accumulate_grad_hook(lambda p: print("grad", p.grad))
        >>> (w * 3).sum().backward()
        grad tensor([3., 3.])
        >>> h.remove()
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        hooks = self.__dict__.setdefault("_post_accumulate_grad_hooks", {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_hook(self, hook):
        raise RuntimeError("register_hook is not supported by tinytensor")

    # ------------------------------------------------------------------ layout and views

    def contiguous(self):
        if self.is_contiguous():
            return self
        return _shape.Clone.apply(self)

    def clone(self):
        return _shape.Clone.apply(self)

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], _tensor.dtype):
            raise RuntimeError("view(dtype) is not supported by tinytensor; use .to(dtype)")
        return _shape.View.apply(self, _shape_arg(shape, "view"))

    def view_as(self, other):
        return self.view(other.shape)

    def reshape(self, *shape):
        shape = self._infer_shape(_shape_arg(shape, "reshape"))
        if self._view_shape(shape) is not None:
            return _shape.View.apply(self, shape)
        return _named(_shape.View.apply(self.clone(), shape), "UnsafeViewBackward0")

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        n = self.ndim
        if n == 0:
            return self.reshape(1)
        s, e = wrap_dim(start_dim, n), wrap_dim(end_dim, n)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return self
        mid = 1
        for d in self._shape[s:e + 1]:
            mid *= d
        return self.reshape(self._shape[:s] + (mid,) + self._shape[e + 1:])

    @_args.numpy_aliases
    def unflatten(self, dim, sizes):
        d = wrap_dim(dim, self.ndim)
        return self.view(self._shape[:d] + tuple(sizes) + self._shape[d + 1:])

    def permute(self, *dims):
        return _shape.Permute.apply(self, _shape_arg(dims, "permute"))

    def transpose(self, dim0, dim1):
        n = self.ndim
        perm = list(range(n))
        if n:
            d0, d1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
            perm[d0], perm[d1] = perm[d1], perm[d0]
        else:
            wrap_dim(dim0, 0), wrap_dim(dim1, 0)
        return _named(_shape.Permute.apply(self, tuple(perm)), "TransposeBackward0")

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        if self.ndim < 2:       # a view of itself, as PyTorch (an in-place op on it is a view op)
            return _named(_shape.Permute.apply(self, tuple(range(self.ndim))), "TBackward0")
        return _named(self.transpose(0, 1), "TBackward0")

    @_args.numpy_aliases
    def unsqueeze(self, dim):
        return _named(_shape.View.apply(self, None, ("unsqueeze", dim)), "UnsqueezeBackward0")

    @_args.numpy_aliases
    def squeeze(self, dim=None):
        return _named(_shape.View.apply(self, None, ("squeeze", dim)),
                      "SqueezeBackward0" if dim is None else "SqueezeBackward1")

    def expand(self, *sizes):
        return _shape.Expand.apply(self, _shape_arg(sizes, "expand"))

    def expand_as(self, other):
        return self.expand(other.shape)

    def __getitem__(self, index):
        return _shape.index(self, index)

    def __setitem__(self, index, value):
        _shape.setitem(self, index, value)

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other):
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, other):
        return _named(_ew.pow(self, other),
                      "PowBackward1" if isinstance(other, Tensor) else "PowBackward0")

    def __rpow__(self, other):
        return _named(_ew.pow(other, self), "PowBackward2")

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.unary("abs", self)

    def __eq__(self, other):
        return _ew.compare("eq", self, other)

    def __ne__(self, other):
        return _ew.compare("ne", self, other)

    def __lt__(self, other):
        return _ew.compare("lt", self, other)

    def __le__(self, other):
        return _ew.compare("le", self, other)

    def __gt__(self, other):
        return _ew.compare("gt", self, other)

    def __ge__(self, other):
        return _ew.compare("ge", self, other)

    def __invert__(self):
        if self._dtype is int64:
            return _wrap(_c(np.invert(self._numpy())))        # bitwise not, as PyTorch
        if self._dtype is not bool_:
            raise TypeError("~ (logical not) is only supported for bool and integer tensors")
        return _ew.compare("eq", self, False)

    def __and__(self, other):
        return _ew.logical("and", self, other)

    def __or__(self, other):
        return _ew.logical("or", self, other)

    def __xor__(self, other):
        return _ew.logical("xor", self, other)

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    divide = __truediv__
    multiply = __mul__
    subtract = __sub__
    neg = __neg__
    matmul = __matmul__
    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    def pow(self, exponent):
        return self.__pow__(exponent)

    def exp(self):
        return _ew.unary("exp", self)

    def log(self):
        return _ew.unary("log", self)

    def sqrt(self):
        return _ew.unary("sqrt", self)

    def abs(self):
        return _ew.unary("abs", self)

    def tanh(self):
        return _ew.unary("tanh", self)

    def sigmoid(self):
        return _ew.unary("sigmoid", self)

    def relu(self):
        return _ew.unary("relu", self)

    def sin(self):
        return _ew.unary("sin", self)

    def cos(self):
        return _ew.unary("cos", self)

    def square(self):
        return _ew.mul(self, self)

    def rsqrt(self):
        return _ew.div(1.0, _ew.unary("sqrt", self))

    def reciprocal(self):
        return _ew.div(1.0, self)

    def clamp(self, min=None, max=None):
        out = _ew.clamp(self, min, max)
        return out if isinstance(min, Tensor) or isinstance(max, Tensor) else \
            _named(out, "ClampBackward1")

    clip = clamp

    def maximum(self, other):
        return _ew.maximum(self, other)

    def minimum(self, other):
        return _ew.minimum(self, other)

    def where(self, condition, other):
        return where(condition, self, other)

    def logical_not(self):
        return _ew.compare("eq", self.bool(), False)

    def isnan(self):
        return _ew.compare("ne", self, self)

    # ------------------------------------------------------------------ reductions

    @_args.numpy_aliases
    def sum(self, dim=None, keepdim=False, dtype=None):
        return _named(_red.sum(self, dim, keepdim, dtype), None if dim is None else "SumBackward1")

    @_args.numpy_aliases
    def mean(self, dim=None, keepdim=False, dtype=None):
        return _named(_red.mean(self, dim, keepdim, dtype),
                      None if dim is None else "MeanBackward1")

    @_args.numpy_aliases
    def amax(self, dim=(), keepdim=False):
        return _named(_red.amax(self, dim, keepdim, "max"), "AmaxBackward0")

    @_args.numpy_aliases
    def amin(self, dim=(), keepdim=False):
        return _named(_red.amax(self, dim, keepdim, "min"), "AminBackward0")

    @_args.numpy_aliases
    def max(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return _ew.maximum(self, dim)
        return _named(_red.max_min(self, dim, keepdim, "max"),
                      "MaxBackward1" if dim is None else "MaxBackward0")

    @_args.numpy_aliases
    def min(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return _ew.minimum(self, dim)
        return _named(_red.max_min(self, dim, keepdim, "min"),
                      "MinBackward1" if dim is None else "MinBackward0")

    @_args.numpy_aliases
    def argmax(self, dim=None, keepdim=False):
        return _red.argmax(self, dim, keepdim, "max")

    @_args.numpy_aliases
    def argmin(self, dim=None, keepdim=False):
        return _red.argmax(self, dim, keepdim, "min")

    @_args.numpy_aliases
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _red.var(self, dim, unbiased, keepdim, correction)

    @_args.numpy_aliases
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _red.std(self, dim, unbiased, keepdim, correction)

    @_args.numpy_aliases
    def all(self, dim=None, keepdim=False):
        return _red.all_any(self, dim, keepdim, "all")

    @_args.numpy_aliases
    def any(self, dim=None, keepdim=False):
        return _red.all_any(self, dim, keepdim, "any")

    # ------------------------------------------------------------------ sorting, softmax

    @_args.numpy_aliases
    def sort(self, dim=-1, descending=False, *, stable=False):
        """See `tinytensor.sort`: a (values, indices) named tuple, stable."""
        return _sort.sort(self, dim, descending, stable=stable)

    @_args.numpy_aliases
    def argsort(self, dim=-1, descending=False, *, stable=False):
        """See `tinytensor.argsort`."""
        return _sort.argsort(self, dim, descending, stable=stable)

    def msort(self):
        return _sort.msort(self)

    @_args.numpy_aliases
    def topk(self, k, dim=-1, largest=True, sorted=True):
        """See `tinytensor.topk`: the k largest (or smallest) elements along dim."""
        return _sort.topk(self, k, dim, largest, sorted)

    @_args.numpy_aliases
    def softmax(self, dim, dtype=None):
        """`tinytensor.nn.functional.softmax(self, dim, dtype=dtype)`."""
        return _act.softmax("softmax", self, dim, dtype)

    @_args.numpy_aliases
    def log_softmax(self, dim, dtype=None):
        """`tinytensor.nn.functional.log_softmax(self, dim, dtype=dtype)`."""
        return _act.softmax("log_softmax", self, dim, dtype)

    # ------------------------------------------------------------------ in place

    def _check_inplace(self):
        """Refuse in-place writes PyTorch refuses; True when the write must be recorded."""
        if not self._storage.writeable:
            raise RuntimeError("this tensor shares memory with a read-only NumPy array and cannot "
                               "be written in place; call .clone() first")
        if _state.enabled and self._requires_grad:
            if self.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if self._base is not None and self._base.grad_fn is None and self._base._requires_grad:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")
            return True
        return False

    def _refuse_overlap(self):
        """PyTorch's check before an elementwise write: an expanded (stride 0) dimension
        would have several elements written to one memory location (an empty tensor has none)."""
        if 0 not in self._shape and any(st == 0 and n > 1
                                        for n, st in zip(self._shape, self._stride)):
            raise RuntimeError("unsupported operation: more than one element of the written-to "
                               "tensor refers to a single memory location. Please clone() the "
                               "tensor before performing the operation.")

    def _inplace_binary(self, fn, other):
        """self = fn(self, other), written into self's memory.

        Under autograd the op runs out of place on a copy of self's old value that carries self's
        history (PyTorch's "original self": `y.mul_(x)` needs the old y for x's gradient), and
        self takes over the result's history; a node that saved self before this write sees the
        version bump and refuses to backward, as PyTorch's version counter does.
        """
        recording = self._check_inplace() or (
            _state.enabled and isinstance(other, Tensor) and other._requires_grad)
        self._refuse_overlap()
        src = self
        if recording and self._base is not None:
            if stale_view(self):
                refresh_view(self)
        if recording:
            src = _wrap(np.array(self._numpy(), order="C", copy=True))
            src.grad_fn, src._output_nr = self.grad_fn, self._output_nr
            src._requires_grad = self._requires_grad
        res = fn(src, other)
        if res._shape != self._shape:
            raise RuntimeError(f"output with shape {list(self._shape)} doesn't match the broadcast "
                               f"shape {list(res._shape)}")
        if res._dtype.category > self._dtype.category:
            names = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}
            raise RuntimeError(f"result type {names[res._dtype.name]} can't be cast to the desired "
                               f"output type {names[self._dtype.name]}")
        if recording and self._base is not None:
            # the base takes a new history: its old value with this view's elements replaced
            base = self._base
            alias = base._make_view(base._shape, base._stride, base._offset)
            alias.grad_fn, alias._output_nr = base.grad_fn, base._output_nr
            alias._requires_grad = base._requires_grad
        np.copyto(self._numpy(), res._numpy(), casting="unsafe")
        self._bump_version()
        if recording and self._base is not None:
            new = _shape.ScatterView.apply(alias, res, self._shape, self._stride, self._offset)
            base.grad_fn, base._output_nr, base._requires_grad = new.grad_fn, 0, new._requires_grad
            refresh_view(self)             # this view now reads through the base's new history
        elif recording:
            self.grad_fn, self._output_nr = res.grad_fn, res._output_nr
            self._requires_grad = res._requires_grad
        return self

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = _ew.mul(other, alpha)
        return self._inplace_binary(_ew.add, other)

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = _ew.mul(other, alpha)
        return self._inplace_binary(_ew.sub, other)

    def mul_(self, other):
        return self._inplace_binary(_ew.mul, other)

    def div_(self, other):
        return self._inplace_binary(_ew.div, other)

    def pow_(self, other):
        return self._inplace_binary(_ew.pow, other)

    # `p -= lr * p.grad` changes p in place, as in PyTorch (without these, Python would bind
    # p to a new tensor and a hand-written optimizer step would silently change nothing)
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    def clamp_(self, min=None, max=None):
        return _named(self._inplace_binary(lambda a, _: _ew.clamp(a, min, max), None),
                      "ClampBackward1")

    def relu_(self):
        return self._inplace_binary(lambda a, _: _ew.unary("relu", a), None)

    def copy_(self, src):
        src = src if isinstance(src, Tensor) else tensor(src)
        return _named(self._inplace_binary(_shape.CopyInto.apply, src), "CopyBackwards")

    def zero_(self):
        if self._check_inplace():
            return _named(self._inplace_binary(_shape.CopyInto.apply,
                                               tensor(0, dtype=self._dtype)), "ZeroBackward0")
        self._numpy()[...] = 0
        self._bump_version()
        return self

    def fill_(self, value):
        if isinstance(value, Tensor) and value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        if self._check_inplace() or (_state.enabled and isinstance(value, Tensor)
                                     and value._requires_grad):
            # recorded: the old value gets a zero gradient, a tensor value the summed gradient
            v = value if isinstance(value, Tensor) else tensor(value, dtype=self._dtype)
            return _named(self._inplace_binary(_shape.CopyInto.apply, v),
                          "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")
        self._numpy()[...] = value.item() if isinstance(value, Tensor) else value
        self._bump_version()
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={a:g} > to={b:g}")
        self._check_inplace()
        self._refuse_overlap()
        self._numpy()[...] = random.uniform(a, b, self._shape, self._dtype.np_dtype)
        self._bump_version()
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        if not std >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        self._check_inplace()
        self._refuse_overlap()
        self._numpy()[...] = random.normal(mean, std, self._shape, self._dtype.np_dtype)
        self._bump_version()
        return self

    # ------------------------------------------------------------------ misc

    def new_zeros(self, *size, dtype=None):
        return zeros(*size, dtype=dtype or self._dtype)

    def new_ones(self, *size, dtype=None):
        return ones(*size, dtype=dtype or self._dtype)

    def new_tensor(self, data, dtype=None):
        return tensor(data, dtype=dtype or self._dtype)


def _rebuild(array, requires_grad):
    return from_numpy(array).requires_grad_(requires_grad)


def _install(cls, methods):
    """Copy the methods, properties and class attributes written in `methods` onto `cls`."""
    for name, value in vars(methods).items():
        if name in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            continue
        fn = value.fget if isinstance(value, property) else value
        if hasattr(fn, "__qualname__") and fn.__qualname__.startswith(methods.__name__ + "."):
            fn.__qualname__ = cls.__name__ + fn.__qualname__[len(methods.__name__):]
        setattr(cls, name, value)


_install(Tensor, _TensorMethods)
del _TensorMethods


# ---------------------------------------------------------------------- module-level ops

def matmul(a, b):
    return _mm.matmul(_scalar_or_tensor(a), _scalar_or_tensor(b))


def where(condition, input, other):
    return _ew.where(condition, input, other)


@_args.numpy_aliases
def softmax(input, dim, dtype=None):
    """`torch.softmax`: `tinytensor.nn.functional.softmax(input, dim, dtype=dtype)`.

    >>> tt.softmax(tt.tensor([0., 0.]), 0)
    tensor([0.5000, 0.5000])
    """
    return _act.softmax("softmax", input, dim, dtype)


@_args.numpy_aliases
def log_softmax(input, dim, dtype=None):
    """`torch.log_softmax`: `tinytensor.nn.functional.log_softmax(input, dim, dtype=dtype)`.

    >>> tt.log_softmax(tt.tensor([0., 0.]), 0)
    tensor([-0.6931, -0.6931])
    """
    return _act.softmax("log_softmax", input, dim, dtype)
