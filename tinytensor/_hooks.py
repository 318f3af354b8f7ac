"""`RemovableHandle`: what every `register_*_hook` returns; `remove()` unregisters the hook.

It lives at the bottom of the package so that tensors (post-accumulate-grad hooks) and modules
(forward hooks) share it, as both share `torch.utils.hooks.RemovableHandle` in PyTorch.
"""
import itertools


class RemovableHandle:
    """Returned by register_forward_hook, register_post_accumulate_grad_hook, ...;
    `remove()` unregisters the hook (also as a context manager).

    >>> hooks = {}
    >>> h = RemovableHandle(hooks)
    >>> hooks[h.id] = print
    >>> h.remove(); hooks
    {}
    """

    _next_id = itertools.count()

    def __init__(self, hooks_dict):
        self.hooks_dict = hooks_dict
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
