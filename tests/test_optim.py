"""Optimisers against their update equations, written out here in float64 (SEMANTICS.md §10)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytensor as tt
from tinytensor import optim

RNG = np.random.default_rng(1234)


def leaf(a):
    return tt.tensor(np.array(a, dtype=np.float64), requires_grad=True)


def run(opt_cls, kwargs, steps=6, shape=(3, 4), grads=None, zero_grad_at=None):
    """Run `steps` updates with given gradients; returns (param values per step, optimizer)."""
    w0 = RNG.standard_normal(shape)
    p = leaf(w0)
    opt = opt_cls([p], **kwargs)
    grads = grads if grads is not None else [RNG.standard_normal(shape) for _ in range(steps)]
    out = []
    for g in grads:
        p.grad = tt.tensor(g)
        opt.step()
        out.append(p.detach().numpy().copy())
    return w0, grads, out, opt


# ---------------------------------------------------------------------------- reference equations

def sgd_ref(w, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    w = w.copy()
    buf = None
    out = []
    for grad in grads:
        g = -grad if maximize else grad
        if weight_decay:
            g = g + weight_decay * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
        out.append(w.copy())
    return out


def adam_ref(w, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    w = w.copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    vmax = np.zeros_like(w)
    out = []
    for t, grad in enumerate(grads, 1):
        g = -grad if maximize else grad
        if weight_decay:
            if decoupled:
                w = w * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if amsgrad:
            vmax = np.maximum(vmax, v)
            vh = vmax
        else:
            vh = v
        denom = np.sqrt(vh) / math.sqrt(1 - b2 ** t) + eps
        w = w - (lr / (1 - b1 ** t)) * m / denom
        out.append(w.copy())
    return out


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.05, momentum=0.9, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True),
    dict(lr=0.2, weight_decay=0.3, maximize=True),
]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_matches_equations(kw):
    w0, grads, got, _ = run(optim.SGD, kw)
    want = sgd_ref(w0, grads, **kw)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_sgd_first_step_has_no_dampening():
    w0, grads, got, opt = run(optim.SGD, dict(lr=1.0, momentum=0.9, dampening=0.5), steps=1)
    np.testing.assert_allclose(got[0], w0 - grads[0], rtol=1e-12, atol=1e-12)
    (state,) = opt.state.values()
    np.testing.assert_allclose(state["momentum_buffer"].numpy(), grads[0])


ADAM_CASES = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99)),
    dict(lr=0.01, eps=0.1),                    # eps added after dividing by sqrt(bc2)
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, maximize=True, weight_decay=0.05, amsgrad=True),
]


@pytest.mark.parametrize("kw", ADAM_CASES)
def test_adam_matches_equations(kw):
    w0, grads, got, opt = run(optim.Adam, kw, steps=8)
    want = adam_ref(w0, grads, **kw)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    (state,) = opt.state.values()
    assert state["step"].dtype == tt.float32 and state["step"].shape == ()
    assert state["step"].item() == 8.0


def test_adam_eps_hat_form_differs():
    """The eps-hat variant lr*sqrt(bc2)/bc1 * m/(sqrt(v)+eps) is not what PyTorch does."""
    w0, grads, got, _ = run(optim.Adam, dict(lr=0.1, eps=0.1), steps=1)
    g = grads[0]
    m, v = 0.1 * g, 0.001 * g * g
    eps_hat = w0 - 0.1 * math.sqrt(0.001) / 0.1 * m / (np.sqrt(v) + 0.1)
    assert not np.allclose(got[0], eps_hat)


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.01, weight_decay=0.3),
                                dict(lr=0.01, amsgrad=True, weight_decay=0)])
def test_adamw_matches_equations(kw):
    w0, grads, got, opt = run(optim.AdamW, kw)
    want = adam_ref(w0, grads, decoupled=True, **{"weight_decay": 1e-2, **kw})
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert opt.param_groups[0]["weight_decay"] == kw.get("weight_decay", 1e-2)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


def test_adam_zero_grad_advances_step_and_keeps_param():
    p = leaf([1.0, -2.0])
    opt = optim.Adam([p], lr=0.1)
    p.grad = tt.zeros(2, dtype=tt.float64)
    opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, -2.0])
    assert opt.state[p]["step"].item() == 1.0


def test_float32_params_stay_float32():
    p = tt.randn(5, requires_grad=True)
    for cls in (optim.SGD, optim.Adam, optim.AdamW):
        opt = cls([p], lr=0.01, **({"momentum": 0.9} if cls is optim.SGD else {}))
        p.grad = tt.ones(5)
        opt.step()
        assert p.dtype == tt.float32
        for v in opt.state[p].values():
            assert v.dtype == tt.float32


def test_param_without_grad_is_skipped():
    a, b = leaf([1.0]), leaf([2.0])
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    a.grad = tt.tensor([1.0], dtype=tt.float64)
    opt.step()
    assert a.item() == 0.5 and b.item() == 2.0
    assert b not in opt.state


def test_step_bumps_version_and_writes_in_place():
    p = leaf([1.0, 2.0])
    before = p._version
    arr = p.detach().numpy()
    opt = optim.SGD([p], lr=1.0)
    p.grad = tt.ones(2, dtype=tt.float64)
    opt.step()
    assert p._version > before
    np.testing.assert_array_equal(arr, [0.0, 1.0])      # the same memory was updated


def test_closure_is_called_with_grad_enabled():
    p = leaf([3.0])
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tt.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert p.item() == pytest.approx(3.0 - 0.1 * 6.0)


# ---------------------------------------------------------------------------- zero_grad

def test_zero_grad_sets_none_by_default_or_zeros():
    p = leaf([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    p.grad = tt.ones(2, dtype=tt.float64)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


# ---------------------------------------------------------------------------- param groups

def test_param_groups_fill_defaults_and_keep_overrides():
    a, b = leaf([1.0]), leaf([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.1 and g0["momentum"] == 0 and g0["params"] == [a]
    assert g1["lr"] == 0.5 and g1["momentum"] == 0.9 and g1["params"][0] is b
    assert set(g0) == {"params", "lr", "momentum", "dampening", "weight_decay", "nesterov",
                       "maximize", "foreach", "differentiable", "fused"}
    a.grad = tt.ones(1, dtype=tt.float64)
    b.grad = tt.ones(1, dtype=tt.float64)
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)


def test_add_param_group():
    a, b = leaf([1.0]), leaf([1.0])
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([b])


def test_named_parameters_are_accepted():
    a, b = leaf([1.0]), leaf([2.0])
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.param_groups[0]["param_names"] == ["w", "b"]


def test_repr_lists_groups():
    opt = optim.SGD([leaf([1.0])], lr=0.1)
    assert repr(opt).startswith("SGD (\nParameter Group 0\n    dampening: 0\n")


# ---------------------------------------------------------------------------- validation

@pytest.mark.parametrize("make, exc, msg", [
    (lambda p: optim.SGD(p, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.1), ValueError, "Invalid momentum value: -0.1"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), ValueError,
     "Invalid weight_decay value: -1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.Adam(p, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda p: optim.Adam(p, eps=-1), ValueError, "Invalid epsilon value: -1"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), ValueError,
     "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), ValueError,
     "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.AdamW(p, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
])
def test_validation_messages(make, exc, msg):
    with pytest.raises(exc, match="^" + msg.replace(".", r"\.").replace("(", r"\(") + "$"):
        make([leaf([1.0])])


def test_bad_params_arguments():
    p = leaf([1.0])
    with pytest.raises(TypeError, match="^params argument given to the optimizer should be an "
                                        "iterable of Tensors or dicts, but got "
                                        "tinytensor.DoubleTensor$"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        optim.Adam(iter([]))
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the "
                                        "params is float"):
        optim.SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(3, lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)


# ---------------------------------------------------------------------------- state dicts

def test_state_dict_layout():
    a, b, c = leaf([1.0]), leaf([2.0, 3.0]), leaf([4.0])
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in (a, c):
        p.grad = tt.ones(p.shape, dtype=tt.float64)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 2]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert set(sd["state"][0]) == {"momentum_buffer"}


@pytest.mark.parametrize("cls, kw", [(optim.SGD, dict(lr=0.1, momentum=0.9)),
                                     (optim.Adam, dict(lr=0.01, amsgrad=True)),
                                     (optim.AdamW, dict(lr=0.01))])
def test_state_dict_round_trip_continues_identically(cls, kw, tmp_path):
    shape = (4,)
    grads = [RNG.standard_normal(shape) for _ in range(6)]
    w0 = RNG.standard_normal(shape)
    # reference: 6 uninterrupted steps
    p = leaf(w0)
    opt = cls([p], **kw)
    for g in grads:
        p.grad = tt.tensor(g)
        opt.step()
    want = p.detach().numpy().copy()
    # 3 steps, save to disk, fresh optimizer, load, 3 more steps
    q = leaf(w0)
    opt1 = cls([q], **kw)
    for g in grads[:3]:
        q.grad = tt.tensor(g)
        opt1.step()
    tt.save(opt1.state_dict(), tmp_path / "opt.npz")
    opt2 = cls([q], lr=123.0)
    opt2.load_state_dict(tt.load(tmp_path / "opt.npz"))
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    assert opt2.param_groups[0]["params"][0] is q
    for g in grads[3:]:
        q.grad = tt.tensor(g)
        opt2.step()
    np.testing.assert_allclose(q.detach().numpy(), want, rtol=1e-12, atol=1e-12)


def test_load_state_dict_copies_buffers():
    p = leaf([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tt.ones(1, dtype=tt.float64)
    opt.step()
    sd = opt.state_dict()
    saved = sd["state"][0]["momentum_buffer"].numpy().copy()
    opt2 = optim.SGD([p], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    opt2.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"].numpy(), saved)


def test_load_state_dict_mismatch_errors():
    a, b = leaf([1.0]), leaf([1.0])
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that "
                                         "doesn't match the size of optimizer's group"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="loaded state dict has a different number of "
                                         "parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.SGD([a], lr=0.1).load_state_dict({"foo": 1})


# ---------------------------------------------------------------------------- Adadelta, RMSprop,
# Adagrad, NAdam, RAdam: one element at a time, in float64, from PyTorch's documented algorithms

def _elementwise(update, w, grads, state0):
    """Apply `update(t, w_i, g_i, state_i) -> w_i` to every element for every step."""
    w = [float(x) for x in np.asarray(w).ravel()]
    states = [dict(state0) for _ in w]
    out = []
    for t, grad in enumerate(grads, 1):
        g = np.asarray(grad).ravel()
        w = [update(t, wi, float(gi), s) for wi, gi, s in zip(w, g, states)]
        out.append(np.array(w).reshape(np.shape(grad)))
    return out


def adadelta_ref(w, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    def update(t, p, g, s):
        g = -g if maximize else g
        g = g + weight_decay * p
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        delta = math.sqrt(s["u"] + eps) / math.sqrt(s["v"] + eps) * g
        s["u"] = rho * s["u"] + (1 - rho) * delta * delta
        return p - lr * delta
    return _elementwise(update, w, grads, {"v": 0.0, "u": 0.0})


def rmsprop_ref(w, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    def update(t, p, g, s):
        g = -g if maximize else g
        g = g + weight_decay * p
        s["v"] = alpha * s["v"] + (1 - alpha) * g * g
        if centered:
            s["gbar"] = alpha * s["gbar"] + (1 - alpha) * g
            avg = math.sqrt(s["v"] - s["gbar"] ** 2) + eps
        else:
            avg = math.sqrt(s["v"]) + eps
        if momentum > 0:
            s["buf"] = momentum * s["buf"] + g / avg
            return p - lr * s["buf"]
        return p - lr * g / avg
    return _elementwise(update, w, grads, {"v": 0.0, "gbar": 0.0, "buf": 0.0})


def adagrad_ref(w, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    def update(t, p, g, s):
        g = -g if maximize else g
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s["sum"] += g * g
        return p - clr * g / (math.sqrt(s["sum"]) + eps)
    return _elementwise(update, w, grads, {"sum": initial_accumulator_value})


def nadam_ref(w, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas

    def update(t, p, g, s):
        g = -g if maximize else g
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        # PyTorch keeps the product of the mu's in a float32 scalar tensor
        s["prod"] = float(np.float32(s["prod"]) * np.float32(mu))
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        denom = math.sqrt(s["v"] / (1 - b2 ** t)) + eps
        return (p - lr * (1 - mu) / (1 - s["prod"]) * g / denom
                - lr * mu_next / (1 - s["prod"] * mu_next) * s["m"] / denom)
    return _elementwise(update, w, grads, {"prod": 1.0, "m": 0.0, "v": 0.0})


def radam_ref(w, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    rho_inf = 2 / (1 - b2) - 1

    def update(t, p, g, s):
        g = -g if maximize else g
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        mhat = s["m"] / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t <= 5:
            return p - lr * mhat
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        # eps is added to sqrt(v) before the bias correction, unlike Adam
        return p - lr * mhat * rect * math.sqrt(1 - b2 ** t) / (math.sqrt(s["v"]) + eps)
    return _elementwise(update, w, grads, {"m": 0.0, "v": 0.0})


_unit = st.floats(0.0, 0.999)
_small = st.floats(0.0, 0.5)
HYPERPARAMETERS = {
    "Adadelta": (adadelta_ref, st.fixed_dictionaries({}, optional={
        "lr": st.floats(0.01, 2.0), "rho": st.floats(0.0, 1.0), "eps": st.floats(1e-8, 1e-2),
        "weight_decay": _small, "maximize": st.booleans()})),
    "RMSprop": (rmsprop_ref, st.fixed_dictionaries({}, optional={
        # alpha near 0 makes centered RMSprop's v - gbar**2 pure rounding noise (also in torch)
        "lr": st.floats(1e-4, 0.1), "alpha": st.floats(0.1, 0.999), "eps": st.floats(1e-8, 1e-2),
        "weight_decay": _small, "momentum": st.sampled_from([0.0, 0.5, 0.9]),
        "centered": st.booleans(), "maximize": st.booleans()})),
    "Adagrad": (adagrad_ref, st.fixed_dictionaries({}, optional={
        "lr": st.floats(1e-3, 1.0), "lr_decay": _small, "weight_decay": _small,
        "initial_accumulator_value": st.floats(0.0, 1.0), "eps": st.floats(1e-10, 1e-2),
        "maximize": st.booleans()})),
    "NAdam": (nadam_ref, st.fixed_dictionaries({}, optional={
        "lr": st.floats(1e-4, 0.1), "betas": st.tuples(_unit, _unit),
        "eps": st.floats(1e-8, 1e-2), "weight_decay": _small,
        "momentum_decay": st.floats(0.0, 0.1), "decoupled_weight_decay": st.booleans(),
        "maximize": st.booleans()})),
    "RAdam": (radam_ref, st.fixed_dictionaries({}, optional={
        "lr": st.floats(1e-4, 0.1), "betas": st.tuples(_unit, st.floats(0.0, 0.99)),
        "eps": st.floats(1e-8, 1e-2), "weight_decay": _small,
        "decoupled_weight_decay": st.booleans(), "maximize": st.booleans()})),
}


@pytest.mark.parametrize("name", sorted(HYPERPARAMETERS))
@given(data=st.data())
def test_new_optimizers_match_reference(name, data):
    ref, kwargs = HYPERPARAMETERS[name]
    kw = data.draw(kwargs, label="hyper-parameters")
    steps = data.draw(st.integers(1, 12), label="steps")
    shape = data.draw(st.sampled_from([(1,), (3,), (2, 3)]), label="shape")
    dtype = data.draw(st.sampled_from([np.float64, np.float32]), label="dtype")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]
    p = tt.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    w0 = p.detach().numpy().astype(np.float64)
    opt = getattr(optim, name)([p], **kw)
    got = []
    for g in grads:
        p.grad = tt.tensor(g)
        opt.step()
        got.append(p.detach().numpy().copy())
    want = ref(w0, [g.astype(np.float64) for g in grads], **kw)
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    for a, b in zip(got, want):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)
    (state,) = opt.state.values()
    assert state["step"].dtype == tt.float32 and state["step"].item() == steps


@pytest.mark.parametrize("name, keys", [
    ("Adadelta", ["step", "square_avg", "acc_delta"]),
    ("RMSprop", ["step", "square_avg"]),
    ("Adagrad", ["step", "sum"]),
    ("NAdam", ["step", "mu_product", "exp_avg", "exp_avg_sq"]),
    ("RAdam", ["step", "exp_avg", "exp_avg_sq"]),
])
def test_new_optimizers_state_keys_and_float32(name, keys):
    p = tt.randn(4, requires_grad=True)
    opt = getattr(optim, name)([p])
    p.grad = tt.ones(4)
    opt.step()
    state = opt.state_dict()["state"][0]
    assert list(state) == keys
    for k, v in state.items():
        assert v.dtype == tt.float32
        assert v.shape == (() if k in ("step", "mu_product") else (4,))
    assert p.dtype == tt.float32


def test_rmsprop_optional_buffers():
    p = leaf([1.0, 2.0])
    opt = optim.RMSprop([p], momentum=0.9, centered=True)
    p.grad = tt.ones(2, dtype=tt.float64)
    opt.step()
    assert list(opt.state[p]) == ["step", "square_avg", "momentum_buffer", "grad_avg"]


def test_adagrad_state_is_created_eagerly_with_the_constructor_value():
    a, b = leaf([1.0]), leaf([2.0])
    opt = optim.Adagrad([a], initial_accumulator_value=0.5)
    assert opt.state[a]["sum"].item() == 0.5 and opt.state[a]["step"].item() == 0.0
    assert sorted(opt.state_dict()["state"]) == [0]
    opt.add_param_group({"params": [b], "initial_accumulator_value": 3.0})
    assert b not in opt.state                  # created on its first step, as in PyTorch ...
    b.grad = tt.zeros(1, dtype=tt.float64)
    opt.step()
    assert opt.state[b]["sum"].item() == 0.5   # ... from the constructor's value


def test_radam_first_steps_are_sgd_with_momentum():
    """While rho_t <= 5 (the first five steps with beta2=0.999), p -= lr * mhat."""
    p = leaf([1.0])
    opt = optim.RAdam([p], lr=0.1)
    for _ in range(3):
        p.grad = tt.tensor([2.0], dtype=tt.float64)
        opt.step()
    assert p.item() == pytest.approx(1.0 - 3 * 0.1 * 2.0, rel=1e-12)


@pytest.mark.parametrize("cls, kw", [(optim.Adadelta, dict(weight_decay=0.1)),
                                     (optim.RMSprop, dict(momentum=0.9, centered=True)),
                                     (optim.Adagrad, dict(lr_decay=0.1)),
                                     (optim.NAdam, dict(lr=0.01)),
                                     (optim.RAdam, dict(lr=0.01))])
def test_new_optimizers_state_dict_round_trip(cls, kw, tmp_path):
    """8 uninterrupted steps == 4 steps, save to disk, load into a fresh optimizer, 4 steps."""
    kw = {"lr": 0.01, **kw}
    shape = (4,)
    grads = [RNG.standard_normal(shape) for _ in range(8)]
    w0 = RNG.standard_normal(shape)
    p = leaf(w0)
    opt = cls([p], **kw)
    for g in grads:
        p.grad = tt.tensor(g)
        opt.step()
    q = leaf(w0)
    opt1 = cls([q], **kw)
    for g in grads[:4]:
        q.grad = tt.tensor(g)
        opt1.step()
    tt.save(opt1.state_dict(), tmp_path / "opt.npz")
    opt2 = cls([q], lr=123.0)
    opt2.load_state_dict(tt.load(tmp_path / "opt.npz"))
    for g in grads[4:]:
        q.grad = tt.tensor(g)
        opt2.step()
    # NAdam: loading casts mu_product to the parameter's dtype (float64 here), as PyTorch's
    # load_state_dict does, so the continued run is no longer rounded to float32 there.
    tol = 1e-9 if cls is optim.NAdam else 1e-12
    np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=tol, atol=tol)
    if cls is optim.NAdam:
        assert opt2.state[q]["mu_product"].dtype == tt.float64
        assert opt2.state[q]["step"].dtype == tt.float32


@pytest.mark.parametrize("make, msg", [
    (lambda p: optim.Adadelta(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: optim.Adadelta(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: optim.Adadelta(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.RMSprop(p, lr=-0.5), "Invalid learning rate: -0.5"),
    (lambda p: optim.RMSprop(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: optim.RMSprop(p, momentum=-1), "Invalid momentum value: -1"),
    (lambda p: optim.RMSprop(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
    (lambda p: optim.Adagrad(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: optim.Adagrad(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda p: optim.Adagrad(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: optim.NAdam(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.NAdam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.NAdam(p, betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda p: optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
    (lambda p: optim.RAdam(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: optim.RAdam(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.RAdam(p, betas=(-0.5, 0.9)), "Invalid beta parameter at index 0: -0.5"),
])
def test_new_optimizers_validation_messages(make, msg):
    with pytest.raises(ValueError, match="^" + msg.replace(".", r"\.") + "$"):
        make([leaf([1.0])])


@pytest.mark.parametrize("make", [lambda p: optim.RMSprop(p, capturable=True),
                                  lambda p: optim.NAdam(p, differentiable=True),
                                  lambda p: optim.Adagrad(p, fused=True)])
def test_unsupported_options_are_refused(make):
    with pytest.raises(RuntimeError, match="not supported by tinytensor"):
        make([leaf([1.0])])


def test_docstring_examples_run():
    import doctest

    import tinytensor.optim.adadelta
    import tinytensor.optim.adagrad
    import tinytensor.optim.adam
    import tinytensor.optim.nadam
    import tinytensor.optim.optimizer
    import tinytensor.optim.radam
    import tinytensor.optim.rmsprop
    import tinytensor.optim.sgd
    for mod in (tinytensor.optim.adadelta, tinytensor.optim.adagrad, tinytensor.optim.adam,
                tinytensor.optim.nadam, tinytensor.optim.optimizer, tinytensor.optim.radam,
                tinytensor.optim.rmsprop, tinytensor.optim.sgd):
        result = doctest.testmod(mod)
        assert result.failed == 0 and result.attempted > 0, mod.__name__


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [dict(momentum=0.9), dict(momentum=0.9, nesterov=True),
                                dict(momentum=0.8, dampening=0.3, weight_decay=1e-2),
                                dict(weight_decay=0.1), dict()])
def test_sgd_fused_pass_matches_the_numpy_expressions_bit_for_bit(dtype, kw):
    # a contiguous float parameter takes the one-pass kernel (_kernels/optim.pyx); a strided
    # view of the same values takes SGD._update's NumPy path: the same bits, any thread count
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal(70_001).astype(dtype)
    grads = [rng.standard_normal(70_001).astype(dtype) for _ in range(3)]
    runs = []
    for layout, threads in (("contiguous", 1), ("contiguous", 2), ("strided", 1)):
        if layout == "contiguous":
            p = tt.tensor(w0.copy(), requires_grad=True)
        else:
            big = np.zeros((70_001, 2), dtype)
            big[:, 0] = w0
            p = tt.from_numpy(big)[:, 0].detach().requires_grad_()
        opt = tt.optim.SGD([p], lr=0.05, **kw)
        old = tt.get_num_threads()
        tt.set_num_threads(threads)
        try:
            for gr in grads:
                p.grad = tt.tensor(gr)
                opt.step()
        finally:
            tt.set_num_threads(old)
        runs.append(p.detach().numpy().copy())
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])
