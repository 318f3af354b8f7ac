"""ONNX converters: one small function per tinytensor autograd Function.

A converter receives the graph builder `g` and one recorded op `r` (its Function class,
arguments as passed to `Function.apply`, outputs) and emits ONNX nodes through `g`:

    @converts(SomeFunction)
    def _some(g, r):
        x = g.arg(r, 0)                       # the ONNX name of tensor argument 0
        return g.node("Relu", [x])            # the ONNX name(s) of the op's output(s)

It returns one name per output of the op (a single name for one output; None for an output
that cannot be used, which is refused if anything reads it). Anything the ONNX operator set
cannot express raises `g.unsupported(r, why)`. To support a new Function, add a converter here.
"""
import numpy as np

from tinytensor._functions import (activation, batchnorm, conv, conv_transpose, elementwise,
                                   linear, matmul, norm, pad, pool, pool3d, reduce, shape,
                                   upsample)

CONVERTERS = {}


def converts(*classes):
    def register(fn):
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn
    return register


def _ints(xs):
    return [int(x) for x in xs]


# ---------------------------------------------------------------------- convolution, padding

@converts(conv.ConvNdFunction)
def _conv(g, r):
    x, weight, bias, stride, pad_begin, pad_end, dilation, groups = r.args
    ins = [g.arg(r, 0), g.arg(r, 1)] + ([g.arg(r, 2)] if bias is not None else [])
    return g.node("Conv", ins, kernel_shape=_ints(weight.shape[2:]), strides=_ints(stride),
                  pads=_ints(pad_begin) + _ints(pad_end), dilations=_ints(dilation),
                  group=int(groups))


@converts(conv_transpose.ConvTransposeNdFunction)
def _conv_transpose(g, r):
    # same weight layout (C_in, C_out / groups, *k) and output size rule as ONNX ConvTranspose
    x, weight, bias, stride, padding, output_padding, dilation, groups = r.args
    ins = [g.arg(r, 0), g.arg(r, 1)] + ([g.arg(r, 2)] if bias is not None else [])
    return g.node("ConvTranspose", ins, kernel_shape=_ints(weight.shape[2:]),
                  strides=_ints(stride), pads=_ints(padding) + _ints(padding),
                  output_padding=_ints(output_padding), dilations=_ints(dilation),
                  group=int(groups))


@converts(pad.ConstantPadFunction)
def _constant_pad(g, r):
    x, pads, value = r.args
    onnx_pads = [int(p[0]) for p in pads] + [int(p[1]) for p in pads]
    dt = r.outs[0].dtype
    return g.node("Pad", [g.arg(r, 0), g.const(onnx_pads, np.int64),
                          g.const(np.array(value, dtype=g.np_dtype(dt)))], mode="constant")


@converts(pad.MapPadFunction)
def _map_pad(g, r):
    x, pads, mode, nsp = r.args
    if any(p < 0 for lr in pads for p in lr):
        raise g.unsupported(r, f"{mode} padding with negative pads (a crop)")
    lead = x.ndim - nsp
    if mode == "circular":
        # wrap-around as slices and a concat per dim (ONNX's Pad mode "wrap" needs opset 19)
        out = g.arg(r, 0)
        for d, (left, right) in enumerate(pads):
            axis = lead + d
            parts = []
            if left:
                parts.append(g.slice(out, [-left], [np.iinfo(np.int64).max], [axis]))
            parts.append(out)
            if right:
                parts.append(g.slice(out, [0], [right], [axis]))
            if len(parts) > 1:
                out = g.node("Concat", parts, axis=axis)
        return out if out != g.arg(r, 0) else g.node("Identity", [out])
    onnx_pads = [0] * lead + [int(p[0]) for p in pads] + [0] * lead + [int(p[1]) for p in pads]
    return g.node("Pad", [g.arg(r, 0), g.const(onnx_pads, np.int64)],
                  mode={"reflect": "reflect", "replicate": "edge"}[mode])


# ---------------------------------------------------------------------- pooling

def _batched(g, r, x, nsp, build):
    """Run `build(name)` on an (N, C, *spatial) view of x: unbatched (C, *spatial) input is
    unsqueezed first and the result squeezed back."""
    if x.ndim == nsp + 2:
        return build(g.arg(r, 0))
    if x.ndim != nsp + 1:
        raise g.unsupported(r, f"a {x.ndim}-D input to a {nsp}-D pool")
    y = build(g.node("Unsqueeze", [g.arg(r, 0), g.const([0], np.int64)]))
    return g.node("Squeeze", [y, g.const([0], np.int64)])


def _pool_pads(padding, nsp):
    p = _ints(padding[3 - nsp:])
    return p + p


def _ceil_mode(g, r, x, kernel, stride, padding, dilation, ceil_mode, nsp):
    """ONNX's ceil_mode for a pool that gives PyTorch's output sizes.

    PyTorch drops a last ceil-mode window that would start in the end padding; ONNX's shape
    rule does not. Per spatial dim, the PyTorch size is the ONNX floor size or its ceil size
    (with the same windows, so the same values): pick the mode that fits every dim.
    """
    if not ceil_mode:
        return 0
    fits = {0, 1}
    for n, k, s, p, d in zip(x.shape[x.ndim - nsp:], kernel[3 - nsp:], stride[3 - nsp:],
                             padding[3 - nsp:], dilation[3 - nsp:]):
        want = pool.pool_out_size(n, k, s, p, d, True)
        span = n + 2 * p - d * (k - 1) - 1
        fits &= {m for m, o in ((0, span // s + 1), (1, -(-span // s) + 1)) if o == want}
    if not fits:
        raise g.unsupported(r, "ceil_mode=True where one spatial dim drops its last window "
                               "and another keeps a partial one (no single ONNX ceil_mode fits)")
    return max(fits)


@converts(pool.MaxPoolNdFunction)
def _max_pool(g, r):
    x, kernel, stride, padding, dilation, ceil_mode, return_indices, nsp = r.args
    attrs = dict(kernel_shape=_ints(kernel[3 - nsp:]), strides=_ints(stride[3 - nsp:]),
                 pads=_pool_pads(padding, nsp), dilations=_ints(dilation[3 - nsp:]),
                 ceil_mode=_ceil_mode(g, r, x, kernel, stride, padding, dilation, ceil_mode, nsp))
    y = _batched(g, r, x, nsp, lambda name: g.node("MaxPool", [name], **attrs))
    # indices are flat positions per plane in tinytensor, ONNX's count across planes too
    return (y, None) if return_indices else y


@converts(pool.AvgPoolNdFunction)
def _avg_pool(g, r):
    x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, nsp = r.args
    if divisor_override is not None:
        raise g.unsupported(r, "divisor_override (ONNX AveragePool has no divisor attribute)")
    attrs = dict(kernel_shape=_ints(kernel[3 - nsp:]), strides=_ints(stride[3 - nsp:]),
                 pads=_pool_pads(padding, nsp),
                 ceil_mode=_ceil_mode(g, r, x, kernel, stride, padding, (1, 1, 1), ceil_mode, nsp),
                 count_include_pad=int(bool(count_include_pad)))
    return _batched(g, r, x, nsp, lambda name: g.node("AveragePool", [name], **attrs))


def _adaptive(g, r, kind):
    x, output_size, nsp = r.args
    return _adaptive_pool(g, r, kind, x, _ints(output_size[2 - nsp:]), nsp)


def _adaptive_pool(g, r, kind, x, out, nsp):
    size = _ints(x.shape[x.ndim - nsp:])
    dynamic_spatial = any(d >= x.ndim - nsp for d in g.dynamic_dims(r, 0))
    if all(o == 1 for o in out):
        op = "GlobalAveragePool" if kind == "avg" else "GlobalMaxPool"
        return _batched(g, r, x, nsp, lambda name: g.node(op, [name]))
    if dynamic_spatial:
        raise g.unsupported(r, f"output size {tuple(out)} from an input whose spatial size is "
                               "a dynamic axis (only output size 1 maps to a global pool)")
    if any(n % o for n, o in zip(size, out)):
        raise g.unsupported(r, f"output size {tuple(out)} from input size {tuple(size)}: ONNX "
                               "can express an adaptive pool only when each input size is a "
                               "multiple of the output size (or the output is 1)")
    k = [n // o for n, o in zip(size, out)]
    op = "AveragePool" if kind == "avg" else "MaxPool"
    return _batched(g, r, x, nsp, lambda name: g.node(op, [name], kernel_shape=k, strides=k))


@converts(pool.AdaptiveAvgPoolFunction)
def _adaptive_avg(g, r):
    return _adaptive(g, r, "avg")


@converts(pool.AdaptiveMaxPoolFunction)
def _adaptive_max(g, r):
    return _adaptive(g, r, "max"), None


@converts(pool3d.AdaptiveAvgPool3dFunction)
def _adaptive_avg3d(g, r):
    return _adaptive_pool(g, r, "avg", r.args[0], _ints(r.args[1]), 3)


@converts(pool3d.AdaptiveMaxPool3dFunction)
def _adaptive_max3d(g, r):
    return _adaptive_pool(g, r, "max", r.args[0], _ints(r.args[1]), 3), None


@converts(pool3d.LPRootFunction)
def _lp_root(g, r):
    # (k * s) ** (1 / p), s the average pool of x ** p (which converts on its own)
    s, k, p = r.args
    y = g.arg(r, 0)
    if s.dtype != r.outs[0].dtype:
        y = g.node("Cast", [y], to=g.onnx_dtype(r.outs[0].dtype))
    dt = g.np_dtype(r.outs[0].dtype)
    y = g.node("Mul", [y, g.const(np.array(k, dt))])
    return g.node("Pow", [y, g.const(np.array(1.0 / p, dt))])


# ---------------------------------------------------------------------- normalisation, linear

@converts(batchnorm.BatchNormFunction)
def _batch_norm(g, r):
    x, weight, bias, mean, invstd, training, eps, stats = r.args
    if training:
        raise g.unsupported(r, "batch statistics (training mode); export runs the model in eval "
                               "mode unless the module forces training")
    dt = g.np_dtype(x.dtype)
    c = x.shape[1]
    # the running variance back from invstd = 1 / sqrt(var + eps), computed in float64
    var = np.maximum(1.0 / np.square(np.asarray(invstd, np.float64)) - eps, 0.0)
    scale = g.arg(r, 1) if weight is not None else g.const(np.ones(c, dt))
    shift = g.arg(r, 2) if bias is not None else g.const(np.zeros(c, dt))
    stats = [g.const(np.asarray(mean).astype(dt)), g.const(var.astype(dt))]
    return g.node("BatchNormalization", [g.arg(r, 0), scale, shift] + stats, epsilon=float(eps))


def _tail_axis(x, count, param):
    """The first of the trailing dims of x that a layer norm over `count` values spans: those of
    the affine parameter when its shape is x's tail, else the fewest trailing dims holding
    `count` values."""
    if param is not None and tuple(x.shape[x.ndim - param.ndim:]) == tuple(param.shape):
        return x.ndim - param.ndim
    size = 1
    for k in range(1, x.ndim + 1):
        size *= x.shape[x.ndim - k]
        if size == count:
            return x.ndim - k
    return 0


@converts(norm.GroupNormFunction)
def _group_norm(g, r):
    """GroupNormFunction runs group, layer and instance norm; groups4 = (R, G, Cg, S) tells
    which: LayerNorm (R, 1, Cg, 1), InstanceNorm (N, C, 1, S), GroupNorm (N, G, C / G, S).

    LayerNorm -> LayerNormalization (opset 17). InstanceNorm -> InstanceNormalization.
    GroupNorm (and LayerNorm below opset 17) -> Reshape to (R * G, 1, Cg * S),
    InstanceNormalization there (one "channel" per group, scale 1, shift 0), Reshape back, then
    the per-channel affine as Mul and Add. (ONNX's GroupNormalization is no choice: it needs
    opset 18, and opset 18's version takes one scale per group, not per channel -- the spec
    changed that in opset 21.)
    """
    x, weight, bias, groups4, eps, _ = r.args
    rows, groups, cg, s = (int(v) for v in groups4)
    dt = g.np_dtype(x.dtype)
    xn = g.arg(r, 0)
    param = weight if weight is not None else bias
    if groups == 1 and s == 1:                       # LayerNorm (or a one-group GroupNorm)
        axis = _tail_axis(x, cg, param)
        tail = _ints(x.shape[axis:])

        def shaped(i):                                # the parameter as x.shape[axis:]
            name = g.arg(r, i)
            if tuple(r.args[i].shape) != tuple(tail):
                name = g.node("Reshape", [name, g.const(tail, np.int64)])
            return name
        if g.opset >= 17:
            scale = shaped(1) if weight is not None else g.const(np.ones(tail, dt))
            ins = [xn, scale] + ([shaped(2)] if bias is not None else [])
            return g.node("LayerNormalization", ins, axis=axis, epsilon=float(eps))
        y = _grouped_norm(g, xn, cg * s, eps, dt)
        if weight is not None:
            y = g.node("Mul", [y, shaped(1)])
        return g.node("Add", [y, shaped(2)]) if bias is not None else y
    c = groups * cg
    if cg == 1 and x.ndim >= 3 and x.shape[1] == c and dt == np.float32:
        # InstanceNorm (or GroupNorm, G = C); ONNX Runtime has no float64 InstanceNormalization
        scale = g.arg(r, 1) if weight is not None else g.const(np.ones(c, dt))
        shift = g.arg(r, 2) if bias is not None else g.const(np.zeros(c, dt))
        return g.node("InstanceNormalization", [xn, scale, shift], epsilon=float(eps))
    y = _grouped_norm(g, xn, cg * s, eps, dt)
    per_channel = [c] + [1] * (x.ndim - 2)
    if weight is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.arg(r, 1), g.const(per_channel, np.int64)])])
    if bias is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.arg(r, 2), g.const(per_channel, np.int64)])])
    return y


def _grouped_norm(g, xn, group_size, eps, dt):
    """Normalise each run of `group_size` consecutive values of x (biased variance): one
    InstanceNormalization, or for float64 (which ONNX Runtime's InstanceNormalization lacks)
    the mean and variance as reductions."""
    flat = g.node("Reshape", [xn, g.const([-1, 1, group_size], np.int64)])
    if dt == np.float32:
        y = g.node("InstanceNormalization", [flat, g.const(np.ones(1, dt)),
                                             g.const(np.zeros(1, dt))], epsilon=float(eps))
    else:
        d = g.node("Sub", [flat, _reduce_axes(g, "ReduceMean", flat, [2], True)])
        var = _reduce_axes(g, "ReduceMean", g.node("Mul", [d, d]), [2], True)
        y = g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, g.const(np.array(eps, dt))])])])
    return g.node("Reshape", [y, g.node("Shape", [xn])])


@converts(linear.LinearFunction)
def _linear(g, r):
    x, weight, bias = r.args
    if x.ndim == 2:
        ins = [g.arg(r, 0), g.arg(r, 1)] + ([g.arg(r, 2)] if bias is not None else [])
        return g.node("Gemm", ins, transB=1)
    y = g.node("MatMul", [g.arg(r, 0), g.node("Transpose", [g.arg(r, 1)], perm=[1, 0])])
    return g.node("Add", [y, g.arg(r, 2)]) if bias is not None else y


@converts(matmul.MatMul)
def _matmul(g, r):
    return g.node("MatMul", [g.operand(r, 0), g.operand(r, 1)])


# ---------------------------------------------------------------------- activations

@converts(activation.ReLUFunction)
def _relu(g, r):
    return g.node("Relu", [g.arg(r, 0)])


@converts(activation.LeakyReLUFunction)
def _leaky_relu(g, r):
    return g.node("LeakyRelu", [g.arg(r, 0)], alpha=float(r.args[1]))


@converts(activation.SoftmaxFunction)
def _softmax(g, r):
    return g.node("Softmax", [g.arg(r, 0)], axis=int(r.args[1]))


@converts(activation.LogSoftmaxFunction)
def _log_softmax(g, r):
    return g.node("LogSoftmax", [g.arg(r, 0)], axis=int(r.args[1]))


@converts(activation.DropoutFunction)
def _dropout(g, r):
    raise g.unsupported(r, "dropout in training mode (export runs the model in eval mode, "
                           "where dropout is the identity)")


# ---------------------------------------------------------------------- elementwise

_BINARY = {elementwise.Add: "Add", elementwise.Sub: "Sub", elementwise.Mul: "Mul",
           elementwise.Div: "Div", elementwise.Pow: "Pow", elementwise.Maximum: "Max",
           elementwise.Minimum: "Min"}


@converts(*_BINARY)
def _binary(g, r):
    return g.node(_BINARY[r.cls], [g.operand(r, 0), g.operand(r, 1)])


_UNARY = {"neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "tanh": "Tanh",
          "sigmoid": "Sigmoid", "relu": "Relu", "sin": "Sin", "cos": "Cos"}


@converts(elementwise.Unary)
def _unary(g, r):
    op = r.args[1]
    if op not in _UNARY:
        raise g.unsupported(r, f"the unary op {op!r}")
    return g.node(_UNARY[op], [g.operand(r, 0)])


@converts(elementwise.Where)
def _where(g, r):
    return g.node("Where", [g.arg(r, 0), g.operand(r, 1), g.operand(r, 2)])


@converts(elementwise.Clamp)
def _clamp(g, r):
    x, lo, hi = r.args
    dt = g.np_dtype(r.outs[0].dtype)
    return g.node("Clip", [g.operand(r, 0),
                           "" if lo is None else g.const(np.array(lo, dt)),
                           "" if hi is None else g.const(np.array(hi, dt))])


# ---------------------------------------------------------------------- shapes

@converts(shape.View)
def _view(g, r):
    x = r.args[0]
    special = r.args[2] if len(r.args) > 2 else None
    out_shape = tuple(r.outs[0].shape)
    if special is not None and special[0] == "unsqueeze":
        d = special[1] % len(out_shape)
        return g.node("Unsqueeze", [g.arg(r, 0), g.const([d], np.int64)])
    if special is not None:
        dims = range(x.ndim) if special[1] is None else (
            special[1] if isinstance(special[1], (tuple, list)) else (special[1],))
        axes = sorted({int(d) % x.ndim for d in dims if x.shape[int(d) % x.ndim] == 1}) \
            if x.ndim else []
        if not axes:
            return g.node("Identity", [g.arg(r, 0)])
        return g.node("Squeeze", [g.arg(r, 0), g.const(axes, np.int64)])
    return g.node("Reshape", [g.arg(r, 0), g.const(g.reshape_target(r), np.int64)])


@converts(shape.Permute)
def _permute(g, r):
    x, dims = r.args
    return g.node("Transpose", [g.arg(r, 0)], perm=[int(d) % x.ndim for d in dims])


@converts(shape.Expand)
def _expand(g, r):
    # ONNX Expand broadcasts both ways: a 1 in the target keeps the input's (dynamic) size
    x, out = r.args[0], r.outs[0]
    lead = out.ndim - x.ndim
    target = _ints(out.shape)
    for d in g.dynamic_dims(r, "out"):
        if d < lead or d - lead not in g.dynamic_dims(r, 0):
            raise g.unsupported(r, f"expand {tuple(x.shape)} -> {tuple(out.shape)}: dim {d} "
                                   "would take a dynamic axis's size from nowhere in the input")
        target[d] = 1
    return g.node("Expand", [g.arg(r, 0), g.const(target, np.int64)])


@converts(shape.Clone)
def _clone(g, r):
    return g.node("Identity", [g.arg(r, 0)])


@converts(shape.CopyInto)
def _copy_into(g, r):
    # dst.copy_(src) (in-place activations write their result back this way): src cast to
    # dst's dtype and broadcast to dst's shape
    dst, src = r.args
    name = g.arg(r, 1)
    if src.dtype != dst.dtype:
        name = g.node("Cast", [name], to=g.onnx_dtype(dst.dtype))
    if tuple(src.shape) != tuple(dst.shape):
        name = g.node("Expand", [name, g.node("Shape", [g.arg(r, 0)])])
    return name if name != g.arg(r, 1) else g.node("Identity", [name])


@converts(shape.ToDtype)
def _to_dtype(g, r):
    return g.node("Cast", [g.arg(r, 0)], to=g.onnx_dtype(r.outs[0].dtype))


_INT64_MAX = int(np.iinfo(np.int64).max)


@converts(shape.BasicIndex)
def _basic_index(g, r):
    """x[ints, slices, None, ...] as Slice, Squeeze (the int dims) and Unsqueeze (the Nones).
    ONNX Slice clamps starts and ends as Python does, so slices stay valid on dynamic axes."""
    x, index = r.args
    index = index if isinstance(index, tuple) else (index,)
    n_real = sum(1 for it in index if it is not None and it is not Ellipsis)
    items = []
    for it in index:
        items.extend([slice(None)] * (x.ndim - n_real) if it is Ellipsis else [it])
    starts, ends, steps, axes, squeeze, unsqueeze = [], [], [], [], [], []
    d = pos = 0
    for it in items:
        if it is None:
            unsqueeze.append(pos)
            pos += 1
            continue
        if isinstance(it, slice):
            if it != slice(None):
                starts.append(0 if it.start is None else int(it.start))
                ends.append(_INT64_MAX if it.stop is None else int(it.stop))
                steps.append(1 if it.step is None else int(it.step))
                axes.append(d)
            pos += 1
        else:
            i = int(it)
            starts.append(i)
            ends.append(_INT64_MAX if i == -1 else i + 1)
            steps.append(1)
            axes.append(d)
            squeeze.append(d)
        d += 1
    y = g.arg(r, 0)
    if axes:
        y = g.node("Slice", [y, g.const(starts, np.int64), g.const(ends, np.int64),
                             g.const(axes, np.int64), g.const(steps, np.int64)])
    if squeeze:
        y = g.node("Squeeze", [y, g.const(squeeze, np.int64)])
    if unsqueeze:
        y = g.node("Unsqueeze", [y, g.const(unsqueeze, np.int64)])
    return y if y != g.arg(r, 0) else g.node("Identity", [y])


@converts(shape.Cat)
def _cat(g, r):
    return g.node("Concat", [g.operand(r, i) for i in range(1, len(r.args))],
                  axis=int(r.args[0]))


# ---------------------------------------------------------------------- reductions

def _reduce(g, r, op, x_name):
    x, axes, keepdim = r.args[:3]
    return _reduce_axes(g, op, x_name, [int(a) for a in axes], keepdim)


@converts(reduce.Sum, reduce.Mean)
def _sum_mean(g, r):
    if not r.args[1]:
        return g.node("Identity", [g.operand(r, 0)])
    return _reduce(g, r, "ReduceSum" if r.cls is reduce.Sum else "ReduceMean", g.operand(r, 0))


@converts(reduce.AMax)
def _amax(g, r):
    if not r.args[1]:
        return g.node("Identity", [g.arg(r, 0)])
    return _reduce(g, r, "ReduceMax" if r.args[3] == "max" else "ReduceMin", g.arg(r, 0))


@converts(reduce.MaxDim)
def _max_dim(g, r):
    x, dim, keepdim, kind = r.args
    name = g.arg(r, 0)
    attrs = dict(axis=int(dim), keepdims=int(bool(keepdim)))
    idx = g.node("ArgMax" if kind == "max" else "ArgMin", [name], **attrs)
    # the values: the maximum along dim (ties pick the same value as the index)
    vals = _reduce_axes(g, "ReduceMax" if kind == "max" else "ReduceMin", name, [int(dim)],
                        keepdim)
    return vals, idx


def _reduce_axes(g, op, name, axes, keepdim):
    if g.opset >= 18 or op == "ReduceSum":
        return g.node(op, [name, g.const(axes, np.int64)], keepdims=int(bool(keepdim)))
    return g.node(op, [name], axes=axes, keepdims=int(bool(keepdim)))


@converts(reduce.Var, reduce.Std)
def _var_std(g, r):
    x, axes, keepdim, correction = r.args
    axes = [int(a) for a in axes]
    if any(a in g.dynamic_dims(r, 0) for a in axes):
        raise g.unsupported(r, "a variance over a dynamic axis (its element count is stored)")
    count = 1
    for a in axes:
        count *= x.shape[a]
    dt = g.np_dtype(r.outs[0].dtype)
    name = g.arg(r, 0)
    d = g.node("Sub", [name, _reduce_axes(g, "ReduceMean", name, axes, True)])
    ss = _reduce_axes(g, "ReduceSum", g.node("Mul", [d, d]), axes, keepdim)
    var = g.node("Div", [ss, g.const(np.array(max(count - correction, 0), dt))])
    return g.node("Sqrt", [var]) if r.cls is reduce.Std else var


# ---------------------------------------------------------------------- upsampling

# F.interpolate's modes as ONNX Resize attributes (checked against ONNX Runtime in the tests):
# nearest = floor(dst * in / out): asymmetric coordinates, floor; nearest-exact =
# floor((dst + 0.5) * in / out) = round-half-up((dst + 0.5) * in / out - 0.5): half_pixel,
# round_prefer_ceil; linear: align_corners, or half_pixel (negative coordinates clamped to 0,
# as PyTorch does).
_RESIZE = {("nearest", False): dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                    nearest_mode="floor"),
           ("nearest-exact", False): dict(mode="nearest", nearest_mode="round_prefer_ceil",
                                          coordinate_transformation_mode="half_pixel"),
           ("linear", True): dict(mode="linear", coordinate_transformation_mode="align_corners"),
           ("linear", False): dict(mode="linear", coordinate_transformation_mode="half_pixel")}


def _same_plan(p, q):
    if p is None or q is None:
        return p is None and q is None
    return all((a is None and b is None) or (a is not None and b is not None and
                                             np.array_equal(a, b)) for a, b in zip(p, q))


@converts(upsample.UpsampleFunction)
def _upsample(g, r):
    """UpsampleFunction records per-axis index/weight plans, not the mode: the mode is the one
    whose plans, computed from the output size, are the recorded ones on every axis. Then one
    Resize to that size (batch and channels copied from the input's Shape, so the batch axis
    may be dynamic). Plans no mode reproduces from the sizes (a scale_factor whose 1 / scale is
    not in / out, e.g. 2.5 on 3 values), and float64 ones, become Gathers of the recorded
    indices, weighted."""
    x, plans = r.args
    out = r.outs[0]
    if any(d >= 2 for d in g.dynamic_dims(r, 0)):
        raise g.unsupported(r, "interpolate over a dynamic spatial axis (its plan is recorded)")
    dt = g.np_dtype(x.dtype).type
    fits = set(_RESIZE)
    for k, plan in enumerate(plans):
        n_in, n_out = int(x.shape[2 + k]), int(out.shape[2 + k])
        fits = {(m, ac) for m, ac in fits
                if _same_plan(plan, upsample.axis_plan(m, n_in, n_out, None, ac, dt))}
    xn = g.arg(r, 0)
    if fits and dt == np.float32:            # (ONNX Runtime has no float64 Resize)
        attrs = _RESIZE[sorted(fits)[0]]
        sizes = g.node("Concat", [g.slice(g.node("Shape", [xn]), [0], [2], [0]),
                                  g.const(_ints(out.shape[2:]), np.int64)], axis=0)
        return g.node("Resize", [xn, "", "", sizes], **attrs)
    y = xn
    for k in reversed(range(len(plans))):
        if plans[k] is None:
            continue
        i0, l0, i1, l1 = plans[k]
        axis = 2 + k
        a = g.node("Gather", [y, g.const(i0, np.int64)], axis=axis)
        if l0 is None:
            y = a
            continue
        along = (-1,) + (1,) * (x.ndim - 1 - axis)
        b = g.node("Gather", [y, g.const(i1, np.int64)], axis=axis)
        y = g.node("Add", [g.node("Mul", [a, g.const(np.asarray(l0, dt).reshape(along))]),
                           g.node("Mul", [b, g.const(np.asarray(l1, dt).reshape(along))])])
    return y if y != xn else g.node("Identity", [y])


# ---------------------------------------------------------------------- pointwise activations
# (nn.ReLU6/Hardtanh ... Threshold: tinytensor/_functions/activation.py's _PointwiseFunction
# subclasses and PReLU.) Where ONNX's own op would overflow or needs a newer opset than the
# default 17 (Gelu 20, Mish 18), the activation is written with elementary ops, in the same
# overflow-free form tinytensor computes it.

def _scalar(g, r, v):
    return g.const(np.array(v, g.np_dtype(r.outs[0].dtype)))


def _softplus_stable(g, r, z):
    """log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)): no overflow for any z."""
    e = g.node("Exp", [g.node("Neg", [g.node("Abs", [z])])])
    return g.node("Add", [g.node("Relu", [z]),
                          g.node("Log", [g.node("Add", [e, _scalar(g, r, 1.0)])])])


@converts(activation.HardtanhFunction)
def _hardtanh(g, r):
    _, lo, hi = r.args
    return g.node("Clip", [g.arg(r, 0), _scalar(g, r, lo), _scalar(g, r, hi)])


@converts(activation.ThresholdFunction)
def _threshold(g, r):
    _, threshold, value = r.args
    x = g.arg(r, 0)
    return g.node("Where", [g.node("Greater", [x, _scalar(g, r, threshold)]), x,
                            _scalar(g, r, value)])


@converts(activation.EluFunction)
def _elu(g, r):
    # ELU (alpha, 1, 1) -> Elu; SELU (alpha, scale, 1) -> Selu (its alpha times gamma is ours);
    # CELU (alpha, 1, 1 / alpha) -> Celu
    _, alpha, scale, input_scale = (float(a) if i else a for i, a in enumerate(r.args))
    x = g.arg(r, 0)
    if scale == 1 and input_scale == 1:
        return g.node("Elu", [x], alpha=alpha)
    if input_scale == 1:
        return g.node("Selu", [x], alpha=alpha / scale, gamma=scale)
    if scale == 1 and alpha != 0 and np.float32(input_scale) == np.float32(1 / alpha):
        return g.node("Celu", [x], alpha=alpha)
    neg = g.node("Mul", [_scalar(g, r, alpha), g.node("Sub", [
        g.node("Exp", [g.node("Mul", [x, _scalar(g, r, input_scale)])]), _scalar(g, r, 1.0)])])
    return g.node("Where", [g.node("Greater", [x, _scalar(g, r, 0.0)]),
                            g.node("Mul", [x, _scalar(g, r, scale)]), neg])


@converts(activation.GeluFunction)
def _gelu(g, r):
    approximate = r.args[1]
    x = g.arg(r, 0)
    if g.opset >= 20:
        return g.node("Gelu", [x], approximate=str(approximate))
    if approximate == "tanh":
        # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        x3 = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [x3, _scalar(g, r, 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, _scalar(g, r, np.sqrt(2 / np.pi))])])
    else:
        # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.node("Erf", [g.node("Mul", [x, _scalar(g, r, 1 / np.sqrt(2))])])
    half_x = g.node("Mul", [x, _scalar(g, r, 0.5)])
    return g.node("Mul", [half_x, g.node("Add", [t, _scalar(g, r, 1.0)])])


@converts(activation.SiluFunction)
def _silu(g, r):
    x = g.arg(r, 0)
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


@converts(activation.MishFunction)
def _mish(g, r):
    x = g.arg(r, 0)
    return g.node("Mul", [x, g.node("Tanh", [_softplus_stable(g, r, x)])])


@converts(activation.HardswishFunction)
def _hardswish(g, r):
    x = g.arg(r, 0)
    if g.opset >= 14:
        return g.node("HardSwish", [x])
    return g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])


@converts(activation.HardsigmoidFunction)
def _hardsigmoid(g, r):
    return g.node("HardSigmoid", [g.arg(r, 0)], alpha=1 / 6, beta=0.5)


@converts(activation.SoftplusFunction)
def _softplus(g, r):
    # log1p(exp(beta x)) / beta, or x where beta x > threshold
    _, beta, threshold = r.args
    x = g.arg(r, 0)
    z = g.node("Mul", [x, _scalar(g, r, beta)])
    soft = g.node("Div", [_softplus_stable(g, r, z), _scalar(g, r, beta)])
    return g.node("Where", [g.node("Greater", [z, _scalar(g, r, threshold)]), x, soft])


@converts(activation.SoftsignFunction)
def _softsign(g, r):
    return g.node("Softsign", [g.arg(r, 0)])


@converts(activation.LogSigmoidFunction)
def _log_sigmoid(g, r):
    # -softplus(-x), overflow-free
    return g.node("Neg", [_softplus_stable(g, r, g.node("Neg", [g.arg(r, 0)]))])


@converts(activation.TanhshrinkFunction)
def _tanhshrink(g, r):
    x = g.arg(r, 0)
    return g.node("Sub", [x, g.node("Tanh", [x])])


@converts(activation.SoftshrinkFunction)
def _softshrink(g, r):
    return g.node("Shrink", [g.arg(r, 0)], lambd=float(r.args[1]), bias=float(r.args[1]))


@converts(activation.HardshrinkFunction)
def _hardshrink(g, r):
    return g.node("Shrink", [g.arg(r, 0)], lambd=float(r.args[1]), bias=0.0)


@converts(activation.PReLUFunction)
def _prelu(g, r):
    x, weight = r.args
    shape = [int(weight.numel())] + [1] * (x.ndim - 2) if weight.numel() > 1 else [1]
    slope = g.node("Reshape", [g.arg(r, 1), g.const(shape, np.int64)])
    return g.node("PRelu", [g.arg(r, 0), slope])
