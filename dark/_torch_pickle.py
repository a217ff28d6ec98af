"""PyTorch's checkpoint format, read and written without importing torch.

A checkpoint is a pickle whose tensors are ``torch._utils._rebuild_tensor_v2(storage, offset,
size, stride, requires_grad, hooks)`` calls; each storage is a persistent id ``('storage',
torch.FloatStorage, key, location, numel)`` whose bytes live beside the pickle: in the zip
format (torch >= 1.6) as the record ``<prefix>/data/<key>``, in the legacy format after the
pickle. Writing names torch's globals (``_Global``) without importing them; reading maps them
to dark's (``_TORCH_GLOBALS``) and, with ``weights_only``, refuses every other global."""
from __future__ import annotations

import codecs
import collections
import importlib
import io
import math
import pickle
import re
import struct
import sys
import uuid
import zipfile
import zlib

import numpy as np

from . import _backend
from ._sparse import SparseCOO
from ._tensor import Size, Tensor
from .nn.parameter import Parameter
from .sparse import sparse_coo, sparse_coo_tensor, strided

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # legacy (non-zip) format, as torch writes it
LEGACY_PROTOCOL_VERSION = 1001
ALIGNMENT = 64  # torch aligns record data so that files can be memory-mapped


class CorruptError(ValueError):
    """The bytes do not form a checkpoint (the caller names the file)."""


class UnsupportedError(RuntimeError):
    """A valid checkpoint holding something dark cannot represent (a uint16 tensor ...)."""


class WeightsOnlyError(pickle.UnpicklingError):
    """A global outside the weights-only allowlist; never wrapped, so the reason stays visible.
    ``path`` is the global's name."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


_WRITERS = "written by dark.save or torch.save"


# ----------------------------------------------------------------------------- dtypes
# torch storage class -> (numpy dtype of the bytes on disk, numpy dtype dark holds them in)
_STORAGE_TYPES = {
    "FloatStorage": ("<f4", np.float32), "DoubleStorage": ("<f8", np.float64),
    "HalfStorage": ("<f2", np.float16), "BFloat16Storage": ("<u2", np.float32),
    "LongStorage": ("<i8", np.int64), "IntStorage": ("<i4", np.int32),
    "ShortStorage": ("<i2", np.int16), "CharStorage": ("i1", np.int8),
    "ByteStorage": ("u1", np.uint8), "BoolStorage": ("?", np.bool_),
    "ComplexFloatStorage": ("<c8", np.complex64), "ComplexDoubleStorage": ("<c16", np.complex128),
    "UntypedStorage": ("u1", np.uint8),
}
_STORAGE_OF_DTYPE = {np.dtype(held): name for name, (_, held) in _STORAGE_TYPES.items()
                     if name not in ("BFloat16Storage", "UntypedStorage")}
# bfloat16 loads as dark.bfloat16 (ml_dtypes), or as float32 without ml_dtypes (exact, since
# a bfloat16 is a truncated float32): see _bfloat16_held
_TORCH_DTYPES = {
    "float32": _backend.float32, "float": _backend.float32, "float64": _backend.float64,
    "double": _backend.float64, "float16": _backend.float16, "half": _backend.float16,
    "int64": _backend.int64, "long": _backend.int64,
    "int32": _backend.int32, "int": _backend.int32, "int16": _backend.int16,
    "short": _backend.int16, "int8": _backend.int8, "uint8": _backend.uint8,
    "bool": _backend.bool_, "complex64": _backend.complex64, "cfloat": _backend.complex64,
    "complex128": _backend.complex128, "cdouble": _backend.complex128,
}


def _bfloat16_held() -> np.dtype:
    """The numpy dtype bfloat16 tensors load into: ml_dtypes' bfloat16 (dark.bfloat16), or
    float32 when ml_dtypes is not installed."""
    try:
        return _backend.bfloat16.np
    except RuntimeError:
        return np.dtype(np.float32)


class StorageType:
    """What ``torch.FloatStorage`` and friends unpickle to: the dtypes of the bytes."""

    __slots__ = ("name", "disk", "_held")

    def __init__(self, name: str):
        self.name = name
        disk, held = _STORAGE_TYPES[name]
        self.disk, self._held = np.dtype(disk), np.dtype(held)

    @property
    def held(self) -> np.dtype:
        """The numpy dtype dark holds the values in."""
        return _bfloat16_held() if self.name == "BFloat16Storage" else self._held

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """The values of the bytes read from disk, in the dtype dark holds them in."""
        if self.name == "BFloat16Storage":
            held = _bfloat16_held()
            if held.kind == "V":
                return raw.astype(np.uint16, copy=False).view(held)
            return (raw.astype(np.uint32) << 16).view(np.float32)
        return raw.astype(self._held, copy=False)


_STORAGE_TYPE_OBJECTS = {name: StorageType(name) for name in _STORAGE_TYPES}


class Storage:
    """A flat array standing for a torch storage while a checkpoint loads. A ``map_location``
    callable receives ``(storage, location)`` and may return ``storage.cpu()``,
    ``storage.cuda(i)`` or ``storage.to(device)``."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    @property
    def device(self) -> _backend.device:
        return _backend.device_of(self.array)

    @property
    def dtype(self) -> _backend.dtype:
        return _backend.from_numpy_dtype(self.array.dtype)

    def __len__(self) -> int:
        return int(self.array.size)

    def size(self) -> int:
        return int(self.array.size)

    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def to(self, device) -> Storage:
        target = _backend.to_device(device)
        if target == self.device:
            return self
        return Storage(_backend.asarray_on(self.array, target))

    def cpu(self) -> Storage:
        return self.to("cpu")

    def cuda(self, device=None) -> Storage:
        return self.to("cuda" if device is None else
                       f"cuda:{device}" if isinstance(device, int) else device)

    def view(self, offset, size, stride, np_dtype=None) -> np.ndarray:
        """The array of a tensor at ``offset`` with ``size`` and ``stride`` (in elements),
        sharing this storage's memory; bounds are checked, since they come from the file."""
        flat = self.array if np_dtype is None else _reinterpret(self.array, np.dtype(np_dtype))
        if not (_is_int(offset) and isinstance(size, (tuple, list)) and
                isinstance(stride, (tuple, list)) and len(size) == len(stride) and
                all(_is_int(n) and n >= 0 for n in size) and all(_is_int(s) for s in stride)):
            raise CorruptError(f"invalid tensor geometry: offset {offset!r}, size {size!r}, "
                               f"stride {stride!r}")
        size, stride = tuple(size), tuple(stride)
        if math.prod(size) * flat.dtype.itemsize > sys.maxsize:
            raise CorruptError(f"a tensor of size {list(size)} is larger than any array can be")
        xp = _backend.array_module(flat)
        if 0 in size:
            return xp.empty(size, dtype=flat.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if offset < 0 or min(stride, default=0) < 0 or last >= flat.size:
            raise CorruptError(f"a tensor of size {list(size)}, stride {list(stride)} and "
                               f"offset {offset} does not fit in its storage of {flat.size} "
                               "elements")
        item = flat.dtype.itemsize
        if isinstance(flat, np.ndarray):
            return np.ndarray(size, flat.dtype, buffer=flat, offset=offset * item,
                              strides=tuple(s * item for s in stride))
        return xp.lib.stride_tricks.as_strided(flat[offset:], size,
                                               tuple(s * item for s in stride))


def _reinterpret(flat, np_dtype):
    if flat.nbytes % np_dtype.itemsize:
        raise CorruptError(f"a storage of {flat.nbytes} bytes cannot hold {np_dtype} elements")
    return flat.view(np_dtype)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- writing
class _Global:
    """A torch global written by name (``GLOBAL 'torch FloatStorage'``) without importing it."""

    __slots__ = ("module", "name")
    _cache: dict = {}

    def __new__(cls, module: str, name: str):
        found = cls._cache.get((module, name))
        if found is None:
            found = cls._cache[(module, name)] = object.__new__(cls)
            found.module, found.name = module, name
        return found

    def __call__(self, *args):  # pickle's save_reduce insists that the function be callable
        raise TypeError(f"{self.module}.{self.name} stands for a torch global; it is only "
                        "written, never called")


class _StorageRef:
    __slots__ = ("key", "type_name", "location", "numel")

    def __init__(self, key, type_name, location, numel):
        self.key, self.type_name, self.location, self.numel = key, type_name, location, numel


def _pointer(array) -> int:
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return array.data.ptr


# pickle's pure-python Pickler lets a subclass write its own opcodes for a type (its
# ``dispatch`` table), which the C Pickler does not: that is how torch's globals get written.
class TorchPickler(pickle._Pickler):
    """Pickles tensors as torch does: storages become persistent ids and are collected in
    ``self.storages`` (key -> flat array), to be written beside the pickle."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol: int, legacy: bool = False):
        super().__init__(file, protocol)
        self.legacy = legacy
        self.storages: dict[str, object] = {}
        self._keys: dict[int, tuple] = {}  # id(root array) -> (key, root); the root is held

    def persistent_id(self, obj):
        if type(obj) is not _StorageRef:
            return None
        pid = ("storage", _Global("torch", obj.type_name), obj.key, obj.location, obj.numel)
        return pid + (None,) if self.legacy else pid

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if type(obj) is _backend.device:
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return _Global("torch", "device"), args
        if type(obj) is Size:
            return _Global("torch", "Size"), (tuple(obj),)
        if obj is sparse_coo:  # torch writes a layout as _get_layout(its name)
            return _Global("torch.serialization", "_get_layout"), ("torch.sparse_coo",)
        return NotImplemented

    def _reduce_tensor(self, tensor: Tensor):
        hooks = collections.OrderedDict()
        if isinstance(tensor, Parameter):
            return (_Global("torch._utils", "_rebuild_parameter"),
                    (Tensor._make(tensor._data), tensor.requires_grad, hooks))
        array = tensor._data
        if type(array) is SparseCOO:  # torch's: _rebuild_sparse_tensor(layout, data)
            return (_Global("torch._utils", "_rebuild_sparse_tensor"),
                    (sparse_coo,
                     (Tensor._make(array.indices), Tensor._make(array.values),
                      Size(array.shape), array.coalesced)))
        ref, offset, stride = self._storage_of(array)
        args = (ref, offset, tuple(array.shape), stride, tensor.requires_grad, hooks)
        rebuild = _Global("torch._utils", "_rebuild_tensor_v2")
        if type(tensor) is not Tensor:
            return _Global("torch._tensor", "_rebuild_from_type_v2"), (rebuild, type(tensor),
                                                                      args, {})
        return rebuild, args

    def _storage_of(self, array):
        """The storage reference, offset and stride (in elements) of an array: its numpy or
        cupy base when the array is a plain strided view of it (so views saved together stay
        views of one storage, as in torch), otherwise a contiguous copy of its own."""
        xp = _backend.array_module(array)
        item = array.dtype.itemsize
        root = array
        while isinstance(root.base, xp.ndarray):
            root = root.base
        usable = (array.size and root.dtype == array.dtype and
                  (root.flags.c_contiguous or root.flags.f_contiguous) and
                  all(s >= 0 and s % item == 0 for s in array.strides))
        if usable:
            gap = _pointer(array) - _pointer(root)
            offset = gap // item
            stride = tuple(s // item for s in array.strides)
            last = offset + sum((n - 1) * s for n, s in zip(array.shape, stride))
            usable = gap >= 0 and gap % item == 0 and last < root.size
        if not usable:
            root = array.copy()
            offset, stride = 0, _contiguous_strides(root.shape)
        found = self._keys.get(id(root))
        if found is None:
            found = self._keys[id(root)] = (str(len(self._keys)), root)
            flat = root.reshape(-1) if root.flags.c_contiguous else root.T.reshape(-1)
            self.storages[found[0]] = flat
        dev = _backend.device_of(root)
        location = "cpu" if dev.type == "cpu" else f"cuda:{_backend.cuda_index(dev)}"
        name = "BFloat16Storage" if root.dtype.kind == "V" else _STORAGE_OF_DTYPE[root.dtype]
        ref = _StorageRef(found[0], name, location, int(root.size))
        return ref, offset, stride

    def _save_global(self, obj: _Global) -> None:
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    def _save_dtype(self, obj: _backend.dtype) -> None:
        self._save_global(_Global("torch", obj.name))

    dispatch[_Global] = _save_global
    dispatch[_backend.dtype] = _save_dtype
    dispatch[type(_backend.bfloat16)] = _save_dtype


def _contiguous_strides(shape) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _host_bytes(flat) -> memoryview:
    """The little-endian bytes of a flat storage array (copied to the host from a GPU)."""
    host = flat if isinstance(flat, np.ndarray) else flat.get()
    host = host.astype(host.dtype.newbyteorder("<"), copy=False)
    return memoryview(host.view(np.uint8))


def write_zip(obj, file, protocol: int) -> None:
    """Write ``obj`` to the binary file ``file`` in torch's zip format."""
    buffer = io.BytesIO()
    pickler = TorchPickler(buffer, protocol)
    pickler.dump(obj)
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        start = archive.fp.tell()

        def write(name, data):
            _write_record(archive, f"archive/{name}", data, start)

        write("data.pkl", buffer.getbuffer())
        write(".format_version", b"1")
        write(".storage_alignment", str(ALIGNMENT).encode())
        write("byteorder", b"little")
        for key, flat in pickler.storages.items():  # one host copy at a time from a GPU
            write(f"data/{key}", _host_bytes(flat))
        write("version", b"3\n")
        write(".data/serialization_id", f"{uuid.uuid4().int:040d}"[:40].encode())


def _write_record(archive: zipfile.ZipFile, name: str, data, start: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = len(data) if not isinstance(data, memoryview) else data.nbytes
    # the local header: 30 bytes, the name, our padding field, and zip64 sizes for big records
    zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT
    header = 30 + len(name.encode()) + 4 + (20 if zip64 else 0)
    padding = -(archive.fp.tell() - start + header) % ALIGNMENT
    info.extra = b"FB" + struct.pack("<H", padding) + b"Z" * padding
    with archive.open(info, "w") as record:
        record.write(data)


def write_legacy(obj, file, protocol: int) -> None:
    """Write ``obj`` in torch's legacy format (``_use_new_zipfile_serialization=False``)."""
    buffer = io.BytesIO()
    pickler = TorchPickler(buffer, protocol, legacy=True)
    pickler.dump(obj)
    sys_info = {"protocol_version": LEGACY_PROTOCOL_VERSION, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    for header in (MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, sys_info):
        pickle.dump(header, file, protocol=protocol)
    file.write(buffer.getbuffer())
    pickle.dump(list(pickler.storages), file, protocol=protocol)
    for flat in pickler.storages.values():
        file.write(struct.pack("<q", flat.size))
        file.write(_host_bytes(flat))


# ----------------------------------------------------------------------------- reading
def _rebuild_tensor(storage, storage_offset, size, stride):
    if not isinstance(storage, Storage):
        raise CorruptError(f"a tensor's storage is a {type(storage).__name__}")
    return Tensor._make(storage.view(storage_offset, size, stride))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    tensor = _rebuild_tensor(storage, storage_offset, size, stride)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    if not isinstance(storage, Storage) or type(dtype) is not _backend.dtype:
        raise CorruptError(f"_rebuild_tensor_v3 got a {type(storage).__name__} and "
                           f"{type(dtype).__name__}")
    tensor = Tensor._make(storage.view(storage_offset, size, stride, dtype.np))
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _get_layout(name: str):
    """torch.serialization._get_layout: a layout by its name."""
    layouts = {"torch.sparse_coo": sparse_coo, "torch.strided": strided}
    if name not in layouts:
        raise NotImplementedError(f"a tensor of layout {name}: dark has the strided and "
                                  "sparse_coo layouts only")
    return layouts[name]


def _rebuild_sparse_tensor(layout, data):
    """torch's sparse tensor record: (indices, values, size[, is_coalesced]) of a layout;
    the indices are checked against the size as dark.sparse_coo_tensor checks them."""
    if layout is not sparse_coo:
        raise NotImplementedError(f"a tensor of layout {layout}: dark has the sparse_coo "
                                  "layout only")
    indices, values, size = data[:3]
    return sparse_coo_tensor(indices, values, size,
                             is_coalesced=data[3] if len(data) > 3 else None)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """torch.nn.Parameter -> dark.nn.Parameter (a tensor with requires_grad before it exists)."""
    if not isinstance(data, Tensor):
        raise CorruptError(f"a Parameter's data is a {type(data).__name__}")
    result = Parameter(data, requires_grad)
    if state:
        _set_state(result, state)
    return result


def _rebuild_from_type_v2(func, new_type, args, state):
    result = func(*args)
    if new_type is not type(result):
        if new_type is Parameter:
            result = Parameter(result, result.requires_grad)
        elif isinstance(new_type, type) and issubclass(new_type, Tensor):
            result.__class__ = new_type
        else:
            raise CorruptError(f"cannot rebuild a tensor as a {new_type!r}")
    if state:
        _set_state(result, state)
    return result


_PROTECTED = frozenset(Tensor.__slots__)


def _set_state(obj, state) -> None:
    """Python attributes saved with a tensor (torch's _set_obj_state); dark's own slots and
    dunder names are refused, as a file must not rewire a tensor."""
    if isinstance(state, tuple) and len(state) == 2:
        items = {**(state[0] or {}), **(state[1] or {})}
    elif isinstance(state, dict):
        items = state
    else:
        raise CorruptError(f"invalid tensor state {type(state).__name__}")
    for name, value in items.items():
        if not isinstance(name, str) or name in _PROTECTED or name.startswith("__"):
            raise CorruptError(f"invalid tensor attribute {name!r}")
        setattr(obj, name, value)


def _encode(text, encoding="latin1"):
    """``_codecs.encode``: how protocol-2 pickles spell bytes (only latin-1, as pickle uses)."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise CorruptError(f"unexpected _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


def _torch_global(module: str, name: str):
    """dark's stand-in for a torch global, or None."""
    path = f"{module}.{name}"
    if module == "torch":
        if name in _TORCH_DTYPES:
            return _TORCH_DTYPES[name]
        if name == "bfloat16":
            return _backend.bfloat16 if _bfloat16_held().kind == "V" else _backend.float32
        if name in _STORAGE_TYPE_OBJECTS:
            return _STORAGE_TYPE_OBJECTS[name]
        if re.fullmatch(r"u?int[1-7]|uint(16|32|64)|complex32|chalf|(float[48]_|q|qu|bits).*",
                        name):
            raise UnsupportedError(f"dark cannot load tensors of dtype torch.{name} (dark has "
                                   "no such dtype)")
    if module == "torch.storage" and name == "UntypedStorage":
        return _STORAGE_TYPE_OBJECTS["UntypedStorage"]
    if path in ("torch.nn.parameter.Parameter", "torch.nn.Parameter"):
        return Parameter
    return _TORCH_GLOBALS.get(path)


_TORCH_GLOBALS = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch._utils._rebuild_sparse_tensor": _rebuild_sparse_tensor,
    "torch.serialization._get_layout": _get_layout,
    "torch.Size": Size, "torch.device": _backend.device, "torch.Tensor": Tensor,
}
# Harmless globals besides torch's that plain checkpoints contain (torch's allowlist).
_SAFE_GLOBALS = {
    "collections.OrderedDict": collections.OrderedDict, "collections.Counter": collections.Counter,
    "builtins.set": set, "builtins.frozenset": frozenset, "builtins.complex": complex,
    "builtins.bytearray": bytearray, "_codecs.encode": _encode,
}
# Filled by dark.serialization.add_safe_globals: "module.qualname" -> object.
user_safe_globals: dict[str, object] = {}
# Python 2 module names that protocol-2 pickles use, and that Unpickler.find_class maps.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _weights_only_message(path: str) -> str:
    return ("Weights only load failed. This file can still be loaded, to do so you have two "
            "options, do those steps only if you trust the source of the checkpoint. \n\t(1) "
            "Re-running `dark.load` with `weights_only` set to `False` will likely succeed, but "
            "it can result in arbitrary code execution. Do it only if you got the file from a "
            "trusted source.\n\t(2) Alternatively, to load with `weights_only=True` please "
            "check the recommended steps in the following error message.\n\tWeightsUnpickler "
            f"error: Unsupported global: GLOBAL {path} was not an allowed global by default. "
            f"Please use `dark.serialization.add_safe_globals([{path}])` or the "
            f"`dark.serialization.safe_globals([{path}])` context manager to allowlist this "
            "global if you trust this class/function.")


class TorchUnpickler(pickle.Unpickler):
    """Maps torch's globals to dark's (without importing torch); with ``weights_only`` every
    other global outside a short allowlist is refused before it can be called."""

    def __init__(self, file, persistent_load, weights_only: bool, encoding: str = "utf-8"):
        super().__init__(file, encoding=encoding)
        self._persistent_load = persistent_load
        self._weights_only = weights_only

    def persistent_load(self, pid):
        if self._persistent_load is None:
            raise CorruptError("a persistent id outside the checkpoint's object")
        return self._persistent_load(pid)

    def find_class(self, module: str, name: str):
        module3 = _PY2_MODULES.get(module, module)
        found = _torch_global(module3, name)
        if found is not None:
            return found
        path = f"{module3}.{name}"
        if path in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[path]
        if path in user_safe_globals:
            return user_safe_globals[path]
        if self._weights_only:
            shown = name if module3 == "builtins" else path
            raise WeightsOnlyError(_weights_only_message(shown), path)
        if module3 == "torch" or module3.startswith("torch."):
            return _dark_equivalent(module3, name)
        return super().find_class(module, name)


def _dark_equivalent(module: str, name: str):
    """``torch.nn.modules.linear.Linear`` -> ``dark.nn.modules.linear.Linear`` when it exists."""
    dark_module = "dark" + module[len("torch"):]
    try:
        found = importlib.import_module(dark_module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        raise pickle.UnpicklingError(f"cannot load {module}.{name}: dark has no "
                                     f"{dark_module}.{name}") from None
    return found


def _read_exact(file, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise CorruptError(f"the file ends early ({len(data)} of {size} bytes)")
    return data


_CHUNK = 1 << 18  # bytes decoded or decompressed at a time: a bounded temporary, not a copy


def _fill(file, view: memoryview, what: str) -> None:
    """Fill ``view`` from ``file``'s position: straight into it where the file has
    ``readinto``, without a temporary of the view's size."""
    readinto = getattr(file, "readinto", None)
    filled = 0
    while filled < view.nbytes:
        part = view[filled:filled + (1 << 26)]
        if readinto is not None:
            count = readinto(part)
        else:
            data = file.read(part.nbytes)
            count = len(data)
            part[:count] = data
        if not count:
            raise CorruptError(f"{what} ends early ({filled} of {view.nbytes} bytes)")
        filled += count


class _RecordReader:
    """Reads a zip record's bytes in order into the caller's buffers: a stored record straight
    from the file at its offset, a compressed one through zipfile a piece at a time. The
    CRC-32 is checked once the whole record was read, as zipfile checks it."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo):
        self.info, self.done, self.crc = info, 0, 0
        self.fp = archive.fp
        if info.compress_type == zipfile.ZIP_STORED:
            self.start, self.record = _data_offset(archive.fp, info), None
        else:
            self.record = archive.open(info)

    def readinto(self, view: memoryview) -> None:
        what = f"record {self.info.filename!r}"
        if self.record is None:
            self.fp.seek(self.start + self.done)
            _fill(self.fp, view, what)
            self.crc = zlib.crc32(view, self.crc)
        else:
            filled = 0
            while filled < view.nbytes:
                data = self.record.read(min(_CHUNK, view.nbytes - filled))
                if not data:
                    raise CorruptError(f"{what} ends early ({self.done + filled} of "
                                       f"{self.info.file_size} bytes)")
                view[filled:filled + len(data)] = data
                filled += len(data)
        self.done += view.nbytes

    def close(self) -> None:
        if self.record is not None:
            self.record.close()  # zipfile checked the CRC on reading the last byte
        elif self.done == self.info.file_size and self.crc != self.info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {self.info.filename!r}")


def _read_storage(readinto, storage_type: StorageType, disk: np.dtype, numel: int, out=None):
    """``numel`` elements stored as ``disk`` read by ``readinto(memoryview)``, decoded into
    ``out`` (a flat numpy or cupy array of ``storage_type.held``; a new numpy one if None).
    When the bytes are the values, they are read straight into ``out``; otherwise (bfloat16,
    big-endian, a GPU destination) a piece at a time, so that no full-size temporary exists."""
    if out is None:
        out = np.empty(numel, storage_type.held)
    if isinstance(out, np.ndarray) and disk == out.dtype:
        readinto(memoryview(out.view(np.uint8)))
        return out
    step = max(1, _CHUNK // disk.itemsize)
    buffer = np.empty(min(step, numel), disk)
    for begin in range(0, numel, step):
        raw = buffer[:min(step, numel - begin)]
        readinto(memoryview(raw.view(np.uint8)))
        values = storage_type.decode(raw)
        if isinstance(out, np.ndarray):
            out[begin:begin + raw.size] = values
        else:
            out[begin:begin + raw.size].set(np.ascontiguousarray(values, out.dtype))
    return out


_DEFLATE_RATIO = 1032  # deflate expands its input at most this many times


def _check_records(archive: zipfile.ZipFile) -> None:
    """Refuse records whose sizes in the central directory cannot be true of this file, before
    anything is allocated or read on their word."""
    file_size = archive.fp.seek(0, 2)
    for info in archive.infolist():
        header = info.header_offset + 30 + len(info.filename.encode())  # the least it takes
        room = max(file_size - header, 0)
        if info.compress_size > room:
            raise CorruptError(f"record {info.filename!r} claims {info.compress_size} bytes "
                               f"but the file has {room} after its header")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise CorruptError(f"stored record {info.filename!r} claims {info.file_size} "
                               f"bytes and {info.compress_size} stored")
        if (info.compress_type == zipfile.ZIP_DEFLATED and
                info.file_size > _DEFLATE_RATIO * info.compress_size):
            raise CorruptError(f"deflated record {info.filename!r} claims {info.file_size} "
                               f"bytes from {info.compress_size} compressed, more than "
                               f"deflate can expand ({_DEFLATE_RATIO} times)")


def _check_pid(pid, length: int):
    """(storage type, key, location, numel) of a storage's persistent id, checked."""
    if not (isinstance(pid, tuple) and len(pid) == length and pid[0] in ("storage", b"storage")
            and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
            and isinstance(pid[3], str) and _is_int(pid[4]) and pid[4] >= 0):
        raise CorruptError(f"invalid storage id {pid!r}")
    return pid[1:5]


def read_zip(file, restore, weights_only: bool, mmap_path: str | None, encoding: str):
    """Load the object of a torch zip checkpoint; ``restore(storage, location)`` places each
    storage (map_location)."""
    with zipfile.ZipFile(file) as archive:
        _check_records(archive)
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pickles:
            raise CorruptError("the zip archive has no <name>/data.pkl record")
        prefix = pickles[0][:-len("data.pkl")]
        if prefix + "constants.pkl" in names:
            raise UnsupportedError("this is a TorchScript archive (torch.jit.save), which dark "
                                   "cannot load; save a state_dict with torch.save instead")
        big_endian = (prefix + "byteorder" in names and
                      archive.read(prefix + "byteorder").strip() == b"big")
        whole = np.memmap(mmap_path, np.uint8, mode="c") if mmap_path else None
        storages: dict[str, Storage] = {}

        def load_storage(pid):
            storage_type, key, location, numel = _check_pid(pid, 5)
            if key in storages:
                return storages[key]
            info = archive.getinfo(f"{prefix}data/{key}")
            disk = storage_type.disk.newbyteorder(">") if big_endian else storage_type.disk
            nbytes = numel * disk.itemsize
            if info.file_size < nbytes:
                raise CorruptError(f"record data/{key} holds {info.file_size} bytes, "
                                   f"{nbytes} expected")
            if whole is not None and info.compress_type == zipfile.ZIP_STORED:
                raw = np.ndarray((numel,), disk, buffer=whole,
                                 offset=_data_offset(archive.fp, info))
                array = storage_type.decode(raw)
            else:
                reader = _RecordReader(archive, info)
                try:
                    array = _read_storage(reader.readinto, storage_type, disk, numel)
                finally:
                    reader.close()
            storage = storages[key] = restore(Storage(array), location)
            return storage

        data = io.BytesIO(archive.read(pickles[0]))
        return TorchUnpickler(data, load_storage, weights_only, encoding).load()


def _data_offset(fp, info: zipfile.ZipInfo) -> int:
    fp.seek(info.header_offset)
    header = _read_exact(fp, 30)
    if header[:4] != b"PK\x03\x04":
        raise CorruptError(f"bad local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def read_legacy(file, restore, weights_only: bool, encoding: str):
    """Load a checkpoint of torch's legacy format: three header pickles, the object's pickle,
    the list of storage keys, then each storage as an int64 count and its bytes. The bytes
    come after the pickle, so storages are allocated (and placed) first and filled after."""
    def header():
        return TorchUnpickler(file, None, True, encoding).load()

    try:
        magic = header()
    except WeightsOnlyError as error:  # whatever weights_only says: headers hold no objects
        raise CorruptError(f"the file is a pickle of other objects (it names {error.path}), not "
                           f"a checkpoint {_WRITERS}; open it with pickle.load if you trust "
                           "it") from None
    if not (_is_int(magic) and magic == MAGIC_NUMBER):
        found = f"the number {magic}" if _is_int(magic) else f"of type {type(magic).__name__}"
        raise CorruptError(f"invalid magic number: the file is a pickle whose first object is "
                           f"{found}, not a checkpoint {_WRITERS} (which starts with "
                           f"{MAGIC_NUMBER:#x}); open it with pickle.load if you trust it")
    protocol = header()
    if protocol != LEGACY_PROTOCOL_VERSION:
        raise CorruptError(f"invalid protocol version: {protocol!r}")
    sys_info = header()
    big_endian = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
    start = file.tell()
    remaining = file.seek(0, 2) - start
    file.seek(start)
    storages: dict[str, tuple] = {}

    def load_storage(pid):
        if isinstance(pid, tuple) and len(pid) > 1 and pid[0] in ("module", b"module"):
            return pid[1]  # a pickled nn.Module class (weights_only refused it already)
        storage_type, key, location, numel = _check_pid(pid, 6)
        if key not in storages:
            if numel * storage_type.disk.itemsize > remaining:
                raise CorruptError(f"storage {key} claims {numel} elements, more than the file "
                                   "holds")
            empty = np.empty(numel, storage_type.held)
            storages[key] = (restore(Storage(empty), location), storage_type)
        storage = storages[key][0]
        view = pid[5]
        if view is not None:  # (view_key, offset, size): pickles of torch < 0.4
            _, offset, size = view
            return Storage(storage.array[offset:offset + size])
        return storage

    result = TorchUnpickler(file, load_storage, weights_only, encoding).load()
    for key in header():
        if key not in storages:
            raise CorruptError(f"the list of storages names {key!r}, which the pickle does "
                               "not use")
        storage, storage_type = storages[key]
        disk = storage_type.disk.newbyteorder(">") if big_endian else storage_type.disk
        (numel,) = struct.unpack("<q", _read_exact(file, 8))
        if numel != storage.array.size:
            raise CorruptError(f"storage {key} holds {numel} elements, {storage.array.size} "
                               "expected")
        _read_storage(lambda view: _fill(file, view, "the file"), storage_type, disk, numel,
                      storage.array)
    return result


def restore_function(map_location):
    """torch's map_location rules as one function ``(storage, location) -> storage``."""
    if map_location is None:
        return _default_restore
    if isinstance(map_location, (str, _backend.device)):
        target = _backend.to_device(map_location)
        return lambda storage, location: storage.to(target)
    if isinstance(map_location, dict):
        return lambda storage, location: _default_restore(
            storage, str(map_location.get(location, location)))
    if callable(map_location):
        def restore(storage, location):
            result = map_location(storage, location)
            if result is None:
                return _default_restore(storage, location)
            if not isinstance(result, Storage):
                raise RuntimeError(f"map_location returned a {type(result).__name__}; expected "
                                "the storage it was given, moved (storage.cpu(), .cuda(i), .to())")
            return result
        return restore
    raise TypeError("map_location must be None, a str, a dark.device, a dict or a callable, "
                    f"not {type(map_location).__name__}")


def _default_restore(storage: Storage, location: str) -> Storage:
    """Put a storage where it was saved; a CUDA location needs a GPU, as in torch."""
    try:
        target = _backend.device(location)
    except (RuntimeError, TypeError):
        raise RuntimeError("don't know how to restore data location of "
                           f"torch.storage.UntypedStorage (tagged with {location})") from None
    if target.type == "cuda":
        if not _backend.cuda_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but "
                               "dark.cuda.is_available() is False. If you are running on a "
                               "CPU-only machine, please use dark.load with "
                               "map_location=dark.device('cpu') to map your storages to the "
                               "CPU.")
        count = _backend.cupy_module().cuda.runtime.getDeviceCount()
        if (target.index or 0) >= count:
            raise RuntimeError(f"Attempting to deserialize object on CUDA device "
                               f"{target.index} but dark.cuda.device_count() is {count}. "
                               "Please use dark.load with map_location to map your storages "
                               "to an existing device.")
    return storage.to(target)
