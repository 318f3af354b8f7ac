"""Draw the learned conv1 filters of a trained LeNet as a PNG grid.

    python examples/train_lenet.py                 # writes lenet.npz
    python examples/show_filters.py                # writes lenet_conv1_filters.png

The weights file is read with `tt.load` (a NumPy .npz; no tinytensor model is needed).
Needs matplotlib (`pip install .[plot]`).
"""
import argparse
import math
import os
import sys

import numpy as np

import tinytensor as tt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", nargs="?", default="lenet.npz",
                   help="weights saved by train_lenet.py (default: lenet.npz)")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="PNG to write (default: <weights>_conv1_filters.png)")
    p.add_argument("--key", default="conv1.weight", help="the state-dict entry to draw")
    args = p.parse_args(argv)

    try:
        state = tt.load(args.weights)
    except FileNotFoundError:
        sys.exit(f"{args.weights} not found: run examples/train_lenet.py first "
                 "(or pass the weights file)")
    if not isinstance(state, dict) or args.key not in state:
        keys = list(state) if isinstance(state, dict) else type(state).__name__
        sys.exit(f"{args.weights} has no {args.key!r} entry (it holds {keys})")
    w = np.asarray(state[args.key].numpy())
    if w.ndim != 4:
        sys.exit(f"{args.key} has shape {list(w.shape)}; expected conv weights [O, C, KH, KW]")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: cannot draw the filters. Get it with "
              "`pip install .[plot]` (or `pip install matplotlib`).")
        return None

    filters = w[:, 0]                     # first input channel of each filter
    n = filters.shape[0]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    lim = np.abs(filters).max() or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(filters[i], cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.suptitle(f"{args.key}: {n} filters {filters.shape[1]}x{filters.shape[2]} "
                 "(red +, blue -)")
    fig.tight_layout()
    out = args.out or os.path.splitext(args.weights)[0] + "_conv1_filters.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    print(f"conv1 filters: {out}")
    return out


if __name__ == "__main__":
    main()
