"""dark.special (and the torch.* / Tensor-method names of the same functions): values against
torch over wide ranges (float64 and float32, their dtypes), float64 gradcheck and
gradgradcheck, gradients against torch, torch's edge values (poles, infinities, nan) and
errors."""
import math

import numpy as np
import pytest
from harness import Case, check_case, ids, raises_like, requires_torch, torch

import dark
import dark.special

if torch is not None:
    import torch.special  # noqa: F401


def _unit(rng, shape=(3, 4)):
    return rng.uniform(-0.95, 0.95, shape)


CASES = [
    Case("erfc", lambda t, a: t.special.erfc(a), [(3, 4)], domain=(-3, 3)),
    Case("erfc_method", lambda t, a: a.erfc(), [(5,)]),
    Case("erfcx", lambda t, a: t.special.erfcx(a), [(3, 4)], domain=(-2, 8)),
    Case("erfinv", lambda t, a: t.special.erfinv(a), [(3, 4)], domain="unit"),
    Case("erfinv_torch_name", lambda t, a: t.erfinv(a), [(4,)], domain="unit"),
    Case("expit", lambda t, a: t.special.expit(a), [(3, 4)]),
    Case("logit", lambda t, a: t.special.logit(a), [(3, 4)], domain=(0.05, 0.95)),
    Case("logit_eps", lambda t, a: t.logit(a, eps=0.2), [(3, 4)], domain=(0.01, 0.99),
         make=lambda rng: [rng.uniform(0.01, 0.99, (3, 4)) * np.array([1, 1, 1, 1])]),
    Case("xlogy", lambda t, a, b: t.special.xlogy(a, b), [(3, 4), (4,)],
         make=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (4,))]),
    Case("xlogy_scalar_other", lambda t, a: t.special.xlogy(a, 3.0), [(3,)]),
    Case("xlogy_scalar_self", lambda t, b: t.special.xlogy(2.0, b), [(3,)], domain="positive"),
    Case("xlogy_method", lambda t, a, b: a.xlogy(b), [(3,), (3,)],
         make=lambda rng: [rng.standard_normal(3), rng.uniform(0.5, 2, 3)]),
    Case("xlog1py", lambda t, a, b: t.special.xlog1py(a, b), [(3, 4), (3, 4)],
         make=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(-0.5, 2, (3, 4))]),
    Case("gammaln", lambda t, a: t.special.gammaln(a), [(3, 4)], domain=(-4.5, 12)),
    Case("lgamma_method", lambda t, a: a.lgamma(), [(6,)], domain=(0.1, 30)),
    Case("digamma", lambda t, a: t.special.digamma(a), [(3, 4)], domain=(-3.5, 15)),
    Case("psi", lambda t, a: t.special.psi(a), [(5,)], domain="positive"),
    Case("digamma_method", lambda t, a: a.digamma(), [(5,)], domain="positive"),
    Case("polygamma_1", lambda t, a: t.special.polygamma(1, a), [(3, 4)], domain=(-2.7, 6)),
    Case("polygamma_3", lambda t, a: t.special.polygamma(3, a), [(3, 4)], domain=(0.3, 6)),
    Case("polygamma_method", lambda t, a: a.polygamma(2), [(4,)], domain="positive"),
    Case("multigammaln", lambda t, a: t.special.multigammaln(a, 3), [(3, 4)],
         domain=(1.5, 6)),
    Case("mvlgamma_method", lambda t, a: a.mvlgamma(p=2), [(4,)], domain=(1, 4)),
    Case("i0", lambda t, a: t.special.i0(a), [(3, 4)], domain=(-12, 12)),
    Case("i0_method", lambda t, a: a.i0(), [(4,)]),
    Case("i0e", lambda t, a: t.special.i0e(a), [(3, 4)], domain=(-20, 20)),
    Case("i1", lambda t, a: t.special.i1(a), [(3, 4)], domain=(-12, 12)),
    Case("i1e", lambda t, a: t.special.i1e(a), [(3, 4)], domain=(-20, 20)),
    Case("ndtr", lambda t, a: t.special.ndtr(a), [(3, 4)], domain=(-6, 6)),
    Case("ndtri", lambda t, a: t.special.ndtri(a), [(3, 4)], domain=(0.001, 0.999)),
    Case("log_ndtr", lambda t, a: t.special.log_ndtr(a), [(3, 4)], domain=(-30, 6)),
    Case("log1p", lambda t, a: t.special.log1p(a), [(3,)], domain="positive"),
    Case("expm1", lambda t, a: t.special.expm1(a), [(3,)]),
    Case("exp2", lambda t, a: t.special.exp2(a), [(3,)]),
    Case("erf", lambda t, a: t.special.erf(a), [(3,)]),
    Case("sinc", lambda t, a: t.special.sinc(a), [(3, 4)], domain=(-3, 3)),
    Case("sinc_at_zero", lambda t, a: t.sinc(a), make=lambda rng: [np.array([0.0, 0.5, -1.5])],
         gradgrad=False),
    Case("entr", lambda t, a: t.special.entr(a), [(3, 4)], domain="positive"),
    Case("round", lambda t, a: t.special.round(a), [(3,)], grad=False),
    Case("softmax", lambda t, a: t.special.softmax(a, 1), [(3, 4)]),
    Case("softmax_dtype", lambda t, a: t.special.softmax(a, 0, dtype=t.float32), [(3, 4)],
         grad=False),
    Case("log_softmax", lambda t, a: t.special.log_softmax(a, -1), [(3, 4)]),
    Case("logsumexp", lambda t, a: t.special.logsumexp(a, 1, keepdim=True), [(3, 4)]),
    Case("zeta_q_grad", lambda t, a, b: t.special.zeta(a, b), grad_inputs=(1,),
         make=lambda rng: [rng.uniform(1.5, 6, (3, 4)), rng.uniform(0.2, 4, (4,))]),
    Case("zeta_scalar", lambda t, b: t.special.zeta(2.0, b), [(4,)], domain="positive"),
    Case("gammainc", lambda t, a, b: t.special.gammainc(a, b), grad_inputs=(1,),
         make=lambda rng: [rng.uniform(0.2, 12, (3, 4)), rng.uniform(0.1, 20, (3, 4))]),
    Case("gammaincc", lambda t, a, b: t.special.gammaincc(a, b), grad_inputs=(1,),
         make=lambda rng: [rng.uniform(0.2, 12, (3, 4)), rng.uniform(0.1, 20, (3, 4))]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


GRIDS = {
    "erf": np.linspace(-7, 7, 801),
    "erfc": np.linspace(-10, 27, 1201),
    "erfcx": np.linspace(-26, 300, 1201),
    # (within 1e-6 of +-1 the Newton steps on erf amplify erf's last-ulp differences
    # between the libraries to ~1e-12 relative: both lose digits there)
    "erfinv": np.concatenate([np.linspace(-1, 1, 801), [2.0, -3.0]]),
    "gammaln": np.concatenate([np.linspace(-20.5, 50, 1403), [0.0, -3.0, 1e-300, 1e15]]),
    "digamma": np.concatenate([np.linspace(-20.3, 60, 1201), [0.0, -0.0, -2.0, 10.0]]),
    "i0": np.linspace(-700, 700, 1001),
    "i0e": np.linspace(-900, 900, 1001),
    "i1": np.linspace(-700, 700, 1001),
    "i1e": np.linspace(-900, 900, 1001),
    "ndtr": np.linspace(-40, 10, 801),
    "ndtri": np.concatenate([np.linspace(0, 1, 801), [1e-300, 1e-20, -0.5, 1.5]]),
    "log_ndtr": np.linspace(-1000, 12, 1001),
    "entr": np.concatenate([np.linspace(0, 50, 401), [-1.0]]),
    "sinc": np.linspace(-20, 20, 401),
    "expit": np.linspace(-700, 700, 401),
    "logit": np.linspace(0, 1, 401),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(GRIDS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_values_over_ranges_match_torch(name, dtype):
    grid = GRIDS[name].astype(dtype)
    got = getattr(dark.special, name)(dark.tensor(grid))
    expected = getattr(torch.special, name)(torch.tensor(grid))
    assert got.dtype.name == dtype
    # float64 to ~1e-13 relative (the algorithms are ATen's, the roundings not always);
    # float32 rounded from float64 within a few float32 ulps of torch's float arithmetic
    # float32: torch's kernels run in float arithmetic (sin(pi x), 1 + erf, the
    # recurrences of digamma near its roots), dark's in float64 rounded once: they differ
    # by float32 rounding, relative to the values' scale (about 1e-7 near 1)
    rtol, atol = (2e-13, 1e-300) if dtype == "float64" else (1e-5, 1e-6)
    if name == "gammaln" and dtype == "float64":
        atol = 1e-14  # near its roots (1, 2) lgamma is a difference of O(1) terms
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)


@requires_torch
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_polygamma_values(n):
    grid = np.concatenate([np.linspace(-5.3, 30, 301), [0.5, 1.0, 2.0]])
    got = dark.special.polygamma(n, dark.tensor(grid)).numpy()
    expected = torch.special.polygamma(n, torch.tensor(grid)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


@requires_torch
def test_zeta_and_incomplete_gamma_values():
    rng = np.random.default_rng(0)
    x, q = rng.uniform(1.01, 12, 200), rng.uniform(0.01, 20, 200)
    np.testing.assert_allclose(dark.special.zeta(dark.tensor(x), dark.tensor(q)).numpy(),
                               torch.special.zeta(torch.tensor(x), torch.tensor(q)).numpy(),
                               rtol=1e-13)
    a, z = rng.uniform(0.05, 60, 300), rng.uniform(0.0, 80, 300)
    for name in ("gammainc", "gammaincc"):
        got = getattr(dark.special, name)(dark.tensor(a), dark.tensor(z)).numpy()
        expected = getattr(torch.special, name)(torch.tensor(a), torch.tensor(z)).numpy()
        # torch's uniform asymptotic expansion (a > 20, x near a) is off by up to ~2e-9
        # relative there (mpmath: gammainc(42.683, 0, 31.3035) = 0.03046641924535056,
        # dark 0.03046641924535054, torch 0.030466419197611887)
        np.testing.assert_allclose(got, expected, rtol=5e-9, atol=1e-300)
    edges = (np.array([0.0, 1, 2, -1, np.inf, 3, 0, np.nan]),
             np.array([1.0, 0, np.inf, 1, 3, np.inf, 0, 1]))
    for name in ("gammainc", "gammaincc"):
        got = getattr(dark.special, name)(*map(dark.tensor, edges)).numpy()
        expected = getattr(torch.special, name)(*map(torch.tensor, edges)).numpy()
        np.testing.assert_array_equal(got, expected)


def test_edge_values_without_torch():
    special = dark.special
    assert special.gammaln(dark.tensor([0.0, -2.0])).tolist() == [math.inf, math.inf]
    assert math.isnan(special.digamma(dark.tensor([-2.0])).item())
    assert special.digamma(dark.tensor([0.0, -0.0])).tolist() == [-math.inf, math.inf]
    assert special.erfinv(dark.tensor([1.0, -1.0])).tolist() == [math.inf, -math.inf]
    assert special.ndtri(dark.tensor([0.0, 1.0])).tolist() == [-math.inf, math.inf]
    assert special.xlogy(dark.tensor([0.0]), dark.tensor([0.0])).tolist() == [0.0]
    assert math.isnan(special.xlogy(dark.tensor([0.0]), dark.tensor([math.nan])).item())
    assert special.sinc(dark.tensor([0.0])).tolist() == [1.0]
    assert special.zeta(dark.tensor([1.0]), dark.tensor([2.0])).tolist() == [math.inf]
    assert special.entr(dark.tensor([0.0, -1.0])).tolist() == [0.0, -math.inf]
    for value, expected in ((0.5, 0.5 * math.log(math.pi)), (3.0, math.log(2.0)),
                            (10.0, math.lgamma(10.0)), (0.1, math.lgamma(0.1)),
                            (-2.5, math.lgamma(-2.5)), (1e10, math.lgamma(1e10))):
        got = special.gammaln(dark.tensor([value], dtype=dark.float64)).item()
        assert got == pytest.approx(expected, rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(special.erfc(dark.tensor([0.5, 3.0, 10.0],
                                                        dtype=dark.float64)).numpy(),
                               [math.erfc(0.5), math.erfc(3.0), math.erfc(10.0)], rtol=1e-14)


def test_dtypes():
    ints = dark.tensor([1, 2, 3])
    assert dark.special.gammaln(ints).dtype == dark.float32
    assert dark.special.xlogy(ints, ints).dtype == dark.float32
    assert dark.special.xlogy(ints, dark.tensor([1.0], dtype=dark.float64)).dtype == dark.float64
    assert dark.special.i0(dark.tensor([1.0], dtype=dark.float64)).dtype == dark.float64
    assert dark.lgamma(dark.tensor([2.0])).dtype == dark.float32


def test_no_derivative_errors():
    x = dark.tensor([1.5, 2.0], dtype=dark.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="the derivative for 'zeta' is not "):
        dark.special.zeta(x, 2.0).sum().backward()
    with pytest.raises(NotImplementedError, match=r"the derivative for 'igamma: input' is not"):
        dark.special.gammainc(x, dark.tensor([1.0, 2.0], dtype=dark.float64)).sum().backward()


ERRORS = [
    ("polygamma_negative", lambda t: t.special.polygamma(-1, t.ones(2))),
    ("mvlgamma_p", lambda t: t.mvlgamma(t.ones(2), 0)),
    ("xlogy_numbers", lambda t: t.special.xlogy(2, 3)),
]


@requires_torch
@pytest.mark.parametrize("fn", [e[1] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_match_torch(fn):
    raises_like(lambda: fn(dark), lambda: fn(torch))


BESSEL = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
          "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
          "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0",
          "airy_ai"]


@requires_torch
@pytest.mark.parametrize("name", BESSEL)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bessel_functions_match_torch(name, dtype):
    grid = np.concatenate([np.linspace(-30, 30, 1201), [0.0, -0.0, 1e-6, 2.0, 5.0, 8.0,
                                                        np.inf]]).astype(dtype)
    got = getattr(dark.special, name)(dark.tensor(grid))
    expected = getattr(torch.special, name)(torch.tensor(grid))
    assert got.dtype.name == dtype and not got.requires_grad
    # float32: torch's kernels in float arithmetic differ from the float64 ones rounded
    # once by float32 roundings, relative to the values' scale (near the zeros of J and Y)
    rtol, atol = (1e-13, 1e-300) if dtype == "float64" else (1e-5, 1e-6)
    if name == "airy_ai" and dtype == "float32":
        atol = 1e-5  # torch's float32 phase (2/3)|x|^1.5 ~ 110 at x = -30 is off by ~1e-5
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)


POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
               "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]


@requires_torch
@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_match_torch(name):
    xs = np.concatenate([np.linspace(-1.5, 1.5, 61), [1.0, -1.0, 0.0]])
    x, n = np.meshgrid(xs, np.arange(-1, 14))
    got = getattr(dark.special, name)(dark.tensor(x), dark.tensor(n))
    expected = getattr(torch.special, name)(torch.tensor(x), torch.tensor(n))
    scale = np.maximum(np.abs(expected.numpy()), 1)
    np.testing.assert_array_less(np.abs(got.numpy() - expected.numpy()) / scale, 1e-13)
    # a number for either argument, the degree truncated, the dtype of the pair
    for args in ((0.3, [2, 3]), ([0.3, 0.7], 3), ([0.3, 0.7], 2.9)):
        d = getattr(dark.special, name)(*[dark.tensor(a) if isinstance(a, list) else a
                                         for a in args])
        t = getattr(torch.special, name)(*[torch.tensor(a) if isinstance(a, list) else a
                                          for a in args])
        assert d.dtype.name == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)  # float32


def test_polynomial_closed_forms_without_torch():
    x = dark.tensor([0.3, -0.6], dtype=dark.float64)
    np.testing.assert_allclose(dark.special.chebyshev_polynomial_t(x, 3).numpy(),
                               4 * x.numpy() ** 3 - 3 * x.numpy())
    np.testing.assert_allclose(dark.special.hermite_polynomial_h(x, 2).numpy(),
                               4 * x.numpy() ** 2 - 2)
    np.testing.assert_allclose(dark.special.legendre_polynomial_p(x, 2).numpy(),
                               (3 * x.numpy() ** 2 - 1) / 2)
    np.testing.assert_allclose(dark.special.bessel_j0(dark.tensor([0.0, 2.404825557695773],
                                                                  dtype=dark.float64)).numpy(),
                               [1.0, 0.0], atol=1e-15)
