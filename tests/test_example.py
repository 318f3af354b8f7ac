"""examples/train_lenet.py: a smoke run on a few hundred images, and a slow full-length run."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tinytensor as tt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def run_example(tmp_path, *args, timeout):
    out = tmp_path / "lenet.npz"
    res = subprocess.run([sys.executable, os.path.join(EXAMPLES, "train_lenet.py"),
                          "--out", str(out), *args],
                         capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                         env=dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning"))
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout, out


def test_smoke_one_epoch_on_300_images(tmp_path):
    stdout, out = run_example(tmp_path, "--epochs", "1", "--limit", "300", "--threads", "1",
                              timeout=120)
    assert "300 training / 300 test images" in stdout
    assert "Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1))" in stdout
    assert "460800" in stdout.replace(",", "")                 # the summary table was printed
    assert re.search(r"epoch 1/1 \[#+\] 5/5 loss \d+\.\d+ +acc +\d+\.\d+% +[\d,]+ img/s", stdout)
    acc = float(re.search(r"test accuracy: (\d+\.\d+)%", stdout).group(1))
    assert acc > 20.0                                           # it learned something (chance 10%)
    state = tt.load(out)
    assert list(state) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                           "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert state["conv1.weight"].shape == (32, 1, 5, 5)
    with np.load(out, allow_pickle=False) as z:                 # readable without tinytensor
        assert z["fc2.weight"].shape == (10, 200)
    assert ("training curves:" in stdout) or ("pip install .[plot]" in stdout)


def test_show_filters(tmp_path):
    import importlib.util
    weights = tmp_path / "w.npz"
    tt.save({"conv1.weight": tt.randn(6, 1, 5, 5)}, weights)
    res = subprocess.run([sys.executable, os.path.join(EXAMPLES, "show_filters.py"),
                          str(weights)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    if importlib.util.find_spec("matplotlib") is None:
        assert "pip install .[plot]" in res.stdout
    else:
        assert (tmp_path / "w_conv1_filters.png").stat().st_size > 1000


def test_bad_arguments_are_reported(tmp_path):
    res = subprocess.run([sys.executable, os.path.join(EXAMPLES, "train_lenet.py"),
                          "--batch-size", "0"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--batch-size must be positive" in res.stderr
    res = subprocess.run([sys.executable, os.path.join(EXAMPLES, "train_lenet.py"),
                          "--data", str(tmp_path), "--epochs", "1"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "train-images-idx3-ubyte" in res.stderr


@pytest.mark.slow
def test_full_run_reaches_96_percent(tmp_path):
    stdout, _ = run_example(tmp_path, timeout=1800)
    acc = float(re.search(r"test accuracy: (\d+\.\d+)%", stdout).group(1))
    assert acc >= 96.0, stdout[-2000:]
