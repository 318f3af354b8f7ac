"""Learning-rate schedulers: lr sequences against the documented closed forms (written out here),
state-dict round trips, warnings and PyTorch's error texts. tests/oracle/test_optim_torch.py
compares the same schedulers with torch 2.13."""
import copy
import math
import warnings
from bisect import bisect_right

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinytensor as tt
from tinytensor import optim
from tinytensor.optim import lr_scheduler as S


def make_opt(lrs=(0.1, 0.03), cls=optim.SGD, **kw):
    """An optimizer with one group per lr."""
    groups = [{"params": [tt.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, lr=lrs[0], **kw)


def run(sched, opt, steps, metric=None):
    """The lrs of epochs 0 .. steps-1 (what each epoch trained with), per group."""
    seen = []
    for _ in range(steps):
        seen.append(list(sched.get_last_lr()))
        assert seen[-1] == [g["lr"] for g in opt.param_groups]
        opt.step()
        sched.step()
    return seen


def assert_lrs(got, want, rel=1e-12, abs_=1e-15):
    assert len(got) == len(want)
    for epoch, (a, b) in enumerate(zip(got, want)):
        assert a == pytest.approx(b, rel=rel, abs=abs_), f"epoch {epoch}: {a} != {b}"


# ---------------------------------------------------------------------------- closed forms
# Each reference is the formula of PyTorch's documentation, epoch by epoch.

BASES = (0.1, 0.03)


def expected(formula, steps, bases=BASES):
    return [[formula(base, e) for base in bases] for e in range(steps)]


@given(step_size=st.integers(1, 6), gamma=st.floats(0.05, 1.0), steps=st.integers(1, 25))
def test_step_lr(step_size, gamma, steps):
    opt = make_opt()
    got = run(S.StepLR(opt, step_size, gamma), opt, steps)
    assert_lrs(got, expected(lambda b, e: b * gamma ** (e // step_size), steps))


@given(milestones=st.lists(st.integers(0, 15), max_size=5), gamma=st.floats(0.05, 1.0),
       steps=st.integers(1, 20))
def test_multistep_lr(milestones, gamma, steps):
    opt = make_opt()
    got = run(S.MultiStepLR(opt, milestones, gamma), opt, steps)
    # a milestone at 0 applies from the start, as in PyTorch
    assert_lrs(got, expected(lambda b, e: b * gamma ** bisect_right(sorted(milestones), e),
                             steps))


@given(gamma=st.floats(0.5, 1.0), steps=st.integers(1, 30))
def test_exponential_lr(gamma, steps):
    opt = make_opt()
    got = run(S.ExponentialLR(opt, gamma), opt, steps)
    assert_lrs(got, expected(lambda b, e: b * gamma ** e, steps), rel=1e-11)


@given(T_max=st.integers(1, 12), eta_min=st.sampled_from([0.0, 1e-3, 0.01]),
       steps=st.integers(1, 40))
def test_cosine_annealing_lr_follows_the_cosine_past_T_max(T_max, eta_min, steps):
    opt = make_opt()
    got = run(S.CosineAnnealingLR(opt, T_max, eta_min), opt, steps)
    want = expected(lambda b, e: eta_min + (b - eta_min) * (1 + math.cos(math.pi * e / T_max))
                    / 2, steps)
    assert_lrs(got, want, rel=1e-9, abs_=1e-12)


@given(start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0), total=st.integers(1, 10),
       steps=st.integers(1, 20))
def test_linear_lr(start, end, total, steps):
    opt = make_opt()
    got = run(S.LinearLR(opt, start, end, total), opt, steps)
    want = expected(lambda b, e: b * (start + (end - start) * min(e, total) / total), steps)
    assert_lrs(got, want, rel=1e-9, abs_=1e-12)


@given(factor=st.floats(0.01, 1.0), total=st.integers(1, 8), steps=st.integers(1, 15))
def test_constant_lr(factor, total, steps):
    # (total_iters=0 keeps the factor for ever through step(), unlike the closed form: a
    # PyTorch quirk that tinytensor reproduces; see the next test)
    opt = make_opt()
    got = run(S.ConstantLR(opt, factor, total), opt, steps)
    assert_lrs(got, expected(lambda b, e: b * (factor if e < total else 1.0), steps))


@given(total=st.integers(1, 10), power=st.floats(0.5, 3.0), steps=st.integers(1, 15))
def test_polynomial_lr(total, power, steps):
    opt = make_opt()
    got = run(S.PolynomialLR(opt, total, power), opt, steps)
    want = expected(lambda b, e: b * (1 - min(e, total) / total) ** power, steps)
    assert_lrs(got, want, rel=1e-9, abs_=1e-12)


def test_constant_lr_with_zero_iterations_keeps_the_factor():
    opt = make_opt()
    assert_lrs(run(S.ConstantLR(opt, 0.5, 0), opt, 3), [[0.05, 0.015]] * 3)


def test_lambda_and_multiplicative_lr():
    opt = make_opt()
    got = run(S.LambdaLR(opt, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]), opt, 10)
    assert_lrs(got, [[0.1 * 0.9 ** e, 0.03 / (1 + e)] for e in range(10)])
    opt = make_opt()
    got = run(S.MultiplicativeLR(opt, lambda e: 1 - 0.01 * e), opt, 10)
    want = [[b * math.prod(1 - 0.01 * k for k in range(1, e + 1)) for b in BASES]
            for e in range(10)]
    assert_lrs(got, want)


def warm_restarts_reference(base, eta_min, T_0, T_mult, epoch):
    """Walk the periods: T_cur counts epochs since the restart, T_i is this period's length."""
    T_i, T_cur = T_0, epoch
    while T_cur >= T_i:
        T_cur -= T_i
        T_i *= T_mult
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2


@given(T_0=st.integers(1, 5), T_mult=st.integers(1, 3), eta_min=st.sampled_from([0.0, 1e-3]),
       steps=st.integers(1, 40))
def test_cosine_annealing_warm_restarts(T_0, T_mult, eta_min, steps):
    opt = make_opt()
    got = run(S.CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min), opt, steps)
    want = expected(lambda b, e: warm_restarts_reference(b, eta_min, T_0, T_mult, e), steps)
    assert_lrs(got, want, rel=1e-12, abs_=1e-15)


def test_cosine_annealing_warm_restarts_fractional_epochs():
    opt = make_opt()
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    for epoch in [0.5, 1.25, 2.0, 3.5, 6.0, 6.5, 0.25]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")           # no deprecation warning here
            sched.step(epoch)
        want = [warm_restarts_reference(b, 0.0, 2, 2, epoch) for b in BASES]
        assert sched.get_last_lr() == pytest.approx(want, rel=1e-12, abs=1e-15)
        assert sched.last_epoch == math.floor(epoch)
    with pytest.raises(ValueError, match="^Expected non-negative epoch, but got -1$"):
        sched.step(-1)


def one_cycle_reference(max_lr, total, pct, div, final_div, strategy, three_phase, step):
    """The 1cycle policy from its description: (lr, momentum) at `step`."""
    initial, low = max_lr / div, max_lr / div / final_div

    def anneal(a, b, frac):
        if strategy == "cos":
            return b + (a - b) / 2 * (1 + math.cos(math.pi * frac))
        return a + (b - a) * frac

    up = pct * total - 1
    if three_phase:
        phases = [(up, initial, max_lr, 0.95, 0.85), (2 * pct * total - 2, max_lr, initial, 0.85,
                                                      0.95), (total - 1, initial, low, 0.95, 0.95)]
    else:
        phases = [(up, initial, max_lr, 0.95, 0.85), (total - 1, max_lr, low, 0.85, 0.95)]
    start = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            frac = (step - start) / (end - start)
            return anneal(lr0, lr1, frac), anneal(m0, m1, frac)
        start = end


@given(total=st.integers(4, 40), pct=st.floats(0.1, 0.45), div=st.floats(2.0, 50.0),
       final_div=st.floats(10.0, 1e4), strategy=st.sampled_from(["cos", "linear"]),
       three_phase=st.booleans())
def test_one_cycle_lr(total, pct, div, final_div, strategy, three_phase):
    assume(pct * total > 1.01)          # a phase of no steps divides by zero (next test)
    opt = make_opt(lrs=(0.5,), momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=2.0, total_steps=total, pct_start=pct, div_factor=div,
                         final_div_factor=final_div, anneal_strategy=strategy,
                         three_phase=three_phase)
    for step in range(total):
        lr, momentum = one_cycle_reference(2.0, total, pct, div, final_div, strategy,
                                           three_phase, step)
        assert sched.get_last_lr()[0] == pytest.approx(lr, rel=1e-12, abs=1e-15)
        assert opt.param_groups[0]["momentum"] == pytest.approx(momentum, rel=1e-12)
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match=f"^Tried to step {total + 1} times"):
        sched.step()


def test_one_cycle_with_an_empty_phase_divides_by_zero_as_torch():
    with pytest.raises(ZeroDivisionError):
        S.OneCycleLR(make_opt(momentum=0.9), 2.0, total_steps=10, pct_start=0.1)


def test_one_cycle_sets_groups_and_cycles_adam_beta1():
    opt = make_opt(lrs=(0.5, 0.1), cls=optim.Adam, betas=(0.8, 0.99))
    S.OneCycleLR(opt, max_lr=[1.0, 0.2], epochs=2, steps_per_epoch=5)
    g0, g1 = opt.param_groups
    assert (g0["initial_lr"], g0["max_lr"], g0["min_lr"]) == (0.04, 1.0, 0.04 / 1e4)
    assert g1["max_lr"] == 0.2 and g0["betas"] == (0.95, 0.99)
    assert (g0["max_momentum"], g0["base_momentum"]) == (0.95, 0.85)


def cyclic_reference(base, top, up, down, mode, gamma, step):
    """The triangular cycle from its description: rise for `up` steps, fall for `down`."""
    period = up + down
    cycle, pos = step // period + 1, step % period
    rise = pos / up if pos <= up else (period - pos) / down
    scale = {"triangular": 1.0, "triangular2": 0.5 ** (cycle - 1),
             "exp_range": gamma ** step}[mode]
    return base + (top - base) * rise * scale


@given(up=st.integers(1, 6), down=st.integers(1, 6),
       mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
       gamma=st.floats(0.8, 1.0), steps=st.integers(1, 40))
def test_cyclic_lr(up, down, mode, gamma, steps):
    opt = make_opt(lrs=(0.5,), momentum=0.9)
    sched = S.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=up, step_size_down=down,
                       mode=mode, gamma=gamma, base_momentum=0.7, max_momentum=0.95)
    for step in range(steps):
        lr = cyclic_reference(0.01, 0.2, up, down, mode, gamma, step)
        momentum = 0.95 - (0.95 - 0.7) * (lr - 0.01) / (0.2 - 0.01)
        assert sched.get_last_lr()[0] == pytest.approx(lr, rel=1e-9, abs=1e-12)
        assert opt.param_groups[0]["momentum"] == pytest.approx(momentum, rel=1e-9)
        opt.step()
        sched.step()


def plateau_reference(metrics, lr, mode, factor, patience, threshold, threshold_mode, cooldown,
                      min_lr, eps):
    """ReduceLROnPlateau from its description: the lr after each step(metric)."""
    sign = 1 if mode == "min" else -1
    best, bad, cool, out = math.inf * sign, 0, 0, []
    for m in metrics:
        if threshold_mode == "rel":
            better = m < best * (1 - threshold) if mode == "min" else m > best * (1 + threshold)
        else:
            better = m < best - threshold if mode == "min" else m > best + threshold
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > eps:
                lr = new
            cool, bad = cooldown, 0
        out.append(lr)
    return out


@given(metrics=st.lists(st.integers(-5, 5).map(lambda x: x / 4), min_size=1, max_size=30),
       mode=st.sampled_from(["min", "max"]), factor=st.floats(0.1, 0.9),
       patience=st.integers(0, 3), threshold=st.sampled_from([0.0, 1e-4, 0.1]),
       threshold_mode=st.sampled_from(["rel", "abs"]), cooldown=st.integers(0, 2),
       min_lr=st.sampled_from([0.0, 0.01]), eps=st.sampled_from([1e-8, 0.01]))
def test_reduce_lr_on_plateau(metrics, mode, factor, patience, threshold, threshold_mode,
                              cooldown, min_lr, eps):
    opt = make_opt(lrs=(0.1,))
    sched = S.ReduceLROnPlateau(opt, mode, factor, patience, threshold, threshold_mode,
                                cooldown, min_lr, eps)
    got = []
    for m in metrics:
        opt.step()
        sched.step(tt.tensor(m))                     # a 1-element tensor is accepted
        got.append(sched.get_last_lr()[0])
    want = plateau_reference(metrics, 0.1, mode, factor, patience, threshold, threshold_mode,
                             cooldown, min_lr, eps)
    assert got == pytest.approx(want, rel=1e-12)


def test_reduce_lr_on_plateau_min_lr_per_group_and_new_groups():
    opt = make_opt()
    sched = S.ReduceLROnPlateau(opt, patience=0, min_lr=[0.05, 0.0])
    opt.step()
    sched.step(1.0)
    sched.step(1.0)
    assert sched.get_last_lr() == pytest.approx([0.05, 0.003])
    opt.add_param_group({"params": [tt.zeros(1, requires_grad=True)]})
    with pytest.raises(RuntimeError, match=r"^The number of param groups in the `optimizer` "
                                           r"\(3\) differs from when `ReduceLROnPlateau` was "
                                           r"initialized \(2\)"):
        sched.step(1.0)


def test_sequential_lr_warmup_then_cosine():
    opt = make_opt()
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=4)
    cos = S.CosineAnnealingLR(opt, T_max=6)
    sched = S.SequentialLR(opt, [warm, cos], milestones=[4])
    got = run(sched, opt, 12)
    want = expected(lambda b, e: b * (0.1 + 0.9 * e / 4) if e < 4 else
                    b * (1 + math.cos(math.pi * (e - 4) / 6)) / 2, 12)
    assert_lrs(got, want, rel=1e-9, abs_=1e-12)


def test_chained_scheduler_multiplies_the_factors():
    opt = make_opt()
    sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=3),
                                S.ExponentialLR(opt, gamma=0.9)])
    got = run(sched, opt, 8)
    assert_lrs(got, expected(lambda b, e: b * (0.5 if e < 3 else 1) * 0.9 ** e, 8), rel=1e-12)


# ---------------------------------------------------------------------------- step(epoch)

@pytest.mark.parametrize("make, formula", [
    (lambda o: S.StepLR(o, 3, 0.5), lambda b, e: b * 0.5 ** (e // 3)),
    (lambda o: S.MultiStepLR(o, [2, 6, 6], 0.5),
     lambda b, e: b * 0.5 ** bisect_right([2, 6, 6], e)),
    (lambda o: S.ExponentialLR(o, 0.9), lambda b, e: b * 0.9 ** e),
    (lambda o: S.CosineAnnealingLR(o, 8, 0.001),
     lambda b, e: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * e / 8)) / 2),
    (lambda o: S.LinearLR(o, 0.2, 0.8, 5), lambda b, e: b * (0.2 + 0.6 * min(e, 5) / 5)),
    (lambda o: S.ConstantLR(o, 0.3, 4), lambda b, e: b * (0.3 if e < 4 else 1.0)),
    (lambda o: S.PolynomialLR(o, 6, 2.0), lambda b, e: b * (1 - min(e, 6) / 6) ** 2),
])
def test_step_with_epoch_uses_the_closed_form_and_warns(make, formula):
    opt = make_opt()
    sched = make(opt)
    for e in [5, 1, 9, 9, 0, 3]:
        opt.step()
        with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was "
                                             "not necessary"):
            sched.step(e)
        assert sched.last_epoch == e
        assert sched.get_last_lr() == pytest.approx([formula(b, e) for b in BASES], rel=1e-12)
        assert sched._get_closed_form_lr() == pytest.approx(sched.get_last_lr(), rel=1e-12)


# ---------------------------------------------------------------------------- state dicts

def _counter_free(d):
    return {k: (dict(v) if k == "milestones" else v) for k, v in d.items()}


FACTORIES = {
    "StepLR": lambda o: S.StepLR(o, 3, 0.5),
    "MultiStepLR": lambda o: S.MultiStepLR(o, [2, 5, 5], 0.5),
    "ExponentialLR": lambda o: S.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, 5, 0.001),
    "LinearLR": lambda o: S.LinearLR(o, 0.2, 1.0, 6),
    "ConstantLR": lambda o: S.ConstantLR(o, 0.5, 3),
    "PolynomialLR": lambda o: S.PolynomialLR(o, 10, 1.5),
    "MultiplicativeLR": lambda o: S.MultiplicativeLR(o, lambda e: 0.97),
    "CosineAnnealingWarmRestarts": lambda o: S.CosineAnnealingWarmRestarts(o, 3, 2, 1e-3),
    "OneCycleLR": lambda o: S.OneCycleLR(o, [1.0, 0.5], total_steps=20),
    "CyclicLR": lambda o: S.CyclicLR(o, 0.01, [0.5, 0.2], 3, mode="exp_range", gamma=0.9),
    "SequentialLR": lambda o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, 3),
                                                 S.ExponentialLR(o, 0.8)], [4]),
    "ChainedScheduler": lambda o: S.ChainedScheduler([S.StepLR(o, 2, 0.5),
                                                      S.ExponentialLR(o, 0.95)]),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_dict_round_trip_continues_identically(name, tmp_path):
    """Optimizer and scheduler saved at epoch 7 (through tt.save), loaded into fresh ones,
    continue with the lrs of an uninterrupted run."""
    opt = make_opt(momentum=0.9)
    want = run(FACTORIES[name](opt), opt, 18)

    opt1 = make_opt(momentum=0.9)
    sched1 = FACTORIES[name](opt1)
    first = run(sched1, opt1, 7)
    tt.save({"optimizer": opt1.state_dict(), "scheduler": sched1.state_dict()},
            tmp_path / "ckpt.npz")
    ckpt = tt.load(tmp_path / "ckpt.npz")
    opt2 = make_opt(lrs=(5.0, 5.0), momentum=0.9)
    sched2 = FACTORIES[name](opt2)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert _counter_free(sched2.state_dict()) == _counter_free(sched1.state_dict())
    assert_lrs(first + run(sched2, opt2, 11), want, rel=1e-13)


def test_state_dict_excludes_optimizer_and_has_torch_keys():
    sched = S.StepLR(make_opt(), 3)
    assert set(sched.state_dict()) == {"step_size", "gamma", "base_lrs", "last_epoch",
                                       "_step_count", "_is_initial",
                                       "_get_lr_called_within_step", "_last_lr"}


def test_lambda_state_dict_saves_callable_objects_not_functions():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = make_opt()
    fn = Decay()
    sched = S.LambdaLR(opt, [fn, lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    fn2 = Decay()
    fn2.rate = 0.1
    sched2 = S.LambdaLR(make_opt(), [fn2, lambda e: 1.0])
    sched2.load_state_dict(sd)
    assert fn2.rate == 0.5 and "lr_lambdas" in sd


def test_initial_lr_and_resume_with_last_epoch():
    opt = make_opt()
    sched = S.ExponentialLR(opt, 0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASES)
    run(sched, opt, 3)
    # resuming: initial_lr is kept, the lr continues from the group's current value
    resumed = S.ExponentialLR(opt, 0.5, last_epoch=2)
    assert resumed.base_lrs == list(BASES) and resumed.last_epoch == 3
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in "
                                       "param_groups\\[0\\] when resuming scheduler with "
                                       "last_epoch >= 0"):
        S.StepLR(make_opt(), 3, last_epoch=5)


def test_copy_and_deepcopy_of_a_scheduler_and_its_optimizer():
    opt = make_opt()
    sched = S.StepLR(opt, 2)
    opt.step()
    sched.step()
    sched2 = copy.deepcopy(sched)
    sched2.optimizer.step()
    sched2.step()
    assert sched.last_epoch == 1 and sched2.last_epoch == 2


# ---------------------------------------------------------------------------- warnings

def test_warns_when_scheduler_steps_before_optimizer():
    opt = make_opt()
    sched = S.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before "
                                         "`optimizer.step\\(\\)`"):
        sched.step()


def test_no_warning_in_the_right_order():
    opt = make_opt()
    sched = S.CosineAnnealingLR(opt, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.step()
            sched.step()


def test_warns_when_optimizer_step_was_replaced():
    opt = make_opt()
    sched = S.StepLR(opt, 2)
    opt.step = lambda closure=None: None
    with pytest.warns(UserWarning, match="Seems like `optimizer.step\\(\\)` has been overridden"):
        sched.step()


def test_get_lr_outside_step_warns():
    opt = make_opt()
    sched = S.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_two_schedulers_wrap_optimizer_step_once():
    opt = make_opt()
    S.StepLR(opt, 2)
    wrapped = opt.step
    S.ExponentialLR(opt, 0.9)
    assert opt.step is wrapped


# ---------------------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("make, exc, msg", [
    (lambda o: S.StepLR("sgd", 3), TypeError, "str is not an Optimizer"),
    (lambda o: S.ReduceLROnPlateau(None), TypeError, "NoneType is not an Optimizer"),
    (lambda o: S.ConstantLR(o, factor=1.5), ValueError,
     "Constant multiplicative factor expected to be between 0 and 1."),
    (lambda o: S.LinearLR(o, start_factor=0), ValueError,
     "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."),
    (lambda o: S.LinearLR(o, end_factor=-0.1), ValueError,
     "Ending multiplicative factor expected to be between 0 and 1."),
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: S.MultiplicativeLR(o, 0.9), TypeError,
     "lr_lambda should be a function, but got float"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError,
     "Expected positive integer T_0, but got 0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError,
     "Expected integer T_mult >= 1, but got 0"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0."),
    (lambda o: S.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode avg is unknown!"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="x"), ValueError,
     "threshold mode x is unknown!"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: S.OneCycleLR(o, 1.0), ValueError,
     "You must define either total_steps OR (epochs AND steps_per_epoch)"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=-2), ValueError,
     "Expected positive integer total_steps, but got -2"),
    (lambda o: S.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=0), ValueError,
     "Expected positive integer steps_per_epoch, but got 0"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=9, pct_start=1.5), ValueError,
     "Expected float between 0 and 1 pct_start, but got 1.5"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=9, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
    (lambda o: S.OneCycleLR(o, [1.0], total_steps=9), ValueError,
     "max_lr must have the same length as optimizer.param_groups. max_lr has 1 values, "
     "param_groups has 2."),
    (lambda o: S.OneCycleLR(optim.Adagrad(o.param_groups[0]["params"]), 1.0, total_steps=9),
     ValueError, "optimizer must support momentum or beta1 with `cycle_momentum` option "
                 "enabled"),
    (lambda o: S.CyclicLR(o, 0.1, 1.0, mode="cosine"), ValueError,
     "mode is invalid and scale_fn is None"),
    (lambda o: S.CyclicLR(o, 0.1, [1.0, 2.0, 3.0]), ValueError,
     "max_lr must have the same length as optimizer.param_groups. max_lr has 3 values, "
     "param_groups has 2."),
    (lambda o: S.SequentialLR(o, [], []), ValueError,
     "SequentialLR expects at least one scheduler, but got no scheduler."),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2)], [3]), ValueError,
     "Sequential Schedulers expects number of schedulers provided to be one more than the "
     "number of milestone points, but got number of schedulers 1 and the number of milestones "
     "to be equal to 1"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2), 5], [3]), TypeError,
     "SequentialLR at index 1 should have `optimizer` as its attribute."),
    (lambda o: S.ChainedScheduler([S.StepLR(o, 2), S.ReduceLROnPlateau(o)]), ValueError,
     "ChainedScheduler does not support `ReduceLROnPlateau` scheduler as it requires "
     "additional kwargs to be specified when calling `step`, but got one at index 1 in the "
     "given schedulers sequence."),
    (lambda o: S.ChainedScheduler([]), ValueError,
     "ChainedScheduler expects at least one scheduler to be chained, but got no scheduler."),
])
def test_bad_arguments(make, exc, msg):
    with pytest.raises(exc) as e:
        make(make_opt())
    assert str(e.value) == msg


def test_schedulers_of_another_optimizer_are_refused():
    a, b = make_opt(), make_opt()
    with pytest.raises(ValueError, match="^SequentialLR expects all schedulers to belong to the "
                                         "same optimizer, but got scheduler StepLR at index 1"):
        S.SequentialLR(a, [S.StepLR(a, 2), S.StepLR(b, 2)], [3])


# ---------------------------------------------------------------------------- API surface

def test_names_and_subclassing():
    assert tt.optim.lr_scheduler is S
    assert issubclass(S._LRScheduler, S.LRScheduler) and S._LRScheduler.__name__ == "_LRScheduler"
    for name in S.__all__:
        assert hasattr(S, name)

    class Halving(S._LRScheduler):
        def get_lr(self):
            return [b * 0.5 ** self.last_epoch for b in self.base_lrs]

    opt = make_opt()
    assert_lrs(run(Halving(opt), opt, 4), expected(lambda b, e: b * 0.5 ** e, 4))
    with pytest.raises(NotImplementedError):
        S.LRScheduler(make_opt())


def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(S)
    assert result.failed == 0 and result.attempted >= 15
