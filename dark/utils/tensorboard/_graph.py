"""A model's graph for TensorBoard's Graphs tab, from dark's own recording: the model runs
once with a node observer (dark.autograd.graph) and forward hooks that give each recorded
node the module scope it was made in; the backward graph it leaves is written as a
``GraphDef`` whose nodes are the ops (named by their forward op), the parameters (by their
state_dict names), the inputs and the outputs."""
from __future__ import annotations

import re

from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef

from ..._tensor import Tensor, nested_tensors
from ...autograd import enable_grad
from ...autograd.graph import register_node_observer
from ...viz import _walk

_BACKWARD = re.compile(r"Backward\d*$")


def _shape_attr(shape) -> dict:
    proto = TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(s)) for s in shape])
    return {"_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[proto]))}


def graph(model, input_to_model=None, verbose=False) -> GraphDef:
    """The GraphDef of one call ``model(*input_to_model)``."""
    if input_to_model is None:
        args = ()
    elif isinstance(input_to_model, (list, tuple)):
        args = tuple(input_to_model)
    else:
        args = (input_to_model,)
    root = type(model).__name__
    stack = [root]
    scope_of = {}
    inputs_of = {}
    handles = []

    def enter(scope):
        def hook(module, inputs):
            stack.append(stack[-1] + "/" + scope)
        return hook

    def leave(module, inputs, output):
        stack.pop()  # returns None: the output is left as it is

    for name, module in model.named_modules():
        if not name:
            continue
        scope = f"{type(module).__name__}[{name.split('.')[-1]}]"
        handles.append(module.register_forward_pre_hook(enter(scope)))
        handles.append(module.register_forward_hook(leave))

    def observe(node, call_args):
        scope_of[node] = stack[-1]
        inputs_of[node] = [id(a) for a in call_args if isinstance(a, Tensor)]

    handles.append(register_node_observer(observe))
    try:
        with enable_grad():
            output = model(*args)
    finally:
        for handle in handles:
            handle.remove()
    outputs = nested_tensors(output)
    roots = [t.grad_fn for t in outputs if t.grad_fn is not None]
    if not roots:
        raise RuntimeError("add_graph: the model's output recorded no graph (no parameter or "
                           "input requires grad), so there is nothing to draw")
    param_names = {id(p): n for n, p in model.named_parameters()}
    input_names = {id(t): f"input/input.{i}" for i, t in enumerate(nested_tensors(list(args)))}
    nodes = []
    for t in nested_tensors(list(args)):
        nodes.append(NodeDef(name=input_names[id(t)], op="IO Node",
                             attr=_shape_attr(t.shape)))
    names = {}
    walked = _walk(roots)
    for k, node in enumerate(walked):
        variable = getattr(node, "variable", None)
        if variable is not None:
            pname = param_names.get(id(variable), f"leaf.{k}")
            names[node] = f"{root}/{pname}"
        else:
            op = _BACKWARD.sub("", type(node).__name__) or type(node).__name__
            names[node] = f"{scope_of.get(node, root)}/{op}.{k}"
    for node in reversed(walked):  # producers first
        variable = getattr(node, "variable", None)
        if variable is not None:
            nodes.append(NodeDef(name=names[node], op="Parameter",
                                 attr=_shape_attr(variable.shape)))
            continue
        sources = [names[c] for c, _ in node.next_functions if c is not None and c in names]
        sources += [input_names[i] for i in inputs_of.get(node, ()) if i in input_names]
        nodes.append(NodeDef(name=names[node], op=_BACKWARD.sub("", type(node).__name__),
                             input=sources))
    for i, t in enumerate(outputs):
        nodes.append(NodeDef(name=f"output/output.{i}", op="IO Node",
                             input=[names[t.grad_fn]] if t.grad_fn in names else [],
                             attr=_shape_attr(t.shape)))
    if verbose:
        for node in nodes:
            print(node.name, node.op, list(node.input))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))
