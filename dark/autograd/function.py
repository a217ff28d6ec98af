"""Function: the one place where graph edges are made.

Built-in ops subclass ``Op``: ``forward(ctx, *arrays, **params)`` works on raw numpy/cupy
arrays and ``backward(ctx, *grad_outputs)`` on Tensors (so that ``create_graph=True`` records
a graph through it). User functions subclass ``Function`` exactly as in PyTorch: their
``forward`` receives Tensors. Both go through ``apply`` here. The ctx object of an op is its
backward node (``grad_fn``)."""
from __future__ import annotations

import os
import re
import traceback
import weakref
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from .. import _backend
from .._sparse import SparseCOO
from .._sparse import dispatch as _sparse_dispatch
from .._tensor import Tensor, tensor_method
from ..utils.hooks import RemovableHandle
from .grad_mode import state as _grad_state

_FLOAT_KINDS = "fcV"  # V: bfloat16 (ml_dtypes), the one void-kind dtype dark holds


class _NoInputNeedsGrad:
    """``ctx.needs_input_grad`` when no graph is recorded: False for every input."""

    __slots__ = ()

    def __getitem__(self, index) -> bool:
        return False

    def __iter__(self):
        return iter(())


class _NullContext:
    """The ctx given to forward when no graph is recorded: saving is a no-op. A fresh one per
    call, so that what a forward stores on it is freed with the result."""

    __slots__ = ("__dict__",)

    needs_input_grad = _NoInputNeedsGrad()

    def save_for_backward(self, *items) -> None:
        pass

    def mark_non_differentiable(self, *items) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        pass

    def mark_dirty(self, *items) -> None:
        pass


# A saved array or tensor is kept as a tuple (kind, value, version counter, version at save
# time, output_nr); python numbers and None are kept as they are.
_TENSOR, _OUTPUT, _ARRAY, _VALUE = "tensor", "output", "array", "value"


class _NeedsInputGrad:
    """``ctx.needs_input_grad``: which inputs take a gradient (those with an edge), worked
    out on first use and then kept on the node (most backwards never ask)."""

    def __get__(self, node, owner=None):
        if node is None:
            return self
        needs = tuple([edge[0] is not None for edge in node.next_functions])
        node.__dict__["needs_input_grad"] = needs
        return needs


class BackwardNode:
    """A node of the backward graph, and the ctx of the forward that made it."""

    needs_input_grad = _NeedsInputGrad()

    _forward_cls = None
    _materialize_grads = True
    _saved = None
    _released = False
    _to_save = ()
    _non_differentiable = ()
    _pre_hooks = None
    _post_hooks = None
    _anomaly_trace = None
    _num_outputs = 1
    _output_meta = None
    _raw_pass = False  # set by the engine around a raw-array backward (see Op.raw_backward)

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    @property
    def metadata(self) -> dict:
        if "_metadata" not in self.__dict__:
            self._metadata = {}
        return self._metadata

    # ---- ctx API used inside forward
    def save_for_backward(self, *items) -> None:
        self._to_save = items

    def mark_non_differentiable(self, *items) -> None:
        self._non_differentiable = items

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize_grads = bool(value)

    def mark_dirty(self, *items) -> None:
        pass

    # ---- ctx API used inside backward
    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is None:
            if self._released:
                raise RuntimeError(
                    "Trying to backward through the graph a second time (or directly access "
                    "saved tensors after they have already been freed). Saved intermediate "
                    "values of the graph are freed when you call .backward() or "
                    "autograd.grad(). Specify retain_graph=True if you need to backward "
                    "through the graph a second time or if you need to access saved tensors "
                    "after calling backward.")
            return ()
        values = []
        if self._raw_pass:  # the raw-array backward: the arrays, with the same checks
            for entry in saved:
                if type(entry) is not tuple:
                    values.append(entry)
                    continue
                kind, value, counter, version, output_nr = entry
                if counter is not None and counter[0] != version:
                    raise RuntimeError(self._modified_message(entry))
                values.append(value._data if kind == _TENSOR else value)
            return tuple(values)
        for entry in saved:
            if type(entry) is not tuple:
                values.append(entry)
                continue
            kind, value, counter, version, output_nr = entry
            if counter is not None and counter[0] != version:
                raise RuntimeError(self._modified_message(entry))
            if kind == _TENSOR or kind == _VALUE:
                values.append(value)
            elif kind == _OUTPUT:
                values.append(Tensor._make(value, True, self, output_nr, counter))
            else:
                values.append(Tensor._make(value))
        return tuple(values)

    def _modified_message(self, entry) -> str:
        """PyTorch's words for a saved tensor changed in place since it was saved: the
        node named is the one that made the tensor's current value."""
        kind, value, counter, version, output_nr = entry
        array = value._data if isinstance(value, Tensor) else value
        if kind == _OUTPUT:
            producer = self
        else:
            producer, output_nr = value.grad_fn, value._output_nr
        which = "" if producer is None else (
            f", which is output {output_nr} of {_forward_name(producer.name())},")
        hint = ("Hint: the backtrace further above can point to the operation that failed "
                "to compute its gradient." if _anomaly.enabled else
                "Hint: enable anomaly detection to find the operation that failed to compute "
                "its gradient, with dark.autograd.set_detect_anomaly(True, check_nan=False).")
        return ("one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{_backend.tensor_type_name(array)} {list(array.shape)}]"
                f"{which} is at "
                f"version {counter[0]}; expected version {version} instead. "
                + hint)

    # ---- hooks on the node, as torch.autograd.graph.Node
    def register_hook(self, fn) -> RemovableHandle:
        """fn(grad_inputs, grad_outputs) -> optional new grad_inputs, after this node runs."""
        if self._post_hooks is None:
            self._post_hooks = OrderedDict()
        return _add_hook(self._post_hooks, fn)

    def register_prehook(self, fn) -> RemovableHandle:
        """fn(grad_outputs) -> optional new grad_outputs, before this node runs."""
        return self._add_pre_hook(None, fn)

    def _add_pre_hook(self, output_nr, fn) -> RemovableHandle:
        """``(output_nr, fn)`` into the pre-hooks: fn sees output ``output_nr``'s gradient,
        or all of them for None."""
        if self._pre_hooks is None:
            self._pre_hooks = OrderedDict()
        return _add_hook(self._pre_hooks, (output_nr, fn))

    def _release(self) -> None:
        if self._saved is not None:
            self._saved = None
            self._released = True


class AccumulateGrad:
    """The node for a leaf tensor: it adds the incoming gradient into ``variable.grad``."""

    next_functions = ()
    _num_outputs = 1
    _pre_hooks = None
    _post_hooks = None

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"

    @property
    def metadata(self) -> dict:
        if "_metadata" not in self.__dict__:
            self._metadata = {}
        return self._metadata


@tensor_method()
def _grad_accumulator(self: Tensor) -> AccumulateGrad:
    """The AccumulateGrad node of a leaf (one while the graph holds it; made on demand)."""
    acc = self._grad_acc() if self._grad_acc is not None else None
    if acc is None:
        acc = AccumulateGrad(self)
        self._grad_acc = weakref.ref(acc)
    return acc


def _add_hook(hooks: OrderedDict, hook) -> RemovableHandle:
    """Store ``hook`` last in ``hooks`` under a new handle's id; returns the handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _forward_name(node_name: str) -> str:
    """'MulBackward0' -> 'Mul', as PyTorch names the op in its in-place error."""
    return re.sub(r"Backward\d*$", "", node_name)


def edge_of(tensor):
    """The (node, output_nr) pair through which a gradient reaches ``tensor``."""
    if tensor.grad_fn is not None:
        return (tensor.grad_fn, tensor._output_nr)
    if tensor._requires_grad:
        return (tensor._grad_accumulator(), 0)
    return (None, 0)


def _check_devices(arrays) -> None:
    devices = {_backend.device_of(a) for a in arrays}
    if len(devices) > 1:
        names = sorted(str(d) for d in devices)
        raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                           f"two devices, {names[0]} and {names[1]}!")


class FunctionMeta(type):
    """Gives each Function class its backward-node class (``MulBackward0`` ...)."""

    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        node_name = namespace.get("node_name") or (
            f"{name}Backward0" if namespace.get("_raw", getattr(cls, "_raw", False))
            else f"{name}Backward")
        cls._backward_cls = type(node_name, (BackwardNode,), {"_forward_cls": cls})


class Function(metaclass=FunctionMeta):
    """Base class of user-defined differentiable operations, as torch.autograd.Function.

    Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` and
    call ``MyFunction.apply(*args)``."""

    _raw = False
    raw_backward = False  # see Op

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        tensors = [a for a in args if isinstance(a, Tensor)]
        if len(tensors) > 1:
            _check_devices([t._data for t in tensors])
        record = _grad_state.enabled and any(t._requires_grad for t in tensors)
        if record:
            node = cls._backward_cls()
            _record_inputs(node, args)
        else:
            node = _NullContext()
        previous = _grad_state.enabled
        _grad_state.enabled = False
        try:
            result = cls.forward(node, *args, **kwargs)
        finally:
            _grad_state.enabled = previous
        if not record:
            return result
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        arrays = [o._data if isinstance(o, Tensor) else o for o in outputs]
        return _connect(node, args, arrays, single, None)


class Op(Function):
    """A built-in op: forward on raw arrays, backward on Tensors.

    ``view_of`` names the input whose memory the output may share (reshape, transpose,
    slicing ...), so that views share the version counter of their base."""

    _raw = True
    view_of: int | None = None
    # raw_backward: this op's backward, written with operators (and helpers that take
    # Tensors or arrays), also runs on raw arrays. When no graph of the backward is built
    # (create_graph=False, no op dispatch set), the engine gives it the gradients' arrays
    # and ctx.saved_tensors gives the saved arrays: one definition, no Tensor made inside.
    raw_backward = False
    # An elementwise op that is one numpy ufunc of a float array (dark.ops.elementwise's
    # sin, exp, tanh ...): that ufunc, whether numpy's warnings are silenced around it, and
    # ``saves``, which of "input"/"output" its backward keeps. Such calls take _apply_ufunc.
    _ufunc = None
    _ufunc_quiet = True
    saves = None
    # An arithmetic op of two tensors (add, sub, mul, div): its numpy ufunc, whether its
    # backward keeps both inputs, whether numpy's warnings are silenced around it (div), and
    # whether its node holds ``alpha`` (add, sub). Recorded calls with two float32 or two
    # float64 numpy tensors take _apply_ufunc2.
    _ufunc2 = None
    _ufunc2_saves = False
    _ufunc2_quiet = False
    _ufunc2_alpha = False

    @classmethod
    def apply(cls, *args, **kwargs):
        if len(args) == 1:
            a = args[0]
            if isinstance(a, Tensor) and type(a._data) is np.ndarray:
                if cls._ufunc is not None and not kwargs and a._data.dtype.kind == "f":
                    return _apply_ufunc(cls, a)
                if a._requires_grad and _grad_state.enabled:
                    return _record_one(cls, a, args, kwargs)
                # not recorded: the general path's steps for one numpy tensor
                result = cls.forward(_NullContext(), a._data, **kwargs)
                if type(result) is np.ndarray and cls.view_of is None:
                    out = _new_tensor(Tensor)
                    out._data = result
                    out._requires_grad = False
                    out.grad_fn = out._grad = out._vc = None
                    return out
                if type(result) is tuple:
                    return tuple([_plain(cls, r, args) for r in result])
                return _plain(cls, result, args)
        elif len(args) == 2 and _grad_state.enabled:
            a, b = args
            if isinstance(a, Tensor) and type(a._data) is np.ndarray:
                if type(b) in _PLAIN_VALUES:
                    if a._requires_grad:
                        if (cls._ufunc2 is not None and a._data.dtype in _TORCH_EXACT_FLOATS
                                and (not kwargs or kwargs == _ALPHA_ONE)
                                and _exact_operand(b, a._data.dtype)):
                            return _apply_ufunc2(cls, a, b, kwargs)
                        return _record_one(cls, a, args, kwargs, b)
                elif isinstance(b, Tensor) and type(b._data) is np.ndarray \
                        and (a._requires_grad or b._requires_grad):
                    if (cls._ufunc2 is not None and a._data.dtype is b._data.dtype
                            and a._data.dtype in _TORCH_EXACT_FLOATS
                            and (not kwargs or kwargs == _ALPHA_ONE)):
                        return _apply_ufunc2(cls, a, b, kwargs)
                    return _record_two(cls, a, b, kwargs)
        arrays = []
        record = False
        numpy_only = True
        for a in args:
            if isinstance(a, Tensor):
                array = a._data
                if a._requires_grad:
                    record = True
                if type(array) is not np.ndarray:
                    numpy_only = False
                arrays.append(array)
            else:
                arrays.append(a)
        if not numpy_only:
            return _apply_on_gpu(cls, args, arrays, kwargs, record)
        if not (record and _grad_state.enabled):
            result = cls.forward(_NullContext(), *arrays, **kwargs)
            if type(result) is np.ndarray and cls.view_of is None:
                out = _new_tensor(Tensor)
                out._data = result
                out._requires_grad = False
                out.grad_fn = out._grad = out._vc = None
                return out
            if type(result) is tuple:
                return tuple(_plain(cls, r, args) for r in result)
            return _plain(cls, result, args)
        node = cls._backward_cls()
        _record_inputs(node, args)
        return _output(cls, node, args, cls.forward(node, *arrays, **kwargs), None)


_ONE = object()  # no second argument


def _record_one(cls, a, args, kwargs, number=_ONE):
    """Op.apply, recorded, of one numpy tensor that takes a gradient (unary ops, reductions,
    views), or of such a tensor and a python ``number`` (``x * 2``): the general path's
    steps, each for that one tensor."""
    array = a._data
    node = cls._backward_cls()
    if _record_inputs is _record_edges:
        grad_fn = a.grad_fn
        edge = (grad_fn, a._output_nr) if grad_fn is not None else (a._grad_accumulator(), 0)
        if number is _ONE:
            node.next_functions = (edge,)
            node._input_meta = [(array.shape, array.dtype)]
        else:
            node.next_functions = (edge, _NO_EDGE)
            node._input_meta = [(array.shape, array.dtype), None]
    else:
        _record_inputs(node, args)
    if number is _ONE:
        result = cls.forward(node, array, **kwargs) if kwargs else cls.forward(node, array)
    else:
        result = cls.forward(node, array, number, **kwargs)
    return _output(cls, node, args, result, (a,))


def _apply_ufunc(cls, a):
    """Op.apply of a one-ufunc op (see ``Op._ufunc``) on a float numpy tensor: the op's
    forward (the ufunc), and when recorded the steps of ``_record_one`` and ``_output`` for
    this case (one edge, the input or the output saved), written out: every call of the
    general path costs as much as the sine of ten numbers (so do helper calls here)."""
    data = a._data
    record = a._requires_grad and _grad_state.enabled
    if record and (_record_inputs is not _record_edges or _anomaly.enabled):
        return _record_one(cls, a, (a,), {})
    if cls._ufunc_quiet:
        token = _quiet_enter()
        try:
            result = cls._ufunc(data)
        finally:
            _quiet_exit(token)
    else:
        result = cls._ufunc(data)
    if type(result) is not np.ndarray:  # numpy gives a 0-d array's result as a scalar
        result = np.asarray(result)
    out = _new_tensor(Tensor)
    out._data = result
    out._grad = None
    if not record:
        out._requires_grad = False
        out.grad_fn = out._vc = None
        return out
    node = cls._backward_cls()
    grad_fn = a.grad_fn
    node.next_functions = ((grad_fn, a._output_nr) if grad_fn is not None
                           else (a._grad_accumulator(), 0),)
    node._input_meta = [(data.shape, data.dtype)]
    out._requires_grad = True
    out.grad_fn = node
    if cls.saves == "output":
        counter = out._vc = [0]
        node._saved = [None, (_OUTPUT, result, counter, 0, 0)]
    else:
        out._vc = None
        counter = a._vc
        if counter is None:
            counter = a._vc = [0]
        node._saved = [(_TENSOR, a, counter, counter[0], a._output_nr), None]
    return out


_quiet_enter, _quiet_exit = _backend.quiet_enter, _backend.quiet_exit
_ALPHA_ONE = {"alpha": 1}
_TORCH_EXACT_FLOATS = _backend.TORCH_EXACT_FLOATS
_FLOAT32 = np.dtype(np.float32)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_EXACT_INT = 2 ** 53


def _exact_operand(number, np_dtype) -> bool:
    """Whether numpy reads python ``number`` for an array of ``np_dtype`` (float32/64) as the
    op's general path does (a float in the dtype's range, an int exact in float64); else
    that path makes the operand (inf beyond the range, ints wrapped)."""
    kind = type(number)
    if kind is float:
        return np_dtype is not _FLOAT32 or -_FLOAT32_MAX <= number <= _FLOAT32_MAX
    return kind is int and -_EXACT_INT <= number <= _EXACT_INT


def _apply_ufunc2(cls, a, b, kwargs):
    """Op.apply, recorded, of an arithmetic op (see ``Op._ufunc2``) on two numpy tensors of
    one float dtype (float32 or float64, where numpy's arithmetic is torch's), or such a
    tensor and a python number (``_exact_operand``): the ufunc, and the steps of
    ``_record_two`` / ``_record_one`` and ``_output`` for this case, written out."""
    number = not isinstance(b, Tensor)
    result = None
    if _record_inputs is _record_edges and not _anomaly.enabled:
        array_b = b if number else b._data
        try:
            if cls._ufunc2_quiet:
                token = _quiet_enter()
                try:
                    result = cls._ufunc2(a._data, array_b)
                finally:
                    _quiet_exit(token)
            else:
                result = cls._ufunc2(a._data, array_b)
        except ValueError:  # shapes that do not broadcast: the general path's error
            pass
    if result is None:  # observers or anomaly mode watch, or that error: the general path
        if number:
            return _record_one(cls, a, (a, b), kwargs, b)
        return _record_two(cls, a, b, kwargs)
    if type(result) is not np.ndarray:  # numpy gives 0-d arrays' result as a scalar
        result = np.asarray(result)
    node = cls._backward_cls()
    edge_a, meta_a = _edge_and_meta(a)
    edge_b, meta_b = (_NO_EDGE, None) if number else _edge_and_meta(b)
    node.next_functions = (edge_a, edge_b)
    node._input_meta = [meta_a, meta_b]
    if cls._ufunc2_alpha:
        node.alpha = 1
    if cls._ufunc2_saves:
        entries = []
        for t in (a, b) if not number else (a,):
            counter = t._vc
            if counter is None:
                counter = t._vc = [0]
            entries.append((_TENSOR, t, counter, counter[0], t._output_nr))
        if number:
            entries.append(b)
        node._saved = entries
    out = _new_tensor(Tensor)
    out._data = result
    out._requires_grad = True
    out.grad_fn = node
    out._grad = out._vc = None
    return out


def _output(cls, node, args, result, inputs):
    """A recorded forward's ``result`` as the op's output: tuples, views, non-differentiable
    and non-float outputs through ``_connect``; else the one float Tensor made here, its saved
    values resolved for ``inputs`` (the numpy tensors of ``args``: a shortcut of
    ``_resolve_saved``'s answers for them and the output; None: ``_resolve_saved`` itself)."""
    if type(result) is tuple:
        return _connect(node, args, [np.asarray(r) for r in result], False, cls.view_of)
    if type(result) is not np.ndarray:
        result = np.asarray(result)
    if (cls.view_of is not None or node._non_differentiable
            or result.dtype.kind not in _FLOAT_KINDS):
        return _connect(node, args, [result], True, cls.view_of)
    out = _new_tensor(Tensor)
    out._data = result
    out._requires_grad = True
    out.grad_fn = node
    out._grad = out._vc = None
    to_save = node._to_save
    if to_save:
        node._saved = (_resolve_saved(to_save, args, (out,)) if inputs is None
                       else _saved_entries(to_save, args, inputs, out))
        node._to_save = ()
    if _anomaly.enabled:
        node._anomaly_trace = _forward_trace()
    return out


def _saved_entries(to_save, args, inputs, out):
    """``_resolve_saved``'s entries when ``to_save`` holds only the output's array, the
    ``inputs``' arrays and plain values; else ``_resolve_saved`` itself."""
    result = out._data
    entries = []
    for item in to_save:
        if item is result:
            counter = out._vc
            if counter is None:
                counter = out._vc = [0]
            entries.append((_OUTPUT, item, counter, 0, 0))
        elif item is None or type(item) in _PLAIN_VALUES:
            entries.append(item)
        else:
            for t in inputs:
                if item is t._data:
                    counter = t._vc
                    if counter is None:
                        counter = t._vc = [0]
                    entries.append((_TENSOR, t, counter, counter[0], t._output_nr))
                    break
            else:
                return _resolve_saved(to_save, args, (out,))
    return entries


def _edge_and_meta(t):
    if not t._requires_grad:
        return _NO_EDGE, None
    grad_fn = t.grad_fn
    data = t._data
    return ((grad_fn, t._output_nr) if grad_fn is not None else (t._grad_accumulator(), 0),
            (data.shape, data.dtype))


def _record_two(cls, a, b, kwargs):
    """Op.apply, recorded, of two numpy tensors (``x * y``): the general path's steps, each
    for those two."""
    args = (a, b)
    array_a, array_b = a._data, b._data
    node = cls._backward_cls()
    if _record_inputs is _record_edges:
        edge_a, meta_a = _edge_and_meta(a)
        edge_b, meta_b = _edge_and_meta(b)
        node.next_functions = (edge_a, edge_b)
        node._input_meta = [meta_a, meta_b]
    else:
        _record_inputs(node, args)
    return _output(cls, node, args, cls.forward(node, array_a, array_b, **kwargs), (a, b))


# Op.apply's own function: runs an op without the dispatch hook (see set_op_dispatch)
plain_op_apply = Op.__dict__["apply"].__func__


def op_dispatch_set() -> bool:
    """Whether an op dispatch (autocast, bfloat16, DTensor, ONNX export) runs the ops now:
    the paths that call numpy directly (the engine's raw-array backward, F.linear outside a
    graph) are only for the plain Op.apply."""
    return Op.__dict__["apply"].__func__ is not plain_op_apply


_dispatch_layers = {"base": None, "outer": []}


def set_op_dispatch(dispatch=None) -> None:
    """The one hook of the op dispatch (dark.amp: autocast's casts and bfloat16's float32
    compute): with ``dispatch``, every built-in op's ``apply`` is ``dispatch(cls, *args,
    **kwargs)``, which runs the op with ``plain_op_apply(cls, ...)``; None restores the
    direct path. Rebinding ``Op.apply`` keeps ops free of any test while no dispatch is set.
    Layers added by ``add_op_dispatch_layer`` stay outside whatever is set here."""
    _dispatch_layers["base"] = dispatch
    apply = dispatch if dispatch is not None else plain_op_apply
    for wrap in _dispatch_layers["outer"]:
        apply = wrap(apply)
    Op.apply = classmethod(apply)


def add_op_dispatch_layer(wrap) -> None:
    """Keep ``wrap(inner)`` (a dispatch running ops through ``inner``) outermost from now on,
    over every dispatch set later (DTensor's: it hands the ops local tensors, which autocast
    and bfloat16 then see as any others)."""
    if not _dispatch_layers["outer"]:  # the first layer goes over what runs now
        current = Op.__dict__["apply"].__func__
        _dispatch_layers["base"] = None if current is plain_op_apply else current
    _dispatch_layers["outer"].append(wrap)
    set_op_dispatch(_dispatch_layers["base"])


def _apply_on_gpu(cls, args, arrays, kwargs, record):
    tensor_arrays = [a._data for a in args if isinstance(a, Tensor)]
    if SparseCOO in map(type, tensor_arrays):  # an operand of the sparse COO layout
        return _sparse_dispatch(cls, args, kwargs)
    _check_devices(tensor_arrays)
    record = record and _grad_state.enabled
    with tensor_arrays[0].device:
        if record:
            node = cls._backward_cls()
            _record_inputs(node, args)
        else:
            node = _NullContext()
        result = cls.forward(node, *arrays, **kwargs)
    single = type(result) is not tuple
    if not record:
        if single:
            return _plain(cls, result, args)
        return tuple(_plain(cls, r, args) for r in result)
    return _connect(node, args, [result] if single else list(result), single, cls.view_of)


_NO_EDGE = (None, 0)
_new_tensor = object.__new__


def _record_edges(node, args) -> None:
    """Give a recording node its edges (``next_functions``; ``needs_input_grad`` follows
    from them) and the shape and dtype of each input that takes a gradient (the engine sums
    and casts the gradient back to them)."""
    edges = []
    meta = []
    for a in args:
        if isinstance(a, Tensor) and a._requires_grad:
            grad_fn = a.grad_fn
            edges.append((grad_fn, a._output_nr) if grad_fn is not None
                         else (a._grad_accumulator(), 0))
            data = a._data
            meta.append((data.shape, data.dtype))
        else:
            edges.append(_NO_EDGE)
            meta.append(None)
    node.next_functions = tuple(edges)
    node._input_meta = meta


# ----------------------------------------------------------------------------- observers
# Op.apply and Function.apply call _record_inputs for every node they record: _record_edges,
# or while a node observer is registered (dark.autograd.graph.register_node_observer) the
# same followed by the observers. Rebinding the name keeps the recording path free of any
# test when no observer is registered.

_node_observers: OrderedDict = OrderedDict()


def _record_observed(node, args) -> None:
    _record_edges(node, args)
    for observer in tuple(_node_observers.values()):
        observer(node, args)


_record_inputs = _record_edges


def _update_recorder() -> None:
    global _record_inputs
    _record_inputs = _record_observed if _node_observers else _record_edges


class _ObserverHandle(RemovableHandle):
    """Removing the observer also takes it off the recording path."""

    def remove(self) -> None:
        super().remove()
        _update_recorder()


def register_node_observer(fn) -> RemovableHandle:
    """Call ``fn(node, inputs)`` each time an op or Function records a backward node, once
    the node's ``next_functions`` are set and before its forward runs; ``inputs`` are the
    arguments of the call (tensors and other values, in order, one per edge). Observers run
    in the order registered; the handle removes one (also as a context manager). For tools
    that inspect graphs (dark.viz): the switch is process-wide, as anomaly mode is."""
    handle = _ObserverHandle(_node_observers)
    _node_observers[handle.id] = fn
    _update_recorder()
    return handle


def _plain(cls, array, args):
    """Wrap an output when no graph is recorded (views still share their base's version)."""
    if type(array) is not np.ndarray and isinstance(array, np.generic):
        array = np.asarray(array)
    out = Tensor._make(array, False, None)
    if cls.view_of is not None:
        _link_view(out, args[cls.view_of])
    return out


def _link_view(out, source) -> None:
    if not isinstance(source, Tensor):
        return
    data, source_data = out._data, source._data
    # numpy and CuPy give a view of a view the first one's base: that settles most cases
    # without may_share_memory (an empty view shares nothing)
    base = data.base
    if (data.size and base is not None and (base is source_data or base is source_data.base)
            or _backend.array_module(data).may_share_memory(data, source_data)):
        out._vc = source._version_counter()
        base = source if source._base is None else source._base
        out._base = base
        if base._requires_grad:
            # an in-place op on the base later regenerates the history of its live views
            track_view(base, out)


class _LiveViews:
    """A base's views, weakly held: ``items()`` gives (id, view) of those alive. Plain weak
    references in a list (a WeakValueDictionary costs ten times more per view, made per
    chunk of every step of an RNN), the dead ones dropped each time the list doubles."""

    __slots__ = ("refs", "limit")

    def __init__(self):
        self.refs = []
        self.limit = 8

    def add(self, view) -> None:
        refs = self.refs
        refs.append(weakref.ref(view))
        if len(refs) > self.limit:
            self.refs = refs = [ref for ref in refs if ref() is not None]
            self.limit = max(8, 2 * len(refs))

    def items(self) -> list:
        live = [ref() for ref in self.refs]
        return [(id(view), view) for view in live if view is not None]


def track_view(base, view) -> None:
    """Keep ``view`` among ``base``'s live views (weakly), whose history an in-place op on
    the base regenerates (dark.ops.inplace.refresh_views)."""
    views = base.__dict__.get("_views")
    if views is None:
        views = base.__dict__["_views"] = _LiveViews()
    views.add(view)


def _connect(node, args, arrays, single, view_of):
    """Make the output tensors of a recorded op (its edges are already made)."""
    if len(arrays) != 1:
        node._num_outputs = len(arrays)
        node._output_meta = [(a.shape, a.dtype) for a in arrays]
    non_diff = node._non_differentiable
    outputs = []
    for index, array in enumerate(arrays):
        if type(array) is not np.ndarray and isinstance(array, np.generic):
            array = np.asarray(array)
        differentiable = array.dtype.kind in _FLOAT_KINDS and not (non_diff and any(
            array is item or (isinstance(item, Tensor) and item._data is array)
            for item in non_diff))
        if differentiable:
            out = Tensor._make(array, True, node, index)
        else:
            out = Tensor._make(array, False, None)
        if view_of is not None:
            _link_view(out, args[view_of])
        outputs.append(out)
    if node._to_save:
        node._saved = _resolve_saved(node._to_save, args, outputs)
        node._to_save = ()
    node._non_differentiable = ()
    if _anomaly.enabled:
        node._anomaly_trace = _forward_trace()
    return outputs[0] if single else tuple(outputs)


_PLAIN_VALUES = (float, int, bool, complex)


def _resolve_saved(items, args, outputs):
    """Map each saved array to the input or output tensor it belongs to, so that backward
    sees real graph tensors (needed for create_graph) and versions are checked."""
    entries = []
    for item in items:
        if type(item) is not np.ndarray:
            if item is None or type(item) in _PLAIN_VALUES:
                entries.append(item)
                continue
            if isinstance(item, Tensor):
                for out in outputs:
                    if item is out or item._data is out._data:
                        item = out._data
                        break
                else:
                    counter = item._version_counter()
                    entries.append((_TENSOR, item, counter, counter[0], item._output_nr))
                    continue
            elif isinstance(item, np.generic) or not hasattr(item, "dtype"):
                entries.append((_VALUE, item, None, 0, 0))
                continue
        for index, out in enumerate(outputs):
            if out._data is item and out.grad_fn is not None:
                counter = out._vc
                if counter is None:
                    counter = out._vc = [0]
                entries.append((_OUTPUT, item, counter, counter[0], index))
                break
        else:
            for arg in args:
                if isinstance(arg, Tensor) and arg._data is item:
                    counter = arg._vc
                    if counter is None:
                        counter = arg._vc = [0]
                    entries.append((_TENSOR, arg, counter, counter[0], arg._output_nr))
                    break
            else:
                entries.append((_ARRAY, item, None, 0, 0))
    return entries


class SavedValue(NamedTuple):
    """One value a node saved for its backward (see dark.autograd.graph.saved_values).

    ``kind`` is "tensor" (``value`` a tensor the op was given, e.g. an input), "output"
    (``value`` the array of the node's output ``output_nr``), "array" (``value`` a raw
    array: a constant of the backward) or "value" (``value`` a python number, None or
    another object). ``current``: not changed in place since it was saved (a backward
    that reads it would raise otherwise)."""

    kind: str
    value: object
    output_nr: int
    current: bool


def saved_values(node):
    """The values ``node`` saved for its backward, as SavedValue tuples in the order saved;
    None once a backward without ``retain_graph`` has freed them."""
    saved = getattr(node, "_saved", None)
    if saved is None:
        return None if getattr(node, "_released", False) else ()
    values = []
    for entry in saved:
        if type(entry) is not tuple:
            values.append(SavedValue(_VALUE, entry, 0, True))
            continue
        kind, value, counter, version, output_nr = entry
        values.append(SavedValue(kind, value, output_nr, counter is None or counter[0] == version))
    return tuple(values)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _forward_trace() -> str:
    """The user's stack at the forward call, without dark's own frames at its end."""
    frames = traceback.extract_stack()
    while frames and frames[-1].filename.startswith(_PACKAGE_DIR):
        frames.pop()
    return "".join(traceback.format_list(frames))


class _Anomaly:
    enabled = False
    check_nan = True


_anomaly = _Anomaly()
