"""Issue 9's neighbours: the same mistakes as its 15 defects, found elsewhere afterwards.

13 (writes into self-overlapping memory): the optimizers and nn.utils' gradient clipping wrote
into expanded (stride-0) parameters and gradients, updating one memory location for several
elements, where PyTorch refuses ("more than one element of the written-to tensor refers to a
single memory location"). A refused call changes nothing.
"""
import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn as nn

_OVERLAP = "more than one element of the written-to tensor refers to a single memory location"

OPTIMIZERS = [
    ("SGD", dict(lr=0.5)), ("SGD", dict(lr=0.5, momentum=0.9, weight_decay=0.1)),
    ("Adam", dict(lr=0.5)), ("AdamW", dict(lr=0.5)), ("RMSprop", dict(lr=0.5)),
    ("Adagrad", dict(lr=0.5)), ("Adadelta", dict(lr=0.5)), ("NAdam", dict(lr=0.5)),
    ("RAdam", dict(lr=0.5)),
]


@pytest.mark.parametrize("name, kw", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in
                                                      enumerate(OPTIMIZERS)])
def test_13_optimizer_step_refuses_an_expanded_parameter(name, kw):
    ok = nn.Parameter(tt.zeros(3))                  # listed first: still unchanged after
    ok.grad = tt.ones(3)
    base = tt.zeros(1)
    p = nn.Parameter(base.expand(3))
    p.grad = tt.ones(3)
    opt = getattr(tt.optim, name)([ok, p], **kw)
    state = repr(opt.state_dict())
    with pytest.raises(RuntimeError, match=_OVERLAP):
        opt.step()
    assert base.tolist() == [0.0] and ok.tolist() == [0.0, 0.0, 0.0]
    assert repr(opt.state_dict()) == state          # no state was created or changed either
    p.grad = None                                   # no gradient: the parameter is skipped
    opt.step()
    assert base.tolist() == [0.0] and ok.tolist() != [0.0, 0.0, 0.0]


def test_13_optimizer_step_on_an_expanded_gradient_reads_it():
    """Only the parameter is written: an expanded .grad is fine (PyTorch too)."""
    p = nn.Parameter(tt.zeros(3))
    p.grad = tt.full((1,), 2.0).expand(3)
    tt.optim.SGD([p], lr=1.0, weight_decay=0.5).step()
    assert p.tolist() == [-2.0, -2.0, -2.0] and p.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("clip", [
    lambda ps: nn.utils.clip_grad_norm_(ps, 1.0),
    lambda ps: nn.utils.clip_grad_norm_(ps, 1e9),         # coefficient 1: still a write
    lambda ps: nn.utils.clip_grad_value_(ps, 1.0),
], ids=["norm", "norm_no_clip", "value"])
def test_13_grad_clipping_refuses_an_expanded_gradient(clip):
    ok = nn.Parameter(tt.zeros(2))
    ok.grad = tt.full((2,), 10.0)
    p = nn.Parameter(tt.zeros(3))
    g = tt.full((1,), 10.0)
    p.grad = g.expand(3)
    with pytest.raises(RuntimeError, match=_OVERLAP):
        clip([ok, p])
    assert g.tolist() == [10.0] and ok.grad.tolist() == [10.0, 10.0]   # nothing clipped


def test_13_grad_clipping_still_clips():
    p, q = nn.Parameter(tt.zeros(2)), nn.Parameter(tt.zeros(1))
    p.grad, q.grad = tt.tensor([3.0, 0.0]), tt.tensor([4.0])
    total = nn.utils.clip_grad_norm_([p, q, nn.Parameter(tt.zeros(1))], 1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(q.grad.numpy(), [0.8], rtol=1e-5)
    nn.utils.clip_grad_value_([p, q], 0.7)
    np.testing.assert_allclose(np.concatenate([p.grad.numpy(), q.grad.numpy()]),
                               [0.6, 0.0, 0.7], rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Bad input gets PyTorch's clear error, never a silent NaN: batch_norm's eps


@pytest.mark.parametrize("training, eps, text", [
    (True, -1.0, "batch_norm eps must be positive during training, but got -1.0"),
    (True, 0.0, "batch_norm eps must be positive during training, but got 0.0"),
    (False, -1e-5, "batch_norm eps must be non-negative, but got -1e-05"),
])
def test_batch_norm_refuses_a_bad_eps(training, eps, text):
    x = tt.ones(3, 2, 4)
    with pytest.raises(ValueError, match=text):
        tt.nn.functional.batch_norm(x, tt.zeros(2), tt.ones(2), training=training, eps=eps)
    with pytest.raises(ValueError, match=text):
        bn = nn.BatchNorm1d(2, eps=eps)
        bn.train(training)(x)
    y = tt.nn.functional.batch_norm(x, tt.zeros(2), tt.ones(2), training=False, eps=0.0)
    assert y.tolist() == x.tolist()                # eps = 0 is fine in eval mode
