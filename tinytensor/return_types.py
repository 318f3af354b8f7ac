"""`torch.return_types`: the named (values, indices) tuples that max(dim), sort, topk... return.

They unpack, index and compare as tuples, and print as PyTorch's do:

>>> tt.tensor([3., 1.]).sort()
tinytensor.return_types.sort(
values=tensor([1., 3.]),
indices=tensor([1, 0]))
"""
from collections import namedtuple

__all__ = ["max", "min", "sort", "topk"]


def _values_indices(name):
    cls = namedtuple(name, ["values", "indices"])
    cls.__module__ = __name__
    cls.__qualname__ = name

    def __repr__(self):
        return f"tinytensor.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    cls.__repr__ = __repr__
    return cls


max = _values_indices("max")          # noqa: A001  (PyTorch's names)
min = _values_indices("min")          # noqa: A001
sort = _values_indices("sort")
topk = _values_indices("topk")
