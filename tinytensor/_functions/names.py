"""PyTorch's names for tinytensor's graph nodes: the one table.

`loss.grad_fn`, `repr(tensor)` and `grad_fn.next_functions` show PyTorch's graph: the official
tutorials walk it (`loss.grad_fn.next_functions[0][0]` is AddmmBackward0 for a linear layer).
Each built-in Function gets here

- its name: a string, or a function of the node (a pool's name has its dimension);
- its inputs as PyTorch lists them: by default PyTorch's graph lists only the first argument
  (the tensor; dims, flags and NumPy side arrays are no inputs), otherwise a function that
  picks them from the node's edges, adding `ShownNode`s where tinytensor fuses ops that PyTorch
  records as several nodes.

Where one Function serves several PyTorch ops of the same structure (permute / transpose / t,
sum / sum(dim)), the API layer names the node it made (`tinytensor.tensor._named`).

Not matched (tinytensor keeps its own name): cross_entropy with label smoothing or
probability targets and over 3-D / 5-D inputs, circular padding, slicing several dims at once
(one node where PyTorch records one per dim).
"""
import sys

from tinytensor._functions import shape
from tinytensor.autograd import function as _function
from tinytensor.autograd.function import ShownNode


def _first(ctx, edges):
    return edges[:1]


def _all(ctx, edges):
    return edges


def _take(n):
    return lambda ctx, edges: edges[:n]


def _shown(name, *inputs):
    """A (node, 0) pair for a PyTorch node that tinytensor does not record."""
    return (ShownNode(name, inputs), 0)


def _pool_1d_as_2d(name_2d):
    """PyTorch runs 1-D pools as 2-D ones on an unsqueezed input and squeezes the result:
    SqueezeBackward1 -> <name_2d> -> UnsqueezeBackward0 -> the input."""
    def pick(ctx, edges):
        if ctx.nsp != 1:
            return edges[:1]
        return (_shown(name_2d, _shown("UnsqueezeBackward0", edges[0])),)
    return pick


def _pool_name(fmt, name_1d="SqueezeBackward1"):
    return lambda ctx: name_1d if ctx.nsp == 1 else fmt.format(n=ctx.nsp)


def _adaptive_avg_name(ctx):
    if ctx.nsp == 1:
        return "SqueezeBackward1"
    if all(s == 1 for s in ctx.output_size[-2:]):
        return "MeanBackward1"            # PyTorch takes the mean for output size 1
    return "AdaptiveAvgPool2DBackward0"


def _map_pad_name(ctx):
    if ctx.mode == "reflect":
        return f"ReflectionPad{ctx.nsp}DBackward0"
    if ctx.mode == "replicate":
        return f"ReplicationPad{ctx.nsp}DBackward0"
    return "MapPadBackward0"              # circular: PyTorch records slices and copies


# ---- linear: PyTorch records t(weight) and addmm(bias, input, weight.t()) (mm without bias),
# between views of the input and the output when the input is not 2-D.

def _linear_name(ctx):
    if len(ctx.lead) != 1:
        return "ViewBackward0" if ctx.has_bias else "UnsafeViewBackward0"
    return "AddmmBackward0" if ctx.has_bias else "MmBackward0"


def _linear_next(ctx, edges):
    x, weight, bias = edges[0], edges[1], edges[2]
    wt = _shown("TBackward0", weight) if weight[0] is not None else weight
    if len(ctx.lead) != 1:
        x = _shown("ViewBackward0", x) if x[0] is not None else x
    mm = (bias, x, wt) if ctx.has_bias else (x, wt)
    if len(ctx.lead) == 1:
        return mm
    return (_shown("AddmmBackward0" if ctx.has_bias else "MmBackward0", *mm),)


# ---- cross_entropy: PyTorch records log_softmax then nll_loss.

def _plain_ce(ctx):
    return ctx.eps == 0 and len(ctx.shape) in (1, 2, 4)


def _nll_name(ctx):
    return "NllLoss2DBackward0" if len(ctx.shape) == 4 else "NllLossBackward0"


def _ce_name(ctx):
    return _nll_name(ctx) if _plain_ce(ctx) else "CrossEntropyBackward0"


def _ce_next(ctx, edges):
    if not _plain_ce(ctx):
        return edges[:1]
    return (_shown("LogSoftmaxBackward0", edges[0]),)


def _cat_next(ctx, edges):
    """Cat(dim, *tensors); stack is cat of unsqueezed tensors, which PyTorch does not record."""
    if ctx.name() != "StackBackward0":
        return edges[1:]
    return tuple(e[0].next_functions[0] if e[0] is not None else e for e in edges[1:])


# ---- matmul: PyTorch's path per operand ranks (dot, mv, mm, folded mm, bmm).

def _matmul_name(ctx):
    da, db = ctx.ndims
    simple = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0",
              (1, 2): "SqueezeBackward4"}.get((da, db))
    if simple is not None:
        return simple
    return "UnsafeViewBackward0" if db >= 2 else "MatMulBackward0"


def _matmul_next(ctx, edges):
    a, b = edges[0], edges[1]
    da, db = ctx.ndims
    if (da, db) in ((1, 1), (2, 1), (2, 2)) or db < 2:
        return edges[:2]

    def via(name, e):
        return _shown(name, e) if e[0] is not None else e
    if (da, db) == (1, 2):
        return (_shown("MmBackward0", via("UnsqueezeBackward0", a), b),)
    if db == 2:                           # (*, n, k) @ (k, m): one mm on the folded rows
        return (_shown("MmBackward0", via("ViewBackward0", a), b),)
    return (_shown("BmmBackward0", via("ViewBackward0", via("ExpandBackward0", a)),
                   via("ViewBackward0", via("ExpandBackward0", b))),)


def _unary_name(ctx):
    return ctx.op.capitalize() + "Backward0"


def _pow_next(ctx, edges):
    name = ctx.name()
    return edges[:1] if name == "PowBackward0" else edges[1:2] if name == "PowBackward2" else edges


def _clamp_next(ctx, edges):
    return edges if ctx.name() == "ClampBackward0" else edges[:1]


# Function, as its module's path under tinytensor and its class name -> (PyTorch's name or None
# to keep the class-derived one, its inputs). By name, not by class: `import tinytensor` need
# not load the layers' Functions (convolutions, pools, losses) to name them; each class gets its
# entry when it is defined (Function.__init_subclass__) or, if it already was, by install().
TABLE = {
    # elementwise
    "_functions.elementwise.Unary": (_unary_name, _first),
    "_functions.elementwise.Pow": (None, _pow_next),
    "_functions.elementwise.Clamp": (None, _clamp_next),
    "_functions.elementwise.Where": (None, lambda ctx, edges: edges[1:3]),
    # reductions, sorting
    "_functions.reduce.Sum": (None, _first),
    "_functions.reduce.Mean": (None, _first),
    "_functions.reduce.AMax": (None, _first),
    "_functions.reduce.MaxDim": (None, _first),
    "_functions.reduce.Var": (None, _first),
    "_functions.reduce.Std": (None, _first),
    "_functions.sort.TakeAlongDim": (None, _first),
    # shapes and indexing
    "_functions.shape.View": (None, _first),
    "_functions.shape.Permute": (None, _first),
    "_functions.shape.Expand": (None, _first),
    "_functions.shape.Clone": (None, _first),
    "_functions.shape.ToDtype": (None, _first),
    "autograd.function.AsStrided": (None, _first),
    "_functions.shape.BasicIndex": (None, _first),
    "_functions.shape.AdvancedIndex": (None, _first),
    "_functions.shape.ScatterView": ("CopySlices", _take(2)),
    "_functions.shape.IndexPut": (None, _take(2)),
    "_functions.shape.CopyInto": (None, _take(2)),
    "_functions.shape.Cat": (None, _cat_next),
    # layers
    "_functions.linear.LinearFunction": (_linear_name, _linear_next),
    "_functions.conv.ConvNdFunction": ("ConvolutionBackward0", _take(3)),
    "_functions.batchnorm.BatchNormFunction": ("NativeBatchNormBackward0", _take(3)),
    "_functions.activation.ReLUFunction": ("ReluBackward0", _first),
    "_functions.activation.LeakyReLUFunction": ("LeakyReluBackward0", _first),
    "_functions.activation.SoftmaxFunction": ("SoftmaxBackward0", _first),
    "_functions.activation.LogSoftmaxFunction": ("LogSoftmaxBackward0", _first),
    "_functions.activation.DropoutFunction": ("MulBackward0", _all),  # input * mask
    "_functions.pool.MaxPoolNdFunction": (_pool_name("MaxPool{n}DWithIndicesBackward0"),
                                          _pool_1d_as_2d("MaxPool2DWithIndicesBackward0")),
    "_functions.pool.AvgPoolNdFunction": (_pool_name("AvgPool{n}DBackward0"),
                                          _pool_1d_as_2d("AvgPool2DBackward0")),
    "_functions.pool.AdaptiveAvgPoolFunction": (_adaptive_avg_name,
                                                _pool_1d_as_2d("AdaptiveAvgPool2DBackward0")),
    "_functions.pool.AdaptiveMaxPoolFunction": (_pool_name("AdaptiveMaxPool{n}DBackward0"),
                                                _pool_1d_as_2d("AdaptiveMaxPool2DBackward0")),
    "_functions.pool.MaxUnpoolFunction": (_pool_name("MaxUnpool{n}DBackward0"), _first),
    "_functions.fractional_pool.FractionalMaxPoolFunction": (
        _pool_name("FractionalMaxPool{n}DBackward0"), _first),
    "_functions.pad.ConstantPadFunction": ("ConstantPadNdBackward0", _first),
    "_functions.pad.MapPadFunction": (_map_pad_name, _first),
    "_functions.fold.UnfoldFunction": ("Im2ColBackward0", _first),
    "_functions.fold.FoldFunction": ("Col2ImBackward0", _first),
    # losses
    "_functions.loss.MseLossFunction": ("MseLossBackward0", _take(2)),
    "_functions.loss.NLLLossFunction": (_nll_name, _first),
    "_functions.loss.CrossEntropyFunction": (_ce_name, _ce_next),
    "_functions.loss.CrossEntropyProbFunction": ("CrossEntropyBackward0", _first),
    "_functions.matmul.MatMul": (_matmul_name, _matmul_next),
}


def show_as_inplace(result, op_out, name):
    """`F.relu(x, inplace=True)` runs relu, then x.copy_(its result): show the recorded copy as
    PyTorch's one in-place node `name`, whose inputs are the op's (x's history before)."""
    node = result.grad_fn
    if node is not None and op_out.grad_fn is not None and type(node) is shape.CopyInto:
        node._name = name
        node.__dict__["_shown_next"] = op_out.grad_fn.next_functions
    return result


def install():
    """Give every Function in TABLE its PyTorch name and inputs: the classes defined so far
    now, the others when their module is first imported (called once at import)."""
    for path, entry in TABLE.items():
        _function.BUILTIN_NAMES["tinytensor." + path] = entry
        module, _, name = ("tinytensor." + path).rpartition(".")
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None:
            _function.take_builtin_name(cls)


install()
