"""The `Optimizer` base class: parameter groups, state and state dicts, as PyTorch's.

Layout, as `torch.optim.Optimizer`:

- `param_groups`: a list of dicts, each with a `'params'` list of tensors and every
  hyper-parameter of the optimizer (the constructor's values fill in what a group omits);
- `state`: a dict keyed by the parameter tensor itself, holding that parameter's buffers
  (`momentum_buffer`, `exp_avg`, `step`, ...);
- `state_dict()`: `{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}`,
  where a parameter's index is its position in the concatenation of all groups' lists.

`Optimizer.step` holds the one loop over groups and parameters: subclasses implement
`_update(group, w, g, state)` for one parameter on NumPy views (`p._numpy()`, sharing memory
with the tensors), and `step` then bumps the storage version of the parameter and of its state
tensors, so that an autograd node that saved a parameter notices it changed (PyTorch's version
counter). A user's subclass may override `step` itself, as with PyTorch.
"""
import copy
import warnings
from collections import defaultdict

import numpy as np

from tinytensor._tensor import bool_, float32, float64, int64
from tinytensor.autograd.grad_mode import enable_grad
from tinytensor.tensor import Tensor, from_numpy

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter that has no default (PyTorch's `required`)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_TYPENAMES = {float32: "FloatTensor", float64: "DoubleTensor", int64: "LongTensor",
              bool_: "BoolTensor"}


def _typename(obj):
    if isinstance(obj, Tensor):
        return "tinytensor." + _TYPENAMES.get(obj.dtype, "Tensor")
    return type(obj).__name__


def _scalar(value, name):
    """A hyper-parameter as a Python number (a 1-element tensor is accepted, as PyTorch does)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element")
        return value.item()
    return value


def _new_state_tensor(array):
    """A tensor owning a fresh copy of `array` (optimizer buffers are written in place)."""
    return from_numpy(np.array(array, copy=True, order="C"))


def _zeros_state(w):
    """A zero buffer shaped and typed as the parameter array `w`."""
    return from_numpy(np.zeros_like(w, order="C"))


def _scalar_state(value=0.0):
    """A float32 0-d tensor, as PyTorch keeps `state['step']` (and NAdam's `mu_product`)."""
    return from_numpy(np.array(value, dtype=np.float32))


def _advance_step(state):
    """`state['step'] += 1` (created at 0 if missing); returns the new step as a float."""
    step = state.get("step")
    if step is None:
        step = state["step"] = _scalar_state(0.0)
    a = step._numpy()
    a += 1
    return float(a)


def _check_unsupported(name, differentiable=False, capturable=False, fused=None):
    """Refuse the GPU/graph options tinytensor does not implement (CPU, single-tensor path)."""
    if differentiable or capturable:
        raise RuntimeError(f"{name}: differentiable and capturable are not supported by "
                           "tinytensor")
    if fused:
        raise RuntimeError(f"{name}: fused=True is not supported by tinytensor (CPU, "
                           "single-tensor implementation)")


def _check_betas(betas):
    """Validate `betas` as PyTorch's Adam family does; returns them as a tuple of floats."""
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair of floats, got {betas!r}") from None
    beta1, beta2 = _scalar(beta1, "betas[0]"), _scalar(beta2, "betas[1]")
    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {beta1}")
    if not 0.0 <= beta2 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {beta2}")
    return beta1, beta2


def _check_nonnegative(value, what):
    """PyTorch's `Invalid <what>: <value>` ValueError for a negative hyper-parameter."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, of `(name, tensor)` pairs (`model.named_parameters()`),
            or of dicts defining parameter groups (each with a `'params'` entry).
        defaults: the default value of every hyper-parameter, used for groups that omit it.

    Raises:
        TypeError: `params` is a single tensor, or holds something other than tensors.
        ValueError: `params` is empty, or a parameter appears in two groups.

    Example:
        >>> import tinytensor as tt
        >>> class PlainSGD(tt.optim.Optimizer):
        ...     def __init__(self, params, lr=0.01):
        ...         super().__init__(params, {"lr": lr})
        ...     @tt.no_grad()
        ...     def step(self, closure=None):
        ...         for group in self.param_groups:
        ...             for p in group["params"]:
        ...                 if p.grad is not None:
        ...                     p.sub_(group["lr"] * p.grad)
        >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = PlainSGD([w], lr=0.25)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.tolist()
        [0.5, -1.0]
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        try:
            param_groups = list(params)
        except TypeError:
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}") from None
        self.state = defaultdict(dict)
        self.param_groups = []
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with a `'params'` entry and optional options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        param_group = dict(param_group)
        params = param_group.get("params")
        if params is None:
            raise ValueError("param_group must have a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        if params and isinstance(params[0], tuple):
            names = []
            tensors = []
            for item in params:
                if not (isinstance(item, tuple) and len(item) == 2):
                    raise TypeError("optimizer parameters must be all tensors or all "
                                    "(name, tensor) pairs")
                names.append(item[0])
                tensors.append(item[1])
            param_group["param_names"] = names
            params = tensors
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{_typename(p)}")
            if p.grad_fn is not None:
                raise ValueError("can't optimize a non-leaf Tensor")
        param_group["params"] = params

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every parameter: to None (the default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g = g.detach()
                        p.grad = g
                    g._numpy()[...] = 0
                    g._bump_version()

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns `closure()`'s loss.

        The loop over groups and parameters lives here once: a subclass implements
        `_update(group, w, g, state)` for one parameter, where `w` is the parameter's NumPy view
        (update it in place), `g` its gradient (already negated when `group['maximize']`; never
        write to it: it may be the gradient's own memory), and
        `state` its state dict (empty on the first update; stored only if the update fills it).
        Afterwards the versions of the parameter and of every state tensor are bumped.
        """
        loss = self._closure_loss(closure)
        # PyTorch refuses to update an expanded parameter (several elements, one memory
        # location): refuse before any parameter changes, so a refused step changes nothing
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p._refuse_overlap()
        for group in self.param_groups:
            maximize = group.get("maximize", False)
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad._numpy()
                if maximize:
                    g = -g
                st = self.state.get(p)
                fresh = st is None
                if fresh:
                    st = {}
                self._update(group, p._numpy(), g, st)
                if fresh and st:
                    self.state[p] = st
                p._bump_version()
                for v in st.values():
                    if isinstance(v, Tensor):
                        v._bump_version()
        return loss

    def _update(self, group, w, g, state):
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state dicts

    def state_dict(self):
        """`{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}`.

        The state's tensors are the optimizer's own buffers (not copies), as in PyTorch.
        """
        index = {}
        start = 0
        packed_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            packed_groups.append(packed)
        packed_state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict):
        """Load a state dict made by `state_dict()` (of this class, same group sizes).

        Floating-point buffers are converted to their parameter's dtype (except `step`, which
        stays a float32 tensor) and copied, so the loaded dict is never written to afterwards.

        Raises:
            ValueError: the number of groups, or the size of a group, differs.
        """
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict \
                or "state" not in state_dict:
            raise ValueError("optimizer state dict must be a dict with 'state' and "
                             "'param_groups' entries")
        groups = self.param_groups
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, s in zip(groups, saved_groups):
            if not isinstance(s, dict) or "params" not in s:
                raise ValueError("each saved parameter group must be a dict with a 'params' "
                                 "entry")
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = {}
        for g, s in zip(groups, saved_groups):
            for saved_id, p in zip(s["params"], g["params"]):
                id_map[saved_id] = p

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {name: self._cast_state(p, name, value) for name, value in v.items()}
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            if "betas" in s and isinstance(s["betas"], list):
                s["betas"] = tuple(s["betas"])
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    @staticmethod
    def _cast_state(param, key, value):
        if key == "step":
            if isinstance(value, Tensor):
                return _new_state_tensor(value.detach()._numpy().astype(np.float32))
            return _new_state_tensor(np.float32(value))
        if isinstance(value, Tensor):
            a = value.detach()._numpy()
            if value.dtype.is_floating_point and param.dtype.is_floating_point:
                a = a.astype(param.dtype.np_dtype, copy=False)
            return _new_state_tensor(a)
        if isinstance(value, np.ndarray):
            return _new_state_tensor(value.astype(param.dtype.np_dtype, copy=False))
        return copy.deepcopy(value)

    # ------------------------------------------------------------------ printing, pickling

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            if i:
                lines.append("")
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
