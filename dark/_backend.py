"""Devices, dtypes and array modules: 'cpu' is numpy, 'cuda[:i]' is CuPy (imported lazily); dims
and shapes; python numbers and arrays cast into a dtype as PyTorch casts them."""
from __future__ import annotations

import builtins
import math
import numbers
import sys
import threading
import warnings

import numpy as np


def quiet_floating_point_warnings() -> None:
    """PyTorch computes inf and NaN silently; numpy warns ("invalid value encountered in
    multiply"). One filter, put in front at import, ignores the warnings that numpy's
    floating-point checks raise from dark's own modules (numpy attributes them to the module
    that called the ufunc): numpy called by user code still warns, and filters added after
    ``import dark`` (pytest's ``filterwarnings("error")``) come before this one."""
    warnings.filterwarnings(
        "ignore", message=r"(invalid value|divide by zero|overflow|underflow) encountered",
        category=RuntimeWarning, module=r"dark\.")


quiet_floating_point_warnings()

_cupy = None
_cupy_error: str | None = None
_device_count = 0


def _import_cupy():
    """``import cupy`` (a function of its own so that tests can simulate its outcomes)."""
    import cupy  # noqa: PLC0415 - CuPy is optional and imported only for CUDA

    return cupy


def cupy_module():
    """Import CuPy on first use; raise a RuntimeError saying why CUDA cannot be used (CuPy
    not installed, or installed but no GPU visible). The answer is remembered."""
    global _cupy, _cupy_error, _device_count
    if _cupy is not None:
        return _cupy
    if _cupy_error is None:
        try:
            cupy = _import_cupy()
        except ImportError as error:
            _cupy_error = ("CUDA is not available: CuPy is not installed "
                           f"({error}); install it with pip install -e '.[cuda12]' or "
                           "'.[cuda13]' (the CUDA major version nvidia-smi shows)")
            raise RuntimeError(_cupy_error) from None
        try:
            count = int(cupy.cuda.runtime.getDeviceCount())
        except Exception as error:  # the CUDA runtime raises its own error types
            _cupy_error = ("CUDA is not available: CuPy is installed but no GPU is visible "
                           f"(no usable NVIDIA driver or device: {error})")
            raise RuntimeError(_cupy_error) from None
        if count == 0:
            _cupy_error = ("CUDA is not available: CuPy is installed but no GPU is visible "
                           "(the CUDA runtime reports 0 devices; check CUDA_VISIBLE_DEVICES)")
        else:
            _cupy, _device_count = cupy, count
            return cupy
    raise RuntimeError(_cupy_error)


def cuda_available() -> bool:
    try:
        cupy_module()
    except RuntimeError:
        return False
    return True


def cuda_device_count() -> int:
    """The number of visible GPUs (0 without CuPy or a GPU)."""
    return _device_count if cuda_available() else 0


def check_cuda_index(index: int) -> int:
    """``index`` if it names a visible GPU; else a RuntimeError that says how many there are."""
    cupy_module()
    if not 0 <= index < _device_count:
        raise RuntimeError(f"CUDA error: invalid device ordinal: cuda:{index} is out of range "
                           f"({_device_count} GPU{'s' if _device_count != 1 else ''} visible, "
                           f"indices 0..{_device_count - 1})")
    return index


# ----------------------------------------------------------------------------- dtypes

class dtype:
    """A tensor element type (``dark.float32`` ...), wrapping a numpy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "is_complex",
                 "scalar_name", "cpp_name")

    def __init__(self, name: str, np_dtype, scalar_name: str, cpp_name: str):
        self.name = name
        self.np = np.dtype(np_dtype)
        # PyTorch's two spellings of the type in its messages: the scalar-type name
        # ("Float", as in FloatTensor) and the C++ name ("float", as in "float != double").
        self.scalar_name = scalar_name
        self.cpp_name = cpp_name
        self.is_floating_point = self.np.kind == "f"
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.np.kind in "fic"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"dark.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self) -> dtype:
        return self


float16 = dtype("float16", np.float16, "Half", "c10::Half")
float32 = dtype("float32", np.float32, "Float", "float")
float64 = dtype("float64", np.float64, "Double", "double")
int8 = dtype("int8", np.int8, "Char", "signed char")
int16 = dtype("int16", np.int16, "Short", "short int")
int32 = dtype("int32", np.int32, "Int", "int")
int64 = dtype("int64", np.int64, "Long", "long int")
uint8 = dtype("uint8", np.uint8, "Byte", "unsigned char")
bool_ = dtype("bool", np.bool_, "Bool", "bool")
complex64 = dtype("complex64", np.complex64, "ComplexFloat", "c10::complex<float>")
complex128 = dtype("complex128", np.complex128, "ComplexDouble", "c10::complex<double>")

_ALL_DTYPES = (float16, float32, float64, int8, int16, int32, int64, uint8, bool_,
               complex64, complex128)
_FROM_NP = {d.np: d for d in _ALL_DTYPES}
_BY_NAME = {d.name: d for d in _ALL_DTYPES}


class _BFloat16(dtype):
    """``dark.bfloat16``: numpy has no bfloat16, the optional ml_dtypes package gives its
    numpy dtype (kind 'V'). The name always exists; ml_dtypes is imported the first time the
    numpy dtype is needed (a tensor is made), with a clear error when it is not installed."""

    __slots__ = ()
    _np_slot = dtype.np  # the base class's slot, filled on first use

    def __init__(self):
        self.name, self.scalar_name, self.cpp_name = "bfloat16", "BFloat16", "c10::BFloat16"
        self.is_floating_point, self.is_complex, self.is_signed = True, False, True
        self.itemsize = 2

    @property
    def np(self):
        try:
            return _BFloat16._np_slot.__get__(self)
        except AttributeError:
            return _load_bfloat16()


bfloat16 = _BFloat16()
_BY_NAME["bfloat16"] = bfloat16
# callables run once when the bfloat16 numpy dtype is first loaded (the op dispatch of
# dark.amp registers its bfloat16 path here)
on_bfloat16_load: list = []


def _load_bfloat16():
    try:
        import ml_dtypes  # noqa: PLC0415 - optional: bfloat16 needs it, nothing else does
    except ImportError:
        raise RuntimeError("bfloat16 tensors need the ml_dtypes package (numpy has no "
                           "bfloat16): pip install ml_dtypes, or pip install 'dark[bfloat16]'"
                           ) from None
    np_dtype = np.dtype(ml_dtypes.bfloat16)
    _BFloat16._np_slot.__set__(bfloat16, np_dtype)
    _FROM_NP[np_dtype] = bfloat16
    _RANGES[np_dtype] = (-float(ml_dtypes.finfo(np_dtype).max),
                         float(ml_dtypes.finfo(np_dtype).max))
    for callback in on_bfloat16_load:
        callback(np_dtype)
    return np_dtype


def is_bfloat16(np_dtype) -> bool:
    """Whether ``np_dtype`` is ml_dtypes' bfloat16 (False while it was never loaded)."""
    return _FROM_NP.get(np_dtype) is bfloat16


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def scalar_name(np_dtype) -> str:
    """PyTorch's scalar-type name of a numpy dtype ("Float" for float32, as in FloatTensor)."""
    found = _FROM_NP.get(np.dtype(np_dtype))
    return found.scalar_name if found is not None else np.dtype(np_dtype).name


def tensor_type_name(array) -> str:
    """``x.type()`` of a tensor holding ``array``: 'dark.FloatTensor', 'dark.cuda.LongTensor'."""
    prefix = "dark." if isinstance(array, np.ndarray) else "dark.cuda."
    return f"{prefix}{scalar_name(array.dtype)}Tensor"


def from_numpy_dtype(np_dtype) -> dtype:
    """The dark dtype of a numpy dtype; TypeError for one dark cannot hold."""
    found = _FROM_NP.get(np_dtype)  # a numpy dtype (an array's): no np.dtype() call
    if found is not None:
        return found
    found = _FROM_NP.get(np.dtype(np_dtype))
    if found is None and np.dtype(np_dtype).name == "bfloat16":  # an ml_dtypes array first
        _load_bfloat16()
        found = _FROM_NP.get(np.dtype(np_dtype))
    if found is None:
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only "
                        "supported types are: float64, float32, float16, complex64, complex128, "
                        "int64, int32, int16, int8, uint8, and bool.")
    return found


def to_dtype(value) -> dtype:
    """Accept a dark dtype, or the python types float / int / bool as PyTorch does."""
    if type(value) is dtype or value is bfloat16:
        return value
    if value is builtins.float:
        return float64
    if value is builtins.int:
        return int64
    if value is builtins.bool:
        return bool_
    if value is builtins.complex:
        return complex128
    raise TypeError(f"dtype must be a dark.dtype (such as dark.float32), not "
                    f"{type(value).__name__} {value!r}")


_default_dtype = float32


to_dtype_ = to_dtype


def get_default_dtype() -> dtype:
    return _default_dtype


def set_default_dtype(d) -> None:
    global _default_dtype
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def promote_types(a: dtype, b: dtype) -> dtype:
    """PyTorch's promote_types: a float wins over any integer, bool loses to everything."""
    if a is b:
        return a
    a_rank, b_rank = _category(a), _category(b)
    if a_rank != b_rank:
        higher, lower = (a, b) if a_rank > b_rank else (b, a)
        if higher is complex64 and lower is float64:  # the float's precision stays
            return complex128
        return higher
    if a is bfloat16 or b is bfloat16:  # known without ml_dtypes: with float16 it is float32
        other = b if a is bfloat16 else a
        return float32 if other is float16 else other
    return _FROM_NP[np.promote_types(a.np, b.np)]


def can_cast(from_dtype, to_dtype) -> bool:
    """PyTorch's casting rule for in-place and out= results: no float to integer, no
    complex to real, nothing but bool to bool."""
    from_dtype, to_dtype = to_dtype_(from_dtype), to_dtype_(to_dtype)
    if from_dtype.is_complex and not to_dtype.is_complex:
        return False
    if from_dtype.is_floating_point and not (to_dtype.is_floating_point or to_dtype.is_complex):
        return False
    return from_dtype is bool_ or to_dtype is not bool_


def _category(d: dtype) -> int:
    if d is bool_:
        return 0
    if d.is_complex:
        return 3
    if d.is_floating_point:
        return 2
    return 1


def scalar_dtype(value) -> dtype:
    """The dtype PyTorch gives a python number that takes part in an op as a 'wrapped number'."""
    if isinstance(value, builtins.bool):
        return bool_
    if isinstance(value, builtins.int):
        return int64
    if isinstance(value, builtins.complex):
        return complex64 if _default_dtype is float32 else complex128
    return _default_dtype


def result_type(*operands) -> dtype:
    """PyTorch's result_type over tensors or raw arrays (by dimension: >0-d, 0-d) and python
    scalars. Each class is promoted within itself; a lower-priority class changes the result
    only when it is of a higher category (an int tensor times 2.5 is float32, not float64)."""
    dim_result = zero_result = wrapped_result = None
    for operand in operands:
        array = getattr(operand, "_data", operand)
        if isinstance(array, np.generic):  # numpy scalars count as python numbers, as in torch
            operand = array = array.item()
        if hasattr(array, "dtype") and hasattr(array, "ndim"):
            d = _FROM_NP.get(array.dtype) or from_numpy_dtype(array.dtype)
            if array.ndim:
                dim_result = d if dim_result is None else promote_types(dim_result, d)
            else:
                zero_result = d if zero_result is None else promote_types(zero_result, d)
        elif operand is not None:
            d = scalar_dtype(operand)
            wrapped_result = d if wrapped_result is None else promote_types(wrapped_result, d)
    return _combine(dim_result, _combine(zero_result, wrapped_result))


def _combine(higher, lower):
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_complex:
        return higher
    if higher.is_floating_point and not lower.is_complex:
        return higher
    if higher.is_floating_point and lower.is_complex:  # torch: the complex of higher's precision
        return complex128 if higher is float64 else complex64
    if higher is bool_ or lower.is_floating_point or lower.is_complex:
        return promote_types(higher, lower)
    return higher


# ----------------------------------------------------------------------------- devices

class device:
    """``dark.device('cpu')``, ``dark.device('cuda:1')``, ``dark.device('cuda', 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type_or_str, index: int | None = None):
        if isinstance(type_or_str, device):
            self.type, self.index = type_or_str.type, type_or_str.index
            return
        if isinstance(type_or_str, builtins.int) and index is None:
            self.type, self.index = "cuda", type_or_str
            return
        if not isinstance(type_or_str, str):
            raise TypeError(f"device() expects a string like 'cpu' or 'cuda:0', "
                            f"got {type(type_or_str).__name__}")
        text = type_or_str.strip()
        kind, _, number = text.partition(":")
        if kind not in ("cpu", "cuda") or (number and not number.isdigit()):
            raise RuntimeError("Expected one of cpu, cuda device type at start of device "
                               f"string: {type_or_str}")
        if number:
            if index is not None:
                raise RuntimeError(f"device string '{text}' already has an index; "
                                   f"got index={index} too")
            index = builtins.int(number)
        if kind == "cpu" and index not in (None, 0):
            raise RuntimeError(f"CPU device index must be -1 or zero, got {index}")
        self.type = kind
        self.index = index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (str(self),))

    def __enter__(self) -> device:
        """``with dark.device(d):`` the factories' default device is ``d`` inside (torch's
        device context), the previous one again after."""
        stack = getattr(_default_device, "stack", None)
        if stack is None:
            stack = _default_device.stack = []
        stack.append(getattr(_default_device, "device", None))
        _default_device.device = self
        return self

    def __exit__(self, *exc) -> None:
        _default_device.device = _default_device.stack.pop()


CPU = device("cpu")
_cuda_devices: dict[int, device] = {}


# The default device of the factories (set_default_device): one per thread, as torch's
_default_device = threading.local()


def to_device(value) -> device:
    """``value`` as a device; None is the default device (CPU unless set_default_device)."""
    if type(value) is device:
        return value
    if value is None:
        return getattr(_default_device, "device", None) or CPU
    return device(value)


def set_default_device(value) -> None:
    """The device the factory functions use when not given one (None: the CPU), for the
    calling thread, as torch.set_default_device."""
    _default_device.device = None if value is None else device(value)


def default_device_set() -> device | None:
    """The device set_default_device gave this thread (None when none is): as_tensor and
    asarray move even a tensor or array there, as torch's."""
    return getattr(_default_device, "device", None)


def get_default_device() -> device:
    """The factories' default device; 'cuda' without an index reads the current GPU's."""
    dev = to_device(None)
    if dev.type == "cuda" and dev.index is None:
        return device("cuda", cuda_index(dev))
    return dev


def cuda_index(dev: device) -> int:
    """The GPU index of a cuda device ('cuda' alone: the current GPU), checked to be in
    range when CUDA is available (without it, the caller's next CuPy use says why not)."""
    if dev.index is not None:
        if cuda_available():
            check_cuda_index(dev.index)
        return dev.index
    return cupy_module().cuda.runtime.getDevice()


def array_module(array):
    """numpy for a numpy array (or scalar), cupy for a cupy array: the one accessor of the
    array module (a Tensor's is ``array_module(t._data)``)."""
    if type(array) is np.ndarray or isinstance(array, (np.ndarray, np.generic)):
        return np
    return cupy_module().get_array_module(array)


def module_for(dev: device):
    return np if dev.type == "cpu" else cupy_module()


def device_of(array) -> device:
    if isinstance(array, (np.ndarray, np.generic)):
        return CPU
    dev = array.device
    if type(dev) is device:  # a sparse tensor's storage (dark._sparse) names its device
        return dev
    index = dev.id
    found = _cuda_devices.get(index)
    if found is None:
        found = _cuda_devices[index] = device("cuda", index)
    return found


def asarray_on(array, dev: device, np_dtype=None):
    """Copy or convert ``array`` to the device ``dev`` (a no-op when it is already there)."""
    if dev.type == "cpu":
        if not isinstance(array, (np.ndarray, np.generic)) and hasattr(array, "get"):
            array = array.get()
        return np.asarray(array, dtype=np_dtype)
    cupy = cupy_module()
    with cupy.cuda.Device(cuda_index(dev)):
        return cupy.asarray(array, dtype=np_dtype)


# ----------------------------------------------------------------------------- pinned memory

def pin_array(array):
    """A copy of the numpy array ``array`` in page-locked (pinned) host memory, from which
    copies to a GPU are faster (``array`` itself when it is pinned already). A RuntimeError
    without CUDA, as PyTorch's ``Tensor.pin_memory()``, and for an array on a GPU."""
    if not isinstance(array, np.ndarray):
        raise RuntimeError(f"cannot pin an array on '{device_of(array)}': only dense CPU "
                           "tensors can be pinned")
    try:
        cupy_module()
    except RuntimeError as error:
        raise RuntimeError("Cannot access accelerator device when none is available. "
                           f"({error})") from None
    if is_pinned_array(array):
        return array
    import cupyx  # noqa: PLC0415 - part of CuPy, imported only once CUDA is in use

    pinned = cupyx.empty_pinned(array.shape, dtype=array.dtype)
    np.copyto(pinned, array)
    return pinned


def is_pinned_array(array) -> bool:
    """Whether ``array`` is a numpy array in pinned host memory. False without CUDA, and
    without asking CuPy when nothing imported it (then nothing can have pinned memory)."""
    if not isinstance(array, np.ndarray) or array.size == 0 or "cupy" not in sys.modules \
            or not cuda_available():
        return False
    runtime = _cupy.cuda.runtime
    return runtime.pointerGetMemoryType(array.ctypes.data) == runtime.memoryTypeHost


_promote_cache: dict = {}

try:  # numpy >= 2: the error state is a context variable holding an opaque extobj
    from numpy._core._ufunc_config import _extobj_contextvar
except ImportError:  # numpy 1.x: np.errstate
    _extobj_contextvar = None

# the "ignore all" extobj made from each current one (bufsize and errcall kept): setting it
# costs a tenth of entering np.errstate(all="ignore"), which rebuilds it every time
_silent_extobjs: dict = {}


def _silent_extobj(current):
    """The "ignore all" error state made from ``current`` (kept, at most 64 of them)."""
    with np.errstate(all="ignore"):
        silent = _extobj_contextvar.get()
    if len(_silent_extobjs) > 64:
        _silent_extobjs.clear()
    _silent_extobjs[current] = silent
    return silent


if _extobj_contextvar is not None:
    _get_extobj, _set_extobj = _extobj_contextvar.get, _extobj_contextvar.set

    def quiet_enter():
        """numpy's floating-point warnings off (as ``np.errstate(all="ignore")``) until
        ``quiet_exit`` of the token returned; cheap enough for every small op."""
        current = _get_extobj()
        silent = _silent_extobjs.get(current)
        if silent is None:
            silent = _silent_extobj(current)
        return _set_extobj(silent)

    quiet_exit = _extobj_contextvar.reset
else:
    def quiet_enter():
        """numpy's floating-point warnings off until ``quiet_exit`` of the token returned."""
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def quiet_exit(token) -> None:
        token.__exit__(None, None, None)


def promote(a, b):
    """Cast two raw operands (arrays or python scalars) to PyTorch's result dtype.

    Python scalars stay python scalars (numpy treats them as weak, as PyTorch does)."""
    a_array = hasattr(a, "dtype")
    b_array = hasattr(b, "dtype")
    if a_array and b_array and a.dtype == b.dtype:
        return a, b, a.dtype
    # result_type depends only on each operand's class (array type, dtype, whether 0-d;
    # or python scalar type) and the default dtype: its answers are cached by those
    key = (type(a), a.dtype if a_array else None, a_array and a.ndim != 0,
           type(b), b.dtype if b_array else None, b_array and b.ndim != 0, _default_dtype)
    np_dtype = _promote_cache.get(key)
    if np_dtype is None:
        np_dtype = result_type(a, b).np
        if len(_promote_cache) > 4096:  # cached promotions: a few dozen in practice
            _promote_cache.clear()
        _promote_cache[key] = np_dtype
    if a_array and a.dtype != np_dtype:
        a = a.astype(np_dtype)
    if b_array and b.dtype != np_dtype:
        b = b.astype(np_dtype)
    return a, b, np_dtype


def float_dtype_for(array):
    """The dtype of a float result from ``array`` (ints and bools become the default dtype)."""
    if array.dtype.kind in "fc":
        return array.dtype
    return get_default_dtype().np


# ----------------------------------------------------------------------------- dims, shapes

def wrap_dim(dim: int, ndim: int) -> int:
    """A dim in [-ndim, ndim) made non-negative; IndexError (PyTorch's words) otherwise."""
    size = max(ndim, 1)
    # type(dim) is int first: an ABC never caches a class registered on it directly (int on
    # Integral), so isinstance(1, numbers.Integral) costs 0.3-0.5 us every time
    if type(dim) is not int and not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not -size <= dim < size:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-size}, {size - 1}], but got {dim})")
    return int(dim) % size


def wrap_dims(dim, ndim: int) -> tuple:
    """A dim argument (None, int, or tuple/list) as a sorted tuple of non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    if type(dim) is int or isinstance(dim, numbers.Integral):
        return (wrap_dim(dim, ndim),)
    dims = tuple(wrap_dim(d, ndim) for d in dim)
    seen = set()
    for d in dims:
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    return tuple(sorted(dims))


# float32 and float64: the dtypes whose numpy arithmetic and sums give torch's CPU kernels'
# values (torch computes float16 and bfloat16 in float32 and rounds once): the fast paths that
# call numpy directly (Op.apply's arithmetic, the in-place shortcut, F.linear's bias sum) take
# only these
TORCH_EXACT_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def sum_to_shape(array, shape: tuple):
    """``array`` (broadcast from ``shape``) summed back down to ``shape``: the sum over the
    leading dims it gained and over the dims that were 1 (the engine's rule for a broadcast
    gradient, SumToSize's forward)."""
    extra = array.ndim - len(shape)
    dims = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and array.shape[extra + i] != 1)
    out = array.sum(axis=dims, keepdims=True) if dims else array
    if extra:
        out = out.reshape(shape)
    return out


def broadcast_shapes(*shapes) -> tuple:
    """The broadcast shape of ``shapes``; RuntimeError naming them when they do not match."""
    ndim = max((len(s) for s in shapes), default=0)
    result = [1] * ndim
    for shape in shapes:
        for i, size in enumerate(shape):
            j = ndim - len(shape) + i
            if size != 1:
                if result[j] != 1 and result[j] != size:
                    raise RuntimeError(
                        f"The size of tensor a ({result[j]}) must match the size of tensor b "
                        f"({size}) at non-singleton dimension {j}")
                result[j] = size
    return tuple(result)


# ----------------------------------------------------------------------------- numbers in a dtype

# The C++ type names of PyTorch's "value cannot be converted to type ... without overflow"
# for a Scalar argument: c10's own spellings, not quite dtype.cpp_name ("int8_t", not "signed
# char"). torch.tensor's data names the dtype instead ("int32").
_OVERFLOW_NAMES = {"bool": "bool", "uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t",
                   "int32": "int", "int64": "int64_t", "float16": "c10::Half",
                   "float32": "float", "float64": "double", "bfloat16": "c10::BFloat16",
                   "complex64": "c10::complex<float>",
                   "complex128": "c10::complex<double>"}
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UNPACK_ERROR = "Overflow when unpacking long long"
# the lowest and largest value of each dtype (a complex dtype's parts'), looked up once
_RANGES = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max))
           for t in (np.uint8, np.int8, np.int16, np.int32, np.int64)}
_RANGES.update({np.dtype(t): (-float(np.finfo(t).max), float(np.finfo(t).max))
                for t in (np.float16, np.float32, np.float64, np.complex64, np.complex128)})


def _fits(value, np_dtype) -> bool:
    """c10's ``not overflows<To>(value)``: an int within an integer dtype's range (an unsigned
    one also takes -max..-1, which wrap around: -1 is 255 in uint8); a float within the range
    (NaN fits no integer dtype, +-inf any floating one); a complex number fits a real dtype
    only with no imaginary part, and a complex dtype part by part."""
    kind = np_dtype.kind
    if kind == "b":
        return True
    if isinstance(value, complex):
        if kind != "c":
            return value.imag == 0 and _fits(value.real, np_dtype)
        return _fits(value.real, np_dtype) and _fits(value.imag, np_dtype)
    low, high = _RANGES[np_dtype]
    if kind in "fcV":  # V: bfloat16
        infinite = isinstance(value, float) and math.isinf(value)
        return infinite or not (value < low or value > high)  # NaN fits
    if isinstance(value, float):
        return float(low) <= value <= float(high)
    return (-high if kind == "u" else low) <= value <= high


def check_scalar(value, dtype, how: str = "scalar"):
    """The python number ``value`` (or numpy scalar) as PyTorch stores it in a tensor of
    ``dtype`` (a dark or numpy dtype), or PyTorch's error when it does not fit. ``how`` is the
    way the number goes in torch:

    - "scalar": an op's Scalar argument (full, fill_, masked_fill, clamp's bounds, alpha ...):
      checked for every dtype, the error naming the C++ type ("int", "c10::Half"); an int
      outside [-2**63, 2**64) makes no Scalar at all;
    - "scalar_tensor": a Scalar made a 0-d tensor (scalar_tensor, where): as "scalar", but a
      float16 or bfloat16 value is checked as a double only (a large one becomes inf);
    - "index": ``x[i] = v``: as "scalar_tensor", with an int that must be an int64;
    - "tensor": an item of torch.tensor's data: only integer dtypes are checked (floats
      overflow to inf), the error naming the dtype ("int32"); an int must be an int64 and a
      complex number cannot be a real dtype's.

    The result is what numpy then stores without an error or a warning: an int for an integer
    dtype (a float truncated, a negative int wrapped around an unsigned dtype as PyTorch's
    cast does: -1 is 255 in uint8), a bool for bool, a real number for a real dtype, +-inf
    for a float beyond an unchecked float dtype's range; for bfloat16 and float16 the float32
    torch rounds it through (bfloat16_scalar)."""
    if isinstance(value, np.generic):
        value = value.item()
    np_dtype = np.dtype(getattr(dtype, "np", dtype))
    kind = np_dtype.kind
    checked = np_dtype
    if how == "tensor":
        if isinstance(value, complex) and kind in "iufV":
            raise TypeError("must be real number, not complex" if kind in "fV"
                            else "'complex' object cannot be interpreted as an integer")
        if kind in "iu" and isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(_UNPACK_ERROR)
        if kind not in "iu":
            checked = None
    else:
        if isinstance(value, int):
            if how == "index" and not _INT64[0] <= value <= _INT64[1]:
                raise ValueError(_UNPACK_ERROR)
            _check_scalar_int(value)
        if how != "scalar" and (np_dtype == np.float16 or kind == "V"):
            checked = np.dtype(np.float64)
    if checked is not None and not _fits(value, checked):
        name = checked.name if how == "tensor" else _OVERFLOW_NAMES[checked.name]
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")
    if kind == "b":
        return bool(value)
    if isinstance(value, complex) and kind != "c":
        value = value.real
    if kind in "iu":
        low = _RANGES[np_dtype][0]
        return (int(value) - low) % (1 << 8 * np_dtype.itemsize) + low
    if kind == "V" or np_dtype == np.float16:
        # an op's int Scalar is cast as an int64, a 0-d tensor's is a double; then a float
        # (c10::Half, like c10::BFloat16, takes a float: the number is rounded twice)
        value = bfloat16_scalar(value if how == "scalar" else float(value))
        if kind == "V":
            return value
    if kind == "f" and not _fits(value, np_dtype):  # rounds to the largest value or to inf
        with np.errstate(over="ignore"):
            return float(np_dtype.type(value))
    return value


def bfloat16_scalar(value) -> float:
    """A python number as PyTorch makes it a bfloat16 (c10::BFloat16 takes a float): a
    float32 first (C's cast of the double, or of the int64 / uint64), then a bfloat16, each
    rounded to nearest even; returned as the float32 (exact, so numpy's one rounding of it
    to bfloat16 is torch's last one). The two roundings differ from one where the float32
    lands on a bfloat16 midpoint: 1 + 2**-8 + 2**-30 is 1.0 in torch, 1.0078125 rounded
    directly. Beyond float32's range it is +-inf (the overflow checks are check_scalar's)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = np.int64(value) if value < 1 << 63 else np.uint64(value)
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def fill_scalar(value, dtype, numel: int, on_cpu: bool):
    """check_scalar for full / fill_: torch's CPU fill of one element (scalar_fill) does not
    check a float16 or bfloat16 value (65504.5 is 65504, 1e300 inf, as a 0-d tensor's value),
    more elements, or the GPU, do (an error beyond the dtype's largest value)."""
    reduced = dtype is float16 or dtype is bfloat16
    how = "scalar_tensor" if reduced and numel == 1 and on_cpu else "scalar"
    return check_scalar(value, dtype, how)


def _check_scalar_int(value: int) -> None:
    """PyTorch's error for a python int that makes no Scalar (int64 or uint64)."""
    if value >= 1 << 64:
        raise OverflowError("int too big to convert")
    if value < _INT64[0]:
        raise OverflowError("can't convert negative int to unsigned")


def wrapped_int(value: int, np_dtype) -> int:
    """The python int ``value`` as an integer dtype holds it after C's cast, wrapped around
    (300 is 44 in int8): how PyTorch takes a python int operand of an integer tensor's
    arithmetic and comparisons (no overflow check there)."""
    low, high = _RANGES[np.dtype(np_dtype)]
    if low <= value <= high:
        return value
    _check_scalar_int(value)
    return (value - low) % (high - low + 1) + low


def cast(array, np_dtype):
    """``array.astype(np_dtype)`` (a copy) as PyTorch casts between tensors: a float beyond
    the new dtype's range is inf, or wraps around an integer dtype, without numpy's overflow
    and invalid-value warnings (which only a float narrowed or made an integer, or an integer
    made a float16, raises)."""
    source, target = array.dtype, np.dtype(np_dtype)
    if source.kind == "c" and target.kind != "c":
        # a complex value made real keeps its real part, as torch's (gradients of a real
        # input to a complex op), without numpy's ComplexWarning
        array, source = array.real, array.real.dtype
    if target.kind == "V" or source.kind == "V":
        return _cast_bfloat16(array, source, target)
    if target == np.float16 and source == np.float64:
        # torch's cast of a double to c10::Half goes through float (two roundings to nearest
        # even: 1 + 2**-11 + 2**-30 is 1.0, not 1.0009765625 as numpy's one rounding)
        array, source = cast(array, float32.np), float32.np
    narrowed = source.kind in "fc" and (target.kind in "iub"
                                        or _part_size(target) < _part_size(source))
    if type(array) is np.ndarray and (narrowed or source.kind in "iu" and target == np.float16):
        with np.errstate(over="ignore", invalid="ignore"):
            return array.astype(target)
    return array.astype(target)


def _part_size(np_dtype) -> int:
    """The bytes of a real number of the dtype (a complex one's parts')."""
    return np_dtype.itemsize // 2 if np_dtype.kind == "c" else np_dtype.itemsize


def _cast_bfloat16(array, source, target):
    """A cast from or to bfloat16 as PyTorch's: through float32 (a number becomes a float
    and then a bfloat16, rounded to nearest even; a bfloat16 becomes a float and then the
    target type), silently."""
    float32_np = float32.np
    if target.kind == "V":
        if source.kind == "V":
            return array.copy()
        if source != float32_np:
            array = cast(array, float32_np)
        with np.errstate(over="ignore", invalid="ignore"):
            return array.astype(target)
    if type(array) is np.ndarray:  # exact: the bits are a float32's top half (a fast shift)
        array = (array.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        array = array.astype(float32_np)
    return array if target == float32_np else cast(array, target)
