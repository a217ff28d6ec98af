"""Tensor factories: tensor, as_tensor, asarray, from_numpy, zeros, ones, full, empty, eye,
arange, linspace, logspace, scalar_tensor, the *_like forms and the Tensor.new_* methods.

Factories build their array directly on the target device and in the target dtype (no
float64 temporaries from numpy's defaults)."""
from __future__ import annotations

import functools
import math
import numbers
import operator
import warnings

import numpy as np

from .. import _backend
from .._backend import cast, check_scalar
from .._kernels.elementwise import fma32, fma64
from .._sparse import SparseCOO, empty_coo, not_implemented
from .._tensor import Tensor, array_from_data, tensor_method

_INT64_MAX = (1 << 63) - 1
_COPY_WARNING = ("To copy construct from a tensor, it is recommended to use "
                 "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
                 "requires_grad_(True), rather than dark.tensor(sourceTensor).")


# ----------------------------------------------------------------------------- helpers

_PYTHON_SCALARS = {bool: lambda: _backend.bool_, int: lambda: _backend.int64,
                   float: _backend.get_default_dtype,
                   complex: lambda: _backend.scalar_dtype(1j)}

def _infer_dtype(data) -> _backend.dtype:
    """PyTorch's inference: bool -> bool, int -> int64, float -> default, complex -> default
    complex; numpy arrays and scalars and tensors keep their own; a sequence promotes its
    items."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (np.ndarray, np.generic)) or hasattr(data, "__cuda_array_interface__"):
        return _backend.from_numpy_dtype(data.dtype)
    if isinstance(data, (bool, numbers.Number)):
        return _backend.scalar_dtype(data)
    if isinstance(data, (list, tuple)):
        kinds = set(map(type, data))
        if kinds and kinds <= _PYTHON_SCALARS.keys():  # the common flat case, no recursion
            return _PYTHON_SCALARS[bool if kinds == {bool} else int if kinds <= {int, bool}
                                   else complex if complex in kinds else float]()
        result = None
        for item in data:
            d = _infer_dtype(item)
            result = d if result is None else _backend.promote_types(result, d)
        return result if result is not None else _backend.get_default_dtype()
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")


def _number_dtype(value) -> _backend.dtype:
    """The dtype of a fill value: python's number rules (numpy scalars and 0-d tensors count
    as the python number they hold)."""
    if isinstance(value, (np.generic, Tensor)):
        value = value.item()
    if not isinstance(value, numbers.Number):
        raise TypeError(f"fill_value must be a number, not {type(value).__name__}")
    return _backend.scalar_dtype(value)


def _dtype(dtype):
    return _backend.to_dtype(dtype) if dtype is not None else None


def shape_arg(name: str, size) -> tuple:
    """The shape given to a factory as varargs ``(2, 3)``, one tuple/list/Size, or ``()``.
    TypeError for a non-integer size; RuntimeError (PyTorch's words) for a negative one."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = []
    for position, s in enumerate(size):
        try:
            shape.append(operator.index(s))
        except TypeError:
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found "
                            f"element of type {type(s).__name__} at pos {position}") from None
    for s in shape:
        if s < 0:
            if name == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {shape}")
    return tuple(shape)


def on_device(dev: _backend.device, make):
    """Run ``make(xp)`` with the array module of ``dev`` (and that GPU current)."""
    xp = _backend.module_for(dev)
    if dev.type == "cuda":
        with xp.cuda.Device(_backend.cuda_index(dev)):
            return make(xp)
    return make(xp)


def finish(array, out, requires_grad: bool) -> Tensor:
    """Wrap a new array as the factory's result, or write it into ``out`` (resized as
    PyTorch does when the shape differs)."""
    if out is not None:
        if out._data.shape == array.shape:
            out._write(array, _backend.from_numpy_dtype(array.dtype))
        else:
            out._data = _backend.asarray_on(array, out.device, out._data.dtype)
            out._bump_version()
        return out
    result = Tensor._make(array)
    if requires_grad:
        result.requires_grad_(True)
    return result


def _fill(name, make, size, out, dtype, device, requires_grad, pin_memory=False) -> Tensor:
    dtype = _dtype(dtype) or (out.dtype if out is not None else _backend.get_default_dtype())
    dev = _backend.to_device(device if device is not None or out is None else out.device)
    shape = shape_arg(name, size)
    return _pinned(finish(on_device(dev, lambda xp: make(xp, shape, dtype.np)), out,
                          requires_grad), pin_memory)


def _pinned(out: Tensor, pin_memory: bool) -> Tensor:
    """``out`` in pinned host memory when ``pin_memory`` (PyTorch's errors without CUDA and
    for a tensor already on a GPU)."""
    if not pin_memory:
        return out
    if out.device.type != "cpu":
        raise RuntimeError("Only dense CPU tensors can be pinned")
    try:
        array = _backend.pin_array(out._data)
    except RuntimeError as error:
        # pin_array's words are "Cannot access accelerator device ... available. (why)"
        why = str(error).partition("available. ")[2]
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no "
                           "pinned memory allocator is available on this system."
                           + (f" {why}" if why else "")) from None
    pinned = Tensor._make(array)
    if out.requires_grad:
        pinned.requires_grad_(True)
    return pinned


def pinnable(factory):
    """Give a factory's ``pin_memory=True`` its meaning: the result in pinned memory."""
    @functools.wraps(factory)
    def make(*args, pin_memory: bool = False, **kwargs):
        return _pinned(factory(*args, **kwargs), pin_memory)
    return make


def _item(value):
    return value.item() if isinstance(value, (Tensor, np.generic)) else value


# ----------------------------------------------------------------------------- from data

def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``: a python number, nested sequences of numbers
    (or of one-element tensors), a numpy/CuPy array or a tensor. Python floats give the
    default dtype, ints int64, bools bool; arrays and tensors keep their dtype."""
    if isinstance(data, Tensor):
        warnings.warn(_COPY_WARNING, UserWarning, stacklevel=2)
        if device is None:
            device = data.device
    dtype = _dtype(dtype) or _infer_dtype(data)
    out = Tensor._make(array_from_data(data, dtype, _backend.to_device(device)))
    if requires_grad:
        out.requires_grad_(True)
    return _pinned(out, pin_memory)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
                  pin_memory: bool = False) -> Tensor:
    """A 0-d tensor holding the number ``s`` (default dtype unless ``dtype`` is given)."""
    dtype = _dtype(dtype) or _backend.get_default_dtype()
    value = check_scalar(_item(s), dtype, "scalar_tensor")
    return _pinned(finish(on_device(_backend.to_device(device),
                                    lambda xp: xp.asarray(value, dtype=dtype.np)), None,
                          requires_grad), pin_memory)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with the numpy array: writes to either show in both."""
    if not isinstance(ndarray, np.ndarray):
        kind = type(ndarray)
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__.split('.')[0]}.{kind.__name__}"
        raise TypeError(f"expected np.ndarray (got {name})")
    _backend.from_numpy_dtype(ndarray.dtype)
    return Tensor._make(ndarray)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory with it when it already is a tensor or array of
    that dtype on that device (a numpy array on the CPU, a CuPy array on its GPU); without
    ``device``, on the device set_default_device set, if any."""
    dtype = _dtype(dtype)
    if device is None:
        device = _backend.default_device_set()
    if isinstance(data, Tensor):
        if dtype is None and device is None:
            return data
        return data.to(device=device if device is not None else data.device,
                       dtype=dtype or data.dtype)
    dev = _backend.to_device(device) if device is not None else None
    if isinstance(data, np.ndarray) and (dev is None or dev.type == "cpu"):
        if dtype is None or dtype.np == data.dtype:
            return from_numpy(data)
        return Tensor._make(cast(data, dtype.np))
    if hasattr(data, "__cuda_array_interface__") and (dev is None or dev.type == "cuda"):
        target = dev or _backend.device_of(data)
        array = _backend.asarray_on(data, target)
        _backend.from_numpy_dtype(array.dtype)
        if dtype is not None and array.dtype != dtype.np:
            array = array.astype(dtype.np)
        return Tensor._make(array)
    return tensor(data, dtype=dtype, device=dev)


def asarray(obj, *, dtype=None, device=None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """``obj`` as a tensor: shares memory when possible unless ``copy=True``; ValueError when
    ``copy=False`` and a copy is needed."""
    if copy:
        dtype = _dtype(dtype) or _infer_dtype(obj)
        dev = _backend.to_device(device if device is not None
                                 else getattr(obj, "device", None)
                                 if isinstance(obj, Tensor) else device)
        out = Tensor._make(array_from_data(obj, dtype, dev))
    else:
        out = as_tensor(obj, dtype=dtype, device=device)
        if copy is False and not _shares(out, obj):
            raise ValueError(f"can't alias {type(obj).__name__} as a tensor of dtype "
                             f"{out.dtype} on {out.device} without a copy (copy=False)")
        if out is obj and out.requires_grad and not requires_grad:
            out = out.detach()
    if requires_grad and out.is_leaf:
        out.requires_grad_(True)
    return out


def _shares(out: Tensor, obj) -> bool:
    source = obj._data if isinstance(obj, Tensor) else obj
    if not hasattr(source, "dtype") or type(source) is not type(out._data):
        return False
    return bool(_backend.array_module(out._data).may_share_memory(out._data, source))


# ----------------------------------------------------------------------------- filled

def _sparse(layout) -> bool:
    """``layout`` is dark.sparse_coo (dark.sparse's object, known here by its name)."""
    return layout is not None and getattr(layout, "name", None) == "sparse_coo"


def _no_sparse(name: str, layout) -> None:
    """torch's error for a factory that has no sparse form."""
    if _sparse(layout):
        raise not_implemented(name, None)


def zeros(*size_args, size=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor of ``size`` filled with 0 (default dtype); with ``layout=dark.sparse_coo`` a
    sparse tensor without entries."""
    make = empty_coo if layout is not None and _sparse(layout) else \
        lambda xp, s, d: xp.zeros(s, dtype=d)
    return _fill("zeros", make,
                 size_args if size is None else (size,), out, dtype, device,
                 requires_grad, pin_memory)


def ones(*size_args, size=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor of ``size`` filled with 1 (default dtype)."""
    if layout is not None and _sparse(layout):
        raise RuntimeError("full(...) is not implemented for sparse layout")
    return _fill("ones", lambda xp, s, d: xp.ones(s, dtype=d),
                 size_args if size is None else (size,), out, dtype, device,
                 requires_grad, pin_memory)


def empty(*size_args, size=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False, memory_format=None) -> Tensor:
    """An uninitialised tensor of ``size`` (default dtype)."""
    make = empty_coo if layout is not None and _sparse(layout) else \
        lambda xp, s, d: xp.empty(s, dtype=d)
    return _fill("empty", make,
                 size_args if size is None else (size,), out, dtype, device,
                 requires_grad, pin_memory)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor of ``size`` (a sequence) filled with ``fill_value``; the dtype follows the
    value (bool, int64, the default float or complex dtype) unless given."""
    if _sparse(layout):
        raise RuntimeError("full(...) is not implemented for sparse layout")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    value = _item(fill_value)
    dtype = _dtype(dtype) or (out.dtype if out is not None else _number_dtype(value))
    if isinstance(value, numbers.Number) and all(isinstance(n, int) for n in size):
        on_cpu = _backend.to_device(
            device if device is not None or out is None else out.device).type == "cpu"
        value = _backend.fill_scalar(value, dtype, math.prod(size), on_cpu)
    else:
        value = check_scalar(value, dtype)
    return _fill("full", lambda xp, s, d: _full_array(xp, s, value, d), (size,), out, dtype,
                 device, requires_grad, pin_memory)


def _full_array(xp, shape, value, np_dtype):
    array = xp.empty(shape, dtype=np_dtype)
    # value is check_scalar's: it fits (2**63 as a float32 is numpy's uint64 before the cast)
    xp.copyto(array, np.asarray(value), casting="unsafe")
    return array


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """The (n, m) matrix with ones on the diagonal (m defaults to n)."""
    _no_sparse("eye", layout)
    n = operator.index(n)
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    m = n if m is None else operator.index(m)
    if m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    return _fill("eye", lambda xp, s, d: xp.eye(n, m, dtype=d), (), out, dtype, device,
                 requires_grad, pin_memory)


# ----------------------------------------------------------------------------- ranges

def _format_number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """The 1-d tensor ``[start, start + step, ...]`` up to ``end`` (excluded), of length
    ``ceil((end - start) / step)``. int64 when all bounds are integers, else the default
    dtype."""
    if end is None:
        start, end = 0, start
    start, end, step = _item(start), _item(end), _item(step)
    for value in (start, end, step):
        if not isinstance(value, numbers.Real):
            raise TypeError(f"arange(): argument 'end' must be Number, not "
                            f"{type(value).__name__}")
    all_integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = _dtype(dtype) or (_backend.int64 if all_integral else _backend.get_default_dtype())
    if not all(math.isfinite(v) for v in (start, end)):
        raise RuntimeError(f"unsupported range: {_format_number(start)} -> "
                           f"{_format_number(end)}")
    if not dtype.is_floating_point and not dtype.is_complex:
        # integer dtypes take the bounds cast to the dtype first, as PyTorch does
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype.itemsize == 2 and dtype.is_floating_point:
        # float16 and bfloat16 count in float (torch's accumulate type): start and step must
        # fit a float32 (end only sets the length)
        for value in (start, step):
            check_scalar(value, _backend.float32)
    if isinstance(start, int) and isinstance(end, int) and isinstance(step, int):
        length = -((start - end) // step)
        make = lambda xp: cast(xp.arange(length, dtype=np.int64) * step + start, dtype.np)  # noqa: E731
    else:
        length = math.ceil((end - start) / step)
        if length > _INT64_MAX:
            raise RuntimeError("invalid size, possible overflow?")
        make = lambda xp: cast(xp.arange(length, dtype=np.float64) * step + start, dtype.np)  # noqa: E731
    dev = _backend.to_device(device if device is not None or out is None else out.device)
    return finish(on_device(dev, make), out, requires_grad)


def _linspace_values(xp, start, end, steps: int, np_dtype):
    """PyTorch's symmetric formula: the first half counts up from start, the second half down
    from end, so both ends are exact. In float32 and float64 each value is one fused
    multiply-add, as torch's CPU kernel: ``fma(i, step, start)``, ``fma(n - 1 - i, -step,
    end)``; for integer dtypes the same in float64 (a float64 step), truncated. In float16
    and bfloat16 every operation of the formula (the step's difference and quotient, i or
    n - 1 - i, the product, the sum) is rounded to the dtype, as c10::Half's and
    c10::BFloat16's operators compute each in float32 and round it back."""
    if steps == 1:
        return xp.full((1,), start, dtype=np_dtype if np_dtype.kind in "fc" else np.float64)
    half = steps // 2
    if np_dtype == np.float16 or np_dtype.name == "bfloat16":
        def rounded(values):  # a float32 result of one operation, rounded to the dtype
            return values.astype(np_dtype).astype(np.float32)

        first, last = (rounded(xp.asarray(v, dtype=np.float32)) for v in (start, end))
        step = rounded(rounded(last - first) / rounded(xp.asarray(steps - 1, np.float32)))
        index = rounded(xp.arange(steps, dtype=np.float32))
        down = rounded(xp.arange(steps - 1 - half, -1, -1, dtype=np.float32))
        values = xp.empty(steps, dtype=np.float32)
        values[:half] = rounded(first + rounded(step * index[:half]))
        values[half:] = rounded(last - rounded(step * down))
        return values.astype(np_dtype)
    compute = np_dtype if np_dtype.kind in "fc" else np.dtype(np.float64)
    index = xp.arange(steps, dtype=compute)
    step = (compute.type(end) - compute.type(start)) / compute.type(steps - 1)
    values = xp.empty(steps, dtype=compute)
    down = compute.type(steps - 1) - index[half:]
    if compute in (np.float32, np.float64):
        fma = fma32 if compute == np.float32 else fma64
        values[:half] = fma(index[:half], step, compute.type(start))
        values[half:] = fma(down, -step, compute.type(end))
    else:
        values[:half] = compute.type(start) + step * index[:half]
        values[half:] = compute.type(end) - step * down
    return values


def _steps_arg(steps) -> int:
    steps = operator.index(_item(steps))
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return steps


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (default dtype)."""
    start, end, steps = _item(start), _item(end), _steps_arg(steps)
    dtype = _dtype(dtype) or (out.dtype if out is not None else _backend.get_default_dtype())
    # torch converts (and checks) only the bounds it uses: none for 0 steps, start for 1
    if steps >= 2:
        start, end = _bounds_in(start, end, dtype)
    else:
        # one step fills the tensor as a 0-d tensor would: a float16 or bfloat16 start
        # beyond the dtype's range is inf there, an error only for float32's range
        start = end = check_scalar(start, dtype, "scalar_tensor") if steps == 1 else 0
    dev = _backend.to_device(device if device is not None or out is None else out.device)
    return finish(on_device(dev, lambda xp: cast(
        _linspace_values(xp, start, end, steps, dtype.np), dtype.np)), out, requires_grad)


def _bounds_in(start, end, dtype):
    """linspace's and logspace's bounds as numbers of ``dtype``, as torch takes them first
    (0.9 is 0 for an integer dtype; PyTorch's error when one does not fit)."""
    return check_scalar(start, dtype), check_scalar(end, dtype)


def logspace(start, end, steps: int, base: float = 10.0, *, out=None, dtype=None,
             layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)`` (default dtype)."""
    start, end, steps = _item(start), _item(end), _steps_arg(steps)
    dtype = _dtype(dtype) or (out.dtype if out is not None else _backend.get_default_dtype())
    start, end = _bounds_in(start, end, dtype)
    dev = _backend.to_device(device if device is not None or out is None else out.device)

    def make(xp):
        exponents = _linspace_values(xp, start, end, steps, np.dtype(np.float64))
        with np.errstate(over="ignore"):  # a float16 result may overflow to inf, silently
            return cast(xp.power(np.float64(base), exponents), dtype.np)

    return finish(on_device(dev, make), out, requires_grad)


# ----------------------------------------------------------------------------- *_like / new_*

def _no_sparse_like(name: str, input: Tensor, layout) -> None:
    if _sparse(layout) or layout is None and type(input._data) is SparseCOO:
        raise not_implemented(f"{name} (fill_)", input._data)


def _like_args(input: Tensor, dtype, device):
    return (dtype if dtype is not None else input.dtype,
            device if device is not None else input.device)


def zeros_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """Zeros of ``input``'s shape, dtype and device (unless given); sparse (without
    entries) for a sparse ``input`` or ``layout=dark.sparse_coo``."""
    dtype, device = _like_args(input, dtype, device)
    if _sparse(layout) or layout is None and type(input._data) is SparseCOO:
        sparse_dim = input._data.sparse_dim if type(input._data) is SparseCOO else None
        return _fill("zeros_like", lambda xp, s, d: empty_coo(xp, s, d, sparse_dim),
                     (tuple(input.shape),), None, dtype, device, requires_grad)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """Ones of ``input``'s shape, dtype and device (unless given)."""
    _no_sparse_like("ones_like", input, layout)
    dtype, device = _like_args(input, dtype, device)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """An uninitialised tensor of ``input``'s shape, dtype and device (unless given)."""
    if _sparse(layout) or layout is None and type(input._data) is SparseCOO:
        return zeros_like(input, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)
    dtype, device = _like_args(input, dtype, device)
    return empty(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """``fill_value`` in ``input``'s shape, dtype and device (unless given)."""
    _no_sparse_like("full_like", input, layout)
    dtype, device = _like_args(input, dtype, device)
    return full(tuple(input.shape), fill_value, dtype=dtype, device=device,
                requires_grad=requires_grad)


@tensor_method()
def new_zeros(self, *size, dtype=None, layout=None, device=None, requires_grad: bool = False,
              pin_memory: bool = False) -> Tensor:
    """Zeros of ``size`` with this tensor's dtype and device (unless given)."""
    dtype, device = _like_args(self, dtype, device)
    return _fill("new_zeros", lambda xp, s, d: xp.zeros(s, dtype=d), size, None, dtype, device,
                 requires_grad, pin_memory)


@tensor_method()
def new_ones(self, *size, dtype=None, layout=None, device=None, requires_grad: bool = False,
             pin_memory: bool = False) -> Tensor:
    """Ones of ``size`` with this tensor's dtype and device (unless given)."""
    dtype, device = _like_args(self, dtype, device)
    return ones(*size, dtype=dtype, device=device, requires_grad=requires_grad,
                pin_memory=pin_memory)


@tensor_method()
def new_empty(self, *size, dtype=None, layout=None, device=None, requires_grad: bool = False,
              pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` with this tensor's dtype and device."""
    dtype, device = _like_args(self, dtype, device)
    return empty(*size, dtype=dtype, device=device, requires_grad=requires_grad,
                 pin_memory=pin_memory)


@tensor_method()
def new_full(self, size, fill_value, *, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """``fill_value`` in ``size`` with this tensor's dtype and device (unless given)."""
    dtype, device = _like_args(self, dtype, device)
    return full(size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad,
                pin_memory=pin_memory)


@tensor_method()
def new_tensor(self, data, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype and device (unless given)."""
    if isinstance(data, Tensor):
        warnings.warn(_COPY_WARNING, UserWarning, stacklevel=2)
    dtype, device = _like_args(self, dtype, device)
    dtype = _backend.to_dtype(dtype)
    out = Tensor._make(array_from_data(data, dtype, _backend.to_device(device)))
    if requires_grad:
        out.requires_grad_(True)
    return out


__all__ = ["arange", "as_tensor", "asarray", "empty", "empty_like", "eye", "from_numpy",
           "full", "full_like", "linspace", "logspace", "ones", "ones_like", "scalar_tensor",
           "tensor", "zeros", "zeros_like"]
