"""`summary(model, input_size)`: the lecture's case-study table of a network.

One row per layer the forward pass runs through, with its output size (per sample), its number
of parameters and its number of products (multiplications) per sample, plus totals.

How layers are found: a forward pass on zeros runs in eval mode under no_grad while
- every leaf module (one without children) reports through forward hooks, and
- the functional calls a `forward` may make directly, `F.max_pool2d(x, 3)`, `F.relu(x)`,
  `x.view(-1, 256)`, ... (the names in `_TRACED_F` and `_TRACED_TENSOR`), are temporarily
  wrapped so that each top-level call becomes a row too.
Calls made inside a recorded layer (Conv2d calling F.conv2d, ReLU calling F.relu) are not
rows of their own. Only calls through the module attribute are seen: `F.max_pool2d(...)` with
`import tinytensor.nn.functional as F` is traced, a name imported with `from ... import` is not.
Everything is restored when the pass ends, also on error.

Threads: one summary runs at a time (a lock), and the wrappers and hooks record only calls
made by the thread running it; other threads calling F.conv2d meanwhile pass straight through.
(Two summaries at once used to save each other's wrappers as the "originals" and leave them
installed for the life of the process, feeding a dead tracer.)

Products: a convolution's output elements times (in_channels / groups * prod(kernel)); a
transposed convolution's input elements times (out_channels / groups * prod(kernel)) (each
input value is multiplied by every weight it scatters through); a linear layer's output
elements times in_features. Other layers (pooling, upsampling, activations including PReLU,
dropout, reshapes, normalisation, losses) count 0, as in the lecture's table; their parameters
(PReLU's slopes, GroupNorm's affine) are counted.
"""
import threading
from dataclasses import dataclass, field

import tinytensor.nn.functional as F
from tinytensor.autograd.grad_mode import no_grad
from tinytensor.creation import zeros
from tinytensor.nn.modules.conv import _ConvNd, _ConvTransposeNd
from tinytensor.nn.modules.linear import Linear
from tinytensor.nn.modules.module import Module
from tinytensor.tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerRow"]

_TRACED_F = ("conv1d", "conv2d", "conv3d", "linear", "relu", "leaky_relu", "sigmoid", "tanh",
             "softmax", "log_softmax", "dropout", "batch_norm", "max_pool1d", "max_pool2d",
             "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
             "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
             "max_unpool2d", "pad",
             # issue 11 (names missing from F are skipped)
             "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "group_norm",
             "layer_norm", "instance_norm", "local_response_norm", "interpolate", "upsample",
             "pixel_shuffle", "pixel_unshuffle", "relu6", "elu", "celu", "selu", "gelu", "silu",
             "mish", "hardswish", "hardsigmoid", "hardtanh", "softplus", "softsign", "prelu",
             "logsigmoid", "threshold", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
             "adaptive_avg_pool3d", "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d",
             "fractional_max_pool2d", "fractional_max_pool3d")
_TRACED_TENSOR = ("view", "reshape", "flatten", "relu", "sigmoid", "tanh")

_summary_lock = threading.RLock()     # one summary at a time (RLock: a forward may call one)
_active = threading.local()           # .tracer: the tracer of the summary this thread runs


@dataclass
class LayerRow:
    """One row: `name` (e.g. "conv1 (Conv2d)", "F.max_pool2d", "Tensor.view"), the output
    size per sample, the number of parameters, the number of products per sample."""
    name: str
    output_size: tuple
    params: int
    products: int


@dataclass
class ModelSummary:
    """The rows and totals; `str()` / `table()` give the aligned table."""
    input_size: tuple
    rows: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    total_products: int = 0

    def table(self):
        header = ("Layer", "Output size", "Parameters", "Products")
        body = [(r.name, " x ".join(str(s) for s in r.output_size) or "scalar",
                 str(r.params), str(r.products)) for r in self.rows]
        total = ("Total", "", str(self.total_params), str(self.total_products))
        widths = [max(len(row[i]) for row in [header, total] + body) for i in range(4)]

        def line(cells):
            return "  ".join([cells[0].ljust(widths[0]), cells[1].ljust(widths[1]),
                              cells[2].rjust(widths[2]), cells[3].rjust(widths[3])]).rstrip()
        rule = "-" * len(line(header))
        out = [f"Input size: {' x '.join(str(s) for s in self.input_size)} (per sample)",
               rule, line(header), rule]
        out += [line(b) for b in body]
        out += [rule, line(total), f"Trainable parameters: {self.trainable_params}",
                "Products: multiplications per sample (conv, transposed conv and linear layers)"]
        return "\n".join(out)

    __str__ = table

    def __repr__(self):
        return (f"ModelSummary(rows={len(self.rows)}, total_params={self.total_params}, "
                f"total_products={self.total_products})")


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _first_tensor(out):
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            if isinstance(o, Tensor):
                return o
    return None


def _products(kind, weight, out, batch, inp=None):
    """Multiplications per sample of a conv, transposed conv or linear call with `weight`
    taking `inp` to `out`."""
    if out is None or weight is None:
        return 0
    if kind == "conv_transpose":
        if not isinstance(inp, Tensor):
            return 0
        # each input element times every weight of its group: out_channels / groups * kernel
        return inp.numel() * _prod(weight.shape[1:]) // max(batch, 1)
    if kind == "conv":
        per_output = _prod(weight.shape[1:])          # in_channels / groups * prod(kernel)
    elif kind == "linear":
        per_output = weight.shape[-1]                 # in_features
    else:
        return 0
    return out.numel() * per_output // max(batch, 1)


def _module_kind(module):
    if isinstance(module, _ConvTransposeNd):
        return "conv_transpose"
    if isinstance(module, _ConvNd):
        return "conv"
    if isinstance(module, Linear):
        return "linear"
    return None


def _with_batch(model, input_size):
    """The full input shape: input_size itself when it already has the batch dim, which is
    decided by the first conv or linear layer's expected rank; otherwise (1, *input_size)."""
    size = tuple(int(s) for s in input_size)
    for m in model.modules():
        if isinstance(m, _ConvNd):
            return size if len(size) == m._nd + 2 else (1,) + size
        if isinstance(m, Linear):
            return size if len(size) >= 2 else (1,) + size
    return (1,) + size


class _Tracer:
    def __init__(self, batch):
        self.batch = batch
        self.depth = 0
        self.rows = []

    def record(self, name, out, params, products):
        t = _first_tensor(out)
        if t is None:
            shape = ()
        else:
            shape = tuple(t.shape)
            if shape and shape[0] == self.batch:
                shape = shape[1:]
        self.rows.append(LayerRow(name, shape, int(params), int(products)))

    def wrap(self, name, fn, weight_arg=None, kind=None):
        tracer = self

        def traced(*args, **kwargs):
            if getattr(_active, "tracer", None) is not tracer:
                return fn(*args, **kwargs)      # another thread: not part of this summary
            tracer.depth += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                tracer.depth -= 1
            if tracer.depth == 0:
                weight = None
                if kind is not None:
                    weight = args[1] if len(args) > 1 else kwargs.get("weight")
                tracer.record(name, out, 0, _products(kind, weight, _first_tensor(out),
                                                      tracer.batch, args[0] if args else None))
            return out
        traced.__wrapped__ = fn
        return traced


def summary(model, input_size, dtype=None):
    """Run `model` on zeros of `input_size` and tabulate its layers.

    Args:
        model: a `tinytensor.nn.Module`.
        input_size: the shape of one sample, e.g. (1, 28, 28), or of a whole batch,
            (64, 1, 28, 28); a batch dimension is added when the first conv/linear layer
            needs one.
        dtype: the input dtype (default: that of the model's first parameter, else float32).

    Returns:
        ModelSummary: `.rows` (LayerRow: name, output_size, params, products), totals, and
        `.table()` / `str()` for the printed table.

    Example:
        >>> print(tt.utils.summary(net, (1, 28, 28)))      # doctest: +SKIP
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary(): model must be a tinytensor.nn.Module, got "
                        f"{type(model).__name__}")
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    shape = _with_batch(model, input_size)
    with _summary_lock:
        rows = _trace(model, shape, dtype, F, zeros)
    params = list(model.parameters())
    sample = shape[1:] if len(shape) > 1 else shape
    return ModelSummary(input_size=tuple(sample), rows=rows,
                        total_params=sum(p.numel() for p in params),
                        trainable_params=sum(p.numel() for p in params if p.requires_grad),
                        total_products=sum(r.products for r in rows))


def _trace(model, shape, dtype, F, zeros):
    """The rows of one forward pass on zeros of `shape`. Installs the hooks and wrappers, and
    removes them in `finally` (everything installed so far, also after an interrupt); a wrapper
    is put back only while it is still the attribute's value (nobody replaced it since)."""
    batch = shape[0]
    tracer = _Tracer(batch)
    handles, saved_f, saved_t = [], {}, {}
    modes = [(m, m.training) for m in model.modules()]
    outer = getattr(_active, "tracer", None)
    try:
        _active.tracer = tracer
        for name, m in model.named_modules():
            if next(iter(m.children()), None) is not None:
                continue
            label = f"{name} ({type(m).__name__})" if name else type(m).__name__

            def pre(mod, args):
                if getattr(_active, "tracer", None) is tracer:
                    tracer.depth += 1

            def post(mod, args, out, label=label):
                if getattr(_active, "tracer", None) is not tracer:
                    return
                tracer.depth -= 1
                if tracer.depth == 0:
                    kind = _module_kind(mod)
                    params = sum(p.numel() for p in mod.parameters())
                    tracer.record(label, out, params,
                                  _products(kind, getattr(mod, "weight", None),
                                            _first_tensor(out), batch,
                                            args[0] if args else None))
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
        for name in _TRACED_F:
            fn = getattr(F, name, None)
            if fn is not None:
                kind = ("conv_transpose" if name.startswith("conv_transpose") else
                        "conv" if name.startswith("conv") else
                        "linear" if name == "linear" else None)
                wrapper = tracer.wrap(f"F.{name}", fn, kind=kind)
                saved_f[name] = (fn, wrapper)
                setattr(F, name, wrapper)
        for name in _TRACED_TENSOR:
            fn = Tensor.__dict__.get(name)
            if fn is not None:
                wrapper = tracer.wrap(f"Tensor.{name}", fn)
                saved_t[name] = (fn, wrapper)
                setattr(Tensor, name, wrapper)
        model.eval()
        with no_grad():
            model(zeros(shape, dtype=dtype))
    finally:
        for name, (fn, wrapper) in saved_t.items():
            if Tensor.__dict__.get(name) is wrapper:
                setattr(Tensor, name, fn)
        for name, (fn, wrapper) in saved_f.items():
            if getattr(F, name, None) is wrapper:
                setattr(F, name, fn)
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
        _active.tracer = outer
    return tracer.rows
