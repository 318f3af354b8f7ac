"""Every `>>>` example on the documentation pages (docs/**/*.rst) runs and prints what it says.

The pages are read as doctest files with the globals the docstring examples get
(tests/test_doctests.py): tt, nn, F, np. Each page runs in a fresh temporary directory (examples
that save checkpoints write there), seeded with tt.manual_seed(0). The generated API pages
(docs/api/generated, from the docstrings) are covered by test_doctests.py instead."""
import doctest
import pathlib

import numpy as np
import pytest

import tinytensor

_DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
_PAGES = sorted(p for p in _DOCS.rglob("*.rst")
                if not {"_build", "generated"} & set(p.relative_to(_DOCS).parts))


def test_pages_found():
    assert _PAGES, f"no .rst pages under {_DOCS}"


@pytest.mark.parametrize("page", _PAGES, ids=lambda p: str(p.relative_to(_DOCS)))
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    threads = tinytensor.get_num_threads()
    globs = {"tt": tinytensor, "np": np, "nn": tinytensor.nn, "F": tinytensor.nn.functional}
    parser = doctest.DocTestParser()
    test = parser.get_doctest(page.read_text(encoding="utf-8"), globs, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    tinytensor.manual_seed(0)
    try:
        runner.run(test, out=report.append)
    finally:
        tinytensor.set_num_threads(threads)      # a page may change it; leave it as it was
    assert runner.failures == 0, "".join(report)
