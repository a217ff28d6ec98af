"""The recording behind dark.onnx.export: one run of the model with a dispatch set on the op
layer (dark.autograd.function.set_op_dispatch), composed with whatever dispatch is already
set (dark.amp's), that records every built-in op called: its class, its tensor inputs (as
value ids), its python attributes and its outputs.

Tensors are identified by their autograd node and output number when they have one (an
in-place op gives the tensor its result's node, so ``relu_`` and ``+=`` keep the right
value), else by the tensor object, else by its array (``indices=input._data``). Tensors met
as op inputs that are neither graph inputs, parameters, buffers nor op outputs are
constants (made by dark.tensor, arange ...). The module stack (forward pre/post hooks) names
where each op was called; LSTM/GRU modules are recorded whole (their inner ops are not)."""
from __future__ import annotations

import inspect

import numpy as np

from .._tensor import Tensor
from ..autograd import function as _function
from ..autograd.function import Op
from ..autograd.grad_mode import enable_grad

# modules recorded as one call (ONNX has the fused op) rather than by their ops
MODULE_LEVEL = ("LSTM", "GRU", "RNN")


class Ref:
    """A tensor operand of a recorded call: the id of its value."""

    __slots__ = ("vid",)

    def __init__(self, vid: int):
        self.vid = vid

    def __repr__(self) -> str:
        return f"Ref({self.vid})"


class Call:
    """One recorded op call (``cls`` an Op subclass) or module call (``module`` set)."""

    __slots__ = ("cls", "args", "kwargs", "outs", "path", "module", "op_name")

    def __init__(self, cls, args, kwargs, outs, path, module=None):
        self.cls, self.args, self.kwargs, self.outs = cls, args, kwargs, outs
        self.path, self.module = path, module
        self.op_name = type(module).__name__ if module is not None else cls.__name__


def _host(array):
    if type(array) is np.ndarray:
        return array
    get = getattr(array, "get", None)
    return get() if get is not None else np.asarray(array)


_SIGNATURES: dict = {}


def _is_array(value) -> bool:
    """A raw numpy/CuPy array given to an op as a keyword (a mask, a condition, indices)."""
    return type(value) is np.ndarray or hasattr(value, "__cuda_array_interface__")


def _named(cls, args, kwargs) -> dict:
    """The op's keyword attributes, with those passed by position added by name (the
    positional ones stay in ``args`` too)."""
    names = _SIGNATURES.get(cls)
    if names is None:
        try:
            parameters = list(inspect.signature(cls.forward).parameters.values())[1:]
        except (TypeError, ValueError):
            parameters = []
        names = []
        for p in parameters:
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                break
            names.append(p.name)
        _SIGNATURES[cls] = names
    named = dict(kwargs)
    for name, value in zip(names, args):
        named.setdefault(name, value)
    return named


class Trace:
    """The values and calls of one run."""

    def __init__(self):
        self.keys: dict = {}
        self.arrays: dict = {}
        self.values: list = []       # vid -> host array (the value met in this run)
        self.kinds: list = []        # vid -> ("input", i) | ("param", name) | ("const",) | ("op",)
        self.calls: list = []
        self.inputs: list = []       # vids of the graph inputs, in order
        self.outputs: list = []      # vids of the graph outputs, in order
        self._keep: list = []        # every tensor seen, kept alive so that ids stay unique
        self._stack: list = []
        self._suppress = 0

    # ---------------------------------------------------------------- values
    @staticmethod
    def _key(t: Tensor):
        if t.grad_fn is not None:
            return ("g", id(t.grad_fn), t._output_nr)
        return ("t", id(t))

    def _new(self, array, kind) -> int:
        vid = len(self.values)
        self.values.append(_host(array))
        self.kinds.append(kind)
        return vid

    def register(self, t: Tensor, kind) -> int:
        vid = self._new(t._data, kind)
        self.keys[self._key(t)] = vid
        self.arrays[id(t._data)] = vid
        self._keep.append(t)
        return vid

    def lookup(self, t: Tensor) -> int:
        vid = self.keys.get(self._key(t))
        if vid is None and t.grad_fn is None:
            vid = self.arrays.get(id(t._data))
        if vid is None:
            vid = self.register(t, ("const",))
        return vid

    def lookup_array(self, array) -> int:
        """The value whose array ``array`` is (an op given ``input._data``), else a constant."""
        vid = self.arrays.get(id(array))
        if vid is None:
            vid = self._new(array, ("const",))
            self.arrays[id(array)] = vid
            self._keep.append(array)
        return vid

    @property
    def path(self) -> str:
        return self._stack[-1] if self._stack else ""

    # ---------------------------------------------------------------- recording
    def run(self, model, args: tuple, kwargs: dict):
        """Run ``model(*args, **kwargs)`` recording its ops; returns its output."""
        previous = Op.__dict__["apply"]
        through = previous.__func__

        def dispatch(cls, *op_args, **op_kwargs):
            if self._suppress:
                return through(cls, *op_args, **op_kwargs)
            # inputs looked up before the op runs (their values as the op saw them)
            refs = [Ref(self.lookup(a)) if isinstance(a, Tensor) else a for a in op_args]
            named = {k: Ref(self.lookup_array(v)) if _is_array(v) else v
                     for k, v in op_kwargs.items()}
            result = through(cls, *op_args, **op_kwargs)
            outputs = result if isinstance(result, tuple) else (result,)
            outs = [self.register(o, ("op",)) if isinstance(o, Tensor) else None
                    for o in outputs]
            self.calls.append(Call(cls, tuple(refs), _named(cls, refs, named), outs,
                                   self.path))
            return result

        handles, overridden = [], []
        named = model.named_modules() if hasattr(model, "named_modules") else ()
        for name, module in named:
            label = name
            handles.append(module.register_forward_pre_hook(
                lambda m, a, label=label: self._enter(label)))
            handles.append(module.register_forward_hook(
                lambda m, a, o: self._leave(), always_call=True))
            if type(module).__name__ in MODULE_LEVEL and "forward" not in module.__dict__:
                module.forward = self._module_level(module, module.forward)
                overridden.append(module)
        _function.set_op_dispatch(dispatch)
        try:
            with enable_grad():
                result = model(*args, **kwargs)
        finally:
            Op.apply = previous
            for handle in handles:
                handle.remove()
            for module in overridden:
                del module.__dict__["forward"]
            self._stack.clear()
        return result

    def _refs(self, value):
        if isinstance(value, Tensor):
            return Ref(self.lookup(value))
        if isinstance(value, (tuple, list)):
            return type(value)(self._refs(v) for v in value)
        return value

    def _enter(self, label: str) -> None:
        self._stack.append(label)

    def _leave(self) -> None:
        self._stack.pop()

    def _module_level(self, module, forward):
        def recorded(*args, **kwargs):
            refs = [self._refs(a) for a in args]
            extra = {k: self._refs(v) for k, v in kwargs.items()}
            self._suppress += 1
            try:
                result = forward(*args, **kwargs)
            finally:
                self._suppress -= 1
            output, state = result
            flat = [output] + (list(state) if isinstance(state, tuple) else [state])
            outs = [self.register(o, ("op",)) for o in flat]
            self.calls.append(Call(None, tuple(refs), extra, outs, self.path, module))
            return result
        return recorded
