"""`torch.nn.utils`: gradient clipping, parameters <-> one vector, and `rnn.pad_sequence`.

>>> from tinytensor.nn.utils import clip_grad_norm_
>>> model = nn.Linear(3, 1)
>>> (model(tt.full((1, 3), 10.0)) ** 2).sum().backward()
>>> total = clip_grad_norm_(model.parameters(), max_norm=1.0)   # the norm before clipping
>>> bool(total > 1.0), round(sum(float((p.grad ** 2).sum()) for p in model.parameters()), 4)
(True, 1.0)
"""
from tinytensor.nn.utils import rnn  # noqa: F401
from tinytensor.nn.utils.clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_
from tinytensor.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "rnn"]
