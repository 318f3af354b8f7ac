"""Adagrad, with PyTorch's exact update equations (single-tensor path)."""
import numpy as np

from tinytensor.optim.optimizer import (Optimizer, _advance_step, _check_nonnegative,
                                        _check_unsupported, _new_state_tensor, _scalar,
                                        _scalar_state)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): per-coordinate steps scaled by the root of the summed squares.

    For each parameter `p` with a gradient, at step `t` (PyTorch's equations)::

        g = -grad if maximize else grad
        if weight_decay: g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                                    # state['sum']
        p = p - clr * g / (sqrt(s) + eps)

    As in PyTorch, the state of every parameter given to the constructor is created at once
    (`step` 0 and `sum` filled with `initial_accumulator_value`), so `state_dict()` lists every
    parameter even before the first step.

    Args:
        params: parameters or parameter groups (see `Optimizer`).
        lr (float): learning rate (default 1e-2).
        lr_decay (float): learning-rate decay per step (default 0).
        weight_decay (float): L2 penalty (default 0).
        initial_accumulator_value (float): starting value of the sums (default 0).
        eps (float): added to the denominator (default 1e-10).
        maximize (bool): ascend the objective.

    Raises:
        ValueError: lr, lr_decay, weight_decay, initial_accumulator_value or eps negative.

    Example:
        >>> import tinytensor as tt
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = tt.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]
        [0.9, -1.9]
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        lr = _scalar(lr, "lr")
        _check_nonnegative(lr, "learning rate")
        _check_nonnegative(lr_decay, "lr_decay value")
        _check_nonnegative(weight_decay, "weight_decay value")
        _check_nonnegative(initial_accumulator_value, "initial_accumulator_value value")
        _check_nonnegative(eps, "epsilon value")
        _check_unsupported("Adagrad", differentiable, fused=fused)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p._numpy(), self.state[p])

    def _init_state(self, w, state):
        # The constructor's value, not the group's, as PyTorch does.
        state["step"] = _scalar_state(0.0)
        state["sum"] = _new_state_tensor(
            np.full_like(w, self.defaults["initial_accumulator_value"]))

    def _update(self, group, w, g, state):
        if not state:                     # a parameter added later by add_param_group
            self._init_state(w, state)
        step = _advance_step(state)
        wd = group["weight_decay"]
        if wd != 0:
            g = g + wd * w
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"]._numpy()
        s += g * g
        std = np.sqrt(s)
        std += group["eps"]
        upd = np.divide(g, std, out=std)
        upd *= clr
        w -= upd
