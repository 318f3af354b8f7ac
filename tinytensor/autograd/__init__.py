"""Reverse-mode automatic differentiation: Function, backward, grad, gradcheck, grad modes."""
from tinytensor.autograd._grad import backward, grad
from tinytensor.autograd.function import Function
from tinytensor.autograd.gradcheck import gradcheck
from tinytensor.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                           is_inference_mode_enabled, no_grad, set_grad_enabled)

__all__ = ["Function", "backward", "grad", "gradcheck", "no_grad", "enable_grad",
           "is_grad_enabled", "set_grad_enabled", "inference_mode", "is_inference_mode_enabled"]
