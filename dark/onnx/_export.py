"""dark.onnx.export: torch.onnx.export for dark models (see dark.onnx)."""
from __future__ import annotations

import contextlib
import enum
import inspect
import os

import numpy as np

from .._backend import array_module
from .._tensor import Tensor
from ..amp import _dispatch as _amp_dispatch
from ..autograd.grad_mode import enable_grad
from ._graph import Graph, OnnxExporterError, UnsupportedOperatorError
from ._symbolics import symbolic_for
from ._trace import Ref, Trace

DEFAULT_OPSET = 20      # torch.onnx._constants.ONNX_DEFAULT_OPSET (torch 2.13)
MIN_OPSET = 13          # Squeeze/Unsqueeze/Split/ReduceSum take their axes as inputs
IR_VERSION = 10         # opset <= 21; read by onnxruntime >= 1.16


class TrainingMode(enum.IntEnum):
    """torch.onnx.TrainingMode: the mode the model is exported in."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """torch.onnx.OperatorExportTypes (only ONNX is supported, as in torch 2.13)."""

    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


_exporting = [False]


def is_in_onnx_export() -> bool:
    """Whether an export is running (torch.onnx.is_in_onnx_export)."""
    return _exporting[0]


def _import_onnx():
    try:
        import onnx  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise ImportError("dark.onnx.export needs the onnx package: pip install dark[onnx] "
                          "(or pip install onnx)") from error
    return onnx


def _flatten(value, out: list) -> list:
    if isinstance(value, Tensor):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _flatten(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _flatten(item, out)
    return out


@contextlib.contextmanager
def _mode(model, training):
    saved = [(m, m.training) for m in model.modules()]
    if training == TrainingMode.EVAL:
        model.eval()
    elif training == TrainingMode.TRAINING:
        model.train()
    try:
        yield
    finally:
        for module, flag in saved:
            module.training = flag


def _dynamic_axes(dynamic_axes) -> dict:
    """{name: {axis: symbol}} from torch's dict-or-list form."""
    result = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, dict):
            result[name] = {int(a): str(s) for a, s in axes.items()}
        else:
            result[name] = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
    return result


def _restore(states) -> None:
    for module, state in states:
        module.__dict__.clear()
        module.__dict__.update(state)


def _growth(dynamic_axes) -> dict:
    """{input name: {axis: growth}} for the second run: axes of one symbol (a dict's names;
    for torch's list form, the axis number) grow alike, different ones differently."""
    steps: dict = {}
    result = {}
    for name, axes in (dynamic_axes or {}).items():
        keys = axes.items() if isinstance(axes, dict) else ((a, f"#{a}") for a in axes)
        result[name] = {int(a): steps.setdefault(key, len(steps) + 1) for a, key in keys}
    return result


def _grown(tensor: Tensor, growth: dict) -> Tensor:
    """``tensor`` with each axis of ``growth`` grown by that much (its entries repeated
    cyclically), for the second run that tells which recorded sizes follow the dynamic
    axes."""
    array = tensor._data
    xp = array_module(array)
    for axis, step in sorted(growth.items()):
        n = array.shape[axis]
        if n == 0:
            raise OnnxExporterError(f"dark.onnx.export: the dynamic axis {axis} of an input is "
                                    f"empty; trace with a non-empty example")
        array = xp.take(array, xp.arange(n + step) % n, axis=axis)
    return Tensor._make(array, tensor._requires_grad)


def _swap(value, table: dict):
    """``value`` (tensors nested in tuples, lists, dicts) with the tensors of ``table``
    (by id) replaced."""
    if isinstance(value, Tensor):
        return table.get(id(value), value)
    if isinstance(value, (tuple, list)):
        return type(value)(_swap(v, table) for v in value)
    if isinstance(value, dict):
        return {k: _swap(v, table) for k, v in value.items()}
    return value


def _traced_input(t: Tensor) -> Tensor:
    """A float input as a non-leaf tensor with a graph (a copy of it), so that in-place ops
    on it (``x += 1``, ``relu_``) go through the recorded ops rather than writing into its
    memory unseen."""
    if t.dtype.is_floating_point and not t._requires_grad:
        with enable_grad():
            return Tensor._make(t._data, True).clone()
    return t


def _run(model, args, kwargs, params, buffers, inputs_of):
    trace = Trace()
    for name, p in params:
        trace.register(p, ("param", name))
    for name, b in buffers:
        trace.register(b, ("param", name))
    table = {id(t): _traced_input(t) for t in inputs_of(args, kwargs)}
    args, kwargs = _swap(args, table), _swap(kwargs, table)
    inputs = inputs_of(args, kwargs)
    for i, t in enumerate(inputs):
        trace.inputs.append(trace.register(t, ("input", i)))
    result = trace.run(model, args, kwargs)
    trace.outputs = [trace.lookup(t) for t in _flatten(result, [])]
    return trace, result


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None,
           output_names=None, opset_version=None, dynamo=False, external_data=True,
           dynamic_shapes=None, custom_translation_table=None, report=False, optimize=True,
           verify=False, profile=False, dump_exported_program=False, artifacts_dir=".",
           export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=TrainingMode.EVAL, operator_export_type=OperatorExportTypes.ONNX,
           do_constant_folding=True, custom_opsets=None, export_modules_as_functions=False,
           autograd_inlining=True):
    """Export ``model`` (a dark.nn.Module or a function of tensors) run on ``args`` (and
    ``kwargs``) to the ONNX file ``f`` (a path or a binary file object), as
    torch.onnx.export (torch 2.13's signature; the TorchScript-era options are accepted).

    The model runs once while every op dark dispatches is recorded; each op becomes its
    ONNX nodes (dark.onnx._symbolics), parameters and buffers initializers named by their
    state_dict names, other tensors met (dark.tensor, arange ...) constants. With
    ``dynamic_axes`` the model runs a second time with those axes grown, and the sizes that
    follow them are read from shapes at run time. Returns None."""
    onnx = _import_onnx()
    if _amp_dispatch.autocast_state.active:
        raise OnnxExporterError("dark.onnx.export under autocast is not supported (its casts "
                                "are made around the recorded ops): export the model outside "
                                "autocast, in its own dtype")
    if dynamic_shapes is not None:
        raise OnnxExporterError("dark.onnx.export: dynamic_shapes (torch.export) is not "
                                "supported; use dynamic_axes")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"dark.onnx.export: opset_version {opset} is not supported (from "
                         f"{MIN_OPSET} to {newest})")
    if isinstance(args, Tensor):
        args = (args,)
    elif not isinstance(args, tuple):
        args = tuple(args) if isinstance(args, list) else (args,)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict) and not kwargs:
        args, kwargs = args[:-1], dict(args[-1])
    dynamic = _dynamic_axes(dynamic_axes)

    try:
        parameters = list(model.named_parameters())
        buffers = list(model.named_buffers())
        forward = model.forward
    except AttributeError:
        parameters, buffers, forward = [], [], model
    try:
        arg_names = [n for n, p in inspect.signature(forward).parameters.items()
                     if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        arg_names = []

    def inputs_of(a, k):
        return _flatten(list(a) + list(k.values()), [])

    inputs = inputs_of(args, kwargs)
    defaults = []   # forward's parameter names (numbered within a tuple), kwargs' keys
    for i, value in enumerate(args):
        base = arg_names[i] if i < len(arg_names) else f"input_{i}"
        count = len(_flatten(value, []))
        defaults.extend([base] if isinstance(value, Tensor) else
                        [f"{base}_{j}" for j in range(count)])
    for key, value in kwargs.items():
        count = len(_flatten(value, []))
        defaults.extend([key] if isinstance(value, Tensor) else
                        [f"{key}_{j}" for j in range(count)])
    names_in = list(input_names or [])
    for i in range(len(names_in), len(inputs)):
        names_in.append(defaults[i] if defaults[i] not in names_in else f"input_{i}")
    if len(names_in) > len(inputs):
        raise ValueError(f"dark.onnx.export: {len(names_in)} input_names for "
                         f"{len(inputs)} tensor inputs")
    unknown = [name for name in dynamic if name not in names_in and name not in (
        output_names or [])]
    if unknown:
        raise ValueError(f"dark.onnx.export: dynamic_axes names {unknown} are neither input "
                         f"nor output names (inputs {names_in}, outputs {output_names})")

    modules = dict(model.named_modules()) if hasattr(model, "named_modules") else {}
    context = _mode(model, training) if modules else contextlib.nullcontext()
    states = [(m, dict(m.__dict__)) for m in modules.values()]
    _exporting[0] = True
    try:
        with context:
            trace, result = _run(model, args, kwargs, parameters, buffers, inputs_of)
            trace2 = None
            if any(name in dynamic for name in names_in):
                # the second run sees the modules as the first did (a mask cached on the
                # module by the first run would make it run other ops)
                after_first = [(m, dict(m.__dict__)) for m, _ in states]
                _restore(states)
                growth = _growth(dynamic_axes)
                grown = {id(t): _grown(t, growth[name])
                         for t, name in zip(inputs, names_in) if name in dynamic}
                trace2, _ = _run(model, _swap(args, grown), _swap(kwargs, grown), parameters,
                                 buffers, inputs_of)
                _restore(after_first)
                ops1 = [c.op_name for c in trace.calls]
                ops2 = [c.op_name for c in trace2.calls]
                if ops1 != ops2 or len(trace.values) != len(trace2.values):
                    raise OnnxExporterError(
                        "dark.onnx.export: the model runs other ops when the dynamic axes "
                        "change size (python control flow on sizes); export it with static "
                        "axes")
    finally:
        _exporting[0] = False

    graph = Graph(onnx, trace, trace2, opset, {}, export_params)
    graph.current_module = lambda: modules.get(graph.call.path)
    for vid, name in zip(trace.inputs, names_in):
        graph.names[vid] = name
        graph.used.add(name)
    for index, call in enumerate(trace.calls):
        graph.call, graph.call_index = call, index
        if do_constant_folding and _constant_call(trace, trace2, call):
            # all inputs known at export: the outputs are constants (their traced values)
            for vid in call.outs:
                if vid is not None:
                    trace.kinds[vid] = ("const",)
            continue
        try:
            outs = symbolic_for(call)(graph, call)
        except UnsupportedOperatorError as unsupported:
            # raised when an output is used: ops that only steer python (a mask checked
            # for causality) leave nothing in the graph; the first unsupported op is named
            root = unsupported
            for ref in list(call.args) + list(call.kwargs.values()):
                if isinstance(ref, Ref) and trace.kinds[ref.vid][0] == "unsupported":
                    root = trace.kinds[ref.vid][1]
                    break
            for vid in call.outs:
                if vid is not None:
                    trace.kinds[vid] = ("unsupported", root)
            continue
        except OnnxExporterError:
            raise
        except Exception as error:
            raise OnnxExporterError(
                f"dark.onnx.export: exporting {call.op_name} (called in module "
                f"'{call.path or '<top>'}') failed: {error}") from error
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        for vid, name in zip(call.outs, outs):
            if vid is not None and name is not None:
                graph.names[vid] = name
    graph.call = None
    model_proto = _assemble(onnx, graph, trace, trace2, names_in, output_names, dynamic,
                            export_params, keep_initializers_as_inputs, opset)
    onnx.checker.check_model(model_proto)
    if verbose:
        print(onnx.helper.printable_graph(model_proto.graph))
    data = model_proto.SerializeToString()
    if f is None:
        return None
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as handle:
            handle.write(data)
    else:
        f.write(data)
    return None


def _constant_call(trace, trace2, call) -> bool:
    """Whether all the inputs of ``call`` are constants, and its outputs do not follow the
    dynamic axes."""
    if call.module is not None:
        return False
    if trace2 is not None and any(
            vid is not None and trace.values[vid].shape != trace2.values[vid].shape
            for vid in call.outs):
        return False
    values = list(call.args) + list(call.kwargs.values())
    for value in values:
        if isinstance(value, Ref):
            vid = value.vid
        elif hasattr(value, "shape") and hasattr(value, "dtype"):
            vid = trace.arrays.get(id(value))
            if vid is None:
                continue
        else:
            continue
        if trace.kinds[vid][0] != "const":
            return False
    return True


def _assemble(onnx, graph, trace, trace2, names_in, output_names, dynamic, export_params,
              keep_initializers_as_inputs, opset):
    helper = onnx.helper
    names_out = list(output_names or [])
    for i in range(len(names_out), len(trace.outputs)):
        names_out.append("output" if len(trace.outputs) == 1 and i == 0 else f"output_{i}")
    if len(names_out) > len(trace.outputs):
        raise ValueError(f"dark.onnx.export: {len(names_out)} output_names for "
                         f"{len(trace.outputs)} tensor outputs")
    graph.call = None
    rename = {}
    produced = {o for node in graph.nodes for o in node.output}
    for vid, name in zip(trace.outputs, names_out):
        inner = graph.name(vid)
        if inner in produced and inner not in rename and inner not in names_in:
            rename[inner] = name
        else:
            graph.nodes.append(helper.make_node("Identity", [inner], [name],
                                                name=graph.fresh(f"/Identity_{name}")))
    for node in graph.nodes:
        for i, n in enumerate(node.input):
            if n in rename:
                node.input[i] = rename[n]
        for i, n in enumerate(node.output):
            if n in rename:
                node.output[i] = rename[n]
    # only what the outputs need
    needed = set(names_out)
    kept = []
    for node in reversed(graph.nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()

    def value_info(name, vid, which):
        array = trace.values[vid]
        axes = dynamic.get(name, {})
        dims = []
        for d, size in enumerate(array.shape):
            if d in axes:
                dims.append(axes[d])
            elif trace2 is not None and trace2.values[vid].shape[d] != size:
                dims.append(f"{which}_{name}_dim_{d}")
            else:
                dims.append(int(size))
        return helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(array.dtype), dims)

    inputs = [value_info(name, vid, "in") for vid, name in zip(trace.inputs, names_in)
              if name in needed]
    outputs = [value_info(name, vid, "out") for vid, name in zip(trace.outputs, names_out)]
    initializers = []
    param_names = {k[1] for k in trace.kinds if k[0] == "param"}
    for name, array in graph.initializers.items():
        if name not in needed:
            continue
        array = np.asarray(array)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        tensor = onnx.numpy_helper.from_array(array, name)
        if name in param_names and not export_params:
            inputs.append(helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)))
            continue
        initializers.append(tensor)
        if keep_initializers_as_inputs:
            inputs.append(helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)))
    onnx_graph = helper.make_graph(kept, "main_graph", inputs, outputs, initializers)
    return helper.make_model(onnx_graph, producer_name="dark", ir_version=IR_VERSION,
                             opset_imports=[helper.make_opsetid("", opset)])


__all__ = ["export", "TrainingMode", "OperatorExportTypes", "is_in_onnx_export",
           "OnnxExporterError", "UnsupportedOperatorError"]
