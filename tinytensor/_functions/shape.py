"""Shape operations. Views (view, permute, expand, basic indexing) share storage; indexing with
tensors, clone, dtype conversion, cat and stack copy."""
import numpy as np

from tinytensor import _args
from tinytensor._promotion import promote_types
from tinytensor._tensor import bool_, int64, wrap_dim
from tinytensor._tensor_type import Tensor, _c, _wrap, from_numpy, sum_to_shape
from tinytensor.autograd.function import Function, _positions
from tinytensor.autograd.grad_mode import _state


class View(Function):
    """view/reshape (when a view exists), unsqueeze and squeeze: the gradient is reshaped back."""

    @staticmethod
    def forward(ctx, x, shape, special=None):
        ctx.shape = x._shape
        if special is None:
            return x._view(shape)
        kind, dim = special
        return x._unsqueeze(dim) if kind == "unsqueeze" else x._squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        out = x._permute(dims)
        if ctx.needs_input_grad[0]:          # (the inverse permutation: backward only)
            inverse = [0] * len(dims)
            for i, d in enumerate(dims):
                inverse[wrap_dim(d, x.ndim)] = i
            ctx.inverse = tuple(inverse)
        return out

    @staticmethod
    def backward(ctx, g):
        return g.permute(*ctx.inverse), None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, sizes):
        return x._expand(sizes)

    @staticmethod
    def backward(ctx, g):
        return g, None               # the engine sums the broadcast dimensions away


class Clone(Function):
    """A contiguous copy."""

    @staticmethod
    def forward(ctx, x):
        return _wrap(np.array(x._numpy(), order="C", copy=True))

    @staticmethod
    def backward(ctx, g):
        return g


class ToDtype(Function):
    @staticmethod
    def forward(ctx, x, dt):
        return _wrap(np.array(x._numpy(), dtype=dt.np_dtype, order="C", copy=True))

    @staticmethod
    def backward(ctx, g):
        return g, None               # the engine casts back to the input's dtype


class ScatterView(Function):
    """The new value of a base after an in-place write through one of its views: the base's old
    value with the view's elements replaced by `src` (PyTorch's CopySlices). Elements are matched
    through their storage positions."""

    @staticmethod
    def forward(ctx, base, src, shape, stride, offset):
        pos_base = _positions(base._shape, base._stride, base._offset).reshape(-1)
        inverse = np.full(base._storage.size, -1, np.int64)
        inverse[pos_base] = np.arange(pos_base.size)
        idx = inverse[_positions(shape, stride, offset).reshape(-1)]
        if idx.size and idx.min() < 0:
            raise RuntimeError("in-place write through a view that reaches outside its base")
        ctx.idx, ctx.base_shape, ctx.view_shape = idx, base._shape, shape
        out = np.array(base._numpy(), order="C", copy=True)
        out.reshape(-1)[idx] = src._numpy().reshape(-1)
        return _wrap(out)

    @staticmethod
    def backward(ctx, g):
        gy = np.array(g._numpy(), order="C", copy=True).reshape(-1)
        gsrc = gy[ctx.idx].reshape(ctx.view_shape)
        gy[ctx.idx] = 0
        return _wrap(gy.reshape(ctx.base_shape)), _wrap(_c(gsrc)), None, None, None


class CopyInto(Function):
    """The value of `dst.copy_(src)`: src broadcast to dst's shape and cast to its dtype."""

    @staticmethod
    def forward(ctx, dst, src):
        out = np.empty(dst._shape, dst._dtype.np_dtype)
        try:
            np.copyto(out, src._numpy(), casting="unsafe")
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({list(dst._shape)}) must match the size of "
                               f"tensor b ({list(src._shape)}): src is not broadcastable to dst") from None
        ctx.dst_meta = dst._shape, g_dtype(dst)
        return _wrap(out)

    @staticmethod
    def backward(ctx, g):
        # the old value of dst is overwritten: it gets a zero gradient (PyTorch's CopyBackwards)
        shape, dt = ctx.dst_meta
        gd = _wrap(np.zeros(shape, dt)) if ctx.needs_input_grad[0] else None
        return gd, g


def g_dtype(t):
    return t._dtype.np_dtype


# ---------------------------------------------------------------------- indexing

def _advanced_index(x, index):
    """Normalise an index holding tensors, lists or bools into one NumPy can apply,
    range-checking integer indices with PyTorch's message."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    dim = 0
    for item in index:
        if isinstance(item, Tensor):
            item = item._numpy()
        elif isinstance(item, list) or isinstance(item, bool):
            item = np.asarray(item)
            if item.size == 0 and item.dtype.kind == "f":
                item = item.astype(np.int64)      # x[[]]: an empty integer index, as PyTorch
        if isinstance(item, np.ndarray):
            if item.dtype == np.bool_:
                if item.ndim and dim + item.ndim <= x.ndim and item.shape != x._shape[dim:dim + item.ndim]:
                    j = next(k for k in range(item.ndim) if item.shape[k] != x._shape[dim + k])
                    raise IndexError(f"The shape of the mask {list(item.shape)} at index {j} does "
                                     f"not match the shape of the indexed tensor "
                                     f"{list(x._shape)} at index {dim + j}")
                dim += item.ndim
            elif item.dtype.kind in "iu":
                if dim >= x.ndim:
                    raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
                size = x._shape[dim]
                if item.size and (item.max() >= size or item.min() < -size):
                    bad = item.max() if item.max() >= size else item.min()
                    raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
                item = item.astype(np.intp)
                dim += 1
            else:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        elif item is None:
            pass
        elif item is Ellipsis:
            dim = x.ndim - sum(1 for it in index[index.index(Ellipsis) + 1:] if it is not None)
        elif isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("slice step cannot be zero" if item.step == 0
                                 else "step must be greater than zero")
            dim += 1
        elif isinstance(item, (int, np.integer)):
            if dim >= x.ndim:
                raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
            if not -x._shape[dim] <= item < x._shape[dim]:
                raise IndexError(f"index {item} is out of bounds for dimension {dim} with size "
                                 f"{x._shape[dim]}")
            dim += 1
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             "Variables are valid indices (got " + type(item).__name__ + ")")
        out.append(item)
    if dim > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    return tuple(out)


class BasicIndex(Function):
    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.dtype, ctx.index = x._shape, x._dtype, index
        return x._basic_index(index)

    @staticmethod
    def backward(ctx, g):
        out = _wrap(np.zeros(ctx.shape, g._dtype.np_dtype))
        out._basic_index(ctx.index)._numpy()[...] = g._numpy()
        return out, None


class AdvancedIndex(Function):
    """x[index] with tensors in the index. `index` is _advanced_index's NumPy form (a bool
    mask there shares the mask tensor's memory); `index_tensors` are the tensors it came from,
    saved so that an in-place change to one after forward makes backward refuse."""

    @staticmethod
    def forward(ctx, x, index, index_tensors=()):
        ctx.shape, ctx.index = x._shape, index
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(*index_tensors)
        return _wrap(_c(x._numpy()[index]))

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors                          # refuses if an index tensor changed
        gx = np.zeros(ctx.shape, g._dtype.np_dtype)
        np.add.at(gx, ctx.index, g._numpy())      # repeated indices accumulate
        return _wrap(gx), None, None


class IndexPut(Function):
    """The value of `x[index] = v` computed out of place (for in-place assignment under autograd).
    `index_tensors` as in AdvancedIndex."""

    @staticmethod
    def forward(ctx, x, v, index, index_tensors=()):
        out = np.array(x._numpy(), order="C", copy=True)
        out[index] = v._numpy() if isinstance(v, Tensor) else v
        ctx.index = index
        ctx.vshape = v._shape if isinstance(v, Tensor) else None
        ctx.save_for_backward(*index_tensors)
        return _wrap(out)

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors                          # refuses if an index tensor changed
        gy = g._numpy()
        gx = gy.copy()
        gx[ctx.index] = 0
        gv = None
        if ctx.needs_input_grad[1]:
            sel = _c(gy[ctx.index])
            gv = sum_to_shape(_wrap(sel), ctx.vshape)
        return _wrap(gx), gv, None, None


def index(x, idx):
    view = x._basic_index(idx)
    if view is not None:
        if _state.enabled and x._requires_grad:
            return _named(BasicIndex.apply(x, idx), _basic_index_name(x, idx))
        return view
    return _named(AdvancedIndex.apply(x, _advanced_index(x, idx), _index_tensors(idx)),
                  "IndexBackward0")


def _index_tensors(idx):
    """The tensors among an index's items (saved by AdvancedIndex and IndexPut)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return tuple(it for it in items if isinstance(it, Tensor))


def _named(out, name):
    """Give out's node PyTorch's name for the op that made it (repr shows it)."""
    if name is not None and isinstance(out, Tensor) and out.grad_fn is not None:
        out.grad_fn._name = name
    return out


def _basic_index_name(x, idx):
    """PyTorch applies a basic index item by item; the node is the last op that did something:
    select (int), slice (unless it keeps the whole dim), unsqueeze (None); none: an alias."""
    items = idx if isinstance(idx, tuple) else (idx,)
    n_real = sum(1 for it in items if it is not None and it is not Ellipsis)
    name, d = "AliasBackward0", 0
    for it in items:
        if it is None:
            name = "UnsqueezeBackward0"
        elif it is Ellipsis:
            d += x.ndim - n_real
        elif isinstance(it, slice):
            if it.indices(x._shape[d]) != (0, x._shape[d], 1):
                name = "SliceBackward0"
            d += 1
        else:
            name = "SelectBackward0"
            d += 1
    return name


def setitem(x, idx, value):
    """`x[idx] = value`: writes into x's memory (slices are views, so the base sees it)."""
    basic = x._basic_index(idx)
    if basic is not None:
        basic._refuse_overlap()     # t[:] = ... into an expanded t (a single element is fine)
    norm = idx if basic is not None else _advanced_index(x, idx)
    if isinstance(value, Tensor):
        src = value
    else:
        src = np.asarray(value)
        if src.dtype == object:
            raise TypeError(f"can't assign a {type(value).__name__} to a tensor")
    if _state.enabled and x._requires_grad and x.grad_fn is None and x._storage.writeable:
        # PyTorch's wording: indexing a leaf makes a view of it first
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    recording = x._check_inplace() or (
        _state.enabled and isinstance(value, Tensor) and value._requires_grad)
    if recording:
        if not isinstance(src, Tensor):
            src = from_numpy(_c(src))
        guard = _index_tensors(idx) if basic is None else ()
        x._inplace_binary(lambda a, v: IndexPut.apply(a, v, norm, guard), src)
        _named(x, "CopySlices" if basic is not None else None)   # PyTorch's node names
        return
    dst = basic._numpy() if basic is not None else None
    val = src._numpy() if isinstance(src, Tensor) else src
    try:
        if dst is not None:
            np.copyto(dst, val, casting="unsafe")
        else:
            x._numpy()[norm] = val
    except ValueError as e:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(val))} cannot be "
                           f"broadcast to indexing result of shape "
                           f"{list(dst.shape) if dst is not None else '?'}") from None
    x._bump_version()


# ---------------------------------------------------------------------- joining

class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        dt = tensors[0]._dtype
        for t in tensors[1:]:
            dt = promote_types(dt, t._dtype)
        arrays = [t._numpy() for t in tensors]
        ctx.sizes = [a.shape[dim] for a in arrays]
        ctx.dim = dim
        return _wrap(np.concatenate([a.astype(dt.np_dtype, copy=False) for a in arrays], axis=dim))

    @staticmethod
    def backward(ctx, g):
        gy = g._numpy()
        cuts = np.cumsum(ctx.sizes)[:-1]
        return (None,) + tuple(_wrap(_c(p)) for p in np.split(gy, cuts, axis=ctx.dim))


def _check_sequence(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    if not tensors:
        if name == "stack":
            raise RuntimeError("stack expects a non-empty TensorList")
        raise ValueError(f"tinytensor.{name}(): expected a non-empty list of Tensors")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element in argument 0, but got "
                            f"{type(t).__name__}")


@_args.numpy_aliases
def cat(tensors, dim=0):
    """The tensors joined along the existing dimension ``dim`` (``torch.cat``).

    >>> tt.cat([tt.tensor([1, 2]), tt.tensor([3])])
    tensor([1, 2, 3])
    """
    _check_sequence(tensors, "cat")
    ref = next((t for t in tensors if t.ndim > 0 and not (t.ndim == 1 and t._shape[0] == 0)), None)
    if ref is None:
        if any(t.ndim == 0 for t in tensors):
            raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
        return tensors[0].clone()
    d = wrap_dim(dim, ref.ndim)
    keep = []
    for i, t in enumerate(tensors):
        if t.ndim == 1 and t._shape[0] == 0:
            continue                          # legacy: empty 1-D tensors are skipped
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for j in range(ref.ndim):
            if j != d and t._shape[j] != ref._shape[j]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected "
                                   f"size {ref._shape[j]} but got size {t._shape[j]} for tensor "
                                   f"number {i} in the list.")
        keep.append(t)
    return Cat.apply(d, *keep)


@_args.numpy_aliases
def stack(tensors, dim=0):
    """The tensors (all of one shape) joined along a new dimension ``dim`` (``torch.stack``).

    >>> tt.stack([tt.tensor([1, 2]), tt.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    """
    _check_sequence(tensors, "stack")
    first = tensors[0]._shape
    for i, t in enumerate(tensors):
        if t._shape != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first)} "
                               f"at entry 0 and {list(t._shape)} at entry {i}")
    d = wrap_dim(dim, len(first) + 1)
    return _named(cat([t.unsqueeze(d) for t in tensors], d), "StackBackward0")
