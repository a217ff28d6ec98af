"""The backward engine: dependency counting and a static topological order (no recursion),
broadcast gradients summed back to input shapes in one place, saved values freed after use."""
from __future__ import annotations

from . import function as _function
from .function import AccumulateGrad, edge_of
from .grad_mode import state as _grad_state


def _as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _root_gradients(outputs, grad_outputs, create_graph):
    Tensor = _function.Tensor
    grads = []
    for index, (output, grad) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(output, Tensor):
            raise TypeError(f"element {index} of tensors is a {type(output).__name__}, "
                            "not a Tensor")
        if not output._requires_grad:
            raise RuntimeError(f"element {index} of tensors does not require grad and does "
                               "not have a grad_fn")
        if grad is None:
            if output._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if output._data.dtype.kind not in "fc":
                raise RuntimeError("grad can be implicitly created only for real scalar "
                                   f"outputs but got {output.dtype}")
            xp = output._xp()
            grad = Tensor._make(xp.ones_like(output._data), False, None)
        else:
            if not isinstance(grad, Tensor):
                raise TypeError(f"gradients must be Tensors or None, got {type(grad).__name__}")
            if grad._data.shape != output._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{index}] has a shape of "
                    f"{_size(grad._data.shape)} and output[{index}] has a shape of "
                    f"{_size(output._data.shape)}.")
            if grad.device != output.device:
                raise RuntimeError(f"invalid gradient at index {index} - expected device "
                                   f"{output.device} but got {grad.device}")
            if not create_graph:
                grad = grad.detach()
        grads.append(grad)
    return grads


def _size(shape) -> str:
    return "dark.Size([" + ", ".join(str(s) for s in shape) + "])"


def _dependencies(roots) -> dict:
    """For every node reachable from ``roots`` (unique), the number of edges into it."""
    dependencies: dict = {}
    root_set = set(roots)
    stack = list(roots)
    while stack:
        for next_node, _ in stack.pop().next_functions:
            if next_node is None:
                continue
            count = dependencies.get(next_node)
            if count is None:
                dependencies[next_node] = 1
                if next_node not in root_set:
                    stack.append(next_node)
            else:
                dependencies[next_node] = count + 1
    return dependencies


def _in_order(roots, dependencies):
    """Yield the nodes so that each comes after every node that sends it a gradient (Kahn's
    algorithm: a node is ready once all its incoming edges are consumed)."""
    ready = [node for node in roots if node not in dependencies]
    while ready:
        node = ready.pop()
        yield node
        for next_node, _ in node.next_functions:
            if next_node is not None:
                count = dependencies[next_node] - 1
                if count:
                    dependencies[next_node] = count
                else:
                    ready.append(next_node)


def _nodes_to_run(order, target_nodes):
    """The nodes whose backward must run for a gradient to reach some target (a target node
    itself only receives its gradient: it runs only when another target lies beyond it)."""
    to_run = set()
    for node in reversed(order):
        for next_node, _ in node.next_functions:
            if next_node is not None and (next_node in target_nodes or next_node in to_run):
                to_run.add(node)
                break
    return to_run


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None,
                 accumulate=True, allow_unused=False):
    """Shared by Tensor.backward (accumulate=True) and autograd.grad (accumulate=False,
    returns the gradients of ``inputs``)."""
    outputs = _as_tuple(outputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_tensors should have the same length as tensors: got "
                           f"{len(grad_outputs)} and {len(outputs)}")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _root_gradients(outputs, grad_outputs, create_graph)
    targets = _targets(inputs, accumulate) if inputs is not None else {}
    captured = [None] * (len(inputs) if inputs is not None else 0)

    buffers: dict = {}
    roots = []
    for output, grad in zip(outputs, root_grads):
        node, output_nr = edge_of(output)
        roots.append(node)
        _add_to_buffer(buffers, node, output_nr, grad)
    roots = list(dict.fromkeys(roots))
    to_run = None
    if inputs is not None:
        to_run = _nodes_to_run(list(_in_order(roots, _dependencies(roots))),
                               {node for node, _ in targets})

    previous_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    try:
        _execute(roots, buffers, targets, captured, to_run, accumulate, create_graph,
                 retain_graph)
    finally:
        _grad_state.enabled = previous_mode
    if inputs is None:
        return None
    if accumulate:
        return captured
    for position, grad in enumerate(captured):
        if grad is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {position} appears to "
                               "not have been used in the graph. Set allow_unused=True if "
                               "this is the desired behavior.")
        if grad is not None and not create_graph:
            captured[position] = grad.detach()
    return tuple(captured)


def _targets(inputs, accumulate) -> dict:
    """The edge of each input mapped to its positions in ``inputs``."""
    Tensor = _function.Tensor
    if not inputs:
        caller = "backward" if accumulate else "grad"
        raise RuntimeError(f"`inputs` argument to `{caller}()` cannot be empty.")
    targets: dict = {}
    for position, tensor in enumerate(inputs):
        if not isinstance(tensor, Tensor):
            raise RuntimeError("all inputs have to be Tensors or GradientEdges, but got "
                               f"{type(tensor).__name__}")
        if not tensor._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        targets.setdefault(edge_of(tensor), []).append(position)
    return targets


def _execute(roots, buffers, targets, captured, to_run, accumulate, create_graph,
             retain_graph) -> None:
    """Run the nodes in dependency order (Kahn's algorithm), each once all the nodes that
    send it a gradient have run. With ``to_run`` (autograd.grad / inputs=) only the nodes
    that lead to a target run; the targets' gradients are stored in ``captured``."""
    anomaly = _function._anomaly.enabled
    check_nan = anomaly and _function._anomaly.check_nan
    dependencies = _dependencies(roots)
    ready = [node for node in roots if node not in dependencies]
    while ready:
        node = ready.pop()
        for next_node, _ in node.next_functions:
            if next_node is not None:
                count = dependencies[next_node] - 1
                if count:
                    dependencies[next_node] = count
                else:
                    ready.append(next_node)
        grads = buffers.pop(node, None)
        if grads is None:
            continue
        if to_run is not None and node not in to_run and not _is_target(node, targets):
            continue
        if node._pre_hooks:
            grads = _run_pre_hooks(node, grads)
        leaf = type(node) is AccumulateGrad
        if leaf and node.variable._hooks:
            grads = [_run_leaf_hooks(node.variable, grads[0])]
        if targets:
            for output_nr, grad in enumerate(grads):
                for position in targets.get((node, output_nr), ()):
                    captured[position] = grad
        if leaf:
            if accumulate:
                _accumulate(node.variable, grads[0], create_graph)
        elif to_run is None or node in to_run:
            if anomaly:
                try:
                    _run_node(node, grads, buffers, retain_graph, check_nan)
                except Exception:
                    _warn_anomaly(node)
                    raise
            else:
                _run_node(node, grads, buffers, retain_graph, False)


def _is_target(node, targets) -> bool:
    return any((node, output_nr) in targets for output_nr in range(node._num_outputs))


def _add_to_buffer(buffers, node, output_nr, grad):
    if node is None:
        return
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * node._num_outputs
    current = slots[output_nr]
    slots[output_nr] = grad if current is None else current + grad


def _run_pre_hooks(node, grads):
    grads = list(grads)
    for output_nr, hook in list(node._pre_hooks.values()):
        if output_nr is None:
            result = hook(tuple(grads))
            if result is not None:
                grads = list(result)
        elif grads[output_nr] is not None:
            result = hook(grads[output_nr])
            if result is not None:
                grads[output_nr] = result
    return grads


def _run_node(node, grads, buffers, retain_graph, check_nan):
    """Run one node's backward and send each input's gradient (summed down to the input's
    shape and cast to its dtype) to the node that made that input."""
    if node._num_outputs > 1 and node._materialize_grads:
        _materialize(node, grads)
    result = node._forward_cls.backward(node, *grads)
    edges = node.next_functions
    if type(result) is not tuple:
        result = (result,)
    if len(result) != len(edges):
        result = _fit_gradients(node, result, edges)
    if node._post_hooks:
        for hook in list(node._post_hooks.values()):
            replaced = hook(result, tuple(grads))
            if replaced is not None:
                result = tuple(replaced)
    if check_nan:
        _check_nan(node, result)
    if not retain_graph and node._saved is not None:
        node._release()
    meta = node._input_meta
    for index, (next_node, output_nr) in enumerate(edges):
        if next_node is None:
            continue
        grad = result[index]
        if grad is None:
            continue
        shape, np_dtype = meta[index]
        data = grad._data
        if data.shape != shape:
            grad = _reduce_to_shape(node, index, grad, shape)
        if data.dtype is not np_dtype and data.dtype != np_dtype:
            grad = grad._cast_grad(np_dtype)
        slots = buffers.get(next_node)
        if slots is None:
            if next_node._num_outputs == 1:
                buffers[next_node] = [grad]
                continue
            slots = buffers[next_node] = [None] * next_node._num_outputs
        current = slots[output_nr]
        slots[output_nr] = grad if current is None else current + grad


def _fit_gradients(node, result, edges):
    """Extra trailing None gradients are allowed (as in PyTorch); any other count is not."""
    if len(result) > len(edges) and all(r is None for r in result[len(edges):]):
        return result[:len(edges)]
    raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                       f"(expected {len(edges)}, got {len(result)})")


def _materialize(node, grads) -> None:
    """Outputs of a multi-output node that got no gradient get zeros (on the device of the
    gradients that did arrive)."""
    Tensor = _function.Tensor
    like = next(g for g in grads if g is not None)
    for index, grad in enumerate(grads):
        if grad is None:
            shape, dtype = node._output_meta[index]
            grads[index] = Tensor._make(like._xp().zeros(shape, dtype=dtype))


def _reduce_to_shape(node, index, grad, shape):
    """Undo broadcasting: sum the gradient down to the input's shape."""
    from ..ops.reduction import sum_to_size  # noqa: PLC0415 - ops import the autograd layer

    grad_shape = grad._data.shape
    extra = len(grad_shape) - len(shape)
    if extra < 0 or any(g != s and s != 1 for g, s in zip(grad_shape[extra:], shape)):
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                           f"{index} - got {list(grad_shape)} but expected shape compatible "
                           f"with {list(shape)}")
    return sum_to_size(grad, shape)


def _run_leaf_hooks(variable, grad):
    for hook in list(variable._hooks.values()):
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


def _accumulate(variable, grad, create_graph):
    """AccumulateGrad: add into ``.grad`` (in place when no graph is being built, as
    PyTorch does)."""
    if variable._grad is None:
        if create_graph:
            variable._grad = grad
        else:
            variable._grad = grad._owned_copy()
    elif create_graph or variable._grad._requires_grad:
        variable._grad = variable._grad + grad
    else:
        variable._grad._accumulate_(grad)


def _check_nan(node, result):
    for index, grad in enumerate(result):
        if grad is not None and grad._xp().isnan(grad._data).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its "
                               f"{index}th output.")


def _warn_anomaly(node) -> None:
    """In anomaly mode, say where the forward of a failing backward node was called."""
    import warnings  # noqa: PLC0415

    trace = getattr(node, "_anomaly_trace", None)
    if trace:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that "
                      f"caused the error:\n{trace}", UserWarning, stacklevel=3)
