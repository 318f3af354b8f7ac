"""Stochastic gradient descent with momentum, as `torch.optim.SGD` (single-tensor path)."""
import numpy as np

from tinytensor._kernels import optim as _ko
from tinytensor._tensor_type import from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.optim.optimizer import (Optimizer, _check_unsupported, _new_state_tensor,
                                        _scalar)

__all__ = ["SGD"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _fused_sgd(group, w, g, state):
    """The update in one threaded pass (_kernels/optim.pyx, the same bits as the NumPy
    expressions of SGD._update) for a C-contiguous float parameter whose gradient and
    momentum buffer have its dtype; False, having changed nothing, for anything else."""
    if w.dtype not in _FLOATS or not w.flags.c_contiguous or g.dtype != w.dtype:
        return False
    momentum = group["momentum"]
    buf, first = w[:0].reshape(-1), False
    if momentum != 0:
        buf_t = state.get("momentum_buffer")
        if buf_t is not None:
            buf = buf_t._numpy()
            if buf.dtype != w.dtype or not buf.flags.c_contiguous or buf.shape != w.shape:
                return False
        else:                                   # the kernel writes the first step's buffer
            buf_t = state["momentum_buffer"] = from_numpy(np.empty_like(w, order="C"))
            buf, first = buf_t._numpy(), True
    _ko.sgd_step(w.reshape(-1), np.ascontiguousarray(g).reshape(-1), buf.reshape(-1),
                 group["lr"], momentum, group["dampening"], group["weight_decay"],
                 group["nesterov"], first, get_num_threads())
    return True


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and weight decay.

    For each parameter `p` with a gradient (PyTorch's equations)::

        g = -grad if maximize else grad
        if weight_decay: g = g + weight_decay * p
        if momentum:
            buf = g                                  on the first step (no dampening)
                  momentum * buf + (1 - dampening) * g    afterwards
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr (float): learning rate (default 1e-3, as PyTorch 2.x).
        momentum (float): momentum factor (default 0).
        dampening (float): dampening of momentum (default 0).
        weight_decay (float): L2 penalty (default 0).
        nesterov (bool): Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize (bool): ascend the objective instead of descending it.

    Raises:
        ValueError: a negative lr, momentum or weight_decay, or nesterov without momentum or
            with dampening.

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.8, -1.6]
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        lr = _scalar(lr, "lr")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported("SGD", differentiable=differentiable, fused=fused)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _update(self, group, w, g, state):
        if _fused_sgd(group, w, g, state):
            return
        wd = group["weight_decay"]                 # the general path (any layout), NumPy
        momentum = group["momentum"]
        if wd != 0:
            g = g + wd * w
        if momentum != 0:
            buf_t = state.get("momentum_buffer")
            if buf_t is None:
                buf_t = state["momentum_buffer"] = _new_state_tensor(g)
                buf = buf_t._numpy()
            else:
                buf = buf_t._numpy()
                buf *= momentum
                dampening = group["dampening"]
                if dampening != 0:
                    buf += (1 - dampening) * g
                else:
                    buf += g
            g = g + momentum * buf if group["nesterov"] else buf
        # p = p - lr * g, in place (one temporary for lr * g)
        w -= np.multiply(g, group["lr"], dtype=w.dtype)
