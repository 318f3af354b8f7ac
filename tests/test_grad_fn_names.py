"""grad_fn names without torch: each program of tests/graph_cases.py against the graph PyTorch
2.13 records for it (node names two levels deep, recorded once from torch and fixed here), and
the walks of the official tutorials."""
import pytest

import tinytensor as tt
from graph_cases import graph_cases, walk

# PyTorch 2.13's graphs: (name, [next nodes]) to depth 2; None where no gradient flows.
EXPECTED = {
    'conv': ('ConvolutionBackward0', [('AccumulateGrad', []), ('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'conv_nb': ('ConvolutionBackward0', [('AccumulateGrad', []), ('AccumulateGrad', []), None]),
    'conv1d': ('ConvolutionBackward0', [None, ('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'conv3d': ('ConvolutionBackward0', [None, ('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'mp1': ('SqueezeBackward1', [('MaxPool2DWithIndicesBackward0', ['UnsqueezeBackward0'])]),
    'mp2': ('MaxPool2DWithIndicesBackward0', [('AccumulateGrad', [])]),
    'mp3': ('MaxPool3DWithIndicesBackward0', [('AccumulateGrad', [])]),
    'ap1': ('SqueezeBackward1', [('AvgPool2DBackward0', ['UnsqueezeBackward0'])]),
    'ap2': ('AvgPool2DBackward0', [('AccumulateGrad', [])]),
    'aap2': ('AdaptiveAvgPool2DBackward0', [('AccumulateGrad', [])]),
    'aap1x1': ('MeanBackward1', [('AccumulateGrad', [])]),
    'amp2': ('AdaptiveMaxPool2DBackward0', [('AccumulateGrad', [])]),
    'unpool': ('MaxUnpool2DBackward0', [('MaxPool2DWithIndicesBackward0', ['AccumulateGrad'])]),
    'bn': ('NativeBatchNormBackward0', [('AccumulateGrad', []), ('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'relu': ('ReluBackward0', [('AccumulateGrad', [])]),
    'relu_mod': ('ReluBackward0', [('AccumulateGrad', [])]),
    'relu_inplace': ('ReluBackward0', [('MulBackward0', ['AccumulateGrad', None])]),
    'relu_module_inplace': ('ReluBackward0', [('MulBackward0', ['AccumulateGrad', None])]),
    'relu_method': ('ReluBackward0', [('MulBackward0', ['AccumulateGrad', None])]),
    'leaky_inplace': ('LeakyReluBackward1', [('MulBackward0', ['AccumulateGrad', None])]),
    'leaky': ('LeakyReluBackward0', [('AccumulateGrad', [])]),
    'sigmoid': ('SigmoidBackward0', [('AccumulateGrad', [])]),
    'softmax': ('SoftmaxBackward0', [('AccumulateGrad', [])]),
    'log_softmax': ('LogSoftmaxBackward0', [('AccumulateGrad', [])]),
    'dropout': ('MulBackward0', [('AccumulateGrad', []), None]),
    'linear': ('AddmmBackward0', [('AccumulateGrad', []), ('AccumulateGrad', []), ('TBackward0', ['AccumulateGrad'])]),
    'linear_nb': ('MmBackward0', [('AccumulateGrad', []), ('TBackward0', ['AccumulateGrad'])]),
    'linear3d': ('ViewBackward0', [('AddmmBackward0', ['AccumulateGrad', None, 'TBackward0'])]),
    'linear1d': ('ViewBackward0', [('AddmmBackward0', ['AccumulateGrad', None, 'TBackward0'])]),
    'ce': ('NllLossBackward0', [('LogSoftmaxBackward0', ['AccumulateGrad'])]),
    'ce_w': ('NllLossBackward0', [('LogSoftmaxBackward0', ['AccumulateGrad'])]),
    'ce_mod': ('NllLossBackward0', [('LogSoftmaxBackward0', ['AccumulateGrad'])]),
    'ce4d': ('NllLoss2DBackward0', [('LogSoftmaxBackward0', ['AccumulateGrad'])]),
    'nll': ('NllLossBackward0', [('AccumulateGrad', [])]),
    'mse': ('MseLossBackward0', [('AccumulateGrad', []), None]),
    'mse_mod': ('MseLossBackward0', [('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'mse_none': ('MseLossBackward0', [('AccumulateGrad', []), None]),
    'pad': ('ConstantPadNdBackward0', [('AccumulateGrad', [])]),
    'reflect': ('ReflectionPad2DBackward0', [('AccumulateGrad', [])]),
    'replicate': ('ReplicationPad2DBackward0', [('AccumulateGrad', [])]),
    'unfold': ('Im2ColBackward0', [('AccumulateGrad', [])]),
    'fold': ('Col2ImBackward0', [('AccumulateGrad', [])]),
    'flatten': ('ViewBackward0', [('AccumulateGrad', [])]),
    'view': ('ViewBackward0', [('AccumulateGrad', [])]),
    'sum': ('SumBackward0', [('AccumulateGrad', [])]),
    'mean': ('MeanBackward0', [('AccumulateGrad', [])]),
    'add': ('AddBackward0', [('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'mul': ('MulBackward0', [('AccumulateGrad', []), None]),
    'add_scalar': ('AddBackward0', [('AccumulateGrad', []), None]),
    'where': ('WhereBackward0', [('AccumulateGrad', []), None]),
    'matmul': ('MmBackward0', [('AccumulateGrad', []), ('TBackward0', ['AccumulateGrad'])]),
    'vecmat': ('SqueezeBackward4', [('MmBackward0', ['UnsqueezeBackward0', 'AccumulateGrad'])]),
    'matvec': ('MvBackward0', [('AccumulateGrad', []), ('SelectBackward0', ['AccumulateGrad'])]),
    'dot': ('DotBackward0', [('SelectBackward0', ['AccumulateGrad']), ('SelectBackward0', ['AccumulateGrad'])]),
    'matmul3d': ('UnsafeViewBackward0', [('MmBackward0', ['ViewBackward0', 'TBackward0'])]),
    'bmm': ('UnsafeViewBackward0', [('BmmBackward0', ['ViewBackward0', 'ViewBackward0'])]),
    'cat': ('CatBackward0', [('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'stack': ('StackBackward0', [('AccumulateGrad', []), ('AccumulateGrad', [])]),
    'sort': ('SortBackward0', [('AccumulateGrad', [])]),
    'topk': ('TopkBackward0', [('AccumulateGrad', [])]),
    'max_dim': ('MaxBackward0', [('AccumulateGrad', [])]),
    'pow': ('PowBackward0', [('AccumulateGrad', [])]),
    'clamp': ('ClampBackward1', [('AccumulateGrad', [])]),
    'tanh': ('TanhBackward0', [('AccumulateGrad', [])]),
    'var': ('VarBackward0', [('AccumulateGrad', [])]),
}


@pytest.fixture(scope="module")
def cases():
    return graph_cases(tt)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_graph_matches_pytorch_table(cases, key):
    assert walk(cases[key].grad_fn, 2, False) == EXPECTED[key]


def test_repr_and_accumulate_grad():
    lin = tt.nn.Linear(3, 2)
    out = lin(tt.randn(4, 3))
    assert repr(out.grad_fn).startswith("<AddmmBackward0 object at 0x")
    bias, x, weight_t = (f for f, _ in out.grad_fn.next_functions)
    assert repr(bias).startswith("<AccumulateGrad object at 0x") and bias.variable is lin.bias
    assert x is None and weight_t.name() == "TBackward0"
    assert weight_t.next_functions[0][0].variable is lin.weight
    assert out.grad_fn.next_functions is out.grad_fn.next_functions      # computed once
    assert "grad_fn=<AddmmBackward0>" in repr(out)


def test_autograd_tutorial_names():
    """The names "Automatic Differentiation with torch.autograd" prints for z and loss
    (binary_cross_entropy_with_logits is not in tinytensor yet: mse stands in for it)."""
    x = tt.ones(5)
    y = tt.zeros(3)
    w = tt.randn(5, 3, requires_grad=True)
    b = tt.randn(3, requires_grad=True)
    z = tt.matmul(x, w) + b
    loss = tt.nn.functional.mse_loss(z, y)
    assert z.grad_fn.name() == "AddBackward0"
    assert loss.grad_fn.name() == "MseLossBackward0"
    squeeze, acc = (f for f, _ in z.grad_fn.next_functions)
    assert (squeeze.name(), acc.name()) == ("SqueezeBackward4", "AccumulateGrad")
    assert squeeze.next_functions[0][0].name() == "MmBackward0"


def test_cross_entropy_walk():
    logits = tt.randn(4, 3, requires_grad=True)
    loss = tt.nn.functional.cross_entropy(logits, tt.tensor([0, 1, 2, 0]))
    nll = loss.grad_fn
    log_softmax = nll.next_functions[0][0]
    assert (nll.name(), log_softmax.name()) == ("NllLossBackward0", "LogSoftmaxBackward0")
    assert log_softmax.next_functions[0][0].variable is logits
    loss.backward()                        # the shown nodes are not part of backward
    assert logits.grad.shape == (4, 3)


def test_inspected_graph_still_freed_by_refcounting():
    """next_functions caches ShownNodes on the node; they point down the graph only, so a graph
    that was walked dies with its output, without the cyclic GC."""
    import gc
    import weakref
    lin = tt.nn.Linear(3, 2)
    gc.disable()
    try:
        loss = tt.nn.functional.cross_entropy(lin(tt.randn(4, 3)), tt.tensor([0, 1, 0, 1]))
        nodes = [loss.grad_fn, loss.grad_fn.next_functions[0][0],
                 loss.grad_fn.next_functions[0][0].next_functions[0][0]]
        refs = [weakref.ref(n) for n in nodes]
        del nodes, loss
        assert [r for r in refs if r() is not None] == []
    finally:
        gc.enable()
