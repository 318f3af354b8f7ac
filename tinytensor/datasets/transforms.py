"""The few image transforms MNIST/CIFAR training scripts use, as `torchvision.transforms`:
`Compose`, `ToTensor`, `Normalize`, `Lambda`.

    from tinytensor.datasets import MNIST, transforms
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = MNIST("../data", train=True, download=True, transform=tf)

One difference: tinytensor's datasets already return float tensors (C, H, W) in [0, 1], which
`ToTensor` passes through (torchvision's would refuse a tensor), so a torchvision pipeline
runs unchanged.
"""
import numpy as np

from tinytensor.tensor import Tensor, from_numpy, tensor

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda"]


class Compose:
    """Apply transforms one after the other.

    Example:
        >>> Compose([ToTensor(), Normalize((0.5,), (0.5,))])(np.zeros((2, 2), np.uint8))
        tensor([[[-1., -1.],
                 [-1., -1.]]])
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """An image as a float32 tensor (C, H, W) with values in [0, 1].

    Accepts a NumPy array (H, W) or (H, W, C) -- uint8 is divided by 255, other dtypes are
    kept as they are (as float32) -- an object NumPy can read as one (a PIL image), or a
    tinytensor float tensor, returned unchanged.

    Raises:
        TypeError: anything else.

    Example:
        >>> ToTensor()(np.full((28, 28), 255, np.uint8)).shape
        tinytensor.Size([1, 28, 28])
    """

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            if not pic.dtype.is_floating_point:
                raise TypeError(f"ToTensor: expected a float tensor, got {pic.dtype}")
            return pic
        if not isinstance(pic, np.ndarray):
            if not hasattr(pic, "__array_interface__") and not hasattr(pic, "__array__"):
                raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
            pic = np.asarray(pic)
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        chw = np.ascontiguousarray(pic.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return from_numpy(chw.astype(np.float32) / np.float32(255))
        return from_numpy(chw.astype(np.float32))

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(image - mean) / std per channel, for a float tensor (..., C, H, W).

    Args:
        mean, std (sequence of float): one value per channel (or one for all).
        inplace (bool): accepted for torchvision's signature; a new tensor is returned.

    Raises:
        TypeError: the input is not a float tensor.
        ValueError: fewer than 3 dimensions, or a std of zero.

    Example:
        >>> Normalize((0.1307,), (0.3081,))(tt.zeros(1, 1, 2))
        tensor([[[-0.4242, -0.4242]]])
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, img):
        if not isinstance(img, Tensor) or not img.dtype.is_floating_point:
            got = img.dtype if isinstance(img, Tensor) else type(img).__name__
            raise TypeError(f"Input tensor should be a float tensor. Got {got}.")
        if img.ndim < 3:
            raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                             f"tensor.size() = {img.shape}.")
        mean = np.asarray(self.mean, dtype=img.numpy().dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=img.numpy().dtype).reshape(-1, 1, 1)
        if np.any(std == 0):
            raise ValueError(f"std evaluated to zero after conversion to {img.dtype}, leading "
                             "to division by zero.")
        return (img - tensor(mean)) / tensor(std)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """A user function as a transform.

    Example:
        >>> Lambda(lambda x: x * 2)(3)
        6
    """

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {repr(type(lambd).__name__)}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"
