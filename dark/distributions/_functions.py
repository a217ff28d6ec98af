"""The functions the distributions need beyond dark's ops, each with its backward: lgamma,
digamma, trigamma, erfinv, gammainc, xlogy (elementwise, numpy in float64 then rounded; CuPy
through cupyx.scipy.special), and torch's samplers that have no dark op: _standard_gamma
(with _standard_gamma_grad for rsample), _sample_dirichlet (with _dirichlet_grad) and
binomial. cholesky and solve_triangular are dark.linalg's.

On the CPU the samplers follow ATen's serial kernels (sample_gamma, sample_binomial of
aten/src/ATen/native/Distributions.h) over the CPU generator's uniform_real_distribution /
normal_distribution<double> draws, so a seed gives torch's numbers. On CUDA the same
algorithms run vectorised over the CUDA generator's draws (a different stream than torch's).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _backend
from .._backend import array_module
from .._kernels import quiet
from .._tensor import Tensor
from ..autograd.function import Op
from ..linalg import cholesky, solve_triangular  # noqa: F401 - the distributions' own names
from ..ops.creation import tensor as make_tensor
from ..ops.elementwise import erf_array, where
from ..random import engine_for

# ----------------------------------------------------------------------------- elementwise

_PSI_10 = 2.25175258906672110764
_PSI_A = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
          -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
          8.33333333333333333333E-2)


def _float_array(a):
    return a if a.dtype.kind == "f" else a.astype(_backend.get_default_dtype().np)


def _lgamma_np(x):
    flat = x.astype(np.float64).ravel()
    out = np.empty_like(flat)
    for i, v in enumerate(flat.tolist()):
        try:
            out[i] = math.lgamma(v)
        except ValueError:  # a pole: lgamma is +inf there (torch's)
            out[i] = math.inf
    return out.reshape(x.shape)


def _digamma_np(x):
    """ATen's calc_digamma, vectorised (float64)."""
    x = x.astype(np.float64)
    out = np.empty_like(x)
    zero = x == 0
    negint = (x < 0) & (x == np.trunc(x))
    reflect = (x < 0) & ~negint
    extra = np.zeros_like(x)
    extra[reflect] = -np.pi / np.tan(np.pi * np.modf(x[reflect])[0])
    y = np.where(reflect, 1 - x, x)
    y = np.where(zero | negint, 20.0, y)
    result = np.zeros_like(x)
    for _ in range(10):
        small = y < 10
        result = np.where(small, result - 1 / np.where(small, y, 1.0), result)
        y = np.where(small, y + 1, y)
    z = 1.0 / (y * y)
    poly = np.zeros_like(x)
    for coef in _PSI_A:
        poly = poly * z + coef
    tail = np.where(y < 1e17, z * poly, 0.0)
    value = np.where(y == 10, result + _PSI_10, result + np.log(y) - 0.5 / y - tail)
    out[...] = value + extra
    out[zero] = np.copysign(np.inf, -x[zero])
    out[negint] = np.nan
    return out


def _trigamma_np(x):
    """ATen's calc_trigamma (float64)."""
    x = x.astype(np.float64)
    sign = np.where(x < 0.5, -1.0, 1.0)
    s = np.sin(np.pi * x)
    result = np.where(x < 0.5, -(np.pi * np.pi) / (s * s), 0.0)
    y = np.where(x < 0.5, 1 - x, x)
    for _ in range(6):
        result = result + 1 / (y * y)
        y = y + 1
    ixx = 1 / (y * y)
    result = result + (1 + 1 / (2 * y) + ixx * (1. / 6 - ixx * (1. / 30 - ixx * (1. / 42)))) / y
    return sign * result


def _tetragamma_np(x):
    """polygamma(2, x) in float64: the recurrence psi''(x) = psi''(x + 1) - 2 / x^3 up to
    x >= 10, then the asymptotic series; -inf at the poles (torch's)."""
    x = x.astype(np.float64)
    pole = (x <= 0) & (x == np.floor(x))
    y = np.where(pole, 20.0, x)
    result = np.zeros_like(y)
    small = y < 10
    while small.any():
        result = np.where(small, result - 2 / (y * y * y), result)
        y = np.where(small, y + 1, y)
        small = y < 10
    inv = 1 / y
    inv2 = inv * inv
    series = -inv2 * (1 + inv * (1 + inv * (0.5 + inv2 * (-1 / 6 + inv2 * (
        1 / 6 + inv2 * (-3 / 10 + inv2 * (5 / 6)))))))
    result = np.where(pole, -np.inf, result + series)
    return np.where(x == np.inf, np.nan, result)  # torch's zeta gives nan at +inf


def _erfinv_np(y):
    """erfinv in float64: Giles' single-precision approximation refined by Newton steps on
    dark's float64 erf."""
    y = y.astype(np.float64)
    w = -np.log((1.0 - y) * (1.0 + y))
    central = w < 5.0
    wc = w - 2.5
    pc = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        pc = c + pc * wc
    wt = np.sqrt(np.where(central, 5.0, w)) - 3.0
    pt = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        pt = c + pt * wt
    x = np.where(central, pc, pt) * y
    finite = np.abs(y) < 1
    for _ in range(3):
        xs = np.where(finite, x, 0.0)
        err = erf_array(xs) - y
        x = np.where(finite, xs - err / (2 / math.sqrt(math.pi) * np.exp(-xs * xs)), x)
    x = np.where(y == 1, np.inf, x)
    x = np.where(y == -1, -np.inf, x)
    return np.where(np.abs(y) > 1, np.nan, x)


def _cupy_special(name):
    import cupyx.scipy.special as special  # noqa: PLC0415 - GPU only
    return getattr(special, name)


def _elementwise(a, numpy_function, cupy_name):
    a = _float_array(a)
    xp = array_module(a)
    with quiet(xp):
        if xp is np:
            return numpy_function(a).astype(a.dtype, copy=False)
        if cupy_name.startswith("polygamma"):
            order = int(cupy_name[-1])
            return _cupy_special("polygamma")(order, a).astype(a.dtype, copy=False)
        return _cupy_special(cupy_name)(a).astype(a.dtype, copy=False)


class Lgamma(Op):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(_float_array(a))
        return _elementwise(a, _lgamma_np, "gammaln")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * digamma(a)


class Digamma(Op):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(_float_array(a))
        return _elementwise(a, _digamma_np, "digamma")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * trigamma(a)


class Trigamma(Op):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(_float_array(a))
        return _elementwise(a, _trigamma_np, "polygamma1")

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * Tetragamma.apply(a)


class Tetragamma(Op):
    """polygamma(2, x), for second derivatives through digamma (no backward of its own)."""

    @staticmethod
    def forward(ctx, a):
        return _elementwise(a, _tetragamma_np, "polygamma2")

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("the derivative of polygamma(2, x) is not implemented in dark")


class Erfinv(Op):
    @staticmethod
    def forward(ctx, a):
        out = _elementwise(a, _erfinv_np, "erfinv")
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (math.sqrt(math.pi) / 2) * (out * out).exp()


def lgamma(x: Tensor) -> Tensor:
    return Lgamma.apply(x)


def digamma(x: Tensor) -> Tensor:
    return Digamma.apply(x)


def trigamma(x: Tensor) -> Tensor:
    return Trigamma.apply(x)


def erfinv(x: Tensor) -> Tensor:
    return Erfinv.apply(x)


def xlogy(x: Tensor, y: Tensor) -> Tensor:
    """x * log(y), 0 where x == 0 (torch.xlogy)."""
    return where(x == 0, x * 0, x * y.log())


# ----------------------------------------------------------------------------- linear algebra

def cholesky_ok(A: Tensor) -> Tensor:
    """Whether each matrix of A has a Cholesky factor (torch.linalg.cholesky_ex(A).info == 0)."""
    array = A.detach().cpu().numpy().astype(np.float64)
    flat = array.reshape((-1,) + array.shape[-2:])
    ok = []
    for matrix in flat:
        try:
            np.linalg.cholesky(matrix)
            ok.append(True)
        except np.linalg.LinAlgError:
            ok.append(False)
    return make_tensor(np.array(ok, dtype=bool).reshape(array.shape[:-2]), device=A.device)


# ----------------------------------------------------------------------------- samplers

class _Stream:
    """The CPU generator's ``uniform_real_distribution<double>(0, 1)`` and
    ``normal_distribution<double>(0, 1)`` one draw at a time, as ATen's serial kernels call
    them: uniforms drawn ahead in blocks, the generator wound back and moved on by exactly
    the draws used at the end (``finish``), the cached normal kept as torch keeps it."""

    def __init__(self, engine, hint: int):
        self.engine = engine
        self.start = engine.bits.state
        self.hint = max(64, 4 * hint)
        self.buffer: list = []
        self.position = 0
        self.used = 0
        self.cached = engine.next_double_normal
        self.drew = False

    def uniform(self) -> float:
        if self.position == len(self.buffer):
            size = max(self.hint, 2 * len(self.buffer))
            words = self.engine.bits.random_raw(2 * size)
            fresh = ((words[0::2] << np.uint64(32)) | words[1::2]) & np.uint64((1 << 53) - 1)
            self.buffer = (fresh.astype(np.float64) * 2.0 ** -53).tolist()
            self.position = 0
            self.drew = True
        self.position += 1
        self.used += 1
        return self.buffer[self.position - 1]

    def normal(self) -> float:
        if self.cached is not None:
            value, self.cached = self.cached, None
            return value
        u1 = self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = 2.0 * math.pi * u1
        self.cached = r * math.sin(theta)
        return r * math.cos(theta)

    def finish(self) -> None:
        if self.drew:
            self.engine.bits.state = self.start
            self.engine.raw32(2 * self.used)
        self.engine.next_double_normal = self.cached


_F32 = np.float32
_THIRD_F = float(_F32(1.0) / _F32(3.0))
_C0331 = float(_F32(0.0331))


def _gamma_one(alpha, single: bool, stream) -> float:
    """ATen's sample_gamma<scalar_t, double> for one alpha (scalar_t float when ``single``)."""
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        exponent = float(_F32(1.0) / _F32(alpha)) if single else 1.0 / alpha
        scale *= (1 - stream.uniform()) ** exponent
        alpha = float(_F32(alpha) + _F32(1.0)) if single else alpha + 1.0
    d = float(_F32(alpha) - _F32(_THIRD_F)) if single else alpha - _THIRD_F
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        while True:
            x = stream.normal()
            y = 1.0 + c * x
            if y > 0:
                break
        v = y * y * y
        u = 1 - stream.uniform()
        xx = x * x
        if u < 1.0 - _C0331 * xx * xx:
            return scale * d * v
        if math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
            return scale * d * v


def _gamma_vectorised(engine, alpha, np_dtype):
    """The same algorithm over whole arrays (the CUDA path: its own draws)."""
    xp = array_module(alpha)
    a = alpha.astype(np.float64)
    boost = a < 1
    u0 = engine.uniform(a.shape, np.float64)
    with quiet(xp):
        scale = xp.where(boost, (1 - u0) ** (1.0 / xp.where(a == 0, 1.0, a)), 1.0)
    a = xp.where(boost, a + 1, a)
    d = a - 1.0 / 3.0
    c = 1.0 / xp.sqrt(9.0 * d)
    result = xp.zeros_like(a)
    todo = xp.ones(a.shape, dtype=bool)
    while bool(todo.any()):
        x = engine.normal(a.shape, np.float64)
        y = 1.0 + c * x
        v = y * y * y
        u = 1 - engine.uniform(a.shape, np.float64)
        with quiet(xp):
            ok = (y > 0) & ((u < 1 - 0.0331 * x ** 4)
                            | (xp.log(u) < 0.5 * x * x + d * (1 - v + xp.log(xp.where(v > 0, v,
                                                                                      1.0)))))
        take = todo & ok
        result = xp.where(take, scale * d * v, result)
        todo = todo & ~ok
    result = xp.where(alpha == 0, 0.0, result)
    return result.astype(np_dtype)


def _engine(generator, device):
    return engine_for(generator, device)


def standard_gamma_array(alpha, device, generator=None, accumulate_double=False):
    """torch._standard_gamma's values as an array (double samples when
    ``accumulate_double``: the Dirichlet kernel's first pass)."""
    engine = _engine(generator, device)
    out_dtype = np.float64 if accumulate_double else alpha.dtype
    if array_module(alpha) is not np or not hasattr(engine, "bits"):
        out = _gamma_vectorised(engine, alpha, out_dtype)
        tiny = np.finfo(out_dtype).tiny
        return array_module(alpha).maximum(out, tiny)
    flat = np.ascontiguousarray(alpha).ravel()
    single = alpha.dtype != np.float64 and not accumulate_double
    values = flat.astype(np.float64).tolist()
    stream = _Stream(engine, len(values))
    try:
        samples = [_gamma_one(a, single, stream) for a in values]
    finally:
        stream.finish()
    out = np.array(samples, dtype=np.float64).astype(out_dtype)
    return np.maximum(out, np.finfo(out_dtype).tiny).reshape(alpha.shape)


def _digamma_positive(x, xp):
    """ATen's digamma_one for positive doubles, over arrays of module ``xp``."""
    result = xp.zeros_like(x)
    for _ in range(10):
        small = x < 10
        result = xp.where(small, result - 1 / x, result)
        x = xp.where(small, x + 1, x)
    z = 1.0 / (x * x)
    poly = xp.zeros_like(x)
    for coef in _PSI_A:
        poly = poly * z + coef
    tail = xp.where(x < 1e17, z * poly, 0.0)
    return xp.where(x == 10, result + _PSI_10, result + xp.log(x) - 0.5 / x - tail)


def _gamma_grad_array(alpha, x):
    """ATen's standard_gamma_grad_one over arrays (in double, as its accscalar_t): a Taylor
    series for x < 0.8, Rice's saddle point expansion for alpha > 8, else a bivariate
    rational approximation."""
    xp = array_module(alpha)
    a = alpha.astype(np.float64)
    x = x.astype(np.float64)
    with quiet(xp):
        numer = xp.ones_like(a)
        denom = a
        series1 = numer / denom
        series2 = numer / (denom * denom)
        for i in range(1, 6):
            numer = numer * (-x / i)
            denom = denom + 1
            series1 = series1 + numer / denom
            series2 = series2 + numer / (denom * denom)
        pow_x_alpha = x ** a
        gamma_pdf = x ** (a - 1) * xp.exp(-x)
        gamma_cdf = pow_x_alpha * series1
        gamma_cdf_alpha = (xp.log(x) - _digamma_positive(a, xp)) * gamma_cdf \
            - pow_x_alpha * series2
        taylor = -gamma_cdf_alpha / gamma_pdf
        taylor = xp.where(xp.isnan(taylor), 0.0, taylor)

        numer_1 = 1 + 24 * a * (1 + 12 * a)
        numer_2 = 1440 * (a * a) + 6 * x * (53 - 120 * x) - 65 * x * x / a \
            + a * (107 + 3600 * x)
        near = numer_1 * numer_2 / (1244160 * (a * a) * (a * a))
        denom = xp.sqrt(8 * a)
        term2 = denom / (a - x)
        base = x - a - a * xp.log(x / a)
        term3 = xp.where(base < 0, xp.nan, xp.abs(base) ** -1.5)
        term23 = xp.where(x < a, term2 - term3, term2 + term3)
        term1 = xp.log(x / a) * term23 - xp.sqrt(2 / a) * (a + x) / ((a - x) * (a - x))
        stirling = 1 + 1 / (12 * a) * (1 + 1 / (24 * a))
        saddle = -stirling * (x * term1) / denom
        saddle = xp.where((0.9 * a <= x) & (x <= 1.1 * a), near, saddle)

        u = xp.log(x / a)
        v = xp.log(a)
        coef = [_GAMMA_UV[0][i] + u * (_GAMMA_UV[1][i] + u * _GAMMA_UV[2][i])
                for i in range(8)]
        p = coef[0] + v * (coef[1] + v * (coef[2] + v * coef[3]))
        q = coef[4] + v * (coef[5] + v * (coef[6] + v * coef[7]))
        rational = xp.exp(p / q)
    return xp.where(x < 0.8, taylor, xp.where(a > 8.0, saddle, rational)).astype(alpha.dtype)


_GAMMA_UV = (
    (0.16009398, -0.094634809, 0.025146376, -0.0030648343,
     1, 0.32668115, 0.10406089, 0.0014179084),
    (0.53487893, 0.1298071, 0.065735949, -0.0015649758,
     0.16639465, 0.020070113, -0.0035938915, -0.00058392623),
    (0.040121004, -0.0065914022, -0.0026286047, -0.0013441777,
     0.017050642, -0.0021309326, 0.00085092367, -1.5247877e-07),
)


def _digamma_one(x: float) -> float:
    """ATen's digamma_one<double, double> (Distributions.h)."""
    if x == 0:
        return math.inf
    extra = 0.0
    if x < 0:
        if x == math.floor(x):
            return math.inf
        extra = -math.pi / math.tan(math.pi * x)
        x = 1 - x
    result = 0.0
    while x < 10:
        result -= 1 / x
        x += 1
    if x == 10:
        return result + _PSI_10 + extra
    y = 0.0
    if x < 1.0e17:
        z = 1.0 / (x * x)
        poly = 0.0
        for coef in _PSI_A:
            poly = poly * z + coef
        y = z * poly
    return result + math.log(x) - 0.5 / x - y + extra


def _pow(base: float, exponent: float) -> float:
    """C's pow on doubles: nan (not Python's complex number) for a negative base and a
    non-integer exponent, inf for zero to a negative power."""
    if base < 0 and exponent != int(exponent):
        return math.nan
    try:
        return base ** exponent
    except ZeroDivisionError:
        return math.inf


def _map(function, dtype, *arrays):
    xp = array_module(arrays[0])
    host = [xp.asnumpy(a) if xp is not np else a for a in arrays]
    host = np.broadcast_arrays(*host)
    shape = host[0].shape
    flat = [np.ascontiguousarray(h).ravel().astype(np.float64).tolist() for h in host]
    with np.errstate(all="ignore"):
        out = np.array([function(*v) for v in zip(*flat)], dtype=np.float64).reshape(shape)
    out = out.astype(dtype)
    return out if xp is np else xp.asarray(out)


class StandardGamma(Op):
    @staticmethod
    def forward(ctx, alpha, device=None, generator=None):
        sample = standard_gamma_array(alpha, device, generator)
        ctx.save_for_backward(alpha, sample)
        return sample

    @staticmethod
    def backward(ctx, grad):
        alpha, sample = ctx.saved_tensors
        return grad * standard_gamma_grad(alpha, sample)


def standard_gamma(alpha: Tensor, generator=None) -> Tensor:
    """torch._standard_gamma: Gamma(alpha, 1) samples, differentiable in alpha."""
    return StandardGamma.apply(alpha, device=alpha.device, generator=generator)


def standard_gamma_grad(alpha: Tensor, sample: Tensor) -> Tensor:
    """torch._standard_gamma_grad: d sample / d alpha at a fixed quantile."""
    a, x = alpha._data, sample._data
    xp = array_module(a)
    a, x = xp.broadcast_arrays(a, x)
    return Tensor._make(_gamma_grad_array(a, x))


class SampleDirichlet(Op):
    @staticmethod
    def forward(ctx, alpha, device=None, generator=None):
        gamma = standard_gamma_array(alpha, device, generator, accumulate_double=True)
        xp = array_module(alpha)
        total = gamma.sum(-1, keepdims=True)
        with quiet(xp):
            out = (gamma / total).astype(alpha.dtype)
        tiny = np.finfo(alpha.dtype).tiny
        top = np.nextafter(alpha.dtype.type(1), alpha.dtype.type(0))
        out = xp.minimum(top, xp.maximum(tiny, out))
        ctx.save_for_backward(alpha, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        total = alpha.sum(-1, True).expand_as(alpha)
        g = dirichlet_grad(x, alpha, total)
        return g * (grad - (x * grad).sum(-1, True))


def sample_dirichlet(alpha: Tensor, generator=None) -> Tensor:
    """torch._sample_dirichlet with the reparameterised backward of torch's _Dirichlet."""
    return SampleDirichlet.apply(alpha, device=alpha.device, generator=generator)


def _beta_grad_alpha_small(x, alpha, beta, cast):
    factor = cast(cast(_digamma_one(alpha)) - cast(_digamma_one(cast(alpha + beta)))
                  - cast(math.log(x)))
    numer = 1.0
    series = cast(numer / alpha * cast(factor + cast(1 / alpha)))
    for i in range(1, 11):
        numer = cast(numer * cast(cast(i - beta) * x) / i)
        denom = cast(alpha + i)
        series = cast(series + cast(cast(numer / denom) * cast(factor + cast(1 / denom))))
    try:
        result = cast(cast(x * cast((1 - x) ** -beta)) * series)
    except (ZeroDivisionError, OverflowError):
        return 0.0
    return 0.0 if math.isnan(result) else result


def _beta_grad_beta_small(x, alpha, beta, cast):
    factor = cast(cast(_digamma_one(cast(alpha + beta))) - cast(_digamma_one(beta)))
    numer, betas, dbetas = 1.0, 1.0, 0.0
    series = cast(factor / alpha)
    for i in range(1, 9):
        numer = cast(numer * cast(-x / i))
        dbetas = cast(cast(dbetas * cast(beta - i)) + betas)
        betas = cast(betas * cast(beta - i))
        series = cast(series + cast(cast(numer / cast(alpha + i))
                                    * cast(dbetas + cast(factor * betas))))
    try:
        result = cast(-cast((1 - x) ** (1 - beta)) * series)
    except (ZeroDivisionError, OverflowError):
        return 0.0
    return 0.0 if math.isnan(result) else result


def _beta_grad_alpha_mid(x, alpha, beta):
    total = alpha + beta
    mean = alpha / total
    std = math.sqrt(alpha * beta / (total + 1)) / total
    if mean - 0.1 * std <= x <= mean + 0.1 * std:
        poly = 47 * x * (beta * beta) * (beta * beta) + alpha * (
            (43 + 20 * (16 + 27 * beta) * x) * (beta * beta) * beta + alpha * (
                3 * (59 + 180 * beta - 90 * x) * (beta * beta) + alpha * (
                    (453 + 1620 * beta * (1 - x) - 455 * x) * beta + alpha * (
                        8 * (1 - x) * (135 * beta - 11)))))
        prefactor_num = (1 + 12 * alpha) * (1 + 12 * beta) / (total * total)
        prefactor_den = 12960 * alpha * alpha * alpha * beta * beta * (1 + 12 * total)
        return prefactor_num / (1 - x) * poly / prefactor_den
    prefactor = -x / math.sqrt(2 * alpha * beta / total)
    stirling = (1 + 1 / (12 * alpha) + 1 / (288 * alpha * alpha)) \
        * (1 + 1 / (12 * beta) + 1 / (288 * beta * beta)) \
        / (1 + 1 / (12 * total) + 1 / (288 * total * total))
    term1_num = 2 * (alpha * alpha) * (x - 1) + alpha * beta * (x - 1) - x * (beta * beta)
    axbx = alpha * (x - 1) + beta * x
    term1_den = math.sqrt(2 * alpha / beta) * total ** 1.5 * axbx * axbx
    term1 = term1_num / term1_den
    term2 = 0.5 * math.log(alpha / (total * x))
    term3 = math.sqrt(8 * alpha * beta / total) / (beta * x + alpha * (x - 1))
    term4_base = beta * math.log(beta / (total * (1 - x))) + alpha * math.log(alpha / (total * x))
    term4 = _pow(term4_base, -1.5)
    term1234 = term1 + term2 * (term3 + (term4 if x < mean else -term4))
    return stirling * prefactor * term1234


_DIRICHLET_C = (
    (((1.003668233, -0.01061107488, -0.0657888334, 0.01201642863),
      (0.6336835991, -0.3557432599, 0.05486251648, -0.001465281033),
      (-0.03276231906, 0.004474107445, 0.002429354597, -0.0001557569013)),
     ((0.221950385, -0.3187676331, 0.01799915743, 0.01074823814),
      (-0.2951249643, 0.06219954479, 0.01535556598, 0.001550077057),
      (0.02155310298, 0.004170831599, 0.001292462449, 6.976601077e-05)),
     ((-0.05980841433, 0.008441916499, 0.01085618172, 0.002319392565),
      (0.02911413504, 0.01400243777, -0.002721828457, 0.000751041181),
      (0.005900514878, -0.001936558688, -9.495446725e-06, 5.385558597e-05))),
    (((1, -0.02924021934, -0.04438342661, 0.007285809825),
      (0.6357567472, -0.3473456711, 0.05454656494, -0.002407477521),
      (-0.03301322327, 0.004845219414, 0.00231480583, -0.0002307248149)),
     ((0.5925320577, -0.1757678135, 0.01505928619, 0.000564515273),
      (0.1014815858, -0.06589186703, 0.01272886114, -0.0007316646956),
      (-0.007258481865, 0.001096195486, 0.0003934994223, -4.12701925e-05)),
     ((0.06469649321, -0.0236701437, 0.002902096474, -5.896963079e-05),
      (0.001925008108, -0.002869809258, 0.0008000589141, -6.063713228e-05),
      (-0.0003477407336, 6.959756487e-05, 1.097287507e-05, -1.650964693e-06))),
)


def _dirichlet_grad_one(x, alpha, total, cast):
    """ATen's dirichlet_grad_one<scalar_t, double>: scalar_t steps through ``cast``."""
    beta = cast(total - alpha)
    boundary = cast(cast(total * x) * cast(1 - x))
    if x <= 0.5 and boundary < 2.5:
        return _beta_grad_alpha_small(x, alpha, beta, cast)
    if x >= 0.5 and boundary < 0.75:
        return -_beta_grad_beta_small(cast(1 - x), beta, alpha, cast)
    if alpha > 6 and beta > 6:
        return _beta_grad_alpha_mid(x, alpha, total - alpha)
    u = math.log(x)
    a = math.log(alpha) - u
    b = math.log(total) - a
    pow_u = (1.0, u, u * u)
    pow_a = (1.0, a, a * a)
    p = q = 0.0
    c = _DIRICHLET_C
    for i in range(3):
        for j in range(3):
            ua = pow_u[i] * pow_a[j]
            p += ua * (c[0][i][j][0] + b * (c[0][i][j][1] + b * (c[0][i][j][2]
                                                                  + b * c[0][i][j][3])))
            q += ua * (c[1][i][j][0] + b * (c[1][i][j][1] + b * (c[1][i][j][2]
                                                                  + b * c[1][i][j][3])))
    approx = x * (_digamma_one(total) - _digamma_one(alpha)) / (total - alpha)
    return p / q * approx


def _cast_for(dtype):
    if np.dtype(dtype) == np.float64:
        return float
    return lambda v: float(_F32(v))


def dirichlet_grad(x: Tensor, alpha: Tensor, total: Tensor) -> Tensor:
    """torch._dirichlet_grad."""
    cast = _cast_for(x._data.dtype)
    array = _map(lambda a, b, c: _dirichlet_grad_one(a, b, c, cast), x._data.dtype,
                 x._data, alpha._data, total._data)
    return Tensor._make(array)


# -- binomial

_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_tail(k: float) -> float:
    if k <= 9:
        return _STIRLING_TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _binomial_inversion(count, prob, cast, stream):
    geom_sum = 0.0
    num_geom = 0.0
    logprob = cast(math.log1p(-prob)) if cast is float else float(np.log1p(_F32(-prob)))
    while True:
        u = stream.uniform()
        geom = math.ceil(math.log(u) / logprob)
        geom_sum += geom
        if geom_sum > count:
            break
        num_geom += 1
    return num_geom


def _btrs(count, prob, cast, stream):
    if cast is float:
        stddev = math.sqrt(count * prob * (1 - prob))
    else:
        stddev = float(np.sqrt(_F32(_F32(_F32(count) * _F32(prob)) * _F32(1 - _F32(prob)))))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = cast(count * prob) + 0.5
    v_r = 0.92 - 4.2 / b
    r = cast(prob / cast(1 - prob))
    alpha = (2.83 + 5.1 / b) * stddev
    m = math.floor(cast(cast(count + 1) * prob))
    while True:
        u = stream.uniform() - 0.5
        v = stream.uniform()
        us = 0.5 - abs(u)
        k = cast(math.floor((2 * a / us + b) * u + c))
        if k < 0 or k > count:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        upperbound = ((m + 0.5) * math.log((m + 1) / (r * (count - m + 1)))
                      + (count + 1) * math.log((count - m + 1) / (count - k + 1))
                      + (k + 0.5) * math.log(r * (count - k + 1) / (k + 1))
                      + _stirling_tail(m) + _stirling_tail(count - m)
                      - _stirling_tail(k) - _stirling_tail(count - k))
        if v <= upperbound:
            return k


def _binomial_one(count, prob, cast, stream):
    if count <= 0.0 or prob <= 0.0:
        return 0.0
    if prob >= 1.0:
        return count
    if prob <= 0.5:
        if cast(count * prob) >= 10.0:
            return _btrs(count, prob, cast, stream)
        return _binomial_inversion(count, prob, cast, stream)
    if prob > 0.5:
        qprob = cast(1.0 - prob)
        if cast(count * qprob) >= 10.0:
            return count - _btrs(count, qprob, cast, stream)
        return count - _binomial_inversion(count, qprob, cast, stream)
    return math.nan


class _VectorStream:
    """uniform() over an engine's array draws, one at a time (the non-CPU path)."""

    def __init__(self, engine):
        self.engine = engine
        self.buffer: list = []

    def uniform(self) -> float:
        if not self.buffer:
            drawn = self.engine.uniform((256,), np.float64)
            self.buffer = [float(v) for v in array_module(drawn).asnumpy(drawn)] \
                if array_module(drawn) is not np else drawn.tolist()
            self.buffer.reverse()
        return self.buffer.pop()

    def finish(self) -> None:
        pass


def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """torch.binomial: samples of Binomial(count, prob), in order, ATen's sampler."""
    c, p = count._data, prob._data
    xp = array_module(c)
    engine = _engine(generator, count.device)
    cast = _cast_for(c.dtype)
    c_host = xp.asnumpy(c) if xp is not np else c
    p_host = xp.asnumpy(p) if xp is not np else p
    shape = np.broadcast_shapes(c_host.shape, p_host.shape)
    counts = np.broadcast_to(c_host, shape).ravel().astype(np.float64).tolist()
    probs = np.broadcast_to(p_host, shape).ravel().astype(np.float64).tolist()
    stream = _Stream(engine, len(counts)) if hasattr(engine, "bits") else _VectorStream(engine)
    try:
        with np.errstate(all="ignore"):
            values = [_binomial_one(n, q, cast, stream) for n, q in zip(counts, probs)]
    finally:
        stream.finish()
    out = np.array(values, dtype=np.float64).astype(c.dtype).reshape(shape)
    return Tensor._make(out if xp is np else xp.asarray(out))


# -- the regularised lower incomplete gamma function

def _gammainc_one(a: float, x: float) -> float:
    if math.isnan(a) or math.isnan(x) or a < 0 or x < 0:
        return math.nan
    if a == 0:
        return 1.0 if x > 0 else math.nan
    if x == 0:
        return 0.0
    if math.isinf(x):
        return 1.0
    if a > 1e8:  # Wilson-Hilferty: the cube root is normal to O(1/a)
        z = ((x / a) ** (1 / 3) - (1 - 1 / (9 * a))) * math.sqrt(9 * a)
        return 0.5 * math.erfc(-z / math.sqrt(2))
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:  # the series (about sqrt(80 a) terms where x is near a)
        term = total = 1.0 / a
        ap = a
        for _ in range(200000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return total * math.exp(log_front)
    # the continued fraction of the upper function (modified Lentz)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b if b != 0 else 1 / tiny
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return 1.0 - math.exp(log_front) * h


def _sum_to(grad: Tensor, shape) -> Tensor:
    """A broadcast gradient summed back to an input's shape."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.dim() - len(shape)
    if lead:
        grad = grad.sum(tuple(range(lead)))
    dims = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    return grad.sum(dims, keepdim=True) if dims else grad


class Gammainc(Op):
    @staticmethod
    def forward(ctx, a, x):
        ctx.save_for_backward(a, x)
        dtype = np.result_type(a.dtype, x.dtype)
        if dtype.kind != "f":
            dtype = _backend.get_default_dtype().np
        return _map(_gammainc_one, dtype, a, x)

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise RuntimeError("derivative for aten::igamma is not implemented")
        density = ((a - 1) * x.log() - x - lgamma(a)).exp()
        return None, _sum_to(grad * density, x.shape)


def gammainc(a: Tensor, x: Tensor) -> Tensor:
    """torch.special.gammainc: the regularised lower incomplete gamma function P(a, x)."""
    return Gammainc.apply(a, x)
