"""tinytensor.onnx.export: trace a model, convert each recorded op, write the ONNX file."""
import inspect
import os

import numpy as np

from tinytensor.autograd.grad_mode import enable_grad
from tinytensor.onnx._ops import CONVERTERS
from tinytensor.onnx._trace import Tracer, key
from tinytensor.tensor import from_numpy

DEFAULT_OPSET = 17
MIN_OPSET = 13            # Softmax over one axis, Squeeze/Unsqueeze/ReduceSum axes as inputs


class UnsupportedOperatorError(RuntimeError):
    """An op of the traced model that the ONNX export cannot express (the message names it)."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("tinytensor.onnx.export needs the onnx package: "
                          'pip install "tinytensor[onnx]" (or pip install onnx)') from None
    return onnx


def _op_label(r):
    if r.name == "Unary":
        return f"Unary({r.args[1]!r})"
    return r.name


class GraphBuilder:
    """Turns recorded ops into ONNX nodes and initializers; the converters' interface."""

    def __init__(self, onnx, opset, tracer, alt_records, param_names, input_names):
        self.onnx, self.opset, self.tracer = onnx, opset, tracer
        self.alt = alt_records             # the ops of a trace at other dynamic-axis sizes
        self.param_names = param_names     # id(tensor) -> "conv1.weight"
        self.names = {}                    # tensor key -> ONNX value name
        self.inputs = set()                # keys of graph inputs
        self.nodes, self.initializers = [], []
        self._consts = {}                  # id(tensor) -> initializer name
        self._held = []                    # tensors whose ids name initializers
        self._count = 0
        self._used = set(input_names)

    # ------------------------------------------------------------------ for converters

    def unsupported(self, r, why):
        return UnsupportedOperatorError(
            f"tinytensor.onnx.export: cannot export {_op_label(r)} to ONNX: {why}")

    def np_dtype(self, dt):
        return np.dtype(dt.np_dtype)

    def onnx_dtype(self, dt):
        return self.onnx.helper.np_dtype_to_tensor_dtype(self.np_dtype(dt))

    def fresh(self, hint):
        while True:
            self._count += 1
            name = f"{hint}_{self._count}"
            if name not in self._used:
                self._used.add(name)
                return name

    def node(self, op, inputs, n_outputs=1, **attrs):
        """Append an ONNX node; its output name (or a list of n_outputs names)."""
        outs = [self.fresh(op) for _ in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outs,
                                                     name=self.fresh(op + "_node"), **attrs))
        return outs[0] if n_outputs == 1 else outs

    def const(self, value, dtype=None):
        """A new initializer holding `value` (a NumPy array or a list)."""
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh("const")
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def slice(self, x, starts, ends, axes):
        return self.node("Slice", [x, self.const(starts, np.int64), self.const(ends, np.int64),
                                   self.const(axes, np.int64)])

    def arg(self, r, i):
        """The ONNX name of tensor argument i of record r."""
        k, t = r.in_keys[i], r.args[i]
        if k in self.names:
            name = self.names[k]
            if name is None:
                rec, nr = self.tracer.producer[k]
                raise self.unsupported(rec, f"output {nr} (indices) is used by {_op_label(r)}")
            return name
        if k in self.tracer.producer:
            rec, _ = self.tracer.producer[k]
            raise self.unsupported(rec, "its output is read before it was converted")
        if k in self.tracer.stale:
            raise self.unsupported(r, f"argument {i} was modified in place in a way the trace "
                                      "cannot follow (e.g. through another view of its memory)")
        return self._initializer(r, i, t)

    def operand(self, r, i):
        """Argument i as an input of the op's result dtype: tensors cast if needed, Python
        scalars as constants."""
        a = r.args[i]
        out_dt = self.np_dtype(r.outs[0].dtype)
        if not hasattr(a, "_version"):
            return self.const(np.array(a, dtype=out_dt))
        name = self.arg(r, i)
        if self.np_dtype(a.dtype) != out_dt:
            name = self.node("Cast", [name], to=self.onnx_dtype(r.outs[0].dtype))
        return name

    def dynamic_dims(self, r, i):
        """Dims of tensor argument i (or "out": output 0) whose size follows a dynamic axis."""
        if self.alt is None:
            return set()
        r2 = self.alt[r.index]
        a, b = (r.outs[0], r2.outs[0]) if i == "out" else (r.args[i], r2.args[i])
        return {d for d, (m, n) in enumerate(zip(a.shape, b.shape)) if m != n}

    def reshape_target(self, r):
        """ONNX Reshape's shape input for a recorded view/reshape: sizes that follow a dynamic
        axis become 0 (copy the input's size at that position) or -1 (inferred; at most one)."""
        x, out = r.args[0], r.outs[0]
        target = [int(n) for n in out.shape]
        dyn = self.dynamic_dims(r, "out")
        if not dyn:
            return target
        r2 = self.alt[r.index]
        x2, out2 = r2.args[0], r2.outs[0]
        inferred = []
        for d in sorted(dyn):
            if d < x.ndim and out.shape[d] == x.shape[d] and out2.shape[d] == x2.shape[d]:
                target[d] = 0
            else:
                inferred.append(d)
        if len(inferred) > 1:
            raise self.unsupported(r, f"reshape {tuple(x.shape)} -> {tuple(out.shape)} makes "
                                      f"dims {inferred} depend on dynamic axes: ONNX Reshape can "
                                      "infer one")
        for d in inferred:
            target[d] = -1
        return target

    # ------------------------------------------------------------------ internals

    def _initializer(self, r, i, t):
        if id(t) in self._consts:
            return self._consts[id(t)]
        named = id(t) in self.param_names
        if self.alt is not None:
            t2 = self.alt[r.index].args[i]
            same = tuple(t.shape) == tuple(t2.shape) and (
                named or np.array_equal(t.detach().numpy(), t2.detach().numpy(), equal_nan=True))
            if not same:
                raise self.unsupported(r, f"argument {i} is a tensor computed from the inputs' "
                                          "values or sizes outside the recorded ops (e.g. a "
                                          "comparison, or through NumPy): it would be frozen "
                                          "as a constant")
        name = self.param_names[id(t)] if named else self.fresh("const")
        self._used.add(name)
        arr = np.ascontiguousarray(t.detach().numpy())
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        self._consts[id(t)] = name
        self._held.append(t)
        return name

    def convert(self, r):
        fn = CONVERTERS.get(r.cls)
        if fn is None:
            raise UnsupportedOperatorError(
                f"tinytensor.onnx.export: cannot export {_op_label(r)} to ONNX: no converter for "
                f"this op (add one to tinytensor/onnx/_ops.py)")
        out = fn(self, r)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        for k, name in zip(r.out_keys, outs):
            if k is not None:
                self.names[k] = name

    def rename(self, old, new):
        for n in self.nodes:
            for seq in (n.input, n.output):
                for j, v in enumerate(seq):
                    if v == old:
                        seq[j] = new


def _flatten(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flatten(o))
        return res
    return [out]


def _is_tensor(x):
    return hasattr(x, "_version") and hasattr(x, "detach")


def _trace(model, args):
    """Run the model on args, recording its ops: (tracer, output tensors, input keys).

    Floating-point inputs reach the model as non-leaf aliases that require grad (clones of
    detached copies), so that every value computed from them carries a grad_fn (see _trace.py)
    and in-place writes to an input are allowed and leave the caller's tensor alone.
    """
    tracer = Tracer()
    in_keys, call = {}, list(args)
    with enable_grad():
        for i, a in enumerate(args):
            if _is_tensor(a):
                if a.is_floating_point():
                    a = call[i] = a.detach().requires_grad_().clone()
                tracer.add_input(a)
                in_keys[i] = key(a)
        with tracer:
            out = model(*call)
    outs = _flatten(out)
    for o in outs:
        if not _is_tensor(o):
            raise TypeError(f"tinytensor.onnx.export: the model returned a {type(o).__name__}; "
                            "outputs must be tensors (or tuples/lists of tensors)")
    return tracer, outs, in_keys


def _check_same_ops(tracer, outs, tracer2, outs2):
    """The second trace (dynamic axes doubled) must run the same ops with the same ranks."""
    r1, r2 = tracer.records, tracer2.records
    if [r.cls for r in r1] != [r.cls for r in r2] or len(outs2) != len(outs):
        raise RuntimeError("tinytensor.onnx.export: the model runs different ops when a dynamic "
                           "axis changes size; it cannot be exported with these dynamic_axes")
    for a, b in zip(r1, r2):
        for o, o2 in zip(a.outs, b.outs):
            if o is not None and o2 is not None and o.ndim != o2.ndim:
                raise UnsupportedOperatorError(
                    f"tinytensor.onnx.export: cannot export {_op_label(a)} to ONNX: its output "
                    f"rank changes with a dynamic axis ({tuple(o.shape)} vs {tuple(o2.shape)}; "
                    "e.g. squeeze() of a dynamic axis of size 1)")


def _dynamic_spec(dynamic_axes, name):
    """{dim: symbolic name} for one input/output name of dynamic_axes."""
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(d): str(s) for d, s in spec.items()}
    return {int(d): f"{name}_dynamic_axes_{j + 1}" for j, d in enumerate(spec)}


def _other_input(t, dims):
    """The second run's input for `t`: each of `dims` doubled (concatenated with itself; size 1
    for a size-0 dim), and floating-point values replaced by other values (a private NumPy
    generator: the library's RNG is left alone)."""
    a = t.detach().numpy()
    for d in dims:
        if a.shape[d]:
            a = np.concatenate([a, a], axis=d)
        else:
            a = np.zeros(a.shape[:d] + (1,) + a.shape[d + 1:], a.dtype)
    if a.dtype.kind == "f":
        a = np.random.default_rng(0).standard_normal(a.shape).astype(a.dtype)
    return from_numpy(np.ascontiguousarray(a))


def _value_info(onnx, name, t, dims):
    shape = [dims.get(d, int(n)) for d, n in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(
        name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype.np_dtype)), shape)


def export(model, args, f, export_params=True, verbose=False, training=None, input_names=None,
           output_names=None, opset_version=None, do_constant_folding=True, dynamic_axes=None,
           keep_initializers_as_inputs=False):
    """Export a model to an ONNX file, as ``torch.onnx.export``.

    The model runs once on the example inputs `args` (in eval mode, without autograd: every
    module's training flag is restored afterwards); each op it runs becomes ONNX nodes,
    parameters and buffers become named initializers, and the graph is checked with
    ``onnx.checker`` before it is written. With `dynamic_axes`, the model runs a second time on
    the inputs with those axes doubled, to learn which sizes follow them (view/reshape then
    copy or infer those sizes instead of storing them). An op ONNX cannot express raises
    :class:`UnsupportedOperatorError` naming it.

    Needs the ``onnx`` package (``pip install "tinytensor[onnx]"``).

    Args:
        model: a Module (or any callable) taking ``*args``.
        args: a tensor or a tuple of tensors: the example inputs.
        f: a path (str or os.PathLike) or a binary file object to write the model to.
        input_names, output_names: names of the graph's inputs and outputs (default: the
            forward's parameter names; ``output`` / ``output_0``, ``output_1``...).
        dynamic_axes: ``{name: [dim, ...]}`` or ``{name: {dim: "symbol"}}`` for inputs and
            outputs whose sizes along those dims may change (a batch axis, typically).
        opset_version: the ONNX operator set (default 17, at least 13).
        export_params: False leaves the parameters out (graph inputs instead of initializers).
        keep_initializers_as_inputs: also list the initializers among the graph's inputs.
        training, verbose, do_constant_folding: accepted for compatibility; export always
            runs in eval mode, prints nothing, and folds nothing.

    Returns:
        None.

    Example:
        >>> import io
        >>> import tinytensor as tt
        >>> import tinytensor.onnx
        >>> from tinytensor import nn
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
        >>> buf = io.BytesIO()
        >>> tt.onnx.export(model, tt.randn(2, 1, 6, 6), buf, input_names=["x"],
        ...                output_names=["y"], dynamic_axes={"x": [0], "y": [0]})
        >>> import onnx
        >>> [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
        ['Conv', 'Relu', 'Reshape', 'Gemm']
    """
    onnx = _onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"tinytensor.onnx.export supports opset_version {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()}, got {opset_version}")
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    tensors = [i for i, a in enumerate(args) if _is_tensor(a)]
    input_names = _input_names(model, tensors, input_names)
    tracer, outs, in_keys, tracer2, outs2 = _traces(model, args, tensors, input_names,
                                                    dynamic_axes)
    output_names = list(output_names or [])
    if len(outs) == 1 and not output_names:
        output_names = ["output"]
    output_names += [f"output_{i}" for i in range(len(output_names), len(outs))]

    param_names = {}
    if hasattr(model, "named_parameters"):
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            param_names.setdefault(id(p), name)
    alt = None if tracer2 is None else tracer2.records
    g = GraphBuilder(onnx, opset, tracer, alt, param_names, input_names + output_names)
    graph_inputs = []
    for i, name in zip(tensors, input_names):
        g.names.setdefault(in_keys[i], name)
        g.inputs.add(in_keys[i])
        graph_inputs.append(_value_info(onnx, name, args[i], _dynamic_spec(dynamic_axes, name)))
    out_keys = [tracer.lookup(o) for o in outs]
    _convert_needed(g, out_keys)
    graph_outputs = []
    for j, (o, k, name) in enumerate(zip(outs, out_keys, output_names)):
        _bind_output(g, k, o, name, output_names[:j], input_names)
        dims = _dynamic_spec(dynamic_axes, name)
        if outs2 is not None:
            for d, (m, n) in enumerate(zip(o.shape, outs2[j].shape)):
                if m != n:
                    dims.setdefault(d, f"{name}_dynamic_axes_{d + 1}")
        graph_outputs.append(_value_info(onnx, name, o, dims))

    inits = g.initializers
    as_inputs = []
    if not export_params:
        named = set(param_names.values())
        as_inputs = [t for t in inits if t.name in named]
        inits = [t for t in inits if t.name not in named]
    elif keep_initializers_as_inputs:
        as_inputs = inits
    graph_inputs += [onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                     for t in as_inputs]
    graph = onnx.helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                                   initializer=inits)
    proto = onnx.helper.make_model(graph, producer_name="tinytensor",
                                   opset_imports=[onnx.helper.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, _max_ir_version(onnx, opset))
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    else:
        f.write(data)
    return None


def _input_names(model, tensors, names):
    """Given names, completed with the forward's parameter names or input_<i>."""
    if names is None:
        try:
            fn = model.forward if hasattr(model, "forward") else model
            params = [p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
        names = [params[i] if i < len(params) else f"input_{i}" for i in tensors]
    names = list(names)[:len(tensors)]
    return names + [f"input_{i}" for i in tensors[len(names):]]


def _traces(model, args, tensors, input_names, dynamic_axes):
    """Trace the model in eval mode (restoring every module's flag after); then, when it has
    tensor inputs, trace it again on other values, with the dynamic axes doubled: that run tells
    which sizes follow the dynamic axes, and catches tensors computed from the inputs outside
    the recorded ops (comparisons, NumPy round trips), which would be frozen as constants.
    Returns (tracer, outputs, input keys, second tracer or None, its outputs or None)."""
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [(m, m.training) for m in modules]
    for m in modules:
        m.training = False
    try:
        tracer, outs, in_keys = _trace(model, args)
        if not tensors:
            return tracer, outs, in_keys, None, None
        grow = {i: sorted(_dynamic_spec(dynamic_axes, name))
                for i, name in zip(tensors, input_names)}
        args2 = tuple(_other_input(a, grow[i]) if i in grow else a for i, a in enumerate(args))
        try:
            tracer2, outs2, _ = _trace(model, args2)
        except Exception as e:
            raise RuntimeError(f"tinytensor.onnx.export: the model failed when run again on "
                               f"other input values (and other sizes along the dynamic axes), "
                               f"which export does to check the trace: {e}") from e
        _check_same_ops(tracer, outs, tracer2, outs2)
        return tracer, outs, in_keys, tracer2, outs2
    finally:
        for m, mode in modes:
            m.training = mode


def _convert_needed(g, out_keys):
    """Convert the ops the outputs depend on, in the order they ran (dead ops are skipped:
    they may have no converter)."""
    producer = g.tracer.producer
    needed, stack = set(), list(out_keys)
    while stack:
        k = stack.pop()
        if k in g.inputs or k not in producer:
            continue
        rec, _ = producer[k]
        if rec.index not in needed:
            needed.add(rec.index)
            stack.extend(x for x in rec.in_keys if x is not None)
    for r in g.tracer.records:
        if r.index in needed:
            g.convert(r)


def _bind_output(g, k, o, name, earlier_outputs, input_names):
    """Give output value `k` the graph output name `name`: rename the node output that holds
    it, or add an Identity (for an input, a constant, or a value already bound)."""
    src = g.names.get(k)
    if src is None and k in g.tracer.producer:
        rec, nr = g.tracer.producer[k]
        raise g.unsupported(rec, f"output {nr} (indices) is a model output")
    produced = {v for n in g.nodes for v in n.output}
    if src in produced and src not in earlier_outputs and src not in input_names:
        g.rename(src, name)
        for kk, v in list(g.names.items()):
            if v == src:
                g.names[kk] = name
        return
    if src is None:                    # no op made it: a constant
        src = g.const(o.detach().numpy())
    g.nodes.append(g.onnx.helper.make_node("Identity", [src], [name],
                                           name=g.fresh("Identity_node")))


def _max_ir_version(onnx, opset):
    """The IR version that goes with `opset` (so that older runtimes load the file)."""
    for entry in onnx.helper.VERSION_TABLE:
        # (release, ir_version, ai.onnx opset, ai.onnx.ml opset[, ...])
        if entry[2] == opset:
            return entry[1]
    return onnx.IR_VERSION
