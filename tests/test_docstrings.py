"""Every public function, class and Tensor method has a docstring, with an example (issue 13).

The public surface is enumerated, not listed by hand: the names each public module exports
(its ``__all__``, else its public callables; for the top-level package, everything it exports),
the public methods and properties of ``Tensor`` (its compiled base's included) and the ctx
contract of ``autograd.Function``. The examples themselves run in tests/test_doctests.py.

Known gaps are listed below with the reason; strict: a gap that gets filled fails here until
its entry is removed, so the lists only shrink.
"""
import importlib
import inspect

import pytest

import tinytensor

MODULES = ["tinytensor", "tinytensor.creation", "tinytensor.random", "tinytensor.autograd",
           "tinytensor.nn", "tinytensor.nn.functional", "tinytensor.nn.init",
           "tinytensor.nn.utils", "tinytensor.optim", "tinytensor.optim.lr_scheduler",
           "tinytensor.utils", "tinytensor.utils.data"]

# C slots cannot carry a docstring; the ctx contract is being moved into the compiled Node on
# another branch (issue 13's fast path) and is documented there.
_NO_DOCSTRING_YET = {
    "Tensor.grad_fn": "a C slot of TensorBase (cdef public): no docstring possible",
    "autograd.Function.save_for_backward": "the ctx contract moves into _node.Node (issue 13 "
                                           "fast path, another branch); document it there",
    "autograd.Function.saved_tensors": "as save_for_backward",
    "autograd.Function.mark_non_differentiable": "as save_for_backward",
    "autograd.Function.set_materialize_grads": "as save_for_backward",
    "autograd.Function.apply": "compiled in _node.Node, being rewritten on another branch",
}
_NO_EXAMPLE_YET = {}


def _doc(obj):
    if isinstance(obj, type):
        return obj.__dict__.get("__doc__")       # not a base class's, inherited
    return getattr(obj, "__doc__", None)


def _module_surface():
    for name in MODULES:
        module = importlib.import_module(name)
        label = name.replace("tinytensor.", "").replace("tinytensor", "tt")
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n in dir(module) if not n.startswith("_")]
        for attr in names:
            obj = getattr(module, attr)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            home = getattr(obj, "__module__", name) or name
            if (name != "tinytensor" and getattr(module, "__all__", None) is None
                    and home != name and not home.startswith(name + ".")):
                continue                    # imported there, documented where it lives
            yield f"{label}.{attr}", obj


def _member_surface(label, cls, skip=()):
    for attr in dir(cls):
        if attr.startswith("_") or attr in skip:
            continue
        raw = inspect.getattr_static(cls, attr)
        if isinstance(raw, (bool, int, float, str, type(None))):
            continue                        # data: is_cuda, is_meta, ...
        yield f"{label}.{attr}", raw


def surface():
    items = dict(_module_surface())
    items.update(_member_surface("Tensor", tinytensor.Tensor))
    function = tinytensor.autograd.Function
    items.update(_member_surface("autograd.Function", function,
                                 skip=("needs_input_grad", "apply", "name", "next_functions")))
    for attr in ("apply", "name", "next_functions"):
        items[f"autograd.Function.{attr}"] = inspect.getattr_static(function, attr)
    return items


SURFACE = surface()


def _text(raw):
    raw = getattr(raw, "__func__", raw)             # staticmethod / classmethod
    if isinstance(raw, property):
        raw = raw.fget
    return _doc(raw) or ""


def test_the_surface_is_found():
    assert len(SURFACE) > 400
    for name in ("tt.zeros", "tt.Tensor", "Tensor.sum", "Tensor.shape", "Tensor.requires_grad",
                 "nn.functional.conv2d", "nn.Conv2d", "optim.SGD", "utils.data.DataLoader",
                 "random.manual_seed", "autograd.grad"):
        assert name in SURFACE, name


@pytest.mark.parametrize("name", sorted(SURFACE))
def test_public_name_has_a_docstring(name):
    has = bool(_text(SURFACE[name]).strip())
    if name in _NO_DOCSTRING_YET:
        assert not has, f"{name} has a docstring now: remove it from _NO_DOCSTRING_YET"
        pytest.skip(_NO_DOCSTRING_YET[name])
    assert has, f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(SURFACE))
def test_public_name_has_an_example(name):
    if name in _NO_DOCSTRING_YET:
        pytest.skip(_NO_DOCSTRING_YET[name])
    has = ">>>" in _text(SURFACE[name])
    if name in _NO_EXAMPLE_YET:
        assert not has, f"{name} has an example now: remove it from _NO_EXAMPLE_YET"
        pytest.skip(_NO_EXAMPLE_YET[name])
    assert has, f"{name}'s docstring has no example (>>>)"
