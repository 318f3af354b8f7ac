"""NAdam, with PyTorch's exact update equations (single-tensor path)."""
import numpy as np

from tinytensor.optim.optimizer import (Optimizer, _advance_step, _check_betas,
                                        _check_nonnegative, _check_unsupported, _scalar,
                                        _scalar_state, _zeros_state)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (Dozat): Adam with Nesterov momentum and a momentum-decay schedule.

    For each parameter `p` with a gradient, at step `t` (PyTorch's equations)::

        g = -grad if maximize else grad
        if weight_decay:
            p = p * (1 - lr * weight_decay)    if decoupled_weight_decay
            g = g + weight_decay * p           otherwise
        mu_t   = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_t1  = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        prod   = prod * mu_t                              # state['mu_product']
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2 ** t)) + eps
        p = p - lr * (1 - mu_t) / (1 - prod) * g / denom
              - lr * mu_t1 / (1 - prod * mu_t1) * m / denom

    `state['step']` and `state['mu_product']` are float32 scalar tensors, as in PyTorch (so
    the product is rounded to float32 at every step, as there).

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr (float): learning rate (default 2e-3).
        betas (Tuple[float, float]): decay rates of the averages (default (0.9, 0.999)).
        eps (float): added to the denominator (default 1e-8).
        weight_decay (float): weight decay (default 0).
        momentum_decay (float): the psi of the momentum schedule (default 4e-3).
        decoupled_weight_decay (bool): AdamW-style weight decay (NAdamW).
        maximize (bool): ascend the objective.

    Raises:
        ValueError: lr, eps, weight_decay or momentum_decay negative; a beta outside [0, 1).

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.NAdam([w], lr=0.01)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.9894, -1.9894]
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        lr = _scalar(lr, "lr")
        _check_nonnegative(lr, "learning rate")
        _check_nonnegative(eps, "epsilon value")
        _check_betas(betas)
        _check_nonnegative(weight_decay, "weight_decay value")
        _check_nonnegative(momentum_decay, "momentum_decay value")
        _check_unsupported("NAdam", differentiable, capturable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, group, w, g, state):
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = _scalar_state(0.0)
            state["mu_product"] = _scalar_state(1.0)
            state["exp_avg"] = _zeros_state(w)
            state["exp_avg_sq"] = _zeros_state(w)
        step = _advance_step(state)
        bias_correction2 = 1 - beta2 ** step
        if wd != 0:
            if group["decoupled_weight_decay"]:
                w *= 1 - lr * wd
            else:
                g = g + wd * w
        psi = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        prod_a = state["mu_product"]._numpy()
        # In the buffer's own precision (float32 unless loaded from a float64 checkpoint),
        # as PyTorch's in-place `mu_product *= mu` on a scalar tensor.
        prod_a *= prod_a.dtype.type(mu)
        prod = float(prod_a)
        m, v = state["exp_avg"]._numpy(), state["exp_avg_sq"]._numpy()
        m += (g - m) * (1 - beta1)          # torch: exp_avg.lerp_(g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        denom = np.sqrt(v / bias_correction2)
        denom += group["eps"]
        w -= (lr * (1.0 - mu) / (1.0 - prod)) * (g / denom)
        w -= (lr * mu_next / (1.0 - prod * mu_next)) * (m / denom)
