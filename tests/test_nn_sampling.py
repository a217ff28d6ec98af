"""F.pad and F.interpolate (op table: forward, gradcheck, gradgradcheck, torch parity),
padding and upsampling modules (parity, repr) and errors vs torch."""
import numpy as np
import pytest
from harness import Case, check_case, ids, requires_torch, torch
from test_nn_conv import check_module

import dark
import dark.nn as nn
import dark.nn.functional as F


def call(name, shape, *args, **options):
    label = "_".join([name] + [str(a).replace(" ", "") for a in args]
                     + [f"{k}{v}" for k, v in options.items()] + ["x".join(map(str, shape))])
    return Case(label, lambda t, x: getattr(t.nn.functional, name)(x, *args, **options), [shape])


X4 = (2, 3, 4, 5)
CASES = [
    call("pad", X4, (1, 2)),
    call("pad", X4, (1, 2, 0, 3), value=1.5),
    call("pad", X4, (-1, 2, 3, -2)),
    call("pad", X4, (1, 1, 1, 1, 1, 1, 1, 1)),
    call("pad", (5,), (2, 0)),
    call("pad", X4, (1, 2, 3, 1), mode="reflect"),
    call("pad", (2, 3, 6), (2, 5), mode="reflect"),
    call("pad", X4, (-1, 2, 1, 1), mode="reflect"),
    call("pad", (1, 2, 3, 4, 5), (1, 2, 1, 1, 2, 0), mode="reflect"),
    call("pad", X4, (1, 2, 3, 1), mode="replicate"),
    call("pad", (3, 6), (4, 0), mode="replicate"),
    call("pad", X4, (1, 2, 3, -1), mode="circular"),
    call("pad", (2, 3, 6), (-1, 2), mode="circular"),
    call("pad", (2, 3, 6), (6, 6), mode="circular"),
    call("interpolate", X4, scale_factor=2),
    call("interpolate", X4, size=(7, 9)),
    call("interpolate", X4, scale_factor=1.7),
    call("interpolate", X4, scale_factor=(0.5, 1.5)),
    call("interpolate", X4, size=(3, 8), mode="nearest-exact"),
    call("interpolate", (2, 3, 7), size=4),
    call("interpolate", X4, size=(7, 9), mode="bilinear"),
    call("interpolate", X4, size=(7, 9), mode="bilinear", align_corners=True),
    call("interpolate", X4, size=(2, 3), mode="bilinear"),
    call("interpolate", X4, size=1, mode="bilinear", align_corners=True),
    call("interpolate", X4, scale_factor=1.7, mode="bilinear"),
    call("interpolate", X4, scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
    call("interpolate", (2, 3, 7), scale_factor=0.6, mode="linear"),
    call("interpolate", (2, 3, 7), size=11, mode="linear", align_corners=True),
    call("interpolate", (1, 2, 3, 4, 3), size=(4, 5, 2), mode="trilinear"),
    call("interpolate", (2, 3, 5, 7), size=(2, 3), mode="area"),
    call("interpolate", (2, 3, 7), size=3, mode="area"),
    call("interpolate", X4, size=(7, 9), mode="bicubic"),
    call("interpolate", X4, size=(7, 9), mode="bicubic", align_corners=True),
    call("interpolate", X4, size=(2, 3), mode="bicubic"),
    call("interpolate", X4, size=1, mode="bicubic", align_corners=True),
    call("interpolate", X4, scale_factor=1.7, mode="bicubic"),
    call("interpolate", X4, scale_factor=(0.6, 1.5), mode="bicubic", recompute_scale_factor=True),
    call("interpolate", X4, size=(2, 3), mode="bilinear", antialias=True),
    call("interpolate", X4, size=(3, 9), mode="bilinear", antialias=True, align_corners=True),
    call("interpolate", X4, scale_factor=0.45, mode="bilinear", antialias=True),
    call("interpolate", X4, size=(2, 3), mode="bicubic", antialias=True),
    call("interpolate", X4, size=(6, 2), mode="bicubic", antialias=True, align_corners=True),
    call("interpolate", X4, size=(4, 3), mode="bicubic", antialias=True),
    call("interpolate", X4, scale_factor=(0.6, 1.3), mode="bicubic", antialias=True),
    call("interpolate", X4, size=(2, 3), mode="lanczos", antialias=True),
    call("interpolate", X4, size=(6, 8), mode="lanczos", antialias=True),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


def test_grad_fn_names():
    x = dark.randn(2, 3, 4, 5, requires_grad=True)
    assert F.pad(x, (1, 1)).grad_fn.name() == "ConstantPadNdBackward0"
    assert F.pad(x, (1, 1, 1, 1), mode="reflect").grad_fn.name() == "ReflectionPad2DBackward0"
    assert F.pad(x[0], (1, 1), mode="replicate").grad_fn.name() == "ReplicationPad1DBackward0"
    assert F.interpolate(x, scale_factor=2).grad_fn.name() == "UpsampleNearest2DBackward0"
    assert (F.interpolate(x, size=3, mode="bilinear").grad_fn.name()
            == "UpsampleBilinear2DBackward0")
    assert (F.interpolate(x, size=3, mode="bicubic").grad_fn.name()
            == "UpsampleBicubic2DBackward0")
    assert (F.interpolate(x, size=3, mode="bilinear", antialias=True).grad_fn.name()
            == "UpsampleBilinear2DAaBackward0")
    assert (F.interpolate(x, size=3, mode="bicubic", antialias=True).grad_fn.name()
            == "UpsampleBicubic2DAaBackward0")
    assert (F.interpolate(x, size=3, mode="lanczos", antialias=True).grad_fn.name()
            == "UpsampleLanczos2DAaBackward0")


def _raises_like(dark_call, torch_call):
    with pytest.raises(Exception) as expected:
        torch_call()
    with pytest.raises(type(expected.value)) as got:
        dark_call()
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("fn", [
    lambda f, x: f.pad(x, (1, 2, 3)),
    lambda f, x: f.pad(x, (1,) * 10),
    lambda f, x: f.pad(x, (1, 2), mode="reflect"),
    lambda f, x: f.pad(x, (5, 2, 1, 1), mode="reflect"),
    lambda f, x: f.pad(x, (1, 1, 1, 1, 1, 1, 1, 1), mode="reflect"),
    lambda f, x: f.pad(x, (6, 2, 1, 1), mode="circular"),
    lambda f, x: f.pad(x, (1, 2, 1, 1), mode="foo"),
    lambda f, x: f.pad(x, (1, 2, 1, 1), mode="reflect", value=2.0),
    lambda f, x: f.pad(x[0, 0, 0], (1, 2), mode="reflect"),
    lambda f, x: f.pad(x, (1.5, 1)),
    lambda f, x: f.interpolate(x, size=7, mode="nearest", align_corners=True),
    lambda f, x: f.interpolate(x),
    lambda f, x: f.interpolate(x, size=3, scale_factor=2),
    lambda f, x: f.interpolate(x, size=(3, 4, 5)),
    lambda f, x: f.interpolate(x, scale_factor=(3, 4, 5)),
    lambda f, x: f.interpolate(x, size=3, mode="linear"),
    lambda f, x: f.interpolate(x[0], size=3, mode="bilinear"),
    lambda f, x: f.interpolate(x, size=3, mode="foo"),
    lambda f, x: f.interpolate(x[0, 0], size=3),
    lambda f, x: f.interpolate(x, size=3, mode="bilinear", recompute_scale_factor=True),
    lambda f, x: f.interpolate(x, size=(0, 3)),
    lambda f, x: f.interpolate(x, size=(0, 3), mode="bicubic"),
    lambda f, x: f.interpolate(x, scale_factor=0.1, mode="bicubic"),
    lambda f, x: f.interpolate(x, size=(2, 0), mode="bilinear", antialias=True),
    lambda f, x: f.interpolate(x, size=(0, 3), mode="bicubic", antialias=True),
    lambda f, x: f.interpolate(x, size=3, mode="bicubic", recompute_scale_factor=True),
    lambda f, x: f.interpolate(x, size=(3, 2.0), mode="bicubic"),
    lambda f, x: f.interpolate(x, size=(3, 4, 5), mode="bicubic"),
    lambda f, x: f.interpolate(x, size=3, mode="bicubic", antialias=True,
                               scale_factor=2),
    lambda f, x: f.interpolate(x[0], size=3, mode="bicubic"),
    lambda f, x: f.interpolate(x[:, :, None], size=3, mode="bicubic"),
    lambda f, x: f.interpolate(x[0], size=3, mode="bicubic", antialias=True),
    lambda f, x: f.interpolate(x[0], size=3, mode="bilinear", antialias=True),
    lambda f, x: f.interpolate(x[:, :, None], size=3, mode="bilinear", antialias=True),
    lambda f, x: f.interpolate(x, size=3, antialias=True),
    lambda f, x: f.interpolate(x, size=3, mode="nearest-exact", antialias=True),
    lambda f, x: f.interpolate(x, size=3, mode="area", antialias=True),
    lambda f, x: f.interpolate(x[0], size=3, mode="linear", antialias=True),
    lambda f, x: f.interpolate(x[:, :, None], size=3, mode="trilinear", antialias=True),
    lambda f, x: f.interpolate(x, size=3, mode="foo", antialias=True),
    lambda f, x: f.interpolate(x, mode="bicubic", antialias=True),
    lambda f, x: f.interpolate(x, size=3, mode="nearest", align_corners=False, antialias=True),
    lambda f, x: f.interpolate(x, size=3, mode="lanczos"),
    lambda f, x: f.interpolate(x, size=3, mode="lanczos", antialias=True, align_corners=True),
    lambda f, x: f.interpolate(x, size=3, mode="lanczos", align_corners=True),
    lambda f, x: f.interpolate(x[0], size=3, mode="lanczos", antialias=True),
    lambda f, x: f.interpolate(x[0], size=3, mode="lanczos"),
])
@requires_torch
def test_errors(fn):
    x = np.ones((2, 3, 4, 5), dtype=np.float32)
    _raises_like(lambda: fn(F, dark.tensor(x)), lambda: fn(torch.nn.functional, torch.tensor(x)))


@pytest.mark.parametrize("build, shape", [
    (lambda m: m.ZeroPad2d(1), (2, 3, 4, 5)),
    (lambda m: m.ZeroPad2d((1, 0, 2, -1)), (3, 4, 5)),
    (lambda m: m.ZeroPad1d((2, 1)), (2, 3, 4)),
    (lambda m: m.ConstantPad1d(2, 3.5), (2, 3, 4)),
    (lambda m: m.ConstantPad2d((1, 2, 3, 4), -1.0), (2, 3, 4, 5)),
    (lambda m: m.ConstantPad3d(1, 2.0), (1, 2, 3, 4, 5)),
    (lambda m: m.ReflectionPad1d(2), (2, 3, 5)),
    (lambda m: m.ReflectionPad2d((1, 2, 3, 0)), (2, 3, 4, 5)),
    (lambda m: m.ReflectionPad3d(1), (1, 2, 3, 4, 5)),
    (lambda m: m.ReplicationPad1d((3, 1)), (3, 5)),
    (lambda m: m.ReplicationPad2d(2), (2, 3, 4, 5)),
    (lambda m: m.ReplicationPad3d((1, 0, 2, 1, 0, 1)), (1, 2, 3, 4, 5)),
    (lambda m: m.CircularPad1d(2), (2, 3, 5)),
    (lambda m: m.CircularPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    (lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=(5, 7), mode="bilinear", align_corners=False), (2, 3, 4, 5)),
    (lambda m: m.Upsample(scale_factor=(1.5, 2.0), mode="bilinear", align_corners=True),
     (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=9, mode="linear"), (2, 3, 5)),
    (lambda m: m.Upsample(scale_factor=0.5, mode="nearest", recompute_scale_factor=True),
     (2, 3, 5, 7)),
    (lambda m: m.UpsamplingNearest2d(scale_factor=3), (2, 3, 3, 4)),
    (lambda m: m.UpsamplingBilinear2d(size=(6, 7)), (2, 3, 3, 4)),
    (lambda m: m.Upsample(scale_factor=2, mode="bicubic"), (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=(3, 7), mode="bicubic", align_corners=True), (2, 3, 4, 5)),
    (lambda m: m.Upsample(scale_factor=(0.5, 1.5), mode="bicubic", recompute_scale_factor=True),
     (2, 3, 6, 5)),
])
@requires_torch
def test_module_parity(build, shape):
    check_module(build(nn), build(torch.nn), shape)


# ----------------------------------------------------------------------------- bicubic and
# antialiased resampling: weights equal to torch's bit for bit, values within a few ulps

RESAMPLING = [(mode, antialias, align_corners)
              for mode, antialias in (("bicubic", False), ("bicubic", True), ("bilinear", True))
              for align_corners in (False, True)] + [("lanczos", True, False)]
AXIS_RESIZES = ([{"size": size} for size in (1, 2, 3, 5, 8, 13, 24, 40)]
                + [{"scale_factor": scale} for scale in (0.3, 0.5, 0.77, 1.3, 2.0, 2.7)]
                + [{"scale_factor": 0.77, "recompute_scale_factor": True}])


def _axis_options(axis: int, resize: dict) -> dict:
    """Resize only one of the two spatial axes (the other stays 2 long)."""
    key = "size" if "size" in resize else "scale_factor"
    pair = [2, 2] if key == "size" else [1.0, 1.0]
    pair[axis] = resize[key]
    return {**resize, key: tuple(pair)}


@pytest.mark.parametrize("mode, antialias, align_corners", RESAMPLING)
@pytest.mark.parametrize("axis", [0, 1])
@requires_torch
def test_resampling_weights_equal_torch(mode, antialias, align_corners, axis, device):
    """Resampling the unit vectors gives each output's weights exactly (one nonzero product
    per tap, and taps clamped to the same border entry summed in torch's order): the float32
    weights must equal torch's bit for bit, for downsampling and upsampling, sizes and
    scale factors, along H (a matmul from the left) and along W (from the right). The other
    axis is 2 long: torch 2.13's antialiased CPU kernel is wrong on (N, C, H, 1) -> (N, C,
    H', 1) (every output row gets the first row's weights; see test_antialias_width_one).
    Lanczos weights are within 2 float32 ulps of 1 of torch's: its float32 sine comes from
    the C library (or its vectorised variant), which numpy's sine, even rounded from
    float64, does not reproduce bit for bit (its float64 weights are equal)."""
    for in_size in (1, 2, 3, 7, 16, 33):
        eye = np.eye(in_size, dtype=np.float32)
        eye = np.stack([eye, eye], axis=-1 if axis == 0 else 1)
        shape = (in_size, 1, in_size, 2) if axis == 0 else (in_size, 1, 2, in_size)
        for resize in AXIS_RESIZES:
            if in_size * resize.get("scale_factor", 1) < 1:
                continue
            options = dict(_axis_options(axis, resize), mode=mode, antialias=antialias,
                           align_corners=align_corners)
            expected = torch.nn.functional.interpolate(torch.tensor(eye.reshape(shape)),
                                                       **options)
            got = F.interpolate(dark.tensor(eye.reshape(shape), device=device), **options)
            np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=0,
                                       atol=2.5e-7 if mode == "lanczos" else 0,
                                       err_msg=f"{in_size} {options}")


VALUE_CASES = [((2, 3, 8, 9), {"size": (5, 13)}), ((2, 3, 8, 9), {"size": (16, 4)}),
               ((1, 2, 31, 17), {"scale_factor": 0.37}),
               ((1, 2, 31, 17), {"scale_factor": (1.7, 0.5)}),
               ((1, 2, 31, 17), {"scale_factor": (1.7, 0.5), "recompute_scale_factor": True}),
               ((2, 1, 1, 1), {"size": (3, 2)}), ((2, 2, 5, 6), {"size": 1}),
               ((1, 2, 40, 40), {"size": (40, 17)}), ((1, 1, 9, 64), {"size": (90, 3)})]


def _ulps(got, expected, dtype) -> float:
    """Largest difference, in units in the last place of the largest magnitude (at least 1)."""
    scale = max(1.0, float(np.abs(expected).max()))
    return float(np.abs(got - expected).max()) / (scale * float(np.finfo(dtype).eps))


@pytest.mark.parametrize("mode, antialias, align_corners", RESAMPLING)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@requires_torch
def test_resampling_values_and_gradients(mode, antialias, align_corners, dtype, device):
    """Outputs and input gradients against torch. The weights are torch's (see above); the
    products are summed by BLAS in another order than torch's kernels, so float32 outputs
    differ by at most 2 ulps of the output's magnitude (4 for Lanczos, whose weights differ
    by up to 2 ulps), float32 gradients (torch scatters them one product at a time) by at
    most 8. In float64 torch's kernels fuse multiply-adds
    that numpy cannot reproduce, so its weights differ from these by about an ulp: 64 ulps
    (1.4e-14) of the magnitude."""
    rng = np.random.default_rng(0)
    bound = (2 if mode != "lanczos" else 4, 8) if dtype == np.float32 else (64, 64)
    for shape, resize in VALUE_CASES:
        options = dict(resize, mode=mode, antialias=antialias, align_corners=align_corners)
        array = rng.standard_normal(shape).astype(dtype)
        t_x = torch.tensor(array, requires_grad=True)
        x = dark.tensor(array, device=device, requires_grad=True)
        t_out = torch.nn.functional.interpolate(t_x, **options)
        out = F.interpolate(x, **options)
        assert out.dtype.name == str(t_out.dtype).replace("torch.", "")
        assert tuple(out.shape) == tuple(t_out.shape)
        seed = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
        t_out.backward(torch.tensor(seed))
        out.backward(dark.tensor(seed, device=device))
        assert _ulps(out.detach().cpu().numpy(), t_out.detach().numpy(), dtype) <= bound[0], \
            f"{shape} {options} output"
        assert _ulps(x.grad.cpu().numpy(), t_x.grad.numpy(), dtype) <= bound[1], \
            f"{shape} {options} gradient"


ADJOINT_MODES = [("bicubic", False), ("bicubic", True), ("bilinear", True), ("lanczos", True)]
ADJOINT_SHAPES = [((1, 2, 1100, 3), (700, 5)), ((1, 2, 3, 1030), (4, 2100)),
                  ((1, 2, 12, 10), (30, 4))]


def _adjoint_run(mode, antialias, shape, size, device):
    rng = np.random.default_rng(3)
    array = rng.standard_normal(shape)
    x = dark.tensor(array, device=device, requires_grad=True)
    out = F.interpolate(x, size=size, mode=mode, antialias=antialias)
    seed = rng.standard_normal(tuple(out.shape))
    out.backward(dark.tensor(seed, device=device))
    return array, seed, x, out


@pytest.mark.parametrize("mode, antialias", ADJOINT_MODES)
@pytest.mark.parametrize("shape, size", ADJOINT_SHAPES)
def test_resampling_backward_is_adjoint(mode, antialias, shape, size, device):
    """<A x, g> == <x, A^T g> in float64, through the matmul path (short axes) and the
    gather / scatter path (axes longer than 1024)."""
    array, seed, x, out = _adjoint_run(mode, antialias, shape, size, device)
    forward = float((out.detach().cpu().numpy() * seed).sum())
    adjoint = float((array * x.grad.cpu().numpy()).sum())
    assert abs(forward - adjoint) <= 1e-12 * np.abs(seed).sum() * np.abs(array).max()


@pytest.mark.parametrize("mode, antialias", ADJOINT_MODES)
@pytest.mark.parametrize("shape, size", ADJOINT_SHAPES)
@requires_torch
def test_resampling_long_axes_match_torch(mode, antialias, shape, size, device):
    array, seed, x, out = _adjoint_run(mode, antialias, shape, size, device)
    t_x = torch.tensor(array, requires_grad=True)
    t_out = torch.nn.functional.interpolate(t_x, size=size, mode=mode, antialias=antialias)
    t_out.backward(torch.tensor(seed))
    np.testing.assert_allclose(out.detach().cpu().numpy(), t_out.detach().numpy(),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(x.grad.cpu().numpy(), t_x.grad.numpy(), rtol=0, atol=1e-12)


def test_antialias_unchanged_axes_are_copied():
    """torch's antialiased kernels skip an axis whose size does not change (even under a
    scale factor that rounds back to the same size): the output equals the input, and is a
    new array."""
    array = np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(np.float32)
    x = dark.tensor(array)
    for mode in ("bilinear", "bicubic", "lanczos"):
        out = F.interpolate(x, scale_factor=1.1, mode=mode, antialias=True)
        np.testing.assert_array_equal(out.numpy(), array)
        out.numpy()[...] = 0
        np.testing.assert_array_equal(x.numpy(), array)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
@requires_torch
def test_antialias_unchanged_axes_are_copied_by_torch(mode):
    array = np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.tensor(array), scale_factor=1.1,
                                               mode=mode, antialias=True)
    np.testing.assert_array_equal(expected.numpy(), array)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_antialias_width_one_is_resized_as_width_two(mode):
    array = np.random.default_rng(0).standard_normal((2, 3, 7, 1)).astype(np.float32)
    wide = np.repeat(array, 2, axis=-1)
    out = F.interpolate(dark.tensor(array), size=(4, 1), mode=mode, antialias=True)
    expected = F.interpolate(dark.tensor(wide), size=(4, 2), mode=mode, antialias=True)
    assert _ulps(out.numpy(), expected.numpy()[..., :1], np.float32) <= 2


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
@requires_torch
def test_antialias_width_one(mode):
    """torch 2.13's antialiased CPU kernel gives every output row of a (N, C, H, 1) input
    resized to (H', 1) the value of the first row (a bug: the same rows resized with W = 2
    come out right); dark resizes such inputs like any other, as torch does at W = 2."""
    array = np.random.default_rng(0).standard_normal((2, 3, 7, 1)).astype(np.float32)
    wide = np.repeat(array, 2, axis=-1)
    out = F.interpolate(dark.tensor(array), size=(4, 1), mode=mode, antialias=True)
    expected = torch.nn.functional.interpolate(torch.tensor(wide), size=(4, 2), mode=mode,
                                               antialias=True)[..., :1]
    assert _ulps(out.numpy(), expected.numpy(), np.float32) <= 2
    broken = torch.nn.functional.interpolate(torch.tensor(array), size=(4, 1), mode=mode,
                                             antialias=True)
    assert (broken.numpy() == broken.numpy()[:, :, :1]).all()


@pytest.mark.parametrize("options", [{"mode": "bicubic"}, {"mode": "bilinear"},
                                     {"mode": "bilinear", "antialias": True},
                                     {"mode": "lanczos", "antialias": True}])
def test_interpolating_modes_reject_integer_input(options):
    """torch has no int64 kernels for these modes (NotImplementedError); dark also refuses
    uint8, which torch resamples with its own int16 fixed-point weights, rather than give
    a wrong answer."""
    array = np.arange(16).reshape(1, 1, 4, 4)
    for dtype in (np.int64, np.uint8):
        with pytest.raises(NotImplementedError, match="floating-point"):
            F.interpolate(dark.tensor(array.astype(dtype)), size=3, **options)


@pytest.mark.parametrize("options", [{"mode": "bicubic"}, {"mode": "bilinear"},
                                     {"mode": "bilinear", "antialias": True},
                                     {"mode": "lanczos", "antialias": True}])
@requires_torch
def test_torch_rejects_integer_input(options):
    with pytest.raises(NotImplementedError):
        torch.nn.functional.interpolate(torch.tensor(np.arange(16).reshape(1, 1, 4, 4)),
                                        size=3, **options)
