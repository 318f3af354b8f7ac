"""Grad mode: whether operations record a graph. Per thread, as in PyTorch."""
import functools
import threading


class _GradState(threading.local):
    enabled = True
    inference = False


_state = _GradState()


def is_grad_enabled():
    """True when operations record the autograd graph in this thread (``torch.is_grad_enabled``).

    >>> tt.is_grad_enabled()
    True
    >>> with tt.no_grad():
    ...     tt.is_grad_enabled()
    False
    """
    return _state.enabled


def is_inference_mode_enabled():
    """True inside ``inference_mode()`` (and not inside a nested ``inference_mode(False)``), as
    ``torch.is_inference_mode_enabled``.

    >>> with tt.inference_mode():
    ...     tt.is_inference_mode_enabled()
    True
    """
    return _state.inference


def set_grad_enabled_(mode):
    _state.enabled = bool(mode)


class _GradModeContext:
    """Base of no_grad / enable_grad: a context manager and a decorator, with or without
    parentheses (`@no_grad()` and `@no_grad`, as PyTorch 2 accepts)."""
    mode = True

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and cls in _BARE_DECORATORS:
            return cls()(args[0])           # used as a bare decorator: wrap the function
        return super().__new__(cls)

    def __enter__(self):
        self.prev = _state.enabled
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Operations inside record no graph: their results have ``requires_grad=False``
    (``torch.no_grad``; a context manager and a decorator).

    >>> x = tt.ones(2, requires_grad=True)
    >>> with tt.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """
    mode = False


class enable_grad(_GradModeContext):
    """Turn grad mode back on inside a ``no_grad`` block (``torch.enable_grad``; a context
    manager and a decorator).

    >>> x = tt.ones(2, requires_grad=True)
    >>> with tt.no_grad():
    ...     with tt.enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """
    mode = True


class inference_mode(_GradModeContext):
    """`with inference_mode():` (or `@inference_mode()` / `@inference_mode`): no graph is
    recorded, as under no_grad, and `is_inference_mode_enabled()` is True.
    `inference_mode(False)` turns both back on for its block.

    tinytensor has no separate inference tensors: tensors made inside behave as no_grad
    results (PyTorch also forbids using them in autograd afterwards; tinytensor does not).

    >>> with tt.inference_mode():
    ...     y = tt.ones(2, requires_grad=True) * 2
    >>> y.requires_grad
    False
    """

    def __init__(self, mode=True):
        self.mode = not bool(mode)
        self.inference = bool(mode)

    def __enter__(self):
        self.prev = _state.enabled
        self.prev_inference = _state.inference
        _state.enabled = self.mode
        _state.inference = self.inference

    def __exit__(self, *exc):
        _state.enabled = self.prev
        _state.inference = self.prev_inference
        return False

    def __call__(self, fn):
        inference = self.inference

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(inference):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return inference_mode(self.inference)


class set_grad_enabled(_GradModeContext):
    """``with set_grad_enabled(flag):`` records a graph only when ``flag`` is True; called
    plainly, it sets the mode (``torch.set_grad_enabled``).

    >>> x = tt.ones(2, requires_grad=True)
    >>> with tt.set_grad_enabled(False):
    ...     (x * 2).requires_grad
    False
    """

    def __init__(self, mode):
        self.prev = _state.enabled
        self.mode = bool(mode)
        _state.enabled = self.mode

    def __enter__(self):
        pass


_BARE_DECORATORS = (no_grad, enable_grad, inference_mode)
