"""The ONNX form of each dark op class: one small function per op class (by class name),
``symbolic(g, call)`` returning the ONNX name of each output (dark.onnx._graph.Graph builds
the nodes). The attributes are those of the op's ``forward`` (dark/ops/*.py,
dark/nn/functional/*.py)."""
from __future__ import annotations

import math

import numpy as np

from ._graph import OnnxExporterError, UnsupportedOperatorError
from ._trace import Ref, _host

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

SYMBOLICS: dict = {}


def register(*names):
    def decorate(function):
        for name in names:
            SYMBOLICS[name] = function
        return function
    return decorate


def _unsupported(c, what: str):
    return UnsupportedOperatorError(
        f"dark.onnx.export: {c.op_name} with {what} has no ONNX mapping (called in module "
        f"'{c.path or '<top>'}')")


def _x(g, c, i=0) -> str:
    return g.name(c.args[i])


def _array(g, value) -> str:
    """The name of an array operand given as a keyword (recorded as a Ref)."""
    return g.name(value if isinstance(value, Ref) else g.trace.lookup_array(value))


def _out_dtype(g, c, i=0):
    return g.trace.values[c.outs[i]].dtype


def _out_shape(g, c, i=0):
    return g.trace.values[c.outs[i]].shape


# ----------------------------------------------------------------------------- elementwise

def _binary(op_type):
    def symbolic(g, c):
        dtype = _out_dtype(g, c)
        return g.node(op_type, [g.operand(c.args[0], dtype), g.operand(c.args[1], dtype)])
    return symbolic


for _name, _type in (("Mul", "Mul"), ("Div", "Div"), ("Maximum", "Max"), ("Minimum", "Min"),
                     ("PowTensor", "Pow"), ("Atan2", None)):
    if _type is not None:
        register(_name)(_binary(_type))


def _scaled(g, item, alpha, dtype):
    name = g.operand(item, dtype)
    if alpha != 1:
        name = g.node("Mul", [name, g.const(np.asarray(alpha, dtype=dtype))])
    return name


@register("Add")
def _add(g, c):
    dtype = _out_dtype(g, c)
    alpha = c.kwargs.get("alpha", 1)
    return g.node("Add", [g.operand(c.args[0], dtype), _scaled(g, c.args[1], alpha, dtype)])


@register("Sub")
def _sub(g, c):
    dtype = _out_dtype(g, c)
    alpha = c.kwargs.get("alpha", 1)
    return g.node("Sub", [g.operand(c.args[0], dtype), _scaled(g, c.args[1], alpha, dtype)])


@register("Rsub")
def _rsub(g, c):
    dtype = _out_dtype(g, c)
    alpha = c.kwargs.get("alpha", 1)
    return g.node("Sub", [g.operand(c.args[1], dtype), _scaled(g, c.args[0], alpha, dtype)])


@register("RsubScalar")
def _rsub_scalar(g, c):
    dtype = _out_dtype(g, c)
    alpha = c.kwargs.get("alpha", 1)
    return g.node("Sub", [g.operand(c.kwargs.get("other", 0), dtype),
                          _scaled(g, c.args[0], alpha, dtype)])


@register("Pow")
def _pow(g, c):
    dtype = _out_dtype(g, c)
    exponent = c.kwargs.get("exponent", 1)
    x = g.operand(c.args[0], dtype)
    if exponent == 2:
        return g.node("Mul", [x, x])
    if exponent == 0.5:
        return g.node("Sqrt", [x])
    return g.node("Pow", [x, g.operand(exponent, dtype)])


@register("PowScalar")
def _pow_scalar(g, c):
    dtype = _out_dtype(g, c)
    return g.node("Pow", [g.operand(c.kwargs.get("base", 1), dtype), g.operand(c.args[0], dtype)])


_UNARY = {"Abs": "Abs", "Sqrt": "Sqrt", "Exp": "Exp", "Log": "Log", "Tanh": "Tanh",
          "Sigmoid": "Sigmoid", "Relu": "Relu", "Reciprocal": "Reciprocal", "Neg": "Neg",
          "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos",
          "Atan": "Atan", "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh",
          "Atanh": "Atanh", "Erf": "Erf", "Floor": "Floor", "Ceil": "Ceil", "Sign": "Sign",
          "LogicalNot": "Not", "IsNan": "IsNaN", "IsInf": "IsInf", "Clone": "Identity",
          "Contiguous": "Identity", "Alias": "Identity", "Detach": "Identity"}


def _unary(op_type):
    def symbolic(g, c):
        dtype = _out_dtype(g, c)
        x = c.args[0]
        if op_type in ("Not", "IsNaN", "IsInf"):
            return g.node(op_type, [g.name(x)])
        return g.node(op_type, [g.operand(x, dtype)])
    return symbolic


for _name, _type in _UNARY.items():
    register(_name)(_unary(_type))


@register("Rsqrt")
def _rsqrt(g, c):
    return g.node("Reciprocal", [g.node("Sqrt", [g.operand(c.args[0], _out_dtype(g, c))])])


@register("Log1P")
def _log1p(g, c):
    dtype = _out_dtype(g, c)
    return g.node("Log", [g.node("Add", [g.operand(c.args[0], dtype), g.operand(1, dtype)])])


@register("Expm1")
def _expm1(g, c):
    dtype = _out_dtype(g, c)
    return g.node("Sub", [g.node("Exp", [g.operand(c.args[0], dtype)]), g.operand(1, dtype)])


@register("Square")
def _square(g, c):
    x = g.operand(c.args[0], _out_dtype(g, c))
    return g.node("Mul", [x, x])


_COMPARE = {"Eq": "Equal", "Lt": "Less", "Le": "LessOrEqual", "Gt": "Greater",
            "Ge": "GreaterOrEqual", "Ne": None, "LogicalAnd": "And", "LogicalOr": "Or",
            "LogicalXor": "Xor"}


def _compare(name):
    def symbolic(g, c):
        a, b = c.args[0], c.args[1]
        dtypes = [g.dtype(v) for v in (a, b) if isinstance(v, Ref)]
        dtype = np.result_type(*dtypes) if dtypes else np.float32
        if name.startswith("Logical"):
            dtype = np.bool_
        operands = [g.operand(a, dtype), g.operand(b, dtype)]
        if name == "Ne":
            return g.node("Not", [g.node("Equal", operands)])
        return g.node(_COMPARE[name], operands)
    return symbolic


for _name in _COMPARE:
    register(_name)(_compare(_name))


@register("ClampScalar", "ClampMin", "ClampMax")
def _clamp(g, c):
    dtype = _out_dtype(g, c)
    low, high = c.kwargs.get("min"), c.kwargs.get("max")
    inputs = [g.operand(c.args[0], dtype), "" if low is None else g.operand(low, dtype)]
    if high is not None:
        inputs.append(g.operand(high, dtype))
    return g.node("Clip", inputs)


@register("ClampTensor")
def _clamp_tensor(g, c):
    dtype = _out_dtype(g, c)
    out = g.operand(c.args[0], dtype)
    if c.args[1] is not None:
        out = g.node("Max", [out, g.operand(c.args[1], dtype)])
    if c.args[2] is not None:
        out = g.node("Min", [out, g.operand(c.args[2], dtype)])
    return out


@register("Where")
def _where(g, c):
    dtype = _out_dtype(g, c)
    condition = _array(g, c.kwargs["condition"])
    return g.node("Where", [condition, g.operand(c.args[0], dtype), g.operand(c.args[1], dtype)])


@register("MaskedFill", "MaskedFillTensor")
def _masked_fill(g, c):
    dtype = _out_dtype(g, c)
    mask = _array(g, c.kwargs["mask"])
    value = c.args[1] if len(c.args) > 1 else c.kwargs.get("value")
    return g.node("Where", [mask, g.operand(value, dtype), g.operand(c.args[0], dtype)])


@register("ToCopy")
def _to_copy(g, c):
    x = c.args[0]
    return g.node("Identity", [g.cast(g.name(x), g.dtype(x), _out_dtype(g, c))])


# ----------------------------------------------------------------------------- activations

@register("LeakyRelu")
def _leaky_relu(g, c):
    return g.node("LeakyRelu", [_x(g, c)], alpha=float(c.kwargs["negative_slope"]))


@register("Hardtanh")
def _hardtanh(g, c):
    dtype = _out_dtype(g, c)
    return g.node("Clip", [_x(g, c), g.operand(c.kwargs["min_val"], dtype),
                           g.operand(c.kwargs["max_val"], dtype)])


@register("Threshold")
def _threshold(g, c):
    dtype = _out_dtype(g, c)
    x = _x(g, c)
    above = g.node("Greater", [x, g.operand(c.kwargs["threshold"], dtype)])
    return g.node("Where", [above, x, g.operand(c.kwargs["value"], dtype)])


@register("Elu", "Celu")
def _elu(g, c):
    alpha, scale = float(c.kwargs["alpha"]), float(c.kwargs["scale"])
    input_scale = float(c.kwargs["input_scale"])
    x = _x(g, c)
    if scale == 1.0 and input_scale == 1.0:
        return g.node("Elu", [x], alpha=alpha)
    if input_scale == 1.0 and math.isclose(alpha, 1.6732632423543772) and math.isclose(
            scale, 1.0507009873554805):
        return g.node("Selu", [x], alpha=alpha, gamma=scale)
    if scale == 1.0 and math.isclose(input_scale * alpha, 1.0):
        return g.node("Celu", [x], alpha=alpha)
    dtype = _out_dtype(g, c)
    negative = g.node("Mul", [g.node("Sub", [g.node("Exp", [g.node("Mul", [
        g.node("Min", [x, g.operand(0, dtype)]), g.operand(input_scale, dtype)])]),
        g.operand(1, dtype)]), g.operand(alpha * scale, dtype)])
    positive = g.node("Mul", [x, g.operand(scale, dtype)])
    return g.node("Where", [g.node("Greater", [x, g.operand(0, dtype)]), positive, negative])


@register("Gelu")
def _gelu(g, c):
    x = _x(g, c)
    approximate = c.kwargs.get("approximate", "none")
    if g.opset >= 20:
        return g.node("Gelu", [x], approximate=approximate)
    dtype = _out_dtype(g, c)
    if approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Mul", [g.node("Add", [x, g.node("Mul", [cube, g.operand(
            0.044715, dtype)])]), g.operand(math.sqrt(2 / math.pi), dtype)])
        factor = g.node("Add", [g.node("Tanh", [inner]), g.operand(1, dtype)])
    else:
        factor = g.node("Add", [g.node("Erf", [g.node("Div", [x, g.operand(
            math.sqrt(2.0), dtype)])]), g.operand(1, dtype)])
    return g.node("Mul", [g.node("Mul", [x, factor]), g.operand(0.5, dtype)])


@register("Silu")
def _silu(g, c):
    x = _x(g, c)
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def _softplus_of(g, x, dtype, beta, threshold):
    scaled = x if beta == 1 else g.node("Mul", [x, g.operand(beta, dtype)])
    soft = g.node("Softplus", [scaled])
    if beta != 1:
        soft = g.node("Div", [soft, g.operand(beta, dtype)])
    above = g.node("Greater", [scaled, g.operand(threshold, dtype)])
    return g.node("Where", [above, x, soft])


@register("Softplus")
def _softplus(g, c):
    return _softplus_of(g, _x(g, c), _out_dtype(g, c), float(c.kwargs.get("beta", 1.0)),
                        float(c.kwargs.get("threshold", 20.0)))


@register("Mish")
def _mish(g, c):
    x = _x(g, c)
    return g.node("Mul", [x, g.node("Tanh", [_softplus_of(g, x, _out_dtype(g, c), 1.0,
                                                          20.0)])])


@register("LogSigmoid")
def _log_sigmoid(g, c):
    x = _x(g, c)
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [x])])])


@register("Hardsigmoid")
def _hardsigmoid(g, c):
    return g.node("HardSigmoid", [_x(g, c)], alpha=1.0 / 6, beta=0.5)


@register("Hardswish")
def _hardswish(g, c):
    return g.node("HardSwish", [_x(g, c)])


@register("Softshrink", "Hardshrink")
def _shrink(g, c):
    lambd = float(c.kwargs.get("lambd", 0.5))
    bias = lambd if c.op_name == "Softshrink" else 0.0
    return g.node("Shrink", [_x(g, c)], lambd=lambd, bias=bias)


@register("Softmax", "LogSoftmax")
def _softmax(g, c):
    x = c.args[0]
    axis = c.kwargs["axis"]
    if len(g.shape(x)) == 0:
        dtype = _out_dtype(g, c)
        value = 0.0 if c.op_name == "LogSoftmax" else 1.0
        return g.node("Add", [g.node("Mul", [g.name(x), g.operand(0, dtype)]),
                              g.operand(value, dtype)])
    return g.node(c.op_name, [g.name(x)], axis=int(axis))


# ----------------------------------------------------------------------------- linear algebra

@register("TransposeMatrix")
def _transpose_matrix(g, c):
    x = c.args[0]
    g.transposed_of[c.outs[0]] = x.vid
    if len(g.shape(x)) < 2:
        return g.node("Identity", [g.name(x)])
    return g.transpose(g.name(x), [1, 0])


@register("_Addmm")
def _addmm(g, c):
    bias, x, weight_t = c.args
    source = g.transposed_of.get(weight_t.vid)
    if source is not None:
        return g.node("Gemm", [g.name(x), g.name(source), g.name(bias)], transB=1)
    return g.node("Gemm", [g.name(x), g.name(weight_t), g.name(bias)])


@register("MatMul", "Mm", "Bmm", "Mv", "Dot", "VecMat")
def _matmul(g, c):
    a, b = g.name(c.args[0]), g.name(c.args[1])
    if c.kwargs.get("transpose_a"):
        n = len(g.shape(c.args[0]))
        a = g.transpose(a, list(range(n - 2)) + [n - 1, n - 2])
    if c.kwargs.get("transpose_b"):
        n = len(g.shape(c.args[1]))
        b = g.transpose(b, list(range(n - 2)) + [n - 1, n - 2])
    return g.node("MatMul", [a, b])


# ----------------------------------------------------------------------------- shapes

@register("Reshape", "View", "UnsafeView", "_SqueezeRow", "ViewAsReshape")
def _reshape(g, c):
    x = c.args[0]
    shape_in, shape_out = g.shape(x), tuple(_out_shape(g, c))
    if shape_in == shape_out:
        return g.node("Identity", [g.name(x)])
    if len(shape_out) == 2 and len(shape_in) >= 2:
        # flatten(start_dim) to 2-d: ONNX Flatten, whatever the sizes at run time
        other, other_in = _second_out_shape(g, c), _second_in_shape(g, c)
        for k in range(1, len(shape_in)):
            ok = (math.prod(shape_in[:k]), math.prod(shape_in[k:])) == shape_out
            if ok and other is not None:
                ok = (math.prod(other_in[:k]), math.prod(other_in[k:])) == other
            if ok:
                return g.node("Flatten", [g.name(x)], axis=k)
    target = g.dyn_ints(c.kwargs["shape"], "shape", minus_one=True)
    return g.node("Reshape", [g.name(x), target])


def _second_out_shape(g, c, i=0):
    if g.trace2 is None:
        return None
    return tuple(g.trace2.values[c.outs[i]].shape)


def _second_in_shape(g, c, i=0):
    if g.trace2 is None:
        return None
    return tuple(g.trace2.values[c.args[i].vid].shape)


@register("Squeeze", "SqueezeDim", "SqueezeDims")
def _squeeze(g, c):
    x = c.args[0]
    shape = g.shape(x)
    dims = c.kwargs.get("dims")
    if dims is None:
        dims = [d for d, n in enumerate(shape) if n == 1]
    dims = [d % max(len(shape), 1) for d in dims if len(shape) and shape[d] == 1]
    if not dims:
        return g.node("Identity", [g.name(x)])
    return g.squeeze(g.name(x), dims)


@register("Unsqueeze")
def _unsqueeze(g, c):
    return g.unsqueeze(_x(g, c), [int(c.kwargs["dim"])])


@register("Permute")
def _permute(g, c):
    n = len(g.shape(c.args[0]))
    return g.transpose(_x(g, c), [d % n for d in c.kwargs["dims"]])


@register("Transpose")
def _transpose(g, c):
    n = len(g.shape(c.args[0]))
    if n == 0:
        return g.node("Identity", [_x(g, c)])
    perm = list(range(n))
    d0, d1 = c.kwargs["dim0"] % n, c.kwargs["dim1"] % n
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return g.transpose(_x(g, c), perm)


@register("Expand")
def _expand(g, c):
    x = c.args[0]
    shape_in = g.shape(x)
    target = list(c.kwargs["shape"])
    other = g._second("shape")
    other = list(target if other is None else other)
    lead = len(target) - len(shape_in)
    values, values2 = [], []
    for i, (a, b) in enumerate(zip(target, other)):
        # a kept dim (same size as the input's) broadcasts from 1: no size to bake
        if i >= lead and shape_in[i - lead] == a and (
                g.trace2 is None or g.trace2.values[x.vid].shape[i - lead] == b):
            values.append(1)
            values2.append(1)
        else:
            values.append(a)
            values2.append(b)
    shape = g.sized_ints(values, values2 if g.trace2 is not None else None)
    return g.node("Expand", [g.name(x), shape])


@register("Repeat")
def _repeat(g, c):
    x = c.args[0]
    repeats = list(c.kwargs["repeats"])
    name = g.name(x)
    extra = len(repeats) - len(g.shape(x))
    if extra > 0:
        name = g.unsqueeze(name, list(range(extra)))
    return g.node("Tile", [name, g.ints(repeats)])


@register("Cat")
def _cat(g, c):
    dtype = _out_dtype(g, c)
    kept = c.kwargs["kept"]
    inputs = [g.operand(c.args[i], dtype) for i in kept]
    axis = int(c.kwargs["dim"])
    if len(inputs) == 1:
        return g.node("Identity", inputs)
    return g.node("Concat", inputs, axis=axis)


@register("Stack")
def _stack(g, c):
    dtype = _out_dtype(g, c)
    axis = int(c.kwargs["dim"])
    inputs = [g.unsqueeze(g.operand(a, dtype), [axis]) for a in c.args]
    return inputs[0] if len(inputs) == 1 else g.node("Concat", inputs, axis=axis)


@register("Split", "SplitWithSizes")
def _split(g, c):
    x = c.args[0]
    axis = int(c.kwargs["dim"]) % len(g.shape(x))
    sizes = list(c.kwargs["sizes"])
    if len(sizes) == 1:
        return [g.node("Identity", [g.name(x)])]
    split = g.dyn_ints(sizes, "sizes")
    return g.node("Split", [g.name(x), split], n_out=len(sizes), axis=axis)


@register("Unbind")
def _unbind(g, c):
    x = c.args[0]
    axis = int(c.kwargs["dim"]) % len(g.shape(x))
    n = g.shape(x)[axis]
    if n == 1:
        return [g.squeeze(g.name(x), [axis])]
    parts = g.node("Split", [g.name(x), g.ints([1] * n)], n_out=n, axis=axis)
    return [g.squeeze(p, [axis]) for p in parts]


@register("Narrow")
def _narrow(g, c):
    x = c.args[0]
    dim, start, length = c.kwargs["dim"], int(c.kwargs["start"]), int(c.kwargs["length"])
    end = start + length
    if end == g.shape(x)[dim] and (g.trace2 is None or _second_in_shape(g, c)[dim] == (
            int(g._second("start")) + int(g._second("length")))):
        end = INT64_MAX
    return g.slice(g.name(x), [start], [end], [dim])


@register("Flip")
def _flip(g, c):
    dims = list(c.kwargs["dims"])
    return g.slice(_x(g, c), [-1] * len(dims), [INT64_MIN] * len(dims), dims, [-1] * len(dims))


@register("Tril", "Triu")
def _tril(g, c):
    diagonal = g.const(np.asarray(int(c.kwargs.get("diagonal", 0)), np.int64))
    return g.node("Trilu", [_x(g, c), diagonal], upper=int(c.op_name == "Triu"))


@register("ConstantPadNd")
def _pad(g, c):
    x = c.args[0]
    n = len(g.shape(x))
    widths = list(c.kwargs["widths"])
    begins = [0] * (n - len(widths)) + [int(a) for a, _ in widths]
    ends = [0] * (n - len(widths)) + [int(b) for _, b in widths]
    dtype = _out_dtype(g, c)
    return g.node("Pad", [g.name(x), g.ints(begins + ends),
                          g.const(np.asarray(c.kwargs.get("value", 0), dtype=dtype))],
                  mode="constant")


# ----------------------------------------------------------------------------- indexing

def _region_keys(view):
    keys = []
    while view is not None:
        keys.append(view.key if isinstance(view.key, tuple) else (view.key,))
        view = view.parent
    return keys[::-1]


@register("Index", "Select", "Slice", "IndexSelect", "AdvancedIndex")
def _index(g, c):
    x = c.args[0]
    name = g.name(x)
    shape = list(g.shape(x))
    view, key = c.kwargs.get("view"), c.kwargs.get("key")
    if view is not None:
        keys = _region_keys(view)
        view2 = g._second("view")
        keys2 = _region_keys(view2) if view2 is not None else [None] * len(keys)
        if len(keys2) != len(keys):
            keys2 = [None] * len(keys)
        for basic, basic2 in zip(keys, keys2):
            name, shape = _basic_index(g, c, name, shape, basic, basic2)
    if key is not None:
        name = _advanced_index(g, c, name, shape, key)
    return name


def _expand_key(key, ndim):
    n_index = sum(1 for k in key if k is not None and k is not Ellipsis)
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded.extend([slice(None)] * (ndim - n_index))
        else:
            expanded.append(k)
    expanded.extend([slice(None)] * (ndim - sum(1 for k in expanded if k is not None)))
    return expanded


def _bounds(k):
    step = 1 if k.step is None else int(k.step)
    start = 0 if k.start is None else int(k.start)
    stop = INT64_MAX if k.stop is None else int(k.stop)
    return start, stop, step


def _basic_index(g, c, name, shape, key, key2=None):
    """A basic-indexing key: Slice (its bounds read from shapes where they follow a dynamic
    axis: ``pe[:x.size(0)]``), Gather of ints, Unsqueeze of Nones."""
    expanded = _expand_key(key, len(shape))
    expanded2 = _expand_key(key2, len(shape)) if key2 is not None else expanded
    if len(expanded2) != len(expanded):
        expanded2 = expanded
    starts, ends, starts2, ends2, axes, steps, gathers, news = [], [], [], [], [], [], [], []
    dim, out_dim = 0, 0
    for k, k2 in zip(expanded, expanded2):
        if k is None:
            news.append(out_dim)
            out_dim += 1
            continue
        if isinstance(k, slice):
            start, stop, step = _bounds(k)
            start2, stop2, _ = _bounds(k2) if isinstance(k2, slice) else (start, stop, step)
            if step <= 0:
                raise _unsupported(c, "a slice step that is not positive")
            if (start, stop, step, start2, stop2) != (0, INT64_MAX, 1, 0, INT64_MAX):
                starts.append(start)
                ends.append(stop)
                starts2.append(start2)
                ends2.append(stop2)
                axes.append(dim)
                steps.append(step)
            out_dim += 1
        elif isinstance(k, (int, np.integer)):
            gathers.append((dim, int(k)))
        else:
            raise _unsupported(c, f"an index of type {type(k).__name__}")
        dim += 1
    if axes:
        name = g.node("Slice", [name, g.sized_ints(starts, starts2), g.sized_ints(ends, ends2),
                                g.ints(axes), g.ints(steps)])
    for d, i in reversed(gathers):
        name = g.node("Gather", [name, g.const(np.asarray(i, dtype=np.int64))], axis=d)
    if news:
        name = g.unsqueeze(name, news)
    # the shape of the view (for the next key of a chain), from a zero-stride array
    probe = np.lib.stride_tricks.as_strided(np.zeros(1, np.bool_), tuple(shape),
                                            (0,) * len(shape))
    return name, list(probe[tuple(expanded)].shape)


def _advanced_index(g, c, name, shape, key):
    key = key if isinstance(key, tuple) else (key,)
    arrays = [(d, k) for d, k in enumerate(key) if not isinstance(k, slice)]
    if len(arrays) != 1 or any(k != slice(None) for k in key if isinstance(k, slice)):
        raise _unsupported(c, "advanced indexing by more than one index tensor")
    d, index = arrays[0]
    index_name = g.name(g.trace.lookup_array(index))
    if np.asarray(g.trace.values[g.trace.lookup_array(index)]).dtype == np.bool_:
        raise _unsupported(c, "a boolean mask index")
    return g.node("Gather", [name, index_name], axis=d)


@register("_Embedding")
def _embedding(g, c):
    weight = c.args[0]
    indices = _array(g, c.kwargs["indices"])
    return g.node("Gather", [g.name(weight), indices], axis=0)


# ----------------------------------------------------------------------------- reductions

def _dims(g, x, dims):
    n = len(g.shape(x))
    if dims is None or n == 0:
        return None
    return [d % n for d in (dims if isinstance(dims, (tuple, list)) else (dims,))]


def _reduction(op_type):
    def symbolic(g, c):
        x = c.args[0]
        dtype = _out_dtype(g, c)
        name = g.operand(x, dtype)
        if len(g.shape(x)) == 0:
            return g.node("Identity", [name])
        return g.reduce(op_type, name, _dims(g, x, c.kwargs.get("dims")),
                        c.kwargs.get("keepdim", False))
    return symbolic


for _name, _type in (("Sum", "ReduceSum"), ("Mean", "ReduceMean"), ("Prod", "ReduceProd"),
                     ("Amax", "ReduceMax"), ("Amin", "ReduceMin"),
                     ("Logsumexp", "ReduceLogSumExp")):
    register(_name)(_reduction(_type))


@register("Max", "Min")
def _max_dim(g, c):
    x = c.args[0]
    axis, keepdim = c.kwargs["axis"], bool(c.kwargs["keepdim"])
    if axis is None:
        return [g.node("Identity", [g.name(x)]), g.const(np.zeros((), np.int64))]
    axis = axis % len(g.shape(x))
    values = g.reduce("ReduceMax" if c.op_name == "Max" else "ReduceMin", g.name(x), [axis],
                      keepdim)
    indices = g.node("ArgMax" if c.op_name == "Max" else "ArgMin", [g.name(x)], axis=axis,
                     keepdims=int(keepdim), select_last_index=0)
    return [values, indices]


@register("Argmax", "Argmin")
def _argmax(g, c):
    x = c.args[0]
    axis, keepdim = c.kwargs["axis"], bool(c.kwargs["keepdim"])
    name = g.name(x)
    op_type = "ArgMax" if c.op_name == "Argmax" else "ArgMin"
    if axis is None:
        flat = g.node("Reshape", [name, g.ints([-1])])
        out = g.node(op_type, [flat], axis=0, keepdims=0)
        if keepdim:
            out = g.node("Reshape", [out, g.ints([1] * len(g.shape(x)))])
        return out
    return g.node(op_type, [name], axis=axis % len(g.shape(x)), keepdims=int(keepdim))


@register("Var", "Std")
def _var(g, c):
    x = c.args[0]
    dtype = _out_dtype(g, c)
    shape = g.shape(x)
    dims = c.kwargs["dims"]
    dims = list(range(len(shape))) if dims is None else [d % len(shape) for d in dims]
    count = math.prod(shape[d] for d in dims)
    name = g.name(x)
    mean = g.reduce("ReduceMean", name, dims, True)
    centered = g.node("Sub", [name, mean])
    total = g.reduce("ReduceSum", g.node("Mul", [centered, centered]), dims,
                     c.kwargs["keepdim"])
    out = g.node("Div", [total, g.operand(max(count - c.kwargs["correction"], 0), dtype)])
    return g.node("Sqrt", [out]) if c.op_name == "Std" else out


@register("Cumsum")
def _cumsum(g, c):
    x = c.args[0]
    dtype = _out_dtype(g, c)
    return g.node("CumSum", [g.operand(x, dtype), g.const(np.asarray(c.kwargs["axis"],
                                                                    np.int64))])


@register("VectorNorm", "Norm")
def _norm(g, c):
    x = c.args[0]
    order = c.kwargs.get("ord", c.kwargs.get("p", 2))
    dims = c.kwargs.get("dims")
    keepdim = c.kwargs.get("keepdim", False)
    op_type = {2: "ReduceL2", 1: "ReduceL1"}.get(order)
    if op_type is None:
        raise _unsupported(c, f"order {order}")
    return g.reduce(op_type, g.name(x), _dims(g, x, dims), keepdim)


# ----------------------------------------------------------------------------- nn

def _check_same_pads(c, padding):
    if isinstance(padding, str):
        raise _unsupported(c, f"padding='{padding}'")
    return [int(p) for p in padding] * 2


@register("Convolution")
def _conv(g, c):
    x, weight = c.args[0], c.args[1]
    bias = c.args[2] if len(c.args) > 2 else c.kwargs.get("bias")
    k = c.kwargs
    inputs = [g.name(x), g.name(weight)]
    if isinstance(bias, Ref):
        inputs.append(g.name(bias))
    kernel = list(g.shape(weight)[2:])
    return g.node("Conv", inputs, kernel_shape=kernel, strides=list(k.get("stride", (1,))),
                  pads=_check_same_pads(c, k.get("padding", (0,))),
                  dilations=list(k.get("dilation", (1,))), group=int(k.get("groups", 1)))


@register("ConvTranspose")
def _conv_transpose(g, c):
    x, weight = c.args[0], c.args[1]
    bias = c.args[2] if len(c.args) > 2 else c.kwargs.get("bias")
    k = c.kwargs
    inputs = [g.name(x), g.name(weight)]
    if isinstance(bias, Ref):
        inputs.append(g.name(bias))
    kernel = list(g.shape(weight)[2:])
    stride, padding = list(k.get("stride", (1,))), list(k.get("padding", (0,)))
    dilation = list(k.get("dilation", (1,)))
    spatial_in = g.shape(x)[2:]
    output_padding = [int(o - ((i - 1) * s - 2 * p + d * (kk - 1) + 1)) for o, i, s, p, d, kk in
                      zip(k["spatial"], spatial_in, stride, padding, dilation, kernel)]
    return g.node("ConvTranspose", inputs, kernel_shape=kernel, strides=stride,
                  pads=padding * 2, dilations=dilation, group=int(k.get("groups", 1)),
                  output_padding=output_padding if any(output_padding) else None)


def _ceil_mode(geometry) -> int:
    for n, k, s, p, d, o in zip(geometry.spatial, geometry.kernel, geometry.stride,
                                geometry.padding, geometry.dilation, geometry.out):
        if (n + 2 * p - d * (k - 1) - 1) // s + 1 != o:
            return 1
    return 0


def _pool_attrs(geometry):
    return {"kernel_shape": list(geometry.kernel), "strides": list(geometry.stride),
            "pads": list(geometry.padding) * 2, "ceil_mode": _ceil_mode(geometry)}


def _is_global(g, c, geometry):
    if not all(o == 1 for o in geometry.out):
        return False
    other = _second_out_shape(g, c)
    return other is None or all(o == 1 for o in other[2:])


@register("MaxPool1DWithIndices", "MaxPool2DWithIndices", "MaxPool3DWithIndices",
          "AdaptiveMaxPool1D", "AdaptiveMaxPool2D", "AdaptiveMaxPool3D")
def _max_pool(g, c):
    geometry = c.kwargs["geometry"]
    x = _x(g, c)
    if c.kwargs.get("with_indices"):
        raise _unsupported(c, "return_indices=True")
    if c.op_name.startswith("Adaptive") and _is_global(g, c, geometry):
        return g.node("GlobalMaxPool", [x])
    return g.node("MaxPool", [x], dilations=list(geometry.dilation), **_pool_attrs(geometry))


@register("AvgPool1D", "AvgPool2D", "AvgPool3D", "AdaptiveAvgPool1D", "AdaptiveAvgPool2D",
          "AdaptiveAvgPool3D")
def _avg_pool(g, c):
    geometry = c.kwargs["geometry"]
    x = _x(g, c)
    if c.op_name.startswith("Adaptive") and _is_global(g, c, geometry):
        return g.node("GlobalAveragePool", [x])
    if c.kwargs.get("divisor_override") is not None:
        raise _unsupported(c, "divisor_override")
    attrs = _pool_attrs(geometry)
    if attrs["ceil_mode"] and any(geometry.padding):
        raise _unsupported(c, "ceil_mode with padding")
    return g.node("AveragePool", [x], count_include_pad=int(c.kwargs.get(
        "count_include_pad", True)), **attrs)


@register("AdaptiveAvgPool1DMatrix", "AdaptiveAvgPool2DMatrix", "AdaptiveAvgPool3DMatrix")
def _adaptive_matrix(g, c):
    """Uneven windows: one averaging matrix per spatial dim, applied by MatMul."""
    x = c.args[0]
    name = g.name(x)
    n = len(g.shape(x))
    matrices = [_host(m) for m in c.kwargs["matrices"]]
    dtype = _out_dtype(g, c)
    d = len(matrices)
    for i, matrix in enumerate(matrices):
        axis = n - d + i
        matrix = np.asarray(matrix, dtype=dtype)
        if matrix.shape[1] != g.shape(x)[axis]:
            matrix = matrix.T
        # move the axis last, contract it with the (out, in) matrix, move it back
        perm = list(range(n))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        moved = g.transpose(name, perm) if axis != n - 1 else name
        moved = g.node("MatMul", [moved, g.const(matrix.T, "pool_matrix")])
        name = g.transpose(moved, perm) if axis != n - 1 else moved
    return name


@register("_LayerNorm")
def _layer_norm(g, c):
    x, weight, bias = (list(c.args) + [None, None])[:3]
    k = c.kwargs
    n = len(g.shape(x))
    axes = [a % n for a in k["axes"]]
    if tuple(k["group_shape"]) != g.shape(x) or axes != list(range(axes[0], n)) or (
            g.opset < 17):
        return _batch_statistics(g, c, x, weight, bias)
    dtype = _out_dtype(g, c)
    normalized = g.shape(x)[axes[0]:]
    w = g.name(weight) if isinstance(weight, Ref) else g.const(np.ones(normalized, dtype))
    inputs = [g.name(x), w]
    if isinstance(bias, Ref):
        inputs.append(g.name(bias))
    return g.node("LayerNormalization", inputs, axis=axes[0], epsilon=float(k["eps"]))


@register("_Normalize")
def _batch_norm(g, c):
    x, weight, bias = (list(c.args) + [None, None])[:3]
    k = c.kwargs
    stats = k.get("stats")
    if stats is None:
        return _batch_statistics(g, c, x, weight, bias)
    dtype = _out_dtype(g, c)
    if tuple(k["group_shape"]) != g.shape(x):
        raise _unsupported(c, "grouped statistics")
    mean, invstd = (np.asarray(_host(s), dtype=dtype) for s in stats)
    module = g.current_module()
    if (type(module).__name__.startswith("BatchNorm") and isinstance(weight, Ref)
            and isinstance(bias, Ref) and getattr(module, "running_mean", None) is not None):
        names = [g.name(weight), g.name(bias),
                 g.name(g.trace.lookup(module.running_mean)),
                 g.name(g.trace.lookup(module.running_var))]
        return g.node("BatchNormalization", [g.name(x)] + names, epsilon=float(k["eps"]))
    out = g.node("Mul", [g.node("Sub", [g.name(x), g.const(mean, "mean")]),
                         g.const(invstd, "invstd")])
    shape = g.ints(k["affine_shape"])
    if isinstance(weight, Ref):
        out = g.node("Mul", [out, g.node("Reshape", [g.name(weight), shape])])
    if isinstance(bias, Ref):
        out = g.node("Add", [out, g.node("Reshape", [g.name(bias), shape])])
    return out


@register("_Dropout")
def _dropout(g, c):
    raise _unsupported(c, "training mode (dropout is random: export the model in eval mode)")


# ----------------------------------------------------------------------------- modules

def _gate_order(array, order, hidden):
    return np.concatenate([array[i * hidden:(i + 1) * hidden] for i in order], axis=0)


def _rnn_module(g, c):
    module = c.module
    kind = type(module).__name__
    if getattr(module, "proj_size", 0):
        raise _unsupported(c, "proj_size")
    x = c.args[0]
    if len(g.shape(x)) != 3:
        raise _unsupported(c, "an unbatched (2-d) input")
    hx = c.args[1] if len(c.args) > 1 else c.kwargs.get("hx")
    hidden, layers = module.hidden_size, module.num_layers
    directions = 2 if module.bidirectional else 1
    # torch's gate order -> ONNX's: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
    order = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}[kind]
    name = g.name(x)
    if module.batch_first:
        name = g.transpose(name, [1, 0, 2])
    h0 = c0 = None
    if kind == "LSTM" and isinstance(hx, tuple):
        h0, c0 = (g.name(h) for h in hx)
    elif isinstance(hx, Ref):
        h0 = g.name(hx)
    elif hx is not None:
        raise _unsupported(c, "an initial state of this form")
    dtype = g.dtype(x)
    hs, cs = [], []
    for layer in range(layers):
        ws, rs, bs = [], [], []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")

            def param(stem, suffix=suffix):
                value = getattr(module, stem + suffix, None)
                return None if value is None else np.asarray(_host(value._data), dtype)

            ws.append(_gate_order(param("weight_ih"), order, hidden))
            rs.append(_gate_order(param("weight_hh"), order, hidden))
            b_ih, b_hh = param("bias_ih"), param("bias_hh")
            if b_ih is None:
                b_ih = np.zeros(len(order) * hidden, dtype)
                b_hh = np.zeros(len(order) * hidden, dtype)
            bs.append(np.concatenate([_gate_order(b_ih, order, hidden),
                                      _gate_order(b_hh, order, hidden)]))
        prefix = f"{c.path}." if c.path else ""
        inputs = [name, g.const(np.stack(ws), f"{prefix}W_l{layer}"),
                  g.const(np.stack(rs), f"{prefix}R_l{layer}"),
                  g.const(np.stack(bs), f"{prefix}B_l{layer}"), ""]
        rows = [layer * directions, (layer + 1) * directions]
        inputs.append("" if h0 is None else g.slice(h0, [rows[0]], [rows[1]], [0]))
        if kind == "LSTM":
            inputs.append("" if c0 is None else g.slice(c0, [rows[0]], [rows[1]], [0]))
        while inputs and inputs[-1] == "":
            inputs.pop()
        attrs = {"hidden_size": hidden,
                 "direction": "bidirectional" if directions == 2 else "forward"}
        if kind == "GRU":
            attrs["linear_before_reset"] = 1
        if kind == "RNN":
            activation = {"tanh": "Tanh", "relu": "Relu"}[module.nonlinearity]
            attrs["activations"] = [activation] * directions
        outs = g.node(kind, inputs, n_out=3 if kind == "LSTM" else 2, **attrs)
        y = outs[0]                               # (seq, directions, batch, hidden)
        hs.append(outs[1])
        if kind == "LSTM":
            cs.append(outs[2])
        y = g.transpose(y, [0, 2, 1, 3])
        name = g.node("Reshape", [y, g.ints([0, 0, -1])])
    output = g.transpose(name, [1, 0, 2]) if module.batch_first else name
    h_n = hs[0] if len(hs) == 1 else g.node("Concat", hs, axis=0)
    if kind == "LSTM":
        c_n = cs[0] if len(cs) == 1 else g.node("Concat", cs, axis=0)
        return [output, h_n, c_n]
    return [output, h_n]


@register("Bitwise")
def _bitwise(g, c):
    a, b = c.args[0], c.args[1]
    dtype = _out_dtype(g, c)
    kind = c.kwargs.get("name", "bitwise_and")
    logical = {"bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}
    bitwise = {"bitwise_and": "BitwiseAnd", "bitwise_or": "BitwiseOr",
               "bitwise_xor": "BitwiseXor"}
    operands = [g.operand(a, dtype), g.operand(b, dtype)]
    if dtype == np.bool_ and kind in logical:
        return g.node(logical[kind], operands)
    if kind in bitwise and g.opset >= 18:
        return g.node(bitwise[kind], operands)
    raise _unsupported(c, f"{kind} on {dtype}")


@register("BitwiseNot")
def _bitwise_not(g, c):
    x = c.args[0]
    if g.dtype(x) == np.bool_:
        return g.node("Not", [g.name(x)])
    if g.opset >= 18:
        return g.node("BitwiseNot", [g.name(x)])
    raise _unsupported(c, f"dtype {g.dtype(x)}")


@register("AxisResample")
def _axis_resample(g, c):
    """interpolate (nearest, linear, cubic, antialiased) and reflect/replicate/circular pads:
    along each axis of the plan, a sum of Gathers of fixed indices times fixed weights, or a
    contraction with a fixed (out, in) matrix."""
    x = c.args[0]
    name = g.name(x)
    dtype = _out_dtype(g, c)
    n = len(g.shape(x))
    for axis, _, terms in c.kwargs["plan"]:
        if isinstance(terms, np.ndarray) or hasattr(terms, "__cuda_array_interface__"):
            matrix = np.asarray(_host(terms), dtype=dtype)
            perm = list(range(n))
            perm[axis], perm[-1] = perm[-1], perm[axis]
            moved = g.transpose(name, perm) if axis != n - 1 else name
            moved = g.node("MatMul", [moved, g.const(np.ascontiguousarray(matrix.T))])
            name = g.transpose(moved, perm) if axis != n - 1 else moved
            continue
        out = None
        for index, weight in terms:
            index = np.asarray(_host(index), dtype=np.int64)
            part = g.node("Gather", [name, g.const(index, "index")], axis=axis)
            if weight is not None:
                weight = np.asarray(_host(weight), dtype=dtype)
                weight = weight.reshape((-1,) + (1,) * (n - axis - 1))
                part = g.node("Mul", [part, g.const(weight, "weight")])
            out = part if out is None else g.node("Add", [out, part])
        name = out
    return name if name != g.name(x) else g.node("Identity", [name])


def _batch_statistics(g, c, x, weight, bias):
    """(x - mean) / sqrt(var + eps) over ``axes`` of x viewed as ``group_shape``, then the
    affine map (group, instance, layer norm over other dims, batch norm without running
    statistics)."""
    k = c.kwargs
    dtype = _out_dtype(g, c)
    name = g.name(x)
    grouped = tuple(k["group_shape"]) != g.shape(x)
    if grouped:
        name = g.node("Reshape", [name, g.dyn_ints(k["group_shape"], "group_shape",
                                                   minus_one=True)])
    axes = [int(a) for a in k["axes"]]
    centered = g.node("Sub", [name, g.reduce("ReduceMean", name, axes, True)])
    var = g.reduce("ReduceMean", g.node("Mul", [centered, centered]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, g.operand(float(k["eps"]), dtype)])])
    out = g.node("Div", [centered, std])
    if grouped:
        out = g.node("Reshape", [out, g.node("Shape", [g.name(x)])])
    shape = g.ints(k["affine_shape"])
    if isinstance(weight, Ref):
        out = g.node("Mul", [out, g.node("Reshape", [g.name(weight), shape])])
    if isinstance(bias, Ref):
        out = g.node("Add", [out, g.node("Reshape", [g.name(bias), shape])])
    return out


@register("Einsum")
def _einsum(g, c):
    dtype = _out_dtype(g, c)
    equation = ",".join(c.kwargs["terms"]) + "->" + c.kwargs["output"]
    return g.node("Einsum", [g.operand(a, dtype) for a in c.args], equation=equation)


MODULE_SYMBOLICS = {"LSTM": _rnn_module, "GRU": _rnn_module, "RNN": _rnn_module}


def symbolic_for(call):
    if call.module is not None:
        return MODULE_SYMBOLICS[type(call.module).__name__]
    function = None
    if any(k.__name__ == "Index" for k in call.cls.__mro__):
        # every read of a location (Select, Slice, indexing's Unsqueeze and Alias ...)
        return SYMBOLICS["Index"]
    for klass in call.cls.__mro__:  # Sum_SumBackward1 is a Sum ...
        function = SYMBOLICS.get(klass.__name__)
        if function is not None:
            break
    if function is None:
        raise UnsupportedOperatorError(
            f"dark.onnx.export: the op {call.cls.__name__} ({call.cls.__module__}) has no ONNX "
            f"mapping; it was called in module '{call.path or '<top>'}'")
    return function


__all__ = ["SYMBOLICS", "MODULE_SYMBOLICS", "symbolic_for", "OnnxExporterError"]
