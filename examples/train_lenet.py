"""Train the lecture's LeNet-like network on MNIST with tinytensor.

    python examples/train_lenet.py                  # bundled 5,000-digit sample, 10 epochs
    python examples/train_lenet.py --data ~/mnist   # the full 60,000 / 10,000 MNIST files
    python examples/train_lenet.py --epochs 1 --limit 300   # a quick smoke run

Prints the network's summary table, trains with SGD (lr=0.05, momentum=0.9) on standardised
images with a progress bar per epoch, evaluates on the test split, saves the weights with
`tt.save` (a NumPy-readable .npz) and, when matplotlib is installed, a PNG of the training
curves. On the bundled sample it reaches about 97% test accuracy.
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


class Net(nn.Module):
    """The lecture's network: two 5x5 convolutions with max pooling, two linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc1 = nn.Linear(256, 200)
        self.fc2 = nn.Linear(200, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 3))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = x.view(-1, 256)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return x


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=10, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=64, help="images per training step")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for tinytensor's kernels (default: all cores / OMP_NUM_THREADS)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="a folder with the four MNIST IDX files (default: the bundled sample)")
    p.add_argument("--out", metavar="PATH", default="lenet.npz",
                   help="where to save the trained weights (the curves PNG goes next to it)")
    p.add_argument("--limit", metavar="N", type=int, default=None,
                   help="use only the first N training and N test images")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation and shuffling")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "threads", "limit"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "epochs" else 1):
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def load_split(root, train, limit, stats=None):
    """(images N x 1 x 28 x 28 standardised float32, labels int64, (mean, std))."""
    ds = MNIST(root=root, train=train)
    images = ds.data if limit is None else ds.data[:limit]
    labels = ds.targets.numpy() if limit is None else ds.targets.numpy()[:limit]
    x = images.astype(np.float32)
    x /= np.float32(255)                  # in place: the full training set is 188 MB in float32
    if stats is None:                     # mean and std of the training images
        stats = (float(x.mean()), float(x.std()))
    mean, std = stats
    x -= np.float32(mean)
    x /= np.float32(std)
    return tt.from_numpy(x.reshape(-1, 1, 28, 28)), tt.from_numpy(labels.copy()), stats


class Progress:
    """A one-line progress bar redrawn with '\\r' (plain text; no dependency)."""

    def __init__(self, label, total, width=24):
        self.label, self.total, self.width = label, total, width
        self.tty = sys.stdout.isatty()
        self.last = 0.0

    def update(self, done, text, final=False):
        now = time.perf_counter()
        if not final and (not self.tty or now - self.last < 0.1):
            return
        self.last = now
        filled = self.width * done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.label} [{bar}] {done}/{self.total} {text}"
        sys.stdout.write(("\r" if self.tty else "") + line + ("\n" if final else ""))
        sys.stdout.flush()


def evaluate(model, x, y, batch_size=1000):
    """(mean cross-entropy, accuracy) of `model` on (x, y), without recording a graph."""
    model.eval()
    total_loss, correct = 0.0, 0
    with tt.no_grad():
        for i in range(0, len(y), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            out = model(xb)
            total_loss += F.cross_entropy(out, yb, reduction="sum").item()
            correct += int((out.numpy().argmax(1) == yb.numpy()).sum())
    model.train()
    n = max(len(y), 1)
    return total_loss / n, correct / n


def train_epoch(model, loader, opt, epoch, epochs):
    n_batches = len(loader)
    bar = Progress(f"epoch {epoch}/{epochs}", n_batches)
    seen = correct = 0
    loss_sum = 0.0
    start = time.perf_counter()
    for i, (xb, yb) in enumerate(loader, 1):
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n = len(yb)
        seen += n
        loss_sum += loss.item() * n
        correct += int((out.detach().numpy().argmax(1) == yb.numpy()).sum())
        rate = seen / max(time.perf_counter() - start, 1e-9)
        bar.update(i, f"loss {loss_sum / seen:.4f}  acc {100 * correct / seen:5.2f}%  "
                      f"{rate:,.0f} img/s", final=(i == n_batches))
    return loss_sum / max(seen, 1), correct / max(seen, 1), time.perf_counter() - start


def plot_curves(history, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib is not installed: no training-curves PNG. Get it with "
              "`pip install .[plot]` (or `pip install matplotlib`).")
        return
    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["train_loss"], "o-", label="train")
    ax1.plot(epochs, history["test_loss"], "s-", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.legend()
    ax2.plot(epochs, [100 * a for a in history["train_acc"]], "o-", label="train")
    ax2.plot(epochs, [100 * a for a in history["test_acc"]], "s-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle("LeNet-like network on MNIST (tinytensor)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"training curves: {path}")


def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:
        tt.set_num_threads(args.threads)
    tt.manual_seed(args.seed)

    try:
        x_train, y_train, stats = load_split(args.data, True, args.limit)
        x_test, y_test, _ = load_split(args.data, False, args.limit, stats)
    except (OSError, ValueError) as e:          # missing or malformed MNIST files
        sys.exit(f"train_lenet.py: cannot load MNIST: {e}")
    source = args.data or "the bundled 5,000-digit sample"
    print(f"MNIST from {source}: {len(y_train)} training / {len(y_test)} test images "
          f"(mean {stats[0]:.4f}, std {stats[1]:.4f}); {tt.get_num_threads()} thread(s)")

    model = Net()
    print(model)
    print(tt.utils.summary(model, (1, 28, 28)))

    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                        shuffle=True)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    total_time = 0.0
    for epoch in range(1, args.epochs + 1):
        loss, acc, seconds = train_epoch(model, loader, opt, epoch, args.epochs)
        total_time += seconds
        test_loss, test_acc = evaluate(model, x_test, y_test)
        for k, v in zip(history, (loss, acc, test_loss, test_acc)):
            history[k].append(v)
        print(f"    test loss {test_loss:.4f}  test acc {100 * test_acc:.2f}%  ({seconds:.1f} s)")

    test_loss, test_acc = evaluate(model, x_test, y_test)
    print(f"test accuracy: {100 * test_acc:.2f}% ({round(test_acc * len(y_test))}/{len(y_test)})"
          f", test loss {test_loss:.4f}; training time {total_time:.1f} s")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    tt.save(model.state_dict(), args.out)
    print(f"weights: {args.out} (tt.load it, or numpy.load(..., allow_pickle=False))")
    if args.epochs:
        plot_curves(history, os.path.splitext(args.out)[0] + "_curves.png")
    return test_acc


if __name__ == "__main__":
    main()
