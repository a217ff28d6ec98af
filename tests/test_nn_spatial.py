"""F.grid_sample, F.affine_grid, F.pixel_shuffle / pixel_unshuffle, F.channel_shuffle, their
layers, and nn.Upsample's modes against PyTorch: values, input / grid / theta gradients in
float32 and float64, finite-difference gradients in float64, torch's errors and warnings."""
import itertools
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
import dark.nn.functional as F
from dark.autograd import gradcheck, gradgradcheck

TOLERANCES = {"float32": (np.float32, 1e-5, 5e-5), "float64": (np.float64, 1e-12, 1e-11)}
GRID_CASES = [(dims, mode, padding, align)
              for dims, mode, padding, align in itertools.product(
                  (2, 3), ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"),
                  (False, True))
              if not (dims == 3 and mode == "bicubic")]


def _numpy(tensor):
    return tensor.detach().cpu().numpy()


def _grid_inputs(dims, np_dtype, seed=0):
    """An input and a grid reaching past [-1, 1] on every side (so padding counts)."""
    rng = np.random.default_rng(seed + dims)
    if dims == 2:
        x = rng.standard_normal((2, 3, 5, 6))
        grid = rng.random((2, 4, 3, 2)) * 3 - 1.5
    else:
        x = rng.standard_normal((2, 2, 4, 5, 3))
        grid = rng.random((2, 3, 2, 4, 3)) * 3 - 1.5
    return x.astype(np_dtype), grid.astype(np_dtype)


@pytest.mark.parametrize("dtype", list(TOLERANCES))
@pytest.mark.parametrize("dims,mode,padding,align", GRID_CASES)
@requires_torch
def test_grid_sample_matches_torch(dims, mode, padding, align, dtype, device):
    np_dtype, tol, grad_tol = TOLERANCES[dtype]
    x, grid = _grid_inputs(dims, np_dtype)
    mine = [dark.tensor(a, device=device, requires_grad=True) for a in (x, grid)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, grid)]
    out = F.grid_sample(*mine, mode=mode, padding_mode=padding, align_corners=align)
    expected = torch.nn.functional.grid_sample(*theirs, mode=mode, padding_mode=padding,
                                               align_corners=align)
    assert out.dtype == getattr(dark, dtype) and tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(_numpy(out), expected.detach().numpy(), rtol=tol, atol=tol)
    weights = np.random.default_rng(1).standard_normal(tuple(expected.shape)).astype(np_dtype)
    (out * dark.tensor(weights, device=device)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(_numpy(mine[0].grad), theirs[0].grad.numpy(), rtol=tol,
                               atol=tol)
    # the grid's gradient sums scale * value differences: larger numbers, float32 rounding
    np.testing.assert_allclose(_numpy(mine[1].grad), theirs[1].grad.numpy(), rtol=grad_tol,
                               atol=grad_tol)


@pytest.mark.parametrize("dims,mode,padding,align",
                         [c for c in GRID_CASES if c[1] != "nearest"])
def test_grid_sample_gradcheck(dims, mode, padding, align, device):
    x, grid = _grid_inputs(dims, np.float64, seed=7)
    x, grid = x[:1, :1, :4, :4], grid[:1, :2]  # small: gradcheck perturbs every element
    inputs = [dark.tensor(np.ascontiguousarray(a), device=device, requires_grad=True)
              for a in (x, grid)]

    def sample(a, g):
        return F.grid_sample(a, g, mode=mode, padding_mode=padding, align_corners=align)

    assert gradcheck(sample, inputs)


def test_grid_sample_gradgradcheck(device):
    x, grid = _grid_inputs(2, np.float64, seed=3)
    inputs = [dark.tensor(a[:1, :2], device=device, requires_grad=True) for a in (x, grid)]
    assert gradgradcheck(lambda a, g: F.grid_sample(a, g, align_corners=False), inputs)


def test_grid_sample_nearest_grid_gradient_is_zero(device):
    x, grid = _grid_inputs(2, np.float64)
    a = dark.tensor(x, device=device)
    g = dark.tensor(grid, device=device, requires_grad=True)
    out = F.grid_sample(a, g, mode="nearest", align_corners=True)
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(_numpy(g.grad), np.zeros_like(grid))


def test_grid_sample_identity_and_known_values(device):
    """An identity affine grid with align_corners reproduces the input; a known
    half-pixel shift averages neighbours; outside points read 0, the border or a mirror."""
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    a = dark.tensor(x, device=device)
    theta = dark.tensor([[[1.0, 0, 0], [0, 1.0, 0]]], device=device)
    for align in (False, True):
        grid = F.affine_grid(theta, (1, 1, 3, 4), align_corners=align)
        for mode in ("bilinear", "nearest", "bicubic"):
            np.testing.assert_allclose(
                _numpy(F.grid_sample(a, grid, mode=mode, align_corners=align)), x, atol=1e-5)
    # x = -1 / 3 with align_corners: column 1, between rows 0 and 1 at y = -0.5
    point = dark.tensor([[[[-1 / 3, -0.5]]]], device=device)
    value = F.grid_sample(a, point, align_corners=True)
    np.testing.assert_allclose(_numpy(value).ravel(), [(1 + 5) / 2], atol=1e-6)
    outside = dark.tensor([[[[3.0, 0.0]]]], device=device)  # far right of row 1
    expected = {"zeros": 0.0, "border": 7.0}
    for padding, result in expected.items():
        got = F.grid_sample(a, outside, padding_mode=padding, align_corners=True)
        np.testing.assert_allclose(_numpy(got).ravel(), [result], atol=1e-6)
    # reflection with align_corners: x = 3 is 2 widths right of the centre -> column 0
    got = F.grid_sample(a, outside, padding_mode="reflection", align_corners=True)
    np.testing.assert_allclose(_numpy(got).ravel(), [4.0], atol=1e-6)


def test_grid_sample_empty(device):
    out = F.grid_sample(dark.zeros(1, 0, 3, 3, device=device),
                        dark.zeros(1, 2, 2, 2, device=device), align_corners=False)
    assert tuple(out.shape) == (1, 0, 2, 2)
    out = F.grid_sample(dark.zeros(1, 2, 3, 3, device=device),
                        dark.zeros(1, 0, 2, 2, device=device), align_corners=False)
    assert tuple(out.shape) == (1, 2, 0, 2)


@pytest.mark.parametrize("dtype", list(TOLERANCES))
@pytest.mark.parametrize("size", [(2, 3, 5, 4), (2, 1, 3, 4, 5), (2, 3, 1, 4), (2, 1, 1, 6)])
@pytest.mark.parametrize("align", [False, True])
@requires_torch
def test_affine_grid_matches_torch(size, align, dtype, device):
    np_dtype, tol, _ = TOLERANCES[dtype]
    rng = np.random.default_rng(len(size))
    theta = rng.standard_normal((2, 2, 3) if len(size) == 4 else (2, 3, 4)).astype(np_dtype)
    mine = dark.tensor(theta, device=device, requires_grad=True)
    theirs = torch.tensor(theta, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unit-size grids with align_corners
        out = F.affine_grid(mine, size, align_corners=align)
        expected = torch.nn.functional.affine_grid(theirs, size, align_corners=align)
    assert out.dtype == getattr(dark, dtype) and tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(_numpy(out), expected.detach().numpy(), rtol=tol, atol=tol)
    weights = rng.standard_normal(tuple(expected.shape)).astype(np_dtype)
    (out * dark.tensor(weights, device=device)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(_numpy(mine.grad), theirs.grad.numpy(), rtol=tol * 10,
                               atol=tol * 10)


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 2, 3, 2, 4)])
def test_affine_grid_gradcheck(size, device):
    rng = np.random.default_rng(0)
    shape = (size[0], 2, 3) if len(size) == 4 else (size[0], 3, 4)
    theta = dark.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, size, align_corners=False), [theta])


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@requires_torch
def test_spatial_transformer_theta_gradient_matches_torch(padding, device):
    """The spatial-transformer tutorial's sampler: affine_grid then grid_sample, the
    gradient reaching theta through the grid."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 7, 6)).astype(np.float32)
    theta = (np.array([[1.0, 0, 0], [0, 1.0, 0]]) + 0.3 * rng.standard_normal((3, 2, 3))
             ).astype(np.float32)
    results = []
    for lib, make in ((dark, lambda a: dark.tensor(a, device=device, requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        image, matrix = make(x), make(theta)
        grid = lib.nn.functional.affine_grid(matrix, image.size(), align_corners=False)
        out = lib.nn.functional.grid_sample(image, grid, padding_mode=padding,
                                            align_corners=False)
        (out ** 2).sum().backward()
        results.append([out.detach().cpu().numpy(), image.grad.cpu().numpy(),
                        matrix.grad.cpu().numpy()])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("lib", LIBS)
def test_grid_sample_errors(lib):
    sample = lib.nn.functional.grid_sample
    zeros = lib.zeros
    cases = [
        (lambda: sample(zeros(1, 1, 3, 3), zeros(1, 2, 2, 3), align_corners=False),
         RuntimeError, "grid_sampler(): expected grid to have size 2 in last dimension, but "
         "got grid with sizes [1, 2, 2, 3]"),
        (lambda: sample(zeros(1, 1, 3, 3), zeros(2, 2, 2, 2), align_corners=False),
         RuntimeError, "grid_sampler(): expected grid and input to have same batch size, but "
         "got input with sizes [1, 1, 3, 3] and grid with sizes [2, 2, 2, 2]"),
        (lambda: sample(zeros(1, 1, 3), zeros(1, 2, 1), align_corners=False),
         RuntimeError, "grid_sampler(): expected 5D input and grid with same number of "
         "dimensions, but got input with sizes [1, 1, 3] and grid with sizes [1, 2, 1]"),
        (lambda: sample(zeros(1, 1, 3, 3), zeros(1, 2, 2, 2, 2), align_corners=False),
         RuntimeError, "grid_sampler(): expected 4D input and grid with same number of "
         "dimensions, but got input with sizes [1, 1, 3, 3] and grid with sizes "
         "[1, 2, 2, 2, 2]"),
        (lambda: sample(zeros(1, 1, 3, 3), zeros(1, 2, 2, 2, dtype=lib.float64),
                        align_corners=False),
         RuntimeError, "expected scalar type Float but found Double"),
        (lambda: sample(zeros(1, 1, 3, 3, 3), zeros(1, 2, 2, 2, 3), mode="bicubic",
                        align_corners=False),
         RuntimeError, "grid_sampler(): bicubic interpolation only supports 4D input"),
        (lambda: sample(zeros(1, 1, 0, 3), zeros(1, 2, 2, 2), align_corners=False),
         RuntimeError, "grid_sampler(): expected input to have non-empty spatial dimensions, "
         "but input has sizes [1, 1, 0, 3] with dimension 2 being empty"),
        (lambda: sample(zeros(1, 1, 3, 3, dtype=lib.int64), zeros(1, 2, 2, 2, dtype=lib.int64),
                        align_corners=False),
         NotImplementedError, "\"grid_sampler_2d_cpu_kernel_impl\" not implemented for 'Long'"),
        (lambda: sample(zeros(1, 1, 3, 3), zeros(1, 2, 2, 2), mode="area"), ValueError,
         "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
         "'bicubic', but got: 'area'"),
        (lambda: sample(zeros(1, 1, 3, 3), zeros(1, 2, 2, 2), padding_mode="circular"),
         ValueError, "nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
         "'border', or 'reflection', but got: 'circular'"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind) as error:
            call()
        assert str(error.value) == message


@pytest.mark.parametrize("lib", LIBS)
def test_affine_grid_errors_and_warnings(lib):
    affine = lib.nn.functional.affine_grid
    zeros = lib.zeros
    name = lib.__name__
    cases = [
        (lambda: affine(zeros(3, 2, 3), (2, 1, 4, 4), False), RuntimeError,
         "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: "
         "[3, 3]."),
        (lambda: affine(zeros(2, 2, 3), (2, 1, 0, 4), False), ValueError,
         "Expected non-zero, positive output size. Got (2, 1, 0, 4)"),
        (lambda: affine(zeros(2, 2, 3, dtype=lib.int64), (2, 1, 4, 4), False), ValueError,
         f"Expected theta to have floating point type, but got {name}.int64"),
        (lambda: affine(zeros(2, 3, 3), (2, 1, 4, 4), False), ValueError,
         f"Expected a batch of 2D affine matrices of shape Nx2x3 for size (2, 1, 4, 4). Got "
         f"{name}.Size([2, 3, 3])."),
        (lambda: affine(zeros(2, 2, 3), (2, 1, 4, 4, 4), False), ValueError,
         f"Expected a batch of 3D affine matrices of shape Nx3x4 for size (2, 1, 4, 4, 4). "
         f"Got {name}.Size([2, 2, 3])."),
        (lambda: affine(zeros(2, 2, 3), (2, 4, 4), False), NotImplementedError,
         "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
         "respectively. Got size (2, 4, 4)."),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind) as error:
            call()
        assert str(error.value) == message
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has "
                                         "changed to align_corners=False since 1.3.0"):
        grid = affine(zeros(1, 2, 3), (1, 1, 2, 2))
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior"):
        lib.nn.functional.grid_sample(zeros(1, 1, 2, 2), grid)
    with pytest.warns(UserWarning, match="affine_grid behavior has changed for unit-size "
                                         "grids when align_corners=True"):
        affine(zeros(1, 2, 3), (1, 1, 1, 2), True)


# ----------------------------------------------------------------------------- shuffles


@pytest.mark.parametrize("shape,factor", [((2, 8, 3, 3), 2), ((3, 9, 2, 4), 3),
                                          ((1, 2, 8, 3, 2), 2), ((4, 2, 2), 1), ((4, 2, 2), 2)])
@requires_torch
def test_pixel_shuffle_matches_torch(shape, factor, device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float64)
    for name, can in (("pixel_shuffle", shape[-3] % (factor * factor) == 0),
                      ("pixel_unshuffle", shape[-1] % factor == 0 and shape[-2] % factor == 0)):
        if not can:
            continue
        mine = dark.tensor(x, device=device, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        out = getattr(F, name)(mine, factor)
        expected = getattr(torch.nn.functional, name)(theirs, factor)
        np.testing.assert_array_equal(_numpy(out), expected.detach().numpy())
        weights = rng.standard_normal(tuple(expected.shape))
        (out * dark.tensor(weights, device=device)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        np.testing.assert_array_equal(_numpy(mine.grad), theirs.grad.numpy())
        layer = {"pixel_shuffle": dark.nn.PixelShuffle,
                 "pixel_unshuffle": dark.nn.PixelUnshuffle}[name](factor)
        np.testing.assert_array_equal(_numpy(layer(mine)), _numpy(out))


def test_pixel_shuffle_round_trip_and_layout(device):
    x = dark.arange(2 * 8 * 3 * 2, device=device).float().reshape(2, 8, 3, 2)
    up = F.pixel_shuffle(x, 2)
    assert tuple(up.shape) == (2, 2, 6, 4)
    # output (c, h * r + i, w * r + j) is input (c * r * r + i * r + j, h, w)
    assert float(up[1, 1, 3, 2]) == float(x[1, 1 * 4 + 1 * 2 + 0, 1, 1])
    np.testing.assert_array_equal(_numpy(F.pixel_unshuffle(up, 2)), _numpy(x))
    assert gradcheck(lambda t: F.pixel_shuffle(t, 2),
                     [dark.randn(1, 4, 2, 3, dtype=dark.float64, device=device,
                                 requires_grad=True)])


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
@requires_torch
def test_channel_shuffle_matches_torch(groups, device):
    x = np.random.default_rng(groups).standard_normal((2, 6, 3, 2))
    mine = dark.tensor(x, device=device, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = F.channel_shuffle(mine, groups)
    expected = torch.nn.functional.channel_shuffle(theirs, groups)
    np.testing.assert_array_equal(_numpy(out), expected.detach().numpy())
    np.testing.assert_array_equal(_numpy(dark.nn.ChannelShuffle(groups)(mine)),
                                  torch.nn.ChannelShuffle(groups)(theirs).detach().numpy())
    out.pow(2).sum().backward()
    expected.pow(2).sum().backward()
    np.testing.assert_array_equal(_numpy(mine.grad), theirs.grad.numpy())


@pytest.mark.parametrize("lib", LIBS)
def test_shuffle_errors_and_reprs(lib):
    fn = lib.nn.functional
    zeros = lib.zeros
    cases = [
        (lambda: fn.pixel_shuffle(zeros(2, 5, 3, 3), 2),
         "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
         "of upscale_factor, but input.size(-3)=5 is not divisible by 4"),
        (lambda: fn.pixel_shuffle(zeros(5, 3), 2), "pixel_shuffle expects input to have at "
         "least 3 dimensions, but got input with 2 dimension(s)"),
        (lambda: fn.pixel_shuffle(zeros(1, 4, 3, 3), 0),
         "pixel_shuffle expects a positive upscale_factor, but got 0"),
        (lambda: fn.pixel_unshuffle(zeros(2, 5, 3, 4), 2), "pixel_unshuffle expects height to "
         "be divisible by downscale_factor, but input.size(-2)=3 is not divisible by 2"),
        (lambda: fn.pixel_unshuffle(zeros(2, 5, 4, 3), 2), "pixel_unshuffle expects width to "
         "be divisible by downscale_factor, but input.size(-1)=3 is not divisible by 2"),
        (lambda: fn.pixel_unshuffle(zeros(2, 5, 4, 4), -1),
         "pixel_unshuffle expects a positive downscale_factor, but got -1"),
        (lambda: fn.channel_shuffle(zeros(2, 6, 3), 4),
         "Number of channels must be divisible by groups. Got 6 channels and 4 groups."),
        (lambda: fn.channel_shuffle(zeros(2, 6), 2),
         "channel_shuffle expects input with > 2 dims, but got input with sizes [2, 6]"),
        (lambda: fn.channel_shuffle(zeros(2, 6, 3), 0),
         "Number of groups to divide channels in must be positive. Value of groups:0"),
    ]
    for call, message in cases:
        with pytest.raises(RuntimeError) as error:
            call()
        assert str(error.value) == message
    assert repr(lib.nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(lib.nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    assert repr(lib.nn.ChannelShuffle(2)) == "ChannelShuffle(groups=2)"


def test_layers_importable_from_torch_module_paths():
    from dark.nn.modules.channelshuffle import ChannelShuffle
    from dark.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle
    assert (PixelShuffle, PixelUnshuffle, ChannelShuffle) == (
        dark.nn.PixelShuffle, dark.nn.PixelUnshuffle, dark.nn.ChannelShuffle)


# ----------------------------------------------------------------------------- Upsample

UPSAMPLE_CASES = [
    ((2, 3, 5), {"scale_factor": 2, "mode": "nearest"}),
    ((2, 3, 5), {"size": 7, "mode": "nearest-exact"}),
    ((2, 3, 5), {"scale_factor": 1.5, "mode": "linear", "align_corners": False}),
    ((2, 3, 5), {"size": 8, "mode": "linear", "align_corners": True}),
    ((2, 3, 5), {"size": 3, "mode": "area"}),
    ((1, 2, 4, 5), {"scale_factor": 2, "mode": "bilinear"}),
    ((1, 2, 4, 5), {"scale_factor": (2, 3), "mode": "bicubic", "align_corners": True}),
    ((1, 2, 4, 5), {"size": (7, 3), "mode": "bicubic"}),
    ((1, 2, 4, 5), {"size": (2, 3), "mode": "area"}),
    ((1, 2, 4, 5), {"scale_factor": 1.7, "mode": "nearest-exact"}),
    ((1, 2, 3, 4, 2), {"scale_factor": 2, "mode": "trilinear"}),
    ((1, 2, 3, 4, 2), {"size": (4, 5, 3), "mode": "trilinear", "align_corners": True}),
    ((1, 2, 3, 4, 2), {"scale_factor": (1, 2, 2), "mode": "nearest"}),
]


@pytest.mark.parametrize("shape,kwargs", UPSAMPLE_CASES)
@requires_torch
def test_upsample_modes_match_torch(shape, kwargs, device):
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    mine = dark.tensor(x, device=device, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    layer, reference = dark.nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    out, expected = layer(mine), reference(theirs)
    np.testing.assert_allclose(_numpy(out), expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    out.pow(2).sum().backward()
    expected.pow(2).sum().backward()
    np.testing.assert_allclose(_numpy(mine.grad), theirs.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert repr(layer) == repr(reference)
