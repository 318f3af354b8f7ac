"""The convolution plan (tinytensor/_functions/conv_plan.py): what it chooses, forcing it
(conv_plan.force and TINYTENSOR_CONV_PLAN), and its repr. Each forced path's values are
checked against the reference in test_conv.py (on_path)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tinytensor as tt
from tinytensor._functions import conv as conv_fn, conv_plan
from tinytensor._kernels import conv as K, conv_wgrad as KW

GEO1 = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))          # 3x3, padding 1


def plan(x, w, geo=GEO1, groups=1, dtype=np.float32, threads=2):
    return conv_fn.plan(x, w, geo, groups, dtype, threads)


def test_the_choices_follow_the_shapes_and_dtype():
    s4 = plan((32, 64, 1, 56, 56), (64, 64, 1, 3, 3))
    if K.own_sgemm():
        assert (s4.forward, s4.input_grad) == ("winograd", "flipped")
        assert s4.weight_grad == "winograd"
        s4_5x5 = plan((32, 64, 1, 56, 56), (64, 64, 1, 5, 5),
                      geo=conv_plan.geometry((1, 1), (2, 2), (1, 1), (2, 2)))
        assert s4_5x5.weight_grad == ("dot" if KW.available() else "gemm")
    assert plan((32, 64, 1, 56, 56), (64, 64, 1, 3, 3), dtype=np.float64).forward == "gemm"
    dw = plan((32, 64, 1, 56, 56), (64, 1, 1, 3, 3), groups=64)
    assert (dw.forward, dw.input_grad, dw.weight_grad) == ("direct", "direct-fused", "direct-fused")
    two = plan((4, 2, 1, 8, 8), (2, 1, 1, 3, 3), groups=2)           # too few groups to fuse
    assert (two.input_grad, two.weight_grad) == ("direct", "direct")
    tiny = plan((1, 2, 1, 4, 4), (2, 2, 1, 3, 3))
    assert tiny.threads == 1                                         # too small for 2 threads


def test_padded_small_planes_take_the_tap_by_tap_paths():
    """A DCGAN generator layer's convolution (8 x 8 <-> 4 x 4, kernel 4, stride 2, padding 1:
    23% of im2col's products read padding) runs tap by tap, in every dtype; the benchmark
    shapes of bench_conv keep their paths (S3: no padding; S4: 2% padding; S1: 3 channels)."""
    geo = conv_plan.geometry((2, 2), (1, 1), (1, 1), (1, 1))
    assert conv_plan.skipped_fraction((64, 256, 1, 8, 8), (512, 256, 1, 4, 4), geo) == 0.234375
    for dtype in (np.float32, np.float64):
        p = plan((64, 256, 1, 8, 8), (512, 256, 1, 4, 4), geo=geo, dtype=dtype)
        assert (p.forward, p.input_grad, p.weight_grad) == ("taps", "taps", "taps")
    none = conv_plan.geometry((1, 1), (0, 0), (1, 1), (0, 0))
    for x, w, g in [((64, 32, 1, 8, 8), (64, 32, 1, 5, 5), none),
                    ((32, 64, 1, 56, 56), (64, 64, 1, 3, 3), GEO1),
                    ((128, 3, 1, 20, 20), (5, 3, 1, 5, 5), none),
                    ((64, 16, 1, 8, 8), (64, 16, 1, 4, 4), geo)]:       # 16 channels: too few
        p = plan(x, w, geo=g)
        assert "taps" not in (p.forward, p.input_grad, p.weight_grad), (x, w)
    with conv_plan.force(forward="taps", input_grad="taps", weight_grad="taps"):
        p = plan((2, 4, 1, 64, 64), (4, 4, 1, 3, 3))                # too large a plane
        assert "taps" not in (p.forward, p.input_grad, p.weight_grad)
        p = plan((2, 4, 1, 9, 9), (4, 4, 1, 3, 3), dtype=np.float64)
        assert (p.forward, p.input_grad, p.weight_grad) == ("taps", "taps", "taps")


def test_forcing_takes_a_path_where_it_can_run():
    with conv_plan.force(forward="gemm", input_grad="gemm", weight_grad="gemm"):
        p = plan((32, 64, 1, 56, 56), (64, 64, 1, 3, 3))
        assert (p.forward, p.input_grad, p.weight_grad) == ("gemm", "gemm", "gemm")
        assert p.forced == dict(forward="gemm", input_grad="gemm", weight_grad="gemm")
        with conv_plan.force(forward="panels"):                      # nested: adds
            p = plan((32, 64, 1, 56, 56), (64, 64, 1, 3, 3))
            assert p.input_grad == "gemm"
            assert p.forward == ("panels" if K.own_sgemm() else "gemm")
    assert conv_plan.forced() == {}
    stride3 = conv_plan.geometry((1, 3), (0, 0), (1, 1), (0, 0))
    with conv_plan.force(forward="rows", input_grad="flipped", weight_grad="direct"):
        p = plan((2, 4, 1, 9, 30), (4, 4, 1, 3, 3), geo=stride3)
        assert p.forward != "rows" and p.input_grad != "flipped"     # W-stride 3: cannot
        assert p.weight_grad != "direct"                             # 4 channels a group
        p = plan((2, 4, 1, 9, 30), (4, 4, 1, 3, 3), dtype=np.float64)
        assert p.forward == "gemm" and p.input_grad == "flipped"     # flipped: any dtype
    with conv_plan.force(input_grad="direct-fused", weight_grad="gemm"):
        p = plan((2, 8, 1, 9, 9), (8, 1, 1, 3, 3), groups=8)
        assert (p.input_grad, p.weight_grad) == ("direct", "gemm")  # fused needs both


def test_force_checks_its_arguments():
    with pytest.raises(ValueError, match="forward='fast' is not one of direct, winograd6, winograd, winograd1d, rows"):
        with conv_plan.force(forward="fast"):
            pass
    with pytest.raises(TypeError, match="unexpected keyword"):
        with conv_plan.force(backward="gemm"):
            pass
    with pytest.raises(ValueError, match="chunk_columns must be a positive integer"):
        with conv_plan.force(chunk_columns=0):
            pass


def test_repr_names_every_choice():
    with conv_plan.force(weight_grad="gemm", chunk_columns=64):
        text = repr(plan((8, 16, 1, 32, 32), (32, 16, 1, 3, 3), dtype=np.float64, threads=1))
    assert text.startswith("ConvPlan(forward='gemm', input_grad='gemm', weight_grad='gemm', "
                           "threads=1, chunk=1, block=1024, parts=8, dtype=float64, isa=")
    assert text.endswith(", forced={'weight_grad': 'gemm', 'chunk_columns': 64})")


def _child(env_value, code):
    root = os.path.dirname(os.path.dirname(os.path.abspath(tt.__file__)))
    env = dict(os.environ, TINYTENSOR_CONV_PLAN=env_value,
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.abspath(__file__)))


def test_the_environment_forces_paths_for_a_process():
    code = ("import numpy as np, tinytensor as tt, tinytensor.nn.functional as F\n"
            "from tinytensor._functions import conv, conv_plan\n"
            "p = conv.plan((2, 4, 1, 9, 30), (4, 4, 1, 3, 3), conv_plan.geometry((1, 1), (0, 0),"
            " (1, 1), (0, 0)), 1, np.float32, 1)\n"
            "print(p.forward, p.input_grad, p.weight_grad, p.chunk)\n"
            "F.conv2d(tt.ones(2, 4, 9, 30), tt.ones(4, 4, 3, 3))\n"
            "tt.show_config()\n")
    run = _child("forward=gemm, weight_grad=gemm,chunk_columns=300", code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "gemm " + ("flipped" if K.own_sgemm() else "gemm") \
        + " gemm 2"
    assert "forward=gemm, weight_grad=gemm, chunk_columns=300" in run.stdout
    # checked when the convolutions load (`import tinytensor` alone does not load them)
    run = _child("forward=fastest", "import tinytensor.nn.functional")
    assert run.returncode != 0
    assert "ValueError: TINYTENSOR_CONV_PLAN: forward='fastest' is not one of" in run.stderr
