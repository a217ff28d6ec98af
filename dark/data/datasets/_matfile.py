"""A reader of the numeric arrays of MATLAB version 5 MAT-files (what MATLAB writes by
default up to ``-v7``, compressed or not, and what ``scipy.io.savemat`` writes), so that SVHN
loads without scipy. Cells, structs, sparse, character and complex arrays are skipped.

Format: a 128-byte header (text, subsystem offset, version 0x0100, endian indicator 'IM'
for little-endian files, 'MI' for big-endian), then data elements: an 8-byte tag (type,
byte count; a "small element" packs the count in the upper 16 bits of the type and its <= 4
bytes of data in the tag's second word), the data, padding to 8 bytes. A miCOMPRESSED
element holds one zlib-compressed element; a miMATRIX element holds the array flags (class
in the low byte), dimensions, name and real part, stored column-major.
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

__all__ = ["loadmat"]

_MI_INT8, _MI_UINT32, _MI_INT32, _MI_MATRIX, _MI_COMPRESSED = 1, 6, 5, 14, 15
_MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8",
              12: "i8", 13: "u8"}
# mxClass -> numpy dtype of the array (the stored element type may be narrower)
_MX_DTYPES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4",
              14: "i8", 15: "u8"}
_COMPLEX_FLAG = 0x0800


def _corrupt(path: str, problem: str) -> RuntimeError:
    return RuntimeError(f"{path} is not a readable MATLAB 5 MAT-file ({problem}). Delete it "
                        "and download it again (download=True fetches it).")


def _elements(buf: memoryview, order: str, path: str):
    """``(type, data)`` of each element of ``buf`` in turn."""
    pos, end = 0, len(buf)
    while pos + 8 <= end:
        mtype, nbytes = struct.unpack_from(order + "II", buf, pos)
        if mtype >> 16:   # small data element: count in the upper half, data in the tag
            nbytes, mtype = mtype >> 16, mtype & 0xFFFF
            if nbytes > 4:
                raise _corrupt(path, f"small element of {nbytes} bytes")
            yield mtype, buf[pos + 4:pos + 4 + nbytes]
            pos += 8
            continue
        if pos + 8 + nbytes > end:
            raise _corrupt(path, f"an element of {nbytes} bytes runs past the end of the data")
        yield mtype, buf[pos + 8:pos + 8 + nbytes]
        pos += 8 + nbytes
        if mtype != _MI_COMPRESSED:
            pos += -nbytes % 8


def _array(body: memoryview, order: str, path: str) -> tuple[str, np.ndarray] | None:
    """``(name, array)`` of a miMATRIX element's body, or None for a kind not read."""
    elements = _elements(body, order, path)
    flags_type, flags_data = next(elements, (None, b""))
    if flags_type != _MI_UINT32 or len(flags_data) < 4:
        raise _corrupt(path, "a matrix without array flags")
    flags = struct.unpack_from(order + "I", flags_data)[0]
    mx_class = flags & 0xFF
    if mx_class not in _MX_DTYPES or flags & _COMPLEX_FLAG:
        return None   # cells, structs, objects, characters, sparse or complex arrays
    parts = list(elements)
    if len(parts) < 3 or parts[0][0] != _MI_INT32:
        raise _corrupt(path, "a numeric matrix without dimensions, name or data")
    parts.insert(0, (flags_type, flags_data))
    name = bytes(parts[2][1]).decode("ascii", "replace")
    dims = tuple(int(d) for d in np.frombuffer(parts[1][1], order + "i4"))
    mtype, data = parts[3]
    if mtype not in _MI_DTYPES:
        raise _corrupt(path, f"variable {name!r} stores its data as unknown type {mtype}")
    values = np.frombuffer(data, np.dtype(_MI_DTYPES[mtype]).newbyteorder(order))
    if values.size != int(np.prod(dims)):
        raise _corrupt(path, f"variable {name!r} has {values.size} values for shape {dims}")
    values = values.astype(np.dtype(_MX_DTYPES[mx_class]).newbyteorder("="), copy=False)
    return name, values.reshape(dims, order="F")


def loadmat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The numeric arrays of a MATLAB 5 MAT-file by variable name, each with MATLAB's shape
    and class (as ``scipy.io.loadmat`` gives them, column-major). Raises RuntimeError naming
    the file when it is not such a file (a MATLAB 7.3 HDF5 file says so) or is truncated."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = memoryview(f.read())
    header = bytes(data[:128])
    if header.startswith(b"MATLAB 7.3"):
        raise RuntimeError(f"{path} is a MATLAB 7.3 (HDF5) MAT-file; only version 5 "
                           "MAT-files (MATLAB's format up to -v7) are read")
    if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
        raise _corrupt(path, "no MAT-file header")
    order = "<" if header[126:128] == b"IM" else ">"
    arrays = {}
    for mtype, body in _elements(data[128:], order, path):
        if mtype == _MI_COMPRESSED:
            try:
                inner = memoryview(zlib.decompress(body))
            except zlib.error as error:
                raise _corrupt(path, f"zlib: {error}") from error
            elements = list(_elements(inner, order, path))
        else:
            elements = [(mtype, body)]
        for inner_type, inner_body in elements:
            if inner_type == _MI_MATRIX:
                found = _array(inner_body, order, path)
                if found is not None:
                    arrays[found[0]] = found[1]
    return arrays
