"""The special functions of ``torch.special`` (and their ``torch.*`` / Tensor-method names):
erfc, erfcx, erfinv, lgamma, digamma, polygamma, mvlgamma, i0, i0e, i1, i1e, ndtr, ndtri,
log_ndtr, entr, sinc, logit, xlogy, xlog1py, zeta, gammainc, gammaincc.

The kernels work on raw arrays through their array module (numpy or CuPy): each is computed
in float64 and rounded to the result's dtype. They are the algorithms of ATen's Math.h
(Cephes: Chebyshev series of i0e / i1e, ndtri's rational approximations, the Hurwitz zeta's
Euler-Maclaurin sum, digamma's and trigamma's recurrences with asymptotic series, erfinv's
rational start and two Newton steps, the incomplete gamma's series and continued fraction),
written elementwise on arrays; lgamma is Lanczos' (g = 7) below 10 and Stirling's series
above. Backward formulas are derivatives.yaml's."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _backend
from .._backend import array_module
from .._kernels import quiet
from .._tensor import Tensor, tensor_method
from ..autograd.function import Op
from .elementwise import (
    _ERF_SMALL,
    _ERFC_LARGE,
    _chebyshev,
    _default_float,
    _maybe_out,
    _unary_op,
    exp,
    log,
    sign,
    where,
)

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_MACHEP = 1.11022302462515654042e-16


# ----------------------------------------------------------------------------- kernels

def _f64(a):
    return a.astype(np.float64)


def _erf(xp, x):
    """erf of a float64 array (the Chebyshev series of dark.erf, through xp)."""
    ax = xp.abs(x)
    small = xp.minimum(ax, 2.0)
    near = x * _chebyshev(_ERF_SMALL, small * small * 0.5 - 1)
    far = xp.clip(ax, 2.0, 6.0)
    far = xp.copysign(1 - xp.exp(-far * far) * _chebyshev(_ERFC_LARGE, far * 0.5 - 2), x)
    return xp.where(ax <= 2.0, near, far)


def _erfcx_positive(xp, x):
    """exp(x^2) erfc(x) for x >= 0: 1 - erf below 2, the Chebyshev series of dark.erf on
    [2, 6], the continued fraction (Laplace's, 60 terms) above."""
    below = xp.exp(xp.minimum(x, 2.0) ** 2) * (1 - _erf(xp, xp.minimum(x, 2.0)))
    middle = _chebyshev(_ERFC_LARGE, xp.clip(x, 2.0, 6.0) * 0.5 - 2)
    big = xp.maximum(x, 6.0)
    fraction = big
    for k in range(60, 0, -1):
        fraction = big + (k / 2) / fraction
    above = 1 / (_SQRT_PI * fraction)
    return xp.where(x < 2.0, below, xp.where(x <= 6.0, middle, above))


def _erfcx(xp, x):
    positive = _erfcx_positive(xp, xp.abs(x))
    # erfcx(-x) = 2 exp(x^2) - erfcx(x) (inf once exp overflows, as torch)
    return xp.where(x < 0, 2 * xp.exp(x * x) - positive, positive)


def _erfc(xp, x):
    ax = xp.abs(x)
    upper = _erfcx_positive(xp, ax) * xp.exp(-ax * ax)
    return xp.where(x < 0, 2 - upper, upper)


def _erfinv(xp, y):
    """ATen's calc_erfinv: a rational start and two Newton steps."""
    a = (0.886226899, -1.645349621, 0.914624893, -0.140543331)
    b = (-2.118377725, 1.442710462, -0.329097515, 0.012229801)
    c = (-1.970840454, -1.624906493, 3.429567803, 1.641345311)
    d = (3.543889200, 1.637067800)
    y_abs = xp.abs(y)
    z = y * y
    num = ((a[3] * z + a[2]) * z + a[1]) * z + a[0]
    dem = (((b[3] * z + b[2]) * z + b[1]) * z + b[0]) * z + 1.0
    central = y * num / dem
    zt = xp.sqrt(-xp.log((1.0 - xp.minimum(y_abs, 1.0)) / 2.0))
    num = ((c[3] * zt + c[2]) * zt + c[1]) * zt + c[0]
    dem = (d[1] * zt + d[0]) * zt + 1.0
    tail = xp.copysign(num, y) / dem
    x = xp.where(y_abs <= 0.7, central, tail)
    for _ in range(2):
        x = x - (_erf(xp, x) - y) / ((2.0 / _SQRT_PI) * xp.exp(-x * x))
    x = xp.where(y_abs == 1.0, xp.copysign(math.inf, y), x)
    return xp.where(y_abs > 1.0, math.nan, x)


_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)


def _lgamma_positive(xp, x):
    """log Gamma(x) for x >= 0.5."""
    small = xp.minimum(x, 10.0) - 1
    series = _LANCZOS[0] + sum(c / (small + i) for i, c in enumerate(_LANCZOS[1:], 1))
    t = small + 7.5
    lanczos = 0.5 * math.log(2 * math.pi) + (small + 0.5) * xp.log(t) - t + xp.log(series)
    big = xp.maximum(x, 10.0)
    inv = 1 / big
    inv2 = inv * inv
    series = 0.0
    for coefficient in (-3617 / 122400, 1 / 156, -691 / 360360, 1 / 1188, -1 / 1680,
                        1 / 1260, -1 / 360, 1 / 12):  # B_2k / (2k (2k - 1))
        series = series * inv2 + coefficient
    stirling = (big - 0.5) * xp.log(big) - big + 0.5 * math.log(2 * math.pi) + inv * series
    return xp.where(x < 10.0, lanczos, stirling)


def _lgamma(xp, x):
    reflect = x < 0.5
    positive = _lgamma_positive(xp, xp.where(reflect, 1 - x, x))
    fraction = x - xp.floor(x)
    sine = xp.abs(xp.sin(math.pi * fraction))
    reflected = math.log(math.pi) - xp.log(sine) - positive
    out = xp.where(reflect, reflected, positive)
    out = xp.where((x <= 0) & (x == xp.floor(x)), math.inf, out)
    return xp.where(xp.isinf(x), math.inf, out)


_PSI_10 = 2.25175258906672110764
_DIGAMMA_A = (8.33333333333333333333e-2, -2.10927960927960927961e-2,
              7.57575757575757575758e-3, -4.16666666666666666667e-3,
              3.96825396825396825397e-3, -8.33333333333333333333e-3,
              8.33333333333333333333e-2)


def _polevl(x, coefficients):
    result = 0.0
    for c in coefficients:
        result = result * x + c
    return result


def _digamma(xp, x):
    """ATen's calc_digamma."""
    negative = x < 0
    fraction = x - xp.trunc(x)
    reflection = xp.where(negative, -math.pi / xp.tan(math.pi * fraction), 0.0)
    y = xp.where(negative, 1 - x, x)
    result = xp.zeros_like(y)
    for _ in range(10):
        below = y < 10
        result = result - xp.where(below, 1 / xp.where(below, y, 1.0), 0.0)
        y = xp.where(below, y + 1, y)
    z = 1.0 / (y * y)
    tail = xp.where(y < 1.0e17, z * _polevl(z, _DIGAMMA_A), 0.0)
    out = xp.where(y == 10, result + _PSI_10, result + xp.log(y) - 0.5 / y - tail)
    out = out + reflection
    out = xp.where(negative & (x == xp.trunc(x)), math.nan, out)
    out = xp.where(x == 0, xp.copysign(math.inf, -x), out)
    return xp.where(xp.isposinf(x), math.inf, out)


def _trigamma(xp, x):
    """ATen's trigamma (double)."""
    reflect = x < 0.5
    sin_pi_x = xp.sin(math.pi * x)
    result = xp.where(reflect, -(math.pi * math.pi) / (sin_pi_x * sin_pi_x), 0.0)
    y = xp.where(reflect, 1 - x, x)
    for _ in range(6):
        result = result + 1 / (y * y)
        y = y + 1
    ixx = 1 / (y * y)
    result = result + (1 + 1 / (2 * y) + ixx * (1 / 6 - ixx * (1 / 30 - ixx * (1 / 42)))) / y
    return xp.where(reflect, -result, result)


_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9,
           7.47242496e10, -2.950130727918164224e12, 1.1646782814350067249e14,
           -4.5979787224074726105e15, 1.8152105401943546773e17, -7.1661652561756670113e18)


def _zeta(xp, x, q):
    """ATen's (Cephes') Hurwitz zeta sum_k (k + q)^-x, elementwise on broadcast arrays."""
    x, q = xp.broadcast_arrays(x, q)
    x, q = x.copy(), q.copy()
    s = q ** -x
    a = q.copy()
    b = xp.zeros_like(s)
    done = xp.zeros(s.shape, dtype=bool)
    step = 0
    while True:
        active = ~done & ((step < 9) | (a <= 9.0))
        if not bool(active.any()):
            break
        step += 1
        a = xp.where(active, a + 1, a)
        b = xp.where(active, a ** -x, b)
        s = xp.where(active, s + b, s)
        done = done | (active & (-_MACHEP * s < b) & (b < _MACHEP * s))
        if step > 100000:  # only a q far below zero gets here
            break
    w = a
    tail = s + b * w / (x - 1) - 0.5 * b
    factor = xp.ones_like(s)
    k = 0.0
    finished = done.copy()
    s = xp.where(done, s, tail)
    for coefficient in _ZETA_A:
        factor = factor * (x + k)
        b = b / w
        t = factor * b / coefficient
        s = xp.where(finished, s, s + t)
        finished = finished | (xp.abs(t / s) < _MACHEP)
        k += 1
        factor = factor * (x + k)
        b = b / w
        k += 1
    out = xp.where(x < 1, math.nan, s)
    nonpositive = q <= 0
    out = xp.where(nonpositive & (x != xp.floor(x)), math.nan, out)
    out = xp.where(nonpositive & (q == xp.floor(q)), math.inf, out)
    return xp.where(x == 1, math.inf, out)


def _polygamma(xp, n: int, x):
    if n == 0:
        return _digamma(xp, x)
    if n == 1:
        return _trigamma(xp, x)
    factor = (1.0 if n % 2 else -1.0) * math.exp(math.lgamma(n + 1.0))
    return factor * _zeta(xp, xp.asarray(float(n + 1)), x)


def _chbevl(x, coefficients):
    b0, b1, b2 = coefficients[0], 0.0, 0.0
    for c in coefficients[1:]:
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


_I0E_A = (-4.41534164647933937950e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16,
          1.71539128555513303061e-15, -1.16853328779934516808e-14, 7.67618549860493561688e-14,
          -4.85644678311192946090e-13, 2.95505266312963983461e-12, -1.72682629144155570723e-11,
          9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
          -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
          1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
          -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
          1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
          -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
          1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1)
_I0E_B = (-7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
          3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
          1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
          -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
          7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
          -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
          3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
          2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
          8.04490411014108831608e-1)
_I1E_A = (2.77791411276104639959e-18, -2.11142121435816608115e-17, 1.55363195773620046921e-16,
          -1.10559694773538630805e-15, 7.60068429473540693410e-15, -5.04218550472791168711e-14,
          3.22379336594557470981e-13, -1.98397439776494371520e-12, 1.17361862988909016308e-11,
          -6.66348972350202774223e-11, 3.62559028155211703701e-10, -1.88724975172282928790e-9,
          9.38153738649577178388e-9, -4.44505912879632808065e-8, 2.00329475355213526229e-7,
          -8.56872026469545474066e-7, 3.47025130813767847674e-6, -1.32731636560394358279e-5,
          4.78156510755005422638e-5, -1.61760815825896745588e-4, 5.12285956168575772895e-4,
          -1.51357245063125314899e-3, 4.15642294431288815669e-3, -1.05640848946261981558e-2,
          2.47264490306265168283e-2, -5.29459812080949914269e-2, 1.02643658689847095384e-1,
          -1.76416518357834055153e-1, 2.52587186443633654823e-1)
_I1E_B = (7.51729631084210481353e-18, 4.41434832307170791151e-18, -4.65030536848935832153e-17,
          -3.20952592199342395980e-17, 2.96262899764595013876e-16, 3.30820231092092828324e-16,
          -1.88035477551078244854e-15, -3.81440307243700780478e-15, 1.04202769841288027642e-14,
          4.27244001671195135429e-14, -2.10154184277266431302e-14, -4.08355111109219731823e-13,
          -7.19855177624590851209e-13, 2.03562854414708950722e-12, 1.41258074366137813316e-11,
          3.25260358301548823856e-11, -1.89749581235054123450e-11, -5.58974346219658380687e-10,
          -3.83538038596423702205e-9, -2.63146884688951950684e-8, -2.51223623787020892529e-7,
          -3.88256480887769039346e-6, -1.10588938762623716291e-4, -9.76109749136146840777e-3,
          7.78576235018280120474e-1)


def _i0e(xp, x):
    ax = xp.abs(x)
    near = _chbevl(xp.minimum(ax, 8.0) / 2.0 - 2.0, _I0E_A)
    big = xp.maximum(ax, 8.0)
    far = _chbevl(32.0 / big - 2.0, _I0E_B) / xp.sqrt(big)
    return xp.where(ax <= 8.0, near, far)


def _i1e(xp, x):
    ax = xp.abs(x)
    near = _chbevl(xp.minimum(ax, 8.0) / 2.0 - 2.0, _I1E_A) * ax
    big = xp.maximum(ax, 8.0)
    far = _chbevl(32.0 / big - 2.0, _I1E_B) / xp.sqrt(big)
    out = xp.where(ax <= 8.0, near, far)
    return xp.where(x < 0, -out, out)


_NDTRI_P0 = (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1,
             1.39312609387279679503e1, -1.23916583867381258016e0)
_NDTRI_Q0 = (1.0, 1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1,
             -2.25462687854119370527e2, 2.00260212380060660359e2, -8.20372256168333339912e1,
             1.59056225126211695515e1, -1.18331621121330003142e0)
_NDTRI_P1 = (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1,
             4.40805073893200834700e1, 1.46849561928858024014e1, 2.18663306850790267539e0,
             -1.40256079171354495875e-1, -3.50424626827848203418e-2,
             -8.57456785154685413611e-4)
_NDTRI_Q1 = (1.0, 1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1,
             1.50425385692907503408e1, 2.50464946208309415979e0, -1.42182922854787788574e-1,
             -3.80806407691578277194e-2, -9.33259480895457427372e-4)
_NDTRI_P2 = (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0,
             1.33303460815807542389e0, 2.01485389549179081538e-1, 1.23716634817820021358e-2,
             3.01581553508235416007e-4, 2.65806974686737550832e-6, 6.23974539184983293730e-9)
_NDTRI_Q2 = (1.0, 6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0,
             2.16236993594496635890e-1, 1.34204006088543189037e-2, 3.28014464682127739104e-4,
             2.89247864745380683936e-6, 6.79019408009981274425e-9)
_EXP_M2 = 0.13533528323661269189


def _ndtri(xp, y0):
    """ATen's (Cephes') calc_ndtri."""
    upper = y0 > 1 - _EXP_M2
    y = xp.where(upper, 1 - y0, y0)
    centred = y - 0.5
    y2 = centred * centred
    middle = (centred + centred * (y2 * _polevl(y2, _NDTRI_P0) / _polevl(y2, _NDTRI_Q0))) \
        * _SQRT_2PI
    safe = xp.clip(y, 1e-300, _EXP_M2)
    x = xp.sqrt(-2.0 * xp.log(safe))
    x0 = x - xp.log(x) / x
    z = 1 / x
    x1 = xp.where(x < 8.0, z * _polevl(z, _NDTRI_P1) / _polevl(z, _NDTRI_Q1),
                  z * _polevl(z, _NDTRI_P2) / _polevl(z, _NDTRI_Q2))
    tail = x0 - x1
    tail = xp.where(upper, tail, -tail)
    out = xp.where(y > _EXP_M2, middle, tail)
    out = xp.where(y0 == 0, -math.inf, xp.where(y0 == 1, math.inf, out))
    return xp.where((y0 < 0) | (y0 > 1), math.nan, out)


def _ndtr(xp, x):
    # ATen's calc_ndtr is (1 + erf(x / sqrt 2)) / 2: 0 below about -8.3, as torch's
    return (1 + _erf(xp, x / math.sqrt(2))) * 0.5


def _log_ndtr(xp, x):
    """ATen's calc_log_ndtr."""
    t = x / math.sqrt(2)
    low = xp.log(_erfcx(xp, -xp.minimum(t, 0.0)) / 2) - t * t
    high = xp.log1p(-_erfc(xp, t) / 2)
    return xp.where(x < -1.0, low, high)


def _igam_series(xp, a, x, log_prefix):
    r = a.copy()
    c = xp.ones_like(a)
    total = xp.ones_like(a)
    for step in range(2000):
        r = r + 1
        c = c * x / r
        total = total + c
        if step % 10 == 9 and not bool((xp.abs(c) > _MACHEP * xp.abs(total) * 0.5).any()):
            break
    return total * xp.exp(log_prefix) / a


def _igamc_fraction(xp, a, x, log_prefix):
    big, biginv = 4.503599627370496e15, 2.22044604925031308085e-16
    y = 1 - a
    z = x + y + 1
    c = xp.zeros_like(a)
    pkm2, qkm2 = xp.ones_like(a), x.copy()
    pkm1, qkm1 = x + 1, z * x
    ans = pkm1 / qkm1
    for step in range(2000):
        c = c + 1
        y = y + 1
        z = z + 2
        yc = y * c
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        nonzero = qk != 0
        r = pk / xp.where(nonzero, qk, 1.0)
        t = xp.where(nonzero, xp.abs((ans - r) / xp.where(r == 0, 1.0, r)), 1.0)
        ans = xp.where(nonzero, r, ans)
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        scale = xp.abs(pk) > big
        pkm2, pkm1 = xp.where(scale, pkm2 * biginv, pkm2), xp.where(scale, pkm1 * biginv, pkm1)
        qkm2, qkm1 = xp.where(scale, qkm2 * biginv, qkm2), xp.where(scale, qkm1 * biginv, qkm1)
        if step % 10 == 9 and not bool((t > 4 * _MACHEP).any()):
            break
    return ans * xp.exp(log_prefix)


def _gammainc(xp, a, x, upper: bool):
    """The regularized lower (P) or upper (Q) incomplete gamma function."""
    a, x = xp.broadcast_arrays(a, x)
    valid = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
    sa, sx = xp.where(valid, a, 1.0), xp.where(valid, x, 1.0)
    log_prefix = sa * xp.log(sx) - sx - _lgamma(xp, sa)
    use_fraction = (sx > 1.0) & (sx > sa)
    lower = xp.empty_like(sa)
    upper_ = xp.empty_like(sa)
    series_part = ~use_fraction
    if bool(series_part.any()):
        value = _igam_series(xp, sa[series_part], sx[series_part], log_prefix[series_part])
        lower[series_part], upper_[series_part] = value, 1 - value
    if bool(use_fraction.any()):
        value = _igamc_fraction(xp, sa[use_fraction], sx[use_fraction],
                                log_prefix[use_fraction])
        lower[use_fraction], upper_[use_fraction] = 1 - value, value
    out = upper_ if upper else lower
    # edges as torch's: x = 0, a = 0, x = inf, negative or nan arguments
    zero_x, inf_x = (x == 0) & (a > 0), xp.isposinf(x) & (a > 0)
    out = xp.where(zero_x, 1.0 if upper else 0.0, out)
    out = xp.where(inf_x, 0.0 if upper else 1.0, out)
    out = xp.where((a == 0) & (x > 0), 0.0 if upper else 1.0, out)
    invalid = (a < 0) | (x < 0) | xp.isnan(a) | xp.isnan(x) | ((a == 0) & (x == 0))
    out = xp.where(xp.isposinf(a) & xp.isfinite(x) & (x >= 0), 1.0 if upper else 0.0, out)
    return xp.where(invalid, math.nan, out)


# ----------------------------------------------------------------------------- unary ops

def _rounded(kernel):
    """A kernel computed in float64 and rounded to its input's (float) dtype, quietly."""

    def compute(xp, a):
        with quiet(xp):
            return kernel(xp, _f64(a)).astype(a.dtype, copy=False)

    return compute


def _const(like: Tensor, value) -> Tensor:
    return Tensor._make(array_module(like._data).asarray(value, dtype=like._data.dtype))


def _apply_raw(kernel, x: Tensor) -> Tensor:
    """A kernel's values at x as a constant tensor (for backward formulas)."""
    return Tensor._make(_rounded(kernel)(array_module(x._data), x._data))


Erfc = _unary_op("Erfc", lambda xp, a: _erfc(xp, a),
                 lambda g, x, y: g * (exp(-(x * x)) * (-2 / _SQRT_PI)))
Erfc.compute = staticmethod(_rounded(_erfc))
Erfcx = _unary_op("SpecialErfcx", None,
                  lambda g, x, y: g * (2 * x * y - 2 / _SQRT_PI), "both")
Erfcx.compute = staticmethod(_rounded(_erfcx))
Erfinv = _unary_op("Erfinv", None,
                   lambda g, x, y: g * (_SQRT_PI / 2) * exp(y * y), "output")
Erfinv.compute = staticmethod(_rounded(_erfinv))
Lgamma = _unary_op("Lgamma", None, lambda g, x, y: g * digamma(x))
Lgamma.compute = staticmethod(_rounded(_lgamma))
Digamma = _unary_op("Digamma", None, lambda g, x, y: g * polygamma(1, x))
Digamma.compute = staticmethod(_rounded(_digamma))
def _scaled_up(kernel):
    """exp(|x|) kernel(x), the exponential in the input's dtype (so that float32 overflows
    where torch's float32 kernel does)."""

    def compute(xp, a):
        with quiet(xp):
            return xp.exp(xp.abs(a)) * kernel(xp, _f64(a)).astype(a.dtype, copy=False)

    return compute


I0 = _unary_op("I0", None, lambda g, x, y: g * i1(x))
I0.compute = staticmethod(_scaled_up(_i0e))
I0e = _unary_op("SpecialI0E", None, lambda g, x, y: g * (i1e(x) - sign(x) * y), "both")
I0e.compute = staticmethod(_rounded(_i0e))
I1 = _unary_op("SpecialI1", None,
               lambda g, x, y: g * where(x == 0, _const(x, 0.5), i0(x) - y / x), "both")
I1.compute = staticmethod(_scaled_up(_i1e))
I1e = _unary_op("SpecialI1E", None, lambda g, x, y: g * where(
    x == 0, _const(x, 0.5), i0e(x) - y * (sign(x) + 1 / x)), "both")
I1e.compute = staticmethod(_rounded(_i1e))
Ndtr = _unary_op("SpecialNdtr", None,
                 lambda g, x, y: g * (exp(-(x * x) / 2) / _SQRT_2PI))
Ndtr.compute = staticmethod(_rounded(_ndtr))
Ndtri = _unary_op("SpecialNdtri", None,
                  lambda g, x, y: g * (_SQRT_2PI * exp(y * y / 2)), "output")
Ndtri.compute = staticmethod(_rounded(_ndtri))
LogNdtr = _unary_op("SpecialLogNdtr", None,
                    lambda g, x, y: g / _SQRT_2PI * exp(-(y + x * x / 2)), "both")
LogNdtr.compute = staticmethod(_rounded(_log_ndtr))
Entr = _unary_op("SpecialEntr", None, lambda g, x, y: g * -(1 + log(x)))
Entr.compute = staticmethod(_rounded(
    lambda xp, x: xp.where(x > 0, -x * xp.log(xp.where(x > 0, x, 1.0)),
                           xp.where(x == 0, 0.0, xp.where(x < 0, -math.inf, x)))))


def _sinc_kernel(xp, x):
    px = math.pi * x
    return xp.where(x == 0, 1.0, xp.sin(px) / xp.where(x == 0, 1.0, px))


def _sinc_derivative(g, x, y):
    px = x * math.pi
    slope = (px * px.cos() - px.sin()) / (px * x)
    return g * where(x == 0, _const(x, 0.0), slope)


Sinc = _unary_op("Sinc", None, _sinc_derivative)
Sinc.compute = staticmethod(_rounded(_sinc_kernel))


class Polygamma(Op):
    node_name = "PolygammaBackward0"

    @staticmethod
    def forward(ctx, a, n=0):
        if a.dtype.kind not in "fc":
            a = a.astype(_default_float())
        ctx.save_for_backward(a)
        ctx.n = n
        xp = array_module(a)
        with quiet(xp):
            return _polygamma(xp, n, _f64(a)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * Polygamma.apply(x, n=ctx.n + 1)


class Logit(Op):
    node_name = "LogitBackward0"

    @staticmethod
    def forward(ctx, a, eps=None):
        if a.dtype.kind not in "fc":
            a = a.astype(_default_float())
        xp = array_module(a)
        ctx.save_for_backward(a)
        ctx.eps = eps
        z = a if eps is None else xp.clip(a, eps, 1 - eps)
        with quiet(xp):
            return xp.log(z / (1 - z)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        slope = grad / (x * (1 - x))
        if ctx.eps is None or ctx.eps < 0:
            return slope
        outside = (x < ctx.eps) | (x > 1 - ctx.eps)
        return where(outside, _const(x, 0.0), slope)


# ----------------------------------------------------------------------------- binary ops

def _pair(name: str, input, other):
    """Both operands as tensors of their promoted floating dtype (torch's (Number, Tensor),
    (Tensor, Number) and (Tensor, Tensor) forms)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, {type(other).__name__}), but expected one "
                        "of:\n * (Tensor input, Tensor other, *, Tensor out = None)\n * "
                        "(Number self, Tensor other, *, Tensor out = None)\n * (Tensor input, "
                        "Number other, *, Tensor out = None)\n")
    for value in (input, other):
        if not isinstance(value, (Tensor, numbers.Number)):
            raise TypeError(f"{name}(): argument 'other' must be Tensor, not "
                            f"{type(value).__name__}")
    dtype = _backend.result_type(input, other)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = _backend.get_default_dtype()
    like = input if isinstance(input, Tensor) else other

    def as_tensor(value):
        if isinstance(value, Tensor):
            return value if value.dtype is dtype else value.to(dtype)
        xp = array_module(like._data)
        return Tensor._make(xp.asarray(value, dtype=dtype.np))

    return as_tensor(input), as_tensor(other)


class Xlogy(Op):
    node_name = "XlogyBackward0"
    shift = 0.0

    @classmethod
    def forward(cls, ctx, x, y):
        ctx.save_for_backward(x, y)
        xp = array_module(x)
        with quiet(xp):
            value = x * (xp.log1p(y) if cls.shift else xp.log(y))
            out = xp.where((x == 0) & ~xp.isnan(y), 0.0, value)
        return out.astype(xp.result_type(x, y), copy=False)

    @classmethod
    def backward(cls, ctx, grad):
        x, y = ctx.saved_tensors
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = cls.apply(grad, y)
            grad_x = where((x == 0) & (y <= -cls.shift), _const(grad_x, 0.0), grad_x)
        if ctx.needs_input_grad[1]:
            grad_y = grad * x / (y + cls.shift)
        return grad_x, grad_y


class Xlog1py(Xlogy):
    node_name = "SpecialXlog1PyBackward0"
    shift = 1.0


class Zeta(Op):
    node_name = "SpecialZetaBackward0"

    @staticmethod
    def forward(ctx, x, q):
        ctx.save_for_backward(x, q)
        xp = array_module(x)
        with quiet(xp):
            return _zeta(xp, _f64(x), _f64(q)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, q = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return None, grad * -x * Zeta.apply(x + 1, q)


class Igamma(Op):
    node_name = "IgammaBackward0"
    upper = False

    @classmethod
    def forward(cls, ctx, a, x):
        ctx.save_for_backward(a, x)
        xp = array_module(a)
        with quiet(xp):
            return _gammainc(xp, _f64(a), _f64(x), cls.upper).astype(a.dtype, copy=False)

    @classmethod
    def backward(cls, ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            name = "igammac" if cls.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not "
                                      "implemented.")
        slope = exp((a - 1) * log(x) - x - lgamma(a))
        return None, grad * (-slope if cls.upper else slope)


class Igammac(Igamma):
    node_name = "IgammacBackward0"
    upper = True


# ----------------------------------------------------------------------------- public functions

def _unary(op, name: str, doc: str):
    def function(input: Tensor, *, out=None) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        return _maybe_out(op.apply(input), out)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


erfc = tensor_method("erfc")(_unary(Erfc, "erfc", "The complementary error function 1 - erf."))
erfcx = _unary(Erfcx, "erfcx", "The scaled complementary error function exp(x^2) erfc(x).")
erfinv = tensor_method("erfinv")(_unary(Erfinv, "erfinv", "The inverse of erf on (-1, 1)."))
lgamma = tensor_method("lgamma")(_unary(Lgamma, "lgamma", "log |Gamma(input)|."))
digamma = tensor_method("digamma")(_unary(Digamma, "digamma",
                                          "The logarithmic derivative of Gamma."))
i0 = tensor_method("i0")(_unary(I0, "i0", "The modified Bessel function I_0."))
i0e = _unary(I0e, "i0e", "exp(-|x|) I_0(x).")
i1 = _unary(I1, "i1", "The modified Bessel function I_1.")
i1e = _unary(I1e, "i1e", "exp(-|x|) I_1(x).")
ndtr = _unary(Ndtr, "ndtr", "The standard normal CDF.")
ndtri = _unary(Ndtri, "ndtri", "The inverse of the standard normal CDF.")
log_ndtr = _unary(LogNdtr, "log_ndtr", "log of the standard normal CDF, accurate far left.")
entr = _unary(Entr, "entr", "-x log x (0 at 0, -inf below).")
sinc = tensor_method("sinc")(_unary(Sinc, "sinc", "sin(pi x) / (pi x), 1 at 0."))


@tensor_method("polygamma")
def _polygamma_method(input: Tensor, n: int) -> Tensor:
    return polygamma(n, input)


def polygamma(n: int, input: Tensor, *, out=None) -> Tensor:
    """The n-th derivative of digamma."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _maybe_out(Polygamma.apply(input, n=int(n)), out)


@tensor_method("logit")
def logit(input: Tensor, eps: float | None = None, *, out=None) -> Tensor:
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when ``eps`` is given."""
    return _maybe_out(Logit.apply(input, eps=None if eps is None else float(eps)), out)


@tensor_method("xlogy")
def xlogy(input, other, *, out=None) -> Tensor:
    """input * log(other), 0 where input is 0 (unless other is nan)."""
    return _maybe_out(Xlogy.apply(*_pair("xlogy", input, other)), out)


def special_xlogy(input, other, *, out=None) -> Tensor:
    """torch.special.xlogy: xlogy under its name in torch.special."""
    return _maybe_out(Xlogy.apply(*_pair("special_xlogy", input, other)), out)


def xlog1py(input, other, *, out=None) -> Tensor:
    """input * log1p(other), 0 where input is 0 (unless other is nan)."""
    return _maybe_out(Xlog1py.apply(*_pair("special_xlog1py", input, other)), out)


def zeta(input, other, *, out=None) -> Tensor:
    """The Hurwitz zeta function sum_k (k + other)^-input."""
    return _maybe_out(Zeta.apply(*_pair("special_zeta", input, other)), out)


def gammainc(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The regularized lower incomplete gamma function P(input, other)."""
    return _maybe_out(Igamma.apply(*_pair("special_gammainc", input, other)), out)


def gammaincc(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The regularized upper incomplete gamma function Q(input, other)."""
    return _maybe_out(Igammac.apply(*_pair("special_gammaincc", input, other)), out)


@tensor_method("mvlgamma")
def mvlgamma(input: Tensor, p: int, *, out=None) -> Tensor:
    """The multivariate log-gamma function of dimension ``p``: sum_i lgamma(x - i/2) +
    p (p - 1) / 4 log(pi)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if not isinstance(input, Tensor):
        raise TypeError(f"mvlgamma(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if not (input.is_floating_point() or input.is_complex()):
        input = input.to(_backend.get_default_dtype())
    xp = array_module(input._data)
    offsets = Tensor._make(xp.arange(0, -p / 2, -0.5, dtype=input._data.dtype)[:p])
    total = lgamma(input.unsqueeze(-1) + offsets).sum(-1)
    return _maybe_out(total + p * (p - 1) / 4 * math.log(math.pi), out)


__all__ = ["digamma", "erfc", "erfinv", "i0", "lgamma", "logit", "mvlgamma", "polygamma",
           "sinc", "xlogy"]
