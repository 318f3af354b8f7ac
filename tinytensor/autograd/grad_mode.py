"""Grad mode: whether operations record a graph. Per thread, as in PyTorch."""
import functools
import threading


class _GradState(threading.local):
    enabled = True


_state = _GradState()


def is_grad_enabled():
    return _state.enabled


def set_grad_enabled_(mode):
    _state.enabled = bool(mode)


class _GradModeContext:
    """Base of no_grad / enable_grad: a context manager and a decorator."""
    mode = True

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
    """Operations inside record no graph (their results have requires_grad=False)."""
    mode = False


class enable_grad(_GradModeContext):
    """Turn grad mode back on inside a no_grad block."""
    mode = True


class set_grad_enabled(_GradModeContext):
    """`with set_grad_enabled(flag):`, or called plainly to set the mode."""

    def __init__(self, mode):
        self.prev = _state.enabled
        self.mode = bool(mode)
        _state.enabled = self.mode

    def __enter__(self):
        pass
