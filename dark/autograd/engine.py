"""The backward engine: dependency counting and a static topological order (no recursion),
broadcast gradients summed back to input shapes in one place, saved values freed after use;
the one rule for accumulating a gradient into ``.grad``; Tensor's autograd methods
(backward, retain_grad, register_hook). Ops are reached through Tensor methods only
(``sum_to_size``, ``to``, ``+``), never imported: dark.ops stands on this layer."""
from __future__ import annotations

import sys
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from .. import _backend
from .._sparse import SparseCOO
from .._tensor import Size, Tensor, tensor_method
from ..utils.hooks import RemovableHandle
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
            if output._data.dtype.kind not in "fcV":  # V: bfloat16
                raise RuntimeError("grad can be implicitly created only for real scalar "
                                   f"outputs but got {output.dtype}")
            xp = _backend.array_module(output._data)
            grad = Tensor._make(xp.ones_like(output._data), False, None)
        else:
            if not isinstance(grad, Tensor):
                raise TypeError(f"gradients must be Tensors or None, got {type(grad).__name__}")
            if grad._data.shape != output._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{index}] has a shape of "
                    f"{Size(grad._data.shape)!r} and output[{index}] has a shape of "
                    f"{Size(output._data.shape)!r}.")
            if grad.device != output.device:
                raise RuntimeError(f"invalid gradient at index {index} - expected device "
                                   f"{output.device} but got {grad.device}")
            if not create_graph:
                grad = grad.detach()
        grads.append(grad)
    return grads


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


def _topological_order(roots) -> list:
    """Every node reachable from ``roots``, each after every node that sends it a gradient
    (Kahn's algorithm: a node is ready once all its incoming edges are consumed)."""
    dependencies = _dependencies(roots)
    order = []
    ready = [node for node in roots if node not in dependencies]
    while ready:
        node = ready.pop()
        order.append(node)
        for next_node, _ in node.next_functions:
            if next_node is not None:
                count = dependencies[next_node] - 1
                if count:
                    dependencies[next_node] = count
                else:
                    ready.append(next_node)
    return order


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
    """Shared by Tensor.backward and autograd.backward (accumulate=True: the gradients go into
    the ``.grad`` of the leaves, or of ``inputs``) and autograd.grad (accumulate=False:
    returns the gradients of ``inputs``)."""
    outputs = _as_tuple(outputs)
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
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
    order = _topological_order(list(dict.fromkeys(roots)))
    to_run = None
    if inputs is not None:
        to_run = _nodes_to_run(order, {node for node, _ in targets})

    previous_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    _callbacks.append([])
    try:
        _execute(order, buffers, targets, captured, to_run, accumulate, create_graph,
                 retain_graph)
        _run_callbacks(_callbacks[-1])
    finally:
        _callbacks.pop()
        _grad_state.enabled = previous_mode
    if inputs is None:
        return None
    if accumulate:  # a leaf's gradient is already in its .grad; a non-leaf's goes there now
        for tensor, grad in zip(inputs, captured):
            if grad is not None and tensor.grad_fn is not None:
                accumulate_grad(tensor, grad, create_graph)
        return None
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


def _execute(order, buffers, targets, captured, to_run, accumulate, create_graph,
             retain_graph) -> None:
    """Run the nodes in ``order`` (_topological_order's: each once all the nodes that send it
    a gradient have run). With ``to_run`` (autograd.grad / inputs=) only the nodes that lead
    to a target run; the targets' gradients are stored in ``captured``."""
    anomaly = _function._anomaly.enabled
    check_nan = anomaly and _function._anomaly.check_nan
    # raw-array backwards (Op.raw_backward) only when the backward builds no graph and no
    # op dispatch (autocast, bfloat16, export) would see the ops
    raw = (_RAW_PROMOTION and not create_graph
           and not _function.op_dispatch_set())
    # numpy's warnings stay off across a run of built-in ops' backwards (one switch, not one
    # per node), back on before any user code (hooks, a Function's backward) runs
    quiet = None
    try:
        for node in order:
            grads = buffers.pop(node, None)
            if grads is None:
                continue
            if to_run is not None and node not in to_run and not _is_target(node, targets):
                continue
            leaf = type(node) is AccumulateGrad
            if quiet is not None and (node._pre_hooks or node._post_hooks or (
                    node.variable._hooks or "_post_accumulate_grad_hooks" in
                    node.variable.__dict__ if leaf else not node._forward_cls._raw)):
                _backend.quiet_exit(quiet)
                quiet = None
            if node._pre_hooks:
                grads = _run_pre_hooks(node, grads)
            if leaf and node.variable._hooks:
                grads = [_run_leaf_hooks(node.variable, grads[0])]
            if targets:
                for output_nr, grad in enumerate(grads):
                    for position in targets.get((node, output_nr), ()):
                        captured[position] = grad
            if leaf:
                if accumulate:
                    variable = node.variable
                    accumulate_grad(variable, grads[0], create_graph, True)
                    hooks = variable.__dict__.get("_post_accumulate_grad_hooks")
                    if hooks:
                        for hook in list(hooks.values()):
                            hook(variable)
            elif to_run is None or node in to_run:
                if raw and quiet is None and node._forward_cls._raw and not node._post_hooks:
                    quiet = _backend.quiet_enter()
                if anomaly:
                    try:
                        _run_node(node, grads, buffers, retain_graph, check_nan, raw,
                                  quiet is not None)
                    except Exception:
                        _warn_anomaly(node)
                        raise
                else:
                    _run_node(node, grads, buffers, retain_graph, False, raw, quiet is not None)
    finally:
        if quiet is not None:
            _backend.quiet_exit(quiet)


# One list of callbacks per backward pass running (a backward may run inside another's hook).
_callbacks: list = []


def queue_callback(callback) -> None:
    """Run ``callback()`` once the backward pass now running has finished (after every
    gradient has been accumulated), as torch's ``Variable._execution_engine.queue_callback``
    (DistributedDataParallel waits for its last all-reduce there). Callbacks run in the
    order queued; one may queue another."""
    if not _callbacks:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    _callbacks[-1].append(callback)


def _run_callbacks(callbacks) -> None:
    index = 0
    while index < len(callbacks):  # a callback may queue another
        callbacks[index]()
        index += 1


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


# numpy >= 2 (NEP 50) promotes arrays of one dtype with python scalars as PyTorch does (a
# float32 0-d array times 2.0 is float32); numpy 1.x promotes by value (float64 there): the
# raw-array backward only on the former
_RAW_PROMOTION = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def _raw_arrays(node, grads):
    """The arrays of ``grads`` when ``node`` may run its backward on raw arrays: every
    gradient there, of float32 or float64 (numpy's and PyTorch's arithmetic agree there; on
    float16 torch computes with a python number in float32 and rounds once, numpy in float16),
    and every saved array of that same dtype; else None."""
    arrays = []
    for grad in grads:
        if grad is None:
            return None
        arrays.append(grad._data)
    np_dtype = arrays[0].dtype
    if np_dtype.kind != "f" or np_dtype.itemsize < 4:
        return None
    for array in arrays:
        if array.dtype is not np_dtype and array.dtype != np_dtype:
            return None
    saved = node._saved
    if saved:
        for entry in saved:
            if type(entry) is tuple:
                value = entry[1]
                array = value._data if entry[0] == "tensor" else value
                saved_dtype = getattr(array, "dtype", None)
                if saved_dtype is not None and saved_dtype is not np_dtype \
                        and saved_dtype != np_dtype:
                    return None
    return arrays


def _run_raw(node, arrays, quiet):
    """``node``'s backward on raw arrays (numpy's warnings off, as the ops' own: already
    when ``quiet``): the arrays it returns (the caller wraps those it sends on)."""
    node._raw_pass = True
    token = None if quiet else _backend.quiet_enter()
    try:
        if type(arrays[0]) is np.ndarray:
            return node._forward_cls.backward(node, *arrays)
        with arrays[0].device:  # CuPy: on the gradients' device, as Op.apply runs the ops
            return node._forward_cls.backward(node, *arrays)
    finally:
        if token is not None:
            _backend.quiet_exit(token)
        del node._raw_pass


def _wrap(array) -> Tensor:
    if type(array) is not np.ndarray and isinstance(array, np.generic):
        array = np.asarray(array)  # numpy's arithmetic on 0-d arrays gives scalars
    return _make_tensor(array)


_make_tensor = Tensor._make


def _run_node(node, grads, buffers, retain_graph, check_nan, raw=False, quiet=False):
    """Run one node's backward and send each input's gradient (summed down to the input's
    shape and cast to its dtype) to the node that made that input."""
    if node._num_outputs > 1 and node._materialize_grads:
        _materialize(node, grads)
    arrays = _raw_arrays(node, grads) if raw and node._forward_cls.raw_backward else None
    if arrays is not None:
        result = _run_raw(node, arrays, quiet)
    else:
        result = node._forward_cls.backward(node, *grads)
    edges = node.next_functions
    if type(result) is not tuple:
        result = (result,)
    if len(result) != len(edges):
        result = _fit_gradients(node, result, edges)
    if arrays is not None and (node._post_hooks or check_nan):  # they see Tensors
        result = tuple([None if r is None else _wrap(r) for r in result])
        arrays = None
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
        if arrays is not None:  # a raw-array result
            if type(grad) is not np.ndarray:
                if isinstance(grad, np.generic):
                    grad = np.asarray(grad)
                elif type(grad) is Tensor:  # a backward that gives Tensors on either path
                    grad = grad._data
            if grad.shape != shape and _broadcast_from(grad.shape, shape):
                grad = _sum_to_shape(grad, shape)  # SumToSize's forward, on the array
            grad = _make_tensor(grad)
        data = grad._data
        if data.shape != shape:
            grad = _reduce_to_shape(node, index, grad, shape)
        if data.dtype is not np_dtype and data.dtype != np_dtype:
            grad = grad.to(_backend.from_numpy_dtype(np_dtype))
        slots = buffers.get(next_node)
        if slots is None:
            if next_node._num_outputs == 1:
                buffers[next_node] = [grad]
                continue
            slots = buffers[next_node] = [None] * next_node._num_outputs
        current = slots[output_nr]
        slots[output_nr] = grad if current is None else current + grad


_sum_to_shape = _backend.sum_to_shape


def _broadcast_from(grad_shape, shape) -> bool:
    """Whether a gradient of ``grad_shape`` is one broadcast from ``shape`` (else
    _reduce_to_shape raises its error)."""
    extra = len(grad_shape) - len(shape)
    return extra >= 0 and all(g == s or s == 1 for g, s in zip(grad_shape[extra:], shape))


def _fit_gradients(node, result, edges):
    """Extra trailing None gradients are allowed (as in PyTorch); any other count is not."""
    if len(result) > len(edges) and all(r is None for r in result[len(edges):]):
        return result[:len(edges)]
    raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                       f"(expected {len(edges)}, got {len(result)})")


def _materialize(node, grads) -> None:
    """Outputs of a multi-output node that got no gradient get zeros (on the device of the
    gradients that did arrive)."""
    like = next(g for g in grads if g is not None)
    xp = _backend.array_module(like._data)
    for index, grad in enumerate(grads):
        if grad is None:
            shape, dtype = node._output_meta[index]
            grads[index] = Tensor._make(xp.zeros(shape, dtype=dtype))


def _reduce_to_shape(node, index, grad, shape):
    """Undo broadcasting: sum the gradient down to the input's shape."""
    grad_shape = grad._data.shape
    if not _broadcast_from(grad_shape, shape):
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                           f"{index} - got {list(grad_shape)} but expected shape compatible "
                           f"with {list(shape)}")
    return grad.sum_to_size(shape)


def _run_leaf_hooks(variable, grad):
    for hook in list(variable._hooks.values()):
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


def accumulate_grad(tensor, grad, create_graph: bool, steal: bool = False) -> None:
    """PyTorch's AccumulateGrad rule, for a leaf's ``.grad`` and for the retained (or
    ``inputs=``) gradient of a non-leaf: the first gradient is stored (a copy cut from the
    graph, or the gradient itself when a graph is being built); later ones are added in
    place, or out of place when a graph is being built or the stored gradient is part of
    one. ``steal`` (the engine's call for a leaf): the first gradient's array is taken
    without a copy when nothing else can see it (``_stealable``), as torch's
    AccumulateGrad steals a gradient that only the engine references."""
    current = tensor._grad
    if current is None:
        if create_graph:
            tensor._grad = grad
        elif steal and _stealable(grad, tensor):
            tensor._grad = Tensor._make(grad._data)
        else:
            tensor._grad = Tensor._make(grad._data.copy())
    elif type(current._data) is SparseCOO:  # sparse + sparse; dense + sparse is dense
        tensor._grad = current + grad if type(grad._data) is SparseCOO else grad + current
    elif create_graph or current._requires_grad:
        tensor._grad = current + grad
    else:
        data = current._data
        _backend.array_module(data).add(data, grad._data, out=data)
        current._bump_version()


_STEAL_REFS = None  # the reference counts of an unshared gradient (see _calibrate_steal)


def _stealable(grad, tensor) -> bool:
    """Whether the engine's gradient ``grad`` for leaf ``tensor`` may become its ``.grad``
    without a copy: a numpy array of the leaf's shape and dtype, C-contiguous and writeable,
    owning its memory (or a whole-memory view of an array that only it references), and
    neither the array nor the gradient Tensor referenced by anything but the engine's call
    (a hook that kept it, an ``inputs=`` capture, a Function that stored it, another
    Tensor on the same array or a view of it all add a reference). The counts of such an
    unshared gradient are measured once by the same call (``_calibrate_steal``), so that
    the test holds on any Python version; a higher count means a copy."""
    array = grad._data
    if type(array) is not np.ndarray or array.shape != tensor._data.shape or \
            array.dtype != tensor._data.dtype:
        return False
    flags = array.flags
    if not (flags.c_contiguous and flags.writeable):
        return False
    base = array.base
    if base is None:
        if not flags.owndata:
            return False
        base_refs = 0
    elif type(base) is not np.ndarray or base.base is not None or not base.flags.owndata \
            or base.nbytes != array.nbytes:
        return False
    else:
        base_refs = sys.getrefcount(base)
    # a view made by an op (TBackward0's grad.t()) holds the Tensor of its base as _base
    # (its data the base, or another view of the base: F.linear's weight gradient)
    owner = grad._base
    owner_refs = owner_view_refs = 0
    if owner is not None:
        if base is None:
            return False
        owner_data = owner._data
        if owner_data is not base:
            if type(owner_data) is not np.ndarray or owner_data.base is not base:
                return False
            owner_view_refs = sys.getrefcount(owner_data)
        del owner_data
        owner_refs = sys.getrefcount(owner)
    counts = (sys.getrefcount(grad), sys.getrefcount(array), base_refs, owner_refs,
              owner_view_refs)
    if _STEAL_REFS is None:  # calibrating
        _calibration.append(counts)
        return False
    if counts[0] > _STEAL_REFS[0] or counts[1] > _STEAL_REFS[1]:
        return False
    if base is None:
        return True
    if owner is None:
        return base_refs <= _STEAL_REFS[2]
    if not owner_view_refs:
        return base_refs <= _STEAL_REFS[3] and owner_refs <= _STEAL_REFS[4]
    return base_refs <= _STEAL_REFS[5] and owner_refs <= _STEAL_REFS[6] and \
        owner_view_refs <= _STEAL_REFS[7]


def _calibrate_steal() -> tuple:
    """The counts ``_stealable`` sees for unshared gradients reached as the engine reaches
    them (``accumulate_grad(variable, grads[0], ...)``): one owning its memory, one a view
    of an array that only it references, one such a view whose base's Tensor only it holds
    (as ``_base``), and one whose ``_base`` holds another view of that array."""
    leaf = Tensor._make(np.zeros(4, np.float32), True)
    grads = [Tensor._make(np.ones(4, np.float32))]
    accumulate_grad(leaf, grads[0], False, True)
    leaf._grad = None
    grads = [Tensor._make(np.ones(4, np.float32)[:])]
    accumulate_grad(leaf, grads[0], False, True)
    leaf._grad = None
    owner = Tensor._make(np.ones(4, np.float32))
    grads = [Tensor._make(owner._data[:])]
    grads[0]._base = owner
    del owner
    accumulate_grad(leaf, grads[0], False, True)
    leaf._grad = None
    owner = Tensor._make(np.ones(4, np.float32)[:])
    grads = [Tensor._make(owner._data[:])]
    grads[0]._base = owner
    del owner
    accumulate_grad(leaf, grads[0], False, True)
    plain, view, owned, owned_view = _calibration
    assert all(counts[:2] == plain[:2] for counts in _calibration)
    return plain[:2] + (view[2],) + owned[2:4] + owned_view[2:]


_calibration: list = []
_STEAL_REFS = _calibrate_steal()


def _check_nan(node, result):
    for index, grad in enumerate(result):
        if grad is not None and _backend.array_module(grad._data).isnan(grad._data).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its "
                               f"{index}th output.")


def _warn_anomaly(node) -> None:
    """In anomaly mode, say where the forward of a failing backward node was called."""
    trace = getattr(node, "_anomaly_trace", None)
    if trace:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that "
                      f"caused the error:\n{trace}", UserWarning, stacklevel=3)


# ----------------------------------------------------------------------------- Tensor methods

@tensor_method()
def backward(self: Tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the gradient of this tensor w.r.t. the graph leaves into their ``.grad``."""
    run_backward(self, gradient, retain_graph, create_graph, inputs)


class _RetainHook:
    """The hook retain_grad() adds; kept last among a node's hooks."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, grad):
        self.fn(grad)


@tensor_method()
def retain_grad(self: Tensor) -> None:
    """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
    if self.grad_fn is None:
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        return
    if self._retains_grad:
        return
    ref = weakref.ref(self)

    def retain(grad):
        tensor = ref()
        if tensor is not None:
            accumulate_grad(tensor, grad, _grad_state.enabled)

    self._retains_grad = True
    self.grad_fn._add_pre_hook(self._output_nr, _RetainHook(retain))


@tensor_method()
def register_post_accumulate_grad_hook(self: Tensor, hook):
    """``hook(tensor)`` runs after a backward pass has accumulated a gradient into this
    leaf's ``.grad`` (optimizers fused into backward, DistributedDataParallel's buckets)."""
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                           "tensors")
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                           "gradient")
    hooks = self.__dict__.get("_post_accumulate_grad_hooks")
    if hooks is None:
        hooks = self.__dict__["_post_accumulate_grad_hooks"] = OrderedDict()
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


@tensor_method()
def register_hook(self: Tensor, hook):
    """``hook(grad) -> Tensor or None`` runs when the gradient of this tensor is computed."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                           "gradient")
    if self.grad_fn is not None:
        handle = self.grad_fn._add_pre_hook(self._output_nr, hook)
        hooks = self.grad_fn._pre_hooks
        retain = [key for key, (_, fn) in hooks.items() if isinstance(fn, _RetainHook)]
        for key in retain:  # retain_grad sees the gradient after the user's hooks
            hooks.move_to_end(key)
        return handle
    if self._hooks is None:
        self._hooks = OrderedDict()
    handle = RemovableHandle(self._hooks)
    self._hooks[handle.id] = hook
    return handle
