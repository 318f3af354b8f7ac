"""Optimisers against PyTorch 2.13: trajectories, state dicts and error messages."""
import warnings

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
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-3, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-4, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.003, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1)),      # rectified from step 3
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
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
    p_t, p_m, o_t, o_m = trajectories(name, kw, np.float64, steps=60)
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
    p_t, p_m, _, _ = trajectories(name, kw, np.float32, steps=60)
    np.testing.assert_allclose(p_m.detach().numpy(), p_t.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, kw", [("Adam", dict(lr=0.01, amsgrad=True)),
                                      ("Adadelta", dict(weight_decay=0.1)),
                                      ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
                                      ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
                                      ("NAdam", dict(lr=0.01)), ("RAdam", dict(lr=0.01))])
def test_state_dicts_cross_between_torch_and_tinytensor(name, kw):
    """torch's state dict loaded into tinytensor (and the reverse) continues identically."""
    p_t, p_m, o_t, o_m = trajectories(name, kw, np.float64, steps=7)
    sd_t, sd_m = o_t.state_dict(), o_m.state_dict()
    to_tt = {"state": {i: {k: tt.tensor(v.numpy()) for k, v in st.items()}
                       for i, st in sd_t["state"].items()},
             "param_groups": sd_t["param_groups"]}
    to_torch = {"state": {i: {k: torch.from_numpy(v.numpy().copy()) for k, v in st.items()}
                          for i, st in sd_m["state"].items()},
                "param_groups": sd_m["param_groups"]}
    q_m = tt.tensor(p_t.detach().numpy().copy(), requires_grad=True)
    q_t = torch.nn.Parameter(torch.from_numpy(p_m.detach().numpy().copy()))
    o_qm = getattr(optim, name)([q_m], lr=0.5)
    o_qm.load_state_dict(to_tt)
    o_qt = getattr(torch.optim, name)([q_t], lr=0.5)
    o_qt.load_state_dict(to_torch)
    rng = np.random.default_rng(3)
    for _ in range(5):
        g = rng.standard_normal((5, 3))
        for p in (p_t, q_t):
            p.grad = torch.from_numpy(g.copy())
        for p in (p_m, q_m):
            p.grad = tt.tensor(g.copy())
        for o in (o_t, o_m, o_qm, o_qt):
            o.step()
    want = p_t.detach().numpy()
    for got in (p_m, q_m, q_t):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-12)


def test_groups_and_params_without_grad_match_torch():
    """Two groups with their own hyper-parameters; a parameter without a gradient is skipped
    (Adagrad still lists it in its state, as PyTorch's eager state does)."""
    rng = np.random.default_rng(11)
    shapes = [(3,), (2, 2), (4,)]
    w0 = [rng.standard_normal(s) for s in shapes]
    for name, extra in [("Adagrad", dict(lr_decay=0.1)), ("RMSprop", dict(momentum=0.5)),
                        ("NAdam", dict(momentum_decay=0.01)), ("RAdam", {}),
                        ("Adadelta", dict(rho=0.5))]:
        ps_t = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in w0]
        ps_m = [tt.tensor(w.copy(), requires_grad=True) for w in w0]
        groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.05, **extra}]
        o_t = getattr(torch.optim, name)(groups(ps_t), lr=0.01)
        o_m = getattr(optim, name)(groups(ps_m), lr=0.01)
        for step in range(6):
            for i, s in enumerate(shapes):
                if i == 1 and step < 3:              # the second parameter joins late
                    continue
                g = rng.standard_normal(s)
                ps_t[i].grad = torch.from_numpy(g.copy())
                ps_m[i].grad = tt.tensor(g.copy())
            o_t.step()
            o_m.step()
        for a, b in zip(ps_m, ps_t):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12,
                                       atol=1e-12)
        sd_t, sd_m = o_t.state_dict(), o_m.state_dict()
        assert sd_t["param_groups"] == sd_m["param_groups"], name
        assert sorted(sd_t["state"]) == sorted(sd_m["state"]), name
        for i, st in sd_t["state"].items():
            assert list(st) == list(sd_m["state"][i]), name       # same keys, same order
            for k, v in st.items():
                np.testing.assert_allclose(sd_m["state"][i][k].numpy(), v.numpy(), rtol=1e-12,
                                           atol=1e-12)


@pytest.mark.parametrize("name, kw", [
    ("SGD", dict(lr=-1)), ("SGD", dict(lr=0.1, momentum=-0.1)),
    ("SGD", dict(lr=0.1, weight_decay=-1)), ("SGD", dict(lr=0.1, nesterov=True)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, 1.0))), ("Adam", dict(weight_decay=-1)),
    ("Adam", dict(betas=(0, 0.9))), ("AdamW", dict(weight_decay=-0.5)),
    ("Adadelta", dict(lr=-1)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(eps=-1)),
    ("Adadelta", dict(weight_decay=-1)),
    ("RMSprop", dict(lr=-0.1)), ("RMSprop", dict(eps=-1)), ("RMSprop", dict(momentum=-1)),
    ("RMSprop", dict(weight_decay=-1)), ("RMSprop", dict(alpha=-0.5)),
    ("Adagrad", dict(lr=-1)), ("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(weight_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-1)), ("Adagrad", dict(eps=-1)),
    ("NAdam", dict(lr=-1)), ("NAdam", dict(eps=-1)), ("NAdam", dict(betas=(1.0, 0.9))),
    ("NAdam", dict(betas=(0.9, -0.1))), ("NAdam", dict(weight_decay=-1)),
    ("NAdam", dict(momentum_decay=-1)),
    ("RAdam", dict(lr=-1)), ("RAdam", dict(eps=-1)), ("RAdam", dict(betas=(-0.1, 0.9))),
    ("RAdam", dict(betas=(0.9, 1.0))), ("RAdam", dict(weight_decay=-1)),
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


# ---------------------------------------------------------------------------- lr schedulers

def _two_groups(lib, opt_name="SGD", **kw):
    """An optimizer of `lib` (torch.optim or tinytensor.optim) with two groups of different
    lrs."""
    if lib is torch.optim:
        a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    else:
        a, b = tt.zeros(2, requires_grad=True), tt.zeros(3, requires_grad=True)
    return getattr(lib, opt_name)([{"params": [a]}, {"params": [b], "lr": 0.03}], lr=0.1, **kw)


class Halve:
    """A callable object: LambdaLR saves its __dict__ in the state dict."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, epoch):
        return self.base ** (epoch // 3)


SCHEDULERS = {
    "StepLR": lambda S, o: S.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda S, o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda S, o: S.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda S, o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "LambdaLR": lambda S, o: S.LambdaLR(o, [lambda e: 1 / (e + 1), Halve()]),
    "MultiplicativeLR": lambda S, o: S.MultiplicativeLR(o, lambda e: 0.95),
    "LinearLR": lambda S, o: S.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=6),
    "LinearLR-down": lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.0,
                                             total_iters=5),
    "ConstantLR": lambda S, o: S.ConstantLR(o, factor=0.4, total_iters=4),
    "PolynomialLR": lambda S, o: S.PolynomialLR(o, total_iters=8, power=2.0),
    "CosineAnnealingWarmRestarts": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3,
                                                                              T_mult=2,
                                                                              eta_min=1e-3),
    "OneCycleLR": lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=40),
    "CyclicLR": lambda S, o: S.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.5, step_size_up=4,
                                        step_size_down=3, mode="triangular2"),
    "CyclicLR-exp": lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=[0.5, 0.1], step_size_up=5,
                                            mode="exp_range", gamma=0.97, base_momentum=0.5),
    "CyclicLR-custom": lambda S, o: S.CyclicLR(o, 0.01, 0.3, 3, scale_fn=Halve(),
                                               scale_mode="iterations", cycle_momentum=False),
    "OneCycleLR-3phase": lambda S, o: S.OneCycleLR(o, max_lr=1.0, epochs=4, steps_per_epoch=10,
                                                   pct_start=0.25, anneal_strategy="linear",
                                                   three_phase=True),
    "SequentialLR": lambda S, o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=4),
                                                    S.ExponentialLR(o, 0.8),
                                                    S.StepLR(o, 3, 0.5)], milestones=[4, 12]),
    "ChainedScheduler": lambda S, o: S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=4),
                                                         S.ExponentialLR(o, 0.9),
                                                         S.CosineAnnealingLR(o, T_max=10)]),
}


def _comparable(state):
    """A scheduler state dict with tensors and Counters made plain, for ==."""
    if isinstance(state, dict):
        return {k: _comparable(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_comparable(v) for v in state]
    return state


def _run_schedule(lib, name, steps, opt_name="SGD", **opt_kw):
    opt = _two_groups(lib, opt_name, **opt_kw)
    sched = SCHEDULERS[name](lib.lr_scheduler, opt)
    seen = []
    for _ in range(steps):
        group = opt.param_groups[0]
        seen.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                     group.get("momentum"), group.get("betas")))
        opt.step()
        sched.step()
    return seen, sched, opt


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_lr_sequence_and_state_dict_match_torch(name):
    steps = 40 if name.startswith("OneCycle") else 30
    want, s_t, o_t = _run_schedule(torch.optim, name, steps)
    got, s_m, o_m = _run_schedule(optim, name, steps)
    for i, (a, b) in enumerate(zip(got, want)):
        for x, y in zip(a[0] + a[1], b[0] + b[1]):
            assert x == pytest.approx(y, rel=1e-13, abs=1e-15), (i, a, b)
        assert a[2] == pytest.approx(b[2], rel=1e-13) if b[2] is not None else a[2] is None
    assert _comparable(s_m.state_dict()) == _comparable(s_t.state_dict())
    groups_t = [{k: v for k, v in g.items() if k != "params"} for g in o_t.param_groups]
    groups_m = [{k: v for k, v in g.items() if k != "params"} for g in o_m.param_groups]
    assert groups_m == groups_t


@pytest.mark.parametrize("name", ["OneCycleLR", "CyclicLR"])
def test_cycles_adam_beta1_like_torch(name):
    want, _, _ = _run_schedule(torch.optim, name, 40, "Adam")
    got, _, _ = _run_schedule(optim, name, 40, "Adam")
    for a, b in zip(got, want):
        assert a[3] == pytest.approx(b[3], rel=1e-13)
        assert a[1] == pytest.approx(b[1], rel=1e-13)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                  "LinearLR", "ConstantLR", "PolynomialLR", "LambdaLR",
                                  "CosineAnnealingWarmRestarts"])
def test_step_with_epoch_matches_torch(name):
    """The deprecated step(epoch) (closed forms), including jumps back and forth."""
    epochs = [3, 4, 10, 2, 7, 7, 0, 15, 1.5] if name == "CosineAnnealingWarmRestarts" \
        else [3, 4, 10, 2, 7, 7, 0, 15]
    results = []
    for lib in (torch.optim, optim):
        opt = _two_groups(lib)
        sched = SCHEDULERS[name](lib.lr_scheduler, opt)
        lrs = []
        for e in epochs:
            opt.step()
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                sched.step(e)
            lrs.append((sched.get_last_lr(), [str(x.message) for x in w]))
        results.append(lrs)
    for (a, wa), (b, wb) in zip(results[1], results[0]):
        assert a == pytest.approx(b, rel=1e-13)
        assert wa == wb


def test_resume_schedule_from_state_dicts_matches_torch():
    """Save optimizer and scheduler at epoch 5 in torch, resume both in tinytensor."""
    o_t = _two_groups(torch.optim, momentum=0.9)
    s_t = torch.optim.lr_scheduler.CosineAnnealingLR(o_t, T_max=12, eta_min=0.01)
    for _ in range(5):
        o_t.step()
        s_t.step()
    sd_sched = s_t.state_dict()
    sd_opt = o_t.state_dict()
    o_m = _two_groups(optim, momentum=0.9)
    o_m.load_state_dict({"state": {}, "param_groups": sd_opt["param_groups"]})
    s_m = optim.lr_scheduler.CosineAnnealingLR(o_m, T_max=12, eta_min=0.01, last_epoch=4)
    s_m.load_state_dict(sd_sched)
    for _ in range(15):
        o_t.step()
        s_t.step()
        o_m.step()
        s_m.step()
        assert s_m.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-13)


def test_reduce_lr_on_plateau_matches_torch():
    rng = np.random.default_rng(5)
    metrics = np.cumsum(rng.standard_normal(80) * 0.3 + 0.02)
    for kw in [dict(), dict(mode="max", factor=0.5, patience=2, threshold=0.05, cooldown=2),
               dict(threshold_mode="abs", patience=1, min_lr=[0.02, 0.001], eps=1e-3),
               dict(mode="max", threshold_mode="abs", patience=0, factor=0.7, cooldown=1)]:
        out = []
        for lib in (torch.optim, optim):
            opt = _two_groups(lib)
            sched = lib.lr_scheduler.ReduceLROnPlateau(opt, **kw)
            lrs = []
            for m in metrics:
                opt.step()
                sched.step(float(m))
                lrs.append(list(sched.get_last_lr()))
            out.append((lrs, _comparable(sched.state_dict())))
        assert out[1][0] == out[0][0]
        assert out[1][1] == out[0][1]


def _scheduler_error(lib, make):
    opt = _two_groups(lib)
    with pytest.raises(Exception) as e:
        make(lib.lr_scheduler, opt)
    return e


@pytest.mark.parametrize("make", [
    lambda S, o: S.ConstantLR(o, factor=1.5),
    lambda S, o: S.LinearLR(o, start_factor=0),
    lambda S, o: S.LinearLR(o, end_factor=2),
    lambda S, o: S.LambdaLR(o, [lambda e: 1.0]),
    lambda S, o: S.MultiplicativeLR(o, 0.5),
    lambda S, o: S.StepLR(o, 3, last_epoch=4),
    lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5),
    lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
    lambda S, o: S.ReduceLROnPlateau(o, factor=1.0),
    lambda S, o: S.ReduceLROnPlateau(o, mode="avg"),
    lambda S, o: S.ReduceLROnPlateau(o, threshold_mode="pct"),
    lambda S, o: S.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=0),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, epochs=0, steps_per_epoch=3),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=1.5),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
    lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 2.0, 3.0], total_steps=10),
    lambda S, o: S.CyclicLR(o, 0.1, 1.0, mode="cosine"),
    lambda S, o: S.CyclicLR(o, [0.1], 1.0),
    lambda S, o: S.CyclicLR(S.__name__, 0.1, 1.0),
    lambda S, o: S.SequentialLR(o, [], []),
    lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], [1, 2]),
    lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2), S.ReduceLROnPlateau(o)], [1]),
    lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2), 3], [1]),
    lambda S, o: S.ChainedScheduler([]),
    lambda S, o: S.StepLR(None, 3),
])
def test_scheduler_errors_match_torch(make):
    et = _scheduler_error(torch.optim, make)
    em = _scheduler_error(optim, make)
    assert type(em.value) is type(et.value)
    assert str(em.value) == str(et.value)


def test_onecycle_past_total_steps_and_plateau_group_change_match_torch():
    for lib in (torch.optim, optim):
        opt = _two_groups(lib)
        sched = lib.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="^Tried to step 4 times. The specified number of "
                                             "total steps is 3$"):
            sched.step()


def test_warnings_match_torch():
    """Scheduler stepped before the optimizer, get_lr() called directly: same warnings."""
    texts = []
    for lib in (torch.optim, optim):
        opt = _two_groups(lib)
        sched = lib.lr_scheduler.StepLR(opt, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.step()
            sched.get_lr()
        texts.append([str(x.message) for x in w])
    assert texts[1] == texts[0] and len(texts[0]) == 2
