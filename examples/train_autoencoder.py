"""Train a small convolutional autoencoder on MNIST with tinytensor.

    python examples/train_autoencoder.py                  # bundled 5,000-digit sample
    python examples/train_autoencoder.py --epochs 1 --limit 256   # a quick smoke run

The encoder halves the image twice with strided convolutions and BatchNorm (28 -> 14 -> 7) down
to a 4 x 7 x 7 code (196 numbers for 784 pixels); the decoder grows it back with transposed
convolutions and GroupNorm (7 -> 14 -> 28) and a sigmoid. Trained with Adam on the mean
squared error; prints the summary table and the test error per epoch, saves the weights
(`tt.save`, a NumPy-readable .npz) and, when matplotlib is installed, a PNG grid of test digits
(top rows) and their reconstructions (bottom rows). About a minute on 2 cores.
"""
import argparse
import os
import sys
import time

import numpy as np

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
import tinytensor.utils
from tinytensor import optim
from tinytensor.datasets import MNIST
from tinytensor.utils.data import DataLoader, TensorDataset


class AutoEncoder(nn.Module):
    """28 x 28 -> 4 x 7 x 7 -> 28 x 28."""

    def __init__(self, code_channels=4):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),   # 14
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # 7
            nn.Conv2d(32, code_channels, 3, padding=1))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(code_channels, 32, 3, padding=1), nn.GroupNorm(8, 32), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.GroupNorm(4, 16),   # 14
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid())           # 28

    def forward(self, x):
        return self.decoder(self.encoder(x))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=6, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=64, help="images per training step")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for tinytensor's kernels (default: all cores / OMP_NUM_THREADS)")
    p.add_argument("--limit", metavar="N", type=int, default=None,
                   help="use only the first N training and N test images")
    p.add_argument("--out", metavar="PATH", default="autoencoder.npz",
                   help="where to save the weights (the reconstructions PNG goes next to it)")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation and shuffling")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "threads", "limit"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "epochs" else 1):
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def load_images(train, limit):
    """N x 1 x 28 x 28 float32 images in [0, 1]."""
    ds = MNIST(train=train)
    images = ds.data if limit is None else ds.data[:limit]
    x = images.astype(np.float32) / np.float32(255)
    return tt.from_numpy(np.ascontiguousarray(x.reshape(-1, 1, 28, 28)))


def test_error(model, x, batch_size=500):
    """Mean squared reconstruction error on x, without recording a graph (eval mode)."""
    model.eval()
    total = 0.0
    with tt.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            total += F.mse_loss(model(xb), xb, reduction="sum").item()
    model.train()
    return total / max(x.numel(), 1)


def save_grid(model, x, path, n=12):
    """A PNG: n test digits (top rows) above their reconstructions (bottom rows)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no reconstructions PNG. Get it with "
              "`pip install .[plot]` (or `pip install matplotlib`).")
        return
    model.eval()
    with tt.no_grad():
        rec = model(x[:n]).numpy()
    model.train()
    orig = x[:n].numpy()
    fig, axes = plt.subplots(2, n, figsize=(n, 2.3))
    for i in range(n):
        for row, img in ((0, orig[i, 0]), (1, rec[i, 0])):
            axes[row, i].imshow(img, cmap="gray", vmin=0, vmax=1)
            axes[row, i].axis("off")
    fig.suptitle("MNIST test digits (top) and their reconstructions (bottom), tinytensor")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"reconstructions: {path}")


def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:
        tt.set_num_threads(args.threads)
    tt.manual_seed(args.seed)
    x_train, x_test = load_images(True, args.limit), load_images(False, args.limit)
    print(f"MNIST (bundled sample): {len(x_train)} training / {len(x_test)} test images; "
          f"{tt.get_num_threads()} thread(s)")
    model = AutoEncoder()
    print(model)
    print(tt.utils.summary(model, (1, 28, 28)))
    loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size, shuffle=True)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    print(f"before training: test mse {test_error(model, x_test):.4f}")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0, loss_sum, seen = time.perf_counter(), 0.0, 0
        for (xb,) in loader:
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(xb)
            seen += len(xb)
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        print(f"epoch {epoch}/{args.epochs}: train mse {loss_sum / max(seen, 1):.4f}  "
              f"test mse {test_error(model, x_test):.4f}  {rate:,.0f} img/s", flush=True)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    tt.save(model.state_dict(), args.out)
    print(f"weights: {args.out}")
    save_grid(model, x_test, os.path.splitext(args.out)[0] + "_reconstructions.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
