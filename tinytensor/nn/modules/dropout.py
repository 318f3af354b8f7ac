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
    channel) and scales the rest by 1/(1-p)."""
    _fn = "dropout1d"


class Dropout2d(_DropoutNd):
    """Channel dropout for (N, C, H, W) input (a 3-D input is read as (N, C, L), with
    PyTorch's warning)."""
    _fn = "dropout2d"


class Dropout3d(_DropoutNd):
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W) input."""
    _fn = "dropout3d"


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (see F.alpha_dropout)."""
    _fn = "alpha_dropout"


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels."""
    _fn = "feature_alpha_dropout"
