"""Dropout modules: Dropout, Dropout1d/2d/3d (whole channels), AlphaDropout,
FeatureAlphaDropout. All are the identity in eval mode."""
from tinytensor.nn import functional as F
from tinytensor.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    _fn = "dropout"

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return getattr(F, self._fn)(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training mode, zeroes each element with probability p and scales the rest by
    1/(1-p); in eval mode, the identity.

    Raises:
        ValueError: p outside [0, 1].

    Example:
        >>> nn.Dropout(0.2)
        Dropout(p=0.2, inplace=False)
    """


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p (one draw per
    channel) and scales the rest by 1/(1-p).

    >>> nn.Dropout1d(0.5)(tt.ones(1, 4, 3)).shape
    tinytensor.Size([1, 4, 3])
    """
    _fn = "dropout1d"


class Dropout2d(_DropoutNd):
    """Channel dropout for (N, C, H, W) input (a 3-D input is read as (N, C, L), with
    PyTorch's warning).

    >>> nn.Dropout2d(0.5)(tt.ones(1, 4, 2, 2)).shape
    tinytensor.Size([1, 4, 2, 2])
    """
    _fn = "dropout2d"


class Dropout3d(_DropoutNd):
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W) input.

    >>> nn.Dropout3d(0.5)(tt.ones(1, 4, 2, 2, 2)).shape
    tinytensor.Size([1, 4, 2, 2, 2])
    """
    _fn = "dropout3d"


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (see F.alpha_dropout).

    >>> m = nn.AlphaDropout(0.2).eval()
    >>> x = tt.ones(3)
    >>> m(x) is x  # the identity in eval mode
    True
    """
    _fn = "alpha_dropout"


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels.

    >>> m = nn.FeatureAlphaDropout(0.2).eval()
    >>> x = tt.ones(1, 2, 3)
    >>> m(x) is x  # the identity in eval mode
    True
    """
    _fn = "feature_alpha_dropout"
