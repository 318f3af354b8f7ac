"""Adadelta, with PyTorch's exact update equations (single-tensor path)."""
import numpy as np

from tinytensor.optim.optimizer import (Optimizer, _advance_step, _check_nonnegative,
                                        _check_unsupported, _scalar, _scalar_state, _zeros_state)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012): step sizes from running averages of squared gradients and of
    squared updates.

    For each parameter `p` with a gradient (PyTorch's equations)::

        g = -grad if maximize else grad
        if weight_decay: g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g                  # state['square_avg']
        delta = sqrt(u + eps) / sqrt(v + eps) * g        # u is the previous state['acc_delta']
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    State per parameter: `step` (float32 scalar tensor), `square_avg`, `acc_delta`.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr (float): scales the delta before it is applied (default 1.0).
        rho (float): decay of the running averages, in [0, 1] (default 0.9).
        eps (float): added inside both square roots (default 1e-6).
        weight_decay (float): L2 penalty (default 0).
        maximize (bool): ascend the objective.

    Raises:
        ValueError: lr, eps or weight_decay negative; rho outside [0, 1].

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.Adadelta([w], lr=1.0)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.9968, -1.9968]
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        lr = _scalar(lr, "lr")
        _check_nonnegative(lr, "learning rate")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative(eps, "epsilon value")
        _check_nonnegative(weight_decay, "weight_decay value")
        _check_unsupported("Adadelta", differentiable, capturable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group, w, g, state):
        rho, eps, wd = group["rho"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = _scalar_state(0.0)
            state["square_avg"] = _zeros_state(w)
            state["acc_delta"] = _zeros_state(w)
        _advance_step(state)
        if wd != 0:
            g = g + wd * w
        v, u = state["square_avg"]._numpy(), state["acc_delta"]._numpy()
        v *= rho
        v += (1 - rho) * g * g
        delta = np.sqrt(u + eps)
        delta /= np.sqrt(v + eps)
        delta *= g
        u *= rho
        u += (1 - rho) * delta * delta
        delta *= group["lr"]
        w -= delta
