"""tinytensor: a small CPU tensor engine with its own autograd, for convolutional networks.

    import tinytensor as tt
    import tinytensor.nn as nn
    import tinytensor.nn.functional as F

The API mirrors PyTorch's: a model written for `torch` runs after changing the import.
"""
import importlib as _importlib
import inspect as _inspect

from tinytensor._tensor import Size, bool_ as bool, dtype, float32, float64, int64  # noqa: A001
from tinytensor._args import device
from tinytensor._threads import get_num_threads, set_num_threads
from tinytensor.tensor import (Tensor, as_tensor, from_dlpack, from_numpy, get_default_dtype,
                               log_softmax, matmul, softmax, tensor, where)
from tinytensor.creation import (arange, empty, empty_like, eye, full, full_like, linspace, ones,
                                 ones_like, rand, rand_like, randint, randn, randn_like, randperm,
                                 zeros, zeros_like)
from tinytensor.random import manual_seed
from tinytensor._functions.shape import cat, stack
from tinytensor._functions.sort import argsort, msort, sort, topk
from tinytensor import autograd, return_types
from tinytensor.autograd import (enable_grad, inference_mode, is_grad_enabled,
                                 is_inference_mode_enabled, no_grad, set_grad_enabled)

float = float32     # noqa: A001  (torch.float, torch.double, torch.long aliases)
double = float64
long = int64

from tinytensor._version import __version__  # noqa: E402


def _unary(name):
    def fn(*args, **kwargs):
        if args:
            input, args = args[0], args[1:]
        else:                                # input=, or a NumPy spelling of it (_args)
            key = next((k for k in ("input", "x", "a", "x1") if k in kwargs), None)
            if key is None:
                raise TypeError(f"{name}() missing 1 required positional argument: 'input'")
            input = kwargs.pop(key)
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = (f"``tinytensor.{name}(input, ...)`` is ``input.{name}(...)``: "
                  + _inspect.cleandoc(getattr(Tensor, name).__doc__ or ""))
    return fn


for _name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp", "sum", "mean",
              "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "flatten",
              "reshape", "permute", "transpose", "unsqueeze", "squeeze", "t", "sin", "cos",
              "maximum", "minimum", "pow", "clone", "isnan", "square", "neg", "numel",
              "add", "sub", "mul", "div", "clip", "detach"):
    globals()[_name] = _unary(_name)
del _name


def is_tensor(obj):
    """True when ``obj`` is a tinytensor tensor (``torch.is_tensor``).

    >>> tt.is_tensor(tt.ones(1)), tt.is_tensor([1.])
    (True, False)
    """
    return isinstance(obj, Tensor)


from tinytensor._functions import names as _names  # noqa: E402,F401  (PyTorch's node names)
from tinytensor import accelerator, backends, cuda  # noqa: E402,F401  (CPU answers for device code)

# Loaded on first use (`tt.nn`, `import tinytensor.optim`, `tt.save`), so that `import
# tinytensor` stays well under 0.15 s: name -> the module that defines it.
_LAZY = {"nn": "tinytensor.nn", "optim": "tinytensor.optim", "utils": "tinytensor.utils",
         "datasets": "tinytensor.datasets", "onnx": "tinytensor.onnx",
         "distributed": "tinytensor.distributed",   # MPI collectives: mpi4py loads on init
         "multiprocessing": "tinytensor.multiprocessing",
         "load": "tinytensor.serialization", "save": "tinytensor.serialization",
         "show_config": "tinytensor._config"}      # (loads every kernel module)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tinytensor' has no attribute '{name}'")
    value = _importlib.import_module(module)
    if module.rpartition(".")[2] != name:         # a function of the module (load, save)
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
