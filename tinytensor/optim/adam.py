"""Adam and AdamW, with PyTorch's exact update equations (single-tensor path)."""
import math

import numpy as np

from tinytensor.optim.optimizer import Optimizer, _new_state_tensor, _scalar

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
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        lr = _scalar(lr, "lr")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair of floats, got {betas!r}") from None
        beta1, beta2 = _scalar(beta1, "betas[0]"), _scalar(beta2, "betas[1]")
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {beta1}")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {beta2}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not (isinstance(beta1, float) and isinstance(beta2, float)):
            raise ValueError("betas must be either both floats or both Tensors")
        if differentiable or capturable:
            raise RuntimeError(f"{type(self).__name__}: differentiable and capturable are not "
                               "supported by tinytensor")
        if fused:
            raise RuntimeError(f"{type(self).__name__}: fused=True is not supported by "
                               "tinytensor (CPU, single-tensor implementation)")
        defaults = {"lr": lr, "betas": (beta1, beta2), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns `closure()`'s loss."""
        loss = self._closure_loss(closure)
        state = self.state
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            wd = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                w = p._numpy()
                g = grad._numpy()
                st = state[p]
                if not st:
                    st["step"] = _new_state_tensor(np.float32(0.0))
                    st["exp_avg"] = _new_state_tensor(np.zeros_like(w))
                    st["exp_avg_sq"] = _new_state_tensor(np.zeros_like(w))
                    if amsgrad:
                        st["max_exp_avg_sq"] = _new_state_tensor(np.zeros_like(w))
                step_t = st["step"]
                step_a = step_t._numpy()
                step_a += 1
                step_t._bump_version()
                step = float(step_a)

                if maximize:
                    g = -g
                if wd != 0:
                    if decoupled:
                        w *= 1 - lr * wd
                    else:
                        g = g + wd * w
                m_t, v_t = st["exp_avg"], st["exp_avg_sq"]
                m, v = m_t._numpy(), v_t._numpy()
                m += (g - m) * (1 - beta1)          # torch: exp_avg.lerp_(g, 1 - beta1)
                v *= beta2
                v += (g * g) * (1 - beta2)
                m_t._bump_version()
                v_t._bump_version()

                bias_correction1 = 1 - beta1 ** step
                bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
                step_size = lr / bias_correction1
                if amsgrad:
                    vmax_t = st.get("max_exp_avg_sq")
                    if vmax_t is None:
                        vmax_t = _new_state_tensor(np.zeros_like(w))
                        st["max_exp_avg_sq"] = vmax_t
                    vmax = vmax_t._numpy()
                    np.maximum(vmax, v, out=vmax)
                    vmax_t._bump_version()
                    denom = np.sqrt(vmax)
                else:
                    denom = np.sqrt(v)
                denom /= bias_correction2_sqrt
                denom += eps
                upd = np.divide(m, denom, out=denom)
                upd *= step_size
                w -= upd
                p._bump_version()
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): `p *= 1 - lr * weight_decay`
    before the Adam update. Same arguments as `Adam`; `weight_decay` defaults to 1e-2."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
