"""`tt.save` / `tt.load`: tensors and (nested) state dicts, in tinytensor's NumPy `.npz`
format or in PyTorch's own format.

Which format
------------
`tt.save(obj, f, format=None)` writes PyTorch's format (what `torch.save` writes, opened by
`torch.load(f, weights_only=True)`) when `format="torch"` or, with `format=None`, when the
file name ends in ``.pt``, ``.pth``, ``.pth.tar`` or ``.ckpt``; otherwise (other names, file
objects, `format="tinytensor"`) the `.npz` layout below. `tt.load` tells the formats apart by
their first bytes and also reads PyTorch's legacy (pre-1.6) format; PyTorch's formats are
handled by `tinytensor._torch_format`, whose docstring describes them and their safety.

tinytensor's file layout
------------------------
A checkpoint is an uncompressed ZIP archive as written by `numpy.savez`: one `.npy` member
per array, plus one member describing the structure.

- ``__tinytensor__.npy``: a 0-d unicode array holding a JSON manifest::

      {"format": "tinytensor", "version": 1, "root": <node>}

  A node is one of::

      {"type": "tensor", "key": K, "dtype": "float32", "shape": [..], "requires_grad": false}
      {"type": "parameter", ...same fields as "tensor"...}     (an nn.Parameter)
      {"type": "ndarray", "key": K, "dtype": "uint8", "shape": [..]}   (a NumPy array)
      {"type": "dict", "ordered": true, "items": [[<key node>, <node>], ...]}
      {"type": "list", "items": [<node>, ...]}     and  {"type": "tuple", ...}
      {"type": "int" | "float" | "bool" | "str", "value": v}      {"type": "none"}

  Dict keys are `str`, `int`, `float`, `bool` or None nodes, so integer keys (the
  parameter indices of an optimizer state dict) come back as integers. Floats that JSON cannot
  spell (nan, inf) are stored as the strings "nan", "inf", "-inf".
- every tensor or array is the member ``K.npy``, where ``K`` is the dotted path of keys that
  leads to it (``conv1.weight``, ``state.0.momentum_buffer``; ``tensor`` for a lone tensor),
  with ``#2``, ``#3``, ... appended if two paths collide. Tensors are saved C-contiguous;
  views sharing storage are saved as separate arrays.

Reading a checkpoint without tinytensor::

    z = numpy.load("lenet.npz", allow_pickle=False)
    z["conv1.weight"]                                  # a NumPy array
    manifest = json.loads(str(z["__tinytensor__"]))

Safety: `load` reads the archive with `zipfile` and `numpy.lib.format` header readers, never
unpickles (object arrays are refused), checks each member's header against the manifest and
against the member's size before allocating, and raises `RuntimeError` (not a checkpoint,
truncated, corrupted) or `ValueError` (a manifest that does not match the arrays).
"""
import json
import math
import os
import pickle
import tokenize
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from tinytensor import _torch_format
from tinytensor.nn import Parameter
from tinytensor.tensor import Tensor, from_numpy

__all__ = ["save", "load"]

MANIFEST = "__tinytensor__"
FORMAT_VERSION = 1
_TENSOR_DTYPES = ("float32", "float64", "int64", "bool")
_ARRAY_DTYPES = _TENSOR_DTYPES + ("uint8", "int8", "int16", "int32", "uint16", "uint32",
                                  "uint64", "float16")
_MAX_HEADER = 1 << 16          # bytes of one .npy header (NumPy's default limit is 10000)
_MAX_MANIFEST = 64 << 20       # bytes of the JSON manifest
_MAX_DEPTH = 200               # nesting of dicts and lists
_CHUNK = 1 << 20              # read size: transient copies stay small next to the array
_MAX_DEFLATE_RATIO = 1100      # deflate expands at most ~1032x: larger claims cannot be honest
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            OverflowError)


# ---------------------------------------------------------------------------------- saving

class _Writer:
    def __init__(self):
        self.arrays = {}

    def key(self, path):
        base = ".".join(path) if path else "tensor"
        if base == MANIFEST:
            base += "_"
        k, n = base, 1
        while k in self.arrays:
            n += 1
            k = f"{base}#{n}"
        return k

    def node(self, obj, path, depth):
        if depth > _MAX_DEPTH:
            raise ValueError(f"tt.save: the object is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(obj, Tensor):
            a = np.asarray(obj.detach()._numpy(), order="C")
            k = self.key(path)
            self.arrays[k] = a
            kind = "tensor" if type(obj) is Tensor else _tensor_kind(obj)
            return {"type": kind, "key": k, "dtype": a.dtype.name, "shape": list(a.shape),
                    "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.name not in _ARRAY_DTYPES:
                raise TypeError(f"tt.save: NumPy arrays of dtype {obj.dtype} cannot be saved "
                                f"(supported: {', '.join(_ARRAY_DTYPES)})")
            a = np.asarray(obj, order="C")
            k = self.key(path)
            self.arrays[k] = a
            return {"type": "ndarray", "key": k, "dtype": a.dtype.name, "shape": list(a.shape)}
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, (bool, np.bool_)):
            return {"type": "bool", "value": bool(obj)}
        if isinstance(obj, (int, np.integer)):
            return {"type": "int", "value": int(obj)}
        if isinstance(obj, (float, np.floating)):
            v = float(obj)
            return {"type": "float", "value": v if math.isfinite(v) else repr(v)}
        if isinstance(obj, str):
            return {"type": "str", "value": obj}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                kn = self.node(k, (), depth + 1) if _is_key(k) else None
                if kn is None:
                    raise TypeError(f"tt.save: dict keys must be str, int, float, bool or None, "
                                    f"got {type(k).__name__} at {'.'.join(path) or '<root>'}")
                items.append([kn, self.node(v, path + (str(k),), depth + 1)])
            return {"type": "dict", "ordered": isinstance(obj, OrderedDict), "items": items}
        if isinstance(obj, (list, tuple)):
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {"type": kind,
                    "items": [self.node(v, path + (str(i),), depth + 1) for i, v in enumerate(obj)]}
        raise TypeError(f"tt.save: cannot save an object of type {type(obj).__name__} at "
                        f"{'.'.join(path) or '<root>'}; supported: tensors, NumPy arrays, dicts, "
                        "lists, tuples, str, int, float, bool, None")


def _is_key(k):
    return k is None or isinstance(k, (str, int, float, np.integer, np.floating))


def _tensor_kind(t):
    return "parameter" if isinstance(t, Parameter) else "tensor"


_TORCH_SUFFIXES = (".pt", ".pth", ".pth.tar", ".ckpt")
_FORMATS = ("tinytensor", "torch")


def _format_for(f, format):
    """'torch' or 'tinytensor': the explicit `format`, else by the file name's suffix."""
    if format is not None:
        if format not in _FORMATS:
            raise ValueError(f"tt.save: format must be 'tinytensor', 'torch' or None, got "
                             f"{format!r}")
        return format
    if isinstance(f, (str, bytes, os.PathLike)):
        if os.fsdecode(f).lower().endswith(_TORCH_SUFFIXES):
            return "torch"
    return "tinytensor"


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         *, format=None):
    """Save a tensor, or a (nested) dict/list/tuple of tensors and plain values, to `f`.

    Two formats, chosen by `format` or, when it is None, by the file name:

    - ``"torch"``: PyTorch's own (what `torch.save` writes), for names ending in ``.pt``,
      ``.pth``, ``.pth.tar`` or ``.ckpt``. `torch.load(f, weights_only=True)` opens it, so a
      model trained with tinytensor deploys with PyTorch; views sharing a storage stay shared.
      NumPy arrays are refused (PyTorch's weights-only loader refuses them too).
    - ``"tinytensor"``: a NumPy ``.npz`` (see this module's docstring), for every other name
      and for file objects: readable with NumPy alone.

    `tt.load` reads both (and files written by torch.save), whatever their name.

    Args:
        obj: a Tensor, NumPy array, dict (e.g. `model.state_dict()`, `optimizer.state_dict()`),
            list or tuple of those, or str/int/float/bool/None values.
        f: a path (str or path-like, written exactly as given; no extension is added) or a
            writable binary file object.
        pickle_module, pickle_protocol, _use_new_zipfile_serialization: accepted for PyTorch
            compatibility; tinytensor writes its own protocol-2 pickle (what every torch.load
            reads), so only their defaults (or `pickle` itself) are valid.
        format: ``"torch"``, ``"tinytensor"`` or None (by file name, as above).

    Raises:
        TypeError: `obj` holds something else (a module, a function, ...).
        ValueError: an unknown `format`, or an unsupported PyTorch option.

    Example:
        >>> import io
        >>> model = nn.Linear(3, 2)
        >>> tt.save(model.state_dict(), "lenet.npz")          # NumPy-readable
        >>> tt.save(model.state_dict(), "lenet.pt")           # torch.load reads it
        >>> buf = io.BytesIO()
        >>> tt.save({"epoch": 3, "model": model.state_dict()}, buf, format="torch")
        >>> model.load_state_dict(tt.load("lenet.pt"))
        <All keys matched successfully>
    """
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("tt.save: pickle_module is not supported: tinytensor writes checkpoints "
                         "with its own pickler")
    if not isinstance(pickle_protocol, int) or not 2 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL:
        raise ValueError(f"tt.save: pickle_protocol={pickle_protocol!r}: expected 2 to "
                         f"{pickle.HIGHEST_PROTOCOL} (protocol 2 is written)")
    if not _use_new_zipfile_serialization:
        raise ValueError("tt.save: the legacy (non-zip) PyTorch format is read but not written; "
                         "leave _use_new_zipfile_serialization=True")
    if _format_for(f, format) == "torch":
        if isinstance(f, (str, bytes, os.PathLike)):
            with open(f, "wb") as fh:
                _torch_format.save_torch(obj, fh)
        else:
            _torch_format.save_torch(obj, f)
        return
    w = _Writer()
    root = w.node(obj, (), 0)
    manifest = json.dumps({"format": "tinytensor", "version": FORMAT_VERSION, "root": root},
                          allow_nan=False)
    arrays = {MANIFEST: np.array(manifest)}
    arrays.update(w.arrays)
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "wb") as fh:
            np.savez(fh, **arrays)
    else:
        np.savez(f, **arrays)


# ---------------------------------------------------------------------------------- loading

def _fail(name, why):
    raise RuntimeError(f"tt.load: {name} {why}")


def _read_header(member, name, key, kinds):
    """(shape, fortran_order, dtype, header_bytes) of an .npy member, refusing anything odd."""
    try:
        major, minor = np.lib.format.read_magic(member)
        if (major, minor) == (1, 0):
            shape, fortran, dt = np.lib.format.read_array_header_1_0(
                member, max_header_size=_MAX_HEADER)
        elif (major, minor) in ((2, 0), (3, 0)):
            shape, fortran, dt = np.lib.format.read_array_header_2_0(
                member, max_header_size=_MAX_HEADER)
        else:
            raise ValueError(f"unsupported .npy format version {major}.{minor}")
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError) as e:
        # NumPy parses the header dict with ast.literal_eval: damaged bytes there surface as
        # SyntaxError or TokenError, not ValueError
        raise ValueError(f"tt.load: {name}: array {key!r} has a malformed header: {e}") from None
    if dt.hasobject or dt.kind not in kinds or (dt.kind != "U" and dt.name not in _ARRAY_DTYPES):
        raise ValueError(f"tt.load: {name}: array {key!r} has dtype {dt}, which a tinytensor "
                         "checkpoint never holds there (object/pickled data is refused)")
    return shape, fortran, dt, member.tell()


def _read_member(zf, info, name, key, kinds="biuf"):
    """Read one .npy member into a fresh array, checking sizes before allocating."""
    if info.flag_bits & 1 or info.header_offset < 0:
        _fail(name, f"is corrupted: member {key!r} is encrypted or misplaced")
    with zf.open(info) as m:
        shape, fortran, dt, header_len = _read_header(m, name, key, kinds)
        count = 1
        for s in shape:
            if not isinstance(s, int) or s < 0:
                raise ValueError(f"tt.load: {name}: array {key!r} has an invalid shape {shape}")
            count *= s
        nbytes = count * dt.itemsize
        if info.compress_type != zipfile.ZIP_STORED and \
                info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + (1 << 20):
            raise ValueError(f"tt.load: {name}: array {key!r} claims {info.file_size} bytes from "
                             f"{info.compress_size} compressed bytes, more than deflate can "
                             "produce (a corrupted or malicious archive)")
        if header_len + nbytes != info.file_size:
            raise ValueError(f"tt.load: {name}: array {key!r} describes {nbytes} bytes of data "
                             f"(shape {list(shape)}, {dt}) but its member holds "
                             f"{info.file_size - header_len}")
        out = np.empty(count, dt)
        buf = memoryview(out.view(np.uint8)) if nbytes else None
        pos = 0
        while pos < nbytes:
            chunk = m.read(min(_CHUNK, nbytes - pos))
            if not chunk:
                break
            buf[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if pos != nbytes:
            raise RuntimeError(f"tt.load: {name} is truncated: array {key!r} ended after {pos} "
                               f"of {nbytes} bytes")
    if not dt.isnative:
        out = out.astype(dt.newbyteorder("="))
    if fortran:
        return out.reshape(shape[::-1]).T.copy()
    return out.reshape(shape)


class _Reader:
    def __init__(self, zf, name):
        self.zf = zf
        self.name = name
        self.used = set()

    def bad(self, why):
        raise ValueError(f"tt.load: {self.name} has an inconsistent manifest: {why}")

    def node(self, n, depth):
        if depth > _MAX_DEPTH:
            self.bad(f"nesting deeper than {_MAX_DEPTH}")
        if not isinstance(n, dict) or not isinstance(n.get("type"), str):
            self.bad(f"expected a node object, got {str(n)[:80]}")
        t = n["type"]
        if t in ("tensor", "parameter", "ndarray"):
            return self.array(n, t)
        if t == "none":
            return None
        if t in ("bool", "int", "str", "float"):
            v = n.get("value")
            if t == "float":
                if isinstance(v, str) and v in ("nan", "inf", "-inf"):
                    return float(v)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    return float(v)
                self.bad(f"float node with value {v!r}")
            want = {"bool": bool, "int": int, "str": str}[t]
            if type(v) is not want:
                self.bad(f"{t} node with value {v!r}")
            return v
        if t in ("list", "tuple"):
            items = n.get("items")
            if not isinstance(items, list):
                self.bad(f"{t} node without an items list")
            out = [self.node(v, depth + 1) for v in items]
            return tuple(out) if t == "tuple" else out
        if t == "dict":
            items = n.get("items")
            if not isinstance(items, list):
                self.bad("dict node without an items list")
            out = OrderedDict() if n.get("ordered") else {}
            for item in items:
                if not (isinstance(item, list) and len(item) == 2):
                    self.bad("dict item is not a [key, value] pair")
                kn = item[0]
                if not (isinstance(kn, dict) and kn.get("type") in
                        ("str", "int", "float", "bool", "none")):
                    self.bad(f"dict key node {str(kn)[:80]}")
                out[self.node(kn, depth + 1)] = self.node(item[1], depth + 1)
            return out
        self.bad(f"unknown node type {t!r}")

    def array(self, n, t):
        key, dt, shape = n.get("key"), n.get("dtype"), n.get("shape")
        if not isinstance(key, str) or key == MANIFEST:
            self.bad(f"array node with key {key!r}")
        allowed = _ARRAY_DTYPES if t == "ndarray" else _TENSOR_DTYPES
        if dt not in allowed:
            self.bad(f"array {key!r} has dtype {dt!r}")
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            self.bad(f"array {key!r} has shape {shape!r}")
        if key in self.used:
            self.bad(f"array {key!r} is referenced twice")
        info = self.zf.NameToInfo.get(key + ".npy")
        if info is None:
            self.bad(f"array {key!r} is listed but missing from the archive")
        a = _read_member(self.zf, info, self.name, key)
        self.used.add(key)
        if a.dtype.name != dt or list(a.shape) != shape:
            self.bad(f"array {key!r} is {a.dtype.name}{list(a.shape)} in the archive but "
                     f"{dt}{shape} in the manifest")
        if t == "ndarray":
            return a
        tensor = from_numpy(a)
        rg = n.get("requires_grad", False)
        if type(rg) is not bool:
            self.bad(f"array {key!r} has requires_grad={rg!r}")
        if t == "parameter":
            return Parameter(tensor, requires_grad=rg)
        if rg:
            tensor.requires_grad_(True)
        return tensor


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load an object saved by `tt.save` or by `torch.save`, without torch and without running
    anything from the file.

    The format is told by the file's first bytes, not its name:

    - a tinytensor ``.npz``: the structure comes from a JSON manifest and every array is read
      by NumPy's header parser into a freshly allocated buffer; nothing is unpickled.
    - PyTorch's ZIP format (torch >= 1.6) or legacy format: the pickle is read by tinytensor's
      own restricted unpickler, which only rebuilds tensors, containers and plain values (what
      `torch.load(weights_only=True)` allows) and raises `pickle.UnpicklingError` naming any
      other global before anything runs. Tensors viewing one storage come back sharing it.
      float16/bfloat16 tensors become float32 and int8..int32/uint8..uint32 become int64;
      complex and quantized tensors are refused.

    Args:
        f: a path (str or path-like) or a seekable binary file object.
        map_location: None, 'cpu', a CPU device, a dict mapping locations to 'cpu', or
            `lambda storage, loc: storage`. tinytensor runs on the CPU only: a checkpoint saved
            from CUDA needs `map_location='cpu'`, as it does in PyTorch on a machine without a
            GPU; any other target raises RuntimeError.
        pickle_module: accepted for PyTorch compatibility; must be None.
        weights_only: accepted for PyTorch compatibility. Loading is always weights-only:
            `weights_only=False` does not let a file run code.
        mmap: accepted for PyTorch compatibility; the data is read into memory.
        encoding: (keyword) how Python 2 strings in old pickles decode: 'utf-8' (default),
            'latin1', 'ascii' or 'bytes'.

    Returns:
        What was saved: tensors come back as tensors (requires_grad as saved), parameters as
        `nn.Parameter`, dicts as dicts (OrderedDict when an OrderedDict was saved), tuples as
        tuples.

    Raises:
        RuntimeError: the file is not a checkpoint, is truncated or corrupted, or holds
            something tinytensor cannot build (`pickle.UnpicklingError`, also a RuntimeError
            here, for a pickle that names a forbidden global).
        ValueError: a tinytensor manifest does not match its arrays, or an array is malformed.

    Example:
        >>> model = nn.Linear(3, 2)
        >>> opt = tt.optim.SGD(model.parameters(), lr=0.1)
        >>> tt.save({"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict()},
        ...         "checkpoint.pth.tar", format="torch")
        >>> ckpt = tt.load(open("checkpoint.pth.tar", "rb"), map_location="cpu")
        >>> ckpt["epoch"], ckpt["optimizer"]["param_groups"][0]["lr"]
        (3, 0.1)
        >>> model.load_state_dict(ckpt["model"])
        <All keys matched successfully>
    """
    if pickle_module is not None:
        raise ValueError("tt.load: pickle_module is not supported: tinytensor reads checkpoints "
                         "with its own restricted unpickler")
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if pickle_load_args:
        raise TypeError(f"tt.load() got an unexpected keyword argument "
                        f"'{next(iter(pickle_load_args))}'")
    if encoding not in ("utf-8", "utf8", "latin1", "latin-1", "ascii", "bytes"):
        raise ValueError(f"tt.load: encoding={encoding!r}: expected 'utf-8', 'latin1', 'ascii' "
                         "or 'bytes'")
    if weights_only not in (None, True, False) or mmap not in (None, True, False):
        raise TypeError("tt.load: weights_only and mmap must be None or a bool")
    _torch_format.check_map_location(map_location)
    if isinstance(f, (str, bytes, os.PathLike)):
        name = repr(os.fsdecode(f))
        try:
            fh = open(f, "rb")
        except OSError as e:
            raise FileNotFoundError(e.errno, f"tt.load: cannot open {name}: {e.strerror}",
                                    os.fsdecode(f)) from None
        with fh:
            return _load_from(fh, name, map_location, encoding)
    if not hasattr(f, "read") or not hasattr(f, "seek"):
        raise TypeError(f"tt.load: expected a path or a seekable binary file, got "
                        f"{type(f).__name__}")
    return _load_from(f, "<file object>", map_location, encoding)


def _load_from(fh, name, map_location, encoding):
    start = fh.read(4)
    if isinstance(start, str):
        raise TypeError("tt.load: the file object must be opened in binary mode ('rb')")
    if len(start) < 4:
        _fail(name, "is empty or truncated: it is not a tinytensor checkpoint")
    if start[:1] == b"\x80":
        fh.seek(-len(start), os.SEEK_CUR)
        return _torch_format.load_legacy(fh, name, map_location, encoding)
    if start != b"PK\x03\x04":
        fh.seek(257 - len(start), os.SEEK_CUR)
        if fh.read(5) == b"ustar":
            _fail(name, "is a tar archive (torch.save's format before PyTorch 0.4?), which "
                        "tinytensor does not read")
        what = "a single .npy array" if start == b"\x93NUM" else "not a ZIP archive"
        _fail(name, f"is not a tinytensor checkpoint: {what}")
    fh.seek(-len(start), os.SEEK_CUR)
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        _fail(name, f"is truncated or corrupted (not a readable ZIP archive: {e})")
    with zf:
        names = set(zf.namelist())
        if MANIFEST + ".npy" not in names:
            if _torch_format.is_torch_zip(names):
                return _torch_format.load_zip(zf, name, map_location, encoding, fh)
            _fail(name, f"is not a tinytensor checkpoint: the archive has no {MANIFEST}.npy "
                        "manifest (a plain numpy .npz? read it with numpy.load)")
        info = zf.getinfo(MANIFEST + ".npy")
        if info.file_size > _MAX_MANIFEST:
            raise ValueError(f"tt.load: {name}: the manifest is {info.file_size} bytes "
                             f"(limit {_MAX_MANIFEST})")
        try:
            text = _read_member(zf, info, name, MANIFEST, kinds="U")
        except _CORRUPT as e:
            _fail(name, f"is truncated or corrupted: {e}")
        if text.shape != ():
            raise ValueError(f"tt.load: {name}: the manifest is not a single string")
        try:
            manifest = json.loads(str(text[()]))
        except ValueError as e:
            raise ValueError(f"tt.load: {name}: the manifest is not valid JSON: {e}") from None
        if not (isinstance(manifest, dict) and manifest.get("format") == "tinytensor"):
            _fail(name, "is not a tinytensor checkpoint (its manifest has no "
                        "'format': 'tinytensor')")
        if manifest.get("version") != FORMAT_VERSION:
            _fail(name, f"has format version {manifest.get('version')!r}; this tinytensor reads "
                        f"version {FORMAT_VERSION}")
        reader = _Reader(zf, name)
        try:
            obj = reader.node(manifest.get("root"), 0)
        except _CORRUPT as e:
            _fail(name, f"is truncated or corrupted: {e}")
        extra = sorted(n[:-4] for n in names
                       if n.endswith(".npy") and n[:-4] != MANIFEST and n[:-4] not in reader.used)
        if extra or any(not n.endswith(".npy") for n in names):
            others = extra + sorted(n for n in names if not n.endswith(".npy"))
            raise ValueError(f"tt.load: {name} has an inconsistent manifest: archive members "
                             f"not described by it: {others[:5]}")
        return obj

