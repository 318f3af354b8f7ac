"""Nothing leaks: a long training run keeps a flat resident size, and graphs die by refcounting.

The soak runs in a child process so that the RSS it reads belongs to the training loop alone,
not to whatever the rest of the suite left in the pytest process.
"""
import gc
import json
import os
import subprocess
import sys
import textwrap
import weakref

import pytest

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F

# `python -c` children put the current directory on sys.path: from the repo root that is the
# source tree, without compiled modules. They run from this folder instead.
_HERE = os.path.dirname(os.path.abspath(__file__))

SOAK = textwrap.dedent("""
    import gc, json, os, sys, time
    import tinytensor as tt, tinytensor.nn as nn, tinytensor.nn.functional as F
    import tinytensor.optim as optim

    def rss():
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    tt.manual_seed(0)
    tt.set_num_threads(int(sys.argv[1]))
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = [(tt.randn(8, 1, 28, 28), tt.randint(0, 10, (8,))) for _ in range(16)]

    def steps(n):
        for i in range(n):
            x, y = data[i % len(data)]
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        return loss.item()

    steps(300)                                  # warm-up: optimizer state, scratch caches
    before, objs_before = rss(), len(gc.get_objects())
    t0 = time.time()
    last = steps(2000)
    after, objs_after = rss(), len(gc.get_objects())
    print(json.dumps({"before": before, "after": after, "objs_before": objs_before,
                      "objs_after": objs_after, "seconds": time.time() - t0, "loss": last}))
""")


def test_lenet_soak_resident_memory_flat():
    """2,000 LeNet steps (batch 8): RSS after warm-up grows < 5%, live objects do not pile up."""
    res = subprocess.run([sys.executable, "-c", SOAK, "1"], cwd=_HERE, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(res.stdout.strip().splitlines()[-1])
    growth = (r["after"] - r["before"]) / r["before"]
    print(f"RSS {r['before'] / 2**20:.1f} MiB -> {r['after'] / 2**20:.1f} MiB "
          f"({100 * growth:+.2f}%) over 2000 steps in {r['seconds']:.1f} s")
    assert growth < 0.05, r
    assert r["objs_after"] - r["objs_before"] < 500, r     # < 1 leaked object per 4 steps
    assert r["loss"] == r["loss"]                           # the loop really trained (not NaN)


def _lenet():
    return nn.Sequential(
        nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(128, 32), nn.Tanh(), nn.Linear(32, 10))


def _walk(root):
    """Every Function node of the graph under `root` (a grad_fn), depth first."""
    seen, stack, out = set(), [root], []
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        if n.name() == "AccumulateGrad":
            continue        # it belongs to its leaf, which outlives the graph
        out.append(n)
        # the engine's edges (next_functions is PyTorch's view, with display-only nodes)
        stack.extend(edge[0] for edge in n._edges if edge is not None)
    return out


def _saved_intermediates(nodes, keep):
    """Weak references to saved tensors other than `keep` (the ones backward must free)."""
    keep = {id(t) for t in keep}
    refs = []
    for n in nodes:
        saved = n._saved
        if not isinstance(saved, tuple):
            continue
        for entry in saved:
            t = entry[0] if isinstance(entry, tuple) else entry
            if isinstance(t, tt.Tensor) and id(t) not in keep:
                refs.append(weakref.ref(t))
    return refs


@pytest.fixture
def no_gc():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def test_graph_and_saved_tensors_freed_by_refcounting(no_gc):
    """With the cyclic GC off: backward frees saved tensors; dropping the loss frees the graph."""
    tt.manual_seed(0)
    model = _lenet()
    x = tt.randn(4, 1, 28, 28)
    y = tt.tensor([1, 2, 3, 4])
    loss = F.cross_entropy(model(x), y) + model(x).pow(2).mean() * 0.01
    nodes = _walk(loss.grad_fn)
    assert len(nodes) > 15
    node_refs = [weakref.ref(n) for n in nodes]
    saved_refs = _saved_intermediates(nodes, [x, *model.parameters()])
    assert len(saved_refs) > 5
    del nodes
    loss.backward()
    assert [r for r in saved_refs if r() is not None] == []      # freed as the nodes ran
    assert all(p.grad is not None for p in model.parameters())
    del loss
    alive = [r() for r in node_refs if r() is not None]
    assert alive == [], f"{len(alive)} graph nodes outlived the loss: {alive[:5]}"


def test_graph_freed_without_backward(no_gc):
    """A graph that is never backpropagated (evaluation with grad on) dies with its output."""
    model = _lenet()
    out = model(tt.randn(2, 1, 28, 28))
    refs = [weakref.ref(n) for n in _walk(out.grad_fn)] + [weakref.ref(out)]
    del out
    assert [r for r in refs if r() is not None] == []


@pytest.mark.parametrize("op", [
    lambda x: x.exp(), lambda x: x.sigmoid(), lambda x: x.tanh(), lambda x: x.abs().sqrt(),
    lambda x: F.softmax(x, 1), lambda x: F.log_softmax(x, 1), F.relu,
    lambda x: F.max_pool2d(x, 2, return_indices=True)[0], lambda x: F.avg_pool2d(x, 2),
    lambda x: F.batch_norm(x, None, None, training=True),
    lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect"), lambda x: F.unfold(x, 2),
    lambda x: F.conv2d(x, tt.randn(2, 3, 3, 3, requires_grad=True)),
    lambda x: x.view(-1)[1:5] * 2, lambda x: x.transpose(1, 2).reshape(2, -1) @ tt.randn(48, 3),
], ids=["exp", "sigmoid", "tanh", "sqrt", "softmax", "log_softmax", "relu", "max_pool_idx",
        "avg_pool", "batch_norm", "pad_reflect", "unfold", "conv2d", "view_slice", "matmul"])
def test_output_node_cycle_freed_by_refcounting(no_gc, op):
    """Ops that save their own output form output -> node -> saved output; it must not leak."""
    x = tt.randn(2, 3, 4, 4, requires_grad=True)
    for backward in (False, True, "retain"):
        y = op(x)
        refs = [weakref.ref(y), weakref.ref(y.grad_fn)]
        if backward == "retain":
            y.sum().backward(retain_graph=True)
        elif backward:
            y.sum().backward()
        del y
        assert [r for r in refs if r() is not None] == [], backward


def test_repeated_backward_with_retain_graph_does_not_grow(no_gc):
    """retain_graph keeps the graph for another pass, but dropping it afterwards frees it all."""
    x = tt.randn(3, 3, requires_grad=True)
    y = (x.exp() * x).sum()
    for _ in range(5):
        y.backward(retain_graph=True)
    refs = [weakref.ref(n) for n in _walk(y.grad_fn)]
    del y
    assert [r for r in refs if r() is not None] == []
    assert x.grad is not None and x.grad.shape == (3, 3)


def test_optimizer_step_allocates_no_new_objects():
    """After the first step, SGD+momentum and Adam reuse their state: object count is stable."""
    import tinytensor.optim as optim
    for make in (lambda p: optim.SGD(p, lr=0.01, momentum=0.9), lambda p: optim.Adam(p)):
        model = _lenet()
        opt = make(model.parameters())
        x, y = tt.randn(2, 1, 28, 28), tt.tensor([0, 1])

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        for _ in range(3):
            step()
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(50):
            step()
        gc.collect()
        assert len(gc.get_objects()) - before < 50


