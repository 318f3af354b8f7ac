"""Optimisers against PyTorch 2.13: trajectories, state dicts and error messages."""
import numpy as np
import pytest

import tinytensor as tt
from tinytensor import optim

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, eps=0.1, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, betas=(0.8, 0.95))),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.5, amsgrad=True)),
]


def trajectories(name, kw, dtype, steps=20):
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((5, 3)).astype(dtype)
    grads = [rng.standard_normal((5, 3)).astype(dtype) for _ in range(steps)]
    p_t = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    p_m = tt.tensor(w0.copy(), requires_grad=True)
    o_t = getattr(torch.optim, name)([p_t], **kw)
    o_m = getattr(optim, name)([p_m], **kw)
    for g in grads:
        p_t.grad = torch.from_numpy(g.copy())
        p_m.grad = tt.tensor(g.copy())
        o_t.step()
        o_m.step()
    return p_t, p_m, o_t, o_m


@pytest.mark.parametrize("name, kw", CASES)
def test_float64_trajectory_matches_torch(name, kw):
    p_t, p_m, o_t, o_m = trajectories(name, kw, np.float64)
    np.testing.assert_allclose(p_m.detach().numpy(), p_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    st_t, st_m = o_t.state_dict(), o_m.state_dict()
    assert st_t["param_groups"] == st_m["param_groups"]
    assert sorted(st_t["state"]) == sorted(st_m["state"])      # empty for plain SGD
    for i, state in st_t["state"].items():
        assert set(state) == set(st_m["state"][i])
        for k, v in state.items():
            got = st_m["state"][i][k]
            np.testing.assert_allclose(got.numpy(), v.numpy(), rtol=1e-12, atol=1e-12)
            assert str(v.dtype).split(".")[1] == got.dtype.name and tuple(v.shape) == got.shape


@pytest.mark.parametrize("name, kw", CASES)
def test_float32_trajectory_matches_torch(name, kw):
    p_t, p_m, _, _ = trajectories(name, kw, np.float32)
    np.testing.assert_allclose(p_m.detach().numpy(), p_t.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_torch_state_dict_loads_into_tinytensor():
    p_t, p_m, o_t, _ = trajectories("Adam", dict(lr=0.01, amsgrad=True), np.float64, steps=3)
    sd = o_t.state_dict()
    converted = {"state": {i: {k: tt.tensor(v.numpy()) for k, v in s.items()}
                           for i, s in sd["state"].items()},
                 "param_groups": sd["param_groups"]}
    q = tt.tensor(p_t.detach().numpy().copy(), requires_grad=True)
    o = optim.Adam([q], lr=0.5)
    o.load_state_dict(converted)
    g = np.ones((5, 3))
    p_t.grad = torch.from_numpy(g)
    q.grad = tt.tensor(g)
    o_t.step()
    o.step()
    np.testing.assert_allclose(q.detach().numpy(), p_t.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, kw", [
    ("SGD", dict(lr=-1)), ("SGD", dict(lr=0.1, momentum=-0.1)),
    ("SGD", dict(lr=0.1, weight_decay=-1)), ("SGD", dict(lr=0.1, nesterov=True)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, 1.0))), ("Adam", dict(weight_decay=-1)),
    ("Adam", dict(betas=(0, 0.9))), ("AdamW", dict(weight_decay=-0.5)),
])
def test_validation_messages_match_torch(name, kw):
    with pytest.raises(Exception) as et:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(1))], **kw)
    with pytest.raises(type(et.value)) as em:
        getattr(optim, name)([tt.ones(1, requires_grad=True)], **kw)
    assert str(em.value) == str(et.value)


def test_empty_and_tensor_params_match_torch():
    for bad_t, bad_m in [([], []), (torch.ones(2), tt.ones(2))]:
        with pytest.raises(Exception) as et:
            torch.optim.SGD(bad_t, lr=0.1)
        with pytest.raises(type(et.value)) as em:
            optim.SGD(bad_m, lr=0.1)
        assert str(em.value) == str(et.value).replace("torch.", "tinytensor.")
