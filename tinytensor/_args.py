"""Argument parsing for the whole public API: one place for PyTorch 2.13's parsing rules and
error texts.

PyTorch parses the arguments of its C++ functions with one parser (python_arg_parser.cpp), and
its messages are what users and their tests see. Every tinytensor function that takes ints,
int tuples, dtypes, devices or shapes parses them here, so each rule is written once:

- an int argument (`groups`) accepts Python and NumPy ints and integer 0-d tensors, never bool;
  past int64 it raises ValueError("Overflow when unpacking long long");
- an int-tuple argument (`kernel_size`, `stride`, `size`) accepts an int or a sequence. Only the
  first element decides whether the call matches the signature ("must be tuple of ints, but
  found element of type float at pos 0"); later elements are unpacked and fail with "failed to
  unpack the object at pos N" (and a later bool is read as 0/1, as PyTorch does);
- `torch.nn.modules.utils`' `_single/_pair/_triple/_ntuple` expand module arguments;
- a device is parsed by `device(...)`; anything but the CPU raises one clear error.

This module sits just above the storage layer (`_tensor`): it may be imported by every layer.
"""
import collections.abc
import functools
import inspect
import numbers
from itertools import repeat

from tinytensor._tensor import TensorBase, as_dtype

__all__ = ["device", "is_int", "int64", "int_arg", "number_arg", "int_list", "type_name", "dtype_name",
           "scalar_name", "c_type_name", "check_tensor", "shape_str", "expand",
           "dim_index_error", "check_device", "ntuple", "_single", "_pair", "_triple",
           "_quadruple", "numpy_aliases"]

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}
_C_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "bool": "bool"}


# ------------------------------------------------------------------------------ names in messages

def type_name(v):
    """The type as PyTorch's messages name it ('Tensor', 'float', 'NoneType')."""
    return "Tensor" if isinstance(v, TensorBase) else type(v).__name__


def dtype_name(dtype):
    """'float32' for tt.float32 (or for a tensor of that dtype)."""
    if isinstance(dtype, TensorBase):
        dtype = dtype.dtype
    return getattr(dtype, "name", str(dtype)).replace("tinytensor.", "")


def scalar_name(dtype):
    """PyTorch's ScalarType name: 'Float' for float32, 'Long' for int64."""
    name = dtype_name(dtype)
    return _SCALAR_NAMES.get(name, name)


def c_type_name(dtype):
    """The C type PyTorch prints in some messages: 'float', 'double', 'long int'."""
    name = dtype_name(dtype)
    return _C_NAMES.get(name, name)


def shape_str(shape):
    """[2, 3]: a shape as PyTorch prints it in messages."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


def dim_index_error(ndim, dim):
    if ndim == 0:
        return IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
                      f"but got {dim})")


def check_tensor(fn, argname, pos, value):
    """`fn(): argument 'input' (position 1) must be Tensor, not int` unless value is a Tensor."""
    if not isinstance(value, TensorBase):
        raise TypeError(f"{fn}(): argument '{argname}' (position {pos}) must be Tensor, not "
                        f"{type_name(value)}")


# ------------------------------------------------------------------------------ ints

def is_int(v):
    """A Python or NumPy int, or an integer 0-d tensor; never a bool."""
    if type(v) is int:                      # the common case, without the ABC check below
        return True
    if isinstance(v, bool):
        return False
    if isinstance(v, numbers.Integral):
        return True
    return (isinstance(v, TensorBase) and v.ndim == 0 and not v.dtype.is_floating_point
            and v.dtype.name != "bool")


def int64(v):
    """int(v), or PyTorch's error where a C int64 cannot hold it."""
    v = int(v)
    if not INT64_MIN <= v <= INT64_MAX:
        raise ValueError("Overflow when unpacking long long")
    return v


def int_arg(fn, argname, pos, value):
    """A single-int argument (`groups`, `dim`): an int64, or PyTorch's TypeError."""
    if not is_int(value):
        raise TypeError(f"{fn}(): argument '{argname}' (position {pos}) must be int, not "
                        f"{type_name(value)}")
    return int64(value)


def _unpack_error(fn, argname, index, detail):
    return TypeError(f"{fn}(): argument '{argname}' failed to unpack the object at pos "
                     f"{index + 1} with error \"{detail}\"")


def number_arg(fn, argname, pos, value):
    """A Number argument (alpha, beta, threshold, lambd) as a float: a Python or NumPy real
    (a bool counts, as 1.0 / 0.0) or a 0-d tensor; anything else raises PyTorch's TypeError
    ("elu(): argument 'alpha' (position 2) must be Number, not str")."""
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, TensorBase) and value.ndim == 0:
        return float(value.item())
    raise TypeError(f"{fn}(): argument '{argname}' (position {pos}) must be Number, not "
                    f"{type_name(value)}")


def int_list(fn, argname, pos, value, mismatch=None):
    """PyTorch's int-tuple parser (IntArrayRef): an int gives [v], a sequence gives its ints.

    `mismatch(value)` builds the error for a value that matches no signature; the default is
    the single-signature text ("must be tuple of ints, not float"). Functions with overloads
    (conv2d) pass their "received an invalid combination of arguments" builder."""
    if type(value) is int:
        return [int64(value)]
    if type(value) is tuple and all([type(v) is int for v in value]) and value:
        out = list(value)                   # plain ints: only the int64 range to check
        for v in out:
            if not INT64_MIN <= v <= INT64_MAX:
                break
        else:
            return out
    if is_int(value):
        return [int64(value)]
    if isinstance(value, (tuple, list)):
        if value and not is_int(value[0]):
            if mismatch is not None:
                raise mismatch(value)
            raise TypeError(f"{fn}(): argument '{argname}' (position {pos}) must be tuple of "
                            f"ints, but found element of type {type_name(value[0])} at pos 0")
        out = []
        for i, v in enumerate(value):
            if not (is_int(v) or isinstance(v, bool)):
                raise _unpack_error(fn, argname, i, f"type must be tuple of ints,but got "
                                                    f"{type_name(v)}")
            v = int(v)
            if not INT64_MIN <= v <= INT64_MAX:
                raise _unpack_error(fn, argname, i, "Overflow when unpacking long long")
            out.append(v)
        return out
    if mismatch is not None:
        raise mismatch(value)
    raise TypeError(f"{fn}(): argument '{argname}' (position {pos}) must be tuple of ints, not "
                    f"{type_name(value)}")


def expand(values, n):
    """One value stands for all n dims; otherwise the values as they are."""
    return list(values) * n if len(values) == 1 else list(values)


def ntuple(n, name="parse"):
    """torch.nn.modules.utils._ntuple: an iterable becomes a tuple, anything else n copies."""
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = ntuple(1, "_single")
_pair = ntuple(2, "_pair")
_triple = ntuple(3, "_triple")
_quadruple = ntuple(4, "_quadruple")


# ------------------------------------------------------------------------------ NumPy keyword names

# python_arg_parser.cpp's numpy_compatibility_arg_names: every function PyTorch parses in C++
# also takes these NumPy spellings as keywords (`x.sum(axis=0, keepdims=True)`).
_NUMPY_ALIASES = {"axis": "dim", "keepdims": "keepdim", "x": "input", "a": "input",
                  "x1": "input", "x2": "other"}


def numpy_aliases(fn):
    """Decorator: accept `axis=` for `dim=`, `keepdims=` for `keepdim=`, `x=`/`a=`/`x1=` for
    `input=` and `x2=` for `other=`, for whichever of those parameters `fn` has. Giving both
    spellings raises PyTorch's TypeError ("sum() got an unexpected keyword argument 'axis'").

    >>> tt.tensor([[1., 2.]]).sum(axis=1, keepdims=True)
    tensor([[3.]])
    """
    params = inspect.signature(fn).parameters
    aliases = {k: v for k, v in _NUMPY_ALIASES.items() if v in params and k not in params}
    if not aliases:
        return fn
    name = fn.__name__
    pairs = tuple(aliases.items())

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:                          # (the common positional call pays one test)
            for alias, real in pairs:
                if alias in kwargs:
                    if real in kwargs:
                        raise TypeError(f"{name}() got an unexpected keyword argument '{alias}'")
                    kwargs[real] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    return wrapper


# ------------------------------------------------------------------------------ dtypes

def dtype_arg(value, default=None):
    """A dtype argument: None gives `default`; a tinytensor dtype, 'float32', np.float32 ..."""
    return default if value is None else as_dtype(value)


# ------------------------------------------------------------------------------ devices

_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                 "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")


class device:
    """A device, as `torch.device`: tinytensor computes on the CPU only.

    `device("cpu")`, `device("cpu", 0)` and `device("cuda:0")` can all be built, as in PyTorch
    (scripts build one before they ask what is available); putting a tensor on anything but
    the CPU raises a RuntimeError.

    >>> import tinytensor as tt
    >>> tt.device("cpu")
    device(type='cpu')
    >>> tt.zeros(2).device == tt.device("cpu")
    True
    """
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): a device object cannot be combined with an index")
            type, index = type.type, type.index
        elif is_int(type) and index is None:
            raise RuntimeError("Cannot access accelerator device when none is available.")
        elif not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got "
                            f"({type_name(type)}), but expected one of:\n"
                            f" * (torch.device device)\n * (str type, int index = -1)")
        else:
            name, _, idx = type.partition(":")
            if name not in _DEVICE_TYPES:
                raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at "
                                   f"start of device string: {type}")
            if idx:
                if index is not None:
                    raise RuntimeError(f"type (string) must not include an index because index "
                                       f"was passed explicitly: {type}")
                if not idx.isdigit():
                    raise RuntimeError(f"Invalid device string: '{type}'")
                index = int(idx)
            type = name
        if index is not None:
            index = int64(index)
            if index < 0:
                raise RuntimeError(f"Device index must not be negative")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError(f"attribute '{name}' of 'tinytensor.device' objects is not writable")

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        return (isinstance(other, device) and self.type == other.type
                and self.index == other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


def check_device(value):
    """Accept None, 'cpu', 'cpu:0' or a CPU device; anything else raises one clear error."""
    if value is None:
        return CPU
    if is_int(value):               # a bare index names an accelerator
        raise RuntimeError(f"tinytensor runs on the CPU only: there is no accelerator device "
                           f"{value} (tinytensor.accelerator.is_available() is False)")
    d = value if isinstance(value, device) else device(value)
    if d.type != "cpu":
        raise RuntimeError(f"tinytensor runs on the CPU only: there is no '{d}' device "
                           f"(tinytensor.cuda.is_available() is False; use 'cpu')")
    return d


def parse_to(*args, **kwargs):
    """(device, dtype, non_blocking, copy) from the arguments of `Tensor.to` / `Module.to`.

    PyTorch's forms: to(dtype), to(device, dtype=None), to(tensor), each with non_blocking and
    copy after it; keywords device=, dtype=, non_blocking=, copy=, memory_format=. A device
    other than the CPU raises (check_device)."""
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    flags = []
    for a in args:
        if isinstance(a, TensorBase):
            dtype = a.dtype
        elif isinstance(a, device) or (isinstance(a, str)
                                       and a.partition(":")[0] in _DEVICE_TYPES):
            dev = a
        elif isinstance(a, bool):
            flags.append(a)
        elif is_int(a):
            dev = a           # an accelerator index: check_device refuses it
        else:
            dtype = as_dtype(a)
    if flags:
        non_blocking = flags[0]
        copy = flags[1] if len(flags) > 1 else copy
    if dev is not None:
        dev = check_device(dev)
    return dev, (None if dtype is None else as_dtype(dtype)), non_blocking, copy
