"""The ONNX graph built from a recorded run (dark.onnx._trace): names of values, nodes,
initializers, and the int vectors (shapes, sizes) that depend on dynamic axes.

A second run with the dynamic axes at other sizes tells which recorded ints depend on them:
an int that differs between the runs is read at run time from the shape of a value that has
that size in both runs (a graph input first), so that reshape/expand/split follow the batch
and sequence sizes rather than baking the traced ones."""
from __future__ import annotations

import numpy as np

from ._trace import Ref


class OnnxExporterError(RuntimeError):
    """An error of dark.onnx.export (torch.onnx.OnnxExporterError)."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op that dark.onnx cannot export (torch.onnx.errors.UnsupportedOperatorError)."""


def _triangle(value):
    """(k, upper value, lower value) when the 2-d ``value`` is one value on and above its
    k-th diagonal and another below (a causal mask), else None."""
    if value.ndim != 2 or 0 in value.shape:
        return None
    upper_value, lower_value = value[0, -1], value[-1, 0]
    upper = value == upper_value
    if upper_value == lower_value or (upper_value != upper_value):
        return None
    k = int(np.argmax(upper[0]))
    if not upper[0, k]:
        return None
    expected = np.triu(np.ones(value.shape, dtype=np.bool_), k)
    if not (np.array_equal(upper, expected) and (value[~expected] == lower_value).all()):
        return None
    return k, upper_value, lower_value


class Graph:
    def __init__(self, onnx, trace, trace2, opset: int, param_names: dict, export_params=True):
        self.onnx = onnx
        self.helper = onnx.helper
        self.trace, self.trace2 = trace, trace2
        self.opset = opset
        self.param_names = param_names
        self.export_params = export_params
        self.nodes: list = []
        self.initializers: dict = {}     # name -> array
        self.names: dict = {}            # vid -> onnx name
        self.used: set = set()
        self.transposed_of: dict = {}    # vid of a 2-d transpose -> vid of its input
        self.call = None
        self._counter = 0
        self._const_cache: dict = {}

    # ---------------------------------------------------------------- names
    def fresh(self, base: str) -> str:
        name = base
        while name in self.used:
            self._counter += 1
            name = f"{base}_{self._counter}"
        self.used.add(name)
        return name

    def name(self, ref) -> str:
        vid = ref.vid if isinstance(ref, Ref) else ref
        name = self.names.get(vid)
        if name is not None:
            return name
        kind = self.trace.kinds[vid]
        if kind[0] == "param":
            name = self.fresh(kind[1])
            self.initializers[name] = self.trace.values[vid]
        elif kind[0] == "const":
            name = self._sized_constant(vid)
            if name is None:
                name = self.fresh(f"onnx::Constant_{vid}")
                self.initializers[name] = self.trace.values[vid]
        elif kind[0] == "unsupported":
            raise kind[1]
        else:
            op = self.call.op_name if self.call is not None else "?"
            raise OnnxExporterError(
                f"dark.onnx.export: a value used by {op} was made by an op whose output has "
                f"no ONNX mapping (value {vid}, {kind})")
        self.names[vid] = name
        return name

    def _sized_constant(self, vid):
        """A constant whose shape follows the dynamic axes (dark.ones(n, n), arange(n) made
        from sizes in python): ConstantOfShape or Range of sizes read at run time; None for
        a constant of fixed shape."""
        if self.trace2 is None or vid >= len(self.trace2.values):
            return None
        value, other = self.trace.values[vid], self.trace2.values[vid]
        if value.shape == other.shape:
            return None
        flat = value.reshape(-1)
        if value.size and (flat == flat[0]).all():
            shape = self.sized_ints(value.shape, other.shape)
            fill = self.helper.make_tensor("value", self.helper.np_dtype_to_tensor_dtype(
                value.dtype), [1], [flat[0].item()])
            return self.node("ConstantOfShape", [shape], value=fill)
        if value.ndim == 1 and value.size > 1:
            step = flat[1] - flat[0]
            if np.array_equal(flat, flat[0] + step * np.arange(value.size, dtype=value.dtype)):
                size = self.sized_ints(value.shape, other.shape)
                start = self.const(np.asarray(flat[0]))
                delta = self.const(np.asarray(step, dtype=value.dtype))
                length = self.cast(self.node("Squeeze", [size, self.ints([0])]), np.int64,
                                   value.dtype)
                limit = self.node("Add", [start, self.node("Mul", [length, delta])])
                return self.node("Range", [start, limit, delta])
        triangle = _triangle(value)
        if triangle is not None and other.ndim == 2:
            k, upper, lower = triangle
            shape = self.sized_ints(value.shape, other.shape)
            one = self.helper.make_tensor("value", self.onnx.TensorProto.FLOAT, [1], [1.0])
            ones = self.node("ConstantOfShape", [shape], value=one)
            band = self.node("Trilu", [ones, self.const(np.asarray(k, np.int64))], upper=1)
            where = self.cast(band, np.float32, np.bool_)
            if value.dtype == np.bool_:
                return where if upper else self.node("Not", [where])
            return self.node("Where", [where, self.const(np.asarray(upper)),
                                       self.const(np.asarray(lower))])
        op = self.call.op_name if self.call is not None else "?"
        raise OnnxExporterError(
            f"dark.onnx.export: a tensor made in python with a shape that follows a dynamic "
            f"axis ({tuple(value.shape)}, then {tuple(other.shape)}), used by {op} in "
            f"'{self.call.path if self.call is not None else ''}', is neither constant-filled "
            f"nor a range: it cannot follow the axis in the ONNX graph")

    def value(self, ref):
        return self.trace.values[ref.vid if isinstance(ref, Ref) else ref]

    def shape(self, ref) -> tuple:
        return tuple(self.value(ref).shape)

    def dtype(self, ref):
        return self.value(ref).dtype

    # ---------------------------------------------------------------- building
    def const(self, array, base: str = "const") -> str:
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 16 else None
        if key is not None and key in self._const_cache:
            return self._const_cache[key]
        name = self.fresh(f"onnx::{base}")
        self.initializers[name] = array
        if key is not None:
            self._const_cache[key] = name
        return name

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), "ints")

    def node(self, op_type: str, inputs, n_out: int = 1, **attrs):
        prefix = self.call.path if self.call is not None and self.call.path else ""
        base = f"/{prefix.replace('.', '/')}/{op_type}" if prefix else f"/{op_type}"
        outputs = [self.fresh(f"{base}_output_{i}") for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outputs,
                                                name=self.fresh(base), **attrs))
        return outputs[0] if n_out == 1 else outputs

    def cast(self, name: str, from_dtype, to_dtype) -> str:
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.node("Cast", [name], to=self.helper.np_dtype_to_tensor_dtype(
            np.dtype(to_dtype)))

    def operand(self, item, dtype) -> str:
        """A tensor operand (cast to ``dtype``) or a python number as a ``dtype`` constant."""
        if isinstance(item, Ref):
            return self.cast(self.name(item), self.dtype(item), dtype)
        return self.const(np.asarray(item, dtype=dtype))

    # ---------------------------------------------------------------- dynamic ints
    def _second(self, which: str):
        """The same attribute of the current call in the second run (None: no second run)."""
        if self.trace2 is None:
            return None
        call2 = self.trace2.calls[self.call_index]
        if which.startswith("arg"):
            return call2.args[int(which[3:])]
        return call2.kwargs.get(which)

    def dyn_ints(self, values, which: str, minus_one: bool = False) -> str:
        """An int64 vector for the ints ``values`` of attribute ``which`` of the current call,
        with the entries that depend on dynamic axes read from shapes at run time (or -1,
        when ``minus_one`` and only one entry does)."""
        return self.sized_ints(values, self._second(which), minus_one)

    def sized_ints(self, values, other, minus_one: bool = False) -> str:
        """dyn_ints with the second run's ints given (None: the same)."""
        values = [int(v) for v in values]
        other = values if other is None else [int(v) for v in other]
        diffs = [i for i, (a, b) in enumerate(zip(values, other)) if a != b]
        if not diffs:
            return self.ints(values)
        if minus_one and len(diffs) == 1 and -1 not in values:
            return self.ints([-1 if i == diffs[0] else v for i, v in enumerate(values)])
        sources, unresolved = {}, []
        for i in diffs:
            sources[i] = self._size_source(values[i], other[i])
            if sources[i] is None:
                unresolved.append(i)
        if unresolved and not (minus_one and len(unresolved) == 1 and -1 not in values):
            i = unresolved[0]
            raise OnnxExporterError(
                f"dark.onnx.export: {self.call.op_name} (called in "
                f"'{self.call.path or '<top>'}') uses the size {values[i]} that depends on a "
                f"dynamic axis, and no value of the graph has that size to read it from")
        pieces = []
        run: list = []
        for i, v in enumerate(values):
            if i not in sources:
                run.append(v)
                continue
            if run:
                pieces.append(self.ints(run))
                run = []
            if sources[i] is None:
                pieces.append(self.ints([-1]))
            else:
                pieces.append(self.dim(*sources[i]))
        if run:
            pieces.append(self.ints(run))
        return pieces[0] if len(pieces) == 1 else self.node("Concat", pieces, axis=0)

    def _size_source(self, size1: int, size2: int):
        """(name, dim) of a defined value with size1 / size2 at dim in the two runs."""
        candidates = list(self.trace.inputs) + [v for v in self.names if v not in
                                                 self.trace.inputs]
        for vid in candidates:
            if vid not in self.names:
                continue
            if vid >= len(self.trace2.values):
                continue
            s1, s2 = self.trace.values[vid].shape, self.trace2.values[vid].shape
            for d, (a, b) in enumerate(zip(s1, s2)):
                if a == size1 and b == size2:
                    return self.names[vid], d
        return None

    def dim(self, name: str, d: int) -> str:
        """A 1-element int64 vector: the size of dim ``d`` of ``name`` at run time."""
        if self.opset >= 15:
            return self.node("Shape", [name], start=d, end=d + 1)
        shape = self.node("Shape", [name])
        return self.node("Gather", [shape, self.ints([d])], axis=0)

    # ---------------------------------------------------------------- common pieces
    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """Reduce* over ``axes`` (None: all); axes are an input from opset 18 (ReduceSum 13)."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], keepdims=keep)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=axes, keepdims=keep)

    def squeeze(self, x: str, axes) -> str:
        return self.node("Squeeze", [x, self.ints(axes)])

    def unsqueeze(self, x: str, axes) -> str:
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def transpose(self, x: str, perm) -> str:
        return self.node("Transpose", [x], perm=[int(p) for p in perm])

    def slice(self, x: str, starts, ends, axes, steps=None) -> str:
        inputs = [x, self.ints(starts), self.ints(ends), self.ints(axes)]
        if steps is not None:
            inputs.append(self.ints(steps))
        return self.node("Slice", inputs)
