"""PyTorch's checkpoint format (what `torch.save` writes), read and written without torch.

`tinytensor.serialization` calls this module; users go through `tt.save` / `tt.load`::

    tt.save(model.state_dict(), "lenet.pt")        # .pt/.pth/.pth.tar/.ckpt: PyTorch's format
    sd = tt.load("resnet_trained_with_torch.pth")  # any torch.save file, torch not installed

The format (torch >= 1.6, `torch.save` default)
-----------------------------------------------
An uncompressed ZIP archive whose members all sit under one folder (``archive/`` by default):

- ``data.pkl``: a pickle (protocol 2) of the saved object. A tensor is pickled as a call to
  ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  backward_hooks)``, where ``storage`` is a *persistent id*
  ``("storage", torch.FloatStorage, "0", "cpu", numel)`` naming the member ``data/0``;
- ``data/0``, ``data/1``, ...: the raw bytes of each storage (numel elements), shared by every
  tensor that views it: views sharing one storage come back sharing it;
- ``byteorder`` ("little" or "big"), ``version`` ("3"), ``.format_version``,
  ``.storage_alignment`` (storages start at 64-byte offsets in the file).

The legacy format (``torch.save(..., _use_new_zipfile_serialization=False)``) is a run of
pickles (magic number, protocol, system info, the object, the storage keys) followed by each
storage as an 8-byte element count and its bytes; `load_legacy` reads it too.

Safety
------
The pickle is read by `_Unpickler`, a small interpreter written here that never imports or calls
anything named by the file. A global (GLOBAL, STACK_GLOBAL, INST, the copyreg extension
registry) is looked up in `_ALLOWED`, a table of what ``torch.load(weights_only=True)`` allows:
tensor and parameter rebuild functions (implemented here), storage types, dtypes,
``torch.Size``, ``torch.device``, ``OrderedDict``, ``Counter``, ``set``, ``frozenset``,
``complex`` and ``_codecs.encode`` (how protocol 2 spells bytes). Anything else raises
`UnpicklingError` naming the global before anything runs. Containers are only filled through
their own type's methods (SETITEM on dicts, APPEND on lists), never through an object's
attributes. Every storage size is checked against its ZIP member (or the bytes left in a legacy
file) before it is allocated, and every tensor's size, stride and offset against its storage
before the view is built, so a corrupted or hostile file gives a clear error, never a crash or
a huge allocation.

dtypes: float32, float64, int64 and bool load as they are. float16 and bfloat16 become float32,
int8/int16/int32/uint8/uint16/uint32 become int64 (exact conversions, made once per storage so
sharing survives); complex, uint64, float8 and quantized tensors are refused with an error that
names the dtype.
"""
import codecs
import copyreg
import io
import os
import pickle
import struct
import sys
import zipfile
import zlib
from collections import Counter, OrderedDict

import numpy as np

from tinytensor._args import device
from tinytensor._tensor import Size, Storage, bool_, dtype as _tt_dtype, float32, float64, int64
from tinytensor.nn import Parameter
from tinytensor.tensor import Tensor

__all__ = ["save_torch", "load_zip", "load_legacy", "is_torch_zip", "UnpicklingError",
           "check_map_location"]

_CHUNK = 1 << 20                # read/write size: transient copies stay small next to a storage
_MAX_DEFLATE_RATIO = 1100       # deflate expands at most ~1032x: larger claims cannot be honest
_MAX_DEPTH = 200                # nesting of containers when saving
_MAX_INDEX = 1 << 62            # sizes, strides and offsets beyond this cannot address memory
_MAX_LONG_BYTES = 1 << 16       # LONG4 integers: no checkpoint needs more
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_LEGACY_MAGIC_BYTES = pickle.LONG1 + bytes([10]) + _LEGACY_MAGIC.to_bytes(10, "little")
# what zipfile raises on damaged bytes (unsupported methods and flags, undecodable names,
# offsets that seek before the start of the file)
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            ValueError, OverflowError)


class UnpicklingError(pickle.UnpicklingError, RuntimeError):
    """A pickle tt.load refuses (a forbidden global, a malformed stream). It is both
    `pickle.UnpicklingError` (what torch.load raises) and `RuntimeError` (what tt.load raises
    for every unreadable file)."""


class _DamagedFile(RuntimeError):
    """A storage that is missing, truncated or of the wrong size (its message is complete)."""


# ------------------------------------------------------------------------------ dtype tables

# torch dtype name -> (NumPy dtype of the bytes in the file, little-endian; tinytensor dtype)
_DTYPES = {
    "float32": ("<f4", float32), "float64": ("<f8", float64), "int64": ("<i8", int64),
    "bool": ("|b1", bool_), "float16": ("<f2", float32), "bfloat16": ("<u2", float32),
    "int32": ("<i4", int64), "int16": ("<i2", int64), "int8": ("|i1", int64),
    "uint8": ("|u1", int64), "uint16": ("<u2", int64), "uint32": ("<u4", int64),
}
# dtypes torch has and tinytensor refuses, with their element sizes
_REFUSED_DTYPES = {
    "complex32": 4, "complex64": 8, "complex128": 16, "uint64": 8, "float8_e4m3fn": 1,
    "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1, "float8_e8m0fnu": 1,
    "float4_e2m1fn_x2": 1, "qint8": 1, "quint8": 1, "qint32": 4, "quint4x2": 1, "quint2x4": 1,
    "bits8": 1, "bits16": 2, "bits1x8": 1, "bits2x4": 1, "bits4x2": 1,
    "int1": 1, "int2": 1, "int3": 1, "int4": 1, "int5": 1, "int6": 1, "int7": 1,
    "uint1": 1, "uint2": 1, "uint3": 1, "uint4": 1, "uint5": 1, "uint6": 1, "uint7": 1,
}
# torch's other spellings of the same dtypes (torch.float is torch.float32, ...)
_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64",
                  "int": "int32", "short": "int16", "cfloat": "complex64",
                  "cdouble": "complex128", "chalf": "complex32"}
_STORAGE_TYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "QInt8Storage": "qint8", "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
    "UntypedStorage": "uint8",
}
_TT_TO_TORCH = {float32: ("float32", "FloatStorage"), float64: ("float64", "DoubleStorage"),
                int64: ("int64", "LongStorage"), bool_: ("bool", "BoolStorage")}


def _itemsize(torch_dtype):
    if torch_dtype in _DTYPES:
        return np.dtype(_DTYPES[torch_dtype][0]).itemsize
    return _REFUSED_DTYPES[torch_dtype]


class _TorchDtype:
    """A torch dtype tinytensor has no equivalent for (torch.float16, ...), as a value."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"

    def __eq__(self, other):
        return isinstance(other, _TorchDtype) and other.name == self.name

    def __hash__(self):
        return hash(("torch dtype", self.name))


class _StorageType:
    """What `torch.FloatStorage` (and the other storage classes) unpickle to."""

    def __init__(self, name, torch_dtype):
        self.name = name
        self.torch_dtype = torch_dtype

    def __repr__(self):
        return f"torch.{self.name}"


def _dtype_value(name):
    """The value a pickled `torch.<dtype>` global becomes."""
    name = _DTYPE_ALIASES.get(name, name)
    if name in ("float32", "float64", "int64", "bool"):
        return _DTYPES[name][1]
    return _TorchDtype(name)


def _torch_dtype_name(obj):
    """The torch dtype name of a dtype argument (tinytensor dtype or _TorchDtype), or None."""
    if isinstance(obj, _tt_dtype):
        return _TT_TO_TORCH[obj][0]
    if isinstance(obj, _TorchDtype):
        return obj.name
    return None


# ------------------------------------------------------------------------------ map_location

def check_map_location(map_location):
    """Validate `map_location` up front; return a function location -> None that raises for a
    location the mapping does not bring to the CPU.

    Accepted: None, 'cpu', a CPU device object (anything whose str() is 'cpu'), a dict whose
    values are all CPU, or a callable `f(storage, location)` returning the storage it was
    given (PyTorch's `lambda storage, loc: storage` idiom).
    """
    def is_cpu(x):
        if isinstance(x, str):
            return x == "cpu"
        return hasattr(x, "type") and str(x) == "cpu"

    if map_location is None:
        return _check_cpu_location
    if isinstance(map_location, str) or hasattr(map_location, "type") and \
            not callable(map_location) and not isinstance(map_location, dict):
        if is_cpu(map_location):
            return _any_location
        raise RuntimeError(f"tt.load: map_location={map_location!r}: tinytensor runs on the CPU "
                           "only; use map_location='cpu'")
    if isinstance(map_location, dict):
        bad = {k: v for k, v in map_location.items() if not is_cpu(v)}
        if bad:
            raise RuntimeError(f"tt.load: map_location={map_location!r} maps storages to "
                               f"{sorted(map(str, bad.values()))}: tinytensor runs on the CPU "
                               "only")

        def check(location):
            if location not in map_location:
                _check_cpu_location(location)
        return check
    if callable(map_location):
        def check(location, storage):
            if map_location(storage, location) is not storage:
                raise RuntimeError("tt.load: a callable map_location must return the storage it "
                                   "is given (lambda storage, loc: storage): tinytensor runs on "
                                   "the CPU only")
        check.takes_storage = True
        return check
    raise TypeError(f"tt.load: map_location must be None, 'cpu', a CPU device, a dict or a "
                    f"callable, got {type(map_location).__name__}")


def _any_location(location):
    return None


def _check_cpu_location(location):
    if location == "cpu":
        return
    if location.startswith("cuda"):
        raise RuntimeError("Attempting to deserialize object on a CUDA device but "
                           "torch.cuda.is_available() is False. If you are running on a CPU-only "
                           "machine, please use torch.load with map_location=torch.device('cpu') "
                           "to map your storages to the CPU.")
    raise RuntimeError(f"tt.load: the file holds storages on device {location!r}; tinytensor "
                       "runs on the CPU only: pass map_location='cpu' to load them there")


# ------------------------------------------------------------------------------ unpickling

def _rebuild_tensor(storage, storage_offset, size, stride):
    return _make_tensor(storage, storage_offset, size, stride, False, None, None)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    return _make_tensor(storage, storage_offset, size, stride, requires_grad, None, metadata)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    return _make_tensor(storage, storage_offset, size, stride, requires_grad, dtype, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    if not isinstance(data, Tensor):
        raise UnpicklingError(f"_rebuild_parameter expects a tensor, got {type(data).__name__}")
    if type(requires_grad) is not bool:
        raise UnpicklingError(f"_rebuild_parameter: requires_grad must be a bool, got "
                              f"{requires_grad!r}")
    if requires_grad and not data.dtype.is_floating_point:
        raise UnpicklingError(f"a parameter of dtype {data.dtype} cannot require gradients")
    return Parameter(data, requires_grad)


def _set_state(obj, state):
    """Python attributes saved with a tensor (torch's `_set_obj_state`), as plain data only:
    names that already mean something on the object (grad, data, ...) are refused."""
    if isinstance(state, tuple) and len(state) == 2 and \
            all(part is None or isinstance(part, dict) for part in state):
        state = {**(state[0] or {}), **(state[1] or {})}     # (__dict__, slots) state
    if not state:
        return obj
    if not isinstance(state, dict):
        raise UnpicklingError(f"tensor state must be a dict, got {type(state).__name__}")
    for k, v in state.items():
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("__") or hasattr(obj, k):
            raise UnpicklingError(f"refusing to set attribute {k!r} on a loaded tensor")
        obj.__dict__[k] = v
    return obj


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


_TENSOR_CLASS = object()        # what `torch.Tensor` unpickles to
_PARAMETER_CLASS = object()     # what `torch.nn.parameter.Parameter` unpickles to


def _rebuild_from_type_v2(func, new_type, args, state):
    if not any(func is f for f in (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3,
                                   _rebuild_parameter, _rebuild_parameter_with_state)) \
            or not isinstance(args, tuple):
        raise UnpicklingError("_rebuild_from_type_v2 may only call a tensor rebuild function")
    if new_type is not _TENSOR_CLASS and new_type is not _PARAMETER_CLASS:
        raise UnpicklingError("_rebuild_from_type_v2 may only build torch.Tensor or Parameter")
    obj = func(*args)
    if new_type is _PARAMETER_CLASS and type(obj) is Tensor:
        obj = _rebuild_parameter(obj, obj.requires_grad, None)
    return _set_state(obj, state)


def _make_size(sizes=()):
    sizes = tuple(sizes) if isinstance(sizes, (list, tuple)) else None
    if sizes is None or not all(type(s) is int for s in sizes):
        raise UnpicklingError("torch.Size expects a tuple of ints")
    return Size(sizes)


def _make_device(kind, index=None):
    if not isinstance(kind, str) or not (index is None or type(index) is int):
        raise UnpicklingError("torch.device expects (str, int or None)")
    text = kind if index is None or ":" in kind else f"{kind}:{index}"
    if text == "cpu":
        return device("cpu")
    return text            # tinytensor has no other devices: keep the name as a string


def _make_ordered_dict(items=()):
    out = OrderedDict()
    _fill_mapping(out, items, "collections.OrderedDict")
    return out


def _make_counter(items=()):
    out = Counter()
    _fill_mapping(out, items, "collections.Counter")
    return out


def _fill_mapping(out, items, what):
    if isinstance(items, dict):
        items = list(items.items())
    if not isinstance(items, (list, tuple)):
        raise UnpicklingError(f"{what} expects a list of (key, value) pairs")
    for pair in items:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise UnpicklingError(f"{what} expects a list of (key, value) pairs")
        out[pair[0]] = pair[1]


def _make_set(items=()):
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise UnpicklingError("builtins.set expects a list")
    return set(items)


def _make_frozenset(items=()):
    return frozenset(_make_set(items))


def _make_complex(real=0.0, imag=0.0):
    if not all(type(x) in (int, float) for x in (real, imag)):
        raise UnpicklingError("builtins.complex expects two numbers")
    return complex(real, imag)


def _make_bytearray(data=b""):
    if not isinstance(data, (bytes, bytearray)):
        raise UnpicklingError("builtins.bytearray expects bytes")
    return bytearray(data)


def _codecs_encode(text, encoding="utf-8"):
    # protocol 2 pickles bytes as _codecs.encode(str, 'latin1')
    if not (type(text) is str and type(encoding) is str
            and encoding in ("latin1", "latin-1", "utf-8", "utf8")):
        raise UnpicklingError("_codecs.encode expects (str, 'latin1')")
    return codecs.encode(text, encoding)


_UNSUPPORTED = {
    "torch._utils._rebuild_sparse_tensor": "sparse tensors",
    "torch._utils._rebuild_qtensor": "quantized tensors",
    "torch._utils._rebuild_meta_tensor_no_storage": "meta tensors",
    "torch._utils._rebuild_nested_tensor": "nested tensors",
    "torch._utils._rebuild_wrapper_subclass": "tensor subclasses",
    "torch._utils._rebuild_device_tensor_from_numpy": "tensors rebuilt from NumPy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": "device tensors",
    "torch.serialization._get_layout": "sparse tensors",
}


def _allowed_globals():
    table = {
        "collections.OrderedDict": _make_ordered_dict,
        "collections.Counter": _make_counter,
        "builtins.set": _make_set,
        "builtins.frozenset": _make_frozenset,
        "builtins.complex": _make_complex,
        "builtins.bytearray": _make_bytearray,
        "_codecs.encode": _codecs_encode,
        "torch.Size": _make_size,
        "torch.device": _make_device,
        "torch.Tensor": _TENSOR_CLASS,
        "torch.nn.parameter.Parameter": _PARAMETER_CLASS,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    }
    for name in list(_DTYPES) + list(_REFUSED_DTYPES) + list(_DTYPE_ALIASES):
        table[f"torch.{name}"] = _dtype_value(name)
    for name, dt in _STORAGE_TYPES.items():
        table[f"torch.{name}"] = _StorageType(name, dt)
    table["torch.storage.UntypedStorage"] = table["torch.UntypedStorage"]
    table["torch.storage.TypedStorage"] = _StorageType("TypedStorage", None)
    return table


_ALLOWED = _allowed_globals()
_CALLABLE = {id(v): k for k, v in _ALLOWED.items() if callable(v)}
# Python 2 names that protocol 2 writes (pickle's own compat mapping, restricted to these)
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _resolve(module, name):
    """The object a global names, or UnpicklingError naming it: nothing is imported."""
    if not isinstance(module, str) or not isinstance(name, str):
        raise UnpicklingError("a global's module and name must be strings")
    module = _PY2_MODULES.get(module, module)
    full = f"{module}.{name}"
    if full in _ALLOWED:
        return _ALLOWED[full]
    if full in _UNSUPPORTED:
        raise UnpicklingError(f"the file holds {_UNSUPPORTED[full]} ({full}), which tinytensor "
                              "cannot load")
    if module.startswith("torch.nn.modules") or module == "__main__":
        raise UnpicklingError(
            f"Weights only load failed: Unsupported global: GLOBAL {full} is not allowed: the "
            "file holds a whole pickled model or object (torch.save(model)); tinytensor loads "
            "tensors, containers and plain values only: save model.state_dict() instead")
    raise UnpicklingError(
        f"Weights only load failed: Unsupported global: GLOBAL {full} is not allowed: tinytensor "
        "only rebuilds tensors, containers and plain values (what "
        "torch.load(weights_only=True) allows) and never calls or imports what a file names; "
        "nothing was executed")


class _Unpickler:
    """A pickle interpreter that can only build tensors, containers and plain values.

    `read(n)` and `readline()` come from the stream; `limit` is the number of bytes the pickle
    may span (checked before any length-prefixed read, so a lying length allocates nothing);
    `persistent_load(pid)` turns a storage id into a tinytensor `Storage` reference.
    """

    def __init__(self, stream, limit, persistent_load, encoding="utf-8"):
        self.stream = stream
        self.left = limit
        self.persistent_load = persistent_load
        self.encoding = encoding
        self.memo = {}
        self.stack = []
        self.metastack = []

    # ---- reading

    def read(self, n):
        if n < 0:
            raise UnpicklingError(f"malformed pickle: negative length {n}")
        if n > self.left:
            raise UnpicklingError(f"pickle data was truncated (an opcode needs {n} bytes, "
                                  f"{self.left} are left)")
        data = self.stream.read(n)
        if len(data) != n:
            raise UnpicklingError("pickle data was truncated")
        self.left -= n
        return data

    def readline(self):
        line = self.stream.readline(min(self.left, 1 << 16))
        self.left -= len(line)
        if not line.endswith(b"\n"):
            raise UnpicklingError("pickle data was truncated (a text argument has no newline)")
        return line[:-1]

    def unpack(self, fmt):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    # ---- stack

    def pop(self):
        if not self.stack:
            raise UnpicklingError("malformed pickle: the stack is empty")
        return self.stack.pop()

    def top(self):
        if not self.stack:
            raise UnpicklingError("malformed pickle: the stack is empty")
        return self.stack[-1]

    def pop_mark(self):
        if not self.metastack:
            raise UnpicklingError("malformed pickle: no MARK on the stack")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def memo_get(self, i):
        if i not in self.memo:
            raise UnpicklingError(f"malformed pickle: memo entry {i} was never stored")
        self.stack.append(self.memo[i])

    def memo_put(self, i):
        self.memo[i] = self.top()

    def call(self, func, args, opcode):
        """REDUCE / NEWOBJ: only the functions of `_ALLOWED`, which validate their arguments."""
        if id(func) not in _CALLABLE or _ALLOWED[_CALLABLE[id(func)]] is not func:
            raise UnpicklingError(f"{opcode} may only call an allowed torch function, got "
                                  f"{type(func).__name__}")
        if not isinstance(args, tuple):
            raise UnpicklingError(f"{opcode} arguments must be a tuple")
        try:
            return func(*args)
        except (UnpicklingError, _DamagedFile):
            raise
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:
            raise UnpicklingError(f"{_CALLABLE[id(func)]}: bad arguments in the file: {e}") \
                from None

    def text(self, data):
        if self.encoding == "bytes":
            return bytes(data)
        return data.decode(self.encoding)

    # ---- the opcodes

    def load(self):
        while True:
            op = self.read(1)
            handler = _OPCODES.get(op)
            if handler is None:
                name = _OPCODE_NAMES.get(op, repr(op))
                raise UnpicklingError(f"unsupported pickle opcode {name}: tinytensor reads the "
                                      "opcodes torch.save writes")
            if handler is _STOP:
                if len(self.stack) != 1 or self.metastack:
                    raise UnpicklingError("malformed pickle: STOP with a malformed stack")
                return self.stack[0]
            handler(self)


def _op_global(u):
    module = u.readline().decode("utf-8", "replace")
    name = u.readline().decode("utf-8", "replace")
    u.stack.append(_resolve(module, name))


def _op_stack_global(u):
    name = u.pop()
    module = u.pop()
    u.stack.append(_resolve(module, name))


def _op_inst(u):
    module = u.readline().decode("utf-8", "replace")
    name = u.readline().decode("utf-8", "replace")
    _resolve(module, name)
    raise UnpicklingError(f"unsupported pickle opcode INST ({module}.{name})")


def _op_obj(u):
    raise UnpicklingError("unsupported pickle opcode OBJ: torch.save never writes it")


def _op_ext(size):
    def op(u):
        code = int.from_bytes(u.read(size), "little")
        target = copyreg._inverted_registry.get(code)      # a dict lookup: nothing is called
        named = f" ({target[0]}.{target[1]})" if target else ""
        raise UnpicklingError(f"unsupported pickle opcode EXT{size} (copyreg extension "
                              f"code {code}{named}): nothing was executed")
    return op


def _op_reduce(u):
    args = u.pop()
    func = u.pop()
    if func is _TENSOR_CLASS or func is _PARAMETER_CLASS:
        raise UnpicklingError("REDUCE on torch.Tensor or Parameter is not supported")
    u.stack.append(u.call(func, args, "REDUCE"))


def _op_newobj(u):
    args = u.pop()
    cls = u.pop()
    if not isinstance(args, tuple):
        raise UnpicklingError("NEWOBJ arguments must be a tuple")
    if cls is _PARAMETER_CLASS:
        data = args[0] if args else None
        rg = args[1] if len(args) > 1 else True
        u.stack.append(_rebuild_parameter(data, rg, None))
    elif any(cls is c for c in (_make_ordered_dict, _make_counter, _make_set, _make_frozenset)):
        u.stack.append(u.call(cls, args, "NEWOBJ"))
    else:
        raise UnpicklingError("NEWOBJ may only create OrderedDict, Counter, set or Parameter")


def _op_build(u):
    state = u.pop()
    inst = u.top()
    if type(inst) is OrderedDict and isinstance(state, dict) and \
            all(isinstance(k, str) for k in state):
        vars(inst).update(state)             # state_dict()._metadata: plain data on the dict
    elif isinstance(inst, Tensor):
        _set_state(inst, state)
    else:
        raise UnpicklingError(f"BUILD may only set attributes of an OrderedDict or a tensor, got "
                              f"{type(inst).__name__}")


def _op_persid(u):
    u.stack.append(u.persistent_load(u.pop()))


def _op_text_persid(u):
    raise UnpicklingError("unsupported pickle opcode PERSID: torch.save writes BINPERSID")


def _op_append(u):
    item = u.pop()
    target = u.top()
    if type(target) is not list:
        raise UnpicklingError(f"APPEND may only add to a list, got {type(target).__name__}")
    target.append(item)


def _op_appends(u):
    items = u.pop_mark()
    target = u.top()
    if type(target) is not list:
        raise UnpicklingError(f"APPENDS may only add to a list, got {type(target).__name__}")
    target.extend(items)


def _setitems(u, items, opcode):
    target = u.top()
    if type(target) not in (dict, OrderedDict, Counter):
        raise UnpicklingError(f"{opcode} may only fill a dict, got {type(target).__name__}")
    if len(items) % 2:
        raise UnpicklingError(f"malformed pickle: {opcode} with an odd number of items")
    for i in range(0, len(items), 2):
        try:
            target[items[i]] = items[i + 1]
        except TypeError:
            raise UnpicklingError(f"a dict key of type {type(items[i]).__name__} is not "
                                  "hashable") from None


def _op_setitem(u):
    value = u.pop()
    key = u.pop()
    _setitems(u, [key, value], "SETITEM")


def _op_setitems(u):
    _setitems(u, u.pop_mark(), "SETITEMS")


def _op_additems(u):
    items = u.pop_mark()
    target = u.top()
    if type(target) is not set:
        raise UnpicklingError(f"ADDITEMS may only fill a set, got {type(target).__name__}")
    try:
        target.update(items)
    except TypeError:
        raise UnpicklingError("a set item is not hashable") from None


def _op_frozenset(u):
    items = u.pop_mark()            # before naming u.stack: pop_mark replaces it
    try:
        u.stack.append(frozenset(items))
    except TypeError:
        raise UnpicklingError("a frozenset item is not hashable") from None


def _op_mark(u):
    if len(u.metastack) > 10_000:
        raise UnpicklingError("malformed pickle: more than 10000 nested MARKs")
    u.metastack.append(u.stack)
    u.stack = []


def _op_tuple_n(n):
    def op(u):
        if len(u.stack) < n:
            raise UnpicklingError("malformed pickle: the stack is too short for a tuple")
        items = tuple(u.stack[len(u.stack) - n:]) if n else ()
        del u.stack[len(u.stack) - n:]
        u.stack.append(items)
    return op


def _op_tuple(u):
    items = u.pop_mark()            # before naming u.stack: pop_mark replaces it
    u.stack.append(tuple(items))


def _op_list(u):
    items = u.pop_mark()
    u.stack.append(items)


def _op_dict(u):
    items = u.pop_mark()
    u.stack.append({})
    _setitems(u, items, "DICT")


def _push(value):
    def op(u):
        u.stack.append(value() if callable(value) else value)
    return op


def _op_int(u):
    line = u.readline()
    if line in (b"00", b"01"):
        u.stack.append(line == b"01")
        return
    try:
        u.stack.append(int(line))
    except ValueError:
        raise UnpicklingError(f"malformed INT argument {line[:40]!r}") from None


def _op_long_text(u):
    line = u.readline().rstrip(b"L")
    if len(line) > 4000:
        raise UnpicklingError("integer literal too long")
    try:
        u.stack.append(int(line))
    except ValueError:
        raise UnpicklingError(f"malformed LONG argument {line[:40]!r}") from None


def _op_float_text(u):
    try:
        u.stack.append(float(u.readline()))
    except ValueError:
        raise UnpicklingError("malformed FLOAT argument") from None


def _op_long(size_fmt):
    def op(u):
        n = u.unpack(size_fmt)
        if n > _MAX_LONG_BYTES:
            raise UnpicklingError(f"a {n}-byte integer: no checkpoint holds one")
        u.stack.append(int.from_bytes(u.read(n), "little", signed=True))
    return op


def _op_unicode(size_fmt):
    def op(u):
        n = u.unpack(size_fmt)
        try:
            u.stack.append(str(u.read(n), "utf-8", "surrogatepass"))
        except UnicodeDecodeError as e:
            raise UnpicklingError(f"a string is not valid UTF-8: {e}") from None
    return op


def _op_bytes(size_fmt):
    def op(u):
        u.stack.append(bytes(u.read(u.unpack(size_fmt))))
    return op


def _op_py2_string(size_fmt):
    def op(u):
        data = u.read(u.unpack(size_fmt))
        try:
            u.stack.append(u.text(data))
        except UnicodeDecodeError as e:
            raise UnpicklingError(f"a Python 2 string cannot be decoded as {u.encoding} ({e}); "
                                  "pass encoding='latin1' or encoding='bytes' to tt.load") \
                from None
    return op


def _op_proto(u):
    proto = u.read(1)[0]
    if proto > 5:
        raise UnpicklingError(f"unsupported pickle protocol {proto}")


def _op_frame(u):
    u.unpack("<Q")                 # frames only group opcodes; the stream is read as it comes


def _op_pop(u):
    if u.stack:
        u.stack.pop()
    else:
        u.pop_mark()


def _op_dup(u):
    u.stack.append(u.top())


def _op_memoize(u):
    u.memo[len(u.memo)] = u.top()


def _STOP(u):
    raise AssertionError("handled in load")


_P = pickle
_OPCODES = {
    _P.PROTO: _op_proto, _P.FRAME: _op_frame, _P.STOP: _STOP,
    _P.GLOBAL: _op_global, _P.STACK_GLOBAL: _op_stack_global, _P.INST: _op_inst,
    _P.OBJ: _op_obj, _P.EXT1: _op_ext(1), _P.EXT2: _op_ext(2), _P.EXT4: _op_ext(4),
    _P.REDUCE: _op_reduce, _P.NEWOBJ: _op_newobj, _P.BUILD: _op_build,
    _P.BINPERSID: _op_persid, _P.PERSID: _op_text_persid,
    _P.MARK: _op_mark, _P.POP: _op_pop, _P.POP_MARK: lambda u: u.pop_mark(), _P.DUP: _op_dup,
    _P.NONE: _push(None), _P.NEWTRUE: _push(True), _P.NEWFALSE: _push(False),
    _P.INT: _op_int, _P.LONG: _op_long_text, _P.FLOAT: _op_float_text,
    _P.BININT: lambda u: u.stack.append(u.unpack("<i")),
    _P.BININT1: lambda u: u.stack.append(u.read(1)[0]),
    _P.BININT2: lambda u: u.stack.append(u.unpack("<H")),
    _P.LONG1: _op_long("<B"), _P.LONG4: _op_long("<i"),
    _P.BINFLOAT: lambda u: u.stack.append(u.unpack(">d")),
    _P.BINUNICODE: _op_unicode("<I"), _P.SHORT_BINUNICODE: _op_unicode("<B"),
    _P.BINUNICODE8: _op_unicode("<Q"),
    _P.BINBYTES: _op_bytes("<I"), _P.SHORT_BINBYTES: _op_bytes("<B"),
    _P.BINBYTES8: _op_bytes("<Q"),
    _P.BINSTRING: _op_py2_string("<i"), _P.SHORT_BINSTRING: _op_py2_string("<B"),
    _P.EMPTY_LIST: _push(list), _P.APPEND: _op_append, _P.APPENDS: _op_appends,
    _P.LIST: _op_list,
    _P.EMPTY_TUPLE: _push(()), _P.TUPLE: _op_tuple, _P.TUPLE1: _op_tuple_n(1),
    _P.TUPLE2: _op_tuple_n(2), _P.TUPLE3: _op_tuple_n(3),
    _P.EMPTY_DICT: _push(dict), _P.DICT: _op_dict, _P.SETITEM: _op_setitem,
    _P.SETITEMS: _op_setitems,
    _P.EMPTY_SET: _push(set), _P.ADDITEMS: _op_additems, _P.FROZENSET: _op_frozenset,
    _P.BINGET: lambda u: u.memo_get(u.read(1)[0]),
    _P.LONG_BINGET: lambda u: u.memo_get(u.unpack("<I")),
    _P.GET: lambda u: u.memo_get(_int_line(u)),
    _P.BINPUT: lambda u: u.memo_put(u.read(1)[0]),
    _P.LONG_BINPUT: lambda u: u.memo_put(u.unpack("<I")),
    _P.PUT: lambda u: u.memo_put(_int_line(u)),
    _P.MEMOIZE: _op_memoize,
}
_OPCODE_NAMES = {getattr(pickle, n): n for n in dir(pickle)
                 if n.isupper() and isinstance(getattr(pickle, n), bytes)
                 and len(getattr(pickle, n)) == 1}


def _int_line(u):
    try:
        return int(u.readline())
    except ValueError:
        raise UnpicklingError("malformed memo index") from None


# ------------------------------------------------------------------------------ storages

class _StorageRef:
    """A storage named by a persistent id: the bytes of one archive member, read once."""

    def __init__(self, source, key, torch_dtype, numel, view=None):
        self.source = source
        self.key = key
        self.torch_dtype = torch_dtype
        self.numel = numel
        self.view = view                 # legacy storage views: (element offset, size)

    def storage(self, torch_dtype):
        return self.source.storage(self.key, torch_dtype)


def _persistent_load_factory(source, check_location):
    refs = {}

    def persistent_load(pid):
        if not (isinstance(pid, tuple) and pid and type(pid[0]) in (str, bytes)
                and pid[0] in ("storage", b"storage")):
            raise UnpicklingError(f"persistent id {str(pid)[:80]} is not a storage")
        legacy = len(pid) == 6
        if len(pid) not in (5, 6):
            raise UnpicklingError(f"persistent id {str(pid)[:80]} has {len(pid)} fields")
        stype, key, location, numel = pid[1:5]
        if isinstance(location, bytes):
            location = location.decode("ascii", "replace")
        if not isinstance(stype, _StorageType) or stype.torch_dtype is None:
            raise UnpicklingError(f"persistent id names storage type {stype!r}")
        if not isinstance(key, str) or not isinstance(location, str) or type(numel) is not int \
                or not 0 <= numel < _MAX_INDEX:
            raise UnpicklingError(f"malformed storage id {str(pid)[:120]}")
        torch_dtype = stype.torch_dtype
        if getattr(check_location, "takes_storage", False):
            check_location(location, ref_for(key, torch_dtype, numel))
        else:
            check_location(location)
        ref = ref_for(key, torch_dtype, numel)
        view = pid[5] if legacy else None
        if view is not None:
            if not (isinstance(view, tuple) and len(view) == 3 and
                    all(type(v) is int for v in view[1:]) and 0 <= view[1] and 0 <= view[2]
                    and view[1] + view[2] <= numel):
                raise UnpicklingError(f"malformed storage view {str(view)[:80]}")
            return _StorageRef(source, key, torch_dtype, numel, (view[1], view[2]))
        return ref

    def ref_for(key, torch_dtype, numel):
        if key not in refs:
            refs[key] = _StorageRef(source, key, torch_dtype, numel)
            source.declare(key, torch_dtype, numel)
        ref = refs[key]
        if ref.torch_dtype != torch_dtype or ref.numel != numel:
            raise UnpicklingError(f"storage {key!r} is described twice with different dtypes or "
                                  "sizes")
        return ref

    return persistent_load


def _convert(raw, torch_dtype, big_endian):
    """The tinytensor storage array for the little- or big-endian bytes `raw` (uint8)."""
    if torch_dtype not in _DTYPES:
        raise UnpicklingError(f"the file holds a tensor of dtype torch.{torch_dtype}, which "
                              "tinytensor does not support (float32, float64, int64 and bool "
                              "load as they are; float16, bfloat16 and smaller integers are "
                              "converted)")
    code, tt_dt = _DTYPES[torch_dtype]
    if torch_dtype == "bool" and raw.size and raw.max() > 1:
        return raw != 0                  # damaged bytes: NumPy's bool must hold 0 or 1
    a = raw.view(np.dtype(code).newbyteorder(">" if big_endian else "<"))
    if torch_dtype == "bfloat16":
        return (a.astype(np.uint32) << 16).view(np.float32)
    if a.dtype != tt_dt.np_dtype:
        return a.astype(tt_dt.np_dtype)
    return a


def _check_shape(size, stride, offset, what):
    if not isinstance(size, (tuple, list)) or not isinstance(stride, (tuple, list)):
        raise UnpicklingError(f"{what}: size and stride must be tuples")
    if len(size) != len(stride):
        raise UnpicklingError(f"{what}: size {list(size)} and stride {list(stride)} differ in "
                              "length")
    for v in (*size, *stride, offset):
        if type(v) is not int or not 0 <= v < _MAX_INDEX:
            raise UnpicklingError(f"{what}: size {list(size)}, stride {list(stride)}, offset "
                                  f"{offset!r}: every entry must be an int in [0, 2**62)")
    return tuple(size), tuple(stride)


def _make_tensor(ref, offset, size, stride, requires_grad, dtype, metadata):
    if not isinstance(ref, _StorageRef):
        raise UnpicklingError(f"a tensor's storage must be a storage id, got "
                              f"{type(ref).__name__}")
    what = f"tensor on storage {ref.key!r}"
    size, stride = _check_shape(size, stride, offset, what)
    if type(requires_grad) is not bool:
        raise UnpicklingError(f"{what}: requires_grad must be a bool, got {requires_grad!r}")
    if metadata:
        raise UnpicklingError(f"{what}: conjugate or negative-bit tensors (metadata "
                              f"{metadata!r}) are not supported")
    torch_dtype = ref.torch_dtype
    if dtype is not None:
        torch_dtype = _torch_dtype_name(dtype)
        if torch_dtype is None:
            raise UnpicklingError(f"{what}: dtype argument {dtype!r} is not a dtype")
    if torch_dtype not in _DTYPES and torch_dtype not in _REFUSED_DTYPES:
        raise UnpicklingError(f"{what}: unknown dtype {torch_dtype!r}")
    # the storage's elements, counted in this tensor's dtype
    nbytes = ref.numel * _itemsize(ref.torch_dtype)
    base = 0
    if ref.view is not None:
        base, n = ref.view
        base *= _itemsize(ref.torch_dtype)
        nbytes = n * _itemsize(ref.torch_dtype)
    item = _itemsize(torch_dtype)
    if base % item or nbytes % item:
        raise UnpicklingError(f"{what}: {nbytes} bytes are not a whole number of "
                              f"torch.{torch_dtype} elements")
    _check_in_storage(size, stride, offset, nbytes // item, what)
    storage = ref.storage(torch_dtype)
    t = Tensor.__new__(Tensor)
    t._init(storage, size, stride, offset + base // item, _DTYPES[torch_dtype][1])
    if requires_grad:
        if not t.dtype.is_floating_point:
            raise UnpicklingError(f"{what}: a tensor of dtype {t.dtype} cannot require "
                                  "gradients")
        t.requires_grad_(True)
    return t


def _check_in_storage(size, stride, offset, numel, what):
    """Every element the view addresses lies in [0, numel) (checked with Python ints)."""
    if 0 in size:
        return
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= numel:
        raise UnpicklingError(f"{what}: size {list(size)}, stride {list(stride)} and offset "
                              f"{offset} address element {last}, but the storage holds {numel}")


def _read_into(stream, out, what):
    """Fill the uint8 array `out` from `stream` in bounded chunks."""
    buf = memoryview(out)
    pos, n = 0, out.shape[0]
    while pos < n:
        chunk = stream.read(min(_CHUNK, n - pos))
        if not chunk:
            break
        buf[pos:pos + len(chunk)] = chunk
        pos += len(chunk)
    if pos != n:
        raise _DamagedFile(f"{what} is truncated: {pos} of {n} bytes")


def _check_member(info, what):
    if info.flag_bits & 1 or info.header_offset < 0:
        raise _DamagedFile(f"{what} is encrypted or misplaced (a corrupted archive)")
    if info.compress_type != zipfile.ZIP_STORED and \
            info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + (1 << 20):
        raise RuntimeError(f"{what} claims {info.file_size} bytes from {info.compress_size} "
                           "compressed bytes, more than deflate can produce (a corrupted or "
                           "malicious archive)")


class _ZipSource:
    """Storages of a zip checkpoint: member `<prefix>/data/<key>`, read when first used."""

    def __init__(self, zf, prefix, name, big_endian, fh, check_crc):
        self.zf, self.prefix, self.name, self.big_endian = zf, prefix, name, big_endian
        self.fh, self.check_crc = fh, check_crc
        self.declared = {}
        self.raw = {}
        self.built = {}

    def declare(self, key, torch_dtype, numel):
        self.declared[key] = (torch_dtype, numel)

    def storage(self, key, torch_dtype):
        if (key, torch_dtype) in self.built:
            return self.built[key, torch_dtype]
        if key not in self.raw:
            self.raw[key] = self.read(key)
        arr = _convert(self.raw[key], torch_dtype, self.big_endian)
        self.built[key, torch_dtype] = s = Storage(arr)
        return s

    def read(self, key):
        stored_dtype, numel = self.declared[key]
        member = f"{self.prefix}/data/{key}"
        what = f"tt.load: {self.name}: storage {member!r}"
        info = self.zf.NameToInfo.get(member)
        if info is None:
            raise _DamagedFile(f"{what} is missing from the archive")
        nbytes = numel * _itemsize(stored_dtype)
        if info.file_size != nbytes:
            raise _DamagedFile(f"{what} holds {info.file_size} bytes, but the pickle describes "
                               f"{numel} torch.{stored_dtype} elements ({nbytes} bytes)")
        return _read_member(self.zf, self.fh, info, what, self.check_crc)


def _read_member(zf, fh, info, what, check_crc=True):
    """The bytes of one member as a fresh uint8 array (its size is checked against the
    archive before anything is allocated)."""
    _check_member(info, what)
    out = np.empty(info.file_size, np.uint8)
    try:
        if fh is not None and info.compress_type == zipfile.ZIP_STORED \
                and hasattr(fh, "readinto"):
            _read_stored(fh, info, out, what, check_crc)
        else:
            with zf.open(info) as m:
                _read_into(m, out, what)
    except _CORRUPT as e:
        raise _DamagedFile(f"{what} is truncated or corrupted: {e}") from None
    return out


def _read_stored(fh, info, out, what, check_crc):
    """An uncompressed member read straight into `out` and CRC-checked as zipfile would: one
    copy fewer than zipfile's reader (a 100 MB state dict: 133 -> 103 ms on an AMD EPYC)."""
    if info.header_offset < 0:
        raise _DamagedFile(f"{what} has a negative offset (a corrupted archive)")
    fh.seek(info.header_offset)
    head = fh.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise _DamagedFile(f"{what} has no valid local header (a corrupted archive)")
    flags, = struct.unpack("<H", head[6:8])
    n_name, n_extra = struct.unpack("<HH", head[26:30])
    name = fh.read(n_name)
    try:
        same_name = name.decode("utf-8" if flags & 0x800 else "cp437") == info.orig_filename
    except UnicodeDecodeError:
        same_name = False
    if not same_name or flags & 1:
        raise _DamagedFile(f"{what}: the local header names {name[:60]!r} (a corrupted archive)")
    fh.seek(n_extra, os.SEEK_CUR)
    buf = memoryview(out)
    pos, n, crc = 0, out.shape[0], 0
    while pos < n:
        got = fh.readinto(buf[pos:pos + _CHUNK])
        if not got:
            raise _DamagedFile(f"{what} is truncated: {pos} of {n} bytes")
        crc = zlib.crc32(buf[pos:pos + got], crc)
        pos += got
    if check_crc and crc != info.CRC:
        raise _DamagedFile(f"{what} is corrupted: its CRC-32 does not match")


def is_torch_zip(names):
    """Whether a ZIP archive's member names look like torch.save's layout."""
    return any(n.endswith("/data.pkl") or n == "data.pkl" for n in names)


def _prefix(zf, name):
    infos = zf.infolist()
    first = infos[0].filename
    prefix = first.split("/", 1)[0] if "/" in first else ""
    if not prefix or f"{prefix}/data.pkl" not in zf.NameToInfo:
        pkl = [i.filename for i in infos if i.filename.endswith("/data.pkl")]
        if len(pkl) != 1 or pkl[0].count("/") != 1:
            raise RuntimeError(f"tt.load: {name} is not a torch.save archive: expected one "
                               "'<folder>/data.pkl' member")
        prefix = pkl[0].split("/")[0]
    return prefix


def load_zip(zf, name, map_location=None, encoding="utf-8", fh=None):
    """Load the object of an open torch.save ZIP archive `zf` (see the module docstring);
    `fh`, the seekable stream `zf` reads, lets uncompressed storages be read in place.

    Example:
        >>> tt.save({"w": tt.ones(2)}, "model.pt")
        >>> with zipfile.ZipFile("model.pt") as zf:        # what tt.load("model.pt") does
        ...     load_zip(zf, "'model.pt'")
        {'w': tensor([1., 1.])}
    """
    check_location = check_map_location(map_location)
    if "constants.pkl" in {n.rsplit("/", 1)[-1] for n in zf.namelist()}:
        raise RuntimeError(f"tt.load: {name} is a TorchScript archive (torch.jit.save); "
                           "tinytensor loads torch.save checkpoints only")
    prefix = _prefix(zf, name)
    # torch.serialization.set_crc32_options(False) writes every CRC as 0: nothing to check then
    check_crc = any(i.CRC for i in zf.infolist())
    big_endian = False
    info = zf.NameToInfo.get(f"{prefix}/byteorder")
    if info is not None:
        if info.file_size > 64:
            raise RuntimeError(f"tt.load: {name}: record {info.filename!r} is {info.file_size} "
                               "bytes")
        order = _read_member(zf, fh, info, f"tt.load: {name}: record {info.filename!r}",
                             check_crc).tobytes()
        if order not in (b"little", b"big"):
            raise RuntimeError(f"tt.load: {name}: unknown byteorder record {order[:20]!r}")
        big_endian = order == b"big"
    pkl = zf.NameToInfo[f"{prefix}/data.pkl"]
    data = _read_member(zf, fh, pkl, f"tt.load: {name}: {prefix}/data.pkl", check_crc)
    source = _ZipSource(zf, prefix, name, big_endian, fh, check_crc)
    unpickler = _Unpickler(io.BytesIO(data.tobytes()), data.shape[0],
                           _persistent_load_factory(source, check_location), encoding)
    try:
        return unpickler.load()
    except UnpicklingError as e:
        raise UnpicklingError(f"tt.load: {name}: {e}") from None
    except _CORRUPT as e:
        raise RuntimeError(f"tt.load: {name} is truncated or corrupted: {e}") from None


class _LegacySource:
    """Storages of a legacy (pre-zip) checkpoint: allocated when the pickle names them (within
    the bytes left in the file), filled after the pickle from the data that follows it."""

    def __init__(self, name, bytes_left, big_endian):
        self.name, self.left, self.big_endian = name, bytes_left, big_endian
        self.declared = {}
        self.built = {}

    def declare(self, key, torch_dtype, numel):
        nbytes = numel * _itemsize(torch_dtype)
        if nbytes > self.left:
            raise UnpicklingError(f"storage {key!r} claims {nbytes} bytes, but only {self.left} "
                                  "are left in the file")
        self.left -= nbytes
        self.declared[key] = (torch_dtype, numel)

    def storage(self, key, torch_dtype):
        stored_dtype, numel = self.declared[key]
        if torch_dtype != stored_dtype:
            raise UnpicklingError(f"storage {key!r} is viewed as torch.{torch_dtype} but stored "
                                  f"as torch.{stored_dtype}")
        if key not in self.built:
            empty = np.zeros(numel * _itemsize(stored_dtype), np.uint8)
            self.built[key] = Storage(_convert(empty, stored_dtype, False).copy())
        return self.built[key]

    def fill(self, fh, keys):
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or \
                set(keys) != set(self.declared) or len(keys) != len(self.declared):
            raise RuntimeError(f"tt.load: {self.name}: the storage key list does not match the "
                               "storages the pickle uses")
        order = ">" if self.big_endian else "<"
        for key in keys:
            stored_dtype, numel = self.declared[key]
            what = f"tt.load: {self.name}: storage {key!r}"
            head = fh.read(8)
            if len(head) != 8:
                raise RuntimeError(f"{what} is truncated")
            (count,) = struct.unpack(order + "q", head)
            if count != numel:
                raise RuntimeError(f"{what} holds {count} elements, but the pickle describes "
                                   f"{numel}")
            raw = np.empty(numel * _itemsize(stored_dtype), np.uint8)
            _read_into(fh, raw, what)
            if key in self.built:
                self.built[key].data[...] = _convert(raw, stored_dtype, self.big_endian)


def load_legacy(fh, name, map_location=None, encoding="utf-8"):
    """Load a checkpoint in torch.save's legacy format (`_use_new_zipfile_serialization=False`)
    from the seekable binary stream `fh`, positioned at its start."""
    check_location = check_map_location(map_location)
    start = fh.tell()
    end = fh.seek(0, os.SEEK_END)
    fh.seek(start)
    head = fh.read(32)
    fh.seek(start)
    if _LEGACY_MAGIC_BYTES not in head:      # checked on the bytes: nothing else is unpickled
        raise RuntimeError(f"tt.load: {name} is not a tinytensor checkpoint: a pickle that "
                           "torch.save did not write (tinytensor never loads arbitrary pickles)")

    def small_pickle():
        u = _Unpickler(fh, min(end - fh.tell(), 1 << 16), _no_persistent, encoding)
        return u.load()

    try:
        magic = small_pickle()
        if magic != _LEGACY_MAGIC:
            raise RuntimeError(f"tt.load: {name} is not a tinytensor checkpoint: a pickle that "
                               "torch.save did not write")
        protocol = small_pickle()
        if protocol != _LEGACY_PROTOCOL:
            raise RuntimeError(f"tt.load: {name}: Invalid protocol version: {protocol!r}")
        info = small_pickle()
        big_endian = isinstance(info, dict) and info.get("little_endian") is False
        source = _LegacySource(name, end - fh.tell(), big_endian)
        u = _Unpickler(fh, end - fh.tell(), _persistent_load_factory(source, check_location),
                       encoding)
        result = u.load()
        keys = _Unpickler(fh, end - fh.tell(), _no_persistent, encoding).load()
        source.fill(fh, keys)
    except UnpicklingError as e:
        raise UnpicklingError(f"tt.load: {name}: {e}") from None
    return result


def _no_persistent(pid):
    raise UnpicklingError("unexpected persistent id")


# ------------------------------------------------------------------------------ saving

class _Pickler:
    """Writes protocol 2 with only the opcodes torch's weights-only unpickler accepts."""

    def __init__(self):
        self.out = bytearray()
        self.memo = {}              # id(tensor) -> memo index (shared tensors stay shared)
        self.keep = []              # keeps memoized objects alive, so ids stay unique
        self.storages = {}          # id(Storage) -> key
        self.arrays = []            # (key, 1-D NumPy array) in key order

    def put(self, obj):
        i = len(self.memo)
        self.memo[id(obj)] = i
        self.keep.append(obj)
        self.out += pickle.BINPUT + bytes([i]) if i < 256 else \
            pickle.LONG_BINPUT + struct.pack("<I", i)

    def get(self, i):
        self.out += pickle.BINGET + bytes([i]) if i < 256 else \
            pickle.LONG_BINGET + struct.pack("<I", i)

    def glob(self, module, name):
        self.out += pickle.GLOBAL + f"{module}\n{name}\n".encode()

    def int(self, v):
        if 0 <= v < 256:
            self.out += pickle.BININT1 + bytes([v])
        elif 0 <= v < 65536:
            self.out += pickle.BININT2 + struct.pack("<H", v)
        elif -2 ** 31 <= v < 2 ** 31:
            self.out += pickle.BININT + struct.pack("<i", v)
        else:
            data = v.to_bytes((v.bit_length() >> 3) + 1, "little", signed=True)
            if len(data) > 255:
                raise ValueError(f"tt.save: integer {v} is too large for PyTorch's format")
            self.out += pickle.LONG1 + bytes([len(data)]) + data

    def str(self, s):
        data = s.encode("utf-8", "surrogatepass")
        self.out += pickle.BINUNICODE + struct.pack("<I", len(data)) + data

    def empty_ordered_dict(self):
        self.glob("collections", "OrderedDict")
        self.out += pickle.EMPTY_TUPLE + pickle.REDUCE

    def tensor(self, t, requires_grad):
        storage = t._storage
        key = self.storages.get(id(storage))
        if key is None:
            key = self.storages[id(storage)] = str(len(self.storages))
            self.keep.append(storage)
            self.arrays.append((key, storage.data))
        _, storage_class = _TT_TO_TORCH[t.dtype]
        self.glob("torch._utils", "_rebuild_tensor_v2")
        self.out += pickle.MARK + pickle.MARK
        self.str("storage")
        self.glob("torch", storage_class)
        self.str(key)
        self.str("cpu")
        self.int(int(storage.data.shape[0]))
        self.out += pickle.TUPLE + pickle.BINPERSID
        self.int(int(t.storage_offset()))
        self.dump(tuple(int(s) for s in t.shape), (), 0)
        self.dump(tuple(int(s) for s in t.stride()), (), 0)
        self.out += pickle.NEWTRUE if requires_grad else pickle.NEWFALSE
        self.empty_ordered_dict()
        self.out += pickle.TUPLE + pickle.REDUCE

    def dump(self, obj, path, depth):
        if depth > _MAX_DEPTH:
            raise ValueError(f"tt.save: the object is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(obj, Tensor):
            if id(obj) in self.memo:
                return self.get(self.memo[id(obj)])
            if _is_parameter(obj):
                self.glob("torch._utils", "_rebuild_parameter")
                self.out += pickle.MARK
                self.tensor(obj, False)
                self.out += pickle.NEWTRUE if obj.requires_grad else pickle.NEWFALSE
                self.empty_ordered_dict()
                self.out += pickle.TUPLE + pickle.REDUCE
            else:
                self.tensor(obj, obj.requires_grad)
            return self.put(obj)
        if obj is None:
            self.out += pickle.NONE
        elif isinstance(obj, (bool, np.bool_)):
            self.out += pickle.NEWTRUE if obj else pickle.NEWFALSE
        elif isinstance(obj, (int, np.integer)):
            self.int(int(obj))
        elif isinstance(obj, (float, np.floating)):
            self.out += pickle.BINFLOAT + struct.pack(">d", float(obj))
        elif isinstance(obj, str):
            self.str(obj)
        elif isinstance(obj, _tt_dtype):
            self.glob("torch", _TT_TO_TORCH[obj][0])
        elif type(obj) is Size:
            self.glob("torch", "Size")
            self.dump(tuple(obj), path, depth + 1)
            self.out += pickle.TUPLE1 + pickle.REDUCE
        elif isinstance(obj, dict):
            if isinstance(obj, OrderedDict):
                self.empty_ordered_dict()
            else:
                self.out += pickle.EMPTY_DICT
            items = list(obj.items())
            for i in range(0, len(items), 1000):
                self.out += pickle.MARK
                for k, v in items[i:i + 1000]:
                    self.dump(k, path, depth + 1)
                    self.dump(v, path + (str(k),), depth + 1)
                self.out += pickle.SETITEMS
        elif isinstance(obj, list):
            self.out += pickle.EMPTY_LIST
            for i in range(0, len(obj), 1000):
                self.out += pickle.MARK
                for j, v in enumerate(obj[i:i + 1000], i):
                    self.dump(v, path + (str(j),), depth + 1)
                self.out += pickle.APPENDS
        elif isinstance(obj, tuple):
            if not obj:
                self.out += pickle.EMPTY_TUPLE
                return
            self.out += pickle.MARK
            for j, v in enumerate(obj):
                self.dump(v, path + (str(j),), depth + 1)
            self.out += pickle.TUPLE
        else:
            where = ".".join(path) or "<root>"
            hint = (" (PyTorch's format holds tensors, not NumPy arrays: convert with "
                    "tt.from_numpy, or save with format='tinytensor')"
                    if isinstance(obj, np.ndarray) else "")
            raise TypeError(f"tt.save: cannot save an object of type {type(obj).__name__} at "
                            f"{where} in PyTorch's format{hint}; supported: tensors, dicts, "
                            "lists, tuples, str, int, float, bool, None")


def _is_parameter(t):
    return isinstance(t, Parameter)


def _align_extra(offset, name):
    """A ZIP extra field that pads the member's data to a 64-byte offset (as torch.save does,
    so torch.load(mmap=True) gets aligned storages)."""
    start = offset + 30 + len(name.encode()) + 4
    pad = -start % 64
    return struct.pack("<HH", 0x4246, pad) + b"Z" * pad


def save_torch(obj, fh):
    """Write `obj` to the binary stream `fh` in torch.save's ZIP format.

    The result opens with `torch.load(f, weights_only=True)` (and with `tt.load`). Tensors
    keep their storage, offset and strides: views sharing a storage stay shared, and (as with
    torch.save) a view saves its whole storage.

    Example:
        >>> with open("lenet.pt", "wb") as f:      # what tt.save(sd, "lenet.pt") does
        ...     save_torch(nn.Linear(3, 2).state_dict(), f)
        >>> sorted(tt.load("lenet.pt"))
        ['bias', 'weight']
    """
    p = _Pickler()
    p.out += pickle.PROTO + b"\x02"
    p.dump(obj, (), 0)
    p.out += pickle.STOP
    try:
        fh.tell()
        seekable = True
    except (OSError, AttributeError, io.UnsupportedOperation):
        seekable = False
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        def member(name, data, nbytes):
            info = zipfile.ZipInfo(f"archive/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = nbytes
            if seekable:
                info.extra = _align_extra(fh.tell(), info.filename)
                if nbytes * 1.05 > zipfile.ZIP64_LIMIT:        # zipfile adds 20 bytes then
                    info.extra = _align_extra(fh.tell() + 20, info.filename)
            with zf.open(info, "w", force_zip64=nbytes * 1.05 > zipfile.ZIP64_LIMIT) as m:
                for i in range(0, nbytes, _CHUNK):
                    m.write(data[i:i + _CHUNK])

        def record(name, data):
            member(name, memoryview(bytes(data)), len(data))

        record("data.pkl", p.out)
        record(".format_version", b"1")
        record(".storage_alignment", b"64")
        record("byteorder", sys.byteorder.encode())
        for key, arr in p.arrays:
            arr = np.ascontiguousarray(arr)
            member(f"data/{key}", memoryview(arr.reshape(-1).view(np.uint8)), arr.nbytes)
        record("version", b"3\n")

