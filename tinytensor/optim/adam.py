"""Adam and AdamW, with PyTorch's exact update equations (single-tensor path)."""
import math

import numpy as np

from tinytensor.optim.optimizer import (Optimizer, _advance_step, _check_betas,
                                        _check_nonnegative, _check_unsupported, _scalar,
                                        _scalar_state, _zeros_state)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma and Ba), optionally AMSGrad and decoupled weight decay (AdamW).

    For each parameter `p` with a gradient, at step `t` (PyTorch's equations)::

        g = -grad if maximize else grad
        if weight_decay:
            p = p * (1 - lr * weight_decay)    if decoupled_weight_decay (AdamW)
            g = g + weight_decay * p           otherwise (L2 penalty)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v) if amsgrad        (stored; used instead of v below)
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps    # eps added after the division
        p = p - lr / (1 - beta1 ** t) * m / denom

    `state['step']` is a float32 scalar tensor, as in PyTorch.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr (float): learning rate (default 1e-3).
        betas (Tuple[float, float]): decay rates of the averages (default (0.9, 0.999)).
        eps (float): added to the denominator (default 1e-8).
        weight_decay (float): weight decay (default 0).
        amsgrad (bool): use the running maximum of `v` (default False).
        maximize (bool): ascend the objective.
        decoupled_weight_decay (bool): AdamW's weight decay.

    Raises:
        ValueError: lr, eps or weight_decay negative; a beta outside [0, 1).

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.9, -1.9]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        lr = _scalar(lr, "lr")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        beta1, beta2 = _check_betas(betas)
        _check_nonnegative(weight_decay, "weight_decay value")
        if not (isinstance(beta1, float) and isinstance(beta2, float)):
            raise ValueError("betas must be either both floats or both Tensors")
        _check_unsupported(type(self).__name__, differentiable, capturable, fused)
        defaults = {"lr": lr, "betas": (beta1, beta2), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _update(self, group, w, g, state):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        if not state:
            state["step"] = _scalar_state(0.0)
            state["exp_avg"] = _zeros_state(w)
            state["exp_avg_sq"] = _zeros_state(w)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _zeros_state(w)
        step = _advance_step(state)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                w *= 1 - lr * wd
            else:
                g = g + wd * w
        m, v = state["exp_avg"]._numpy(), state["exp_avg_sq"]._numpy()
        m += (g - m) * (1 - beta1)          # torch: exp_avg.lerp_(g, 1 - beta1)
        v *= beta2
        v += (g * g) * (1 - beta2)

        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        if group["amsgrad"]:
            vmax_t = state.get("max_exp_avg_sq")
            if vmax_t is None:            # amsgrad switched on after the first steps
                vmax_t = state["max_exp_avg_sq"] = _zeros_state(w)
            vmax = vmax_t._numpy()
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax)
        else:
            denom = np.sqrt(v)
        denom /= bias_correction2_sqrt
        denom += group["eps"]
        upd = np.divide(m, denom, out=denom)
        upd *= lr / bias_correction1
        w -= upd


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): `p *= 1 - lr * weight_decay`
    before the Adam update. Same arguments as `Adam`; `weight_decay` defaults to 1e-2.

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.AdamW([w], lr=0.1, weight_decay=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.89, -1.88]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
