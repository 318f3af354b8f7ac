"""PyTorch 2.13 as the oracle for the porting surface: sort / argsort / topk, NumPy keyword
aliases, nn.utils (clip_grad_norm_, clip_grad_value_, parameters <-> vector, pad_sequence),
inference_mode, DataParallel, and the autograd graph's node names and next_functions."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

torch = pytest.importorskip("torch")

import tinytensor as tt  # noqa: E402
import strategies as S  # noqa: E402
from graph_cases import graph_cases, walk  # noqa: E402


def both(fn):
    """fn(L) for L = torch and tinytensor."""
    return fn(torch), fn(tt)


def np_of(x):
    return x.detach().numpy()


# ------------------------------------------------------------------------------ sorting

@st.composite
def _sortable(draw):
    shape = draw(S.shapes(0, 3, 1, 6))
    dtype = draw(st.sampled_from([tt.float32, tt.float64, tt.int64]))
    a = draw(S.arrays(shape, dtype, -3, 3, repeat=False))          # many ties
    if dtype is not tt.int64 and a.size and draw(st.booleans()):
        a.reshape(-1)[draw(st.integers(0, a.size - 1))] = np.nan
    dim = draw(st.integers(-max(a.ndim, 1), max(a.ndim, 1) - 1))
    return a, dim


@given(_sortable(), st.booleans(), st.booleans())
def test_sort_matches_torch_including_tie_order(case, descending, stable):
    a, dim = case
    mine = tt.sort(tt.tensor(a), dim=dim, descending=descending, stable=stable)
    ref = torch.sort(torch.tensor(a), dim=dim, descending=descending, stable=stable)
    np.testing.assert_array_equal(mine.values.numpy(), ref.values.numpy())
    if stable:      # stable=True documents the tie order; stable=False leaves it unspecified
        np.testing.assert_array_equal(mine.indices.numpy(), ref.indices.numpy())
        kw = dict(dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(tt.argsort(tt.tensor(a), **kw).numpy(),
                                      torch.argsort(torch.tensor(a), **kw).numpy())


@given(_sortable(), st.integers(0, 6), st.booleans())
def test_topk_values_match_torch(case, k, largest):
    a, dim = case
    n = a.shape[dim] if a.ndim else 1
    k = min(k, n)
    mine = tt.topk(tt.tensor(a), k, dim, largest)
    ref = torch.topk(torch.tensor(a), k, dim, largest)
    np.testing.assert_array_equal(mine.values.numpy(), ref.values.numpy())
    # indices: where the chosen values are distinct PyTorch's are determined too
    if a.ndim and a.dtype != np.int64 and len(set(a.reshape(-1).tolist())) == a.size:
        np.testing.assert_array_equal(mine.indices.numpy(), ref.indices.numpy())


@given(st.integers(1, 5), st.integers(1, 5), st.booleans(), st.sampled_from(["sort", "topk"]))
def test_sort_topk_gradients_match_torch(n, m, flag, op):
    a = np.random.default_rng(n * 10 + m).permutation(n * m).reshape(n, m).astype(np.float64)
    g = np.random.default_rng(m).standard_normal((n, m))

    def run(L):
        x = L.tensor(a, requires_grad=True)
        v = x.sort(1, descending=flag).values if op == "sort" else x.topk(min(2, m), 1, flag).values
        v.backward(L.tensor(g[:, :v.shape[1]]))
        return x.grad.numpy(), type(v.grad_fn).__name__ if L is torch else v.grad_fn.name()
    (gt, nt), (gm, nm) = both(run)
    np.testing.assert_allclose(gm, gt, rtol=1e-12)
    assert nm == nt


def test_msort_and_zero_dim_match_torch():
    a = np.array([[2.0, 0.0], [1.0, 3.0]])
    np.testing.assert_array_equal(tt.msort(tt.tensor(a)).numpy(), torch.msort(torch.tensor(a)))
    for fn in (lambda L: L.tensor(3.0).topk(0), lambda L: L.tensor(3.0).sort(descending=True)):
        r, m = both(fn)
        assert m.values.item() == r.values.item() and m.indices.shape == tuple(r.indices.shape)


@pytest.mark.parametrize("call", [
    lambda L: L.topk(L.ones(3), 4), lambda L: L.topk(L.ones(3), -1),
    lambda L: L.topk(L.tensor(1.0), 2), lambda L: L.sort(L.ones(2, 3), 2),
    lambda L: L.argsort(L.ones(2), -2), lambda L: L.ones(3).sum(dim=0, axis=0),
    lambda L: L.topk(L.ones(3), 1.5),
])
def test_same_bad_calls_fail_like_torch(call):
    errors = []
    for L in (torch, tt):
        with pytest.raises(Exception) as info:
            call(L)
        errors.append((type(info.value), str(info.value).split("\n")[0]))
    assert errors[1][0] is errors[0][0]
    assert errors[1][1].replace("tinytensor", "torch") == errors[0][1]


# ------------------------------------------------------------------------------ aliases

ALIAS_CALLS = [
    lambda L, t: t.argmax(axis=1), lambda L, t: t.argmin(axis=0, keepdims=True),
    lambda L, t: t.sum(axis=0, keepdims=True), lambda L, t: L.sum(t, axis=1),
    lambda L, t: L.sum(x=t), lambda L, t: t.mean(axis=1), lambda L, t: t.max(axis=1).values,
    lambda L, t: t.min(axis=0, keepdims=True).indices, lambda L, t: t.amax(axis=0),
    lambda L, t: t.amin(axis=1, keepdims=True), lambda L, t: t.std(axis=1),
    lambda L, t: t.var(axis=0, keepdims=True), lambda L, t: t.all(axis=1), lambda L, t: t.any(axis=0),
    lambda L, t: t.unsqueeze(axis=0), lambda L, t: t.unsqueeze(0).squeeze(axis=0),
    lambda L, t: L.cat([t, t], axis=1), lambda L, t: L.stack([t, t], axis=1),
    lambda L, t: t.sort(axis=0).values, lambda L, t: L.topk(t, 1, axis=0).values,
    lambda L, t: t.softmax(axis=1), lambda L, t: L.softmax(t, axis=0),
    lambda L, t: L.log_softmax(t, dim=1), lambda L, t: t.argsort(axis=1),
]


@pytest.mark.parametrize("i", range(len(ALIAS_CALLS)))
def test_numpy_aliases_match_torch(i):
    a = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 0.0]], np.float32)
    r, m = (ALIAS_CALLS[i](L, L.tensor(a)) for L in (torch, tt))
    np.testing.assert_allclose(m.numpy(), r.numpy(), rtol=1e-6)
    assert tuple(m.shape) == tuple(r.shape)


# ------------------------------------------------------------------------------ nn.utils

@given(st.lists(S.shapes(0, 3, 1, 4), min_size=1, max_size=4),
       st.sampled_from([2.0, 1.0, 0.5, 3.0, math.inf, -math.inf, 0.0, "inf"]),
       st.sampled_from([0.1, 1.0, 100.0]), st.sampled_from([tt.float32, tt.float64]),
       st.integers(0, 2 ** 16))
def test_clip_grad_norm_matches_torch(shapes, norm_type, max_norm, dtype, seed):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s).astype(dtype.np_dtype) * 3 for s in shapes]

    def run(L):
        ps = [L.nn.Parameter(L.zeros(s, dtype=getattr(L, dtype.name))) for s in shapes]
        for p, g in zip(ps, grads):
            p.grad = L.tensor(g)
        total = L.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
        return total, [p.grad.numpy() for p in ps]
    (tr, gr), (tm, gm) = both(run)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype is tt.float32 else dict(rtol=1e-12, atol=1e-12)
    assert tm.dtype.name == str(tr.dtype).replace("torch.", "") and tm.shape == ()
    np.testing.assert_allclose(tm.item(), tr.item(), **tol)
    for a, b in zip(gm, gr):
        np.testing.assert_allclose(a, b, **tol)


def test_clip_grad_nonfinite_and_value_match_torch():
    def run(L):
        p = L.nn.Parameter(L.zeros(2))
        p.grad = L.tensor([3.0, float("inf")])
        total = L.nn.utils.clip_grad_norm_(p, 1.0)
        out = [total.item(), p.grad.tolist()]
        p.grad = L.tensor([3.0, float("nan")])
        with pytest.raises(RuntimeError) as info:
            L.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
        out.append(str(info.value))
        p = L.nn.Parameter(L.zeros(3))
        p.grad = L.tensor([3.0, -4.0, 0.5])
        out.append(L.nn.utils.clip_grad_value_(p, 1.0))
        out.append(p.grad.tolist())
        out.append(L.nn.utils.clip_grad_norm_([L.nn.Parameter(L.ones(1))], 1.0).item())
        return out
    r, m = both(run)
    assert str(m) == str(r)


def test_parameters_vector_roundtrip_matches_torch():
    def run(L):
        L.manual_seed(0)
        net = L.nn.Sequential(L.nn.Linear(3, 2), L.nn.ReLU(), L.nn.Linear(2, 1))
        vec = L.nn.utils.parameters_to_vector(net.parameters())
        L.nn.utils.vector_to_parameters(L.arange(float(vec.numel())), net.parameters())
        return (vec.shape, type(vec.grad_fn).__name__ if L is torch else vec.grad_fn.name(),
                [p.detach().numpy().tolist() for p in net.parameters()])
    r, m = both(run)
    assert tuple(m[0]) == tuple(r[0]) and m[1] == r[1] and m[2] == r[2]
    for call in (lambda L: L.nn.utils.vector_to_parameters([1.0], L.nn.Linear(2, 3).parameters()),
                 lambda L: L.nn.utils.vector_to_parameters(L.zeros(3), L.nn.Linear(2, 3).parameters())):
        errs = []
        for L in (torch, tt):
            with pytest.raises(Exception) as info:
                call(L)
            errs.append((type(info.value), str(info.value)))
        assert errs[0] == errs[1]


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.booleans(),
       st.sampled_from(["left", "right"]), st.sampled_from([0.0, -1.0]), st.integers(0, 2))
def test_pad_sequence_matches_torch(lengths, batch_first, side, value, extra_dims):
    rng = np.random.default_rng(sum(lengths))
    seqs = [rng.standard_normal((n,) + (2,) * extra_dims) for n in lengths]

    def run(L):
        xs = [L.tensor(s, requires_grad=True) for s in seqs]
        out = L.nn.utils.rnn.pad_sequence(xs, batch_first=batch_first, padding_value=value,
                                          padding_side=side)
        (out * L.arange(float(out.numel())).view(out.shape)).sum().backward()
        return out.detach().numpy(), [x.grad.numpy() for x in xs]
    (r, rg), (m, mg) = both(run)
    np.testing.assert_array_equal(m, r)
    for a, b in zip(mg, rg):
        np.testing.assert_array_equal(a, b)


def test_pad_sequence_errors_match_torch():
    for call in (lambda L: L.nn.utils.rnn.pad_sequence([]),
                 lambda L: L.nn.utils.rnn.pad_sequence([L.ones(2)], padding_side="middle")):
        errs = []
        for L in (torch, tt):
            with pytest.raises(Exception) as info:
                call(L)
            errs.append((type(info.value), str(info.value)))
        assert errs[0] == errs[1]


# ------------------------------------------------------------------------------ modes, wrappers

def test_inference_mode_flags_match_torch():
    def run(L):
        x = L.ones(2, requires_grad=True)
        out = [L.is_inference_mode_enabled()]
        with L.inference_mode():
            out += [L.is_inference_mode_enabled(), L.is_grad_enabled(), (x * 2).requires_grad]
            with L.inference_mode(False):
                out += [L.is_inference_mode_enabled(), L.is_grad_enabled()]
        with L.inference_mode(mode=False):
            out += [L.is_inference_mode_enabled(), (x * 2).requires_grad]
        return out
    r, m = both(run)
    assert m == r


def test_data_parallel_on_cpu_matches_torch():
    def run(L):
        L.manual_seed(0)
        dp = L.nn.DataParallel(L.nn.Linear(2, 3), device_ids=[0])
        return (list(dp.state_dict()), dp.device_ids, repr(dp), isinstance(dp, L.nn.Module),
                type(dp(L.ones(4, 2)).grad_fn).__name__ if L is torch
                else dp(L.ones(4, 2)).grad_fn.name())
    r, m = both(run)
    assert m == r
    with pytest.raises(ValueError) as a:
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError) as b:
        tt.nn.parallel.DistributedDataParallel(tt.nn.Linear(2, 2))
    assert str(a.value) == str(b.value)
    assert tt.distributed.is_initialized() is torch.distributed.is_initialized() is False


# ------------------------------------------------------------------------------ grad_fn graph

def test_graph_names_and_next_functions_match_torch():
    ref, mine = graph_cases(torch), graph_cases(tt)
    for key in ref:
        assert walk(mine[key].grad_fn, 3, False) == walk(ref[key].grad_fn, 3, True), key


def test_accumulate_grad_nodes_hold_their_leaf():
    for L in (torch, tt):
        lin = L.nn.Linear(3, 2)
        out = lin(L.randn(4, 3))
        bias_node = out.grad_fn.next_functions[0][0]
        weight_node = out.grad_fn.next_functions[2][0].next_functions[0][0]
        assert bias_node.variable is lin.bias and weight_node.variable is lin.weight
        assert bias_node.next_functions == ()
        assert repr(bias_node).startswith("<AccumulateGrad object at 0x")


def test_neural_networks_tutorial_walk_matches_torch():
    """The walk the official "Neural Networks" tutorial prints, on its LeNet-style Net."""
    def run(L):
        nn, F = L.nn, L.nn.functional

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 6, 5)
                self.conv2 = nn.Conv2d(6, 16, 5)
                self.fc1 = nn.Linear(16 * 5 * 5, 120)
                self.fc2 = nn.Linear(120, 84)
                self.fc3 = nn.Linear(84, 10)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                x = L.flatten(x, 1)
                x = F.relu(self.fc1(x))
                x = F.relu(self.fc2(x))
                return self.fc3(x)

        L.manual_seed(0)
        loss = nn.MSELoss()(Net()(L.randn(1, 1, 32, 32)), L.randn(10).view(1, -1))
        nodes = [loss.grad_fn, loss.grad_fn.next_functions[0][0],
                 loss.grad_fn.next_functions[0][0].next_functions[0][0]]
        return [repr(n).split(" object")[0] for n in nodes] + [walk(loss.grad_fn, 12, L is torch)]
    r, m = both(run)
    assert r[:3] == ["<MseLossBackward0", "<AddmmBackward0", "<AccumulateGrad"]
    assert m == r
