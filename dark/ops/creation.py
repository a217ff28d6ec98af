"""Tensor factories: tensor, as_tensor, from_numpy, zeros, ones, full, empty, eye, arange,
linspace and the *_like / new_* forms."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ._registry import tensor_method


def _infer_dtype(data) -> _backend.dtype:
    """PyTorch's inference: bool -> bool, int -> int64, float -> default, numpy keeps its own."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (np.ndarray, np.generic)):
        return _backend.from_numpy_dtype(data.dtype)
    if hasattr(data, "__cuda_array_interface__"):
        return _backend.from_numpy_dtype(data.dtype)
    if isinstance(data, bool):
        return _backend.bool_
    if isinstance(data, numbers.Integral):
        return _backend.int64
    if isinstance(data, complex):
        return _backend.complex64 if _backend.get_default_dtype() is _backend.float32 \
            else _backend.complex128
    if isinstance(data, numbers.Real):
        return _backend.get_default_dtype()
    if isinstance(data, (list, tuple)):
        if not data:
            return _backend.get_default_dtype()
        result = None
        for item in data:
            d = _infer_dtype(item)
            result = d if result is None else _backend.promote_types(result, d)
        return result
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _to_nested_host(data):
    """Replace tensors inside nested lists by host arrays / numbers so numpy can read them."""
    if isinstance(data, Tensor):
        return data._data if data.is_cpu else data._data.get()
    if isinstance(data, (list, tuple)):
        return [_to_nested_host(item) for item in data]
    return data


def _array_from_data(data, dtype: _backend.dtype, device: _backend.device):
    """A new array holding ``data`` (copied) on ``device``."""
    if hasattr(data, "__cuda_array_interface__") and not isinstance(data, Tensor):
        return _backend.asarray_on(data, device, dtype.np).copy()
    host = _to_nested_host(data)
    try:
        array = np.array(host, dtype=dtype.np)
    except ValueError as error:
        raise ValueError(f"expected a sequence of equal-length sequences: {error}") from None
    if array.dtype == object:
        raise TypeError(f"can't build a tensor from {type(data).__name__}")
    if device.type != "cpu":
        return _backend.asarray_on(array, device)
    return array


def _resolve(dtype, device):
    dev = _backend.to_device(device)
    return (_backend.to_dtype(dtype) if dtype is not None else None), dev


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor copying ``data`` (a number, nested lists, a numpy array or a tensor)."""
    dtype, dev = _resolve(dtype, device)
    if isinstance(data, Tensor) and device is None:
        dev = data.device
    if dtype is None:
        dtype = _infer_dtype(data)
    out = Tensor._make(_array_from_data(data, dtype, dev))
    if requires_grad:
        out.requires_grad_(True)
    return out


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory when the dtype and device already match."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device) if (dtype or device) else data
    if isinstance(data, np.ndarray) and (device is None or _backend.to_device(device).type
                                         == "cpu"):
        out = from_numpy(data)
        return out.to(dtype) if dtype is not None else out
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the numpy array (same dtype)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    _backend.from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def _shape(size) -> tuple:
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a tuple of ints, but got an element of type "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
    return tuple(int(s) for s in size)


def _factory(fill, size, dtype, device, requires_grad, value=None):
    dtype, dev = _resolve(dtype, device)
    if dtype is None:
        dtype = _backend.get_default_dtype() if value is None else _infer_dtype(value)
    xp = _backend.module_for(dev)
    shape = _shape(size)
    if dev.type == "cuda":
        with xp.cuda.Device(_backend.cuda_index(dev)):
            array = fill(xp, shape, dtype.np)
    else:
        array = fill(xp, shape, dtype.np)
    out = Tensor._make(array)
    if requires_grad:
        out.requires_grad_(True)
    return out


def zeros(*size, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _factory(lambda xp, s, d: xp.zeros(s, dtype=d), size, dtype, device, requires_grad)


def ones(*size, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _factory(lambda xp, s, d: xp.ones(s, dtype=d), size, dtype, device, requires_grad)


def empty(*size, out=None, dtype=None, device=None, requires_grad=False,
          memory_format=None, pin_memory=False) -> Tensor:
    return _factory(lambda xp, s, d: xp.empty(s, dtype=d), size, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _factory(lambda xp, s, d: xp.full(s, fill_value, dtype=d), (tuple(size),), dtype,
                    device, requires_grad, value=fill_value)


def _like(function, input: Tensor, dtype, device, requires_grad, *args):
    return function(*args, dtype=dtype if dtype is not None else input.dtype,
                    device=device if device is not None else input.device,
                    requires_grad=requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(zeros, input, dtype, device, requires_grad, input.shape)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(ones, input, dtype, device, requires_grad, input.shape)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(empty, input, dtype, device, requires_grad, input.shape)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,
              memory_format=None):
    return full(input.shape, fill_value, dtype=dtype if dtype is not None else input.dtype,
                device=device if device is not None else input.device,
                requires_grad=requires_grad)


@tensor_method()
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    return _like(zeros, self, dtype, device, requires_grad, *size)


@tensor_method()
def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    return _like(ones, self, dtype, device, requires_grad, *size)


@tensor_method()
def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    return _like(empty, self, dtype, device, requires_grad, *size)


@tensor_method()
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(size, fill_value, dtype=dtype if dtype is not None else self.dtype,
                device=device if device is not None else self.device,
                requires_grad=requires_grad)


@tensor_method()
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype if dtype is not None else self.dtype,
                  device=device if device is not None else self.device,
                  requires_grad=requires_grad)

__all__ = ['as_tensor', 'empty', 'empty_like', 'from_numpy', 'full', 'full_like', 'ones', 'ones_like', 'tensor', 'zeros', 'zeros_like']
