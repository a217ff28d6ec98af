"""dark.testing: assert_close and make_tensor, as torch.testing.

assert_close compares tensors, numpy arrays, Python numbers and booleans, and (nested)
sequences and mappings of them, with torch's default tolerances per dtype, its attribute
checks (shape, device, dtype, stride) and its mismatch messages, word for word."""
from __future__ import annotations

import cmath
import collections.abc
import math
import warnings

import numpy as np

from . import _backend
from ._tensor import Tensor
from .ops.creation import as_tensor, empty
from .ops.random import randint

__all__ = ["assert_allclose", "assert_close", "make_tensor"]

# (rtol, atol) per dtype, as torch.testing's _DTYPE_PRECISIONS; other dtypes: (0, 0).
_PRECISIONS = {
    _backend.float16: (0.001, 1e-5),
    _backend.float32: (1.3e-6, 1e-5),
    _backend.float64: (1e-7, 1e-7),
    _backend.complex64: (1.3e-6, 1e-5),
    _backend.complex128: (1e-7, 1e-7),
}
_NUMBER_DTYPES = {int: _backend.int64, float: _backend.float64, complex: _backend.complex128}


class _Failure(Exception):
    """A failed check: the error type, torch's message and the item's path."""

    def __init__(self, type_, msg: str, id_=()):
        super().__init__(msg)
        self.type, self.msg, self.id = type_, msg, id_

    def to_error(self, msg):
        if not isinstance(msg, str):
            generated = self.msg
            if self.id:
                generated += ("\n\nThe failure occurred for item "
                              + "".join(str([item]) for item in self.id))
            msg = msg(generated) if callable(msg) else generated
        return self.type(msg)


class _Unsupported(Exception):
    pass


def _tolerances(*dtypes, rtol, atol, id_):
    if (rtol is None) ^ (atol is None):
        raise _Failure(ValueError, "Both 'rtol' and 'atol' must be either specified or "
                       f"omitted, but got no {'rtol' if rtol is None else 'atol'}.", id_)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*[_PRECISIONS.get(d, (0.0, 0.0)) for d in dtypes])
    return max(rtols), max(atols)


def _mismatch_msg(default_identifier, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx,
                  rtol) -> str:
    equality = rtol == 0 and atol == 0

    def diff_msg(kind, diff, idx, tol):
        if idx is None:
            text = f"{kind.title()} difference: {diff}"
        else:
            text = f"Greatest {kind} difference: {diff} at index {idx}"
        if not equality:
            text += f" (up to {tol} allowed)"
        return text + "\n"

    text = f"{default_identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        text += f"{extra.strip()}\n"
    text += diff_msg("absolute", abs_diff, abs_idx, atol)
    text += diff_msg("relative", rel_diff, rel_idx, rtol)
    return text.strip()


def _scalar_msg(actual, expected, rtol, atol) -> str:
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg("Scalars", f"Expected {expected} but got {actual}.", abs_diff, None,
                         atol, rel_diff, None, rtol)


def _host(tensor: Tensor) -> np.ndarray:
    array = tensor.detach()._data
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _isclose(a: np.ndarray, b: np.ndarray, rtol, atol, equal_nan) -> np.ndarray:
    close = a == b
    if a.dtype.kind in "fc":
        error = np.abs(a - b)
        close |= np.isfinite(error) & (error <= atol + np.abs(rtol * b))
        if equal_nan:
            close |= np.isnan(a) & np.isnan(b)
    elif rtol or atol:
        error = np.abs(a.astype(np.float64) - b.astype(np.float64))
        close |= error <= atol + np.abs(rtol * b.astype(np.float64))
    return close


def _tensor_msg(a: np.ndarray, b: np.ndarray, matches: np.ndarray, rtol, atol) -> str:
    shape = matches.shape
    total = matches.size
    mismatches = total - int(matches.sum())
    extra = f"Mismatched elements: {mismatches} / {total} ({mismatches / total:.1%})"
    a, b, matches = a.reshape(-1), b.reshape(-1), matches.reshape(-1)
    if a.dtype.kind not in "fc":
        a, b = a.astype(np.int64), b.astype(np.int64)
    abs_diff = np.abs(a - b)
    abs_diff[matches] = 0
    abs_at = int(np.argmax(abs_diff))
    if abs_diff.dtype.kind not in "fc":  # integer division gives the default float dtype
        real = _backend.get_default_dtype().np
        rel_diff = abs_diff.astype(real) / np.abs(b).astype(real)
    else:
        rel_diff = abs_diff / np.abs(b)
    rel_diff[matches] = 0
    rel_at = int(np.argmax(rel_diff))
    def index(flat):
        return tuple(int(i) for i in np.unravel_index(flat, shape))

    return _mismatch_msg("Tensor-likes", extra, abs_diff[abs_at].item(), index(abs_at), atol,
                         rel_diff[rel_at].item(), index(rel_at), rtol)


def _compare_tensors(actual: Tensor, expected: Tensor, id_, rtol, atol, equal_nan,
                     check_device, check_dtype, check_stride):
    def mismatch(attribute, a, b):
        raise _Failure(AssertionError,
                       f"The values for attribute '{attribute}' do not match: {a} != {b}.", id_)

    if actual.shape != expected.shape:
        mismatch("shape", actual.shape, expected.shape)
    if check_stride and actual.stride() != expected.stride():
        mismatch("stride()", actual.stride(), expected.stride())
    if check_device and actual.device != expected.device:
        mismatch("device", actual.device, expected.device)
    if check_dtype and actual.dtype != expected.dtype:
        mismatch("dtype", actual.dtype, expected.dtype)
    a, b = _host(actual), _host(expected)
    if actual.dtype != expected.dtype:
        common = _backend.promote_types(actual.dtype, expected.dtype).np
        a, b = a.astype(common), b.astype(common)
    with np.errstate(all="ignore"):
        matches = _isclose(a, b, rtol, atol, equal_nan)
        if matches.all():
            return
        if a.ndim == 0:
            raise _Failure(AssertionError, _scalar_msg(a.item(), b.item(), rtol, atol), id_)
        raise _Failure(AssertionError, _tensor_msg(a, b, matches, rtol, atol), id_)


def _pair(actual, expected, id_, options):
    """A check of two leaves, or _Unsupported; construction errors raise _Failure."""
    rtol, atol = options["rtol"], options["atol"]
    if actual is None or expected is None:
        if actual is None and expected is None:
            return lambda: None
        raise _Unsupported
    booleans = (bool, np.bool_)
    if isinstance(actual, booleans) and isinstance(expected, booleans):
        def compare_booleans():
            if bool(actual) is not bool(expected):
                raise _Failure(AssertionError,
                               f"Booleans mismatch: {bool(actual)} is not {bool(expected)}", id_)
        return compare_booleans
    numbers = (int, float, complex, np.number)
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        a, b = (x.item() if isinstance(x, np.number) else x for x in (actual, expected))
        r, t = _tolerances(_NUMBER_DTYPES[type(a)], _NUMBER_DTYPES[type(b)],
                           rtol=rtol, atol=atol, id_=id_)

        def compare_numbers():
            if options["check_dtype"] and type(a) is not type(b):
                raise _Failure(AssertionError,
                               f"The (d)types do not match: {type(a)} != {type(b)}.", id_)
            if a == b:
                return
            if options["equal_nan"] and cmath.isnan(a) and cmath.isnan(b):
                return
            diff = abs(a - b)
            if cmath.isfinite(diff) and diff <= t + r * abs(b):
                return
            raise _Failure(AssertionError, _scalar_msg(a, b, r, t), id_)
        return compare_numbers
    if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
        raise _Unsupported
    if not options["allow_subclasses"] and type(actual) is not type(expected):
        raise _Unsupported
    try:
        a, b = (x if isinstance(x, Tensor) else as_tensor(x) for x in (actual, expected))
    except Exception as error:  # noqa: BLE001 - anything as_tensor refuses is unsupported
        raise _Unsupported from error
    r, t = _tolerances(a.dtype, b.dtype, rtol=rtol, atol=atol, id_=id_)
    return lambda: _compare_tensors(a, b, id_, r, t, options["equal_nan"],
                                    options["check_device"], options["check_dtype"],
                                    options["check_stride"])


def _pairs(actual, expected, id_, options) -> list:
    sequence = collections.abc.Sequence
    if (isinstance(actual, sequence) and not isinstance(actual, str)
            and isinstance(expected, sequence) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, "The length of the sequences mismatch: "
                           f"{len(actual)} != {len(expected)}", id_)
        return [p for i in range(len(actual))
                for p in _pairs(actual[i], expected[i], (*id_, i), options)]
    mapping = collections.abc.Mapping
    if isinstance(actual, mapping) and isinstance(expected, mapping):
        actual_keys, expected_keys = set(actual.keys()), set(expected.keys())
        if actual_keys != expected_keys:
            raise _Failure(AssertionError, (
                "The keys of the mappings do not match:\n"
                f"Missing keys in the actual mapping: {sorted(expected_keys - actual_keys)}\n"
                "Additional keys in the actual mapping: "
                f"{sorted(actual_keys - expected_keys)}"), id_)
        keys = actual_keys
        try:
            keys = sorted(keys)
        except Exception:  # noqa: BLE001 - unsortable keys keep the set's order, as torch
            pass
        return [p for k in keys for p in _pairs(actual[k], expected[k], (*id_, k), options)]
    try:
        return [_pair(actual, expected, id_, options)]
    except _Unsupported:
        raise _Failure(TypeError, "No comparison pair was able to handle inputs of type "
                       f"{type(actual)} and {type(expected)}.", id_) from None


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol=None, atol=None,
                 equal_nan: bool = False, check_device: bool = True, check_dtype: bool = True,
                 check_layout: bool = True, check_stride: bool = False, msg=None) -> None:
    """Assert that ``actual`` and ``expected`` are close, as torch.testing.assert_close:
    ``|actual - expected| <= atol + rtol * |expected|`` elementwise, with the default
    ``(rtol, atol)`` of the inputs' dtypes when both are omitted (float16 (1e-3, 1e-5),
    float32 and complex64 (1.3e-6, 1e-5), float64 and complex128 (1e-7, 1e-7), others
    exact). Tensors must match in shape and, unless turned off, device, dtype and (with
    ``check_stride``) strides; ``check_layout`` is accepted (dark's tensors are all strided).
    ``msg`` (a string, or a callable of the generated message) replaces the message."""
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                   check_device=check_device, check_dtype=check_dtype,
                   check_stride=check_stride)
    try:
        for compare in _pairs(actual, expected, (), options):
            compare()
    except _Failure as failure:
        raise failure.to_error(msg) from None


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None) -> Tensor:
    """A tensor of ``shape`` with values drawn uniformly from ``[low, high)``, as
    torch.testing.make_tensor (defaults [-9, 9) for floats, [-9, 10) for integers, {0, 1}
    for bool; bounds clamped to the dtype's range). It draws as torch's does (``randint`` or
    ``uniform_``), so from the same seed it gives torch's values."""
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    dtype = _backend.to_dtype(dtype)
    integral = not (dtype.is_floating_point or dtype.is_complex)
    if noncontiguous and memory_format is not None:
        raise ValueError("The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if requires_grad and integral:
        raise ValueError("`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])

    def low_high(lowest, highest, default_low, default_high):
        lo = default_low if low is None else low
        hi = default_high if high is None else high
        if any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={lo} and high={hi}")
        if lo == hi and not integral:
            warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                          "complex types is deprecated since 2.1 and will be removed in 2.3. "
                          "Use `torch.full(...)` instead.", FutureWarning, stacklevel=3)
        elif lo >= hi:
            raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
        elif hi < lowest or lo >= highest:
            raise ValueError(f"The value interval specified by `low` and `high` is [{lo}, {hi}), "
                             f"but {dtype} only supports [{lowest}, {highest})")
        lo, hi = min(max(lo, lowest), highest), min(max(hi, lowest), highest)
        return (math.ceil(lo), math.ceil(hi)) if integral else (lo, hi)

    if dtype == _backend.bool_:
        lo, hi = low_high(0, 2, 0, 2)
        result = randint(lo, hi, shape, device=device, dtype=dtype)
    elif integral:
        info = np.iinfo(dtype.np)
        lo, hi = low_high(int(info.min), int(info.max) + (dtype != _backend.int64), -9, 10)
        result = randint(lo, hi, shape, device=device, dtype=dtype)
    else:
        info = np.finfo(dtype.np)
        lo, hi = low_high(float(info.min), float(info.max), -9, 9)
        real = _backend.from_numpy_dtype(info.dtype)
        values = empty(shape + ((2,) if dtype.is_complex else ()), dtype=real, device=device)
        if hi - lo >= float(info.max):
            values.uniform_(lo / 2, hi / 2).mul_(2)
        else:
            values.uniform_(lo, hi)
        result = values
        if dtype.is_complex:
            result = as_tensor(values._data.view(dtype.np).reshape(shape))
    if noncontiguous:
        result = result[..., 1::2]
    if exclude_zero:
        zero = result == 0
        if integral:
            result[zero] = 1
        else:
            result[zero] = float(np.finfo(dtype.np).smallest_normal)
    if not integral:
        result.requires_grad = requires_grad
    return result


# assert_allclose's own defaults (the older, looser ones torch kept for it)
_ALLCLOSE_PRECISIONS = {_backend.float16: (1e-3, 1e-3), _backend.float32: (1e-4, 1e-5),
                        _backend.float64: (1e-5, 1e-8)}


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan: bool = True,
                    msg: str = "") -> None:
    """The deprecated torch.testing.assert_allclose (with its FutureWarning): ``assert_close``
    without the dtype check, NaNs equal by default, non-tensors made tensors (``expected``
    in ``actual``'s dtype), and its own default tolerances when both are omitted (float16
    (1e-3, 1e-3), float32 (1e-4, 1e-5), float64 (1e-5, 1e-8), others exact)."""
    warnings.warn("`dark.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `dark.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = as_tensor(actual)
    if not isinstance(expected, Tensor):
        expected = as_tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtols, atols = zip(*[_ALLCLOSE_PRECISIONS.get(t.dtype, (0.0, 0.0))
                             for t in (actual, expected)])
        rtol, atol = max(rtols), max(atols)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                 check_dtype=False, check_stride=False, msg=msg or None)
