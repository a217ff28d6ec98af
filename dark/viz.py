"""dark.viz: see the backward graph.

- ``make_dot(var, params=None, ...)`` draws the graph that ``var.grad_fn`` heads, as
  torchviz's ``make_dot`` does: a ``graphviz.Digraph`` when the ``graphviz`` package is
  installed (``pip install dark[viz]``), else a ``DotGraph`` with the same ``source``,
  ``render`` and ``pipe`` (these two need Graphviz's ``dot`` program).
- ``record()`` is a context manager: the graph built inside it keeps, per node, the values
  of its inputs and outputs at forward time and, after ``backward()``, the gradient that
  reached each node. ``make_dot(show_values=True, show_grads=True)`` draws them.
- ``trace(fn, *inputs)`` runs ``fn`` on scalars and prints, node by node, the value, the
  local derivatives, and the gradient that comes in and goes out (the table of a backprop
  explainer), returning the rows as dicts.

The graph is walked without recursion, so long chains draw as well as short ones.
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import numbers
import os
import re
import shutil
import subprocess
import weakref

import numpy as np

from . import _backend
from ._tensor import Tensor
from .autograd.grad_mode import no_grad
from .autograd.graph import AccumulateGrad, register_node_observer, saved_values
from .ops.creation import ones_like, tensor

__all__ = ["DotGraph", "make_dot", "record", "record_grads", "trace"]

_KEY = "dark.viz"  # the key of a node's ``metadata`` dict where its record lives
_order = itertools.count()
_recording = 0


class _NodeRecord:
    """What record() kept for one node: forward order, input values (arrays for tensors,
    the objects themselves for python numbers), output values and incoming gradients, each
    by output number."""

    __slots__ = ("order", "inputs", "values", "grads", "hooked")

    def __init__(self):
        self.order = None
        self.inputs = None
        self.values = {}
        self.grads = {}
        self.hooked = False


def _record_of(node) -> _NodeRecord:
    rec = node.metadata.get(_KEY)
    if rec is None:
        rec = node.metadata[_KEY] = _NodeRecord()
    return rec


def _peek(node) -> _NodeRecord | None:
    return node.metadata.get(_KEY)


def _copy(array):
    return array.copy()


# ----------------------------------------------------------------------------- recording

@contextlib.contextmanager
def record(grads: bool = True):
    """Within this block every recorded op keeps a copy of its inputs' values (so the value
    of every node whose output is used later, and of every leaf, is known) and, with
    ``grads``, a pre-hook that keeps the gradient reaching the node in each later backward
    (the latest one wins). Costs memory like the saved activations; for inspecting graphs.

    How: a node observer (``dark.autograd.graph.register_node_observer``) sees every node
    recorded in the block, with its inputs. The switch is process-wide, as anomaly mode is;
    nested blocks keep the outermost one's setting.

    >>> with dark.viz.record():
    ...     y = 2 * x ** 2 + 5
    >>> y.backward(); dark.viz.make_dot(y, show_values=True, show_grads=True)
    """
    global _recording
    handle = None
    if _recording == 0:
        handle = register_node_observer(lambda node, args: _note_inputs(node, args, grads))
    _recording += 1
    try:
        yield
    finally:
        _recording -= 1
        if handle is not None:
            handle.remove()


def _note_inputs(node, args, grads: bool) -> None:
    rec = _record_of(node)
    rec.order = next(_order)
    inputs = []
    for arg, (producer, output_nr) in zip(args, node.next_functions):
        if isinstance(arg, Tensor):
            value = _copy(arg._data)
            if producer is not None:
                # the first use is the closest to the producer's own forward
                _record_of(producer).values.setdefault(output_nr, value)
            inputs.append(value)
        else:
            inputs.append(arg)
    rec.inputs = tuple(inputs)
    if grads:
        _hook_grads(node, rec)


def _hook_grads(node, rec: _NodeRecord) -> None:
    if rec.hooked or isinstance(node, AccumulateGrad):
        return  # a leaf's gradient is its .grad
    rec.hooked = True
    ref = weakref.ref(node)  # the hook lives on the node: no cycle through it

    def keep(grad_outputs):
        target = ref()
        if target is not None:
            _record_of(target).grads = {
                i: _copy(g._data) for i, g in enumerate(grad_outputs) if g is not None}

    node.register_prehook(keep)


def record_grads(var) -> None:
    """Make the nodes of an already built graph (headed by ``var``, a tensor or a sequence
    of tensors) keep the gradient that reaches them in later backward calls, for
    ``make_dot(show_grads=True)``; as ``record()`` does for the graphs built inside it."""
    for node in _walk(_roots(var)):
        _hook_grads(node, _record_of(node))


# ----------------------------------------------------------------------------- the graph

def _roots(var) -> list:
    tensors = list(var) if isinstance(var, (tuple, list)) else [var]
    return [t.grad_fn for t in tensors if t.grad_fn is not None] + [
        t._grad_accumulator() for t in tensors if t.grad_fn is None and t.requires_grad]


def _walk(roots) -> list:
    """Every node reachable from ``roots``, each once, roots first (iterative DFS)."""
    seen = set()
    order = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        for child, _ in reversed(node.next_functions):
            if child is not None and child not in seen:
                stack.append(child)
    return order


def _known_values(nodes, tensors) -> dict:
    """(node, output_nr) -> array for each output whose value is known, preferring the
    tensors passed to make_dot, then what record() kept, then the tensors the ops saved for
    backward (when still at the version they were saved at)."""
    known = {}
    for node in nodes:
        if isinstance(node, AccumulateGrad):
            rec = _peek(node)
            value = rec.values.get(0) if rec is not None else None
            known[(node, 0)] = node.variable._data if value is None else value
            continue
        for saved in saved_values(node) or ():
            if not saved.current:
                continue
            if saved.kind == "output":
                known[(node, saved.output_nr)] = saved.value
            elif saved.kind == "tensor" and saved.value.grad_fn is not None:
                known[(saved.value.grad_fn, saved.value._output_nr)] = saved.value._data
    for node in nodes:
        rec = _peek(node)
        if rec is not None and not isinstance(node, AccumulateGrad):
            known.update({(node, nr): value for nr, value in rec.values.items()})
    for t in tensors:
        if t.grad_fn is not None:
            known[(t.grad_fn, t._output_nr)] = t._data
    return known


def _known_shapes(nodes, tensors) -> dict:
    """(node, output_nr) -> shape, from the consumers' input metadata (always recorded)."""
    shapes = {}
    for node in nodes:
        if isinstance(node, AccumulateGrad):
            shapes[(node, 0)] = tuple(node.variable.shape)
            continue
        if node._output_meta is not None:
            shapes.update({(node, nr): tuple(meta[0])
                           for nr, meta in enumerate(node._output_meta)})
        for (child, nr), meta in zip(node.next_functions, node._input_meta):
            if child is not None and meta is not None:
                shapes[(child, nr)] = tuple(meta[0])
    for t in tensors:
        if t.grad_fn is not None:
            shapes[(t.grad_fn, t._output_nr)] = tuple(t.shape)
    return shapes


def _host(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else array.get()


def _number(value) -> str:
    return f"{value:.4g}" if not isinstance(value, (bool, np.bool_)) else str(bool(value))


def _format_value(array, max_elems: int = 6) -> str:
    """A small array elementwise (flattened), a larger one as its min / mean / max."""
    a = _host(array)
    if a.size <= max_elems:
        if a.ndim == 0:
            return _number(a.item())
        return "[" + ", ".join(_number(v) for v in a.ravel().tolist()) + "]"
    if a.dtype.kind in "biuf":
        return (f"min {_number(a.min())} mean {_number(a.mean(dtype=np.float64))} "
                f"max {_number(a.max())}")
    return f"{a.size} elements"


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")" if len(shape) != 1 else f"({shape[0]},)"


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace('"', '\\"')


def _label(lines) -> str:
    """Lines joined with DOT's centred line break (escaped, so any text is safe)."""
    return "\\n".join(_escape(str(line)) for line in lines)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _attr_lines(node, max_attr_chars: int) -> list:
    skip = {"needs_input_grad", "next_functions"}
    return [_truncate(f"{name}: {value}", max_attr_chars)
            for name, value in vars(node).items()
            if not name.startswith("_") and name not in skip]


def _shape_lines(node, shapes: dict) -> list:
    """The shape of each output; with several, numbered, and the dtype of those that take
    no gradient (the indices of max, sort ...)."""
    if node._num_outputs == 1:
        return [_shape_text(shapes[(node, 0)]) if (node, 0) in shapes else "(?)"]
    return [f"[{nr}] {_shape_text(shape)}" + ("" if dtype.kind in "fc" else f" {dtype}")
            for nr, (shape, dtype) in enumerate(node._output_meta)]


def _float_outputs(node) -> list:
    if node._num_outputs == 1:
        return [0]
    return [nr for nr, (_, dtype) in enumerate(node._output_meta) if dtype.kind in "fc"]


def _output_lines(node, source: dict, prefix: str, max_elems: int) -> list:
    """``value: ...`` / ``grad: ...`` per differentiable output of ``node``, from
    ``source``."""
    lines = []
    for nr in _float_outputs(node):
        value = source.get((node, nr))
        tag = prefix if node._num_outputs == 1 else f"{prefix}[{nr}]"
        lines.append(f"{tag}: " + ("not recorded" if value is None
                                    else _format_value(value, max_elems)))
    return lines


# ----------------------------------------------------------------------------- output

class DotGraph:
    """The DOT text of a graph, with ``graphviz.Digraph``'s ``source``, ``render`` and
    ``pipe``; what make_dot returns when the ``graphviz`` package is not installed.
    Rendering runs Graphviz's ``dot`` program."""

    def __init__(self, node_attr=None, graph_attr=None):
        self.body = []
        self.node_attr = dict(node_attr or {})
        self.graph_attr = dict(graph_attr or {})

    @staticmethod
    def _attrs(attrs: dict) -> str:
        return " ".join(f'{k}="{v}"' for k, v in attrs.items())

    def node(self, name: str, label: str | None = None, **attrs) -> None:
        if label is not None:
            attrs = {"label": label, **attrs}
        self.body.append(f'\t"{name}" [{self._attrs(attrs)}]')

    def edge(self, tail_name: str, head_name: str, **attrs) -> None:
        suffix = f" [{self._attrs(attrs)}]" if attrs else ""
        self.body.append(f'\t"{tail_name}" -> "{head_name}"{suffix}')

    @property
    def source(self) -> str:
        head = ["digraph {"]
        if self.graph_attr:
            head.append(f"\tgraph [{self._attrs(self.graph_attr)}]")
        if self.node_attr:
            head.append(f"\tnode [{self._attrs(self.node_attr)}]")
        return "\n".join(head + self.body + ["}"]) + "\n"

    def __str__(self) -> str:
        return self.source

    def pipe(self, format: str = "pdf") -> bytes:
        """The graph rendered by ``dot`` to ``format`` (bytes)."""
        return _run_dot(self.source, format)

    def render(self, filename: str = "Digraph.gv", directory: str | None = None,
               view: bool = False, cleanup: bool = False, format: str = "pdf") -> str:
        """Write the DOT source to ``filename`` and the rendered graph to
        ``filename.format``; return the rendered file's path (as graphviz does)."""
        if view:
            raise NotImplementedError("DotGraph.render(view=True) is not supported; open the "
                                      "returned file instead")
        path = os.path.join(directory, filename) if directory else filename
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.source)
        output = f"{path}.{format}"
        with open(output, "wb") as f:
            f.write(_run_dot(self.source, format))
        if cleanup:
            os.remove(path)
        return output

    def _repr_svg_(self):
        """The SVG shown by notebooks (None, so the text is shown, without ``dot``)."""
        if shutil.which("dot") is None:
            return None
        return self.pipe("svg").decode("utf-8")


def _run_dot(source: str, format: str) -> bytes:
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError("rendering a graph needs Graphviz's 'dot' program, which is not on "
                           "PATH: install Graphviz (https://graphviz.org/download/, e.g. "
                           "'apt-get install graphviz' or 'brew install graphviz'), or save "
                           ".source to a .dot file and render it elsewhere")
    done = subprocess.run([program, f"-T{format}"], input=source.encode("utf-8"),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


def _new_graph(node_attr: dict, graph_attr: dict):
    try:
        import graphviz  # noqa: PLC0415 - optional dependency
    except ImportError:
        return DotGraph(node_attr=node_attr, graph_attr=graph_attr)
    return graphviz.Digraph(node_attr=node_attr, graph_attr=graph_attr)


_LEAF, _OUTPUT_COLOR, _SAVED = "lightblue", "darkolivegreen1", "orange"


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50,
             show_values=False, show_grads=False, max_elems=6):
    """Draw the backward graph of ``var`` (a tensor or a sequence of tensors), as torchviz.

    One box per op node (named as ``grad_fn.name()``) and one per leaf (blue; named from
    ``params``, a ``{name: tensor}`` dict such as ``dict(model.named_parameters())``, else
    by its shape); the output nodes are green; every box shows the shape of its output.
    Edges go from an input to the op that uses it. ``show_attrs`` lists the non-tensor
    attributes an op kept (``alpha``, ``dim``...), at most ``max_attr_chars`` each;
    ``show_saved`` draws the tensors an op saved for backward (orange, dotted edges).
    ``show_values`` shows each node's value (up to ``max_elems`` elements, else min / mean /
    max) and ``show_grads`` the gradient that reached it in the last backward (leaves: their
    ``.grad``); values of intermediate nodes need the graph built inside ``record()`` (or
    saved by the op), gradients ``record()`` or ``record_grads()`` before the backward.
    Returns a ``graphviz.Digraph``, or a ``DotGraph`` when graphviz is not installed.
    """
    tensors = list(var) if isinstance(var, (tuple, list)) else [var]
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dot expects a Tensor or a sequence of Tensors, got "
                            f"{type(t).__name__}")
    if params is not None:
        for name, value in params.items():
            if not isinstance(value, Tensor):
                raise TypeError(f"params[{name!r}] is a {type(value).__name__}, not a Tensor")
    names = {id(v): k for k, v in (params or {}).items()}

    roots = _roots(tensors)
    nodes = _walk(roots)
    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    shapes = _known_shapes(nodes, tensors)
    known = _known_values(nodes, tensors) if show_values else {}
    outputs = set(roots)

    node_attr = dict(style="filled", shape="box", fontsize="10", height="0.2",
                     fontname="monospace")
    dot = _new_graph(node_attr, dict(size="12,12"))
    for node in nodes:
        attrs = {}
        if isinstance(node, AccumulateGrad):
            variable = node.variable
            lines = [names[id(variable)]] if id(variable) in names else []
            lines.append(_shape_text(variable.shape))
            if show_values:
                lines.append("value: " + _format_value(known[(node, 0)], max_elems))
            if show_grads:
                grad = variable.grad
                lines.append("grad: " + ("None" if grad is None
                                         else _format_value(grad._data, max_elems)))
            attrs["fillcolor"] = _LEAF
        else:
            lines = [node.name()] + _shape_lines(node, shapes)
            if show_attrs:
                lines += _attr_lines(node, max_attr_chars)
            if show_values:
                lines += _output_lines(node, known, "value", max_elems)
            if show_grads:
                rec = _peek(node)
                grads = {(node, nr): g for nr, g in (rec.grads.items() if rec else ())}
                lines += _output_lines(node, grads, "grad", max_elems)
            if show_saved:
                lines += _draw_saved(dot, node, ids[node], max_attr_chars)
            if show_values:
                _draw_constants(dot, node, ids[node], max_elems)
        if node in outputs:
            attrs["fillcolor"] = _OUTPUT_COLOR
        dot.node(ids[node], _label(lines), **attrs)
    for node in nodes:
        for child, _ in node.next_functions:
            if child is not None:
                dot.edge(ids[child], ids[node])
    constants = [t for t in tensors if t.grad_fn is None and not t.requires_grad]
    for i, t in enumerate(constants):  # an output outside any graph is still shown
        lines = [_shape_text(t.shape)]
        if show_values:
            lines.append("value: " + _format_value(t._data, max_elems))
        dot.node(f"c{i}", _label(lines), fillcolor=_OUTPUT_COLOR)
    return dot


def _draw_constants(dot, node, node_id: str, max_elems: int) -> None:
    """Dashed ellipses for the inputs of ``node`` that take no gradient (python numbers,
    tensors that do not require grad), with the values record() kept."""
    rec = _peek(node)
    if rec is None or rec.inputs is None:
        return
    for k, ((child, _), value) in enumerate(zip(node.next_functions, rec.inputs)):
        if child is not None or not (isinstance(value, numbers.Number) or hasattr(value, "dtype")):
            continue
        lines = [_format_value(value, max_elems) if hasattr(value, "dtype") else _number(value)]
        if hasattr(value, "shape") and value.ndim:
            lines.insert(0, _shape_text(value.shape))
        constant_id = f"{node_id}_c{k}"
        dot.node(constant_id, _label(lines), shape="ellipse", style="dashed", fillcolor="white")
        dot.edge(constant_id, node_id, style="dashed")


def _draw_saved(dot, node, node_id: str, max_attr_chars: int) -> list:
    """Orange boxes for the arrays an op saved, dotted into it; label lines for the
    python values it saved."""
    saved = saved_values(node)
    if saved is None:
        return ["saved: released"]
    lines = []
    for j, (kind, value, _, _) in enumerate(saved):
        if kind == "value":
            lines.append(_truncate(f"saved[{j}]: {value}", max_attr_chars))
            continue
        array = value._data if isinstance(value, Tensor) else value
        tag = " (output)" if kind == "output" else ""
        saved_id = f"{node_id}_s{j}"
        dot.node(saved_id, _label([f"saved[{j}]{tag}", _shape_text(array.shape)]),
                 fillcolor=_SAVED)
        dot.edge(saved_id, node_id, style="dotted", dir="none")
    return lines


# ----------------------------------------------------------------------------- trace

def _forward_name(node) -> str:
    return re.sub(r"Backward\d*$", "", node.name())


def _scalar(array):
    a = _host(array)
    return a.item() if a.size == 1 else a


def _local_derivatives(node, rec: _NodeRecord) -> tuple:
    """d output / d input for each input of ``node`` (the op's own backward formula, run
    with every input marked as needing a gradient and an incoming gradient of ones; for a
    non-scalar op that is the vector-Jacobian product with ones). None where the formula
    does not give one (a multi-output node, or an input it cannot differentiate)."""
    count = len(node.next_functions)
    value = rec.values.get(0)
    if node._num_outputs != 1 or value is None:
        return (None,) * count
    needs = node.needs_input_grad
    node.needs_input_grad = (True,) * count
    try:
        with no_grad():
            ones = Tensor._make(_backend.array_module(value).ones_like(value))
            result = node._forward_cls.backward(node, ones)
    except Exception:  # noqa: BLE001 - an op that cannot differentiate some input
        return (None,) * count
    finally:
        node.needs_input_grad = needs
    result = result if isinstance(result, tuple) else (result,)
    return tuple(_scalar(g._data) if isinstance(g, Tensor) else g
                 for g in (result + (None,) * count)[:count])


def _fmt_cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return ", ".join(_fmt_cell(v) for v in value)
    if isinstance(value, np.ndarray):
        return _format_value(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


_COLUMNS = ("node", "op", "inputs", "value", "local_derivative", "incoming_gradient",
            "outgoing_gradient")


def trace(fn, *inputs, show: bool = True) -> list:
    """Run ``fn`` on ``inputs`` (python numbers, made float64 leaves that require grad, or
    tensors, copied as such leaves), backpropagate from its result, and print one row per
    node in forward order: its name (the leaves take ``fn``'s parameter names, op nodes
    v1, v2 ...), the op, its inputs (node names, or the values of constants), its value,
    the local derivative of its output w.r.t. each input, the gradient that comes in (of
    the result w.r.t. this node's output) and the gradient it sends to each input.
    Constants get an outgoing gradient too (incoming times local derivative), although
    nothing accumulates it. Returns the rows as dicts keyed by those column names (and
    ``grad_fn``, the node's class name); scalars are python numbers, others arrays.

    >>> rows = dark.viz.trace(lambda x: 2 * x ** 2 + 5, 10.0)  # values 10, 100, 200, 205
    """
    leaves = [(x.detach().clone() if isinstance(x, Tensor)
               else tensor(float(x), dtype=_backend.float64)).requires_grad_(True)
              for x in inputs]
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    leaf_names = [params[i] if i < len(params) else f"x{i}" for i in range(len(leaves))]
    with record():
        out = fn(*leaves)
    if not isinstance(out, Tensor) or out.grad_fn is None:
        raise ValueError("trace: fn must return a Tensor computed from its inputs")
    ops = sorted((n for n in _walk([out.grad_fn]) if not isinstance(n, AccumulateGrad)),
                 key=lambda n: _record_of(n).order)
    names = {leaf._grad_accumulator(): name for leaf, name in zip(leaves, leaf_names)}
    names.update({node: f"v{i + 1}" for i, node in enumerate(ops)})
    _record_of(out.grad_fn).values.setdefault(out._output_nr, _copy(out._data))
    local = {node: _local_derivatives(node, _record_of(node)) for node in ops}
    sent = {}
    handles = [node.register_hook(lambda grad_inputs, grad_outputs, node=node:
                                  sent.__setitem__(node, grad_inputs)) for node in ops]
    out.backward(ones_like(out))
    for handle in handles:
        handle.remove()

    rows = [{"node": name, "op": "input", "grad_fn": None, "inputs": (),
             "value": _scalar(leaf._data), "local_derivative": (),
             "incoming_gradient": None if leaf.grad is None else _scalar(leaf.grad._data),
             "outgoing_gradient": ()} for leaf, name in zip(leaves, leaf_names)]
    for node in ops:
        rec = _record_of(node)
        incoming = rec.grads.get(0)
        incoming = None if incoming is None else _scalar(incoming)
        labels, outgoing = [], []
        for k, ((child, nr), value) in enumerate(zip(node.next_functions, rec.inputs)):
            if child is not None:
                label = names.get(child, child.name())
                labels.append(label if child._num_outputs == 1 else f"{label}[{nr}]")
            else:
                labels.append(_fmt_cell(_scalar(value) if hasattr(value, "dtype") else value))
            given = sent.get(node, ())
            grad = given[k] if k < len(given) else None
            if grad is not None:
                outgoing.append(_scalar(grad._data))
            elif incoming is not None and local[node][k] is not None:
                outgoing.append(incoming * local[node][k])  # a constant's share
            else:
                outgoing.append(None)
        value = rec.values.get(0)
        rows.append({"node": names[node], "op": _forward_name(node), "grad_fn": node.name(),
                     "inputs": tuple(labels), "value": None if value is None else _scalar(value),
                     "local_derivative": local[node], "incoming_gradient": incoming,
                     "outgoing_gradient": tuple(outgoing)})
    if show:
        _print_table(rows)
    return rows


def _print_table(rows) -> None:
    cells = [[c.replace("_", " ") for c in _COLUMNS]] + [
        [_fmt_cell(row[c]) if c != "inputs" else ", ".join(row[c]) for c in _COLUMNS]
        for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
