"""RMSprop, plain, centered and with momentum, with PyTorch's exact equations (single-tensor)."""
import numpy as np

from tinytensor.optim.optimizer import (Optimizer, _advance_step, _check_nonnegative,
                                        _check_unsupported, _scalar, _scalar_state, _zeros_state)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton): divide the gradient by a running root mean square of gradients.

    For each parameter `p` with a gradient (PyTorch's equations)::

        g = -grad if maximize else grad
        if weight_decay: g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g              # state['square_avg']
        if centered:
            gbar = gbar + (1 - alpha) * (g - gbar)       # state['grad_avg']
            avg = sqrt(v - gbar * gbar) + eps
        else:
            avg = sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg               # state['momentum_buffer']
            p = p - lr * buf
        else:
            p = p - lr * g / avg

    State per parameter: `step` (float32 scalar tensor), `square_avg`, then `momentum_buffer`
    if momentum > 0 and `grad_avg` if centered.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr (float): learning rate (default 1e-2).
        alpha (float): smoothing constant (default 0.99).
        eps (float): added to the denominator (default 1e-8).
        weight_decay (float): L2 penalty (default 0).
        momentum (float): momentum factor (default 0).
        centered (bool): normalise by the estimated variance instead of the second moment.
        maximize (bool): ascend the objective.

    Raises:
        ValueError: lr, eps, momentum, weight_decay or alpha negative.

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.RMSprop([w], lr=0.01, momentum=0.9, centered=True)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.8995, -1.8995]
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        lr = _scalar(lr, "lr")
        _check_nonnegative(lr, "learning rate")
        _check_nonnegative(eps, "epsilon value")
        _check_nonnegative(momentum, "momentum value")
        _check_nonnegative(weight_decay, "weight_decay value")
        _check_nonnegative(alpha, "alpha value")
        _check_unsupported("RMSprop", differentiable, capturable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group, w, g, state):
        alpha, wd, momentum = group["alpha"], group["weight_decay"], group["momentum"]
        if not state:
            state["step"] = _scalar_state(0.0)
            state["square_avg"] = _zeros_state(w)
            if momentum > 0:
                state["momentum_buffer"] = _zeros_state(w)
            if group["centered"]:
                state["grad_avg"] = _zeros_state(w)
        _advance_step(state)
        if wd != 0:
            g = g + wd * w
        v = state["square_avg"]._numpy()
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            gbar = state.setdefault("grad_avg", _zeros_state(w))._numpy()
            gbar += (g - gbar) * (1 - alpha)            # torch: grad_avg.lerp_(g, 1 - alpha)
            avg = np.sqrt(v - gbar * gbar)
        else:
            avg = np.sqrt(v)
        avg += group["eps"]
        if momentum > 0:
            buf = state.setdefault("momentum_buffer", _zeros_state(w))._numpy()
            buf *= momentum
            buf += g / avg
            w -= np.multiply(buf, group["lr"], dtype=w.dtype)
        else:
            upd = np.divide(g, avg, out=avg)
            upd *= group["lr"]
            w -= upd
