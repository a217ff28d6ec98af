"""PyTorch's legacy tensor types and the deprecated default-type switch, as torch 2.13 has them.

``dark.FloatTensor``, ``dark.LongTensor`` ... (and ``dark.cuda.FloatTensor`` ...) are not
classes of tensors: as torch's ``tensortype`` objects they build a plain ``dark.Tensor`` of
their dtype and device when called (``FloatTensor(2, 3)`` uninitialised, ``FloatTensor([1,
2])`` from data, ``FloatTensor(t)`` an alias of a tensor of that type, ``FloatTensor()``
empty), and ``isinstance(x, dark.FloatTensor)`` is true exactly for a float32 tensor on the
CPU. ``x.type(dark.LongTensor)``, ``x.type('torch.LongTensor')`` convert as torch's
``Tensor.type`` does; ``x.type()`` names the type ('dark.FloatTensor', dark's spelling of
torch's name, as every dark message and the types' own names spell it).
``set_default_tensor_type`` sets the default dtype (and, for a cuda type, the default device)
with torch's deprecation warning."""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import _backend
from ._tensor import Size, Tensor, array_from_data, install_methods
from .ops import creation as _creation
from .ops import elementwise as _elementwise

# name: dtype, in torch's order
_TYPES = {"Double": _backend.float64, "Float": _backend.float32, "Half": _backend.float16,
          "Long": _backend.int64, "Int": _backend.int32, "Short": _backend.int16,
          "Char": _backend.int8, "Byte": _backend.uint8, "Bool": _backend.bool_,
          "BFloat16": _backend.bfloat16}  # its tensors need the optional ml_dtypes

_SIGNATURES = ("but expected one of:\n"
               " * (*, dark.device device = None)\n"
               "{why}"
               " * (dark.Storage storage)\n"
               " * (Tensor other)\n"
               " * (tuple of ints size, *, dark.device device = None)\n"
               " * (object data, *, dark.device device = None)\n")


def _type_name(value) -> str:
    if isinstance(value, Tensor):
        return "Tensor"
    if isinstance(value, _backend.dtype):
        return "dark.dtype"
    if isinstance(value, _backend.device):
        return "dark.device"
    return type(value).__name__


def _options(dtype, device) -> str:
    return (f"TensorOptions(dtype={dtype.cpp_name}, device={device}, layout=Strided, "
            f"requires_grad=false (default), pinned_memory=false (default), "
            f"memory_format=(nullopt))")


class tensortype(type):
    """The type of ``dark.FloatTensor`` and its kin (torch's ``torch.tensortype``)."""

    dtype: _backend.dtype
    is_cuda: bool
    is_sparse = False

    def __instancecheck__(cls, instance) -> bool:
        return (isinstance(instance, Tensor) and instance.dtype is cls.dtype
                and instance.device.type == cls._device_type)

    def __subclasscheck__(cls, subclass) -> bool:
        return subclass is cls

    def __call__(cls, *args, **kwargs) -> Tensor:
        return cls._new(args, kwargs)

    # ------------------------------------------------------------------ construction
    def _device(cls, kwargs):
        device = kwargs.pop("device", None)
        if device is None:
            device = _backend.device(cls._device_type)
        device = _backend.to_device(device)
        if device.type != cls._device_type:
            raise RuntimeError(f"legacy constructor expects device type: {cls._device_type} "
                               f"but device type: {device.type} was passed")
        if device.type == "cuda":
            cls._need_cuda()
        return device

    def _need_cuda(cls) -> None:
        if not _backend.cuda_available():
            try:
                _backend.cupy_module()
                reason = "CUDA is not available: no GPU is visible."
            except RuntimeError as error:
                reason = str(error)
            raise TypeError(f"type {cls._qualified} not available. {reason}")

    def _invalid(cls, args, kwargs, why) -> TypeError:
        got = ", ".join([_type_name(a) for a in args]
                        + [f"{k}={_type_name(v)}" for k, v in kwargs.items()])
        return TypeError(f"new() received an invalid combination of arguments - got ({got}), "
                         + _SIGNATURES.format(why=why))

    def _new(cls, args, kwargs):
        if cls._device_type == "cuda":
            cls._need_cuda()
        unknown = [k for k in kwargs if k not in ("device", "size")]
        if unknown:
            raise cls._invalid(args, kwargs, "      didn't match because some of the keywords "
                                             f"were incorrect: {', '.join(unknown)}\n")
        has_device = "device" in kwargs
        kwargs = dict(kwargs)
        if "size" in kwargs:
            if args:
                raise cls._invalid(args, kwargs, "")
            args = (Size(kwargs.pop("size")),)
        device = cls._device(kwargs)
        if not args:
            return _creation.empty(0, dtype=cls.dtype, device=device)
        first = args[0]
        if len(args) == 1 and isinstance(first, Tensor):
            if has_device:
                raise RuntimeError("Legacy tensor constructor of the form dark.Tensor(tensor, "
                                   "device=device) is not supported.  Use dark.tensor(...) or "
                                   "dark.as_tensor(...) instead.")
            if first.dtype is not cls.dtype or first.device.type != device.type:
                raise TypeError(f"expected {_options(cls.dtype, device)} (got "
                                f"{_options(first.dtype, first.device)})")
            return first[...]
        if len(args) == 1 and not _is_size(first):
            if isinstance(first, (str, bytes)):
                raise TypeError(f"new(): invalid data type '{type(first).__name__}'")
            if not isinstance(first, np.ndarray) and not hasattr(first, "__len__") and not (
                    hasattr(first, "__iter__")):
                raise TypeError(f"new(): data must be a sequence (got {type(first).__name__})")
            if isinstance(first, range):
                first = list(first)
            return Tensor._make(array_from_data(first, cls.dtype, device))
        if any(isinstance(a, Tensor) for a in args):
            raise cls._invalid(args, {}, "      didn't match because some of the arguments have "
                                         "invalid types: ("
                                         + ", ".join(f"!{_type_name(a)}!" for a in args) + ")\n")
        shape = tuple(first) if len(args) == 1 and isinstance(first, tuple) else args
        for position, size in enumerate(shape, 1):
            if not _is_int(size):
                raise TypeError(f"new(): argument 'size' failed to unpack the object at pos "
                                f"{position} with error \"type must be tuple of ints,but got "
                                f"{type(size).__name__}\"")
        shape = tuple(int(s) for s in shape)
        return _creation.empty(shape, dtype=cls.dtype, device=device)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_size(value) -> bool:
    """A size argument: an int (not a bool) or a dark.Size; a plain tuple or list is data."""
    return _is_int(value) or isinstance(value, Size)


def _make_type(scalar: str, dtype, device_type: str):
    module = "dark" if device_type == "cpu" else "dark.cuda"
    name = f"{scalar}Tensor"
    cls = tensortype(name, (), {"__module__": module, "__qualname__": name,
                                "__doc__": f"The legacy {module}.{name}: a {dtype} tensor "
                                           f"on the {device_type.upper()}."})
    cls.dtype = dtype
    cls.is_cuda = device_type == "cuda"
    cls._device_type = device_type
    cls._qualified = f"{module}.{name}"
    return cls


CPU_TYPES = {f"{s}Tensor": _make_type(s, d, "cpu") for s, d in _TYPES.items()}
CUDA_TYPES = {f"{s}Tensor": _make_type(s, d, "cuda") for s, d in _TYPES.items()}

FloatTensor = CPU_TYPES["FloatTensor"]
DoubleTensor = CPU_TYPES["DoubleTensor"]
HalfTensor = CPU_TYPES["HalfTensor"]
LongTensor = CPU_TYPES["LongTensor"]
IntTensor = CPU_TYPES["IntTensor"]
ShortTensor = CPU_TYPES["ShortTensor"]
CharTensor = CPU_TYPES["CharTensor"]
ByteTensor = CPU_TYPES["ByteTensor"]
BoolTensor = CPU_TYPES["BoolTensor"]
BFloat16Tensor = CPU_TYPES["BFloat16Tensor"]


def _by_name(name: str):
    """The legacy type named 'torch.FloatTensor' / 'dark.cuda.LongTensor' ..., or None."""
    for prefix, types in (("torch.cuda.", CUDA_TYPES), ("dark.cuda.", CUDA_TYPES),
                          ("torch.", CPU_TYPES), ("dark.", CPU_TYPES)):
        if name.startswith(prefix):
            return types.get(name[len(prefix):])
    return None


# ----------------------------------------------------------------------------- Tensor.type

def _convert(self: Tensor, legacy, non_blocking: bool) -> Tensor:
    if legacy._device_type == "cuda":  # without a GPU, to() says why
        device = self.device if self.device.type == "cuda" else "cuda"
        return _elementwise.to(self, device, legacy.dtype, non_blocking=non_blocking)
    return _elementwise.to(self, "cpu", legacy.dtype, non_blocking=non_blocking)


def tensor_type(self: Tensor, dtype=None, non_blocking: bool = False, **kwargs) -> Tensor | str:
    """With no dtype, the type's name ('dark.FloatTensor', 'dark.cuda.LongTensor'); else this
    tensor converted to ``dtype``: a dark.dtype, a legacy type (``dark.LongTensor``) or its
    name ('torch.LongTensor' or 'dark.LongTensor'), or ``dark.Tensor`` (the default dtype).
    Returns the tensor itself when it already has that type."""
    unknown = [k for k in kwargs if k != "async"]
    if unknown:
        raise TypeError(f"type() got an unexpected keyword argument '{unknown[0]}'")
    non_blocking = non_blocking or bool(kwargs.get("async", False))
    if dtype is None:
        return _backend.tensor_type_name(self._data)
    if isinstance(dtype, str):
        legacy = _by_name(dtype)
        if legacy is None:
            raise ValueError(f"invalid type: '{dtype}'")
        return _convert(self, legacy, non_blocking)
    if isinstance(dtype, tensortype):
        return _convert(self, dtype, non_blocking)
    if dtype is Tensor:
        return _elementwise.to(self, _backend.get_default_dtype())
    if isinstance(dtype, _backend.dtype):
        return _elementwise.to(self, dtype, non_blocking=non_blocking)
    if isinstance(dtype, type):
        module = "" if dtype.__module__ == "builtins" else dtype.__module__ + "."
        raise ValueError(f"invalid type: '{module}{dtype.__qualname__}'")
    raise TypeError("dtype must be a type, str, or dtype object")


install_methods({"type": tensor_type})


# ----------------------------------------------------------------------------- default type

def set_default_tensor_type(t) -> None:
    """Deprecated as in torch: the default floating dtype (and, for a cuda type, the default
    device) becomes those of the legacy type ``t`` (``dark.DoubleTensor`` or its name)."""
    warnings.warn("dark.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "dark.set_default_dtype() and dark.set_default_device() as alternatives.",
                  UserWarning, stacklevel=2)
    if isinstance(t, str):
        legacy = _by_name(t)
        if legacy is None:
            raise TypeError(f"invalid type: '{t}'")
        t = legacy
    if not isinstance(t, tensortype):
        raise TypeError("invalid type object: only floating-point types are supported as the "
                        "default type")
    if not t.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    if t._device_type == "cuda":
        t._need_cuda()
    _backend.set_default_dtype(t.dtype)
    global _device_by_type
    if t._device_type == "cuda":
        _backend.set_default_device("cuda")
        _device_by_type = True
    elif _device_by_type:  # a CPU type undoes what a cuda type did (not set_default_device)
        _backend.set_default_device(None)
        _device_by_type = False


_device_by_type = False  # whether a cuda type made cuda the default device


__all__ = ["BFloat16Tensor", "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor",
           "FloatTensor", "HalfTensor", "IntTensor", "LongTensor", "ShortTensor",
           "set_default_tensor_type"]
