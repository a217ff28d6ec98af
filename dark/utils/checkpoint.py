"""dark.utils.checkpoint: activation checkpointing as torch.utils.checkpoint has it.

``checkpoint(function, *args, use_reentrant=...)`` runs ``function`` without keeping its
intermediate results for backward and runs it again in backward (with the random state of
the forward restored when ``preserve_rng_state``, so that dropout draws the same masks).

- ``use_reentrant=True`` (torch's default when the argument is not passed, with torch's
  warning): torch's CheckpointFunction. The forward runs under no_grad; backward recomputes
  on detached inputs and calls ``dark.autograd.backward`` inside the outer backward, which
  accumulates the gradients of the parameters the function uses into their ``.grad``
  directly. Only tensor inputs that require grad make the output require grad; keyword
  arguments are refused.
- ``use_reentrant=False``: the forward runs with grad enabled while a node observer notes
  the tensors from outside the function that its graph reaches (inputs, parameters,
  captured tensors); that graph is dropped at once and one node, whose inputs are those
  tensors, stands for the function. Its backward recomputes the function and takes
  ``dark.autograd.grad`` of the recomputed outputs with respect to them (the recomputed
  graph cut at each of them by an identity node, so that these are partial derivatives
  even when one of them depends on another, as a dense block's inputs do), so that
  ``autograd.grad``, keyword arguments and parameters of a function whose inputs need no
  gradient work as in torch. Peak memory is one segment's intermediate results at a time,
  as torch's; the forward of a checkpointed segment records (then frees) its graph, where
  torch records the graph and drops the saved tensors.

dark has no autocast state to replay in the recomputation (the recomputation runs under the
autocast state current at backward time)."""
from __future__ import annotations

import contextlib
import warnings

from .. import random as _random
from .._backend import cuda_index
from .._tensor import Tensor
from ..autograd import backward as _backward
from ..autograd import grad as _grad
from ..autograd.function import Function
from ..autograd.function import edge_of as _edge_of
from ..autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from ..autograd.graph import register_node_observer
from ..nn.modules.container import Sequential

__all__ = ["CheckpointError", "checkpoint", "checkpoint_sequential", "detach_variable",
           "noop_context_fn", "set_checkpoint_debug_enabled"]

_debug_enabled = None


class CheckpointError(RuntimeError):
    """The recomputation in backward did not give what the forward gave."""


def set_checkpoint_debug_enabled(enabled):
    """A context manager that sets whether checkpoint's errors carry debug information
    (accepted; dark's errors are the same either way)."""
    global _debug_enabled

    @contextlib.contextmanager
    def manager():
        global _debug_enabled
        previous, _debug_enabled = _debug_enabled, enabled
        try:
            yield
        finally:
            _debug_enabled = previous

    return manager()


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs):
    """Each tensor of ``inputs`` detached, keeping its requires_grad."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: ",
                           type(inputs).__name__)
    out = []
    for inp in inputs:
        if not isinstance(inp, Tensor):
            out.append(inp)
            continue
        x = inp.detach()
        x.requires_grad = inp.requires_grad
        out.append(x)
    return tuple(out)


def check_backward_validity(inputs) -> None:
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)


# ----------------------------------------------------------------------------- rng state

def _gpu_indices(tensors) -> list:
    indices = []
    for t in tensors:
        if isinstance(t, Tensor) and t.device.type == "cuda":
            index = cuda_index(t.device)
            if index not in indices:
                indices.append(index)
    return indices


class _RngState:
    """The CPU generator's state and those of the GPUs the tensors live on."""

    def __init__(self, tensors):
        self.cpu = _random.default_generator.get_state()
        self.gpus = [(i, _random.cuda_default_generator(i).get_state())
                     for i in _gpu_indices(tensors)]

    @contextlib.contextmanager
    def restored(self, enabled: bool):
        """Within the block the generators are as they were at capture; the surrounding
        state is back at exit."""
        if not enabled:
            yield
            return
        with _random.fork_rng(devices=[f"cuda:{i}" for i, _ in self.gpus]):
            _random.default_generator.set_state(self.cpu)
            for index, state in self.gpus:
                _random.cuda_default_generator(index).set_state(state)
            yield


# ----------------------------------------------------------------------------- reentrant

class CheckpointFunction(Function):
    """torch's reentrant checkpoint."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.rng = _RngState(args)
        ctx.inputs = []
        ctx.tensor_indices = []
        tensor_inputs = []
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                tensor_inputs.append(arg)
                ctx.tensor_indices.append(i)
                ctx.inputs.append(None)
            else:
                ctx.inputs.append(arg)
        ctx.save_for_backward(*tensor_inputs)
        with no_grad():
            outputs = run_function(*args)
        return outputs

    @staticmethod
    def backward(ctx, *args):
        inputs = list(ctx.inputs)
        for i, tensor in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = tensor
        rng = ctx.rng if ctx.preserve_rng_state else None
        with (rng.restored(True) if rng is not None else contextlib.nullcontext()):
            detached_inputs = detach_variable(tuple(inputs))
            with enable_grad():
                outputs = ctx.run_function(*detached_inputs)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        outputs_with_grad, args_with_grad = [], []
        for i in range(len(outputs)):
            if isinstance(outputs[i], Tensor) and outputs[i].requires_grad:
                outputs_with_grad.append(outputs[i])
                args_with_grad.append(args[i])
        if not outputs_with_grad:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        _backward(outputs_with_grad, args_with_grad)
        grads = tuple(inp.grad if isinstance(inp, Tensor) else None for inp in detached_inputs)
        return (None, None) + grads


# ----------------------------------------------------------------------------- non-reentrant

def _flatten(value, out):
    if isinstance(value, Tensor):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _flatten(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _flatten(item, out)
    return out


def _rebuild(value, tensors):
    """``value`` with its tensors replaced, in order, by those of the iterator ``tensors``."""
    if isinstance(value, Tensor):
        return next(tensors)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_rebuild(item, tensors) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_rebuild(item, tensors) for item in value)
    if isinstance(value, dict):
        return {key: _rebuild(item, tensors) for key, item in value.items()}
    return value


class _NonReentrant(Function):
    """The one node standing for a checkpointed function: inputs, the outside tensors its
    graph reached; outputs, the function's tensor outputs."""

    @staticmethod
    def forward(ctx, state, *externals):
        ctx.state = state
        ctx.externals = externals
        return tuple(o.detach() for o in state["outputs"])

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        function, args, kwargs = state["function"], state["args"], state["kwargs"]
        rng = state["rng"]
        create_graph = is_grad_enabled()
        externals = ctx.externals
        with enable_grad():
            # one identity node per outside tensor: the recomputed graph is cut there, so
            # that the gradients are the function's partial derivatives even when one
            # outside tensor depends on another (an earlier checkpoint's output and that
            # checkpoint's input, as in a dense block); the graph built with create_graph
            # still reaches the outside tensors through these nodes
            stand_ins = [t.view_as(t) for t in externals]
        by_id = {id(t): _edge_of(s) for t, s in zip(externals, stand_ins)}

        def cut(node, inputs):
            edges = node.next_functions
            if any(isinstance(t, Tensor) and id(t) in by_id for t in inputs):
                node.next_functions = tuple(
                    by_id[id(t)] if isinstance(t, Tensor) and id(t) in by_id else edge
                    for t, edge in zip(inputs, edges))

        handle = register_node_observer(cut)
        try:
            with (rng.restored(True) if rng is not None else contextlib.nullcontext()), \
                    state["recompute_context"], enable_grad():
                outputs = _flatten(function(*args, **kwargs), [])
        finally:
            handle.remove()
        if len(outputs) != len(state["meta"]) or any(
                (tuple(o.shape), o.dtype) != meta for o, meta in zip(outputs, state["meta"])):
            raise CheckpointError(
                "torch.utils.checkpoint: Recomputed values for the following tensors have "
                "different metadata than during the forward pass.")
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if g is not None and o.requires_grad]
        if not pairs:
            return (None,) * (1 + len(externals))
        result = _grad([o for o, _ in pairs], stand_ins, [g for _, g in pairs],
                       allow_unused=True, create_graph=create_graph)
        return (None,) + tuple(result)


def _checkpoint_without_reentrant(function, preserve, context_fn, args, kwargs):
    forward_context, recompute_context = context_fn()
    rng = _RngState(list(args) + list(kwargs.values())) if preserve else None
    created, externals, seen = set(), [], set()

    def observe(node, inputs):
        created.add(node)
        for t in inputs:
            if isinstance(t, Tensor) and t.requires_grad and id(t) not in seen and (
                    t.grad_fn is None or t.grad_fn not in created):
                seen.add(id(t))
                externals.append(t)

    handle = register_node_observer(observe)
    try:
        with forward_context:
            result = function(*args, **kwargs)
    finally:
        handle.remove()
    outputs = _flatten(result, [])
    differentiable = [o for o in outputs if o.requires_grad]
    if not differentiable or not externals or not is_grad_enabled():
        return result
    # tensors made before the function that the observer saw as inputs of nodes made
    # inside: keep those whose graph lies outside (a created node may also be an input's
    # grad_fn when the function returns one of its intermediate results)
    externals = [t for t in externals if t.grad_fn is None or t.grad_fn not in created]
    state = {"function": function, "args": args, "kwargs": kwargs, "rng": rng,
             "recompute_context": recompute_context, "outputs": outputs,
             "meta": [(tuple(o.shape), o.dtype) for o in outputs]}
    new_outputs = _NonReentrant.apply(state, *externals)
    if isinstance(new_outputs, Tensor):
        new_outputs = (new_outputs,)
    replaced = iter(n if o.requires_grad else o for o, n in zip(outputs, new_outputs))
    del state["outputs"]  # the first run's graph goes with them
    return _rebuild(result, replaced)


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """Run ``function(*args, **kwargs)`` without saving its intermediate results; they are
    recomputed in backward. See the module's text for the two variants."""
    if use_reentrant is None:
        warnings.warn(
            "dark.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
            "exception. use_reentrant=False is recommended, but if you need to preserve the "
            "current default behavior, you can pass use_reentrant=True. Refer to docs for "
            "more details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _checkpoint_without_reentrant(function, preserve, context_fn, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or a list of modules / functions) in ``segments`` chunks, all but
    the last checkpointed."""
    if use_reentrant is None:
        warnings.warn(
            "dark.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should "
            "be passed explicitly. In version 2.9 we will raise an exception if use_reentrant "
            "is not passed. use_reentrant=False is recommended, but if you need to preserve "
            "the current default behavior, you can pass use_reentrant=True. Refer to docs for "
            "more details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
