"""Every example in tinytensor's docstrings runs, and prints what it says (doctest).

The examples are collected from the installed package (the one the other tests import), module
by module, so a docstring that drifts from the code fails here."""
import doctest
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import tinytensor

# Docstrings known to fail today, each being rewritten on another branch. strict: the day one
# passes, this test fails until its entry is removed, so the list cannot go stale.
_KNOWN_FAILING = {
}

_MODULES = sorted(m.name for m in pkgutil.walk_packages(tinytensor.__path__, "tinytensor.")
                  if not m.name.split(".")[-1].startswith("test"))


class _Finder(doctest.DocTestFinder):
    """doctest's finder, which also sees a decorated function (functools.wraps: the wrapper's
    globals are the decorator's module) as belonging to the module that defines it."""

    def _from_module(self, module, object):
        if inspect.isfunction(object):
            object = inspect.unwrap(object)
        return super()._from_module(module, object)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=_KNOWN_FAILING[n]))
    if n in _KNOWN_FAILING else n for n in _MODULES])
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                  # examples that save files write them here
    module = importlib.import_module(name)
    globs = {**vars(module), "tt": tinytensor, "np": np, "nn": tinytensor.nn,
             "F": tinytensor.nn.functional}
    finder = _Finder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in finder.find(module, name, globs=globs):
        if test.examples:
            tinytensor.manual_seed(0)
            runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
