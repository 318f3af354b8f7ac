"""Choosing the kernel variant: TINYTENSOR_ISA at import (in a child process), and what every
variant this CPU runs gives: the same bits for any thread count, values as the default's."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor._kernels import _isa, _parallel, conv as K
from variants import VARIANTS, on_variant


def _import_with(isa):
    # the child imports the tinytensor this process imported (installed or built in place),
    # from tests/, where no source tree shadows it
    root = os.path.dirname(os.path.dirname(os.path.abspath(tt.__file__)))
    env = dict(os.environ, TINYTENSOR_ISA=isa,
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    code = "import tinytensor._kernels.conv as K; print(K.variant())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.abspath(__file__)))


def test_forcing_a_supported_variant():
    forced = _isa.supported()[-1]                     # "generic" on every CPU
    run = _import_with(forced.upper())
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == forced


def test_forcing_an_unknown_or_unsupported_variant_is_an_error():
    run = _import_with("sse9")
    assert run.returncode != 0 and "ValueError: TINYTENSOR_ISA='sse9': unknown variant" in run.stderr
    missing = [v for v in _isa.VARIANTS if v not in _isa.supported()]
    run = _import_with(missing[0])
    assert run.returncode != 0
    assert f"RuntimeError: TINYTENSOR_ISA='{missing[0]}': this CPU" in run.stderr


def test_default_is_the_best_supported():
    assert _isa.selected() == next(v for v in _isa.supported() if v in _isa.VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("xs,ws,kw", [
    ((8, 8, 33, 33), (16, 8, 3, 3), dict(stride=2, padding=1)),   # panels, col2im panels
    ((4, 6, 20, 40), (12, 6, 3, 3), dict(padding=1)),             # rows, flipped conv
])
def test_variant_bits_do_not_depend_on_threads(variant, xs, ws, kw, threads):
    rng = np.random.default_rng(5)
    x0, w0, b0 = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[:1]))
    results = []
    with on_variant(variant):
        for n in (1, 2):
            threads(n)
            x, w, b = (tt.tensor(a, requires_grad=True) for a in (x0, w0, b0))
            y = F.conv2d(x, w, b, **kw)
            (y * y).sum().backward()
            results.append([np.array(t.detach()._numpy()) for t in (y, x.grad, w.grad, b.grad)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_show_config_names_the_variant_threads_and_paths(capsys):
    tt.show_config()
    out = capsys.readouterr().out
    assert out.startswith(f"tinytensor {tt.__version__}\n")
    assert f"kernel variant:" in out and K.variant() in out
    assert f"threads:" in out and "OpenMP:" in out
    assert re.search(r"build: +(release|debug)", out).group(1) == \
        ("debug" if _parallel.debug_build() else "release")
    for path in ("float32 conv forward", "float32 conv weight gradient", "max-pool rows",
                 "matmul and linear:"):
        assert path in out
    with on_variant("generic"):
        tt.show_config()
    out = capsys.readouterr().out
    assert "generic; float32 6 x 8 tile, float64 6 x 4 tile" in out and "max-pool rows:" in out
    assert "float64 conv forward:" in out and "BLAS" not in out.replace("no BLAS", "")
