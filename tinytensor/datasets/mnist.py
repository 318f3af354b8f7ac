"""MNIST: an IDX-format reader and the `MNIST` dataset (bundled 5,000-digit sample or full set).

IDX format (LeCun's): a big-endian header, then the raw data in C order::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    d x 4 bytes the size of each dimension (big-endian uint32)
    ...         prod(sizes) elements, big-endian

MNIST's images are type 0x08 with 3 dims (magic 2051), its labels type 0x08 with 1 dim
(magic 2049). Files may be gzip-compressed.
"""
import gzip
import os
import struct
import warnings
import zlib

import numpy as np

from tinytensor.tensor import from_numpy
from tinytensor.utils.data import Dataset

__all__ = ["MNIST", "read_idx"]

_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_MAX_DIMS = 8
_CHUNK = 1 << 22
BUNDLED_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist-5k")
_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _read_exact(f, n, path, what):
    """Exactly n bytes, read in chunks so that memory follows the data actually present."""
    if n <= _CHUNK:
        data = f.read(n)
    else:
        buf = bytearray()
        while len(buf) < n:
            chunk = f.read(min(_CHUNK, n - len(buf)))
            if not chunk:
                break
            buf += chunk
        data = buf
    if len(data) != n:
        raise ValueError(f"IDX file {path!r} is truncated: its header describes {n} bytes of "
                         f"{what} but only {len(data)} follow")
    return data


def read_idx(path):
    """Read one IDX file (gzip-compressed or not) into a NumPy array in native byte order.

    The header is read and checked before any data is read; no buffer larger than the header
    describes is ever allocated, and for an uncompressed file the described size must match
    the file's size.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a bad magic number, element type, dimension count or size, a truncated
            file, trailing bytes, or a corrupted gzip stream.
    """
    path = os.fspath(path)
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        total = os.fstat(raw.fileno()).st_size
        f = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        try:
            header = f.read(4)
            if len(header) < 4:
                raise ValueError(f"IDX file {path!r} is too short to hold a header "
                                 f"({len(header)} bytes)")
            z0, z1, code, ndim = header
            if z0 != 0 or z1 != 0 or code not in _IDX_TYPES:
                raise ValueError(f"IDX file {path!r} has a bad magic number "
                                 f"0x{header.hex()}: expected 0x0000TTDD with element type TT "
                                 f"in {sorted(hex(c) for c in _IDX_TYPES)}")
            if not 1 <= ndim <= _MAX_DIMS:
                raise ValueError(f"IDX file {path!r} declares {ndim} dimensions (expected 1 to "
                                 f"{_MAX_DIMS})")
            dims = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "dimension sizes"))
            dt = _IDX_TYPES[code]
            nbytes = dt.itemsize
            for d in dims:
                nbytes *= d
            if not gz and 4 + 4 * ndim + nbytes != total:
                raise ValueError(f"IDX file {path!r}: its header describes {list(dims)} x "
                                 f"{dt.itemsize} bytes = {nbytes} bytes of data, but the file "
                                 f"holds {total - 4 - 4 * ndim}")
            data = _read_exact(f, nbytes, path, "data")
            if f.read(1):
                raise ValueError(f"IDX file {path!r} has bytes after the {nbytes} bytes of data "
                                 f"its header describes ({list(dims)})")
        except (EOFError, OSError, zlib.error) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise ValueError(f"IDX file {path!r} is a corrupted or truncated gzip stream: "
                             f"{e}") from None
        finally:
            if gz:
                f.close()
    a = np.frombuffer(data, dtype=dt).reshape(dims)
    if not dt.isnative:
        return a.astype(dt.newbyteorder("="))
    return a if isinstance(data, bytearray) else a.copy()


def _find(root, stem):
    """The path of `stem` or `stem.gz` in root (or root/MNIST/raw, torchvision's layout)."""
    for folder in (root, os.path.join(root, "MNIST", "raw")):
        for name in (stem, stem + ".gz"):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(f"MNIST: {stem} (or {stem}.gz) not found in {root!r}; put the four "
                            "MNIST files there (tinytensor downloads nothing), or use root=None "
                            "for the bundled sample")


class MNIST(Dataset):
    """The MNIST handwritten digits.

    Args:
        root (str, optional): a folder holding the four standard MNIST files
            (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
            `t10k-labels-idx1-ubyte`, each optionally `.gz`): the full 60,000 / 10,000 set.
            None (the default) uses the 5,000-digit sample shipped with tinytensor
            (4,000 training, 1,000 test; CC BY-SA 3.0, see `data/mnist-5k/README.md`).
        train (bool): the training split (default) or the test split.
        transform, target_transform: optional callables applied to each item.
        download (bool): accepted for torchvision's signature, but tinytensor downloads
            nothing. With `download=True`, the files are read from `root` when they are there;
            when they are not, a UserWarning says so and the bundled sample is used instead,
            so a script written for torchvision runs (on 4,000 / 1,000 digits). Without it, a
            missing file is a FileNotFoundError.

    Attributes:
        data: the images, a uint8 NumPy array of shape (N, 28, 28).
        targets: the labels, an int64 tensor of shape (N,).

    Items are `(image, label)`: a float32 tensor (1, 28, 28) with values in [0, 1] and an int.

    Raises:
        FileNotFoundError: a file is missing under `root` (and download is False).
        ValueError: a file is malformed (see `read_idx`) or is not MNIST-shaped.

    Example:
        >>> train = tt.datasets.MNIST(train=True)
        >>> len(train), train[0][0].shape, train[0][1]
        (4000, tinytensor.Size([1, 28, 28]), 8)
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = BUNDLED_ROOT if root is None else os.path.expanduser(os.fspath(root))
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        img_stem, lbl_stem = _FILES[self.train]
        try:
            if not os.path.isdir(self.root):
                raise FileNotFoundError(f"MNIST: root {self.root!r} is not a directory; put the "
                                        "four MNIST files in one (tinytensor downloads "
                                        "nothing), or use root=None for the bundled sample")
            img_path, lbl_path = _find(self.root, img_stem), _find(self.root, lbl_stem)
        except FileNotFoundError:
            if not download:
                raise
            warnings.warn(f"MNIST(download=True): tinytensor downloads nothing, and the MNIST "
                          f"files are not in {self.root!r} (nor in its MNIST/raw folder); using "
                          "the bundled 5,000-digit sample instead (4,000 training, 1,000 test "
                          "digits). For the full set, put the four MNIST files there: "
                          f"{', '.join(_FILES[True] + _FILES[False])} (each may be .gz).",
                          UserWarning, stacklevel=2)
            self.root = BUNDLED_ROOT
            img_path, lbl_path = _find(self.root, img_stem), _find(self.root, lbl_stem)
        images, labels = read_idx(img_path), read_idx(lbl_path)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"MNIST: {img_path!r} holds {images.dtype} data of shape "
                             f"{list(images.shape)}; expected uint8 images [N, 28, 28]")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(f"MNIST: {lbl_path!r} holds {labels.dtype} data of shape "
                             f"{list(labels.shape)}; expected uint8 labels [N]")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"MNIST: {img_path!r} has {images.shape[0]} images but "
                             f"{lbl_path!r} has {labels.shape[0]} labels")
        if labels.size and labels.max() > 9:
            raise ValueError(f"MNIST: {lbl_path!r} holds a label {int(labels.max())} outside 0-9")
        self.data = images
        self.targets = from_numpy(labels.astype(np.int64))

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, index):
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"MNIST indices must be integers, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for MNIST with {n} items")
        img = from_numpy(self.data[index].astype(np.float32)[None] / np.float32(255))
        target = int(self.targets._numpy()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self):
        split = "Train" if self.train else "Test"
        return (f"Dataset MNIST\n    Number of datapoints: {len(self)}\n    Root location: "
                f"{self.root}\n    Split: {split}")
