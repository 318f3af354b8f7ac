"""Recording a model's operations for export.

Every tinytensor op runs through `Function.apply`, which calls `_node._trace_hook[0]` after
forward when it is set. While an export traces, that hook is `_dispatch`, which hands the op
to the tracer of the calling thread, if any: ops run by other threads at the same time are
not recorded (and pay one thread-local look-up while some thread exports).

The model runs with autograd on (its inputs require grad), so that every value computed from
the inputs carries a grad_fn: the ctx of the recorded op that made it. A value is identified by
(grad_fn, output number), which follows in-place writes (`x += y`, relu_: the written tensor
takes the op's grad_fn) and views made without a Function (basic indexing records BasicIndex
only under autograd). Tensors without a grad_fn (parameters, constants, integer results) are
identified by (id, storage version); for them an in-place write is matched to the op that
computed the new value (see Tracer._resolve_inplace).
"""
import threading

import numpy as np

from tinytensor.autograd import _node

_local = threading.local()
_lock = threading.Lock()
_active = [0]             # tracers alive in all threads; the hook is set while > 0


def key(t):
    fn = t.grad_fn
    if fn is not None:
        return ("fn", id(fn), t._output_nr)
    return ("t", id(t), t._version)


def _dispatch(cls, ctx, args, out):
    tracer = getattr(_local, "tracer", None)
    if tracer is not None:
        tracer.record(cls, ctx, args, out)


class Record:
    """One op: its Function class, ctx, arguments, output tensors and the keys of both."""
    __slots__ = ("cls", "ctx", "args", "outs", "in_keys", "out_keys", "index")

    def __init__(self, cls, ctx, args, outs, in_keys, out_keys, index):
        self.cls, self.ctx, self.args, self.outs = cls, ctx, args, outs
        self.in_keys, self.out_keys, self.index = in_keys, out_keys, index

    @property
    def name(self):
        return self.cls.__name__


class Tracer:
    """Records the ops the current thread runs inside `with Tracer() as tr:`."""

    def __init__(self):
        self.records = []
        self.producer = {}       # tensor key -> (record, output number)
        self.alias = {}          # key of an in-place-written tensor -> key of the op's output
        self._ids = set()        # ids of inputs and op outputs (to spot in-place writes)
        self._held = []          # tensors whose ids are keys: kept alive
        self.stale = set()       # keys of values written in place in a way not traced
        self.inputs = set()      # keys of the model's input tensors

    def __enter__(self):
        if getattr(_local, "tracer", None) is not None:
            raise RuntimeError("tinytensor.onnx.export: this thread is already tracing an export")
        _local.tracer = self
        with _lock:
            _active[0] += 1
            _node._trace_hook[0] = _dispatch
        return self

    def __exit__(self, *exc):
        _local.tracer = None
        with _lock:
            _active[0] -= 1
            if _active[0] == 0:
                _node._trace_hook[0] = None
        return False

    def add_input(self, t):
        self._ids.add(id(t))
        self._held.append(t)
        self.inputs.add(key(t))

    def lookup(self, t):
        """The key under which `t`'s current value was recorded (following in-place writes)."""
        k = key(t)
        if k in self.producer or k in self.inputs:
            return k
        if k in self.alias:
            return self.alias[k]
        if k[0] == "t" and id(t) in self._ids:
            return self._resolve_inplace(t, k)
        return k

    def _resolve_inplace(self, t, k):
        # Tensor._inplace_binary runs the op out of place on `t` and copies the result into
        # it: the newest op whose first tensor argument is an older version of `t` and whose
        # output has `t`'s new value is the producer.
        for rec in reversed(self.records):
            first = next((a for a in rec.args if hasattr(a, "_version")), None)
            if first is None or id(first) != id(t) or not rec.outs:
                continue
            o = rec.outs[0]
            if o is None or o.shape != t.shape:
                continue
            a, b = o.detach().numpy(), t.detach().numpy()
            if np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                self.alias[k] = rec.out_keys[0]
                return rec.out_keys[0]
            break
        self.stale.add(k)        # e.g. written through another view of its storage
        return k

    def record(self, cls, ctx, args, out):
        outs = list(out) if isinstance(out, tuple) else [out]
        outs = [o if hasattr(o, "_version") else None for o in outs]
        in_keys = [self.lookup(a) if hasattr(a, "_version") else None for a in args]
        out_keys = [key(o) if o is not None else None for o in outs]
        rec = Record(cls, ctx, tuple(args), outs, in_keys, out_keys, len(self.records))
        self.records.append(rec)
        for nr, (o, k) in enumerate(zip(outs, out_keys)):
            if k is not None:
                self.producer[k] = (rec, nr)
                self._ids.add(id(o))
