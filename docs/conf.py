"""Sphinx configuration for tinytensor's documentation.

Build (warnings are errors, as in CI):  sphinx-build -W --keep-going -b html docs docs/_build/html

Why Sphinx (autodoc + napoleon) and not MkDocs + mkdocstrings: tinytensor's core is compiled
Cython (Tensor's storage, kernels, the autograd node). autodoc imports the package and reads the
live objects, so compiled classes and their docstrings are documented like Python ones, while
mkdocstrings reads source files statically and sees nothing in a .so. The pages are reST, whose
``>>>`` blocks Python's own doctest module runs unchanged (tests/test_docs_examples.py), and
``-W`` turns a docstring that does not render (bad indentation, a stray ``*``) into a CI failure.
"""
import os
import sys

# In CI the package is installed (pip install ".[docs]") and imported from site-packages; in a
# source tree with the compiled extensions built in place (python setup.py build_ext --inplace),
# the repository root goes first on the path so that tree is the one documented.
_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if os.path.isdir(os.path.join(_ROOT, "tinytensor")) and any(
        name.startswith("_tensor.") and name.endswith((".so", ".pyd"))
        for name in os.listdir(os.path.join(_ROOT, "tinytensor"))):
    sys.path.insert(0, _ROOT)

import tinytensor  # noqa: E402

project = "tinytensor"
author = "the tinytensor authors"
copyright = "tinytensor authors, MIT License"
release = tinytensor.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]


# autodoc: every public module gets a page api/generated/<module>.rst, written at build time.
# A page documents the names in the module's __all__ (for the few modules without one: every
# public name they import), so a new class or function in an existing module appears by itself;
# a new public module is one more line here.
API_MODULES = [
    "tinytensor",
    "tinytensor.nn",
    "tinytensor.nn.functional",
    "tinytensor.nn.init",
    "tinytensor.nn.parallel",
    "tinytensor.optim",
    "tinytensor.optim.lr_scheduler",
    "tinytensor.autograd",
    "tinytensor.utils",
    "tinytensor.utils.data",
    "tinytensor.datasets",
    "tinytensor.serialization",
    "tinytensor.distributed",
    "tinytensor.accelerator",
    "tinytensor.cuda",
    "tinytensor.backends",
]


def _public_names(module):
    """The names a module's page documents: its __all__, or its public non-module attributes."""
    import types
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if not isinstance(getattr(module, n, None), types.ModuleType)]


def _home(obj):
    """The API module that documents obj in full: the longest one its __module__ starts with."""
    where = getattr(obj, "__module__", None) or ""
    homes = [m for m in API_MODULES if where == m or where.startswith(m + ".")]
    return max(homes, key=len) if homes else None


def _write_api_pages(app):
    """One reST page per module in API_MODULES, rewritten only when its text changes.

    A class or function exported by several modules (tt.no_grad and tt.autograd.no_grad) is
    documented once, on the page of the module it lives under, and linked from the others."""
    import importlib
    folder = os.path.join(app.srcdir, "api", "generated")
    os.makedirs(folder, exist_ok=True)
    for name in API_MODULES:
        module = importlib.import_module(name)
        elsewhere = {}
        for attr in _public_names(module):
            obj = getattr(module, attr)
            home = _home(obj) if callable(obj) else None
            if home is not None and home != name and home in API_MODULES and \
                    getattr(importlib.import_module(home), attr, None) is obj:
                elsewhere[attr] = home
        text = f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n"
        if elsewhere:
            text += "   :exclude-members: " + ", ".join(sorted(elsewhere)) + "\n"
            links = ", ".join(f":obj:`{attr} <{home}.{attr}>`"
                              for attr, home in sorted(elsewhere.items()))
            text += f"\nAlso exported here, documented with their own module: {links}.\n"
        _write_if_changed(os.path.join(folder, name + ".rst"), text)
    # the table of contents of api/index.rst, in the order of API_MODULES
    _write_if_changed(os.path.join(folder, "toctree.inc"),
                      ".. toctree::\n   :maxdepth: 1\n\n"
                      + "".join(f"   generated/{name}\n" for name in API_MODULES))


def _write_if_changed(path, text):
    """Rewrite only on a change, so Sphinx's incremental builds stay incremental."""
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


def _literal_code_in_module_docstrings(app, what, name, obj, options, lines):
    """Module docstrings show usage as an indented block after a blank line (tinytensor's
    style, readable in help()); make such a block a literal code block in the HTML too."""
    if what != "module":
        return
    raw = (obj.__doc__ or "").expandtabs().splitlines()
    if len(raw) > 1 and lines[:1] == [raw[0].strip()] and all(
            line.startswith("    ") for line in raw[1:] if line.strip()):
        # every line after the first is code: inspect.cleandoc dedented it into prose
        lines[:] = [raw[0].strip()] + raw[1:]
    i = 1
    while i < len(lines) - 1:
        prev, blank, nxt = lines[i - 1], lines[i], lines[i + 1]
        indent = len(nxt) - len(nxt.lstrip())
        if (not blank.strip() and prev.strip() and nxt.strip() and indent > 0
                and not prev.startswith((" ", ".."))
                and not prev.rstrip().endswith("::")):
            lines[i:i] = ["", "::"]
            i += 2
        i += 1


def setup(app):
    app.connect("builder-inited", _write_api_pages)
    app.connect("autodoc-process-docstring", _literal_code_in_module_docstrings)


# autodoc: document what each public module exports (its __all__), classes, then functions, then
# data, each alphabetical.
autodoc_default_options = {
    "members": True,
    "imported-members": True,       # only matters for modules without __all__
    "undoc-members": True,
    "show-inheritance": True,
    # Tensor's shape, dtype, grad, size(), stride() ... live in its compiled base TensorBase:
    # show inherited members, except those of bases that have their own entry (a Conv2d page
    # does not repeat every Module method).
    "inherited-members": "object, tuple, Module, Optimizer, LRScheduler, Dataset, Function, Exception",
    # every layer has these two; listing them on each page is noise (Module.train/eval and
    # Module.__repr__ say what they do)
    "exclude-members": "training, extra_repr",
    "member-order": "groupwise",
}
autodoc_typehints = "description"
autoclass_content = "both"          # class docstring + __init__ docstring

napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_custom_sections = ["Shape"]      # STYLE.md: Args, Shape, Returns, Raises, Example

html_theme = "furo"
html_title = f"tinytensor {release}"
