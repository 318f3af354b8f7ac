"""Layers only look down, and no tinytensor module imports itself back (issue 13).

Every module of the package (.py files parsed with `ast`; .pyx/.pxd files read line by line for
`import`, `from ... import` and `cimport`) is given a layer from `LAYERS`. The test fails on

- an import cycle among tinytensor modules, counting imports made inside functions too (an
  import moved into a function to dodge an import-time loop is still a loop);
- an import of a module in a higher layer, unless the import line carries a `# layering:`
  comment that says why;
- an import of a tinytensor module inside a function (the old way to dodge import-time loops),
  unless its line says why with `# layering:`;
- a module that `LAYERS` does not place (a new module must be given its layer).

Conventions: `from tinytensor import _args` imports the module `tinytensor._args`;
`from tinytensor.nn import Parameter` imports the package `tinytensor.nn` (its __init__).
Python runs a package's __init__ before its submodules; that implicit step is not counted
(a package and its modules are one unit), which is why no package __init__ but the top one
may import anything above its own modules' layer.
"""
import ast
import pathlib
import re

import tinytensor

ROOT = pathlib.Path(tinytensor.__file__).resolve().parent

# (layer, modules): a module takes the layer of the longest entry that is it or a package
# holding it. Within a layer modules may import each other (the cycle check still applies).
LAYERS = {
    0: ("data: dtypes, storage, strided layout, the Tensor class object, argument parsing, "
        "the library's global state", [
        "tinytensor._tensor", "tinytensor._args", "tinytensor._hooks", "tinytensor._format",
        "tinytensor.random", "tinytensor.return_types", "tinytensor.autograd.grad_mode",
        "tinytensor._version"]),
    1: ("kernels and their scratch memory and threads", [
        "tinytensor._kernels", "tinytensor._threads", "tinytensor._functions._memory"]),
    2: ("tensors from NumPy arrays, type promotion, creation functions", [
        "tinytensor._tensor_type", "tinytensor._promotion", "tinytensor.creation"]),
    3: ("autograd core: graph nodes, Function, the engine, backward/grad, gradcheck", [
        "tinytensor.autograd"]),
    4: ("autograd Functions: forward/backward pairs calling the kernels", [
        "tinytensor._functions"]),
    5: ("Tensor API: the methods of Tensor and the ops of the tinytensor namespace", [
        "tinytensor.tensor"]),
    6: ("library: nn, optim, utils, data, serialization, export, device answers", [
        "tinytensor.nn", "tinytensor.optim", "tinytensor.utils", "tinytensor.datasets",
        "tinytensor.distributed", "tinytensor.multiprocessing", "tinytensor.onnx",
        "tinytensor.serialization", "tinytensor._torch_format", "tinytensor._config",
        "tinytensor.accelerator", "tinytensor.backends", "tinytensor.cuda"]),
    7: ("the package: `import tinytensor` gathers every layer", ["tinytensor"]),
}


def module_files():
    """{module name: [source files]} for every .py, .pyx and .pxd file of the package."""
    mods = {}
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in (".py", ".pyx", ".pxd") or "build" in path.relative_to(ROOT).parts:
            continue
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods.setdefault(".".join(parts), []).append(path)
    return mods


MODULES = module_files()


def layer_of(module):
    best = None
    for layer, (_, names) in LAYERS.items():
        for name in names:
            if (module == name or (name != "tinytensor" and module.startswith(name + "."))) and (
                    best is None or len(name) > len(best[1])):
                best = (layer, name)
    return None if best is None else best[0]


def _target(base, name):
    """The module that `from base import name` loads: base.name when that is a module."""
    full = f"{base}.{name}"
    return full if full in MODULES else base


class Import:
    def __init__(self, source, target, path, line, text, nested):
        self.source, self.target, self.path, self.line = source, target, path, line
        self.text, self.nested = text.strip(), nested

    def __repr__(self):
        where = "in a function" if self.nested else "at module level"
        return (f"{self.path.relative_to(ROOT.parent)}:{self.line} {where}: {self.text}  "
                f"({self.source} [layer {layer_of(self.source)}] -> {self.target} "
                f"[layer {layer_of(self.target)}])")


def _python_imports(module, path):
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nested = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    nested.add(id(inner))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [_target(base, a.name) for a in node.names]
        else:
            continue
        text = "\n".join(lines[node.lineno - 1:node.end_lineno])
        for t in dict.fromkeys(targets):
            if t == "tinytensor" or t.startswith("tinytensor."):
                yield Import(module, t, path, node.lineno, text, id(node) in nested)


_CY_IMPORT = re.compile(r"^(\s*)(?:from\s+([\w.]+)\s+c?import\s+(.+)|c?import\s+([\w.]+))")


def _cython_imports(module, path):
    """Imports and cimports of a .pyx/.pxd file (docstrings skipped; indented = in a function)."""
    in_string = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        quotes = line.count('"""') + line.count("'''")
        if in_string or (quotes and not line.strip().startswith(("from", "import", "cimport"))):
            if quotes % 2:
                in_string = not in_string
            continue
        m = _CY_IMPORT.match(line)
        if not m:
            continue
        indent, base, names, plain = m.groups()
        if plain:
            targets = [plain]
        else:
            names = names.split("#")[0].strip("() \\")
            targets = [_target(base, n.split()[0]) for n in names.split(",") if n.strip()]
        for t in dict.fromkeys(targets):
            if t == "tinytensor" or t.startswith("tinytensor."):
                yield Import(module, t, path, number, line, bool(indent))


def all_imports():
    out = []
    for module, paths in MODULES.items():
        for path in paths:
            read = _python_imports if path.suffix == ".py" else _cython_imports
            out.extend(i for i in read(module, path) if i.target != module)
    return out


IMPORTS = all_imports()


def test_every_module_has_a_layer():
    assert MODULES, f"no modules found under {ROOT}"
    unplaced = sorted(m for m in MODULES if layer_of(m) is None)
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"


def test_imports_only_look_down():
    upward = [i for i in IMPORTS
              if (layer_of(i.target) or 0) > (layer_of(i.source) or 0)
              and "# layering:" not in i.text]
    assert not upward, ("imports of a higher layer (move the code down, or say why on the "
                        "import line with `# layering: ...`):\n"
                        + "\n".join(map(repr, upward)))


def test_no_import_hides_in_a_function():
    nested = [i for i in IMPORTS if i.nested and "# layering:" not in i.text]
    assert not nested, ("tinytensor imports inside functions (import at module level; the "
                        "layers have no loop to dodge):\n" + "\n".join(map(repr, nested)))


def _cycles(edges):
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycle():
    edges = {}
    for i in IMPORTS:
        edges.setdefault(i.source, set()).add(i.target)
    cycles = _cycles(edges)
    detail = []
    for component in cycles:
        members = set(component)
        detail.append(" <-> ".join(component))
        detail.extend(f"    {i!r}" for i in IMPORTS if i.source in members and i.target in members)
    assert not cycles, "import cycles among tinytensor modules:\n" + "\n".join(detail)


def test_the_checker_sees_imports():
    """The checker itself: it finds module-level, function-level and Cython imports."""
    sources = {(i.source, i.target, i.nested) for i in IMPORTS}
    assert ("tinytensor.autograd._node", "tinytensor._tensor", False) in sources     # cimport
    assert any(s == "tinytensor.tensor" and t.startswith("tinytensor._functions")
               for s, t, _ in sources)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("tinytensor._functions._memory") == 1
    assert layer_of("tinytensor._functions.conv") == 4


def test_one_tensor_class():
    """The class made below the Functions is the public one, with the API layer's methods."""
    import importlib
    import pickle

    from tinytensor import _tensor, _tensor_type, nn
    api = importlib.import_module("tinytensor.tensor")    # tinytensor.tensor is the function
    assert api.Tensor is tinytensor.Tensor is _tensor.Tensor is _tensor_type.Tensor
    assert repr(tinytensor.Tensor) == "<class 'tinytensor.tensor.Tensor'>"
    assert pickle.loads(pickle.dumps(tinytensor.Tensor)) is tinytensor.Tensor
    assert tinytensor.Tensor.sum.__qualname__ == "Tensor.sum"
    p = nn.Parameter(tinytensor.ones(2))
    assert type(p[0]) is tinytensor.Tensor and type(p.detach()) is tinytensor.Tensor
