"""RAdam, with PyTorch's exact update equations (single-tensor path)."""
import math

import numpy as np

from tinytensor.optim.optimizer import (Optimizer, _advance_step, _check_betas,
                                        _check_nonnegative, _check_unsupported, _scalar,
                                        _scalar_state, _zeros_state)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.): Adam whose adaptive step is switched on once the variance of the
    adaptive learning rate is tractable, and rectified by its ratio.

    For each parameter `p` with a gradient, at step `t` (PyTorch's equations)::

        g = -grad if maximize else grad
        if weight_decay:
            p = p * (1 - lr * weight_decay)    if decoupled_weight_decay
            g = g + weight_decay * p           otherwise
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        mhat = m / (1 - beta1 ** t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * mhat * sqrt(1 - beta2 ** t) / (sqrt(v) + eps) * r
        else:
            p = p - lr * mhat

    State per parameter: `step` (float32 scalar tensor), `exp_avg`, `exp_avg_sq`.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr (float): learning rate (default 1e-3).
        betas (Tuple[float, float]): decay rates of the averages (default (0.9, 0.999)).
        eps (float): added to the denominator (default 1e-8).
        weight_decay (float): weight decay (default 0).
        decoupled_weight_decay (bool): AdamW-style weight decay (RAdamW).
        maximize (bool): ascend the objective.

    Raises:
        ValueError: lr, eps or weight_decay negative; a beta outside [0, 1).

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.8, -1.6]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        lr = _scalar(lr, "lr")
        _check_nonnegative(lr, "learning rate")
        _check_nonnegative(eps, "epsilon value")
        _check_betas(betas)
        _check_nonnegative(weight_decay, "weight_decay value")
        _check_unsupported("RAdam", differentiable, capturable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group, w, g, state):
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = _scalar_state(0.0)
            state["exp_avg"] = _zeros_state(w)
            state["exp_avg_sq"] = _zeros_state(w)
        step = _advance_step(state)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                w *= 1 - lr * wd
            else:
                g = g + wd * w
        m, v = state["exp_avg"]._numpy(), state["exp_avg_sq"]._numpy()
        m += (g - m) * (1 - beta1)          # torch: exp_avg.lerp_(g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        upd = m / bias_correction1
        upd *= lr
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = np.sqrt(v)
            adaptive += eps
            adaptive = np.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
            upd *= adaptive
            upd *= rect
        w -= upd
