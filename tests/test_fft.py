"""dark.fft against torch.fft: values and dtypes (float32 / complex64 stay single precision),
gradients of real losses through complex results (torch's convention: dL/dx + i dL/dy, the
real part for a real input), float64 gradcheck / gradgradcheck, the helpers (fftfreq,
fftshift) and torch's errors; and the complex-tensor pieces they need (real, imag,
view_as_real, view_as_complex, complex, conj, angle, polar)."""
import numpy as np
import pytest
from harness import raises_like, requires_torch, torch

import dark
import dark.fft

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6))
Z = RNG.standard_normal((4, 6)) + 1j * RNG.standard_normal((4, 6))
W = RNG.standard_normal((10, 10))

REAL_ONLY = {"rfft", "ihfft", "rfftn", "rfft2", "ihfftn", "ihfft2"}
CASES = [
    ("fft", {}), ("fft", {"n": 4, "norm": "ortho"}), ("fft", {"n": 9, "dim": 0}),
    ("ifft", {"n": 8}), ("ifft", {"norm": "forward"}),
    ("rfft", {}), ("rfft", {"n": 5}), ("rfft", {"n": 8, "norm": "forward", "dim": 0}),
    ("irfft", {}), ("irfft", {"n": 7}), ("irfft", {"n": 3, "norm": "ortho"}),
    ("hfft", {}), ("hfft", {"n": 5, "norm": "ortho"}), ("ihfft", {}),
    ("ihfft", {"n": 7, "norm": "forward"}),
    ("fft2", {}), ("ifft2", {"s": (5, 3)}), ("fftn", {"s": (3, 7)}), ("fftn", {"dim": 0}),
    ("ifftn", {"norm": "forward"}), ("ifftn", {"s": (3,), "norm": "ortho"}),
    ("rfftn", {}), ("rfft2", {"norm": "ortho"}), ("rfftn", {"s": (5, 4)}),
    ("irfftn", {}), ("irfftn", {"s": (4, 6)}), ("irfft2", {"norm": "forward"}),
    ("hfftn", {}), ("hfft2", {"s": (3, 4)}), ("ihfftn", {}), ("ihfft2", {"norm": "ortho"}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CASES]


def _inputs(name):
    return [X] if name in REAL_ONLY else [X, Z]


@requires_torch
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_values_and_dtypes_match_torch(name, kwargs):
    for array in _inputs(name):
        for precision in (np.float64, np.float32):
            a = array.astype(precision if array.dtype.kind == "f" else
                             (np.complex128 if precision == np.float64 else np.complex64))
            got = getattr(dark.fft, name)(dark.tensor(a), **kwargs)
            expected = getattr(torch.fft, name)(torch.tensor(a), **kwargs).resolve_conj()
            assert got.dtype.name == str(expected.dtype).replace("torch.", "")
            assert tuple(got.shape) == tuple(expected.shape)
            tol = 1e-12 if precision == np.float64 else 2e-5
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=tol, atol=tol)


def _loss(lib, out):
    """A real loss of the result: its real parts weighted, its imaginary parts squared, its
    magnitudes (through abs, real and imag)."""
    weights = lib.tensor(W[:out.shape[0], :out.shape[1]])
    if not out.is_complex():
        return (out * weights).sum()
    parts = lib.view_as_real(out.resolve_conj())
    return ((parts[..., 0] * weights + parts[..., 1] ** 2).sum() + out.abs().sum()
            + (out.real * out.imag).sum())


@requires_torch
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_gradients_match_torch(name, kwargs):
    for array in _inputs(name):
        grads = []
        for lib in (dark, torch):
            if array.dtype.kind == "c":
                leaf = lib.tensor(np.stack([array.real, array.imag], -1), requires_grad=True)
                inp = lib.view_as_complex(leaf)
            else:
                leaf = inp = lib.tensor(array, requires_grad=True)
            _loss(lib, getattr(lib.fft, name)(inp, **kwargs)).backward()
            grads.append(leaf.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-11, atol=1e-11)


def test_complex_leaf_gradient_matches_torch_convention():
    # L = sum |fft(z)|^2 = n sum |z|^2 (Parseval): dL/dx + i dL/dy = 2 n z
    z = dark.tensor(Z[0], requires_grad=True)
    (dark.fft.fft(z).abs() ** 2).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 * 6 * Z[0], rtol=1e-12)
    assert z.grad.dtype == dark.complex128
    # a real input keeps the real part
    x = dark.tensor(X[0], requires_grad=True)
    (dark.fft.fft(x).abs() ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 6 * X[0], rtol=1e-12)
    assert x.grad.dtype == dark.float64


GRADCHECK = [
    ("fft", lambda p: dark.view_as_real(dark.fft.fft(dark.view_as_complex(p), n=5))),
    ("ifft2", lambda p: dark.view_as_real(dark.fft.ifft2(dark.view_as_complex(p),
                                                         norm="ortho"))),
    ("rfft", lambda x: dark.view_as_real(dark.fft.rfft(x[..., 0], n=7))),
    ("irfft", lambda p: dark.fft.irfft(dark.view_as_complex(p), n=5)),
    ("rfftn", lambda x: dark.view_as_real(dark.fft.rfftn(x[..., 0], norm="forward"))),
    ("irfftn", lambda p: dark.fft.irfftn(dark.view_as_complex(p))),
    ("hfft", lambda p: dark.fft.hfft(dark.view_as_complex(p))),
    ("ihfft", lambda x: dark.view_as_real(dark.fft.ihfft(x[..., 1]))),
    ("abs_angle", lambda p: dark.fft.fft(dark.view_as_complex(p)).abs()
     + dark.fft.fft(dark.view_as_complex(p)).angle()),
]


@pytest.mark.parametrize("name,fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn):
    p = dark.tensor(RNG.standard_normal((3, 4, 2)), requires_grad=True)
    assert dark.autograd.gradcheck(fn, [p], eps=1e-6, atol=1e-6, rtol=1e-4)
    if name != "abs_angle":
        assert dark.autograd.gradgradcheck(fn, [p], eps=1e-6, atol=1e-6, rtol=1e-4)


def test_inverse_pairs_and_grad_fn_names():
    x = dark.tensor(X)
    np.testing.assert_allclose(dark.fft.ifft(dark.fft.fft(x)).real.numpy(), X, atol=1e-14)
    np.testing.assert_allclose(dark.fft.irfft(dark.fft.rfft(x), n=6).numpy(), X, atol=1e-14)
    np.testing.assert_allclose(dark.fft.irfftn(dark.fft.rfftn(x), s=(4, 6)).numpy(), X,
                               atol=1e-14)
    np.testing.assert_allclose(dark.fft.fft(x).numpy(), np.fft.fft(X), atol=1e-12)
    leaf = dark.tensor(X, requires_grad=True)
    assert type(dark.fft.fft(leaf).grad_fn).__name__ == "FftC2CBackward0"
    assert type(dark.fft.rfft(leaf).grad_fn).__name__ == "FftR2CBackward0"
    assert type(dark.fft.irfft(dark.fft.rfft(leaf)).grad_fn).__name__ == "FftC2RBackward0"
    assert dark.fft.fft(dark.tensor(X, dtype=dark.float32)).dtype == dark.complex64
    assert dark.fft.fft(dark.arange(4)).dtype == dark.complex64


@pytest.mark.parametrize("lib", [dark, pytest.param(torch, marks=requires_torch)])
def test_helpers(lib):
    fft = lib.fft
    assert fft.fftfreq(5).tolist() == pytest.approx([0.0, 0.2, 0.4, -0.4, -0.2])
    assert fft.fftfreq(4, d=0.5).dtype == lib.float32
    assert fft.rfftfreq(5, d=0.5, dtype=lib.float64).tolist() == [0.0, 0.4, 0.8]
    x = lib.arange(10).reshape(2, 5)
    assert fft.fftshift(x).tolist() == [[8, 9, 5, 6, 7], [3, 4, 0, 1, 2]]
    assert fft.fftshift(x, dim=1).tolist() == [[3, 4, 0, 1, 2], [8, 9, 5, 6, 7]]
    assert fft.ifftshift(fft.fftshift(x)).tolist() == x.tolist()
    assert fft.ifftshift(lib.arange(5)).tolist() == [2, 3, 4, 0, 1]


def test_complex_parts_and_views():
    z = dark.tensor(Z)
    np.testing.assert_array_equal(z.real.numpy(), Z.real)
    np.testing.assert_array_equal(z.imag.numpy(), Z.imag)
    np.testing.assert_array_equal(dark.view_as_real(z).numpy()[..., 1], Z.imag)
    np.testing.assert_array_equal(dark.view_as_complex(dark.view_as_real(z)).numpy(), Z)
    np.testing.assert_array_equal(dark.complex(z.real, z.imag).numpy(), Z)
    np.testing.assert_array_equal(z.conj().numpy(), Z.conj())
    np.testing.assert_allclose(dark.angle(z).numpy(), np.angle(Z), rtol=1e-15)
    np.testing.assert_allclose(dark.polar(z.abs(), dark.angle(z)).numpy(), Z, rtol=1e-14)
    x = dark.tensor(X)
    assert x.real is x
    z.real.mul_(2)  # real and imag are views, as torch's
    np.testing.assert_array_equal(z.numpy().real, 2 * Z.real)
    assert dark.tensor(X, dtype=dark.float32).angle().dtype == dark.float32


@requires_torch
def test_complex_part_gradients_match_torch():
    grads = []
    for lib in (dark, torch):
        re = lib.tensor(X, requires_grad=True)
        im = lib.tensor(X[::-1].copy(), requires_grad=True)
        z = lib.complex(re, im)
        loss = ((z.real * 3 + z.imag ** 2).sum() + z.abs().sum() + z.angle().sum()
                + lib.view_as_real(z.conj().resolve_conj())[..., 1].sum()
                + lib.polar(re.abs() + 1, im).real.sum())
        loss.backward()
        grads.append((re.grad.numpy(), im.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


ERRORS = [
    ("norm", lambda t: t.fft.fft(t.ones(4), norm="x")),
    ("n_zero", lambda t: t.fft.fft(t.ones(4), n=0)),
    ("irfft_n", lambda t: t.fft.irfft(t.ones(1, dtype=t.complex64))),
    ("dim_range", lambda t: t.fft.fft(t.ones(4, 6), dim=3)),
    ("rfft_complex", lambda t: t.fft.rfft(t.ones(4, dtype=t.complex64))),
    ("fftn_dims_unique", lambda t: t.fft.fftn(t.ones(4, 6), dim=(0, 0))),
    ("fftn_s_dim_length", lambda t: t.fft.fftn(t.ones(4, 6), s=(3, 4), dim=(0,))),
    ("fft2_1d", lambda t: t.fft.fft2(t.ones(3))),
    ("view_as_complex_last", lambda t: t.view_as_complex(t.ones(3, 3))),
    ("imag_real", lambda t: t.imag(t.ones(3))),
]


@requires_torch
@pytest.mark.parametrize("fn", [e[1] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_match_torch(fn):
    raises_like(lambda: fn(dark), lambda: fn(torch))


W5 = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
COMPLEX_FNS = {
    "mul": lambda lib, z: z * lib.tensor(W5),
    "mul_scalar": lambda lib, z: z * (2 - 3j),
    "div": lambda lib, z: lib.tensor(W5) / z,
    "rdiv_scalar": lambda lib, z: (2 + 1j) / (z + 1j),
    "pow2": lambda lib, z: z ** 2,
    "pow3": lambda lib, z: z ** 3,
    "pow_tensor": lambda lib, z: z ** lib.tensor(W5),
    "exp": lambda lib, z: z.exp(),
    "log": lambda lib, z: z.log(),
    "sin": lambda lib, z: z.sin(),
    "tanh": lambda lib, z: z.tanh(),
    "sqrt": lambda lib, z: z.sqrt(),
    "reciprocal": lambda lib, z: z.reciprocal(),
    "abs": lambda lib, z: z.abs(),
    "times_conj": lambda lib, z: z * z.conj(),
    "mean_times_sum": lambda lib, z: z.mean() * z.sum(),
    "fft_filter": lambda lib, z: lib.fft.ifft(lib.fft.fft(z) * lib.tensor(W5) / (z + 2)),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(COMPLEX_FNS))
def test_complex_elementwise_gradients_match_torch(name):
    """Mul, Div, Pow and the unary ops conjugate their derivative for complex operands, as
    torch's convention requires."""
    grads = []
    z = RNG.standard_normal((5, 2))
    for lib in (dark, torch):
        leaf = lib.tensor(z, requires_grad=True)
        out = COMPLEX_FNS[name](lib, lib.view_as_complex(leaf))
        weights = lib.tensor(np.linspace(0.3, 1.7, out.numel() * 2).reshape(
            tuple(out.shape) + (2,)))
        loss = ((lib.view_as_real(out.resolve_conj()) * weights).sum() if out.is_complex()
                else out.sum())
        loss.backward()
        grads.append(leaf.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lib", [dark, pytest.param(torch, marks=requires_torch)])
def test_complex_promotion(lib):
    """A complex number or 0-d tensor keeps the precision of a float tensor's dtype."""
    assert (lib.ones(2, dtype=lib.float64) * 1j).dtype == lib.complex128
    assert (lib.ones(2, dtype=lib.float32) * 1j).dtype == lib.complex64
    assert (lib.ones(2, dtype=lib.int32) * 1j).dtype == lib.complex64
    assert lib.promote_types(lib.float64, lib.complex64) == lib.complex128
    assert (lib.ones(2, dtype=lib.complex64) * lib.tensor(1.0, dtype=lib.float64)).dtype \
        == lib.complex64
    assert (lib.ones(2, dtype=lib.complex64)
            * lib.tensor(1j, dtype=lib.complex128)).dtype == lib.complex64
    assert (lib.ones(2, dtype=lib.float32)
            * lib.tensor(1j, dtype=lib.complex128)).dtype == lib.complex64
