"""The graph-walking API (grad_fn, name(), next_functions, AccumulateGrad.variable) against
PyTorch's, and dark.viz: make_dot, record, record_grads, trace."""
from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
from dark import viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed")
ACC = "torch::autograd::AccumulateGrad"


# ----------------------------------------------------------------------------- walking

class Graph:
    """The backward graph below ``root`` (a grad_fn of either library), as plain data:
    node key -> [name, [(child key or None, output_nr), ...]]."""

    def __init__(self, root):
        self.nodes = {}
        self.variables = []
        self.root = id(root)
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in self.nodes:
                continue
            edges = [(None if child is None else id(child), nr)
                     for child, nr in node.next_functions]
            self.nodes[id(node)] = [node.name(), edges]
            if hasattr(node, "variable"):
                self.variables.append(node.variable)
            stack.extend(child for child, _ in node.next_functions if child is not None)

    def canonical(self) -> list:
        """The graph with each node numbered by a depth-first walk from the root that takes
        the edges in order: equal for two graphs exactly when they have the same nodes,
        names and edges (in order, with their output numbers)."""
        number = {}
        stack = [self.root]
        while stack:
            key = stack.pop()
            if key in number:
                continue
            number[key] = len(number)
            stack.extend(child for child, _ in reversed(self.nodes[key][1])
                         if child is not None)
        return [(self.nodes[key][0], [(None if child is None else number[child], nr)
                                      for child, nr in self.nodes[key][1]])
                for key in number]

    def structure(self) -> dict:
        names = {key: name for key, (name, _) in self.nodes.items()}
        edges = collections.Counter(
            (name, position, None if child is None else names[child], nr)
            for name, edge_list in self.nodes.values()
            for position, (child, nr) in enumerate(edge_list))
        node_names = collections.Counter(names.values())
        return {"nodes": len(names), "leaves": node_names[ACC], "names": node_names,
                "edges": edges}


def _small_graph(L, p1, p2_1, p2_2, p3):
    x = 3
    o1 = (p1 * x) ** 2 + 1
    o2_1 = (p2_1 * o1) ** 0.5 - 4
    o2_2 = (p2_2 * o1).sin()
    o3 = (p3 * (o2_1 + 2 * o2_2) + 9) ** 0.3
    return 8 * o3


def _mlp_loss(L, inputs):
    model = L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 3))
    return L.nn.CrossEntropyLoss()(model(inputs), L.tensor([0, 2, 1, 1, 0]))


def _cross_entropy(**options):
    def loss(L, x):
        target = L.tensor([0, 2, 1] if x.dim() == 2 else 2)
        weight = options.get("weight")
        return L.nn.functional.cross_entropy(
            x, target, **dict(options, weight=None if weight is None else L.tensor(weight)))
    return loss


def _probabilities(L, x, **options):
    target = L.tensor([[0.2, 0.3, 0.5, 0.0], [0.1, 0.1, 0.1, 0.7], [1.0, 0.0, 0.0, 0.0]])
    return L.nn.functional.cross_entropy(x, target, **options)


def _conv_pool(L, x, w, b):
    F = L.nn.functional
    return F.max_pool2d(F.conv2d(x, w, b, padding=1), 2).relu().sum()


_WEIGHT = [1.0, 2.0, 0.5, 3.0]
# (name, fn(lib, *inputs), input shapes, which inputs require grad). The whole graph (names,
# edges in order, output numbers) must equal PyTorch's.
CASES = [
    ("quadratic", lambda L, x: 2 * x ** 2 + 5, [()], None),
    ("small_graph", _small_graph, [()] * 4, None),
    ("mlp_loss", _mlp_loss, [(5, 4)], [False]),
    ("mlp_loss_input_grad", _mlp_loss, [(5, 4)], None),
    ("linear", lambda L, x, w, b: L.nn.functional.linear(x, w, b), [(5, 4), (3, 4), (3,)],
     None),
    ("linear_no_bias", lambda L, x, w: L.nn.functional.linear(x, w), [(5, 4), (3, 4)], None),
    ("linear_3d", lambda L, x, w, b: L.nn.functional.linear(x, w, b),
     [(2, 5, 4), (3, 4), (3,)], None),
    ("linear_3d_no_bias", lambda L, x, w: L.nn.functional.linear(x, w), [(2, 5, 4), (3, 4)],
     None),
    ("linear_1d", lambda L, x, w, b: L.nn.functional.linear(x, w, b), [(4,), (3, 4), (3,)],
     None),
    ("linear_1d_no_bias", lambda L, x, w: L.nn.functional.linear(x, w), [(4,), (3, 4)], None),
    ("linear_4d_scalar_bias", lambda L, x, w, b: L.nn.functional.linear(x, w, b),
     [(2, 2, 5, 4), (3, 4), ()], None),
    ("linear_transposed_input", lambda L, x, w, b: L.nn.functional.linear(
        x.transpose(0, 1), w, b), [(5, 2, 4), (3, 4), (3,)], None),
    ("linear_constant_input", lambda L, x, w, b: L.nn.functional.linear(x, w, b),
     [(2, 5, 4), (3, 4), (3,)], [False, True, True]),
    ("cross_entropy", _cross_entropy(), [(3, 4)], None),
    ("cross_entropy_unbatched", _cross_entropy(), [(4,)], None),
    ("cross_entropy_weight_sum", _cross_entropy(weight=_WEIGHT, reduction="sum"), [(3, 4)],
     None),
    ("cross_entropy_ignore_none", _cross_entropy(ignore_index=2, reduction="none"), [(3, 4)],
     None),
    ("cross_entropy_smoothing", _cross_entropy(label_smoothing=0.1), [(3, 4)], None),
    ("cross_entropy_smoothing_weight_ignore",
     _cross_entropy(weight=_WEIGHT, ignore_index=1, label_smoothing=0.2), [(3, 4)], None),
    ("cross_entropy_smoothing_none", _cross_entropy(label_smoothing=0.3, reduction="none"),
     [(3, 4)], None),
    ("cross_entropy_probabilities", _probabilities, [(3, 4)], None),
    ("cross_entropy_probabilities_weight_smoothing",
     lambda L, x: _probabilities(L, x, weight=L.tensor(_WEIGHT), label_smoothing=0.1),
     [(3, 4)], None),
    ("cross_entropy_2d", lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor([[[0, 1], [2, 3]], [[3, 2], [1, 0]]])), [(2, 4, 2, 2)], None),
    ("cross_entropy_1d_spatial", lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor([[0, 1, 2], [3, 2, 1]]), reduction="none"), [(2, 4, 3)], None),
    ("nll_loss", lambda L, x: L.nn.functional.nll_loss(x, L.tensor([0, 2, 1])), [(3, 4)],
     None),
    ("mse_loss", lambda L, a, b: L.nn.functional.mse_loss(a, b), [(3, 4), (3, 4)], None),
    ("mse_loss_const", lambda L, a, b: L.nn.MSELoss(reduction="sum")(a, b), [(3, 4), (3, 4)],
     [True, False]),
    ("activations", lambda L, x: x.relu().sigmoid().tanh().sum(), [(3, 4)], None),
    ("softmax_chain", lambda L, x: x.softmax(1).log_softmax(0).mean(), [(3, 4)], None),
    ("views", lambda L, x: x.view(4, 3).reshape(2, 6).flatten().sum(), [(3, 4)], None),
    ("flatten_module", lambda L, x: L.nn.Flatten()(x), [(2, 3, 4)], None),
    ("conv_pool", _conv_pool, [(1, 2, 6, 6), (3, 2, 3, 3), (3,)], None),
    ("conv_pool_const_input", _conv_pool, [(1, 2, 6, 6), (3, 2, 3, 3), (3,)],
     [False, True, True]),
    ("matmul_relu", lambda L, x, w: (x @ w).relu().sum(), [(4, 3), (3, 2)], None),
    ("broadcast_add", lambda L, a, b: a + b, [(3, 1), (4,)], None),
    ("broadcast_add_const", lambda L, a, b: a + b, [(3, 1), (4,)], [True, False]),
    ("same_leaf_twice", lambda L, a: a * a, [(3,)], None),
    ("sum_mean", lambda L, a: a.sum() * a.mean(), [(3, 4)], None),
    ("sum_mean_dims", lambda L, a: a.mean(dim=1).sum(0) + a.sum(1, keepdim=True).mean(),
     [(3, 4)], None),
    ("index_basic", lambda L, a: a[0].sum() + a[1:3].sum() + a[:, 1].sum() + a[..., 1:].sum(),
     [(3, 4)], None),
    ("index_first", lambda L, a: a[0], [(3, 4)], None),
    ("index_columns", lambda L, a: a[:, 1:3], [(3, 4)], None),
    ("index_advanced", lambda L, a: a[[0, 2]].sum() + a[a > 0].sum() + a[:, [0, 1]].sum(),
     [(3, 4)], None),
    ("index_slice_select", lambda L, a: a[1:3, 0], [(3, 4)], None),
    ("index_select_slice", lambda L, a: a[0, 1:3], [(3, 4)], None),
    ("index_select_slice_open", lambda L, a: a[0, 1:], [(3, 4)], None),
    ("index_select_select", lambda L, a: a[0, 1], [(3, 4)], None),
    ("index_none_select", lambda L, a: a[None, 1], [(3, 4)], None),
    ("index_chain_3d", lambda L, a: a[:, None, 2:4, ::2], [(3, 4, 5)], None),
    ("index_full_slices", lambda L, a: a[:, :, :] + a[0:10, :] + a[:, 0:4], [(3, 4, 5)],
     None),
    ("index_lone_slice", lambda L, a: a[0:10] * a[:] * a[...], [(3, 4, 5)], None),
    ("index_negative_start", lambda L, a: a[-5:, 1] + a[..., 0, :], [(3, 4, 5)], None),
    ("index_ellipsis_none", lambda L, a: a[1:2, None, ..., 0], [(3, 4, 5)], None),
    ("index_none_none", lambda L, a: a[None, None], [(3, 4, 5)], None),
    ("masked_fill", lambda L, a, v: a.masked_fill(a > 0, 0.5).sum()
     + a.masked_fill(a < 0, v).sum(), [(3, 4), ()], None),
    ("cat", lambda L, a, b: L.cat([a, b]).sum(), [(2, 3), (1, 3)], None),
    ("cat_const", lambda L, a, b: L.cat([a, b], 1), [(2, 3), (2, 1)], [True, False]),
]


def _inputs(L, shapes, grads):
    rng = np.random.default_rng(0)
    tensors = [L.tensor(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    for t, g in zip(tensors, grads or [True] * len(tensors)):
        t.requires_grad_(g)
    return tensors


@pytest.mark.parametrize("name,fn,shapes,grads", CASES, ids=[c[0] for c in CASES])
def test_accumulate_grad_holds_the_leaf(name, fn, shapes, grads):
    """Every AccumulateGrad holds a leaf itself (an input or a module's parameter), no
    copy."""
    dark.manual_seed(0)
    dark_in = _inputs(dark, shapes, grads)
    dark_graph = Graph(fn(dark, *dark_in).grad_fn)
    assert dark_graph.variables
    assert all(any(v is t for t in dark_in) or isinstance(v, dark.nn.Parameter)
               for v in dark_graph.variables)


@requires_torch
@pytest.mark.parametrize("name,fn,shapes,grads", CASES, ids=[c[0] for c in CASES])
def test_graph_structure_matches_torch(name, fn, shapes, grads):
    dark.manual_seed(0)
    torch.manual_seed(0)
    dark_in, torch_in = _inputs(dark, shapes, grads), _inputs(torch, shapes, grads)
    dark_graph = Graph(fn(dark, *dark_in).grad_fn)
    torch_graph = Graph(fn(torch, *torch_in).grad_fn)
    assert dark_graph.structure() == torch_graph.structure()  # the readable summary first
    assert dark_graph.canonical() == torch_graph.canonical()


@pytest.mark.parametrize("L", LIBS)
def test_node_api_matches_torch(L):
    x = L.tensor(10.0, requires_grad=True)
    y = 2 * x ** 2 + 5
    add = y.grad_fn
    (mul, mul_nr), (const, const_nr) = add.next_functions
    (pow_, _), two = mul.next_functions
    ((acc, acc_nr),) = pow_.next_functions
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr(add))
    assert re.fullmatch(r"<AccumulateGrad object at 0x[0-9a-f]+>", repr(acc))
    assert acc.variable is x
    assert acc.next_functions == ()
    assert type(acc).__name__ == "AccumulateGrad"
    assert x.grad_fn is None and y.is_leaf is False
    assert (add.name(), mul.name(), pow_.name(), acc.name()) == (
        "AddBackward0", "MulBackward0", "PowBackward0", ACC)
    assert (mul_nr, (const, const_nr), two, acc_nr) == (0, (None, 0), (None, 0), 0)


# ----------------------------------------------------------------------------- trace

def test_trace_quadratic(capsys):
    rows = viz.trace(lambda x: 2 * x ** 2 + 5, 10.0)
    assert [r["node"] for r in rows] == ["x", "v1", "v2", "v3"]
    assert [r["op"] for r in rows] == ["input", "Pow", "Mul", "Add"]
    assert [r["value"] for r in rows] == [10, 100, 200, 205]
    assert [r["incoming_gradient"] for r in rows] == [40, 2, 1, 1]
    mul, add = rows[2], rows[3]
    assert mul["inputs"] == ("v1", "2")
    assert mul["local_derivative"] == (2, 100)
    # the constant 2 is sent grad_out * x**2 = 100 although it takes no gradient
    assert mul["outgoing_gradient"] == (2, 100)
    assert add["local_derivative"] == (1, 1) and add["outgoing_gradient"] == (1, 1)
    assert rows[1]["local_derivative"] == (20,) and rows[1]["outgoing_gradient"] == (40,)
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["node", "op", "inputs"]
    assert table[3].split() == ["v2", "Mul", "v1,", "2", "200", "2,", "100", "1", "2,", "100"]


@requires_torch
def test_trace_small_graph_matches_torch():
    values = [1.0, 2.0, 3.0, 1.5]

    def small_graph(p1, p2_1, p2_2, p3):
        return _small_graph(dark, p1, p2_1, p2_2, p3)

    rows = viz.trace(small_graph, *values, show=False)
    ps = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    kept = []

    class Keep(torch.overrides.TorchFunctionMode):  # every op result, in forward order
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if isinstance(out, torch.Tensor) and out.grad_fn is not None:
                out.retain_grad()
                kept.append(out)
            return out

    with Keep():
        y = _small_graph(torch, *ps)
    y.backward()
    ops = [r for r in rows if r["op"] != "input"]
    assert [r["grad_fn"] for r in ops] == [t.grad_fn.name() for t in kept]
    np.testing.assert_allclose([r["value"] for r in ops], [t.item() for t in kept], rtol=1e-12)
    np.testing.assert_allclose([r["incoming_gradient"] for r in ops],
                               [t.grad.item() for t in kept], rtol=1e-12)
    np.testing.assert_allclose([r["incoming_gradient"] for r in rows[:4]],
                               [p.grad.item() for p in ps], rtol=1e-12)
    assert [r["node"] for r in rows[:4]] == ["p1", "p2_1", "p2_2", "p3"]


def test_trace_needs_a_graph():
    with pytest.raises(ValueError, match="must return a Tensor"):
        viz.trace(lambda x: 3.0, 1.0, show=False)


# ----------------------------------------------------------------------------- make_dot

def _labels(source: str) -> list:
    """The label of each node of a DOT text, as its lines."""
    found = re.findall(r'label=(?:"((?:[^"\\]|\\.)*)"|([^\s\]"]+))', source)
    return [(quoted or bare).split("\\n") for quoted, bare in found]


def _node_label(source: str, first_line: str) -> list:
    found = [lines for lines in _labels(source) if lines[0] == first_line]
    assert len(found) == 1, (first_line, _labels(source))
    return found[0]


def _quadratic(recorded=True):
    x = dark.tensor(10.0, requires_grad=True)
    if recorded:
        with viz.record():
            y = 2 * x ** 2 + 5
    else:
        y = 2 * x ** 2 + 5
    return x, y


def test_make_dot_values_and_grads():
    x, y = _quadratic()
    y.backward()
    source = viz.make_dot(y, params={"x": x}, show_values=True, show_grads=True).source
    assert _node_label(source, "x") == ["x", "()", "value: 10", "grad: 40"]
    assert _node_label(source, "PowBackward0")[2:] == ["value: 100", "grad: 2"]
    assert _node_label(source, "MulBackward0")[2:] == ["value: 200", "grad: 1"]
    assert _node_label(source, "AddBackward0")[2:] == ["value: 205", "grad: 1"]
    constants = sorted(lines[0] for lines in _labels(source) if len(lines) == 1)
    assert constants == ["2", "5"]  # the inputs that take no gradient, with their values


def test_make_dot_without_record_is_honest():
    x, y = _quadratic(recorded=False)
    source = viz.make_dot(y, show_values=True, show_grads=True).source
    # the root is known; pow's output was saved by mul; mul's output was kept by nobody
    assert _node_label(source, "AddBackward0")[2:] == ["value: 205", "grad: not recorded"]
    assert _node_label(source, "PowBackward0")[2] == "value: 100"
    assert _node_label(source, "MulBackward0")[2] == "value: not recorded"
    assert _node_label(source, "()")[1:] == ["value: 10", "grad: None"]  # unnamed leaf
    viz.record_grads(y)
    y.backward()
    source = viz.make_dot(y, show_grads=True).source
    assert _node_label(source, "MulBackward0")[2] == "grad: 1"
    assert _node_label(source, "PowBackward0")[2] == "grad: 2"


def test_make_dot_summarises_large_values():
    x = dark.arange(12.0).reshape(3, 4).requires_grad_(True)
    with viz.record():
        y = x * 2
    source = viz.make_dot(y, show_values=True, max_elems=4).source
    assert _node_label(source, "MulBackward0")[1:] == ["(3, 4)", "value: min 0 mean 11 max 22"]
    source = viz.make_dot(x[0], show_values=True, max_elems=4).source
    assert _node_label(source, "SelectBackward0")[1:] == ["(4,)", "value: [0, 1, 2, 3]"]


def test_make_dot_mlp_names_and_structure():
    dark.manual_seed(0)
    model = dark.nn.Sequential(dark.nn.Linear(4, 8), dark.nn.ReLU(), dark.nn.Linear(8, 3))
    loss = dark.nn.CrossEntropyLoss()(model(dark.randn(5, 4)), dark.tensor([0, 2, 1, 1, 0]))
    source = viz.make_dot(loss, params=dict(model.named_parameters())).source
    labels = _labels(source)
    leaves = sorted(lines for lines in labels if "weight" in lines[0] or "bias" in lines[0])
    assert leaves == [["0.bias", "(8,)"], ["0.weight", "(8, 4)"],
                      ["2.bias", "(3,)"], ["2.weight", "(3, 8)"]]
    structure = Graph(loss.grad_fn).structure()
    assert len(labels) == structure["nodes"]  # one box per op and per leaf
    assert sorted(lines[0] for lines in labels if not lines[0][0].isdigit()) == sorted(
        name for name, n in structure["names"].items() if name != ACC for _ in range(n))
    assert len(re.findall(r"->", source)) == sum(structure["edges"][e] for e in
                                                 structure["edges"] if e[2] is not None)
    assert _node_label(source, "ReluBackward0")[1] == "(5, 8)"
    green = re.findall(r'label="([^"]*)"[^\]]*fillcolor="?darkolivegreen1', source)
    assert green == ["NllLossBackward0\\n()"]


def test_make_dot_attrs_and_saved():
    x, y = _quadratic(recorded=False)
    source = viz.make_dot(y, show_attrs=True, show_saved=True).source
    assert "exponent: 2" in _node_label(source, "PowBackward0")
    assert "alpha: 1" in _node_label(source, "AddBackward0")
    saved = [lines for lines in _labels(source) if lines[0].startswith("saved[")]
    assert sorted(map(tuple, saved)) == [("saved[0]", "()"), ("saved[0]", "()")]  # mul, pow
    assert "saved[1]: 2" in _node_label(source, "MulBackward0")  # the python number 2
    assert source.count("dotted") == 2
    short = viz.make_dot(dark.tensor([1.0], requires_grad=True).sum(dim=0, keepdim=True),
                         show_attrs=True, max_attr_chars=8).source
    assert all(len(line) <= 8 for line in _node_label(short, "SumBackward1")[2:])
    y.backward()
    assert "saved: released" in _node_label(viz.make_dot(y, show_saved=True).source,
                                            "MulBackward0")


def test_make_dot_several_outputs_and_long_chain():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 2, x.exp()
    source = viz.make_dot((a, b), params={"x": x}).source
    assert len(re.findall("darkolivegreen1", source)) == 2
    y = x
    for _ in range(3000):  # no recursion limit in the walk
        y = y + 1
    assert len(_labels(viz.make_dot(y).source)) == 3001


def test_make_dot_multi_output_node():
    x = dark.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True)
    with viz.record():
        values, _ = x.max(dim=1)
    values.sum().backward()
    label = _node_label(viz.make_dot(values, show_values=True).source, "MaxBackward0")
    # the int64 indices are an output of the node too, without a value or gradient
    assert label[1:] == ["[0] (2,)", "[1] (2,) int64", "value[0]: [5, 4]"]


def test_make_dot_rejects_bad_arguments():
    with pytest.raises(TypeError, match="Tensor"):
        viz.make_dot([1.0])
    x = dark.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"params\['w'\]"):
        viz.make_dot(x * 2, params={"w": 1.0})


def _recorded(node) -> bool:
    return "dark.viz" in node.metadata


def test_record_restores_and_nests():
    x = dark.ones(2, requires_grad=True)
    with pytest.raises(KeyError):
        with viz.record():
            with viz.record():
                inner = x * 2
            outer = x * 3
            raise KeyError
    after = x * 4
    assert _recorded(inner.grad_fn) and _recorded(outer.grad_fn)
    assert not _recorded(after.grad_fn)


def test_node_observer_sees_each_recorded_node_until_removed():
    # the hook of the autograd layer that record() uses
    seen = []
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    observe = dark.autograd.graph.register_node_observer
    with observe(lambda node, inputs: seen.append((node.name(), inputs))):
        y = x * 3
        with dark.no_grad():
            x * 4  # no node: nothing to see
        y.exp()
    x * 5
    assert [name for name, _ in seen] == ["MulBackward0", "ExpBackward0"]
    assert seen[0][1][0] is x and seen[0][1][1] == 3
    assert seen[1][1][0] is y


def test_saved_values_name_what_a_node_saved():
    saved_values = dark.autograd.graph.saved_values
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    w = dark.tensor([3.0, 4.0], requires_grad=True)
    y = x.exp()
    kinds = [(s.kind, s.output_nr, s.current) for s in saved_values(y.grad_fn)]
    assert ("output", 0, True) in kinds
    z = x * w
    assert [(s.kind, s.value) for s in saved_values(z.grad_fn)] == [("tensor", x), ("tensor", w)]
    scaled = x * 3
    assert [s.kind for s in saved_values(scaled.grad_fn)] == ["tensor", "value"]
    assert saved_values(scaled.grad_fn)[1].value == 3
    with dark.no_grad():
        w.add_(1)
    assert [s.current for s in saved_values(z.grad_fn)] == [True, False]
    y.sum().backward()
    assert saved_values(y.grad_fn) is None  # freed by the backward
    leaf_node = y.grad_fn.next_functions[0][0]
    assert leaf_node.name() == ACC and saved_values(leaf_node) == ()


def test_make_dot_on_device(device):
    x = dark.tensor([1.0, -2.0], device=device, requires_grad=True)
    with viz.record():
        y = (x * 3).relu().sum()
    y.backward()
    source = viz.make_dot(y, show_values=True, show_grads=True).source
    assert _node_label(source, "ReluBackward0")[2:] == ["value: [3, 0]", "grad: [1, 1]"]
    assert _node_label(source, "MulBackward0")[2:] == ["value: [3, -6]", "grad: [1, 0]"]


# ----------------------------------------------------------------------------- DOT output

def _graphs():
    x, y = _quadratic()
    y.backward(retain_graph=True)
    dark.manual_seed(0)
    model = dark.nn.Sequential(dark.nn.Linear(4, 8), dark.nn.ReLU(), dark.nn.Linear(8, 3))
    loss = dark.nn.CrossEntropyLoss()(model(dark.randn(5, 4)), dark.tensor([0, 2, 1, 1, 0]))
    params = {'odd "name" \\ here': x}
    return [(y, dict(params=params, show_values=True, show_grads=True, show_attrs=True,
                     show_saved=True)),
            (loss, dict(params=dict(model.named_parameters()), show_attrs=True,
                        show_saved=True))]


@pytest.fixture(params=["standin", "graphviz"])
def backend(request, monkeypatch):
    """make_dot with the graphviz package (skipped when missing) and with DotGraph."""
    if request.param == "graphviz":
        pytest.importorskip("graphviz")
    else:
        monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz fails
    return request.param


@needs_dot
def test_dot_source_is_valid(backend):
    for var, options in _graphs():
        graph = viz.make_dot(var, **options)
        assert isinstance(graph, viz.DotGraph) == (backend == "standin")
        done = subprocess.run(["dot", "-Tsvg"], input=graph.source.encode(),
                              capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stderr == b""
    var, options = _graphs()[0]
    svg = viz.make_dot(var, **options).pipe(format="svg").decode()
    assert "odd &quot;name&quot; \\ here" in svg  # quotes and backslashes survive


@needs_dot
def test_standin_render_pipe_and_notebook(tmp_path, backend):
    if backend != "standin":
        pytest.skip("graphviz's own render is graphviz's business")
    graph = viz.make_dot(_quadratic()[1])
    path = graph.render(str(tmp_path / "g"), format="png", cleanup=True)
    assert path == str(tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "g").exists()
    assert graph.pipe("svg").lstrip().startswith(b"<?xml")
    assert "<svg" in graph._repr_svg_()


def test_standin_without_dot(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    graph = viz.make_dot(_quadratic()[1])
    assert graph.source.startswith("digraph {")
    assert graph._repr_svg_() is None
    with pytest.raises(RuntimeError, match="install Graphviz"):
        graph.pipe("svg")
