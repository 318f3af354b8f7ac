"""nn.utils (clip_grad_norm_, clip_grad_value_, parameters_to_vector / vector_to_parameters,
rnn.pad_sequence) against the naive references in tests/reference_api.py; the imports CPU
scripts make (nn.parallel, multiprocessing, distributed)."""
import math
import multiprocessing as std_mp

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import strategies as S
from reference_api import clip_grad_norm_ref, pad_sequence_ref, vector_norm_ref
from tinytensor.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                                 vector_to_parameters)
from tinytensor.nn.utils.rnn import pad_sequence

TOL = {tt.float32: dict(rtol=1e-5, atol=1e-6), tt.float64: dict(rtol=1e-12, atol=1e-12)}


@st.composite
def grad_lists(draw):
    dtype = draw(st.sampled_from([tt.float32, tt.float64]))
    shapes = draw(st.lists(S.shapes(0, 3, 1, 4), min_size=1, max_size=4))
    grads = [draw(S.arrays(s, dtype)) for s in shapes]
    return dtype, grads


@given(grad_lists(), st.sampled_from([2, 1, 0.5, 3, math.inf, -math.inf, 0]),
       st.sampled_from([0.01, 1.0, 1e3]), st.booleans())
def test_clip_grad_norm_matches_reference(case, norm_type, max_norm, with_none):
    dtype, grads = case
    params = [nn.Parameter(tt.zeros(g.shape, dtype=dtype)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = tt.tensor(g)
    if with_none:
        params.append(nn.Parameter(tt.ones(2, dtype=dtype)))          # .grad None: skipped
    total = clip_grad_norm_(iter(params), max_norm, norm_type=norm_type)
    ref_total, ref_grads = clip_grad_norm_ref(grads, max_norm, float(norm_type))
    assert total.shape == () and total.dtype is dtype and not total.requires_grad
    np.testing.assert_allclose(total.item(), ref_total, **TOL[dtype])
    for p, rg in zip(params, ref_grads):
        np.testing.assert_allclose(p.grad.numpy(), rg, **TOL[dtype])
        assert p.grad.dtype is dtype


def test_clip_grad_norm_cases():
    p = nn.Parameter(tt.zeros(2))
    p.grad = tt.tensor([3.0, 4.0])
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)     # a single tensor
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-6)
    p.grad = tt.tensor([3.0, 4.0])
    assert clip_grad_norm_([p], 10.0, norm_type="inf").item() == 4.0
    assert p.grad.tolist() == [3.0, 4.0]                             # under max_norm: unchanged
    assert clip_grad_norm_([], 1.0).item() == 0.0
    p.grad = tt.tensor([3.0, math.inf])
    assert math.isinf(clip_grad_norm_(p, 1.0).item())
    assert p.grad[0].item() == 0.0 and math.isnan(p.grad[1].item())  # scaled by the inf norm
    p.grad = tt.tensor([1.0, math.nan])
    with pytest.raises(RuntimeError, match=r"The total norm of order 2.0 for gradients from "
                                           r"`parameters` is non-finite, so it cannot be clipped"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    p.grad = tt.tensor([3.0, 4.0])
    assert clip_grad_norm_(p, 1.0, foreach=True).item() == pytest.approx(5.0)
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm(p, 1.0)


@given(grad_lists(), st.floats(0.0, 5.0))
def test_clip_grad_value_matches_reference(case, clip):
    dtype, grads = case
    params = [nn.Parameter(tt.zeros(g.shape, dtype=dtype)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = tt.tensor(g)
    assert clip_grad_value_(params, clip) is None
    for p, g in zip(params, grads):
        expected = [min(max(float(v), -clip), clip) for v in g.reshape(-1)]
        np.testing.assert_allclose(p.grad.numpy().reshape(-1), np.array(expected, g.dtype))


def test_clip_grad_value_bad_input():
    p = nn.Parameter(tt.zeros(2))
    p.grad = tt.ones(2)
    with pytest.raises(TypeError, match="float\\(\\) argument must be a string or a real number, "
                                        "not 'NoneType'"):
        clip_grad_value_(p, None)


def test_vector_norm_reference_sanity():
    assert vector_norm_ref([3, -4], 2) == 5 and vector_norm_ref([3, -4], math.inf) == 4
    assert vector_norm_ref([0, 2, 0], 0) == 1


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
def test_parameters_to_vector_and_back(dtype):
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)).to(dtype)
    params = list(net.parameters())
    vec = parameters_to_vector(net.parameters())
    expected = np.concatenate([p.detach().numpy().reshape(-1) for p in params])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    assert vec.grad_fn.name() == "CatBackward0"
    (vec * tt.arange(float(vec.numel()), dtype=dtype)).sum().backward()
    grads = np.concatenate([p.grad.numpy().reshape(-1) for p in params])
    np.testing.assert_array_equal(grads, np.arange(vec.numel()))
    new = tt.arange(float(vec.numel()), dtype=dtype) * 2
    vector_to_parameters(new, net.parameters())
    got = np.concatenate([p.detach().numpy().reshape(-1) for p in net.parameters()])
    np.testing.assert_array_equal(got, new.numpy())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())


def test_vector_to_parameters_bad_input():
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        vector_to_parameters([1.0, 2.0], nn.Linear(2, 3).parameters())
    with pytest.raises(RuntimeError, match=r"shape '\[3, 2\]' is invalid for input of size 3"):
        vector_to_parameters(tt.zeros(3), nn.Linear(2, 3).parameters())


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.integers(0, 2), st.booleans(),
       st.sampled_from(["left", "right"]), st.sampled_from([0.0, -1.5]),
       st.sampled_from([tt.float32, tt.float64, tt.int64]), st.data())
def test_pad_sequence_matches_reference(lengths, extra, batch_first, side, value, dtype, data):
    rest = (2,) * extra
    seqs = [data.draw(S.arrays((n,) + rest, dtype)) for n in lengths]
    out = pad_sequence([tt.tensor(s) for s in seqs], batch_first=batch_first,
                       padding_value=value, padding_side=side)
    expected = pad_sequence_ref(seqs, batch_first, value, side)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out.dtype is dtype


def test_pad_sequence_gradient_and_forms():
    a = tt.tensor([1.0, 2.0], dtype=tt.float64, requires_grad=True)
    b = tt.tensor([3.0], dtype=tt.float64, requires_grad=True)
    assert tt.autograd.gradcheck(lambda x, y: pad_sequence([x, y], padding_side="left"), (a, b))
    out = pad_sequence((a, b), batch_first=True)
    (out * tt.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tt.float64)).sum().backward()
    assert a.grad.tolist() == [1.0, 2.0] and b.grad.tolist() == [3.0]
    assert pad_sequence(tt.ones(2, 3)).shape == (3, 2)         # a tensor: its rows
    assert nn.utils.rnn.pad_sequence is pad_sequence


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: pad_sequence([]), RuntimeError, "received an empty list of sequences"),
    (lambda: pad_sequence([tt.ones(2)], padding_side="middle"), RuntimeError,
     "Expected padding_side to be one of left or right, but got middle."),
    (lambda: pad_sequence([tt.ones(2), [1.0]]), TypeError, "must be Tensor, not list"),
    (lambda: pad_sequence([tt.tensor(1.0)]), RuntimeError, "at least one dimension"),
])
def test_pad_sequence_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ------------------------------------------------------------------------------ CPU imports

def test_parallel_wrappers():
    import tinytensor.nn.parallel as parallel
    lin = nn.Linear(2, 3)
    dp = nn.DataParallel(lin, device_ids=[0], output_device=0)
    assert parallel.DataParallel is nn.DataParallel and dp.module is lin and dp.device_ids == []
    x = tt.randn(4, 2)
    np.testing.assert_array_equal(dp(x).detach().numpy(), lin(x).detach().numpy())
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    with pytest.raises(RuntimeError, match="cuda"):
        nn.DataParallel(lin, device_ids=["cuda:1"])
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        parallel.DistributedDataParallel(lin)


def _child(rank, queue):
    queue.put((rank, tt.ones(2).mul(rank).sum().item()))


def _failing_child(rank):
    raise ValueError(f"boom in {rank}")


def test_multiprocessing_reexports_and_start_processes():
    import tinytensor.multiprocessing as mp
    assert mp.Process is std_mp.Process and mp.cpu_count() >= 1
    assert mp.get_context is std_mp.get_context and callable(mp.set_start_method)
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs the fork start method")
    q = mp.get_context("fork").SimpleQueue()
    assert mp.start_processes(_child, args=(q,), nprocs=2, start_method="fork") is None
    assert sorted(q.get() for _ in range(2)) == [(0, 0.0), (1, 2.0)]
    with pytest.raises(mp.ProcessRaisedException, match="boom in"):
        mp.start_processes(_failing_child, nprocs=1, start_method="fork")


def test_distributed_reports_single_process():
    import tinytensor.distributed as dist
    assert isinstance(dist.is_available(), bool) and dist.is_initialized() is False
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_world_size()
    with pytest.raises(RuntimeError, match="not available"):
        dist.init_process_group("nccl")
