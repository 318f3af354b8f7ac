"""tinytensor.nn: PyTorch's torch.nn for tinytensor (Module, Parameter, layers, functional, init).

    import tinytensor.nn as nn
    import tinytensor.nn.functional as F
"""
from tinytensor.nn import functional  # noqa: F401
from tinytensor.nn import init  # noqa: F401
from tinytensor.nn.parameter import Parameter
from tinytensor.nn.modules import *  # noqa: F401,F403
from tinytensor.nn.modules import __all__ as _modules_all
from tinytensor.nn import parallel, utils  # noqa: F401,E402  (after the modules they wrap)
from tinytensor.nn.parallel import DataParallel

__all__ = ["Parameter", "functional", "init", "parallel", "utils", "DataParallel"] + list(_modules_all)
