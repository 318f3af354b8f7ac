"""tinytensor.nn.functional: PyTorch's functional API, one submodule per op family.

Each submodule normalises and validates its arguments in Python (PyTorch's messages) and then
calls a `Function` from `tinytensor._functions`, whose kernels trust what they are given.
"""
from tinytensor.nn.functional.conv import *        # noqa: F401,F403  conv1d/2d/3d
from tinytensor.nn.functional.padding import *     # noqa: F401,F403  pad
from tinytensor.nn.functional.pooling import *     # noqa: F401,F403  max/avg/adaptive pools, unpool
from tinytensor.nn.functional.fold import *        # noqa: F401,F403  unfold, fold
from tinytensor.nn.functional.activation import *  # noqa: F401,F403  relu, softmax, dropout, ...
from tinytensor.nn.functional.linear import *      # noqa: F401,F403  linear
from tinytensor.nn.functional.loss import *        # noqa: F401,F403  cross_entropy, nll_loss, mse_loss
from tinytensor.nn.functional.normalization import *  # noqa: F401,F403  batch_norm
from tinytensor.nn.functional.upsampling import *  # noqa: F401,F403  interpolate, pixel_shuffle (issue 11)
