"""Tensor: state (array, grad, requires_grad, grad_fn, version) and thin methods.

This module stands on the arrays layer only (_backend, _tensor_str). The layers above give
Tensor the rest of its methods with ``tensor_method`` / ``install_methods``: autograd its
backward, hooks and gradient accumulator, dark.ops every op and the python operators, in-place
forms and the in-place machinery (dark.ops.inplace)."""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import _backend
from ._backend import cast, check_scalar, device_of, from_numpy_dtype
from ._backend import dtype as _dtype_cls
from ._sparse import SparseCOO, sparse_repr
from ._tensor_str import tensor_repr


class Size(tuple):
    """The shape of a tensor: a tuple printed as ``dark.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"dark.Size([{', '.join(str(s) for s in self)}])"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        result = tuple.__getitem__(self, item)
        return Size(result) if isinstance(item, slice) else result

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


class Tensor:
    """A multi-dimensional array with autograd, on the CPU (numpy) or a GPU (CuPy)."""

    __slots__ = ("_data", "_requires_grad", "grad_fn", "_grad", "_vc", "__dict__",
                 "__weakref__")
    _output_nr = 0
    _base = None
    _hooks = None
    _retains_grad = False
    _grad_acc = None
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    # ------------------------------------------------------------------ construction
    def __init__(self, *args, device=None, dtype=None, requires_grad=False):
        """``dark.Tensor(data)`` builds a tensor of the default dtype from data;
        ``dark.Tensor(2, 3)`` an uninitialised one of that shape, as torch.Tensor."""
        dtype = _backend.to_dtype(dtype) if dtype is not None else _backend.get_default_dtype()
        # the legacy constructor ignores set_default_device, as torch.Tensor's
        dev = _backend.to_device(device) if device is not None else _backend.CPU
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            array = array_from_data(args[0], dtype, dev)
        else:
            shape = tuple(args[0]) if len(args) == 1 and not isinstance(
                args[0], numbers.Integral) else tuple(int(a) for a in args)
            array = _backend.module_for(dev).zeros(shape, dtype=dtype.np)
        self._data = array
        self._requires_grad = False
        self.grad_fn = None
        self._grad = None
        self._vc = None
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(array, requires_grad=False, grad_fn=None, output_nr=0, counter=None):
        """Wrap a raw array (internal; no copy, no checks)."""
        t = _new(Tensor)
        t._data = array
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._grad = None
        t._vc = counter
        if output_nr:
            t._output_nr = output_nr
        return t

    def _version_counter(self):
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def _bump_version(self) -> None:
        counter = self._version_counter()
        counter[0] += 1

    @property
    def _version(self) -> int:
        return self._vc[0] if self._vc is not None else 0

    # ------------------------------------------------------------------ autograd state
    @property
    def data(self) -> Tensor:
        """The same memory as a tensor that does not require grad (changes are not tracked)."""
        out = Tensor._make(self._data)
        return out

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        self._data = value._data

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. "
                                   "If you want to use a computed variable in a subgraph that "
                                   "doesn't require differentiation use var_no_grad = "
                                   "var.detach().")
            return self
        if requires_grad and self._data.dtype.kind not in "fcV":  # V: bfloat16
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               "gradients")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def grad(self):
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being "
                          "accessed. Its .grad attribute won't be populated during "
                          "autograd.backward(). If you indeed want the .grad field to be "
                          "populated for a non-leaf Tensor, use .retain_grad() on the non-leaf "
                          "Tensor. If you access the non-leaf Tensor by mistake, make sure you "
                          "access the leaf Tensor instead. See "
                          "github.com/pytorch/pytorch/pull/30531 for more information.",
                          UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__}")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype "
                                   f"'{value.dtype}' to a tensor with grad_dtype "
                                   f"'{self.dtype}'. The gradient must match the tensor's "
                                   "grad_dtype (defaults to the tensor's dtype).")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value.shape)}' to a tensor of size "
                                   f"'{list(self.shape)}'. Please ensure that the gradient "
                                   "and the tensor are the same size")
            if value.device != self.device:
                raise RuntimeError(f"assigned grad has data located on a different device: "
                                   f"{value.device} vs {self.device}")
        self._grad = value

    def detach(self) -> Tensor:
        """A new tensor on the same memory, cut from the graph."""
        out = Tensor._make(self._data, False, None, 0, self._version_counter())
        return out

    def detach_(self) -> Tensor:
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        self.__dict__.pop("_output_nr", None)
        return self

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_backend.wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def ndimension(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    @property
    def dtype(self) -> _dtype_cls:
        return from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> _backend.device:
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        data = self._data
        return type(data) is not np.ndarray and (type(data) is not SparseCOO or data.is_cuda)

    @property
    def is_cpu(self) -> bool:
        data = self._data
        return type(data) is np.ndarray or type(data) is SparseCOO and not data.is_cuda

    # the other accelerators' flags PyTorch programs test (``x.is_xpu or x.is_cuda``): dark runs
    # on numpy (CPU) or CuPy (CUDA) only, and has no meta tensors
    @property
    def is_xpu(self) -> bool:
        return False

    @property
    def is_mps(self) -> bool:
        return False

    @property
    def is_meta(self) -> bool:
        return False

    def get_device(self) -> int:
        return -1 if self.is_cpu else self._data.device.id

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind in "fV"  # V: bfloat16 (ml_dtypes), dark's one void kind

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        item = self._data.dtype.itemsize
        strides = tuple(s // item for s in self._data.strides)
        return strides if dim is None else strides[_backend.wrap_dim(dim, self._data.ndim)]

    def data_ptr(self) -> int:
        if self.is_cpu:
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def storage_offset(self) -> int:
        # the outermost array of the memory; numpy's as_strided (diagonal, unfold) puts a
        # DummyArray (no shape) between its view and the array viewed
        base = node = self._data
        while (node := getattr(node, "base", None)) is not None:
            if hasattr(node, "shape"):
                base = node
        return (self.data_ptr() - Tensor._make(base).data_ptr()) // self._data.dtype.itemsize

    # ------------------------------------------------------------------ conversion
    def item(self):
        """The value of a one-element tensor as a python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        if self.is_cpu:
            return self._data.tolist()
        return self._data.get().tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The numpy array (the same memory on the CPU)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if type(self._data) is SparseCOO:
            raise TypeError("can't convert Sparse layout tensor to numpy. Use "
                            "Tensor.to_dense() first.")
        if not self.is_cpu:
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                                "Use Tensor.cpu() to copy the tensor to host memory first.")
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        return array

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            amount = "more than one value" if self._data.size else "no values"
            raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous")
        return bool(self._data.reshape(()).item())

    def _python_scalar(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self._data.reshape(()).item()

    def __float__(self) -> float:
        return float(self._python_scalar())

    def __int__(self) -> int:
        return int(self._python_scalar())

    def __complex__(self) -> complex:
        return complex(self._python_scalar())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to "
                            "an index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        if type(self._data) is SparseCOO:
            return sparse_repr(self)
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __reduce_ex__(self, protocol):
        if type(self._data) is SparseCOO:
            storage = self._data
            return (_rebuild_sparse, (Tensor._make(storage.indices), Tensor._make(storage.values),
                                      storage.shape, storage.coalesced, self._requires_grad))
        array = self._data if self.is_cpu else self._data.get()
        return (_rebuild, (array, str(self.device), self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.  If you were "
                               "attempting to deepcopy a module, this may be because of a "
                               "torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        out = type(self).__new__(type(self))
        out._data = self._data.copy()
        out._requires_grad = self._requires_grad
        out.grad_fn = None
        out._grad = None if self._grad is None else self._grad.__deepcopy__(memo)
        out._vc = None
        for key, value in self.__dict__.items():
            if key not in ("_grad_acc", "_hooks", "_base"):
                out.__dict__[key] = value
        memo[id(self)] = out
        return out

    # to(), float() ... live in dark.ops.elementwise as tensor methods (they are ops: a
    # dtype change is differentiable and a device move is too).

    def bfloat16(self, memory_format=None) -> Tensor:
        """This tensor in bfloat16 (needs the ml_dtypes package)."""
        return self.to(_backend.bfloat16)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def pin_memory(self, device=None) -> Tensor:
        """A copy in pinned (page-locked) host memory, from which copies to the GPU are
        faster; this tensor itself when it is pinned already. PyTorch's error without CUDA."""
        array = _backend.pin_array(self._data)
        return self if array is self._data else Tensor._make(array)

    def is_pinned(self, device=None) -> bool:
        return _backend.is_pinned_array(self._data)

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)


_new = object.__new__

# The methods Tensor's class body defines: what the layers above add never replaces them.
_CLASS_BODY = frozenset(Tensor.__dict__)


def install_methods(methods: dict) -> None:
    """Make each ``name: function`` (or property) of ``methods`` an attribute of Tensor,
    unless Tensor's class body defines the name; a later install of a name replaces an
    earlier one. The one way the layers above (ops, autograd, in-place forms, random) give
    Tensor its methods."""
    for name, method in methods.items():
        if name not in _CLASS_BODY:
            setattr(Tensor, name, method)


def nested_tensors(value) -> list:
    """The tensors inside ``value`` (a tensor, or nested tuples, lists and dicts of them and
    other things), in order: what a module's forward took or gave, for the code that hooks
    on it (DDP, FSDP, the TensorBoard graph)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in nested_tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in nested_tensors(v)]
    return []


def tensor_method(*names: str):
    """Decorator: install the function as ``Tensor.<name>`` for each name (default: its own
    name); its first argument is self."""

    def install(function):
        install_methods(dict.fromkeys(names or (function.__name__,), function))
        return function

    return install


def _rebuild_sparse(indices, values, shape, coalesced, requires_grad):
    t = Tensor._make(SparseCOO(indices._data, values._data, shape, coalesced))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild(array, device, requires_grad):
    t = Tensor._make(_backend.asarray_on(array, _backend.device(device)))
    if requires_grad:
        t.requires_grad_(True)
    return t


# ----------------------------------------------------------------------------- reading data

def _to_host_nested(data):
    """Replace tensors inside nested sequences by python numbers (PyTorch reads a tensor
    item of a list as a scalar) so that numpy can read the whole."""
    if isinstance(data, Tensor):
        if data.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return data.item()
    if isinstance(data, (list, tuple)):
        return [_to_host_nested(item) for item in data]
    if hasattr(data, "__cuda_array_interface__"):
        return data.get()
    return data


def _check_nested(data, dim: int = 0, shape: list | None = None):
    """Raise PyTorch's error for a ragged nested sequence (the first items set the shape)."""
    if shape is None:
        shape = []
        item = data
        while isinstance(item, (list, tuple, np.ndarray)):
            shape.append(len(item))
            if not len(item):
                break
            item = item[0]
    if dim == len(shape):
        if isinstance(data, (list, tuple)):
            raise TypeError(f"'{type(data).__name__}' object cannot be interpreted as a number "
                            f"(a sequence at dim {dim} where a scalar was expected)")
        return
    if not isinstance(data, (list, tuple, np.ndarray)):
        raise TypeError(f"not a sequence (a {type(data).__name__} at dim {dim})")
    if len(data) != shape[dim]:
        raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} "
                         f"(got {len(data)})")
    for item in data:
        _check_nested(item, dim + 1, shape)


def _nested_array(data, dtype: _backend.dtype) -> np.ndarray:
    """A numpy array from python numbers / nested sequences, checked for ``dtype`` as
    torch.tensor checks its data (check_scalar's "tensor" rules) and ready to cast to it."""
    host = _to_host_nested(data)
    try:
        array = np.array(host)
    except (ValueError, TypeError):
        _check_nested(host)
        raise
    except OverflowError:
        raise ValueError("Overflow when unpacking long long") from None
    if array.dtype == object or array.dtype == np.uint64:  # an int beyond int64
        _check_nested(host)
        if array.dtype == object and not any(isinstance(v, int) for v in array.ravel()):
            raise TypeError(f"can't build a tensor from {type(data).__name__}")
        if dtype.np.kind in "iu":
            raise ValueError("Overflow when unpacking long long")
        # a float, complex or bool dtype takes the int as torch does (2**70 as a float)
        array = np.array(host, dtype=np.complex128 if dtype.is_complex else
                         np.bool_ if dtype is _backend.bool_ else np.float64)
    if array.dtype.kind in "US":
        raise TypeError(f"new(): invalid data type '{type(array.ravel()[0].item()).__name__}'")
    return _checked_data(array, host, dtype)


def _checked_data(array, host, dtype: _backend.dtype) -> np.ndarray:
    """``array`` (numpy's reading of the python numbers ``host``) when every number fits
    ``dtype``; else check_scalar's error for the first that does not. A vectorised bound
    check, never looser than the exact one, picks the arrays whose numbers are checked one by
    one: numpy has made floats of ints mixed with floats ([1, 2.0**40]), and torch checks an
    int (-1 fits uint8) and a float (-1.0 does not) differently."""
    kind = dtype.np.kind
    if kind in "fV" and array.dtype.kind in "iu" and dtype.np.itemsize < 8:
        # torch.tensor reads a python int as a double for a float dtype (2**60 + 2**52 +
        # 2**36 + 1 is 2**60 in bfloat16, not the int64 cast's 2**60 + 2**53)
        array = array.astype(np.float64)
    if array.dtype == dtype.np or not array.size or array.dtype.kind == "b" or (
            kind not in "iu" and not (array.dtype.kind == "c" and kind != "c")):
        return array
    if kind in "iu":
        info = np.iinfo(dtype.np)
        if array.dtype.kind in "iu":
            low = -info.max if kind == "u" else info.min
            suspect = bool(array.min() < low or array.max() > info.max)
        else:  # floats: NaN, and the int64 edges, which floats do not hold exactly
            low = 0 if kind == "u" else info.min
            suspect = array.dtype.kind == "c" or not bool(
                (array >= low).all() and (array <= info.max).all()) or (
                dtype.np == np.int64 and bool((np.abs(array) >= 2.0**63).any()))
    else:
        suspect = True  # complex numbers for a real dtype
    if suspect:
        for value in np.array(host, dtype=object).ravel():
            check_scalar(value, dtype, "tensor")
    if kind in "iu" and array.dtype.kind == "f":
        # truncated toward zero as C's cast, then wrapped (a -1 read as -1.0 is 255 in uint8)
        with np.errstate(invalid="ignore"):
            array = array.astype(np.int64)
    return array


def array_from_data(data, dtype: _backend.dtype, device: _backend.device):
    """A new array holding a copy of ``data`` (a tensor, an array, python numbers or nested
    sequences of them) in ``dtype`` on ``device``: what ``Tensor(data)`` and ``dark.tensor``
    hold. Python numbers are checked for the dtype as torch.tensor checks its data."""
    if isinstance(data, Tensor):
        source = data._data
    elif isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        source = data  # arrays are cast as torch casts tensors (300 wraps to 44 in uint8)
    else:
        source = _nested_array(data, dtype)  # numpy scalars are numbers: checked
    array = _backend.asarray_on(source, device)
    if array is source or array.dtype != dtype.np:
        array = cast(array, dtype.np)  # a copy: the result never aliases data
    return array
