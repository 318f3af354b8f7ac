"""F.pad: argument checks in PyTorch 2.13's order and words, then a padding Function.

Nothing reaches a kernel before the pad tuple, the mode and the mode's limits are validated.
"""
from tinytensor._args import check_tensor, int_list, shape_str, type_name
from tinytensor._functions.pad import ConstantPadFunction, MapPadFunction
from tinytensor.tensor import Tensor

__all__ = ["pad"]

_SUPPORTED = ("Supported combinations for non-constant padding:\n"
              "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
              "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
              "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
_KERNEL_NAMES = {"reflect": "reflection_pad", "replicate": "replication_pad"}


def _wrap64(v):
    """v as a C int64 would hold it (PyTorch computes padded sizes in int64)."""
    return (v + 2**63) % 2**64 - 2**63


def pad(input, pad, mode="constant", value=None):
    """Pad `input` as `torch.nn.functional.pad`.

    Args:
        pad: (left, right[, top, bottom[, front, back]]) from the last dim backwards.
            Negative values crop.
        mode: 'constant' (any rank, any dims), 'reflect' (pad < size), 'replicate',
            'circular' (pad <= size); the last three pad the last 1-3 dims of a batched or
            unbatched input (2D/3D with 2 pads, 3D/4D with 4, 4D/5D with 6).
        value: fill for 'constant' (default 0; cast to the dtype).

    Shape: each padded dim grows by left + right.
    Raises: RuntimeError / NotImplementedError / TypeError with PyTorch's messages.
    Example: pad(x of [1, 2, 3, 4] as (1, 1, 4), (3, 3), mode='reflect') is
    [4, 3, 2, 1, 2, 3, 4, 3, 2, 1].

    >>> F.pad(tt.tensor([[1., 2.]]), (1, 2))
    tensor([[0., 1., 2., 0., 0.]])
    >>> F.pad(tt.tensor([[[1., 2., 3.]]]), (1, 1), mode='reflect')
    tensor([[[2., 1., 2., 3., 2.]]])
    """
    check_tensor("pad", "input", 1, input)
    if not isinstance(pad, (tuple, list)):      # a single int is not a pad tuple here
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{type_name(pad)}")
    pads = int_list("pad", "pad", 2, pad)
    shape = tuple(input.shape)
    ndim = len(shape)
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pads) > 2 * ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pads)} and input of dimension "
                           f"{ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    npairs = len(pads) // 2
    pairs = [(pads[2 * i], pads[2 * i + 1]) for i in range(npairs)]      # last dim first
    if mode == "constant":
        per_dim = [(0, 0)] * ndim
        for i, (l, r) in enumerate(pairs):
            dim = ndim - 1 - i
            n = shape[dim]
            # negative pads narrow first, as PyTorch's constant_pad_nd
            if l < 0:
                if n + l < 0:
                    raise RuntimeError("narrow(): length must be non-negative.")
                n += l
            if r < 0 and n + r < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
            if _wrap64(shape[dim] + l + r) < 0:       # int64 arithmetic, as PyTorch's
                raise RuntimeError(f"The input size {shape[dim]}, plus negative padding {l} and "
                                   f"{r} resulted in a negative output size, which is invalid. "
                                   f"Check dimension {dim} of your input.")
            per_dim[dim] = (l, r)
        fill = 0 if value is None else value
        if input.dtype.name == "int64":
            fill = int(fill)
        elif input.dtype.name == "bool":
            fill = bool(fill)
        else:
            fill = float(fill)
        return ConstantPadFunction.apply(input, tuple(per_dim), fill)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if not ((npairs == 1 and ndim in (2, 3)) or (npairs == 2 and ndim in (3, 4))
            or (npairs == 3 and ndim in (4, 5))):
        raise NotImplementedError(f"Padding size {len(pads)} is not supported for {ndim}D input "
                                  f"tensor.\n{_SUPPORTED}")
    sp = shape[ndim - npairs:]
    rev = list(reversed(pairs))                           # first padded dim first
    out_sp = [_wrap64(n + l + r) for n, (l, r) in zip(sp, rev)]
    if mode == "circular":
        for n, (l, r), o in zip(sp, rev, out_sp):        # outermost padded dim first
            if l > n or r > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if o < 0:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
    if mode != "circular":
        batched = ndim == npairs + 2
        nonbatch = shape[1:] if batched else shape
        if any(s == 0 for s in nonbatch):
            raise RuntimeError(f"Expected {npairs + 1}D or {npairs + 2}D (batch mode) tensor with "
                               "possibly 0 batch size and other non-zero dimensions for input, "
                               f"but got: {shape_str(shape)}")
        if mode == "reflect":
            for i, (l, r) in enumerate(pairs):
                dim = ndim - 1 - i
                if l >= shape[dim] or r >= shape[dim]:
                    raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than "
                                       "the corresponding input dimension, but got: padding "
                                       f"({l}, {r}) at dimension {dim} of input "
                                       f"{shape_str(shape)}")
        if all(o < 1 for o in out_sp):
            if npairs == 1:
                raise RuntimeError(f"input (W: {sp[0]}) is too small. Calculated output W: "
                                   f"{out_sp[0]}")
            # PyTorch's texts differ in spacing between the two kernels
            ins = ", ".join(f"{c}: {n}" for c, n in zip("HW", sp[-2:]))
            if npairs == 3:
                ins = f"D: {sp[0]} " + ins
            ins += " " if mode == "replicate" else ""
            outs = " ".join(f"{c}: {o}" for c, o in zip("DHW"[3 - npairs:], out_sp))
            raise RuntimeError(f"input ({ins}) is too small. Calculated output {outs}")
        if any(o < 0 for o in out_sp):
            full = list(shape[:ndim - npairs]) + out_sp
            neg = next(o for o in out_sp if o < 0)
            raise RuntimeError(f"Trying to create tensor with negative dimension {neg}: "
                               f"{shape_str(full)}")
    elif all(o > 0 for o in out_sp):
        for n, (l, r) in zip(sp, rev):
            core = n + min(l, 0) + min(r, 0)
            # PyTorch copies the pads out of the output's own core; a pad wider than the
            # (cropped) core overlaps itself, which PyTorch refuses (or, for layouts where it
            # cannot see the overlap, fills with layout-dependent values): always refuse.
            if l > core or r > core:
                raise RuntimeError("unsupported operation: some elements of the input tensor and "
                                   "the written-to tensor refer to a single memory location. "
                                   "Please clone() the tensor before performing the operation.")
    if input.dtype.name == "bool" and mode != "circular":       # the kernel's check, last
        raise NotImplementedError(f'"{_KERNEL_NAMES[mode]}{npairs}d" not implemented for '
                                  "'Bool'")
    return MapPadFunction.apply(input, tuple(rev), mode, npairs)
