"""`torch.nn.utils.rnn`: `pad_sequence` (packed sequences are not provided: tinytensor has no
recurrent layers)."""
from tinytensor import _args
from tinytensor._functions.shape import stack
from tinytensor.nn.functional import pad
from tinytensor.tensor import Tensor

__all__ = ["pad_sequence"]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length tensors (L_i, *) into one (T, B, *) tensor, or (B, T, *) with
    `batch_first`, T = max L_i, filling with `padding_value` on `padding_side` ('right' or
    'left'). Differentiable. Trailing dimensions broadcast to the first sequence's, as PyTorch's
    copy does.

    Raises:
        RuntimeError: an empty list, or a padding_side other than 'left' / 'right'.

    Example:
        >>> pad_sequence([tt.tensor([1, 2]), tt.tensor([3])], batch_first=True)
        tensor([[1, 2],
                [3, 0]])
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0)) if hasattr(sequences, "unbind") else list(sequences)
    else:
        sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    for i, s in enumerate(sequences):
        _args.check_tensor("pad_sequence", "sequences", 1, s)
        if s.ndim == 0:
            raise RuntimeError("pad_sequence: every sequence needs at least one dimension "
                               f"(sequence {i} is 0-d)")
    trailing = sequences[0].shape[1:]
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        if s.shape[1:] != trailing:
            s = s.expand((s.shape[0],) + tuple(trailing))
        extra = longest - s.shape[0]
        if extra:
            lead = (extra, 0) if padding_side == "left" else (0, extra)
            s = pad(s, (0, 0) * len(trailing) + lead, value=padding_value)
        padded.append(s)
    return stack(padded, 1 if not batch_first else 0)
