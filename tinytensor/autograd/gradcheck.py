"""Finite-difference gradient check (central differences, float64)."""
import numpy as np

from tinytensor._tensor_type import Tensor
from tinytensor.autograd._grad import grad as autograd_grad
from tinytensor.autograd.grad_mode import no_grad
from tinytensor.creation import tensor


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare the analytical gradient of `fn` with central differences, input by input.

    Every tensor in `inputs` that requires grad must be float64. For each output element o and
    input element x, the Jacobian entry d o / d x is estimated as (f(x+eps) - f(x-eps)) / 2eps and
    compared with backward's, ``|analytic - numeric| <= atol + rtol * |numeric|``.
    Returns True, or raises RuntimeError naming the worst element.

    >>> x = tt.tensor([0.5, 2.], dtype=tt.float64, requires_grad=True)
    >>> tt.autograd.gradcheck(lambda t: (t * t).sum(), (x,))
    True
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need "
                             "float64 inputs")

    def outputs():
        out = fn(*inputs)
        return [o for o in (out if isinstance(out, (tuple, list)) else (out,))
                if isinstance(o, Tensor) and o.dtype.is_floating_point]

    outs = outputs()
    for k, out in enumerate(outs):
        n_out = out.numel()
        # analytic: one backward per output element
        analytic = [np.zeros((inputs[i].numel(), n_out)) for i in wrt]
        for j in range(n_out):
            if not out.requires_grad:
                break
            g = np.zeros(n_out)
            g[j] = 1.0
            grads = autograd_grad(outputs()[k], [inputs[i] for i in wrt],
                                  grad_outputs=[tensor(g.reshape(out.shape), dtype=out.dtype)],
                                  allow_unused=True)
            for col, gr in zip(analytic, grads):
                if gr is not None:
                    col[:, j] = gr.detach().numpy().reshape(-1)
        for slot, i in enumerate(wrt):
            x = inputs[i]
            flat = x.detach()._numpy()
            numeric = np.zeros((x.numel(), n_out))
            for e, idx in enumerate(np.ndindex(*x.shape)):
                orig = flat[idx]
                with no_grad():
                    flat[idx] = orig + eps
                    plus = outputs()[k].detach().numpy().astype(np.float64).reshape(-1).copy()
                    flat[idx] = orig - eps
                    minus = outputs()[k].detach().numpy().astype(np.float64).reshape(-1).copy()
                    flat[idx] = orig
                numeric[e] = (plus - minus) / (2 * eps)
            err = np.abs(analytic[slot] - numeric) - (atol + rtol * np.abs(numeric))
            if err.size and err.max() > 0:
                w = np.unravel_index(np.argmax(err), err.shape)
                msg = (f"Jacobian mismatch for output {k} with respect to input {i},\n"
                       f"worst at input element {w[0]}, output element {w[1]}: "
                       f"numerical {numeric[w]:.8g} vs analytical {analytic[slot][w]:.8g}")
                if raise_exception:
                    raise RuntimeError(msg)
                return False
    return True
