"""Random number generators: Generator, the per-device default generators, manual_seed /
seed / initial_seed / get_rng_state / set_rng_state / fork_rng. The random ops that draw from
them (rand, randn, normal, bernoulli, uniform_ ...) are in dark.ops.random.

The ops draw through an engine (``engine_for(generator, device)``; a Generator's own is
``generator._draw()``) with these methods: ``uniform(shape, np_dtype, out=None)`` on [0, 1),
``normal`` and ``exponential`` alike (floats, written into ``out`` when the engine can),
``integers(low, high, shape, np_dtype)`` (on [low, high)), ``permutation(n)`` (int64),
``bernoulli(shape, p, np_dtype)`` (p a number or an array broadcast to shape) and
``poisson(rates)``; ``uniform`` takes ``low``/``high`` and ``normal`` ``mean``/``std`` and
``contiguous`` (torch's kernels fold them into the draw).

The CPU generator is PyTorch's (CPUGeneratorImpl): an mt19937 seeded with ``init_genrand`` of
the seed's low 32 bits, drawn through numpy's MT19937, whose draws follow ATen's CPU kernels:
the same seed gives the same numbers as torch (see ``_CPUEngine`` for each draw), and
``get_state`` is torch's 5056-byte CPUGeneratorImplState, so a state from
``torch.get_rng_state()`` loads here and continues identically, and back. Scalar-p Bernoulli
(so dropout masks) follows torch's default path, which torch takes on CPUs other than Intel's
(on Intel CPUs torch draws it through MKL's own stream, not reproduced). exponential_,
cauchy_, log_normal_, geometric_, multinomial and poisson follow torch's kernels too, with
numpy's log1p / log / tan / exp in place of libm's (float64 within 1 ulp). The CPU engine has
also ``cauchy``, ``log_normal``, ``geometric`` and ``multinomial``. A CUDA generator is a
(seed, offset) pair as PyTorch's: each draw reseeds a cuRAND Philox generator (through
CuPy, imported only when a CUDA generator is first used) from a hash of both and advances
the offset, so a seed gives the same numbers on every run and the state is 16 bytes that can
be saved and restored; it does not reproduce torch's CUDA stream. Values are drawn directly
in the target dtype (float32 by default).

Where numba is installed (``pip install dark[numba]``), the CPU engine draws its float32
normals, uniforms, 32-bit integers and randperm through compiled kernels
(``dark._kernels.random_numba``): the same bits as its numpy paths, several times faster.
They are loaded once a process has drawn enough for the load (about half a second, from
numba's cache) to pay (see ``_NUMBA_SAVES``); ``DARK_NUMBA=0`` in the environment keeps the
numpy paths."""
from __future__ import annotations

import contextlib
import functools
import math
import os
import threading

import numpy as np

from . import _backend, _parallel
from ._kernels import random_numba, stl_sort
from ._kernels.elementwise import fma32, fma64
from ._kernels.numba_jit import FLOATS
from ._tensor import Tensor

_DEFAULT_SEED = 67280421310721  # PyTorch's initial seed
_MASK64 = (1 << 64) - 1


def _seed_value(seed) -> int:
    """A seed as PyTorch takes it: any int in [-2**63, 2**64), negatives wrapped mod 2**64."""
    seed = int(seed)
    if not -(1 << 63) <= seed <= _MASK64:
        raise ValueError("Overflow when unpacking long long")
    return seed & _MASK64


def _mix64(seed: int, offset: int) -> int:
    """splitmix64 of (seed, offset): the per-draw seed of a CUDA generator."""
    z = (seed + (offset + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _state_tensor(values) -> Tensor:
    return Tensor._make(np.frombuffer(b"".join(v.to_bytes(8, "little") for v in values),
                                      dtype=np.uint8).copy())


# ----------------------------------------------------------------------------- engines

_F32 = np.float32
_TWO_PI_F32 = _F32(2 * np.pi)
_STATE_SIZE = 5056  # sizeof(CPUGeneratorImplState)


def _init_genrand(seed: int) -> np.ndarray:
    """mt19937's 624 state words for a 32-bit seed (the reference ``init_genrand``)."""
    key = np.empty(624, dtype=np.uint32)
    value = seed & 0xFFFFFFFF
    key[0] = value
    for j in range(1, 624):
        value = (1812433253 * (value ^ (value >> 30)) + j) & 0xFFFFFFFF
        key[j] = value
    return key


def _count(shape) -> int:
    return int(math.prod(shape))


def _from_double(values, np_dtype):
    """static_cast<scalar_t>(double): float16 through float32, as c10::Half converts."""
    if np.dtype(np_dtype) == np.float16:
        return values.astype(_F32).astype(np.float16)
    return values.astype(np_dtype, copy=False)


def _log_avx(x):
    """log256_ps of ATen's avx_mathfun.h (Cephes), as GCC compiles it (with FMA)."""
    bits = np.maximum(x, np.array(0x00800000, np.int32).view(_F32)).view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(_F32) + _F32(1)
    x = ((bits & ~0x7F800000) | np.int32(0x3F000000)).view(_F32)
    mask = x < _F32(0.707106781186547524)
    e -= mask
    x = (x - _F32(1)) + np.where(mask, x, _F32(0))
    z = x * x
    y = np.full_like(x, _F32(7.0376836292E-2))
    for p in (-1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
              -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1):
        y = fma32(y, x, _F32(p))
    y = fma32(y * x, z, e * _F32(-2.12194440e-4))
    y = fma32(z, _F32(-0.5), y)
    return fma32(e, _F32(0.693359375), x + y)


def _sincos_avx(x):
    """sincos256_ps of ATen's avx_mathfun.h (Cephes), as GCC compiles it (with FMA)."""
    sign_sin = np.signbit(x)
    x = np.abs(x)
    j = (x * _F32(1.27323954473516)).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(_F32)
    sign_sin ^= (j & 4) != 0
    sign_cos = (~(j - 2) & 4) != 0
    first = (j & 2) == 0
    for dp in (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8):
        x = fma32(y, _F32(dp), x)
    z = x * x
    c = fma32(np.full_like(x, _F32(2.443315711809948E-005)), z,
               _F32(-1.388731625493765E-003))
    c = fma32(c, z, _F32(4.166664568298827E-002)) * z
    c = fma32(c, z, -(z * _F32(0.5))) + _F32(1)
    s = fma32(np.full_like(x, _F32(-1.9515295891E-4)), z, _F32(8.3321608736E-3))
    s = fma32(s, z, _F32(-1.6666654611E-1)) * z
    s = fma32(s, x, x)
    sin, cos = np.where(first, s, c), np.where(first, c, s)
    np.negative(sin, out=sin, where=sign_sin)
    np.negative(cos, out=cos, where=sign_cos)
    return sin, cos


def _box_muller_16(u, np_dtype, mean, std):
    """ATen's normal_fill_16 over blocks of 16 uniforms (rows of ``u``): element j pairs with
    j + 8. float32 as the AVX2 kernel (avx_mathfun's log and sincos); other dtypes as the
    scalar kernel (libm's log, cos and sin, here numpy's: within an ulp of them). The
    engine draws float32 through ``_NormalFill32`` (the same values, several times faster);
    this plain float32 emulation stays as its specification, which tests check it against."""
    u1, u2 = u[:, :8], u[:, 8:]
    if np_dtype == np.float32:
        radius = np.sqrt(_F32(-2) * _log_avx(_F32(1) - u1))
        sin, cos = _sincos_avx(_TWO_PI_F32 * u2)
        out = np.concatenate([radius * cos, radius * sin], axis=1)
        if not (std == 1 and mean == 0):
            out = fma32(out, _F32(std), _F32(mean))
        return out
    acc = np.float64 if np_dtype == np.float64 else _F32
    radius = np.sqrt(-2 * np.log((1 - u1).astype(np_dtype).astype(acc))).astype(np_dtype)
    theta = (2.0 * np.pi * u2.astype(np.float64)).astype(np_dtype).astype(acc)
    radius = radius.astype(acc)
    out = np.concatenate([radius * np.cos(theta) * acc(std) + acc(mean),
                          radius * np.sin(theta) * acc(std) + acc(mean)], axis=1)
    return out.astype(np_dtype)


_F64 = np.float64
_LOG_POLY = tuple(float(_F32(p)) for p in (
    7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
    -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1))
_COS_POLY = tuple(float(_F32(p)) for p in (
    2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002))
_SIN_POLY = tuple(float(_F32(p)) for p in (-1.9515295891E-4, 8.3321608736E-3,
                                           -1.6666654611E-1))
_HALF_ROW = np.dtype((np.void, 32))  # 8 float32 or int32
_NORMAL_ROWS = 4096  # blocks of 16 per pass of the fast kernel: its buffers stay in cache
# The compiled (numba) kernels, where numba is installed, take every size once loaded (the
# same bits as the numpy paths, several times faster), but loading them (importing numba,
# reading numba's cache: about half a second; compiling, the first time: a few seconds) only
# pays in a process that draws a lot: each kind is loaded once its numpy draws so far would
# have taken about _NUMBA_LOAD_TIME longer than the kernel (by the estimates below, measured
# on one core: seconds saved per call and per element), or _NUMBA_NEXT_LOAD_TIME once numba
# is in (then a kernel loads in a few milliseconds, from the cache). A short program, or a
# test's subprocess, never loads numba.
_NUMBA_SAVES = {"normal": (160e-6, 15e-9), "uniform": (5e-6, 2.2e-9),
                "uniform53": (3e-6, 6e-9), "integers": (1.5e-6, 2.7e-9),
                "randperm": (60e-6, 150e-9)}
_NUMBA_LOAD_TIME = 0.5
_NUMBA_NEXT_LOAD_TIME = 0.05
_numba_saved = dict.fromkeys(_NUMBA_SAVES, 0.0)


def _numba_wanted(kind: str, n: int) -> bool:
    """Whether to load the compiled kernel of ``kind`` now, counting a draw of n."""
    call, element = _NUMBA_SAVES[kind]
    total = _numba_saved[kind] = _numba_saved[kind] + call + element * n
    return total >= (_NUMBA_NEXT_LOAD_TIME if random_numba.imported() else _NUMBA_LOAD_TIME)


class _NormalFill32:
    """torch's normal_fill_16_AVX2 over rows of 16 draws (their low 24 bits, the uniforms
    times 2**24, as int32), fast: the same float32 operations as ``_log_avx`` /
    ``_sincos_avx`` / ``_box_muller_16`` (bit for bit, checked over all 2**24 uniforms each
    takes), on buffers reused from pass to pass. A fused multiply-add whose product is exact
    in float32 (a constant of few bits times a small integer or a power of two) is one
    float32 add; the others are computed in float64 (the product exact) and rounded to
    float32, as ``fma32``. The mantissa and exponent of ``1 - u`` come from integer operations
    on its bits (musl's logf split, the same values as avx_mathfun's compare and select);
    sincos's selects and signs are applied to sin and cos before the products."""

    def __init__(self, rows: int):
        h = rows * 8
        self.rows = rows
        self.i = [np.empty(h, np.int32) for _ in range(3)]
        self.f = [np.empty(h, _F32) for _ in range(6)]
        self.d = [np.empty(h, _F64) for _ in range(3)]
        self.k = np.empty(2 * h, np.int32)

    def __call__(self, drawn, out, mean=None, std=None):
        """drawn: int32 array of 16 * r draws' low 24 bits (r <= rows); out: float32 (r, 16)
        to fill (mean and std None, or floats)."""
        r = drawn.size // 16
        h = r * 8
        i0, i1, i2 = (a[:h] for a in self.i)
        f0, f1, f2, f3, f4, f5 = (a[:h] for a in self.f)
        d0, d1, d2 = (a[:h] for a in self.d)
        # each row's first 8 (u1 * 2**24), then each row's last 8 (u2 * 2**24)
        k = self.k[:2 * h]
        np.copyto(k.view(_HALF_ROW).reshape(2, r), drawn.view(_HALF_ROW).reshape(r, 2).T)
        # ---- radius: sqrt(-2 * log(1 - u1))
        np.subtract(1 << 24, k[:h], out=i0)
        np.copyto(f0, i0, casting="unsafe")               # 2**24 * (1 - u1), exact
        # the bits of 1 - u1 less those of sqrt(0.5) below 1 (a mantissa of sqrt(0.5) or
        # more carries into the exponent) and less the exponent's bias and 24
        np.add(f0.view(np.int32), 0x3F800000 - 0x3F3504F3 - (24 << 23) - (0x7F << 23),
               out=i0)
        np.right_shift(i0, 23, out=i1)                    # e (avx_mathfun's e + 1 - mask)
        np.bitwise_and(i0, 0x7FFFFF, out=i0)
        np.add(i0, 0x3F3504F3, out=i0)                   # m in [sqrt(0.5), sqrt(2))
        x = f1
        np.subtract(i0.view(_F32), _F32(1), out=x)       # x - 1, exact
        e = f2
        np.copyto(e, i1, casting="unsafe")
        z = f3
        np.multiply(x, x, out=z)
        x64, y64 = d0, d1
        np.copyto(x64, x)
        y = f4
        np.multiply(x64, _LOG_POLY[0], out=y64)
        np.add(y64, _LOG_POLY[1], out=y64)
        np.copyto(y, y64, casting="same_kind")
        for p in _LOG_POLY[2:]:
            np.copyto(y64, y)
            np.multiply(y64, x64, out=y64)
            np.add(y64, p, out=y64)
            np.copyto(y, y64, casting="same_kind")
        np.multiply(y, x, out=y)                           # y * x
        np.multiply(e, _F32(-2.12194440e-4), out=f5)      # e * q1
        np.copyto(y64, y)                                  # fma(y, z, e * q1)
        np.copyto(x64, z)
        np.multiply(y64, x64, out=y64)
        np.copyto(x64, f5)
        np.add(y64, x64, out=y64)
        np.copyto(y, y64, casting="same_kind")
        np.multiply(z, _F32(-0.5), out=z)                  # fma(z, -0.5, y): exact product
        np.add(y, z, out=y)
        np.add(x, y, out=x)
        np.multiply(e, _F32(0.693359375), out=e)           # exact product
        np.add(x, e, out=x)                                # log
        np.multiply(x, _F32(-2), out=x)
        radius = f1
        np.sqrt(x, out=radius)
        # ---- sincos(2 pi u2): u2 >= 0, so the input's sign is +; 2 pi u2 is
        # float32(2 pi) * (u2 * 2**24) scaled by 2**-24, exactly
        a = f0
        np.copyto(a, k[h:], casting="unsafe")
        np.multiply(a, _TWO_PI_F32 * _F32(2.0 ** -24), out=a)
        np.multiply(a, _F32(1.27323954473516), out=f2)
        j = i0
        np.copyto(j, f2, casting="unsafe")                 # truncation
        np.add(j, 1, out=j)
        np.bitwise_and(j, ~1, out=j)
        yj = f2
        np.copyto(yj, j, casting="unsafe")
        np.multiply(yj, _F32(-0.78515625), out=f3)         # exact products
        np.add(a, f3, out=a)
        np.multiply(yj, _F32(-2.4187564849853515625e-4), out=f3)
        np.add(a, f3, out=a)
        t = d0                                             # fma(yj, dp3, a)
        np.copyto(t, yj)
        np.multiply(t, float(_F32(-3.77489497744594108e-8)), out=t)
        np.copyto(d2, a)
        np.add(t, d2, out=t)
        np.copyto(a, t, casting="same_kind")
        xs = a
        z = f3
        np.multiply(xs, xs, out=z)
        z64 = d1
        np.copyto(z64, z)
        c = f4
        np.multiply(z64, _COS_POLY[0], out=t)
        np.add(t, _COS_POLY[1], out=t)
        np.copyto(c, t, casting="same_kind")
        np.copyto(t, c)
        np.multiply(t, z64, out=t)
        np.add(t, _COS_POLY[2], out=t)
        np.copyto(c, t, casting="same_kind")
        np.multiply(c, z, out=c)
        np.copyto(t, c)                                    # fma(c, z, -(z * 0.5))
        np.multiply(t, z64, out=t)
        np.multiply(z64, -0.5, out=d2)                     # -(z * 0.5), exact either way
        np.add(t, d2, out=t)
        np.copyto(c, t, casting="same_kind")
        np.add(c, _F32(1), out=c)
        s = f2
        np.multiply(z64, _SIN_POLY[0], out=t)
        np.add(t, _SIN_POLY[1], out=t)
        np.copyto(s, t, casting="same_kind")
        np.copyto(t, s)
        np.multiply(t, z64, out=t)
        np.add(t, _SIN_POLY[2], out=t)
        np.copyto(s, t, casting="same_kind")
        np.multiply(s, z, out=s)
        np.copyto(t, s)                                    # fma(s, xs, xs)
        np.copyto(d2, xs)
        np.multiply(t, d2, out=t)
        np.add(t, d2, out=t)
        np.copyto(s, t, casting="same_kind")
        # ---- avx_mathfun's selects and signs as bit operations, then the products
        si, ci = s.view(np.int32), c.view(np.int32)
        sel = i1
        np.left_shift(j, 30, out=sel)
        np.right_shift(sel, 31, out=sel)                    # -1 where j & 2 (s, c swap)
        diff = i2
        np.bitwise_xor(si, ci, out=diff)
        np.bitwise_and(diff, sel, out=diff)
        np.bitwise_xor(si, diff, out=si)                    # sin: first ? s : c
        np.bitwise_xor(ci, diff, out=ci)                    # cos: first ? c : s
        np.left_shift(j, 29, out=sel)                       # (j & 4) -> sign bit
        np.bitwise_and(sel, np.int32(-(1 << 31)), out=sel)
        np.bitwise_xor(si, sel, out=si)
        np.add(j, 2, out=sel)                               # (j + 2) & 4 == ~(j - 2) & 4
        np.left_shift(sel, 29, out=sel)
        np.bitwise_and(sel, np.int32(-(1 << 31)), out=sel)
        np.bitwise_xor(ci, sel, out=ci)
        np.multiply(radius, c, out=c)
        np.multiply(radius, s, out=s)
        halves = out.view(_HALF_ROW)  # (r, 2): a row's first and last 8 as one item each
        for half, values in ((halves[:, 0], c), (halves[:, 1], s)):
            if std is not None:
                np.copyto(d0, values)
                np.multiply(d0, std, out=d0)
                np.add(d0, mean, out=d0)
                np.copyto(values, d0, casting="same_kind")
            np.copyto(half, values.view(_HALF_ROW))


def _stable_order(values: np.ndarray) -> np.ndarray:
    """argsort(values, kind='stable') of integers in [0, 2**32), by numpy's radix sort of
    16-bit keys (one pass below 2**16, else two: low half, then high half)."""
    if values.size == 0 or int(values.max()) < 1 << 16:
        return np.argsort(values.astype(np.uint16), kind="stable")
    low = np.argsort((values & 0xFFFF).astype(np.uint16), kind="stable")
    return low[np.argsort((values[low] >> 16).astype(np.uint16), kind="stable")]


def _swaps(targets: np.ndarray) -> np.ndarray:
    """The order that ``for i in range(n - 1): order[i], order[j] = order[j], order[i]`` with
    j = targets[i] (i <= j < n) leaves from ``order = arange(n)``, without the loop. Step i
    moves out v[i], what position i holds then, and fixes order[i] for good (no later step
    touches a position below its own). A position p was last written before step i by the
    last step k < i whose target is p (it wrote v[k] there), or never (it holds p). So
    v[i] = v[k] for the last k < i targeting i (else i): chains of earlier steps, followed
    by pointer doubling; and order[i] is what its target holds before step i: v[k] for the
    last k < i with the same target, else the target itself (v[i] when that is i)."""
    m = targets.size
    steps = np.arange(m, dtype=np.int64)
    order = _stable_order(targets)                 # the steps grouped by target, in order
    grouped = targets[order]
    same = grouped[1:] == grouped[:-1]
    previous = np.full(m, -1, dtype=np.int64)      # the last earlier step, same target
    previous[order[1:][same]] = order[:-1][same]
    ends = np.ones(m, dtype=bool)
    ends[:-1] = ~same
    last = np.full(m + 1, -1, dtype=np.int64)      # the last step targeting each position
    last[grouped[ends]] = order[ends]
    into = last[:m]                                # ... which is step i itself or earlier
    into = np.where(into == steps, previous, into)
    root = np.where(into >= 0, into, steps)
    while True:
        jumped = root[root]
        if np.array_equal(jumped, root):
            break
        root = jumped
    result = np.empty(m + 1, dtype=np.int64)
    result[:m] = np.where(previous >= 0, root[previous], targets)
    np.copyto(result[:m], root, where=targets == steps)
    result[m] = root[last[m]] if last[m] >= 0 else m
    return result


def _topk(keys: np.ndarray, k: int) -> np.ndarray:
    """torch's CPU topk(k) indices of each row of ``keys`` (largest first): a stable sort
    where the first k + 1 values are distinct (then any sort agrees), else libstdc++'s
    partial_sort / nth_element + sort step for step (``stl_sort``), whose order of equal
    values is torch's. Ties are common in float16 (multinomial's w / q keys)."""
    with np.errstate(invalid="ignore"):
        order = np.argsort(-keys, axis=1, kind="stable")
    top = np.take_along_axis(keys, order[:, :k + 1], axis=1)
    tied = np.isnan(top).any(axis=1)
    if top.shape[1] > 1:
        tied |= (top[:, 1:] == top[:, :-1]).any(axis=1)
    result = order[:, :k]
    for row in np.flatnonzero(tied).tolist():
        result[row] = stl_sort.topk_indices(keys[row].astype(np.float64).tolist(), k)
    return result


_spare_fills: list = []  # _NormalFill32 buffers of _NORMAL_ROWS rows, kept for reuse
_spare_lock = threading.Lock()


@contextlib.contextmanager
def _fills(count: int, rows: int):
    """``count`` _NormalFill32 of at least ``rows`` rows (full-size ones reused from call to
    call: fresh pages cost more than the kernel on them), given back at exit."""
    with _spare_lock:
        taken = [_spare_fills.pop() for _ in range(min(count, len(_spare_fills)))] \
            if rows == _NORMAL_ROWS else []
    taken += [_NormalFill32(rows) for _ in range(count - len(taken))]
    try:
        yield taken
    finally:
        if rows == _NORMAL_ROWS:
            with _spare_lock:
                _spare_fills.extend(taken[:max(0, _parallel.workers() - len(_spare_fills))])


def _locked(method):
    """``method`` of an engine, run holding the engine's lock."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return locked


class _CPUEngine:
    """PyTorch's CPU generator (CPUGeneratorImpl): an mt19937 seeded by ``init_genrand`` of
    the seed's low 32 bits, drawn through numpy's MT19937 (``random_raw``), with the same
    transforms as ATen's CPU kernels and the same cached normal sample. Each draw holds the
    engine's lock (torch locks its generator's mutex so): threads sharing a generator each
    take whole pieces of the stream."""

    def __init__(self, seed: int):
        self.lock = threading.RLock()  # held for each draw: one piece of the stream, as torch's
        self.bits = np.random.MT19937()
        # numpy's legacy bounded integers (a frozen algorithm): below 2**24 with the mask
        # 2**24 - 1, one 32-bit draw each, never rejected: the draws' low 24 bits as int32
        self.legacy = np.random.RandomState(self.bits)
        self.reseed(seed)

    @_locked
    def reseed(self, seed: int) -> None:
        self.bits.state = {"bit_generator": "MT19937",
                           "state": {"key": _init_genrand(seed), "pos": 624}}
        self.fresh = True  # torch's ``next`` is 0 until the first draw
        self.next_double_normal = None
        self.next_float_normal = None

    # -- raw draws
    def raw32(self, n: int) -> np.ndarray:
        if n <= 0:
            return np.empty(0, dtype=np.uint64)
        self.fresh = False
        return self.bits.random_raw(n)

    def low24(self, n: int) -> np.ndarray:
        """The low 24 bits of n 32-bit draws (int32): ``raw32(n) & (2**24 - 1)``."""
        if n <= 0:
            return np.empty(0, dtype=np.int32)
        self.fresh = False
        return self.legacy.randint(0, 1 << 24, size=n, dtype=np.int32)

    def raw64(self, n: int) -> np.ndarray:
        """``random64()``: two 32-bit draws, the first the high half."""
        words = self.raw32(2 * n)
        return (words[0::2] << np.uint64(32)) | words[1::2]

    def unit(self, n: int, np_dtype, counted: bool = False) -> np.ndarray:
        """``uniform_real_distribution<T>(0, 1)``: float64 from the low 53 bits of a 64-bit
        draw; other dtypes from the low 24 bits of a 32-bit draw, as float32 (torch 2.13
        draws float16 so too, then rounds). ``counted``: the caller counted this draw toward
        loading the compiled kernels already."""
        wide = np.dtype(np_dtype) == np.float64
        if n > 0:
            kind = "uniform53" if wide else "uniform"
            draw = random_numba.uniform(np.float64 if wide else _F32,
                                        load=not counted and _numba_wanted(kind, n))
            if draw is not None:  # the compiled draw (the same bits)
                self.fresh = False
                values = np.empty(n, dtype=np.float64 if wide else _F32)
                draw(self.bits, values)
                return values
        if wide:
            return (self.raw64(n) & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53
        values = np.empty(n, dtype=_F32)
        np.copyto(values, self.low24(n), casting="unsafe")
        return np.multiply(values, _F32(2.0 ** -24), out=values)

    # -- the engine interface (see the module's docstring)
    @_locked
    def uniform(self, shape, np_dtype, out=None, low=0.0, high=1.0):
        """torch's uniform_kernel: ``x * (to - from) + from``, fused (one rounding): in float32
        (the bounds cast to float) for float32 and float16 (then rounded to half: a value
        rounded up to half(to) becomes half(from)); in float64 for double."""
        np_dtype = np.dtype(np_dtype)
        n = _count(shape)
        x = self.unit(n, np_dtype)
        if not (low == 0 and high == 1):
            if np_dtype == np.float64:
                x = fma64(x, float(high) - float(low), float(low))
            else:
                a, b = _F32(low), _F32(high)
                x = fma32(x, b - a, a)
        values = x.astype(np_dtype, copy=False).reshape(shape)
        if np_dtype == np.float16:
            top, bottom = np.float16(_F32(high)), np.float16(_F32(low))
            values[values == top] = bottom
        return values

    @_locked
    def normal(self, shape, np_dtype, out=None, mean=0.0, std=1.0, contiguous=True,
               half_tail=False):
        """torch's normal_kernel: 16 at a time (normal_fill) for 16 elements or more of a
        contiguous tensor, the last 16 recomputed from fresh uniforms when the size is not a
        multiple of 16; otherwise one at a time from normal_distribution<double>. float16
        goes through float (24-bit uniforms, the float kernel, rounded to half), and its
        recompute draws only the 16 fresh uniforms (no discarded tail)."""
        np_dtype = np.dtype(np_dtype)
        n = _count(shape)
        if n < 16 or not contiguous:
            values = self.normal_doubles(n) * float(std) + float(mean)
            return _from_double(values, np_dtype).reshape(shape)
        if np_dtype == np.float16:
            values = self.normal(shape, _F32, mean=mean, std=std, half_tail=True)
            return values.astype(np.float16)
        mean, std = np_dtype.type(mean), np_dtype.type(std)
        result = np.empty(n, dtype=np_dtype)
        full = n // 16 * 16
        if np_dtype == np.float32:
            plain = std == 1 and mean == 0
            mean, std = (None, None) if plain else (float(mean), float(std))
            draw = random_numba.normal_draw32(load=_numba_wanted("normal", n))
            if draw is not None:  # the compiled kernel: all of it in one pass (same bits)
                self.fresh = False
                draw(self.bits, result, mean, std, discard=0 if half_tail else n - full)
                return result.reshape(shape)
            self._normal32(result[:full].reshape(-1, 16), mean, std)
            if n % 16:
                if not half_tail:  # drawn, then overwritten by the recompute
                    self.raw32(n - full)
                self._normal32(result[n - 16:].reshape(1, 16), mean, std)
            return result.reshape(shape)
        chunk = 1 << 16
        for start in range(0, full, chunk):
            stop = min(start + chunk, full)
            u = self.unit(stop - start, np_dtype).astype(np_dtype, copy=False)
            result[start:stop] = _box_muller_16(u.reshape(-1, 16), np_dtype, mean,
                                                std).ravel()
        if n % 16:
            if not half_tail:  # drawn, then overwritten by the recompute
                self.unit(n - full, np_dtype)
            u = self.unit(16, np_dtype).astype(np_dtype, copy=False)
            result[n - 16:] = _box_muller_16(u.reshape(1, 16), np_dtype, mean, std).ravel()
        return result.reshape(shape)

    def _normal32(self, blocks, mean, std) -> None:
        """Fill float32 rows of 16 (``blocks``) with normal_fill_16_AVX2 of fresh draws, in
        passes of _NORMAL_ROWS rows: drawn in order, each pass's transform (the most of the
        time) on dark's threads when there are several passes (numpy releases the GIL in
        its draws and ufunc loops)."""
        count = len(blocks)
        passes = -(-count // _NORMAL_ROWS)
        threads = min(passes, _parallel.workers())
        if threads < 2:
            with _fills(1, min(count, _NORMAL_ROWS)) as (fill,):
                for start in range(0, count, _NORMAL_ROWS):
                    stop = min(start + _NORMAL_ROWS, count)
                    fill(self.low24(16 * (stop - start)), blocks[start:stop], mean, std)
            return
        taken = iter(range(0, count, _NORMAL_ROWS))
        order = threading.Lock()  # a pass's draws follow the previous pass's

        def work(fill):
            while True:
                with order:
                    start = next(taken, None)
                    if start is None:
                        return
                    stop = min(start + _NORMAL_ROWS, count)
                    drawn = self.low24(16 * (stop - start))
                fill(drawn, blocks[start:stop], mean, std)

        with _fills(threads, _NORMAL_ROWS) as fills:
            _parallel.parallel_map(work, fills)

    def normal_doubles(self, n: int) -> np.ndarray:
        """n draws of normal_distribution<double>: Box-Muller of two 53-bit uniforms, the
        sine kept for the next draw (also across calls, as torch's generator keeps it)."""
        values = np.empty(n, dtype=np.float64)
        start = 0
        if n and self.next_double_normal is not None:
            values[0] = self.next_double_normal
            self.next_double_normal = None
            start = 1
        remaining = n - start
        if remaining:
            pairs = (remaining + 1) // 2
            u = self.unit(2 * pairs, np.float64)
            radius = np.sqrt(-2.0 * np.log1p(-u[1::2]))
            theta = 2.0 * np.pi * u[0::2]
            both = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1).ravel()
            values[start:] = both[:remaining]
            if remaining % 2:
                self.next_double_normal = float(both[-1])
        return values

    # The draws below are torch's serial kernels over ``*_distribution<double>``: one 53-bit
    # uniform (or cached normal) per element, transformed in double, then cast (float16
    # through float32, as c10::Half converts). torch calls libm's log1p / log / tan / exp
    # where numpy's SIMD functions are used here: within 1 ulp of the double, so float64
    # results are within 1 ulp of torch's and float32 ones equal but where that ulp moves
    # the rounding.
    @_locked
    def exponential(self, shape, np_dtype, out=None, lambd=1.0):
        """transformation::exponential: ``-1 / lambda * log1p(-u)``."""
        u = self.unit(_count(shape), np.float64)
        return _from_double((-1.0 / lambd) * np.log1p(-u), np_dtype).reshape(shape)

    @_locked
    def cauchy(self, shape, np_dtype, median=0.0, sigma=1.0):
        """transformation::cauchy<double>: ``median + sigma * tan(pi * (u - 0.5))``."""
        u = self.unit(_count(shape), np.float64)
        values = median + sigma * np.tan(np.pi * (u - 0.5))
        return _from_double(values, np_dtype).reshape(shape)

    @_locked
    def log_normal(self, shape, np_dtype, mean=1.0, std=2.0):
        """lognormal_distribution<double>: exp of normal_distribution<double> (its cached
        sample included)."""
        values = np.exp(self.normal_doubles(_count(shape)) * std + mean)
        return _from_double(values, np_dtype).reshape(shape)

    @_locked
    def geometric(self, shape, np_dtype, p):
        """transformation::geometric: ``ceil(log(u) / log1p(-p))``; where numpy's log could
        move the quotient across an integer, libm's log (Python's math.log) decides."""
        u = self.unit(_count(shape), np.float64)
        scale = math.log1p(-p)
        with np.errstate(divide="ignore"):
            quotient = np.log(u) / scale
        near = np.abs(quotient - np.rint(quotient)) <= 4 * np.spacing(np.abs(quotient))
        for i in np.flatnonzero(near & (u > 0)).tolist():
            quotient[i] = math.log(u[i]) / scale
        return _from_double(np.ceil(quotient), np_dtype).reshape(shape)

    @_locked
    def multinomial(self, weights, num_samples: int, replacement: bool):
        """torch's multinomial of the rows of ``weights`` (2-d, their dtype). Without
        replacement, or for one sample: ``topk(w / q)`` with q = exponential_ in w's dtype;
        with replacement (multinomial_with_replacement_apply): the rows' running sums in
        their dtype (float for half) divided by the total, the last set to 1, and per sample
        a 53-bit uniform binary-searched (the first index whose sum is >= it), row by row."""
        rows, categories = weights.shape
        if not replacement or num_samples == 1:
            # q = empty_like(w).exponential_(): a transposed w's q is filled in its layout
            if weights.flags.f_contiguous and not weights.flags.c_contiguous:
                q = self.exponential(weights.shape[::-1], weights.dtype).T
            else:
                q = self.exponential(weights.shape, weights.dtype)
            with np.errstate(divide="ignore", invalid="ignore"):
                keys = weights / q
            if num_samples == 1:
                return np.argmax(keys, axis=1)[:, None]
            return _topk(keys, num_samples)
        acc = _F32 if weights.dtype == np.float16 else weights.dtype
        cdf = np.cumsum(weights.astype(acc), axis=1, dtype=acc)
        cdf /= cdf[:, -1:].copy()
        cdf[:, -1] = 1
        u = self.unit(rows * num_samples, np.float64).reshape(rows, num_samples)
        samples = np.empty((rows, num_samples), dtype=np.int64)
        for r in range(rows):
            samples[r] = np.searchsorted(cdf[r].astype(np.float64), u[r], side="left")
        return samples

    @_locked
    def integers(self, low: int, high: int, shape, np_dtype=np.int64, full=False):
        """torch's random_from_to: ``random() % range + from``, with a 64-bit draw
        (``random64()``) when the range is 2**28 or more (as torch 2.13 does); ``full``:
        random_() without bounds (uniform_int_distribution: 64-bit draws for int64 and
        float64 only)."""
        n = _count(shape)
        span = high - low
        wide = np.dtype(np_dtype) in (np.int64, np.float64) if full else span >= 1 << 28
        if not wide and n > 0 and span < 1 << 62 and -(1 << 62) < low < 1 << 62:
            draw = random_numba.integers32(load=_numba_wanted("integers", n))
            if draw is not None:  # the compiled draw (the same numbers)
                self.fresh = False
                values = np.empty(n, dtype=np.int64)
                draw(self.bits, values, span, low)
                return values.reshape(shape).astype(np_dtype, copy=False)
        words = self.raw64(n) if wide else self.raw32(n)
        values = (words % np.uint64(span) + np.uint64(low & _MASK64)).view(np.int64)
        return values.reshape(shape).astype(np_dtype, copy=False)

    @_locked
    def permutation(self, n: int):
        """torch's randperm_cpu: for n < 2**32 / 20, swaps i <-> i + random() % (n - i) for
        i = 0 .. n - 2 (``_swaps``); else the inside-out shuffle with 64-bit draws."""
        if n < 0xFFFFFFFF // 20:
            if n < 2:
                return np.arange(n, dtype=np.int64)
            permute = random_numba.randperm(load=_numba_wanted("randperm", n))
            if permute is not None:  # the compiled swap loop
                self.fresh = False
                return permute(self.bits, n)
            steps = np.arange(n - 1, dtype=np.int64)
            offsets = (self.raw32(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).view(np.int64)
            return _swaps(steps + offsets)
        order = np.empty(n, dtype=np.int64)  # the inside-out shuffle with 64-bit draws
        for i, word in enumerate(self.raw64(n).tolist()):
            z = word % (i + 1)
            order[i] = order[z]
            order[z] = i
        return order

    @_locked
    def bernoulli(self, shape, p, np_dtype):
        """torch's bernoulli kernels: a number p against 53-bit uniforms; a float64 tensor p
        the same; a float32/float16 tensor p against 24-bit uniforms (in float32)."""
        n = _count(shape)
        if isinstance(p, np.ndarray) and p.dtype != np.float64:
            draws = self.unit(n, np.float32).reshape(shape) < p.astype(_F32)
        elif not isinstance(p, np.ndarray) and n > 0 and np.dtype(np_dtype) in FLOATS:
            draw = random_numba.bernoulli(load=_numba_wanted("uniform53", n))
            if draw is not None:  # the compiled draw: the same uniforms, compared in place
                self.fresh = False
                out = np.empty(n, dtype=np_dtype)
                draw(self.bits, out, p)
                return out.reshape(shape)
            draws = self.unit(n, np.float64, counted=True).reshape(shape) < p
        else:
            draws = self.unit(n, np.float64).reshape(shape) < p
        return draws.astype(np_dtype)

    @_locked
    def poisson(self, rates):
        """torch's _s_poisson_cpu (sample_poisson per element, in order, of the rates as
        double): for rate >= 10 the transformed rejection method of Hormann (1993), below
        it the product of uniforms against exp(-rate). Sequential rejection, so one element
        at a time in Python, from a block of uniforms drawn ahead: the generator is then
        wound back and moved on by exactly the draws used."""
        flat = np.ascontiguousarray(rates).ravel().astype(np.float64).tolist()
        start = self.bits.state
        blocks, used = [], [0]
        buffer, position = [], [0]

        def uniform() -> float:
            if position[0] == len(buffer):
                size = max(64, 2 * len(flat), 2 * len(buffer))
                words = self.bits.random_raw(2 * size)
                fresh = ((words[0::2] << np.uint64(32)) | words[1::2]) \
                    & np.uint64((1 << 53) - 1)
                buffer[:] = (fresh.astype(np.float64) * 2.0 ** -53).tolist()
                blocks.append(size)
                position[0] = 0
            position[0] += 1
            used[0] += 1
            return buffer[position[0] - 1]

        try:
            counts = np.array([self._poisson_one(rate, uniform) for rate in flat],
                              dtype=np.int64)
        finally:
            if blocks:
                self.bits.state = start
                self.raw32(2 * used[0])
        if rates.dtype == np.float16:
            return counts.astype(_F32).astype(np.float16).reshape(rates.shape)
        return counts.reshape(rates.shape)

    @staticmethod
    def _poisson_one(rate: float, uniform) -> int:
        """sample_poisson of one rate, drawing from ``uniform()``."""
        if rate >= 10:
            slam, loglam = math.sqrt(rate), math.log(rate)
            b = 0.931 + 2.53 * slam
            a = -0.059 + 0.02483 * b
            invalpha = 1.1239 + 1.1328 / (b - 3.4)
            vr = 0.9277 - 3.6224 / (b - 2)
            while True:
                u = uniform() - 0.5
                v = uniform()
                us = 0.5 - abs(u)
                k = math.floor((2 * a / us + b) * u + rate + 0.43)
                if us >= 0.07 and v <= vr:
                    return k
                if k < 0 or (us < 0.013 and v > us):
                    continue
                if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                        <= -rate + k * loglam - math.lgamma(k + 1.0)):
                    return k
        if rate == 0:
            return 0
        limit = math.exp(-rate)
        count, product = 0, 1.0
        while True:
            product *= uniform()
            if product > limit:
                count += 1
            else:
                return count

    # -- torch's state layout (CPUGeneratorImplState)
    @_locked
    def get_state(self, seed: int) -> bytes:
        state = self.bits.state["state"]
        pos = int(state["pos"])
        raw = bytearray(_STATE_SIZE)
        header = np.array([seed & _MASK64], dtype=np.uint64).tobytes()
        header += np.array([625 - pos, 1], dtype=np.int32).tobytes()
        header += np.array([0 if self.fresh else pos], dtype=np.uint64).tobytes()
        raw[:24] = header
        raw[24:5016] = state["key"].astype(np.uint64).tobytes()
        if self.next_double_normal is not None:
            raw[5024:5032] = np.float64(self.next_double_normal).tobytes()
            raw[5040:5044] = np.int32(1).tobytes()
        if self.next_float_normal is not None:
            raw[5048:5052] = _F32(self.next_float_normal).tobytes()
            raw[5052] = 1
        return bytes(raw)

    @_locked
    def set_state(self, raw: bytes) -> int:
        """Load torch's state bytes; returns the initial seed they hold."""
        seed = int(np.frombuffer(raw[:8], dtype=np.uint64)[0])
        left = int(np.frombuffer(raw[8:12], dtype=np.int32)[0])
        following = int(np.frombuffer(raw[16:24], dtype=np.uint64)[0])
        if not 1 <= left <= 624:
            raise RuntimeError(f"The RNG state has an invalid 'left' count {left}")
        key = np.frombuffer(raw[24:5016], dtype=np.uint64).astype(np.uint32)
        self.bits.state = {"bit_generator": "MT19937",
                           "state": {"key": key, "pos": 625 - left}}
        self.fresh = left == 1 and following == 0
        valid = int(np.frombuffer(raw[5040:5044], dtype=np.int32)[0])
        self.next_double_normal = float(np.frombuffer(raw[5024:5032])[0]) if valid else None
        self.next_float_normal = float(np.frombuffer(raw[5048:5052], dtype=_F32)[0]) \
            if raw[5052] else None
        return seed


class _CUDAEngine:
    """CuPy's cuRAND Philox, reseeded per draw from (seed, offset) of its Generator."""

    def __init__(self, generator: Generator):
        cupy = _backend.cupy_module()
        from cupy.cuda import curand  # noqa: PLC0415 - CuPy is imported only for CUDA

        self.cupy = cupy
        self.generator = generator
        self.index = generator.device.index
        with cupy.cuda.Device(self.index):
            # Philox is counter based: reseeding it per draw costs no state set-up kernel
            self.state = cupy.random.RandomState(
                np.uint64(0), method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)

    def _next(self):
        generator = self.generator
        self.state.seed(np.uint64(_mix64(generator._seed, generator._offset)))
        generator._offset += 1
        return self.state

    def _float(self, kind, shape, np_dtype, out):
        with self.cupy.cuda.Device(self.index):
            if 0 in shape:  # cuRAND is not asked for zero numbers
                return self.cupy.empty(shape, dtype=np_dtype)
            dtype = np_dtype if np_dtype in (np.float32, np.float64) else np.float32
            state = self._next()
            method = {"uniform": state.random_sample, "normal": state.standard_normal,
                      "exponential": state.standard_exponential}[kind]
            return method(shape, dtype=dtype).astype(np_dtype, copy=False)

    def uniform(self, shape, np_dtype, out=None, low=0.0, high=1.0):
        values = self._float("uniform", shape, np_dtype, out)
        if not (low == 0 and high == 1):
            values = values * (high - low) + low
        return values.astype(np_dtype, copy=False)

    def normal(self, shape, np_dtype, out=None, mean=0.0, std=1.0, contiguous=True,
               half_tail=False):
        values = self._float("normal", shape, np_dtype, out)
        if not (mean == 0 and std == 1):
            values = values * std + mean
        return values.astype(np_dtype, copy=False)

    def bernoulli(self, shape, p, np_dtype):
        return (self._float("uniform", shape, np.dtype(np.float32), None) < p).astype(np_dtype)

    def exponential(self, shape, np_dtype, out=None, lambd=1.0):
        values = self._float("exponential", shape, np_dtype, out)
        return values if lambd == 1 else (values / lambd).astype(np_dtype, copy=False)

    def cauchy(self, shape, np_dtype, median=0.0, sigma=1.0):
        values = self.uniform(shape, np_dtype, low=-np.pi / 2, high=np.pi / 2)
        return (self.cupy.tan(values) * sigma + median).astype(np_dtype, copy=False)

    def log_normal(self, shape, np_dtype, mean=1.0, std=2.0):
        return self.cupy.exp(self.normal(shape, np_dtype, mean=mean, std=std))

    def geometric(self, shape, np_dtype, p):
        values = self._float("exponential", shape, np.dtype(np.float64), None)
        return self.cupy.ceil(values / -np.log1p(-p)).astype(np_dtype)

    def integers(self, low: int, high: int, shape, np_dtype=np.int64, full=False):
        with self.cupy.cuda.Device(self.index):
            if 0 in shape:
                return self.cupy.empty(shape, dtype=np.int64)
            return self._next().randint(low, high, shape, dtype=np.int64).astype(np_dtype)

    def permutation(self, n: int):
        with self.cupy.cuda.Device(self.index):
            if n == 0:
                return self.cupy.empty((0,), dtype=np.int64)
            return self._next().permutation(n).astype(np.int64, copy=False)

    def poisson(self, rates):
        with self.cupy.cuda.Device(self.index):
            return self._next().poisson(rates, dtype=np.int64)


# ----------------------------------------------------------------------------- Generator

class Generator:
    """A random number generator for one device (``Generator(device='cpu')``): its seed and
    state can be set, read and restored; pass it as ``generator=`` to any random function."""

    def __init__(self, device="cpu"):
        dev = _backend.to_device(device)
        if dev.type == "cuda":
            dev = _backend.device("cuda", _backend.cuda_index(dev))
        self.device = dev
        self._seed = _DEFAULT_SEED
        self._offset = 0
        self._engine = None

    def _draw(self):
        if self._engine is None:
            self._engine = _CPUEngine(self._seed) if self.device.type == "cpu" \
                else _CUDAEngine(self)
        return self._engine

    def manual_seed(self, seed) -> Generator:
        """Seed this generator (an int; negatives wrap modulo 2**64). Returns self."""
        self._seed = _seed_value(seed)
        self._offset = 0
        if self.device.type == "cpu" and self._engine is not None:
            self._engine.reseed(self._seed)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed."""
        seed = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The state as a uint8 CPU tensor (a copy) for ``set_state``."""
        if self.device.type == "cuda":
            return _state_tensor([self._seed, self._offset])
        raw = self._draw().get_state(self._seed)
        return Tensor._make(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        """Restore a state from ``get_state`` of a generator of the same device type."""
        if not isinstance(new_state, Tensor) or new_state.dtype is not _backend.uint8:
            raise TypeError("RNG state must be a dark.ByteTensor")
        raw = np.ascontiguousarray(new_state.detach().cpu().numpy()).tobytes()
        if self.device.type == "cuda":
            if len(raw) != 16:
                raise RuntimeError(f"Expected a cuda generator state of size 16 but found "
                                   f"the input RNG state size to be {len(raw)}")
            words = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
            self._seed, self._offset = words
            return self
        if len(raw) != _STATE_SIZE:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_SIZE} but "
                               f"found the input RNG state size to be {len(raw)}")
        engine = _CPUEngine(0)
        self._seed = engine.set_state(raw)
        self._engine = engine
        return self

    def __repr__(self) -> str:
        return f"<dark.Generator object on {self.device}>"


default_generator = Generator("cpu")
_cuda_generators: dict[int, Generator] = {}
_cuda_seeds: dict[int, int] = {}  # seeds set before a device's generator existed
_cuda_seed_all: list = [_DEFAULT_SEED]


def cuda_default_generator(index: int) -> Generator:
    """The default generator of GPU ``index`` (made, and seeded, on first use)."""
    found = _cuda_generators.get(index)
    if found is None:
        found = Generator(_backend.device("cuda", index))
        found.manual_seed(_cuda_seeds.pop(index, _cuda_seed_all[0]))
        _cuda_generators[index] = found
    return found


def cuda_manual_seed(seed, index: int | None = None) -> None:
    """Seed GPU ``index`` (all GPUs when None), also those whose generator is not made yet."""
    seed = _seed_value(seed)
    if index is None:
        _cuda_seed_all[0] = seed
        _cuda_seeds.clear()
        for generator in _cuda_generators.values():
            generator.manual_seed(seed)
    elif index in _cuda_generators:
        _cuda_generators[index].manual_seed(seed)
    else:
        _cuda_seeds[index] = seed


def _generator_for(generator, dev: _backend.device) -> Generator:
    if generator is None:
        if dev.type == "cpu":
            return default_generator
        return cuda_default_generator(_backend.cuda_index(dev))
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a dark.Generator, not {type(generator).__name__}")
    if generator.device.type != dev.type:
        raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator


def engine_for(generator, dev: _backend.device):
    """The engine that draws for ``generator`` (a Generator of ``dev``'s device type, or None
    for the default generator of ``dev``): what the random ops call (see the module's
    docstring for its methods)."""
    return _generator_for(generator, dev)._draw()


def manual_seed(seed) -> Generator:
    """Seed the generators of every device; returns the default (CPU) generator."""
    seed = _seed_value(seed)
    cuda_manual_seed(seed)
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed every device from the operating system's entropy; returns the seed."""
    value = default_generator.seed()
    cuda_manual_seed(value)
    return value


def initial_seed() -> int:
    """The seed of the default CPU generator."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The state of the default CPU generator (a uint8 tensor)."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default CPU generator from ``get_rng_state()``."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda"):
    """Within the block, random draws do not change the generators outside it: the CPU
    state and that of the given GPUs (by default those used so far) are restored at exit."""
    if not enabled:
        yield
        return
    indices = list(_cuda_generators) if devices is None else [
        _backend.cuda_index(_backend.to_device(d)) for d in devices]
    saved_cpu = default_generator.get_state()
    saved_cuda = [(i, cuda_default_generator(i).get_state()) for i in indices]
    try:
        yield
    finally:
        default_generator.set_state(saved_cpu)
        for index, state in saved_cuda:
            cuda_default_generator(index).set_state(state)


__all__ = ["Generator", "default_generator", "get_rng_state", "initial_seed", "manual_seed",
           "seed", "set_rng_state"]
