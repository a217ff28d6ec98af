"""dark.save / dark.load in PyTorch's checkpoint format, and the safetensors format.

``dark.save`` writes torch's zip format (``torch.load`` reads dark's files) and ``dark.load``
reads torch's (``torch.save`` output, zip or legacy), without importing torch. Writing to a
path is atomic: the bytes go to a temporary file in the same folder, are flushed to disk, and
replace the target only once complete, so a failure never leaves a truncated checkpoint.

bfloat16 tensors save and load as dark.bfloat16 when the optional ml_dtypes package is
installed; without it they load as float32 (exactly: a bfloat16 is the top half of a
float32)."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import secrets
import stat
import struct
import zipfile
from collections.abc import Callable
from typing import IO, Any, BinaryIO

import numpy as np

from . import _backend
from . import _torch_pickle as _tp
from ._tensor import Tensor

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

FileLike = str | os.PathLike | BinaryIO | IO[bytes]
DEFAULT_PROTOCOL = 2


def save(obj: Any, f: FileLike, pickle_module: Any = pickle,
         pickle_protocol: int = DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (a tensor, a state_dict, nested dicts/lists/tuples of tensors and python
    values) to ``f`` (a path or a binary file object) in PyTorch's format.

    Tensors that view the same memory are saved once and load as views again; CUDA tensors are
    saved with their device ('cuda:N'). A path is written atomically."""
    if pickle_module is not pickle:
        raise ValueError("dark.save writes with the standard pickle module only")
    write = _tp.write_zip if _use_new_zipfile_serialization else _tp.write_legacy

    def write_to(file):
        write(obj, file, pickle_protocol)

    if isinstance(f, (str, os.PathLike)):
        _atomic_write(f, write_to)
    else:
        write_to(f)


def load(f: FileLike, map_location=None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: bool | None = None,
         **pickle_load_args: Any) -> Any:
    """Load an object saved by ``dark.save`` or ``torch.save`` (zip or legacy format), or a
    ``.safetensors`` file (a dict of tensors).

    ``map_location``: None (where saved), 'cpu', 'cuda[:i]', a dark.device, a dict mapping
    saved locations to new ones ({'cuda:0': 'cpu'}), or a callable ``(storage, location)``
    returning a storage (``storage.cpu()``, ``storage.cuda(i)``) or None. ``weights_only``
    (default True, as torch >= 2.6) unpickles only tensors, containers and python values and
    refuses any other global with ``pickle.UnpicklingError``; ``weights_only=False`` runs
    arbitrary pickles and is unsafe on files you do not trust. ``mmap=True`` maps the storages
    of a zip checkpoint from disk (copy-on-write) instead of reading them."""
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("dark.load reads with the standard pickle module only")
    if weights_only is None:
        weights_only = pickle_module is None
    elif weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if pickle_load_args:
        raise TypeError(f"dark.load got unexpected arguments {sorted(pickle_load_args)}")
    restore = _tp.restore_function(map_location)
    is_path = isinstance(f, (str, os.PathLike))
    if mmap and not is_path:
        raise ValueError("f must be a file path in order to use the mmap argument")
    name = os.fspath(f) if is_path else getattr(f, "name", repr(f))
    if is_path and os.fspath(f).endswith(".safetensors"):
        return _read_safetensors(os.fspath(f), restore)
    if not is_path and (isinstance(f, io.TextIOBase) or isinstance(f.read(0), str)):
        raise TypeError(f"dark.load: the file object {name!r} is in text mode (it reads str); "
                        "open the file in binary mode, open(path, 'rb'), or pass its path")
    with open(f, "rb") if is_path else contextlib.nullcontext(_seekable(f)) as file:
        try:
            return _load_file(file, restore, weights_only, os.fspath(f) if mmap else None,
                              encoding)
        except _tp.WeightsOnlyError:
            raise
        except _CORRUPT_ERRORS as error:
            raise RuntimeError(f"{name} is not a valid checkpoint: {_cause(error)}") from error
        except Exception as error:
            if str(error):
                raise
            raise RuntimeError(f"dark.load of {name} failed: {_cause(error)}") from error


_CORRUPT_ERRORS = (_tp.CorruptError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError,
                   struct.error, KeyError, IndexError, ValueError, TypeError, OverflowError,
                   NotImplementedError, pickle.UnpicklingError)
_SILENT_CAUSES = {EOFError: "the data ends early (EOFError)"}


def _cause(error: BaseException) -> str:
    """What went wrong, never empty: the message (with the exception's type, unless dark
    raised it), or the type and what it means where the exception has no message."""
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        text = error.args[0]  # str() of a KeyError is the repr of its argument
    else:
        text = str(error)
    kind = type(error).__name__
    if not text:
        return _SILENT_CAUSES.get(type(error), f"{kind} raised without a message")
    return text if isinstance(error, _tp.CorruptError) else f"{text} ({kind})"


def _seekable(f):
    seekable = getattr(f, "seekable", None)
    if seekable is not None and seekable():
        return f
    return io.BytesIO(f.read())


def _load_file(file, restore, weights_only, mmap_path, encoding):
    start = file.tell()
    magic = file.read(4)
    file.seek(start)
    if not magic:
        raise _tp.CorruptError("the file is empty")
    if magic[:2] == b"PK":
        return _tp.read_zip(file, restore, weights_only, mmap_path, encoding)
    if mmap_path is not None:
        raise RuntimeError("mmap can only be used with files saved with "
                           "`dark.save(_use_new_zipfile_serialization=True)`, please save "
                           "your checkpoint with this option in order to use mmap.")
    if magic[:1] == b"\x80":
        return _tp.read_legacy(file, restore, weights_only, encoding)
    raise _tp.CorruptError(f"unknown format (starts with {magic!r}); expected a zip archive "
                           "(torch >= 1.6) or torch's legacy pickle format")


# ----------------------------------------------------------------------------- safe globals
def add_safe_globals(safe_globals: list) -> None:
    """Allow these classes/functions in ``dark.load(weights_only=True)`` (torch's API): each
    entry is an object, or ``(object, "module.name")`` for one pickled under another name."""
    for entry in safe_globals:
        obj, path = entry if isinstance(entry, tuple) else (entry, None)
        _tp.user_safe_globals[path or f"{obj.__module__}.{obj.__qualname__}"] = obj


def get_safe_globals() -> list:
    return list(_tp.user_safe_globals.values())


def clear_safe_globals() -> None:
    _tp.user_safe_globals.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list):
    """Within the block, ``dark.load(weights_only=True)`` also allows these globals."""
    saved = dict(_tp.user_safe_globals)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _tp.user_safe_globals.clear()
        _tp.user_safe_globals.update(saved)


# ----------------------------------------------------------------------------- atomic writes
def _atomic_write(path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file through a temporary sibling that replaces ``path`` only when complete and
    on disk: readers see the old file or the new one, never a part of it."""
    target = os.path.realpath(os.fspath(path))  # through a symlink, as open() would write
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {os.path.dirname(os.fspath(path)) or '.'} does "
                           "not exist.")
    temp, fd = _create_temp(directory, os.path.basename(target))
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _create_temp(directory: str, base: str) -> tuple[str, int]:
    # os.open with mode 0o666 gives the permissions open() would (the umask applies),
    # unlike tempfile's 0o600
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        with contextlib.suppress(FileExistsError):
            return temp, os.open(temp, flags, 0o666)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); not possible on every system."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ----------------------------------------------------------------------------- safetensors
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
                       "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
_SAFETENSORS_CODES = {np.dtype(v): k for k, v in _SAFETENSORS_DTYPES.items()}
_SAFETENSORS_READ = {**_SAFETENSORS_DTYPES, "BF16": "<u2"}
_MAX_HEADER = 100_000_000  # the safetensors library's limit
_MAX_DIMS = 64  # numpy's (and cupy's) limit


def save_safetensors(tensors: dict[str, Tensor], path: str | os.PathLike,
                     metadata: dict[str, str] | None = None) -> None:
    """Save a dict of tensors as a .safetensors file (8-byte little-endian header length, a
    JSON header of dtype / shape / data_offsets per name, then the raw little-endian data),
    atomically. Tensors are written contiguous, largest element size first."""
    if not isinstance(tensors, dict):
        raise TypeError(f"tensors must be a dict of str to Tensor, not "
                        f"{type(tensors).__name__}")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError("metadata must be a dict of str to str")
    arrays = {}
    for name, tensor in tensors.items():
        if not isinstance(name, str) or not isinstance(tensor, Tensor):
            raise TypeError(f"tensors must be a dict of str to Tensor, got {name!r}: "
                            f"{type(tensor).__name__}")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved for the metadata, not a tensor name")
        array = tensor._data if tensor.is_cpu else tensor._data.get()
        if array.dtype not in _SAFETENSORS_CODES and array.dtype.kind != "V":
            raise TypeError(f"cannot save tensor {name!r} of dtype {tensor.dtype} as safetensors")
        arrays[name] = array if array.flags.c_contiguous else array.copy()
    order = sorted(arrays, key=lambda name: (-arrays[name].dtype.itemsize, name))
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name in order:
        array = arrays[name]
        code = "BF16" if array.dtype.kind == "V" else _SAFETENSORS_CODES[array.dtype]
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keeps the data 8-byte aligned

    def write(file):
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for name in order:
            file.write(memoryview(arrays[name].reshape(-1).view(np.uint8)))

    _atomic_write(path, write)


def load_safetensors(path: str | os.PathLike, device="cpu") -> dict[str, Tensor]:
    """Load a .safetensors file as a dict of tensors on ``device``. BF16 loads as bfloat16
    (float32 without ml_dtypes); unsigned integers wider than 8 bits and float8 are refused
    (dark has no such dtypes)."""
    dev = _backend.to_device(device)
    return _read_safetensors(os.fspath(path), lambda storage, location: storage.to(dev))


def _read_safetensors(path: str, restore) -> dict[str, Tensor]:
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        try:
            entries, start = _safetensors_header(file, size)
        except (ValueError, struct.error) as error:
            raise RuntimeError(f"{path} is not a valid safetensors file: "
                               f"{_cause(error)}") from None
        file.seek(start)
        result = {}
        for name, code, shape, _, _ in entries:
            raw = np.empty(shape, _SAFETENSORS_READ[code])
            if raw.nbytes and file.readinto(raw.reshape(-1).view(np.uint8)) != raw.nbytes:
                raise RuntimeError(f"{path} is not a valid safetensors file: tensor {name!r} "
                                   "is cut short")
            if code == "BF16":
                array = _tp.StorageType("BFloat16Storage").decode(raw)
            else:
                array = raw.astype(raw.dtype.newbyteorder("="), copy=False)
            result[name] = Tensor._make(restore(_tp.Storage(array), "cpu").array)
        return result


def _safetensors_header(file, size: int) -> tuple[list, int]:
    """The (name, dtype code, shape, begin, end) of each tensor, in file order, and where the
    data starts; checked as the safetensors library checks (contiguous, complete data)."""
    (length,) = struct.unpack("<Q", file.read(8))
    if length > _MAX_HEADER or 8 + length > size:
        raise ValueError(f"a header of {length} bytes does not fit in a file of {size} bytes")
    header = json.loads(file.read(length).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(v, str) for v in metadata.values())):
        raise ValueError("__metadata__ must map str to str")
    entries = []
    for name, info in header.items():
        if not (isinstance(info, dict) and set(info) == {"dtype", "shape", "data_offsets"}):
            raise ValueError(f"tensor {name!r} needs exactly dtype, shape and data_offsets")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _SAFETENSORS_READ:
            raise TypeError(f"tensor {name!r} has dtype {code}, which dark cannot load "
                            f"(supported: {', '.join(_SAFETENSORS_READ)})")
        if not (isinstance(shape, list) and all(_natural(n) for n in shape) and
                isinstance(offsets, list) and len(offsets) == 2 and
                all(_natural(n) for n in offsets) and offsets[0] <= offsets[1]):
            raise ValueError(f"tensor {name!r} has an invalid shape {shape!r} or data_offsets "
                             f"{offsets!r}")
        if len(shape) > _MAX_DIMS:
            raise ValueError(f"tensor {name!r} has {len(shape)} dimensions, more than the "
                             f"{_MAX_DIMS} an array can have")
        entries.append((name, code, tuple(shape), offsets[0], offsets[1]))
    entries.sort(key=lambda entry: entry[3:])
    position = 0
    for name, code, shape, begin, end in entries:
        if begin != position:
            raise ValueError(f"tensor {name!r} starts at byte {begin}, not {position} (the "
                             "data must be contiguous)")
        # python ints: a size in int64 (np.prod) can wrap around and pass for a small one
        expected = math.prod(shape) * np.dtype(_SAFETENSORS_READ[code]).itemsize
        if end - begin != expected:
            raise ValueError(f"tensor {name!r} of dtype {code} and shape {list(shape)} needs "
                             f"{expected} bytes, its data_offsets span {end - begin}")
        position = end
    if 8 + length + position != size:
        raise ValueError(f"the header describes {position} bytes of data, the file holds "
                         f"{size - 8 - length}")
    return entries, 8 + length


def _natural(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
