"""The package's layering, read from its source (ast): every module-level import of a dark
module goes down or across a layer, never up; the module import graph has no cycle; a
function-local import names only an optional dependency. ARCHITECTURE.md draws the same
layers; change both together."""
from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "dark"

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS = (
    ("arrays", ("dark._backend", "dark._memory", "dark._parallel", "dark._kernels",
                "dark.utils", "dark.utils.hooks", "dark._dtype_info")),
    ("tensor", ("dark._tensor", "dark._tensor_str", "dark._sparse")),
    ("autograd", ("dark.autograd",)),
    ("ops", ("dark.ops", "dark.random", "dark.linalg", "dark.cuda", "dark.accelerator",
             "dark.backends", "dark.testing", "dark.jit", "dark._compile", "dark._legacy",
             "dark.amp", "dark.fft", "dark.special", "dark.utils.dlpack", "dark.cpu",
             "dark.distributed", "dark.autograd.functional", "dark.sparse", "dark.version")),
    ("nn", ("dark.nn",)),
    ("features", ("dark.optim", "dark.data", "dark.utils.data", "dark.serialization",
                  "dark._torch_pickle", "dark.viz", "dark.hub", "dark.multiprocessing",
                  "dark.distributions", "dark.func", "dark.onnx",
                  "dark.utils.checkpoint", "dark.utils.tensorboard", "dark.utils.model_zoo",
                  "dark.distributed.fsdp", "dark.distributed.checkpoint",
                  "dark.distributed.algorithms",
                  "dark.distributed.tensor", "dark.distributed._tensor")),
    ("package", ("dark",)),
)

# The only names a function may import: optional dependencies, imported where first used so
# that dark imports and runs without them.
OPTIONAL = ("cupy", "cupyx", "graphviz", "matplotlib", "safetensors", "PIL", "mpi4py", "onnx",
            "onnxruntime", "tensorboard", "ml_dtypes", "numexpr", "jax", "numba")


def layer_of(module: str) -> int:
    best, found = -1, None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), rank
    if found is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and ARCHITECTURE.md)")
    return found


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(module: str, node, is_package: bool) -> list[str]:
    """The modules an import statement loads, as dotted names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix
            for a in node.names]


def _module_level(tree):
    """The import statements that run when the module is imported (top level, or inside a
    top-level if/try)."""
    for statement in tree.body:
        nodes = ast.walk(statement) if isinstance(statement, (ast.If, ast.Try)) else [statement]
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node


def _imports():
    """{module: set of dark modules it imports at module level}, and the function-local
    imports as (module, line, name)."""
    edges, local = {}, []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        top = {id(n) for n in _module_level(tree)}
        edges[module] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(module, node, is_package):
                if id(node) not in top:
                    local.append((module, node.lineno, target))
                elif target == "dark" or target.startswith("dark."):
                    edges[module].add(target)
    return edges, local


EDGES, LOCAL = _imports()


def _loaded(target: str, importer: str):
    """``target`` and the packages Python initialises to import it, except the root and the
    importer's own packages (which are already being initialised)."""
    if target == "dark":  # the package itself, named: the top layer
        yield target
    parts = target.split(".")
    for i in range(2, len(parts) + 1):
        name = ".".join(parts[:i])
        if name in MODULES and not (importer + ".").startswith(name + ".") and name != importer:
            yield name


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_import_goes_up_a_layer():
    upward = []
    for module, targets in EDGES.items():
        for target in targets:
            for loaded in _loaded(target, module):
                if layer_of(loaded) > layer_of(module):
                    upward.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {loaded} "
                                  f"({LAYERS[layer_of(loaded)][0]})")
    assert not upward, "imports that go up a layer:\n" + "\n".join(sorted(upward))


def _cycles(graph):
    """The strongly connected components of more than one module (iterative Tarjan)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle():
    graph = {m: {loaded for t in targets for loaded in _loaded(t, m)}
             for m, targets in EDGES.items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_function_local_imports_are_optional_dependencies_only():
    wrong = [f"{m}:{line} imports {name}" for m, line, name in LOCAL
             if name.split(".")[0] not in OPTIONAL]
    assert not wrong, ("function-local imports of required modules (import them at module "
                       "level):\n" + "\n".join(wrong))


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The checks above on made-up graphs: they must be able to fail."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert layer_of("dark.ops.elementwise") > layer_of("dark._tensor")
    assert layer_of("dark.utils.data") > layer_of("dark.nn.modules.module")
    assert layer_of("dark.utils.hooks") < layer_of("dark.autograd.engine")
    assert list(_loaded("dark", "dark.nn.modules.rnn")) == ["dark"]
    assert list(_loaded("dark.nn.functional", "dark.nn.modules.rnn")) == ["dark.nn.functional"]
    assert list(_loaded("dark.autograd.function", "dark.ops.shape")) == [
        "dark.autograd", "dark.autograd.function"]
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("numpy")
