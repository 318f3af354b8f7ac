# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The data layer: dtypes, storage, and the strided view arithmetic of a tensor.

A tensor is a `Storage` (a flat NumPy array that owns its memory or borrows someone else's,
keeping the owner alive) plus a dtype, a shape, strides counted in elements and an offset into
the storage. Every view (`view`, `permute`, `expand`, basic slicing, ...) builds a new
`TensorBase` on the same storage and copies nothing. Nothing in this file computes on values:
that is the kernels' job; this file only says where each element lives.

Shapes and strides are validated here in Python-level code before any kernel sees them; a view
whose elements would fall outside its storage is refused (`_check_in_bounds`), so kernels that run
with bounds checks off never read past a storage.
"""
from cpython.pyport cimport PY_SSIZE_T_MAX

import numpy as np

# ------------------------------------------------------------------------------------ dtypes


cdef class dtype:
    """A tinytensor dtype; compare with `is` or `==` (there is one object per dtype).
    Fields (in _tensor.pxd): name, np_dtype, itemsize, is_floating_point, and category
    (0 bool, 1 integer, 2 floating: PyTorch's promotion order).

    >>> tt.float32, tt.float32.is_floating_point, tt.float32.itemsize
    (tinytensor.float32, True, 4)
    """

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np_dtype = np.dtype(np_dtype)
        self.itemsize = self.np_dtype.itemsize
        self.category = category
        self.is_floating_point = category == 2

    def __repr__(self):
        return "tinytensor." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
int64 = dtype("int64", np.int64, 1)
bool_ = dtype("bool", np.bool_, 0)

_BY_NUMPY = {float32.np_dtype: float32, float64.np_dtype: float64,
             int64.np_dtype: int64, bool_.np_dtype: bool_}
_BY_NAME = {"float32": float32, "float64": float64, "int64": int64, "bool": bool_,
            "float": float32, "double": float64, "long": int64}


def _dtype_by_name(name):
    return _BY_NAME[name]


def dtype_from_numpy(np_dt):
    """The tinytensor dtype for a NumPy dtype, or TypeError naming the ones we support."""
    try:
        return _BY_NUMPY[np.dtype(np_dt)]
    except (KeyError, TypeError):
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dt)}. The only supported "
                        "types are: float64, float32, int64 and bool.") from None


def as_dtype(obj):
    """Accept a tinytensor dtype, a NumPy dtype or type, or a name such as 'float32'."""
    if isinstance(obj, dtype):
        return obj
    if isinstance(obj, str) and obj in _BY_NAME:
        return _BY_NAME[obj]
    if obj is float:
        return float32
    if obj is int:
        return int64
    if obj is bool:
        return bool_
    try:
        return dtype_from_numpy(obj)
    except TypeError:
        raise TypeError(f"dtype must be one of tinytensor.float32, float64, int64, bool; got {obj!r}") from None


# ------------------------------------------------------------------------------------ storage

# Sizes beyond this cannot be addressed with 64-bit signed byte offsets.
cdef Py_ssize_t _MAX_BYTES = (<Py_ssize_t>1) << 62


cdef class Storage:
    """A flat buffer of one dtype. `data` is a 1-D NumPy array: owned, or a view of a NumPy
    array or DLPack producer that it keeps alive through NumPy's `base` chain.

    `version` counts in-place writes to any tensor that shares this storage; autograd compares it
    with the value it saw when it saved a tensor for backward (PyTorch's version counter).
    """
    def __init__(self, data):
        self.data = data
        self.version = 0

    @property
    def size(self):
        """The number of elements the storage holds."""
        return self.data.shape[0]

    @property
    def writeable(self):
        return self.data.flags.writeable


def allocate(shape, dtype dt, bint zero=False):
    """A fresh C-contiguous storage for `shape`; RuntimeError on sizes that do not fit memory."""
    cdef Py_ssize_t n = checked_numel(shape, dt.itemsize)
    try:
        data = np.zeros(n, dt.np_dtype) if zero else np.empty(n, dt.np_dtype)
    except MemoryError:
        raise RuntimeError(f"can't allocate memory: you tried to allocate {n * dt.itemsize} bytes "
                           f"for a tensor of shape {list(shape)}") from None
    return Storage(data)


def checked_numel(shape, Py_ssize_t itemsize=1):
    """The element count of `shape`, refusing negative sizes and counts that overflow."""
    cdef Py_ssize_t n = 1, s
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    for s in shape:
        if s == 0:
            return 0
    for s in shape:
        if n > _MAX_BYTES // itemsize // s:
            raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")
        n *= s
    return n


def contiguous_strides(shape):
    acc = 1
    strides = []
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    if acc > PY_SSIZE_T_MAX:      # only an empty shape can get here: (0, 2**62, 2**62)
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")
    return tuple(reversed(strides))


# ------------------------------------------------------------------------------------ tensor data

cdef object _tensor_class = None     # Tensor, defined below TensorBase: views are made as it


_C_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "bool": "bool"}


def _check_grad(TensorBase t, value):
    """PyTorch's checks on `t.grad = value`: a tensor of t's dtype and shape, not t itself.
    (A wrong shape was broadcast by SGD; a wrong dtype mixed precisions silently.)"""
    if not isinstance(value, TensorBase):
        raise TypeError("assigned grad expected to be a Tensor or None but got grad of type "
                        f"{type(value).__name__}")
    if value is t:
        raise RuntimeError("can't assign Variable as its own grad")
    cdef TensorBase g = <TensorBase>value
    if g._dtype is not t._dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{_C_NAMES[g._dtype.name]}'"
                           f" to a tensor with dtype '{_C_NAMES[t._dtype.name]}'. Please ensure "
                           "that the gradient and the tensor have the same dtype")
    if g._shape != t._shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{list(g._shape)}' to a "
                           f"tensor of size '{list(t._shape)}'. Please ensure that the gradient "
                           "and the tensor are the same size")


cdef class TensorBase:
    """Storage + dtype + shape + strides (elements) + offset, and the autograd slots.

    The Python class `tinytensor.Tensor` derives from this and adds the operations; everything
    here is layout: building views and answering questions about the layout.
    Fields are declared in _tensor.pxd (so the autograd node code can reach them in C).
    """

    # ---- construction

    def _init(self, Storage storage, tuple shape, tuple stride, Py_ssize_t offset, dtype dt):
        self._storage = storage
        self._shape = shape
        self._stride = stride
        self._offset = offset
        self._dtype = dt
        self._array = None
        return self

    cpdef TensorBase _make_view(self, tuple shape, tuple stride, Py_ssize_t offset):
        """A new tensor (of the Tensor class, never a subclass) on this storage."""
        cdef TensorBase t = _tensor_class.__new__(_tensor_class)
        t._init(self._storage, shape, stride, offset, self._dtype)
        root = self if self._base is None else self._base
        t._base = root
        # an in-place op on the base later replaces its grad_fn; autograd then sees this view's
        # history is stale and re-derives it (tinytensor.autograd.function.refresh_view)
        t._view_of_fn = (<TensorBase>root).grad_fn
        return t

    # ---- the gradient slot

    @property
    def grad(self):
        """The gradient backward accumulated into this leaf, or None (``torch.Tensor.grad``);
        an assigned value must be a tensor of this tensor's dtype and shape.

        >>> x = tt.ones(2, requires_grad=True)
        >>> (x * 3).sum().backward()
        >>> x.grad
        tensor([3., 3.])
        """
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            _check_grad(self, value)
        self._grad = value

    # ---- layout questions

    @property
    def shape(self):
        """The size of each dimension, a ``tinytensor.Size`` (``torch.Tensor.shape``).

        >>> tt.zeros(2, 3).shape
        tinytensor.Size([2, 3])
        """
        return Size(self._shape)

    @property
    def dtype(self):
        """The element type: ``tinytensor.float32``, ``float64``, ``int64`` or ``bool``
        (``torch.Tensor.dtype``).

        >>> tt.tensor([1, 2]).dtype
        tinytensor.int64
        """
        return self._dtype

    @property
    def ndim(self):
        """The number of dimensions (``torch.Tensor.ndim``).

        >>> tt.zeros(2, 3).ndim
        2
        """
        return len(self._shape)

    def dim(self):
        """The number of dimensions (``torch.Tensor.dim``).

        >>> tt.zeros(2, 3).dim()
        2
        """
        return len(self._shape)

    def numel(self):
        """The number of elements (``torch.Tensor.numel``).

        >>> tt.zeros(2, 3).numel()
        6
        """
        cdef Py_ssize_t n = 1, s
        if 0 in self._shape:
            return 0
        for s in self._shape:
            if n > PY_SSIZE_T_MAX // s:     # an expanded view can describe 2**64 elements
                raise RuntimeError("numel: integer multiplication overflow")
            n *= s
        return n

    def size(self, dim=None):
        """The shape, or the size of dimension ``dim`` (``torch.Tensor.size``).

        >>> x = tt.zeros(2, 3)
        >>> x.size(), x.size(-1)
        (tinytensor.Size([2, 3]), 3)
        """
        if dim is None:
            return Size(self._shape)
        return self._shape[wrap_dim(dim, len(self._shape))]

    def stride(self, dim=None):
        """The step in elements between neighbours along each dimension, or along ``dim``
        (``torch.Tensor.stride``).

        >>> tt.zeros(2, 3).stride()
        (3, 1)
        """
        if dim is None:
            return self._stride
        return self._stride[wrap_dim(dim, len(self._shape))]

    def storage_offset(self):
        """Where the first element sits in the storage, in elements
        (``torch.Tensor.storage_offset``).

        >>> tt.arange(4)[1:].storage_offset()
        1
        """
        return self._offset

    def element_size(self):
        """The size of one element in bytes (``torch.Tensor.element_size``).

        >>> tt.zeros(1, dtype=tt.float64).element_size()
        8
        """
        return self._dtype.itemsize

    def is_contiguous(self):
        """Row-major dense. A size-1 dimension never breaks contiguity, whatever its stride.

        >>> tt.zeros(2, 3).is_contiguous(), tt.zeros(2, 3).t().is_contiguous()
        (True, False)
        """
        cdef Py_ssize_t expected = 1, i, n = len(self._shape), s
        for s in self._shape:
            if s == 0:
                return True               # an empty tensor is contiguous, whatever its strides
        for i in range(n - 1, -1, -1):
            s = self._shape[i]
            if s != 1:
                if self._stride[i] != expected:
                    return False
                expected *= s
        return True

    def _numpy(self):
        """A NumPy array viewing exactly this tensor's elements (shares memory)."""
        if self._array is None:
            if self._offset == 0 and _is_whole_storage(self):
                # the storage's flat array in this shape (a view; 4x cheaper than the general
                # constructor, and the layout of every fresh result)
                self._array = self._storage.data.reshape(self._shape)
                return self._array
            itemsize = self._dtype.itemsize
            self._array = np.ndarray(self._shape, self._dtype.np_dtype, buffer=self._storage.data,
                                     offset=self._offset * itemsize,
                                     strides=tuple([s * itemsize for s in self._stride]))
        return self._array

    def _bump_version(self):
        self._storage.version += 1

    @property
    def _version(self):
        return self._storage.version

    def data_ptr(self):
        """The address of the first element (``torch.Tensor.data_ptr``): views of one storage
        differ by their offset.

        >>> x = tt.zeros(4, dtype=tt.float64)
        >>> x[1:].data_ptr() - x.data_ptr()
        8
        """
        return self._numpy().__array_interface__["data"][0]

    # ---- views (no copies; the autograd layer wraps these in Functions)

    def _view_shape(self, shape):
        """Strides for viewing this tensor as `shape`, or None when no view exists.

        PyTorch's rule (computeStride): the new shape must split or merge only dimensions that
        are laid out contiguously with each other in memory.
        """
        old_shape, old_stride = self._shape, self._stride
        cdef Py_ssize_t numel = self.numel()
        if len(old_shape) == 0:
            return (1,) * len(shape)      # a 0-d tensor views as any all-ones shape
        if numel == 0:
            if old_shape == shape:
                return old_stride
            return contiguous_strides(shape)
        new_stride = [0] * len(shape)
        cdef Py_ssize_t view_d = len(shape) - 1, chunk_base_stride, tensor_numel = 1, view_numel = 1
        cdef Py_ssize_t tensor_d
        if len(old_stride) == 0:
            chunk_base_stride = 1
        else:
            chunk_base_stride = old_stride[len(old_stride) - 1]
        for tensor_d in range(len(old_shape) - 1, -1, -1):
            tensor_numel *= old_shape[tensor_d]
            if tensor_d == 0 or (old_shape[tensor_d - 1] != 1 and
                                 old_stride[tensor_d - 1] != tensor_numel * chunk_base_stride):
                while view_d >= 0 and (view_numel < tensor_numel or shape[view_d] == 1):
                    new_stride[view_d] = view_numel * chunk_base_stride
                    view_numel *= shape[view_d]
                    view_d -= 1
                if view_numel != tensor_numel:
                    return None
                if tensor_d > 0:
                    chunk_base_stride = old_stride[tensor_d - 1]
                    tensor_numel = 1
                    view_numel = 1
        if view_d != -1:
            return None
        return tuple(new_stride)

    def _infer_shape(self, shape):
        """Resolve one -1 in `shape` and check the element count matches."""
        shape = tuple(shape)
        cdef Py_ssize_t numel = self.numel()
        known = 1                  # a Python int: a product beyond int64 must not wrap to a match
        infer = -1
        for i, s in enumerate(shape):
            if s == -1:
                if infer >= 0:
                    raise RuntimeError("only one dimension can be inferred")
                infer = i
            elif s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            else:
                known *= s
        if infer >= 0:
            if known == 0 or numel % known:
                raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
            shape = shape[:infer] + (numel // known,) + shape[infer + 1:]
        elif known != numel:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return shape

    def _view(self, shape):
        shape = self._infer_shape(shape)
        stride = self._view_shape(shape)
        if stride is None:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                               "least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.")
        return self._make_view(shape, stride, self._offset)

    def _permute(self, dims):
        n = len(self._shape)
        dims = tuple(wrap_dim(d, n) for d in dims)
        if len(dims) != n:
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                               f"not match the length of the desired ordering of dimensions i.e. "
                               f"input.dim() = {n} is not equal to len(dims) = {len(dims)}")
        if len(set(dims)) != n:
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        return self._make_view(tuple(self._shape[d] for d in dims),
                               tuple(self._stride[d] for d in dims), self._offset)

    def _transpose(self, d0, d1):
        n = len(self._shape)
        if n == 0:
            return self._make_view((), (), self._offset)
        d0, d1 = wrap_dim(d0, n), wrap_dim(d1, n)
        perm = list(range(n))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return self._permute(perm)

    def _expand(self, sizes):
        shape, stride = self._shape, self._stride
        if len(sizes) < len(shape):
            raise RuntimeError(f"expand({self._dtype.name.capitalize()}Type{{{list(shape)}}}, "
                               f"size={list(sizes)}): the number of sizes provided ({len(sizes)}) must "
                               f"be greater or equal to the number of dimensions in the tensor "
                               f"({len(shape)})")
        lead = len(sizes) - len(shape)
        new_shape, new_stride = [], []
        for i, s in enumerate(sizes):
            if i < lead:
                if s < 0:
                    raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                       f"leading, non-existing dimension {i}")
                new_shape.append(s)
                new_stride.append(0)
                continue
            old = shape[i - lead]
            if s == -1:
                s = old
            if old == s:
                new_shape.append(s)
                new_stride.append(stride[i - lead])
            elif old == 1 and s >= 0:
                new_shape.append(s)
                new_stride.append(0)
            else:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                                   f"size ({old}) at non-singleton dimension {i}.  Target sizes: "
                                   f"{list(sizes)}.  Tensor sizes: {list(shape)}")
        return self._make_view(tuple(new_shape), tuple(new_stride), self._offset)

    def _unsqueeze(self, dim):
        n = len(self._shape)
        dim = wrap_dim(dim, n + 1)
        # any stride is right for a size-1 dimension; PyTorch uses size*stride of the next one
        s = self._shape[dim] * self._stride[dim] if dim < n else 1
        return self._make_view(self._shape[:dim] + (1,) + self._shape[dim:],
                               self._stride[:dim] + (s,) + self._stride[dim:], self._offset)

    def _squeeze(self, dim=None):
        n = len(self._shape)
        if dim is None:
            dims = set(i for i in range(n) if self._shape[i] == 1)
        else:
            if isinstance(dim, int):
                dim = (dim,)
            dims = set(wrap_dim(d, n) for d in dim if self._shape[wrap_dim(d, n)] == 1) if n else set()
        keep = [i for i in range(n) if i not in dims]
        return self._make_view(tuple(self._shape[i] for i in keep),
                               tuple(self._stride[i] for i in keep), self._offset)

    def _as_strided(self, shape, stride, offset):
        shape, stride = tuple(int(s) for s in shape), tuple(int(s) for s in stride)
        if len(shape) != len(stride):
            raise RuntimeError(f"mismatch in length of strides and shape ({len(shape)} vs {len(stride)})")
        _check_in_bounds(shape, stride, offset, self._storage.size)
        return self._make_view(shape, stride, offset)

    def _basic_index(self, index):
        """A view for an index of ints, slices (step > 0), None and Ellipsis; None when the index
        holds anything else (tensor, list or bool: advanced indexing, which copies)."""
        if not isinstance(index, tuple):
            index = (index,)
        for item in index:
            if not (item is None or item is Ellipsis or isinstance(item, (int, slice))
                    or type(item) is np.int64) or isinstance(item, bool):
                return None
        n_real = sum(1 for it in index if it is not None and it is not Ellipsis)
        n_ell = sum(1 for it in index if it is Ellipsis)
        if n_ell > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        ndim = len(self._shape)
        if n_real > ndim:
            if ndim == 0:
                raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                                 "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
            raise IndexError(f"too many indices for tensor of dimension {ndim}")
        shape, stride = [], []
        cdef Py_ssize_t offset = self._offset, size, st, start, stop, step, length
        d = 0
        for item in index:
            if item is None:
                shape.append(1)
                # PyTorch's unsqueeze stride: size * stride of the dim that follows (1 at the end)
                stride.append(self._shape[d] * self._stride[d] if d < ndim else 1)
            elif item is Ellipsis:
                for _ in range(ndim - n_real):
                    shape.append(self._shape[d])
                    stride.append(self._stride[d])
                    d += 1
            elif isinstance(item, slice):
                size, st = self._shape[d], self._stride[d]
                if item.step is not None and item.step <= 0:
                    raise ValueError("slice step cannot be zero" if item.step == 0
                                     else "step must be greater than zero")
                start, stop, py_step = item.indices(size)
                step = min(py_step, max(size, 1))    # a step past the end picks one element
                length = max(0, (stop - start + step - 1) // step)
                if length > 0:
                    offset += start * st
                shape.append(length)
                stride.append(st * step)
                d += 1
            else:
                size = self._shape[d]
                i = int(item)
                if i < -size or i >= size:
                    raise IndexError(f"index {i} is out of bounds for dimension {d} with size {size}")
                if i < 0:
                    i += size
                offset += i * self._stride[d]
                d += 1
        while d < ndim:
            shape.append(self._shape[d])
            stride.append(self._stride[d])
            d += 1
        return self._make_view(tuple(shape), tuple(stride), offset)


cdef bint _is_whole_storage(TensorBase t):
    """Row-major strides exactly (size-1 dims included) over all of the storage, from 0."""
    cdef Py_ssize_t expected = 1, i, s
    for i in range(len(t._shape) - 1, -1, -1):
        s = t._shape[i]
        if <Py_ssize_t>t._stride[i] != expected:
            return False
        expected *= s
    return expected == t._storage.data.shape[0]


class Tensor(TensorBase):
    """A strided N-D array that records operations for automatic differentiation.

    Make one with a creation function (`tinytensor.tensor`, `tinytensor.zeros`, ...), not by
    calling the class. Its data and autograd slots are TensorBase's; its methods are defined in
    the Tensor API layer (`tinytensor/tensor.py`), which installs them on this class: the
    class object lives here, below the autograd Functions that create tensors of it.

    >>> x = tt.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    # The public name is tinytensor.Tensor (tinytensor.tensor.Tensor): repr, pickle by
    # reference and the docs find the class there.
    __module__ = "tinytensor.tensor"


_tensor_class = Tensor


def wrap_array(arr):
    """A tensor owning the C-contiguous NumPy array `arr` (a fresh result; shares its memory)."""
    cdef TensorBase t = _tensor_class.__new__(_tensor_class)
    cdef Py_ssize_t itemsize = arr.itemsize
    t._storage = Storage(arr.reshape(-1) if arr.ndim != 1 else arr)
    t._shape = arr.shape
    t._stride = tuple([s // itemsize for s in arr.strides])
    t._offset = 0
    t._dtype = _BY_NUMPY[arr.dtype]
    # `arr` is exactly this layout: the cached view (saves building one on first use), unless
    # its strides are not the row-major ones (size-1 dims of a reshaped result may differ)
    t._array = arr if _is_whole_storage(t) else None
    return t


cpdef TensorBase alias(TensorBase src):
    """A tensor on `src`'s storage with its layout and no autograd history (detach's layout
    part), sharing src's cached NumPy view."""
    cdef TensorBase t = _tensor_class.__new__(_tensor_class)
    t._storage = src._storage
    t._shape = src._shape
    t._stride = src._stride
    t._offset = src._offset
    t._dtype = src._dtype
    t._array = src._array
    root = src if src._base is None else src._base
    t._base = src._base
    t._view_of_fn = (<TensorBase>root).grad_fn
    return t


class Size(tuple):
    """A tuple of sizes that prints like PyTorch's: `tinytensor.Size([2, 3])`.

    >>> s = tt.zeros(2, 3).shape
    >>> s, s[0], s.numel()
    (tinytensor.Size([2, 3]), 2, 6)
    """
    def __repr__(self):
        return f"tinytensor.Size({list(self)})"

    def numel(self):
        """The product of the sizes: the number of elements of a tensor of this shape.

        >>> tt.Size([2, 3]).numel()
        6
        """
        n = 1
        for s in self:
            n *= s
        return n


def wrap_dim(dim, Py_ssize_t ndim):
    """Wrap a possibly negative dim, with PyTorch's IndexError when it is out of range."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    cdef Py_ssize_t lo = -ndim if ndim > 0 else -1, hi = ndim - 1 if ndim > 0 else 0
    if dim < lo or dim > hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return int(dim) % max(ndim, 1) if ndim > 0 else 0


def _check_in_bounds(shape, stride, Py_ssize_t offset, Py_ssize_t storage_size):
    """Refuse a layout that would address an element outside [0, storage_size)."""
    cdef Py_ssize_t lo = offset, hi = offset, s, st
    if offset < 0:
        raise RuntimeError(f"as_strided: negative storage offset {offset}")
    for s, st in zip(shape, stride):
        if s < 0:
            raise RuntimeError(f"as_strided: negative size {s} in {list(shape)}")
        if s == 0:
            return
    for s, st in zip(shape, stride):
        if st < 0:
            raise RuntimeError(f"as_strided: negative strides are not supported, got {list(stride)}")
        if st > 0 and (s - 1) > (_MAX_BYTES - hi) // st:
            raise RuntimeError(f"as_strided: size {list(shape)} with stride {list(stride)} overflows")
        hi += (s - 1) * st
    if hi >= storage_size:
        raise RuntimeError(f"setStorage: sizes {list(shape)}, strides {list(stride)}, storage offset "
                           f"{offset} require a storage of {hi + 1} elements, but the storage has "
                           f"only {storage_size}")
