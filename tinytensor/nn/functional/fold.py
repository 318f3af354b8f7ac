"""unfold (im2col) and fold (col2im): PyTorch's functional sliding-block ops.

Arguments are normalised and validated here with PyTorch 2.13's messages and order, before
UnfoldFunction/FoldFunction run kernels that trust them.
"""
from tinytensor._args import _pair, check_tensor, int_list
from tinytensor._functions.fold import FoldFunction, UnfoldFunction
from tinytensor._tensor import float32, float64

__all__ = ["unfold", "fold"]

_MAX_PADDING = 2 ** 62 - 1
_SCALAR_NAMES = {"int64": "Long", "bool": "Bool"}


def _int_pair(op, argname, position, value):
    """torch's _pair followed by the int-list argument parser: an int is repeated twice, an
    iterable must hold ints (its length is checked by the caller)."""
    return tuple(int_list(op, argname, position, list(_pair(value))))


def _common(op, input, named):
    """Shared checks of im2col/col2im: types, lengths, then positivity, in PyTorch's order."""
    check_tensor(op, "input", 1, input)
    vals = {}
    for pos, (argname, value) in enumerate(named, 2):
        vals[argname] = _int_pair(op, argname, pos, value)
    for argname, value in vals.items():
        if len(value) != 2:
            raise RuntimeError(f"It is expected {argname} equals to 2, but got size {len(value)}")
    (kh, kw), (dh, dw) = vals["kernel_size"], vals["dilation"]
    (ph, pw), (sh, sw) = vals["padding"], vals["stride"]
    if kh <= 0 or kw <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {kh} "
                           f"kernel_width: {kw}")
    if dh <= 0 or dw <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {dh} "
                           f"dilation_width: {dw}")
    if ph < 0 or pw < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {ph} "
                           f"pad_width: {pw}")
    if sh <= 0 or sw <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {sh} "
                           f"stride_width: {sw}")
    if max(ph, pw) > _MAX_PADDING:      # keeps the kernels' index sums within int64
        raise RuntimeError(f"padding should be at most {_MAX_PADDING}, but got pad_height: {ph} "
                           f"pad_width: {pw}")
    return vals


def _blocks(n, k, d, p, s):
    """C++'s (n + 2p - (d(k-1)+1)) / s + 1, with division truncating toward zero."""
    num = n + 2 * p - (d * (k - 1) + 1)
    q = abs(num) // s
    return (q if num >= 0 else -q) + 1


def _check_dtype(op, input):
    if input.dtype not in (float32, float64):
        name = getattr(input.dtype, "name", str(input.dtype))
        raise NotImplementedError(f"\"{op}_out_cpu\" not implemented for "
                                  f"'{_SCALAR_NAMES.get(name, name)}' (tinytensor's unfold/fold "
                                  f"support float32 and float64)")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding local blocks (im2col), as torch.nn.functional.unfold.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W), float32 or float64.
        kernel_size, dilation, padding, stride: an int or a pair.

    Shape:
        (N, C * kh * kw, L) with L = prod over H, W of
        (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1; no N for 3-D input.

    Returns:
        The blocks, one column per block, channels-major rows (c, i, j).

    Raises:
        RuntimeError, TypeError, IndexError: PyTorch's messages, before any computation.

    Example:
        >>> F.unfold(tt.randn(2, 3, 5, 6), (2, 3), padding=1, stride=(1, 2)).shape
        tinytensor.Size([2, 18, 18])
    """
    vals = _common("im2col", input, (("kernel_size", kernel_size), ("dilation", dilation),
                                     ("padding", padding), ("stride", stride)))
    nd = input.ndim
    if nd < 3:
        if nd == 0:
            raise IndexError("Dimension specified as 1 but tensor has no dimensions")
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                         f"but got {nd})")
    shape = tuple(input.shape)
    if nd > 4 or any(s == 0 for s in shape[-3:]):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and "
                           f"other non-zero dimensions for input, but got: {list(shape)}")
    k, d, p, s = vals["kernel_size"], vals["dilation"], vals["padding"], vals["stride"]
    blocks = [_blocks(n, *a) for n, a in zip(shape[-2:], zip(k, d, p, s))]
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size ({shape[-2]}, {shape[-1]}), "
                           f"kernel_size={k}, dilation={d}, padding={p}, calculated shape of the "
                           f"array of sliding blocks as ({blocks[0]}, {blocks[1]}), but its "
                           f"components must be at least one.")
    _check_dtype("im2col", input)
    x = input if nd == 4 else input.unsqueeze(0)
    out = UnfoldFunction.apply(x, k, d, p, s)
    return out if nd == 4 else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding local blocks into a tensor (col2im), as torch.nn.functional.fold.

    Overlapping values are summed: fold is the adjoint of unfold.

    Args:
        input: (N, C * kh * kw, L) or unbatched (C * kh * kw, L), float32 or float64.
        output_size: (H, W) of the result, an int or a pair.
        kernel_size, dilation, padding, stride: an int or a pair.

    Shape:
        (N, C, H, W), or (C, H, W) for 2-D input; L must equal the number of blocks.

    Raises:
        RuntimeError, TypeError: PyTorch's messages, before any computation.

    Example:
        >>> F.fold(tt.ones(1, 4, 4), (3, 3), 2).squeeze().tolist()[1]
        [2.0, 4.0, 2.0]
    """
    vals = _common("col2im", input, (("output_size", output_size), ("kernel_size", kernel_size),
                                     ("dilation", dilation), ("padding", padding),
                                     ("stride", stride)))
    shape = tuple(input.shape)
    nd = len(shape)
    if nd not in (2, 3) or any(s == 0 for s in shape[-2:]):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch "
                           f"size and non-zero dimensions for input, but got: {list(shape)}")
    o, k = vals["output_size"], vals["kernel_size"]
    d, p, s = vals["dilation"], vals["padding"], vals["stride"]
    if shape[-2] % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={shape[-2]} and "
                           f"kernel_size={k}.")
    blocks = [_blocks(n, *a) for n, a in zip(o, zip(k, d, p, s))]
    desc = (f"Given output_size={o}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, ")
    if shape[-1] != blocks[0] * blocks[1]:
        raise RuntimeError(f"{desc}expected size of input's dimension 2 to match the calculated "
                           f"number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{blocks[0] * blocks[1]}, but got input.size(2)={shape[-1]}.")
    if min(blocks) < 1:
        raise RuntimeError(f"{desc}calculated shape of the array of sliding blocks as "
                           f"({blocks[0]}, {blocks[1]}), which is too small (non-positive)")
    _check_dtype("col2im", input)
    x = input if nd == 3 else input.unsqueeze(0)
    out = FoldFunction.apply(x, o, k, d, p, s)
    return out if nd == 3 else out.squeeze(0)
