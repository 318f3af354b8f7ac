"""Small programs whose autograd graphs the PyTorch tutorials and porting scripts inspect,
written once for both libraries (`L` is torch or tinytensor), and a walk over a graph's
node names (tests/test_grad_fn_names.py, tests/oracle/test_api_torch.py)."""


def graph_cases(L):
    """Small programs whose graphs the official tutorials and porting scripts inspect."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    x = L.randn(2, 3, 8, 8, requires_grad=True)
    a = L.randn(4, 3, requires_grad=True)
    t = L.tensor([0, 1, 2, 0])
    return {
        "conv": nn.Conv2d(3, 4, 3)(x), "conv_nb": nn.Conv2d(3, 4, 3, bias=False)(x),
        "conv1d": nn.Conv1d(3, 4, 3)(L.randn(2, 3, 8)),
        "conv3d": nn.Conv3d(3, 4, 1)(L.randn(1, 3, 2, 2, 2)),
        "mp1": F.max_pool1d(L.randn(2, 3, 8, requires_grad=True), 2),
        "mp2": F.max_pool2d(x, 2), "mp3": F.max_pool3d(L.randn(1, 2, 4, 4, 4, requires_grad=True), 2),
        "ap1": F.avg_pool1d(L.randn(2, 3, 8, requires_grad=True), 2), "ap2": F.avg_pool2d(x, 2),
        "aap2": F.adaptive_avg_pool2d(x, 2), "aap1x1": F.adaptive_avg_pool2d(x, 1),
        "amp2": F.adaptive_max_pool2d(x, 2),
        "unpool": F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
        "bn": nn.BatchNorm2d(3)(x), "relu": F.relu(x), "relu_mod": nn.ReLU()(x),
        "relu_inplace": F.relu(x * 1, inplace=True), "relu_module_inplace": nn.ReLU(True)(x * 1),
        "relu_method": (x * 1).relu_(), "leaky_inplace": F.leaky_relu(x * 1, inplace=True),
        "leaky": F.leaky_relu(x), "sigmoid": L.sigmoid(x), "softmax": F.softmax(x, 1),
        "log_softmax": F.log_softmax(x, 1), "dropout": F.dropout(x, 0.5),
        "linear": nn.Linear(3, 2)(a), "linear_nb": nn.Linear(3, 2, bias=False)(a),
        "linear3d": nn.Linear(3, 2)(L.randn(5, 4, 3)), "linear1d": nn.Linear(3, 2)(L.randn(3)),
        "ce": F.cross_entropy(a, t), "ce_w": F.cross_entropy(a, t, weight=L.ones(3)),
        "ce_mod": nn.CrossEntropyLoss()(a, t),
        "ce4d": F.cross_entropy(L.randn(2, 3, 2, 2, requires_grad=True), L.zeros(2, 2, 2, dtype=L.long)),
        "nll": F.nll_loss(a, t), "mse": F.mse_loss(a, L.randn(4, 3)),
        "mse_mod": nn.MSELoss()(a, L.randn(4, 3, requires_grad=True)),
        "mse_none": F.mse_loss(a, L.randn(4, 3), reduction="none"),
        "pad": F.pad(x, (1, 1)), "reflect": F.pad(x, (1, 1, 1, 1), mode="reflect"),
        "replicate": F.pad(x, (1, 1, 1, 1), mode="replicate"),
        "unfold": F.unfold(x, 2), "fold": F.fold(L.randn(1, 12, 4, requires_grad=True), (3, 3), 2),
        "flatten": L.flatten(x, 1), "view": x.view(-1), "sum": x.sum(), "mean": x.mean(),
        "add": x + x, "mul": x * 2, "add_scalar": x + 1, "where": L.where(a > 0, a, 0.0),
        "matmul": a @ a.t(), "vecmat": a[:, 0] @ a, "matvec": a @ a[0], "dot": a[0] @ a[1],
        "matmul3d": L.randn(2, 4, 3, requires_grad=True) @ a.t(),
        "bmm": L.randn(2, 4, 3, requires_grad=True) @ L.randn(2, 3, 2, requires_grad=True),
        "cat": L.cat([a, a]), "stack": L.stack([a, a]),
        "sort": a.sort(1).values, "topk": a.topk(1).values, "max_dim": a.max(1).values,
        "pow": a ** 2, "clamp": a.clamp(0, 1), "tanh": a.tanh(), "var": a.var(),
    }


def walk(fn, depth, torch_names):
    if fn is None:
        return None
    name = type(fn).__name__ if torch_names else fn.name()
    if depth == 0:
        return name
    return (name, [walk(f, depth - 1, torch_names) for f, _ in fn.next_functions])
