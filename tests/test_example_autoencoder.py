"""examples/train_autoencoder.py: a smoke run on a few hundred images."""
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np

import tinytensor as tt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "train_autoencoder.py")


def test_smoke_two_epochs_on_256_images(tmp_path):
    out = tmp_path / "ae.npz"
    res = subprocess.run([sys.executable, SCRIPT, "--epochs", "2", "--limit", "256",
                          "--threads", "1", "--out", str(out)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning"))
    assert res.returncode == 0, res.stdout + res.stderr
    stdout = res.stdout
    assert "256 training / 256 test images" in stdout
    assert "ConvTranspose2d(32, 16, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))" in stdout
    assert "GroupNorm(8, 32, eps=1e-05, affine=True, bias=True)" in stdout
    assert "401408" in stdout                                  # the summary table was printed
    before = float(re.search(r"before training: test mse (\d+\.\d+)", stdout).group(1))
    after = float(re.findall(r"test mse (\d+\.\d+)", stdout)[-1])
    assert after < 0.5 * before, stdout                         # it learned to reconstruct
    state = tt.load(out)
    assert state["decoder.3.weight"].shape == (32, 16, 4, 4)
    with np.load(out, allow_pickle=False) as z:                 # readable without tinytensor
        assert z["decoder.6.weight"].shape == (16, 1, 4, 4)
    png = tmp_path / "ae_reconstructions.png"
    if importlib.util.find_spec("matplotlib") is None:
        assert "pip install .[plot]" in stdout
    else:
        assert png.stat().st_size > 1000


def test_bad_arguments_are_reported():
    res = subprocess.run([sys.executable, SCRIPT, "--batch-size", "0"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "--batch-size must be positive" in res.stderr
