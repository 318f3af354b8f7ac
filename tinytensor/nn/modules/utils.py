"""`torch.nn.modules.utils`: the helpers that expand a module's int arguments to tuples.

>>> from tinytensor.nn.modules.utils import _pair
>>> _pair(3)
(3, 3)
"""
from tinytensor._args import _pair, _quadruple, _single, _triple, ntuple as _ntuple

__all__ = ["_single", "_pair", "_triple", "_quadruple", "_ntuple"]
