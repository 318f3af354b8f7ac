"""tt.utils.summary on the layers of issue 11: transposed convolutions count input elements
times (out_channels / groups * kernel) products; normalisation, upsampling, pixel shuffle and
activations count 0 products and their own parameters."""
import pytest

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
        self.gn = nn.GroupNorm(2, 4)
        self.ps = nn.PixelShuffle(2)
        self.ln = nn.LayerNorm(38)
        self.inorm = nn.InstanceNorm2d(1, affine=True)
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear")

    def forward(self, x):
        x = self.gn(self.up(x))
        x = F.interpolate(x, scale_factor=2)
        x = F.conv_transpose2d(x, self.up.weight[:4], None)
        return self.upsample(self.inorm(self.ln(self.ps(x))))


def test_decoder_rows():
    s = tt.utils.summary(Decoder(), (8, 4, 4))
    rows = [(r.name, r.output_size, r.params, r.products) for r in s.rows]
    assert rows == [
        ("up (ConvTranspose2d)", (4, 8, 8), 8 * 4 * 16 + 4, 8 * 4 * 4 * (4 * 16)),
        ("gn (GroupNorm)", (4, 8, 8), 8, 0),
        ("F.interpolate", (4, 16, 16), 0, 0),
        ("F.conv_transpose2d", (4, 19, 19), 0, 4 * 16 * 16 * (4 * 16)),
        ("ps (PixelShuffle)", (1, 38, 38), 0, 0),
        ("ln (LayerNorm)", (1, 38, 38), 76, 0),
        ("inorm (InstanceNorm2d)", (1, 38, 38), 2, 0),
        ("upsample (Upsample)", (1, 76, 76), 0, 0),
    ]
    assert s.total_params == 8 * 4 * 16 + 4 + 8 + 76 + 2


def test_grouped_transposed_conv_1d_and_3d():
    s = tt.utils.summary(nn.ConvTranspose1d(6, 4, 3, stride=2, groups=2), (6, 10))
    assert s.rows[0].products == 6 * 10 * (2 * 3) and s.rows[0].output_size == (4, 21)
    s = tt.utils.summary(nn.ConvTranspose3d(2, 3, 2, stride=2, bias=False), (2, 2, 2, 2))
    assert s.rows[0].products == 2 * 8 * 3 * 8 and s.rows[0].params == 2 * 3 * 8


def test_prelu_parameters_and_no_products():
    if not hasattr(nn, "PReLU"):
        pytest.skip("nn.PReLU is another helper's part of issue 11")
    s = tt.utils.summary(nn.Sequential(nn.Conv2d(1, 4, 3), nn.PReLU(4)), (1, 5, 5))
    assert (s.rows[1].params, s.rows[1].products) == (4, 0)


class FractionalNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.frac = nn.FractionalMaxPool2d(2, output_ratio=0.5)
        self.frac_idx = nn.FractionalMaxPool2d(2, output_size=3, return_indices=True)

    def forward(self, x):
        x = F.fractional_max_pool2d(self.frac(self.conv(x)), 2, output_size=(5, 5))
        x, _ = self.frac_idx(x)
        return F.fractional_max_pool3d(x.unsqueeze(1), (1, 2, 2), output_size=(3, 1, 1))


def test_fractional_max_pool_rows():
    s = tt.utils.summary(FractionalNet(), (1, 14, 14))
    rows = [(r.name, r.output_size, r.params, r.products) for r in s.rows]
    assert rows == [
        ("conv (Conv2d)", (4, 12, 12), 4 * 9 + 4, 4 * 12 * 12 * 9),
        ("frac (FractionalMaxPool2d)", (4, 6, 6), 0, 0),
        ("F.fractional_max_pool2d", (4, 5, 5), 0, 0),
        ("frac_idx (FractionalMaxPool2d)", (4, 3, 3), 0, 0),
        ("F.fractional_max_pool3d", (1, 3, 1, 1), 0, 0),
    ]
