"""The Tensor API: PyTorch's tensor methods, and the ops of the tinytensor namespace.

Layering: the layout (storage, shape, strides, offset, views) lives in `_tensor.TensorBase`;
every operation that computes is a `Function` in `tinytensor._functions`, which records the
autograd graph and calls a kernel. This file connects names to those functions, converts
arguments, and applies PyTorch's type promotion.

Where the class lives. The Functions create tensors, so the class object must exist below them:
it is made in the data layer (`_tensor.pyx`, with the data and autograd slots of `TensorBase`;
its views are made there too), and this file, above the Functions, gives it its methods: they
are written below in the body of `_TensorMethods`, in one place, and `_install` copies every
one onto `Tensor` at import. So `tinytensor.tensor.Tensor is tinytensor.Tensor`, one class
(pickle, isinstance and subclasses such as nn.Parameter see nothing else), no module imports
one above it, and no lower layer needs to be told the class at run time. The methods stay here,
not in a lower module, because they call the Functions.
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
from tinytensor.autograd import engine as _autograd_engine
from tinytensor.autograd.function import refresh_view, stale_view
from tinytensor.autograd.grad_mode import _state
from tinytensor.creation import (_check_creation_grad, _has_big_int, _infer_numpy,  # noqa: F401
                                 _shape_arg, as_tensor, from_dlpack, ones, tensor, zeros)


class _TensorMethods:
    """The body of `Tensor` (the class made in `_tensor.pyx`): `_install` below copies every
    method and property defined here onto it."""

    # Make NumPy defer to our reflected operators (`ndarray + Tensor` -> Tensor.__radd__).
    __array_priority__ = 1000

    def __init__(self, *args, **kwargs):
        raise TypeError("use tinytensor.tensor(data), tinytensor.zeros(shape), ... to make a tensor")

    # ------------------------------------------------------------------ attributes

    @property
    def requires_grad(self):
        """Whether autograd records the operations on this tensor (``torch.Tensor.requires_grad``);
        assign it on a leaf to start or stop recording.

        >>> x = tt.ones(2)
        >>> x.requires_grad
        False
        >>> x.requires_grad = True
        >>> (x * 2).requires_grad
        True
        """
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self (only floating point tensors, and only
        leaves, can change it), as ``torch.Tensor.requires_grad_``.

        >>> tt.zeros(2).requires_grad_()
        tensor([0., 0.], requires_grad=True)
        """
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
        """True for a tensor no recorded op made (made by the user, or not requiring grad): only
        leaves get a ``.grad`` from backward (``torch.Tensor.is_leaf``).

        >>> x = tt.ones(2, requires_grad=True)
        >>> x.is_leaf, (x * 2).is_leaf
        (True, False)
        """
        return self.grad_fn is None

    @property
    def T(self):
        """The tensor with its dimensions reversed, a view (``torch.Tensor.T``).

        >>> tt.tensor([[1, 2, 3]]).T
        tensor([[1],
                [2],
                [3]])
        """
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self):
        """The last two dimensions swapped, a view: a batch of matrices transposed
        (``torch.Tensor.mT``).

        >>> tt.zeros(4, 2, 3).mT.shape
        tinytensor.Size([4, 3, 2])
        """
        return self.transpose(-2, -1)

    @property
    def data(self):
        """The tensor's values outside autograd: a detached alias of the same memory
        (``torch.Tensor.data``). Assigning ``x.data = y`` points ``x`` at ``y``'s memory, shape and
        dtype without recording anything (``y`` must be a tensor; a floating point one when ``x``
        requires grad).

        >>> x = tt.ones(2, requires_grad=True)
        >>> x.data
        tensor([1., 1.])
        """
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
        """The device the tensor lives on: always ``device(type='cpu')``, tinytensor computes on
        the CPU (``torch.Tensor.device``).

        >>> tt.ones(1).device
        device(type='cpu')
        """
        return _args.CPU

    is_cuda = False
    is_xpu = False
    is_mps = False
    is_meta = False

    def is_floating_point(self):
        """True when the dtype is a floating point one (float32, float64), as
        ``torch.Tensor.is_floating_point``.

        >>> tt.tensor([1.]).is_floating_point(), tt.tensor([1]).is_floating_point()
        (True, False)
        """
        return self._dtype.is_floating_point

    # ------------------------------------------------------------------ conversion

    def numpy(self):
        """A NumPy array sharing this tensor's memory (``torch.Tensor.numpy``); refused on a tensor
        that requires grad (call ``.detach().numpy()``).

        >>> tt.tensor([1., 2.]).numpy()
        array([1., 2.], dtype=float32)
        """
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
        """The value of a one-element tensor as a Python number (``torch.Tensor.item``).

        >>> tt.tensor([2.5]).item()
        2.5
        """
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._numpy().reshape(-1)[0].item()

    @_oom()
    def tolist(self):
        """The values as (nested) Python lists of Python numbers (``torch.Tensor.tolist``).

        >>> tt.tensor([[1, 2], [3, 4]]).tolist()
        [[1, 2], [3, 4]]
        """
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
        """With no argument, the type's name; with a dtype, ``self.to(dtype)``
        (``torch.Tensor.type``).

        >>> x = tt.ones(1)
        >>> x.type()
        'tinytensor.float32'
        >>> x.type(tt.int64)
        tensor([1])
        """
        if dtype is None:
            return f"tinytensor.{self._dtype.name}"
        return self.to(dtype)

    def float(self):
        """``self.to(tinytensor.float32)`` (``torch.Tensor.float``).

        >>> tt.tensor([1, 0]).float()
        tensor([1., 0.])
        """
        return self.to(float32)

    def double(self):
        """``self.to(tinytensor.float64)`` (``torch.Tensor.double``).

        >>> tt.tensor([1]).double()
        tensor([1.], dtype=tinytensor.float64)
        """
        return self.to(float64)

    def long(self):
        """``self.to(tinytensor.int64)``: floating point values are truncated toward zero
        (``torch.Tensor.long``).

        >>> tt.tensor([1.7, -1.7]).long()
        tensor([ 1, -1])
        """
        return self.to(int64)

    def bool(self):
        """``self.to(tinytensor.bool)``: nonzero is True (``torch.Tensor.bool``).

        >>> tt.tensor([0., 2.]).bool()
        tensor([False,  True])
        """
        return self.to(bool_)

    def cpu(self):
        """This tensor itself: it is on the CPU already (``torch.Tensor.cpu``).

        >>> x = tt.ones(1)
        >>> x.cpu() is x
        True
        """
        return self

    def cuda(self, device=None, non_blocking=False):
        """Raises RuntimeError: tinytensor has no CUDA device (``torch.Tensor.cuda`` moves to one).

        >>> tt.ones(1).cuda()
        Traceback (most recent call last):
            ...
        RuntimeError: tinytensor runs on the CPU only: there is no 'cuda' device ...
        """
        _args.check_device("cuda" if device is None else device)

    # ------------------------------------------------------------------ autograd

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor with respect to every leaf that requires grad
        into the leaves' ``.grad`` (``torch.Tensor.backward``); a non-scalar tensor needs
        ``gradient``, the gradient flowing into it.

        >>> x = tt.tensor([1., 2.], requires_grad=True)
        >>> (x ** 2).sum().backward()
        >>> x.grad
        tensor([2., 4.])
        """
        if (gradient is None and inputs is None and not create_graph
                and _autograd_engine.backward_implicit(self, retain_graph)):
            return                       # the common `loss.backward()`, on the fast path
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self):
        """A tensor on the same memory, outside the autograd graph (``torch.Tensor.detach``).

        >>> x = tt.ones(2, requires_grad=True)
        >>> (x * 2).detach()
        tensor([2., 2.])
        """
        return _tensor.alias(self)

    def detach_(self):
        """Detach this tensor from the graph in place: it becomes a leaf that does not require grad
        (``torch.Tensor.detach_``).

        >>> y = tt.ones(2, requires_grad=True) * 2
        >>> y.detach_().requires_grad
        False
        """
        if self._base is not None and self.grad_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """PyTorch keeps ``.grad`` of a non-leaf tensor after this call; tinytensor does not
        support it (RuntimeError; use ``tinytensor.autograd.grad``). On a leaf it does nothing.

        >>> x = tt.ones(1, requires_grad=True)
        >>> x.retain_grad()
        """
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
        """PyTorch calls ``hook(grad)`` when the gradient of this tensor is computed; tinytensor
        does not support it (RuntimeError): see ``register_post_accumulate_grad_hook``.

        >>> tt.ones(1, requires_grad=True).register_hook(print)
        Traceback (most recent call last):
            ...
        RuntimeError: register_hook is not supported by tinytensor
        """
        raise RuntimeError("register_hook is not supported by tinytensor")

    # ------------------------------------------------------------------ layout and views

    def contiguous(self):
        """Self when its elements are laid out in row-major order, else a row-major copy
        (``torch.Tensor.contiguous``).

        >>> x = tt.zeros(2, 3).t()
        >>> x.is_contiguous(), x.contiguous().is_contiguous()
        (False, True)
        """
        if self.is_contiguous():
            return self
        return _shape.Clone.apply(self)

    def clone(self):
        """A copy with its own memory; gradients flow back to the original
        (``torch.Tensor.clone``).

        >>> x = tt.tensor([1., 2.])
        >>> y = x.clone()
        >>> y[0] = 5.
        >>> x
        tensor([1., 2.])
        """
        return _shape.Clone.apply(self)

    def view(self, *shape):
        """The same memory seen with another shape (one size may be -1); RuntimeError when the
        strides do not allow it, where ``reshape`` copies (``torch.Tensor.view``).

        >>> tt.arange(6).view(2, 3)
        tensor([[0, 1, 2],
                [3, 4, 5]])
        """
        if len(shape) == 1 and isinstance(shape[0], _tensor.dtype):
            raise RuntimeError("view(dtype) is not supported by tinytensor; use .to(dtype)")
        return _shape.View.apply(self, _shape_arg(shape, "view"))

    def view_as(self, other):
        """``self.view(other.shape)`` (``torch.Tensor.view_as``).

        >>> tt.arange(4).view_as(tt.zeros(2, 2)).shape
        tinytensor.Size([2, 2])
        """
        return self.view(other.shape)

    def reshape(self, *shape):
        """The values with another shape (one size may be -1): a view when the strides allow it,
        else a copy (``torch.Tensor.reshape``).

        >>> tt.arange(6).reshape(3, -1).shape
        tinytensor.Size([3, 2])
        """
        shape = self._infer_shape(_shape_arg(shape, "reshape"))
        if self._view_shape(shape) is not None:
            return _shape.View.apply(self, shape)
        return _named(_shape.View.apply(self.clone(), shape), "UnsafeViewBackward0")

    def reshape_as(self, other):
        """``self.reshape(other.shape)`` (``torch.Tensor.reshape_as``).

        >>> tt.arange(6).reshape_as(tt.zeros(2, 3)).shape
        tinytensor.Size([2, 3])
        """
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """Dimensions ``start_dim`` to ``end_dim`` merged into one (``torch.Tensor.flatten``).

        >>> tt.zeros(2, 3, 4).flatten(1).shape
        tinytensor.Size([2, 12])
        """
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
        """Dimension ``dim`` split into ``sizes`` (``torch.Tensor.unflatten``).

        >>> tt.zeros(2, 12).unflatten(1, (3, 4)).shape
        tinytensor.Size([2, 3, 4])
        """
        d = wrap_dim(dim, self.ndim)
        return self.view(self._shape[:d] + tuple(sizes) + self._shape[d + 1:])

    def permute(self, *dims):
        """A view with the dimensions in the order ``dims`` (``torch.Tensor.permute``).

        >>> tt.zeros(2, 3, 4).permute(2, 0, 1).shape
        tinytensor.Size([4, 2, 3])
        """
        return _shape.Permute.apply(self, _shape_arg(dims, "permute"))

    def transpose(self, dim0, dim1):
        """A view with dimensions ``dim0`` and ``dim1`` swapped (``torch.Tensor.transpose``;
        ``swapaxes`` is the same).

        >>> tt.tensor([[1, 2, 3]]).transpose(0, 1).shape
        tinytensor.Size([3, 1])
        """
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
        """The transpose of a matrix (a 0-d or 1-d tensor is returned as is), a view
        (``torch.Tensor.t``).

        >>> tt.tensor([[1, 2], [3, 4]]).t()
        tensor([[1, 3],
                [2, 4]])
        """
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        if self.ndim < 2:       # a view of itself, as PyTorch (an in-place op on it is a view op)
            return _named(_shape.Permute.apply(self, tuple(range(self.ndim))), "TBackward0")
        return _named(self.transpose(0, 1), "TBackward0")

    @_args.numpy_aliases
    def unsqueeze(self, dim):
        """A view with a dimension of size one inserted at ``dim``
        (``torch.Tensor.unsqueeze``).

        >>> tt.tensor([1, 2]).unsqueeze(0)
        tensor([[1, 2]])
        """
        return _named(_shape.View.apply(self, None, ("unsqueeze", dim)), "UnsqueezeBackward0")

    @_args.numpy_aliases
    def squeeze(self, dim=None):
        """A view without the dimensions of size one (only ``dim``, when given)
        (``torch.Tensor.squeeze``).

        >>> tt.zeros(1, 2, 1).squeeze().shape
        tinytensor.Size([2])
        """
        return _named(_shape.View.apply(self, None, ("squeeze", dim)),
                      "SqueezeBackward0" if dim is None else "SqueezeBackward1")

    def expand(self, *sizes):
        """A view repeating dimensions of size one to ``sizes`` without copying (-1 keeps a size)
        (``torch.Tensor.expand``).

        >>> tt.tensor([[1], [2]]).expand(2, 3)
        tensor([[1, 1, 1],
                [2, 2, 2]])
        """
        return _shape.Expand.apply(self, _shape_arg(sizes, "expand"))

    def expand_as(self, other):
        """``self.expand(other.shape)`` (``torch.Tensor.expand_as``).

        >>> tt.tensor([1, 2]).expand_as(tt.zeros(2, 2))
        tensor([[1, 2],
                [1, 2]])
        """
        return self.expand(other.shape)

    def __getitem__(self, index):
        return _shape.index(self, index)

    def __setitem__(self, index, value):
        _shape.setitem(self, index, value)

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other):
        """``self + other`` elementwise, broadcasting shapes and promoting dtypes as PyTorch
        (``torch.Tensor.add``).

        >>> tt.tensor([1, 2]) + 0.5
        tensor([1.5000, 2.5000])
        """
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        """``self - other`` elementwise, with broadcasting and type promotion
        (``torch.Tensor.sub``; ``subtract`` is the same).

        >>> tt.tensor([3., 4.]).sub(tt.tensor([1., 1.]))
        tensor([2., 3.])
        """
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        """``self * other`` elementwise, with broadcasting and type promotion
        (``torch.Tensor.mul``; ``multiply`` is the same).

        >>> tt.tensor([1., 2.]) * tt.tensor([3., 4.])
        tensor([3., 8.])
        """
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        """``self / other`` elementwise, true division (integers give the default float dtype)
        (``torch.Tensor.div``; ``divide`` is the same).

        >>> tt.tensor([1, 3]) / 2
        tensor([0.5000, 1.5000])
        """
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, other):
        return _named(_ew.pow(self, other),
                      "PowBackward1" if isinstance(other, Tensor) else "PowBackward0")

    def __rpow__(self, other):
        return _named(_ew.pow(other, self), "PowBackward2")

    def __matmul__(self, other):
        """``self @ other``: the matrix product, batched and broadcast over leading dimensions
        (``torch.Tensor.matmul``).

        >>> tt.tensor([[1., 2.]]) @ tt.tensor([[3.], [4.]])
        tensor([[11.]])
        """
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        """``-self`` (``torch.Tensor.neg``).

        >>> -tt.tensor([1., -2.])
        tensor([-1.,  2.])
        """
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.unary("abs", self)

    def __eq__(self, other):
        """``self == other`` elementwise, a bool tensor (``torch.Tensor.eq``).

        >>> tt.tensor([1, 2, 3]) == 2
        tensor([False,  True, False])
        """
        return _ew.compare("eq", self, other)

    def __ne__(self, other):
        """``self != other`` elementwise, a bool tensor (``torch.Tensor.ne``).

        >>> tt.tensor([1, 2, 3]) != 2
        tensor([ True, False,  True])
        """
        return _ew.compare("ne", self, other)

    def __lt__(self, other):
        """``self < other`` elementwise, a bool tensor (``torch.Tensor.lt``).

        >>> tt.tensor([1, 2, 3]) < 2
        tensor([ True, False, False])
        """
        return _ew.compare("lt", self, other)

    def __le__(self, other):
        """``self <= other`` elementwise, a bool tensor (``torch.Tensor.le``).

        >>> tt.tensor([1, 2, 3]) <= 2
        tensor([ True,  True, False])
        """
        return _ew.compare("le", self, other)

    def __gt__(self, other):
        """``self > other`` elementwise, a bool tensor (``torch.Tensor.gt``).

        >>> tt.tensor([1, 2, 3]) > 2
        tensor([False, False,  True])
        """
        return _ew.compare("gt", self, other)

    def __ge__(self, other):
        """``self >= other`` elementwise, a bool tensor (``torch.Tensor.ge``).

        >>> tt.tensor([1, 2, 3]) >= 2
        tensor([False,  True,  True])
        """
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
        """``self ** exponent`` elementwise, with broadcasting and type promotion
        (``torch.Tensor.pow``).

        >>> tt.tensor([2., 3.]).pow(2)
        tensor([4., 9.])
        """
        return self.__pow__(exponent)

    def exp(self):
        """e to the power of each element (``torch.Tensor.exp``).

        >>> tt.tensor([0., 1.]).exp()
        tensor([1.0000, 2.7183])
        """
        return _ew.unary("exp", self)

    def log(self):
        """The natural logarithm of each element (``torch.Tensor.log``).

        >>> tt.tensor([1., 4.]).log()
        tensor([0.0000, 1.3863])
        """
        return _ew.unary("log", self)

    def sqrt(self):
        """The square root of each element (``torch.Tensor.sqrt``).

        >>> tt.tensor([4., 9.]).sqrt()
        tensor([2., 3.])
        """
        return _ew.unary("sqrt", self)

    def abs(self):
        """The absolute value of each element (``torch.Tensor.abs``).

        >>> tt.tensor([-1, 2]).abs()
        tensor([1, 2])
        """
        return _ew.unary("abs", self)

    def tanh(self):
        """The hyperbolic tangent of each element (``torch.Tensor.tanh``).

        >>> tt.tensor([0., 1.]).tanh()
        tensor([0.0000, 0.7616])
        """
        return _ew.unary("tanh", self)

    def sigmoid(self):
        """1 / (1 + exp(-x)) for each element (``torch.Tensor.sigmoid``).

        >>> tt.tensor([0.]).sigmoid()
        tensor([0.5000])
        """
        return _ew.unary("sigmoid", self)

    def relu(self):
        """max(x, 0) for each element (``torch.Tensor.relu``).

        >>> tt.tensor([-1., 2.]).relu()
        tensor([0., 2.])
        """
        return _ew.unary("relu", self)

    def sin(self):
        """The sine of each element, in radians (``torch.Tensor.sin``).

        >>> tt.tensor([0.]).sin()
        tensor([0.])
        """
        return _ew.unary("sin", self)

    def cos(self):
        """The cosine of each element, in radians (``torch.Tensor.cos``).

        >>> tt.tensor([0.]).cos()
        tensor([1.])
        """
        return _ew.unary("cos", self)

    def square(self):
        """Each element squared (``torch.Tensor.square``).

        >>> tt.tensor([-2, 3]).square()
        tensor([4, 9])
        """
        return _ew.mul(self, self)

    def rsqrt(self):
        """1 / sqrt(x) for each element (``torch.Tensor.rsqrt``).

        >>> tt.tensor([4.]).rsqrt()
        tensor([0.5000])
        """
        return _ew.div(1.0, _ew.unary("sqrt", self))

    def reciprocal(self):
        """1 / x for each element (``torch.Tensor.reciprocal``).

        >>> tt.tensor([2., 4.]).reciprocal()
        tensor([0.5000, 0.2500])
        """
        return _ew.div(1.0, self)

    def clamp(self, min=None, max=None):
        """Each element limited to ``[min, max]`` (either bound may be None or a tensor)
        (``torch.Tensor.clamp``; ``clip`` is the same).

        >>> tt.tensor([-2., 0.5, 3.]).clamp(-1, 1)
        tensor([-1.0000,  0.5000,  1.0000])
        """
        out = _ew.clamp(self, min, max)
        return out if isinstance(min, Tensor) or isinstance(max, Tensor) else \
            _named(out, "ClampBackward1")

    clip = clamp

    def maximum(self, other):
        """The elementwise maximum of ``self`` and ``other`` (NaN propagates)
        (``torch.Tensor.maximum``).

        >>> tt.tensor([1, 5]).maximum(tt.tensor([3, 2]))
        tensor([3, 5])
        """
        return _ew.maximum(self, other)

    def minimum(self, other):
        """The elementwise minimum of ``self`` and ``other`` (NaN propagates)
        (``torch.Tensor.minimum``).

        >>> tt.tensor([1, 5]).minimum(tt.tensor([3, 2]))
        tensor([1, 2])
        """
        return _ew.minimum(self, other)

    def where(self, condition, other):
        """``self`` where ``condition`` is True, else ``other``: ``tinytensor.where(condition,
        self, other)`` (``torch.Tensor.where``).

        >>> x = tt.tensor([1., -1.])
        >>> x.where(x > 0, 0.)
        tensor([1., 0.])
        """
        return where(condition, self, other)

    def logical_not(self):
        """True where an element is zero (False), as a bool tensor
        (``torch.Tensor.logical_not``).

        >>> tt.tensor([True, False]).logical_not()
        tensor([False,  True])
        """
        return _ew.compare("eq", self.bool(), False)

    def isnan(self):
        """True where an element is NaN (``torch.Tensor.isnan``).

        >>> tt.tensor([1., float("nan")]).isnan()
        tensor([False,  True])
        """
        return _ew.compare("ne", self, self)

    # ------------------------------------------------------------------ reductions

    @_args.numpy_aliases
    def sum(self, dim=None, keepdim=False, dtype=None):
        """The sum of all elements, or along ``dim`` (an int or a tuple) keeping it as size one
        with ``keepdim`` (``torch.Tensor.sum``).

        >>> tt.tensor([[1., 2.], [3., 4.]]).sum(dim=0)
        tensor([4., 6.])
        """
        return _named(_red.sum(self, dim, keepdim, dtype), None if dim is None else "SumBackward1")

    @_args.numpy_aliases
    def mean(self, dim=None, keepdim=False, dtype=None):
        """The mean of all elements, or along ``dim`` (``torch.Tensor.mean``).

        >>> tt.tensor([[1., 2.], [3., 4.]]).mean()
        tensor(2.5000)
        """
        return _named(_red.mean(self, dim, keepdim, dtype),
                      None if dim is None else "MeanBackward1")

    @_args.numpy_aliases
    def amax(self, dim=(), keepdim=False):
        """The largest values along ``dim`` (all dimensions by default), without indices
        (``torch.Tensor.amax``).

        >>> tt.tensor([[1, 5], [7, 2]]).amax(dim=1)
        tensor([5, 7])
        """
        return _named(_red.amax(self, dim, keepdim, "max"), "AmaxBackward0")

    @_args.numpy_aliases
    def amin(self, dim=(), keepdim=False):
        """The smallest values along ``dim`` (all dimensions by default), without indices
        (``torch.Tensor.amin``).

        >>> tt.tensor([[1, 5], [7, 2]]).amin(dim=1)
        tensor([1, 2])
        """
        return _named(_red.amax(self, dim, keepdim, "min"), "AminBackward0")

    @_args.numpy_aliases
    def max(self, dim=None, keepdim=False):
        """The largest element; along ``dim``, a ``(values, indices)`` named tuple; with a tensor
        argument, the elementwise maximum (``torch.Tensor.max``).

        >>> x = tt.tensor([[1, 5], [7, 2]])
        >>> x.max()
        tensor(7)
        >>> x.max(dim=1).indices
        tensor([1, 0])
        """
        if isinstance(dim, Tensor):
            return _ew.maximum(self, dim)
        return _named(_red.max_min(self, dim, keepdim, "max"),
                      "MaxBackward1" if dim is None else "MaxBackward0")

    @_args.numpy_aliases
    def min(self, dim=None, keepdim=False):
        """The smallest element; along ``dim``, a ``(values, indices)`` named tuple; with a tensor
        argument, the elementwise minimum (``torch.Tensor.min``).

        >>> x = tt.tensor([[1, 5], [7, 2]])
        >>> x.min()
        tensor(1)
        >>> x.min(dim=1).values
        tensor([1, 2])
        """
        if isinstance(dim, Tensor):
            return _ew.minimum(self, dim)
        return _named(_red.max_min(self, dim, keepdim, "min"),
                      "MinBackward1" if dim is None else "MinBackward0")

    @_args.numpy_aliases
    def argmax(self, dim=None, keepdim=False):
        """The index of the largest element (of the flattened tensor, or along ``dim``)
        (``torch.Tensor.argmax``).

        >>> tt.tensor([[1, 5], [7, 2]]).argmax(dim=1)
        tensor([1, 0])
        """
        return _red.argmax(self, dim, keepdim, "max")

    @_args.numpy_aliases
    def argmin(self, dim=None, keepdim=False):
        """The index of the smallest element (of the flattened tensor, or along ``dim``)
        (``torch.Tensor.argmin``).

        >>> tt.tensor([[1, 5], [7, 2]]).argmin()
        tensor(0)
        """
        return _red.argmax(self, dim, keepdim, "min")

    @_args.numpy_aliases
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The variance of all elements or along ``dim``, with Bessel's correction unless
        ``unbiased=False`` or ``correction=0`` (``torch.Tensor.var``).

        >>> tt.tensor([1., 2., 3., 4.]).var()
        tensor(1.6667)
        """
        return _red.var(self, dim, unbiased, keepdim, correction)

    @_args.numpy_aliases
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The standard deviation: the square root of ``var`` with the same arguments
        (``torch.Tensor.std``).

        >>> tt.tensor([1., 2., 3., 4.]).std()
        tensor(1.2910)
        """
        return _red.std(self, dim, unbiased, keepdim, correction)

    @_args.numpy_aliases
    def all(self, dim=None, keepdim=False):
        """True when every element (along ``dim``) is nonzero (``torch.Tensor.all``).

        >>> tt.tensor([True, False]).all()
        tensor(False)
        """
        return _red.all_any(self, dim, keepdim, "all")

    @_args.numpy_aliases
    def any(self, dim=None, keepdim=False):
        """True when some element (along ``dim``) is nonzero (``torch.Tensor.any``).

        >>> tt.tensor([True, False]).any()
        tensor(True)
        """
        return _red.all_any(self, dim, keepdim, "any")

    # ------------------------------------------------------------------ sorting, softmax

    @_args.numpy_aliases
    def sort(self, dim=-1, descending=False, *, stable=False):
        """The elements sorted along ``dim``, as a ``(values, indices)`` named tuple; ties keep
        their order (``torch.Tensor.sort``; see ``tinytensor.sort``).

        >>> tt.tensor([3, 1, 2]).sort().values
        tensor([1, 2, 3])
        """
        return _sort.sort(self, dim, descending, stable=stable)

    @_args.numpy_aliases
    def argsort(self, dim=-1, descending=False, *, stable=False):
        """The indices that sort the elements along ``dim`` (``torch.Tensor.argsort``; see
        ``tinytensor.argsort``).

        >>> tt.tensor([3, 1, 2]).argsort()
        tensor([1, 2, 0])
        """
        return _sort.argsort(self, dim, descending, stable=stable)

    def msort(self):
        """The values sorted along the first dimension (``torch.Tensor.msort``).

        >>> tt.tensor([[2, 1], [1, 3]]).msort()
        tensor([[1, 1],
                [2, 3]])
        """
        return _sort.msort(self)

    @_args.numpy_aliases
    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest, ``largest=False``) elements along ``dim``, as a
        ``(values, indices)`` named tuple (``torch.Tensor.topk``; see ``tinytensor.topk``).

        >>> tt.tensor([1., 4., 3.]).topk(2).values
        tensor([4., 3.])
        """
        return _sort.topk(self, k, dim, largest, sorted)

    @_args.numpy_aliases
    def softmax(self, dim, dtype=None):
        """``tinytensor.nn.functional.softmax(self, dim, dtype=dtype)``: exp(x) normalised to sum
        to one along ``dim`` (``torch.Tensor.softmax``).

        >>> tt.tensor([0., 0.]).softmax(0)
        tensor([0.5000, 0.5000])
        """
        return _act.softmax("softmax", self, dim, dtype)

    @_args.numpy_aliases
    def log_softmax(self, dim, dtype=None):
        """``tinytensor.nn.functional.log_softmax(self, dim, dtype=dtype)``: the log of softmax,
        computed stably (``torch.Tensor.log_softmax``).

        >>> tt.tensor([0., 0.]).log_softmax(0)
        tensor([-0.6931, -0.6931])
        """
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
        """``self += alpha * other`` in place, returning self (``torch.Tensor.add_``).

        >>> x = tt.tensor([1., 2.])
        >>> x.add_(1, alpha=2)
        tensor([3., 4.])
        """
        if alpha != 1:
            other = _ew.mul(other, alpha)
        return self._inplace_binary(_ew.add, other)

    def sub_(self, other, alpha=1):
        """``self -= alpha * other`` in place, returning self (``torch.Tensor.sub_``).

        >>> tt.tensor([3., 4.]).sub_(1)
        tensor([2., 3.])
        """
        if alpha != 1:
            other = _ew.mul(other, alpha)
        return self._inplace_binary(_ew.sub, other)

    def mul_(self, other):
        """``self *= other`` in place, returning self (``torch.Tensor.mul_``).

        >>> tt.tensor([1., 2.]).mul_(3)
        tensor([3., 6.])
        """
        return self._inplace_binary(_ew.mul, other)

    def div_(self, other):
        """``self /= other`` in place, returning self (``torch.Tensor.div_``).

        >>> tt.tensor([1., 2.]).div_(2)
        tensor([0.5000, 1.0000])
        """
        return self._inplace_binary(_ew.div, other)

    def pow_(self, other):
        """``self **= other`` in place, returning self (``torch.Tensor.pow_``).

        >>> tt.tensor([2., 3.]).pow_(2)
        tensor([4., 9.])
        """
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
        """``clamp`` in place, returning self (``torch.Tensor.clamp_``).

        >>> tt.tensor([-2., 2.]).clamp_(min=0)
        tensor([0., 2.])
        """
        return _named(self._inplace_binary(lambda a, _: _ew.clamp(a, min, max), None),
                      "ClampBackward1")

    def relu_(self):
        """``relu`` in place, returning self (``torch.Tensor.relu_``).

        >>> tt.tensor([-1., 2.]).relu_()
        tensor([0., 2.])
        """
        return self._inplace_binary(lambda a, _: _ew.unary("relu", a), None)

    def copy_(self, src):
        """Copy ``src``'s values into self (broadcast to self's shape, cast to its dtype), returning
        self (``torch.Tensor.copy_``).

        >>> tt.zeros(2).copy_(tt.tensor([1, 2]))
        tensor([1., 2.])
        """
        src = src if isinstance(src, Tensor) else tensor(src)
        return _named(self._inplace_binary(_shape.CopyInto.apply, src), "CopyBackwards")

    def zero_(self):
        """Fill self with zeros, returning self (``torch.Tensor.zero_``).

        >>> tt.ones(2).zero_()
        tensor([0., 0.])
        """
        if self._check_inplace():
            return _named(self._inplace_binary(_shape.CopyInto.apply,
                                               tensor(0, dtype=self._dtype)), "ZeroBackward0")
        self._numpy()[...] = 0
        self._bump_version()
        return self

    def fill_(self, value):
        """Fill self with ``value`` (a number or a 0-d tensor), returning self
        (``torch.Tensor.fill_``).

        >>> tt.zeros(2).fill_(7)
        tensor([7., 7.])
        """
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
        """Fill self with draws uniform on ``[a, b)`` from tinytensor's generator
        (``tt.manual_seed``), returning self (``torch.Tensor.uniform_``).

        >>> x = tt.empty(3).uniform_(2, 3)
        >>> bool(((x >= 2) & (x < 3)).all())
        True
        """
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={a:g} > to={b:g}")
        self._check_inplace()
        self._refuse_overlap()
        self._numpy()[...] = random.uniform(a, b, self._shape, self._dtype.np_dtype)
        self._bump_version()
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill self with draws from N(mean, std**2) from tinytensor's generator
        (``tt.manual_seed``), returning self (``torch.Tensor.normal_``).

        >>> tt.empty(2, 2).normal_(0., 1.).shape
        tinytensor.Size([2, 2])
        """
        if not std >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        self._check_inplace()
        self._refuse_overlap()
        self._numpy()[...] = random.normal(mean, std, self._shape, self._dtype.np_dtype)
        self._bump_version()
        return self

    # ------------------------------------------------------------------ misc

    def new_zeros(self, *size, dtype=None):
        """A tensor of zeros of the given size, with self's dtype unless ``dtype`` says
        (``torch.Tensor.new_zeros``).

        >>> tt.ones(1, dtype=tt.float64).new_zeros(2)
        tensor([0., 0.], dtype=tinytensor.float64)
        """
        return zeros(*size, dtype=dtype or self._dtype)

    def new_ones(self, *size, dtype=None):
        """A tensor of ones of the given size, with self's dtype unless ``dtype`` says
        (``torch.Tensor.new_ones``).

        >>> tt.tensor([1, 2]).new_ones(3)
        tensor([1, 1, 1])
        """
        return ones(*size, dtype=dtype or self._dtype)

    def new_tensor(self, data, dtype=None):
        """A new tensor holding a copy of ``data``, with self's dtype unless ``dtype`` says
        (``torch.Tensor.new_tensor``).

        >>> tt.ones(1, dtype=tt.float64).new_tensor([1, 2])
        tensor([1., 2.], dtype=tinytensor.float64)
        """
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
    """The matrix product of ``a`` and ``b``: vectors, matrices and batches broadcast over
    their leading dimensions (``torch.matmul``).

    >>> tt.matmul(tt.tensor([[1., 2.], [3., 4.]]), tt.tensor([1., 1.]))
    tensor([3., 7.])
    """
    return _mm.matmul(_scalar_or_tensor(a), _scalar_or_tensor(b))


def where(condition, input, other):
    """``input`` where ``condition`` is True, else ``other``, with broadcasting
    (``torch.where``).

    >>> x = tt.tensor([1., -2., 3.])
    >>> tt.where(x > 0, x, tt.tensor(0.))
    tensor([1., 0., 3.])
    """
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
