"""dark.onnx.OnnxModule: an ONNX graph run with dark ops (differentiable, on the device of
its inputs), for the operators dark.onnx.export writes and the common others."""
from __future__ import annotations

import io
import math
import os

import numpy as np

from .. import nn
from .._tensor import Tensor
from ..nn import functional as F
from ..ops import creation as _creation
from ..ops import elementwise as _elementwise
from ..ops import indexing as _indexing
from ..ops import linalg as _linalg
from ..ops import reduction as _reduction
from ..ops import shape as _shape

OPS: dict = {}


def _op(*names):
    def decorate(function):
        for name in names:
            OPS[name] = function
        return function
    return decorate


def _ints(value) -> list:
    if value is None:
        return None
    if isinstance(value, Tensor):
        return [int(v) for v in np.asarray(value.detach().cpu().numpy()).reshape(-1)]
    return [int(v) for v in value]


def _scalar(value):
    return value.item() if isinstance(value, Tensor) else value


# ----------------------------------------------------------------------------- elementwise

def _binary(function):
    return lambda a, x, y: function(x, y)


for _name, _function in {"Add": _elementwise.add, "Sub": _elementwise.sub,
                         "Mul": _elementwise.mul, "Pow": _elementwise.pow,
                         "Equal": _elementwise.eq, "Less": _elementwise.lt,
                         "LessOrEqual": _elementwise.le, "Greater": _elementwise.gt,
                         "GreaterOrEqual": _elementwise.ge,
                         "And": _elementwise.logical_and, "Or": _elementwise.logical_or,
                         "Xor": _elementwise.logical_xor,
                         "MatMul": _linalg.matmul}.items():
    OPS[_name] = _binary(_function)


@_op("Div")
def _div(a, x, y):
    if x.dtype.is_floating_point:
        return x / y
    return _elementwise.div(x, y, rounding_mode="trunc")


_UNARY = {"Neg": "neg", "Abs": "abs", "Sqrt": "sqrt", "Exp": "exp", "Log": "log",
          "Tanh": "tanh", "Sigmoid": "sigmoid", "Relu": "relu", "Reciprocal": "reciprocal",
          "Erf": "erf", "Sin": "sin", "Cos": "cos", "Tan": "tan", "Floor": "floor",
          "Ceil": "ceil", "Sign": "sign", "Not": "logical_not", "Asin": "asin",
          "Acos": "acos", "Atan": "atan", "Sinh": "sinh", "Cosh": "cosh", "IsNaN": "isnan",
          "IsInf": "isinf", "Softsign": None}
for _name, _method in _UNARY.items():
    if _method is not None:
        OPS[_name] = (lambda method: lambda a, x: getattr(x, method)())(_method)


@_op("Identity", "Dropout")
def _identity(a, x, *rest):
    return x


@_op("Max", "Min")
def _max_min(a, *xs, op_type=None):
    out = xs[0]
    for x in xs[1:]:
        out = (_elementwise.maximum if op_type == "Max" else _elementwise.minimum)(out, x)
    return out


@_op("Sum")
def _sum_n(a, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


@_op("Where")
def _where(a, condition, x, y):
    return _elementwise.where(condition, x, y)


@_op("Clip")
def _clip(a, x, low=None, high=None):
    return _elementwise.clamp(x, _scalar(low), _scalar(high))


@_op("Cast")
def _cast(a, x):
    import onnx  # noqa: PLC0415 - optional dependency
    np_dtype = onnx.helper.tensor_dtype_to_np_dtype(a["to"])
    return x.to(_dtype_of(np_dtype))


def _dtype_of(np_dtype):
    return _creation.tensor(np.zeros((), np_dtype)).dtype


# ----------------------------------------------------------------------------- activations

@_op("LeakyRelu")
def _leaky(a, x):
    return F.leaky_relu(x, a.get("alpha", 0.01))


@_op("Elu")
def _elu(a, x):
    return F.elu(x, a.get("alpha", 1.0))


@_op("Selu")
def _selu(a, x):
    return F.selu(x)


@_op("Celu")
def _celu(a, x):
    return F.celu(x, a.get("alpha", 1.0))


@_op("Softplus")
def _softplus(a, x):
    return F.softplus(x, threshold=math.inf)


@_op("HardSigmoid")
def _hardsigmoid(a, x):
    return _elementwise.clamp(x * a.get("alpha", 0.2) + a.get("beta", 0.5), 0.0, 1.0)


@_op("HardSwish")
def _hardswish(a, x):
    return F.hardswish(x)


@_op("Shrink")
def _shrink(a, x):
    lambd, bias = a.get("lambd", 0.5), a.get("bias", 0.0)
    return _elementwise.where(x < -lambd, x + bias, _elementwise.where(
        x > lambd, x - bias, x * 0))


@_op("Gelu")
def _gelu(a, x):
    return F.gelu(x, approximate=a.get("approximate", "none"))


@_op("Softmax", "LogSoftmax")
def _softmax(a, x, op_type=None):
    axis = a.get("axis", -1)
    return (F.softmax if op_type == "Softmax" else F.log_softmax)(x, axis)


# ----------------------------------------------------------------------------- nn

@_op("Gemm")
def _gemm(a, x, w, c=None):
    if a.get("transA", 0):
        x = x.t()
    if a.get("transB", 0):
        w = w.t()
    out = _linalg.matmul(x, w) * a.get("alpha", 1.0)
    if c is not None:
        out = out + c * a.get("beta", 1.0)
    return out


def _symmetric_pads(x, pads, value=0.0):
    d = len(pads) // 2
    begin, end = pads[:d], pads[d:]
    if begin == end:
        return x, begin
    widths = []
    for b, e in reversed(list(zip(begin, end))):
        widths += [b, e]
    return F.pad(x, widths, value=value), [0] * d


@_op("Conv")
def _conv(a, x, w, b=None):
    d = w.dim() - 2
    pads = a.get("pads", [0] * 2 * d)
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError("OnnxModule: Conv with auto_pad SAME_*")
    x, padding = _symmetric_pads(x, list(pads))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[d]
    return conv(x, w, b, stride=a.get("strides", [1] * d), padding=padding,
                dilation=a.get("dilations", [1] * d), groups=a.get("group", 1))


@_op("ConvTranspose")
def _conv_transpose(a, x, w, b=None):
    d = w.dim() - 2
    pads = a.get("pads", [0] * 2 * d)
    if pads[:d] != pads[d:]:
        raise NotImplementedError("OnnxModule: ConvTranspose with asymmetric pads")
    conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[d]
    return conv(x, w, b, stride=a.get("strides", [1] * d), padding=pads[:d],
                output_padding=a.get("output_padding", [0] * d), groups=a.get("group", 1),
                dilation=a.get("dilations", [1] * d))


@_op("MaxPool", "AveragePool")
def _pool(a, x, op_type=None):
    kernel = a["kernel_shape"]
    d = len(kernel)
    pads = list(a.get("pads", [0] * 2 * d))
    if pads[:d] != pads[d:]:
        raise NotImplementedError(f"OnnxModule: {op_type} with asymmetric pads")
    stride = a.get("strides", [1] * d)
    ceil = bool(a.get("ceil_mode", 0))
    if op_type == "MaxPool":
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[d]
        return pool(x, kernel, stride, pads[:d], a.get("dilations", [1] * d), ceil)
    pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[d]
    return pool(x, kernel, stride, pads[:d], ceil, bool(a.get("count_include_pad", 0)))


@_op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(a, x, op_type=None):
    axes = tuple(range(2, x.dim()))
    if op_type == "GlobalAveragePool":
        return x.mean(axes, keepdim=True)
    return _reduction.amax(x, axes, keepdim=True)


@_op("BatchNormalization")
def _batch_norm(a, x, scale, bias, mean, var):
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, a.get("epsilon", 1e-5))


@_op("LayerNormalization")
def _layer_norm(a, x, scale, bias=None):
    axis = a.get("axis", -1) % x.dim()
    return F.layer_norm(x, tuple(x.shape[axis:]), scale, bias, a.get("epsilon", 1e-5))


# ----------------------------------------------------------------------------- shapes

@_op("Flatten")
def _flatten(a, x):
    axis = a.get("axis", 1) % max(x.dim(), 1) if x.dim() else 0
    lead = math.prod(x.shape[:axis])
    return x.reshape(lead, -1)


@_op("Reshape")
def _reshape(a, x, shape):
    shape = _ints(shape)
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


@_op("Transpose")
def _transpose(a, x):
    perm = a.get("perm", list(reversed(range(x.dim()))))
    return x.permute(*perm)


@_op("Squeeze")
def _squeeze(a, x, axes=None):
    axes = _ints(axes) if axes is not None else a.get("axes")
    if axes is None:
        return x.squeeze()
    for axis in sorted((ax % x.dim() for ax in axes), reverse=True):
        x = x.squeeze(axis)
    return x


@_op("Unsqueeze")
def _unsqueeze(a, x, axes=None):
    axes = _ints(axes) if axes is not None else a.get("axes")
    rank = x.dim() + len(axes)
    for axis in sorted(ax % rank for ax in axes):
        x = x.unsqueeze(axis)
    return x


@_op("Concat")
def _concat(a, *xs):
    return _shape.cat(list(xs), a["axis"])


@_op("Split")
def _split(a, x, split=None, n_out=1):
    axis = a.get("axis", 0)
    sizes = _ints(split) if split is not None else a.get("split")
    if sizes is None:
        n = a.get("num_outputs", n_out)
        size = -(-x.shape[axis] // n)
        sizes = [min(size, x.shape[axis] - i * size) for i in range(n)]
    return tuple(x.split(list(sizes), axis))


@_op("Slice")
def _slice(a, x, starts, ends, axes=None, steps=None):
    starts, ends = _ints(starts), _ints(ends)
    axes = _ints(axes) if axes is not None else list(range(len(starts)))
    steps = _ints(steps) if steps is not None else [1] * len(starts)
    key = [slice(None)] * x.dim()
    flips = []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= x.dim()
        n = x.shape[axis]
        if step < 0:
            start, end, _ = slice(start, end if end >= -n else None, step).indices(n)
            # x[start:end:step] with a negative step: flip, then a positive step
            count = len(range(start, end, step))
            flips.append(axis)
            key[axis] = slice(n - 1 - start, n - 1 - start + count * -step, -step)
            continue
        start, end, _ = slice(start, end, step).indices(n)
        key[axis] = slice(start, end, step)
    if flips:
        x = _shape.flip(x, flips)
    return x[tuple(key)]


@_op("Gather")
def _gather(a, x, indices):
    axis = a.get("axis", 0) % x.dim()
    flat = indices.reshape(-1).long()
    flat = _elementwise.where(flat < 0, flat + x.shape[axis], flat)
    out = _indexing.index_select(x, axis, flat)
    return out.reshape(tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(
        x.shape[axis + 1:]))


@_op("Shape")
def _shape_of(a, x):
    dims = list(x.shape)
    start, end = a.get("start", 0), a.get("end", len(dims))
    return _creation.tensor(np.asarray(dims[start:end], dtype=np.int64))


@_op("ConstantOfShape")
def _constant_of_shape(a, shape):
    value = a.get("value")
    fill = np.zeros(1, np.float32) if value is None else value
    return _creation.tensor(np.full(_ints(shape), fill.reshape(-1)[0], dtype=fill.dtype))


@_op("Constant")
def _constant(a):
    for key in ("value", "value_float", "value_int", "value_floats", "value_ints"):
        if key in a:
            return _creation.tensor(np.asarray(a[key]))
    raise NotImplementedError("OnnxModule: Constant of this kind")


@_op("Range")
def _range(a, start, limit, delta):
    return _creation.arange(_scalar(start), _scalar(limit), _scalar(delta),
                            dtype=start.dtype)


@_op("Expand")
def _expand(a, x, shape):
    shape = _ints(shape)
    rank = max(len(shape), x.dim())
    have = [1] * (rank - x.dim()) + list(x.shape)
    want = [1] * (rank - len(shape)) + shape
    target = [h if w == 1 else w for h, w in zip(have, want)]
    return x.reshape(have).expand(*target)


@_op("Tile")
def _tile(a, x, repeats):
    return x.repeat(*_ints(repeats))


@_op("Pad")
def _pad(a, x, pads=None, value=None, axes=None):
    pads = _ints(pads) if pads is not None else a["pads"]
    d = len(pads) // 2
    axes = _ints(axes) if axes is not None else list(range(d))
    full = [0] * (2 * x.dim())
    for i, axis in enumerate(axes):
        full[axis % x.dim()] = pads[i]
        full[x.dim() + axis % x.dim()] = pads[d + i]
    last = max([i for i in range(x.dim()) if full[i] or full[x.dim() + i]], default=-1)
    first = min([i for i in range(x.dim()) if full[i] or full[x.dim() + i]], default=x.dim())
    widths = []
    for i in reversed(range(min(first, last + 1), last + 1)):
        widths += [full[i], full[x.dim() + i]]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
            "wrap": "circular"}[a.get("mode", "constant")]
    if not widths:
        return x
    if mode == "constant":
        return F.pad(x, widths, value=0.0 if value is None else _scalar(value))
    return F.pad(x, widths, mode=mode)


@_op("Trilu")
def _trilu(a, x, k=None):
    k = 0 if k is None else int(_scalar(k))
    return (_shape.triu if a.get("upper", 1) else _shape.tril)(x, k)


@_op("Einsum")
def _einsum(a, *xs):
    return _linalg.einsum(a["equation"], *xs)


@_op("CumSum")
def _cumsum(a, x, axis):
    if a.get("exclusive", 0) or a.get("reverse", 0):
        raise NotImplementedError("OnnxModule: CumSum exclusive/reverse")
    return _reduction.cumsum(x, int(_scalar(axis)))


# ----------------------------------------------------------------------------- reductions

def _reduce_axes(a, x, axes):
    axes = _ints(axes) if axes is not None else a.get("axes")
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            return None
        return tuple(range(x.dim()))
    return tuple(ax % x.dim() for ax in axes)


@_op("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
     "ReduceL2", "ReduceLogSumExp")
def _reduce(a, x, axes=None, op_type=None):
    dims = _reduce_axes(a, x, axes)
    if dims is None:
        return x
    keep = bool(a.get("keepdims", 1))
    if op_type == "ReduceSum":
        return x.sum(dims, keepdim=keep)
    if op_type == "ReduceMean":
        return x.mean(dims, keepdim=keep)
    if op_type == "ReduceMax":
        return _reduction.amax(x, dims, keepdim=keep)
    if op_type == "ReduceMin":
        return _reduction.amin(x, dims, keepdim=keep)
    if op_type == "ReduceL1":
        return x.abs().sum(dims, keepdim=keep)
    if op_type == "ReduceL2":
        return (x * x).sum(dims, keepdim=keep).sqrt()
    if op_type == "ReduceLogSumExp":
        return _reduction.logsumexp(x, dims, keepdim=keep)
    out = x
    for dim in sorted(dims, reverse=True):
        out = out.prod(dim, keepdim=keep)
    return out


@_op("ArgMax", "ArgMin")
def _argmax(a, x, op_type=None):
    if a.get("select_last_index", 0):
        raise NotImplementedError(f"OnnxModule: {op_type} with select_last_index")
    function = _reduction.argmax if op_type == "ArgMax" else _reduction.argmin
    return function(x, a.get("axis", 0), keepdim=bool(a.get("keepdims", 1)))


# ----------------------------------------------------------------------------- recurrent

def _activation(name):
    return {"Tanh": _elementwise.tanh, "Sigmoid": _elementwise.sigmoid,
            "Relu": _elementwise.relu}[name]


@_op("LSTM", "GRU", "RNN")
def _recurrent(a, x, w, r, b=None, lengths=None, h0=None, c0=None, op_type=None, n_out=3):
    """ONNX LSTM/GRU/RNN (default activations; GRU linear_before_reset=1 or 0), one time
    step after another with dark ops."""
    if lengths is not None:
        raise NotImplementedError(f"OnnxModule: {op_type} with sequence_lens")
    if a.get("layout", 0):
        raise NotImplementedError(f"OnnxModule: {op_type} with layout=1")
    hidden = a["hidden_size"]
    directions = w.shape[0]
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op_type]
    batch = x.shape[1]
    ys, hs, cs = [], [], []
    for d in range(directions):
        wd, rd = w[d], r[d]
        bw = b[d][:gates * hidden] if b is not None else None
        br = b[d][gates * hidden:] if b is not None else None
        h = h0[d] if h0 is not None else _creation.zeros(batch, hidden, dtype=x.dtype)
        c = c0[d] if c0 is not None else _creation.zeros(batch, hidden, dtype=x.dtype)
        steps = range(x.shape[0] - 1, -1, -1) if (
            d == 1 or a.get("direction") == "reverse") else range(x.shape[0])
        out = [None] * x.shape[0]
        for t in steps:
            gx = _linalg.matmul(x[t], wd.t())
            if bw is not None:
                gx = gx + bw
            gh = _linalg.matmul(h, rd.t())
            if br is not None:
                gh = gh + br
            if op_type == "LSTM":
                i, o, f, g = (gx + gh).split(hidden, 1)
                i, o, f = i.sigmoid(), o.sigmoid(), f.sigmoid()
                c = f * c + i * g.tanh()
                h = o * c.tanh()
            elif op_type == "GRU":
                zx, rx, nx = gx.split(hidden, 1)
                zh, rh, nh = gh.split(hidden, 1)
                z, rr = (zx + zh).sigmoid(), (rx + rh).sigmoid()
                if a.get("linear_before_reset", 0):
                    n = (nx + rr * nh).tanh()
                else:
                    rn = _linalg.matmul(rr * h, rd[2 * hidden:].t())
                    n = (nx + rn + (br[2 * hidden:] if br is not None else 0)).tanh()
                h = (1 - z) * n + z * h
            else:
                names = a.get("activations", ["Tanh"])
                h = _activation(names[d] if len(names) > d else names[0])(gx + gh)
            out[t] = h
        ys.append(_shape.stack(out, 0))
        hs.append(h)
        cs.append(c)
    y = _shape.stack(ys, 1)
    outputs = (y, _shape.stack(hs, 0), _shape.stack(cs, 0))
    return outputs[:n_out] if op_type == "LSTM" else outputs[:2][:n_out]


_NEEDS_TYPE = {"Max", "Min", "Softmax", "LogSoftmax", "MaxPool", "AveragePool",
               "GlobalAveragePool", "GlobalMaxPool", "ReduceSum", "ReduceMean", "ReduceMax",
               "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSumExp",
               "ArgMax", "ArgMin", "LSTM", "GRU", "RNN"}
_NEEDS_COUNT = {"Split", "LSTM", "GRU", "RNN"}


class OnnxModule(nn.Module):
    """A module that runs an ONNX model (a path, bytes, a binary file or a ModelProto) with
    dark ops: its initializers are buffers (float ones parameters with ``trainable``), its
    forward takes the graph inputs in order and returns its output (a tuple when several).
    The operators are those dark.onnx.export writes and the common others (OPS)."""

    def __init__(self, model, trainable: bool = False):
        super().__init__()
        try:
            import onnx  # noqa: PLC0415 - optional dependency
            from onnx import numpy_helper  # noqa: PLC0415
        except ImportError as error:
            raise ImportError("dark.onnx.OnnxModule needs the onnx package: pip install "
                              "dark[onnx] (or pip install onnx)") from error
        if isinstance(model, (str, os.PathLike)):
            model = onnx.load(str(model))
        elif isinstance(model, (bytes, bytearray)):
            model = onnx.load_from_string(bytes(model))
        elif isinstance(model, io.IOBase) or hasattr(model, "read"):
            model = onnx.load_from_string(model.read())
        self.proto = model
        graph = model.graph
        unknown = sorted({n.op_type for n in graph.node if n.op_type not in OPS})
        if unknown:
            raise NotImplementedError(f"OnnxModule: no dark implementation of the ONNX "
                                      f"operators {unknown}")
        self._names = {}
        for i, init in enumerate(graph.initializer):
            array = numpy_helper.to_array(init).copy()
            key = f"init_{i}"
            value = _creation.tensor(array)
            if trainable and array.dtype.kind == "f":
                self.register_parameter(key, nn.Parameter(value))
            else:
                self.register_buffer(key, value)
            self._names[init.name] = key
        initialized = set(self._names)
        self.input_names = [i.name for i in graph.input if i.name not in initialized]
        self.output_names = [o.name for o in graph.output]
        self._helper = onnx.helper

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"OnnxModule.forward takes {len(self.input_names)} inputs "
                            f"({self.input_names}), got {len(inputs)}")
        values = {name: getattr(self, key) for name, key in self._names.items()}
        values.update(zip(self.input_names, inputs))
        for node in self.proto.graph.node:
            attrs = {}
            for attribute in node.attribute:
                value = self._helper.get_attribute_value(attribute)
                if isinstance(value, bytes):
                    value = value.decode()
                elif hasattr(value, "dims") and hasattr(value, "data_type"):
                    from onnx import numpy_helper  # noqa: PLC0415
                    value = numpy_helper.to_array(value)
                elif isinstance(value, list) and value and isinstance(value[0], bytes):
                    value = [v.decode() for v in value]
                attrs[attribute.name] = value
            args = [values[name] if name else None for name in node.input]
            while args and args[-1] is None:
                args.pop()
            extra = {}
            if node.op_type in _NEEDS_TYPE:
                extra["op_type"] = node.op_type
            if node.op_type in _NEEDS_COUNT:
                extra["n_out"] = len(node.output)
            out = OPS[node.op_type](attrs, *args, **extra)
            outs = out if isinstance(out, tuple) else (out,)
            for name, value in zip(node.output, outs):
                if name:
                    values[name] = value
        results = tuple(values[name] for name in self.output_names)
        return results[0] if len(results) == 1 else results
