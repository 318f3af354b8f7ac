"""What the tests of the Winograd paths over larger windows (6x6 patches, 10-sample windows)
hold them to: their transforms' larger entries round ~1e-5 of the largest output in float32,
so an error counts relative to the largest reference value, not to each."""
import numpy as np

import tinytensor as tt
from tinytensor._functions import conv_plan
import reference_conv as ref


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


def arr(t):
    """A tensor's values as a NumPy array of their own."""
    return np.array(t.detach()._numpy())


def check_paths_against_reference(conv, x, w, b, go, pad, paths):
    """conv (F.conv1d or F.conv2d) of float64 arrays x, w, b (or None), `pad` zeros on every
    side, in float32 with the plan's `paths` (forward, input_grad, weight_grad) forced; the
    plan must run exactly those, and the output and every gradient (from the output gradient
    go) must be close to the naive reference's."""
    nsp = x.ndim - 2
    ones, pads = (1,) * nsp, (pad,) * nsp
    forced = dict(zip(("forward", "input_grad", "weight_grad"), paths))
    with conv_plan.force(**forced):
        plan = conv_plan.plan(x.shape[:2] + (1,) * (3 - nsp) + x.shape[2:],
                              w.shape[:2] + (1,) * (3 - nsp) + w.shape[2:],
                              conv_plan.geometry(ones, pads, ones, pads), 1, np.float32, 1)
        assert (plan.forward, plan.input_grad, plan.weight_grad) == tuple(paths)
        xt = tt.tensor(x.astype(np.float32), requires_grad=True)
        wt = tt.tensor(w.astype(np.float32), requires_grad=True)
        bt = None if b is None else tt.tensor(b.astype(np.float32), requires_grad=True)
        y = conv(xt, wt, bt, padding=pad)
        y.backward(tt.tensor(go.astype(np.float32)))
    p = ((pad, pad),) * nsp
    close(arr(y), ref.conv_forward(x, w, b, ones, p, ones, 1))
    rgx, rgw, rgb = ref.conv_backward(x, w, go, ones, p, ones, 1)
    close(arr(xt.grad), rgx)
    close(arr(wt.grad), rgw)
    if b is not None:
        close(arr(bt.grad), rgb)
