"""Compiled (numba) kernels of dark.random's CPU draws, optional: ``normal_draw32()`` (torch's
float32 normal_kernel), ``randperm()`` (randperm_cpu's swap loop), ``uniform(dtype)`` (float32
24-bit / float64 53-bit uniforms), ``integers32()`` (random_from_to with 32-bit draws) and
``normal_fill32()`` (the float32 transform alone) each return the compiled kernel, drawing
from a numpy MT19937's state in place, or None when numba is not installed (or the kernels
are turned off), and dark.random then takes its numpy path, which gives the same bits.

The kernel is torch's normal_fill_16_AVX2 (ATen's avx_mathfun.h log256_ps and sincos256_ps,
as GCC compiles them: fused multiply-adds where the source has ``_mm256_fmadd_ps``) over
rows of 16 draws, element j paired with j + 8, in float32 in ATen's order of operations: each
fused multiply-add is LLVM's ``llvm.fma.f32`` (one rounding), every other operation a plain
float32 one. numba compiles without fast-math, so LLVM neither contracts a multiply and an
add into a fused one nor reorders anything: the same bits as dark.random's numpy emulation
(``_log_avx`` / ``_sincos_avx`` / ``_box_muller_16``, checked by tests/test_random_numba.py).

numba is imported when a kernel is first asked for, and the kernels compile then (about 3 s
in all), cached on disk (numba's ``cache=True``: next to this file when its folder is
writable, else in the user's cache folder, e.g. ~/.cache/numba; where neither is writable
they compile without a cache, in every process), so a later process loads them in a fraction
of a second. A kernel that cannot be built at all leaves dark on its numpy path, with a
warning. ``set_enabled(False)`` (or ``DARK_NUMBA=0`` in the environment at import) keeps
dark on its numpy paths. The kernels hold the numpy generator's lock while they draw (and
release the GIL): a draw from a generator shared by threads is one piece, as torch's.

The plain Python functions below are the kernels' source; the helpers they call (``_fma``,
``_as_int``, ``_as_float``, ``_sqrt``) are numba intrinsics made at that first use."""
from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

from .numba_jit import jit

_F32 = np.float32

# avx_mathfun.h's constants, as float32 (numba types a numpy scalar global as its dtype)
_ONE = _F32(1.0)
_ZERO = _F32(0.0)
_HALF = _F32(0.5)
_MIN_NORM_BITS = np.int32(0x00800000)
_SQRTHF = _F32(0.707106781186547524)
_LOG_P0 = _F32(7.0376836292E-2)
_LOG_P1 = _F32(-1.1514610310E-1)
_LOG_P2 = _F32(1.1676998740E-1)
_LOG_P3 = _F32(-1.2420140846E-1)
_LOG_P4 = _F32(1.4249322787E-1)
_LOG_P5 = _F32(-1.6668057665E-1)
_LOG_P6 = _F32(2.0000714765E-1)
_LOG_P7 = _F32(-2.4999993993E-1)
_LOG_P8 = _F32(3.3333331174E-1)
_LOG_Q1 = _F32(-2.12194440e-4)
_LOG_Q2 = _F32(0.693359375)
_MINUS_HALF = _F32(-0.5)
_MINUS_TWO = _F32(-2.0)
_FOPI = _F32(1.27323954473516)
_DP1 = _F32(-0.78515625)
_DP2 = _F32(-2.4187564849853515625e-4)
_DP3 = _F32(-3.77489497744594108e-8)
_COS_P0 = _F32(2.443315711809948E-005)
_COS_P1 = _F32(-1.388731625493765E-003)
_COS_P2 = _F32(4.166664568298827E-002)
_SIN_P0 = _F32(-1.9515295891E-4)
_SIN_P1 = _F32(8.3321608736E-3)
_SIN_P2 = _F32(-1.6666654611E-1)
_TWO_PI = _F32(2 * np.pi)
_TWO_M24 = _F32(2.0 ** -24)

# numba intrinsics, made by _numba(): fma(a, b, c) of float32 with one rounding, and the
# bits of a float32 as int32 and back
_fma = _as_int = _as_float = _sqrt = None


_BLOCK = 512  # rows of 16 per block: the block's buffers stay in the first-level cache
_N = 624  # mt19937's state words
_M = 397


def _mt_fill(key, pos, out):  # pragma: no cover - compiled by numba
    """mt19937's next ``out.size`` 32-bit outputs into ``out`` (uint32) from the state ``key``
    (624 uint32, changed in place) at ``pos`` (numpy's MT19937: the state is regenerated when
    pos reaches 624); returns the new pos."""
    done = 0
    while done < out.size:
        if pos == _N:
            for k in range(_N - _M):
                y = (np.int64(key[k]) & 0x80000000) | (np.int64(key[k + 1]) & 0x7FFFFFFF)
                key[k] = np.int64(key[k + _M]) ^ (y >> 1) ^ (-(y & 1) & 0x9908B0DF)
            for k in range(_N - _M, _N - 1):
                y = (np.int64(key[k]) & 0x80000000) | (np.int64(key[k + 1]) & 0x7FFFFFFF)
                key[k] = np.int64(key[k + _M - _N]) ^ (y >> 1) ^ (-(y & 1) & 0x9908B0DF)
            y = (np.int64(key[_N - 1]) & 0x80000000) | (np.int64(key[0]) & 0x7FFFFFFF)
            key[_N - 1] = np.int64(key[_M - 1]) ^ (y >> 1) ^ (-(y & 1) & 0x9908B0DF)
            pos = 0
        take = min(_N - pos, out.size - done)
        # the tempering on slices: indices from 0 let LLVM vectorize the loop (indexed from
        # pos and done it stayed scalar, 5x slower: 1.29 against 0.26 ms for 1.18M outputs)
        source = key[pos:pos + take]
        target = out[done:done + take]
        for t in range(take):
            y = np.int64(source[t])
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C5680
            y ^= (y << 15) & 0xEFC60000
            y ^= y >> 18
            target[t] = y
        pos += take
        done += take
    return pos


def _transform(first, second, count, cos_out, sin_out, affine, mean, std):  # pragma: no cover
    """normal_fill_16_AVX2's transform of ``count`` pairs: ``first`` and ``second`` hold the
    u1 and u2 of each pair times 2**24 (int32); radius * cos into ``cos_out`` and radius * sin
    into ``sin_out`` (float32), then ``fma(., std, mean)`` when ``affine``. One flat loop,
    which LLVM vectorizes: no branches, the selects and signs by integer operations."""
    for p in range(count):
        # ---- log256_ps(1 - u1)
        x = _ONE - _F32(first[p]) * _TWO_M24
        bits = max(_as_int(x), _MIN_NORM_BITS)
        e = _F32((bits >> 23) - 0x7F) + _ONE
        x = _as_float((bits & ~0x7F800000) | 0x3F000000)
        small = x < _SQRTHF
        e = e - (_ONE if small else _ZERO)
        x = (x - _ONE) + (x if small else _ZERO)
        z = x * x
        y = _fma(_LOG_P0, x, _LOG_P1)
        y = _fma(y, x, _LOG_P2)
        y = _fma(y, x, _LOG_P3)
        y = _fma(y, x, _LOG_P4)
        y = _fma(y, x, _LOG_P5)
        y = _fma(y, x, _LOG_P6)
        y = _fma(y, x, _LOG_P7)
        y = _fma(y, x, _LOG_P8)
        y = _fma(y * x, z, e * _LOG_Q1)
        y = _fma(z, _MINUS_HALF, y)
        radius = _sqrt(_MINUS_TWO * _fma(e, _LOG_Q2, x + y))
        # ---- sincos256_ps(2 pi u2): u2 >= 0, so the input's sign bit is clear
        a = _TWO_PI * (_F32(second[p]) * _TWO_M24)
        j = np.int32(a * _FOPI)
        j = (j + 1) & ~1
        yj = _F32(j)
        a = _fma(yj, _DP1, a)
        a = _fma(yj, _DP2, a)
        a = _fma(yj, _DP3, a)
        z = a * a
        c = _fma(_COS_P0, z, _COS_P1)
        c = _fma(c, z, _COS_P2) * z
        c = _fma(c, z, -(z * _HALF)) + _ONE
        s = _fma(_SIN_P0, z, _SIN_P1)
        s = _fma(s, z, _SIN_P2) * z
        s = _fma(s, a, a)
        swap = (j & 2) != 0
        sin_bits = _as_int(c if swap else s) ^ ((j & 4) << 29)
        cos_bits = _as_int(s if swap else c) ^ (((j + 2) & 4) << 29)  # ~(j - 2) & 4
        cos_out[p] = radius * _as_float(cos_bits)
        sin_out[p] = radius * _as_float(sin_bits)
    if affine:
        for p in range(count):
            cos_out[p] = _fma(cos_out[p], std, mean)
            sin_out[p] = _fma(sin_out[p], std, mean)


def _normal_rows32(drawn, out, affine, mean, std):  # pragma: no cover - compiled by numba
    """normal_fill_16_AVX2 of ``drawn`` (int32, 16 * r draws' low 24 bits, the uniforms times
    2**24) into ``out`` (float32, 16 * r), then ``fma(out, std, mean)`` when ``affine``. In
    blocks of rows: each row's first 8 (u1) and last 8 (u2) gathered into two runs, the
    transform, the results put back in rows."""
    rows = drawn.size // 16
    first = np.empty(8 * _BLOCK, np.int32)
    second = np.empty(8 * _BLOCK, np.int32)
    cos_out = np.empty(8 * _BLOCK, np.float32)
    sin_out = np.empty(8 * _BLOCK, np.float32)
    for start in range(0, rows, _BLOCK):
        count = min(_BLOCK, rows - start)
        for row in range(count):
            for lane in range(8):
                first[8 * row + lane] = drawn[16 * (start + row) + lane]
                second[8 * row + lane] = drawn[16 * (start + row) + 8 + lane]
        _transform_jit(first, second, 8 * count, cos_out, sin_out, affine, mean, std)
        for row in range(count):
            for lane in range(8):
                out[16 * (start + row) + lane] = cos_out[8 * row + lane]
                out[16 * (start + row) + 8 + lane] = sin_out[8 * row + lane]


def _normal_draw32(state, out, discard, affine, mean, std):  # pragma: no cover - numba
    """torch's float32 normal_kernel of fresh draws into ``out`` (float32, n >= 16): the n // 16
    full rows from 16 * (n // 16) mt19937 outputs of ``state`` (numpy's MT19937 state in place:
    624 key words, then pos), their low 24 bits transformed, block by block; when n is not a
    multiple of 16, ``discard`` more outputs drawn and dropped, then the last 16 elements
    recomputed from 16 fresh outputs (torch's tail)."""
    key, pos = state[:_N], np.int64(state[_N])
    n = out.size
    rows = n // 16
    raw = np.empty(16 * _BLOCK, np.uint32)
    first = np.empty(8 * _BLOCK, np.int32)
    second = np.empty(8 * _BLOCK, np.int32)
    cos_out = np.empty(8 * _BLOCK, np.float32)
    sin_out = np.empty(8 * _BLOCK, np.float32)
    dropped = np.empty(max(discard, 0), np.uint32)
    tail = 1 if n % 16 else 0
    for start in range(0, rows + tail, _BLOCK):
        count = min(_BLOCK, rows + tail - start)
        full = min(count, rows - start)  # the block's full rows, then perhaps the tail's
        pos = _mt_fill_jit(key, pos, raw[:16 * full])
        if full < count:
            pos = _mt_fill_jit(key, pos, dropped)
            pos = _mt_fill_jit(key, pos, raw[16 * full:16 * count])
        for row in range(count):
            for lane in range(8):
                first[8 * row + lane] = raw[16 * row + lane] & 0xFFFFFF
                second[8 * row + lane] = raw[16 * row + 8 + lane] & 0xFFFFFF
        _transform_jit(first, second, 8 * count, cos_out, sin_out, affine, mean, std)
        for row in range(count):
            at = 16 * (start + row) if start + row < rows else n - 16
            for lane in range(8):
                out[at + lane] = cos_out[8 * row + lane]
                out[at + 8 + lane] = sin_out[8 * row + lane]
    state[_N] = pos


def _randperm(state, n):  # pragma: no cover - compiled by numba
    """torch's randperm_cpu for 2 <= n < 2**32 / 20: r = arange(n), then for i = 0 .. n - 2
    swap r[i] and r[i + random() % (n - i)] (random(): the next 32-bit output of ``state``,
    as ``_normal_draw32``'s); returns r."""
    raw = np.empty(n - 1, np.uint32)
    state[_N] = _mt_fill_jit(state[:_N], np.int64(state[_N]), raw)
    order = np.arange(n)
    for i in range(n - 1):
        z = i + np.int64(raw[i]) % (n - i)
        order[i], order[z] = order[z], order[i]
    return order


def _uniform24(state, out):  # pragma: no cover - compiled by numba
    """``out`` (float32) from the next ``out.size`` outputs of ``state`` (as
    ``_normal_draw32``'s): their low 24 bits times 2**-24 (exact), torch's float uniforms."""
    key, pos = state[:_N], np.int64(state[_N])
    raw = np.empty(16 * _BLOCK, np.uint32)
    for start in range(0, out.size, raw.size):
        count = min(raw.size, out.size - start)
        pos = _mt_fill_jit(key, pos, raw[:count])
        for i in range(count):
            out[start + i] = _F32(raw[i] & 0xFFFFFF) * _TWO_M24
    state[_N] = pos


def _draw53(state, out, p, compare):  # pragma: no cover - compiled by numba
    """torch's double uniforms from the next 2 * ``out.size`` outputs of ``state``: each
    pair's 64 bits (the first the high half) masked to 53, times 2**-53 (exact); into ``out``
    (float64) as they are, or with ``compare``, 1 where one is below ``p``, else 0 (torch's
    bernoulli_(p) of a number, in ``out``'s float type)."""
    key, pos = state[:_N], np.int64(state[_N])
    raw = np.empty(16 * _BLOCK, np.uint32)
    half = raw.size // 2
    for start in range(0, out.size, half):
        count = min(half, out.size - start)
        pos = _mt_fill_jit(key, pos, raw[:2 * count])
        for i in range(count):
            word = ((np.int64(raw[2 * i]) & 0x1FFFFF) << 32) | np.int64(raw[2 * i + 1])
            u = np.float64(word) * 1.1102230246251565e-16  # 2**-53
            if compare:
                out[start + i] = 1 if u < p else 0
            else:
                out[start + i] = u
    state[_N] = pos


def _integers32(state, out, span, low):  # pragma: no cover - compiled by numba
    """``out`` (int64) from the next ``out.size`` outputs of ``state``: ``random() % span +
    low`` (torch's random_from_to with 32-bit draws; span < 2**62, |low| < 2**62)."""
    key, pos = state[:_N], np.int64(state[_N])
    raw = np.empty(16 * _BLOCK, np.uint32)
    for start in range(0, out.size, raw.size):
        count = min(raw.size, out.size - start)
        pos = _mt_fill_jit(key, pos, raw[:count])
        for i in range(count):
            out[start + i] = np.int64(raw[i]) % span + low
    state[_N] = pos


# the compiled kernels that others call, set by _kernel()
_mt_fill_jit = _transform_jit = None


_built: dict = {}  # kernel name -> compiled kernel, or None without numba
_build_lock = threading.RLock()
_KERNELS = {  # name: (the Python function, numba signature, the kernels it calls)
    "mt_fill": (_mt_fill, "int64(uint32[::1], int64, uint32[::1])", ()),
    "transform": (_transform, "void(int32[::1], int32[::1], int64, float32[::1], float32[::1], "
                  "boolean, float32, float32)", ()),
    "normal_rows32": (_normal_rows32, "void(int32[::1], float32[::1], boolean, float32, "
                      "float32)", ("transform",)),
    "normal_draw32": (_normal_draw32, "void(uint32[::1], float32[::1], int64, boolean, "
                      "float32, float32)", ("mt_fill", "transform")),
    "randperm": (_randperm, "int64[::1](uint32[::1], int64)",
                 ("mt_fill",)),
    "uniform24": (_uniform24, "void(uint32[::1], float32[::1])", ("mt_fill",)),
    "draw53": (_draw53, ["void(uint32[::1], float32[::1], float64, boolean)",
                         "void(uint32[::1], float64[::1], float64, boolean)"], ("mt_fill",)),
    "integers32": (_integers32, "void(uint32[::1], int64[::1], int64, int64)", ("mt_fill",)),
}


_enabled = [os.environ.get("DARK_NUMBA", "1") != "0"]


def set_enabled(flag: bool) -> bool:
    """Let dark use the compiled kernels (where numba is installed) or not: off, every draw
    takes the numpy path (the same numbers). Returns the previous setting. The environment's
    ``DARK_NUMBA=0`` turns them off from the start."""
    previous = _enabled[0]
    _enabled[0] = bool(flag)
    return previous


def _numba():
    """numba, with the intrinsics made (once); None when numba is missing or the kernels are
    turned off."""
    if not _enabled[0]:
        return None
    try:
        import numba  # noqa: PLC0415 - optional, imported when first used
    except ImportError:
        return None
    global _fma, _as_int, _as_float, _sqrt
    if _fma is not None:
        return numba
    from numba import types  # noqa: PLC0415
    from numba.extending import intrinsic  # noqa: PLC0415

    @intrinsic
    def fma(typingctx, a, b, c):
        if not (a == b == c == types.float32):
            return None

        def codegen(context, builder, signature, args):
            return builder.fma(*args)  # llvm.fma.f32: one rounding
        return types.float32(types.float32, types.float32, types.float32), codegen

    @intrinsic
    def as_int(typingctx, x):
        if x != types.float32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.int32))
        return types.int32(types.float32), codegen

    @intrinsic
    def as_float(typingctx, i):
        if not isinstance(i, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], types.int32)
            return builder.bitcast(value, context.get_value_type(types.float32))
        return types.float32(i), codegen

    @intrinsic
    def sqrt(typingctx, x):
        if x != types.float32:
            return None

        def codegen(context, builder, signature, args):
            function = builder.module.declare_intrinsic(
                "llvm.sqrt", [context.get_value_type(types.float32)])
            return builder.call(function, args)  # correctly rounded, in float32
        return types.float32(types.float32), codegen

    _fma, _as_int, _as_float, _sqrt = fma, as_int, as_float, sqrt
    return numba


def imported() -> bool:
    """Whether numba is imported and its intrinsics made (a kernel has been asked for)."""
    return _fma is not None


def _kernel(name: str):
    """The compiled kernel ``name`` of _KERNELS (compiled, or loaded from numba's cache, on
    first use, with those it calls); None without numba."""
    with _build_lock:
        if name not in _built:
            numba = _numba()
            function, signature, calls = _KERNELS[name]
            compiled = None
            if numba is not None and all(_kernel(c) is not None for c in calls):
                compiled = _jit(numba, function, signature)
                globals()[f"_{name}_jit"] = compiled  # what other kernels call
            _built[name] = compiled
        return _built[name]


def _jit(numba, function, signature):
    return jit(numba, function, signature,
               "dark draws through numpy instead (the same numbers, slower)")


def _layout_ok() -> bool:
    """Whether numpy's MT19937 keeps its state as the C struct mt19937_state
    (``uint32_t key[624]; int pos;``) that the drawing kernels take in place (checked once;
    if not, they are not used)."""
    if "layout" not in _built:
        probe = np.random.MT19937(5)
        key = np.arange(624, dtype=np.uint32) * np.uint32(2654435761)
        probe.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 100}}
        probe.random_raw(7)
        words = _state_words(probe)
        _built["layout"] = bool(np.array_equal(words[:624], key) and int(words[624]) == 107)
    return _built["layout"]


_views: dict = {}  # state address -> its 625 words as a numpy view


def _state_words(bits):
    """numpy MT19937 ``bits``' state in place, as 625 uint32 (key, then pos): a view of the
    generator's own memory at its address, valid while ``bits`` lives (a view kept for an
    address serves whichever generator is there)."""
    address = bits.ctypes.state_address
    words = _views.get(address)
    if words is None:
        if len(_views) >= 256:
            _views.clear()
        words = np.ctypeslib.as_array((ctypes.c_uint32 * 625).from_address(address))
        _views[address] = words
    return words


def _wrapped(name: str, load: bool, wrap, key: str | None = None):
    """``wrap(kernel)`` of the compiled kernel ``name``, made once (per ``key``, the name by
    default: one kernel may serve several wrappers); None without numba, or while it is not
    loaded yet if ``load`` is false."""
    if not _enabled[0]:
        return None
    key = "wrapped " + (key or name)
    found = _built.get(key)
    if found is not None or (not load and name not in _built):
        return found
    kernel = _kernel(name)
    if kernel is None or (name != "normal_rows32" and not _layout_ok()):
        return None
    _built[key] = wrap(kernel)
    return _built[key]


def _check_rows(out) -> None:
    if out.dtype != np.float32 or not out.flags.c_contiguous or out.size % 16:
        raise ValueError(f"the normal kernels fill C-contiguous float32 rows of 16, not an "
                         f"array of {out.dtype} {out.shape} (C-contiguous: "
                         f"{out.flags.c_contiguous})")


def normal_fill32(load: bool = True):
    """The compiled float32 normal kernel as ``fill(drawn, out, mean=None, std=None)``
    (``drawn``: int32, 16 * r draws' low 24 bits; ``out``: float32 (r, 16), C-contiguous;
    ``mean``/``std``: floats, or None for the standard normal), or None without numba (or,
    with ``load`` false, while it is not compiled or loaded yet)."""
    def wrap(kernel):
        def fill(drawn, out, mean=None, std=None):
            _check_rows(out)
            affine = mean is not None
            kernel(np.ascontiguousarray(drawn, dtype=np.int32).ravel(), out.reshape(-1),
                   affine, _F32(mean if affine else 0.0), _F32(std if affine else 1.0))
        return fill
    return _wrapped("normal_rows32", load, wrap)


def normal_draw32(load: bool = True):
    """The compiled float32 normal draw as ``draw(bits, out, mean=None, std=None, discard=0)``:
    torch's normal_kernel of float32 for ``out`` (float32, C-contiguous, 16 elements or more)
    from the next outputs of ``bits`` (a numpy MT19937, moved on by them): ``fill`` of
    ``normal_fill32`` of the rows of 16, and when the size is not a multiple of 16,
    ``discard`` (< 16) outputs drawn and dropped, then the last 16 elements recomputed from 16
    fresh outputs. None without numba (or, with ``load`` false, while it is not compiled or
    loaded yet)."""
    def wrap(kernel):
        def draw(bits, out, mean=None, std=None, discard=0):
            if out.dtype != np.float32 or not out.flags.c_contiguous or out.size < 16 \
                    or not 0 <= discard < 16:
                raise ValueError(f"the normal draw fills a C-contiguous float32 array of 16 "
                                 f"elements or more, discarding 0 to 15 draws before a tail, "
                                 f"not an array of {out.dtype} {out.shape} (C-contiguous: "
                                 f"{out.flags.c_contiguous}) with discard={discard}")
            affine = mean is not None
            with bits.lock:
                kernel(_state_words(bits), out.reshape(-1), discard, affine,
                       _F32(mean if affine else 0.0), _F32(std if affine else 1.0))
        return draw
    return _wrapped("normal_draw32", load, wrap)


def randperm(load: bool = True):
    """The compiled randperm as ``permute(bits, n)`` (2 <= n < 2**32 / 20): torch's swaps
    from the next n - 1 outputs of ``bits`` (a numpy MT19937, moved on by them), int64;
    None without numba (or, with ``load`` false, while it is not compiled or loaded yet)."""
    def wrap(kernel):
        def permute(bits, n):
            with bits.lock:
                return kernel(_state_words(bits), n)
        return permute
    return _wrapped("randperm", load, wrap)


def uniform(np_dtype, load: bool = True):
    """The compiled uniform draw of ``np_dtype`` (float32: 24-bit, float64: 53-bit) as
    ``draw(bits, out)``: fills ``out`` (1-d, C-contiguous, of that dtype) with torch's
    uniforms on [0, 1) from the next outputs of ``bits`` (a numpy MT19937, moved on by them:
    one each for float32, two for float64); None without numba (or, with ``load`` false,
    while it is not compiled or loaded yet)."""
    wide = np.dtype(np_dtype) == np.float64

    def wrap(kernel):
        def draw(bits, out):
            with bits.lock:
                if wide:
                    kernel(_state_words(bits), out, 0.0, False)
                else:
                    kernel(_state_words(bits), out)
        return draw
    if wide:
        return _wrapped("draw53", load, wrap, key="uniform53")
    return _wrapped("uniform24", load, wrap)


def bernoulli(load: bool = True):
    """The compiled Bernoulli draw of a number p as ``draw(bits, out, p)``: fills ``out``
    (float32 or float64, 1-d, C-contiguous) with 1 where torch's double uniform (two outputs
    of ``bits``, a numpy MT19937 moved on by them) is below p, else 0; None without numba
    (or, with ``load`` false, while it is not compiled or loaded yet)."""
    def wrap(kernel):
        def draw(bits, out, p):
            with bits.lock:
                kernel(_state_words(bits), out, float(p), True)
        return draw
    return _wrapped("draw53", load, wrap, key="bernoulli53")


def integers32(load: bool = True):
    """The compiled ``random() % span + low`` of 32-bit draws as ``draw(bits, out, span,
    low)`` (``out``: int64, 1-d, C-contiguous; 0 < span < 2**62, |low| < 2**62); None without
    numba (or, with ``load`` false, while it is not compiled or loaded yet)."""
    def wrap(kernel):
        def draw(bits, out, span, low):
            if not (0 < span < 1 << 62 and -(1 << 62) < low < 1 << 62):
                raise ValueError(f"integers32 draws span in (0, 2**62) and |low| < 2**62, not "
                                 f"span={span}, low={low}")
            with bits.lock:
                kernel(_state_words(bits), out, span, low)
        return draw
    return _wrapped("integers32", load, wrap)
