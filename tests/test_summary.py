"""tt.utils.summary on the lecture's LeNet-like network."""
import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
import tinytensor.utils  # noqa: F401  (makes tt.utils available)


class LeNet(nn.Module):
    """The lecture's network, written as the lecture writes it (functional pool/relu, view)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
        self.fc1 = nn.Linear(256, 200)
        self.fc2 = nn.Linear(200, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), kernel_size=3))
        x = F.relu(F.max_pool2d(self.conv2(x), kernel_size=2))
        x = x.view(-1, 256)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


EXPECTED = [("conv1 (Conv2d)", (32, 24, 24), 832, 460800),
            ("F.max_pool2d", (32, 8, 8), 0, 0),
            ("F.relu", (32, 8, 8), 0, 0),
            ("conv2 (Conv2d)", (64, 4, 4), 51264, 819200),
            ("F.max_pool2d", (64, 2, 2), 0, 0),
            ("F.relu", (64, 2, 2), 0, 0),
            ("Tensor.view", (256,), 0, 0),
            ("fc1 (Linear)", (200,), 51400, 51200),
            ("F.relu", (200,), 0, 0),
            ("fc2 (Linear)", (10,), 2010, 2000)]


def test_lenet_rows_and_totals():
    s = tt.utils.summary(LeNet(), (1, 28, 28))
    assert [(r.name, r.output_size, r.params, r.products) for r in s.rows] == EXPECTED
    assert s.total_params == 832 + 51264 + 51400 + 2010
    assert s.trainable_params == s.total_params
    assert s.total_products == 460800 + 819200 + 51200 + 2000
    assert s.input_size == (1, 28, 28)


def test_batch_included_gives_per_sample_numbers():
    s = tt.utils.summary(LeNet(), (4, 1, 28, 28))
    assert [(r.name, r.output_size, r.params, r.products) for r in s.rows] == EXPECTED


def test_table_text_is_aligned_and_has_the_numbers():
    text = str(tt.utils.summary(LeNet(), (1, 28, 28)))
    lines = text.splitlines()
    for needle in ("460800", "819200", "51200", "2000", "832", "51264", "51400", "2010",
                   "32 x 24 x 24", "Total"):
        assert needle in text
    rows = [ln for ln in lines if ln.startswith(("conv", "fc", "F.", "Tensor."))]
    assert len(rows) == 10
    assert len({len(ln) for ln in rows if ln.startswith(("conv", "fc"))}) == 1   # right-aligned


def test_sequential_model_and_state_restored():
    net = nn.Sequential(nn.Conv2d(1, 32, 5), nn.MaxPool2d(3), nn.ReLU(), nn.Conv2d(32, 64, 5),
                        nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(256, 200),
                        nn.ReLU(), nn.Linear(200, 10), nn.Dropout())
    view, relu = tt.Tensor.view, F.relu
    s = tt.utils.summary(net, (1, 28, 28))
    assert [(r.params, r.products) for r in s.rows] == [
        (832, 460800), (0, 0), (0, 0), (51264, 819200), (0, 0), (0, 0), (0, 0),
        (51400, 51200), (0, 0), (2010, 2000), (0, 0)]
    assert s.rows[1].name == "1 (MaxPool2d)"
    assert tt.Tensor.view is view and F.relu is relu          # patches removed
    assert net.training and all(m.training for m in net.modules())
    assert all(not h for m in net.modules() for h in (m._forward_hooks, m._forward_pre_hooks))


def test_linear_only_model_adds_batch():
    s = tt.utils.summary(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), (3,))
    assert [(r.output_size, r.products) for r in s.rows] == [((4,), 12), ((4,), 0)]


def test_patches_restored_when_forward_fails():
    import pytest

    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return F.relu(self.fc(x)).view(-1, 7)

    view, relu = tt.Tensor.view, F.relu
    with pytest.raises(RuntimeError):
        tt.utils.summary(Broken(), (3,))
    assert tt.Tensor.view is view and F.relu is relu
    with pytest.raises(TypeError, match="model must be a tinytensor.nn.Module"):
        tt.utils.summary(lambda x: x, (3,))


def test_float64_model():
    s = tt.utils.summary(LeNet().double(), (1, 28, 28))
    assert [(r.params, r.products) for r in s.rows][0] == (832, 460800)
