"""The Winograd path of 3x3 stride-1 convolutions (dark/_kernels/conv_winograd.py): its
transform matrices, which convolutions take it and with which tile, and, with it forced on
in F(2x2, 3x3) and F(4x4, 3x3): 3x3 convolutions of the op table's kind (forward,
gradcheck, gradgradcheck, torch parity), torch's outputs and gradients in float64 for many
geometries in chunks, and the float32 accuracy of each tile against float64."""
import math

import numpy as np
import pytest
from harness import Case, check_case, ids, requires_torch, torch

import dark
import dark._kernels.conv as conv_ops
import dark._kernels.conv_winograd as conv_winograd
from dark._kernels.conv import winograd


@pytest.mark.parametrize("m", [2, 4])
def test_transforms_compute_the_correlation(m):
    """A^T ((G g) * (B^T d)) is the valid correlation of a tile d (m + 2) with a filter g (3),
    exactly up to float64 rounding."""
    transform, filters, outputs = conv_winograd.matrices(m, np.float64)
    rng = np.random.default_rng(0)
    for _ in range(5):
        d, g = rng.standard_normal(m + 2), rng.standard_normal(3)
        got = outputs @ ((filters @ g) * (transform @ d))
        np.testing.assert_allclose(got, np.correlate(d, g, "valid"), rtol=0, atol=1e-14)


@pytest.mark.parametrize("x_shape, weight_shape, options, expected", [
    ((32, 64, 32, 32), (64, 64, 3, 3), {"padding": (1, 1)}, 4),  # issue 22's Conv2d(64, 64, 3)
    ((64, 32, 26, 26), (64, 32, 3, 3), {}, 4),  # pytorch/examples' MNIST Net, conv2
    ((8, 128, 28, 28), (128, 128, 3, 3), {"padding": (1, 1)}, 4),
    ((8, 256, 14, 14), (256, 256, 3, 3), {"padding": (1, 1)}, 2),  # wide: F(2x2)
    ((8, 64, 14, 14), (256, 64, 3, 3), {"padding": (1, 1)}, 2),
    ((64, 1, 28, 28), (32, 1, 3, 3), {}, None),  # one channel in: im2col
    ((32, 3, 32, 32), (16, 3, 3, 3), {"padding": (1, 1)}, 4),  # thin: the flat path (below)
    ((32, 64, 32, 32), (64, 64, 3, 3), {"padding": (3, 3)}, None),
    ((32, 64, 32, 32), (64, 64, 3, 3), {"stride": (2, 2)}, None),
    ((32, 64, 32, 32), (64, 64, 3, 3), {"dilation": (2, 2)}, None),
    ((32, 64, 32, 32), (64, 32, 3, 3), {"groups": 2}, None),
    ((32, 64, 32, 32), (64, 64, 5, 5), {}, None),
    ((32, 64, 32, 32), (64, 64, 3, 3), {"dtype": np.float16}, None),
    ((32, 64, 32, 32), (64, 64, 3, 3), {"xp": None}, None),  # not numpy: the GPU
])
def test_which_convolutions_take_the_winograd_path(x_shape, weight_shape, options, expected):
    arguments = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1,
                 "dtype": np.float32, "xp": np} | options
    plan = winograd(x_shape, weight_shape, arguments["stride"], arguments["padding"],
                    arguments["dilation"], arguments["groups"], arguments["dtype"],
                    arguments["xp"])
    assert (plan and plan.m) == expected
    chosen = conv_ops._transform_path(x_shape, weight_shape, arguments["stride"],
                                      arguments["padding"], arguments["dilation"],
                                      arguments["groups"], arguments["dtype"], arguments["xp"])
    thin = weight_shape[1] * 9 < conv_ops._SAMPLE_ROWS  # the per-sample flat path instead
    assert isinstance(chosen, conv_winograd.Winograd) == (expected is not None and not thin)


@pytest.fixture(params=[(2, "adjoint"), (2, "transposed"), (4, "adjoint"), (4, "transposed")],
                ids=["F2-adjoint", "F2-transposed", "F4-adjoint", "F4-transposed"])
def forced(request, monkeypatch):
    """Every convolution the Winograd path can take takes it (thin ones too: no per-sample
    flat path), with F(m x m, 3 x 3) and the input gradient's way of the parameter; the list
    counts its forwards."""
    calls = []
    original = conv_ops._winograd_forward
    monkeypatch.setattr(conv_ops, "_SAMPLE_ROWS", 0)
    monkeypatch.setattr(conv_winograd, "TILE", request.param[0])
    monkeypatch.setattr(conv_winograd, "INPUT_GRADIENT", request.param[1])
    monkeypatch.setattr(conv_winograd.Winograd, "cost", lambda self: 0)
    monkeypatch.setattr(conv_ops, "_winograd_forward",
                        lambda *args: calls.append(args[0]) or original(*args))
    return calls


def conv(name, shapes, **options):
    return Case(f"{name}_{'_'.join(f'{k}{v}' for k, v in options.items())}_{len(shapes)}",
                lambda t, *inputs: getattr(t.nn.functional, name)(*inputs, **options), shapes)


WINOGRAD_CASES = [
    conv("conv2d", [(2, 3, 5, 6), (4, 3, 3, 3), (4,)]),
    conv("conv2d", [(2, 3, 5, 6), (4, 3, 3, 3)], padding=1),
    conv("conv2d", [(1, 2, 7, 4), (3, 2, 3, 3), (3,)], padding=(2, 0)),
    conv("conv2d", [(3, 4, 4), (2, 3, 3, 3)], padding="same"),  # unbatched
    conv("conv2d", [(1, 4, 3, 3), (2, 4, 3, 3), (2,)]),  # output 1x1
    conv("conv_transpose2d", [(2, 4, 3, 4), (4, 3, 3, 3), (3,)]),
    conv("conv_transpose2d", [(2, 4, 5, 4), (4, 3, 3, 3)], padding=1),
]


@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=ids(WINOGRAD_CASES))
def test_op_table_on_the_winograd_path(case, forced):
    """Forward, gradcheck and gradgradcheck by finite differences in float64 (the second
    derivatives through ConvolutionBackwardInput/Weight, on this path too), and torch's
    values in float64 and float32."""
    check_case(case, "cpu")
    assert forced


@pytest.mark.parametrize("chunk", [1, 3000, 1 << 24])
@pytest.mark.parametrize("x_shape, weight_shape, options", [
    ((5, 3, 7, 9), (4, 3, 3, 3), {"padding": 1}),  # odd sizes, partial tiles
    ((1, 5, 8, 8), (7, 5, 3, 3), {}),  # one sample
    ((3, 7, 5, 6), (2, 7, 3, 3), {"padding": 2}),
    ((2, 4, 10, 5), (3, 4, 3, 3), {"padding": (1, 0)}),
    ((2, 3, 6, 6), (4, 3, 3, 3), {"padding": "same"}),
    ((2, 1, 3, 3), (3, 1, 3, 3), {}),  # the kernel covers the input: a 1x1 output
    ((2, 6, 1, 1), (5, 6, 3, 3), {"padding": 1}),  # a 1x1 input
    ((0, 4, 6, 6), (5, 4, 3, 3), {"padding": 1}),  # an empty batch
])
@pytest.mark.parametrize("bias", [True, False])
@requires_torch
def test_winograd_path_gives_torchs_numbers(monkeypatch, forced, chunk, x_shape,
                                            weight_shape, options, bias):
    """Output and the three gradients in float64 to 1e-10, in chunks of one sample, of a
    few and of the whole batch (each chunk's input tiles kept for the backward)."""
    monkeypatch.setattr(conv_ops, "_CHUNK_ENTRIES", chunk)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(weight_shape)]
    if bias:
        arrays.append(rng.standard_normal(weight_shape[0]))
    g = None
    results = []
    for lib in (dark, torch):
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = lib.nn.functional.conv2d(*inputs, **options)
        if g is None:
            g = rng.standard_normal(tuple(out.shape))
        out.backward(lib.tensor(g))
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in inputs])
    assert forced
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def _layer_arrays(batch, in_channels, size, out_channels, seed=0):
    """float64 input, nn.Conv2d's initial weight and bias (uniform in +-1/sqrt(fan_in)) and
    an output gradient, for a 3x3 convolution with padding 1."""
    rng = np.random.default_rng(seed)
    bound = 1 / math.sqrt(in_channels * 9)
    return [rng.standard_normal((batch, in_channels, size, size)),
            rng.uniform(-bound, bound, (out_channels, in_channels, 3, 3)),
            rng.uniform(-bound, bound, out_channels),
            rng.standard_normal((batch, out_channels, size, size))]


def _winograd_results(arrays, dtype, m):
    """Output, input gradient and weight gradient by F(m x m, 3 x 3) in dtype (the input
    gradient by the way dark estimates cheaper)."""
    x, w, b, g = (a.astype(dtype) for a in arrays)
    plan = conv_winograd.Winograd(x.shape[1], w.shape[0], x.shape[2:], (1, 1), m, dtype)
    out = np.empty(g.shape, dtype=dtype)
    kept = {}
    conv_ops._winograd_forward(plan, x, w, b, out, kept)
    grad_input, grad_weight, _ = conv_ops._winograd_backward(plan, x, g, w,
                                                             (True, True, False), kept)
    return out, grad_input, grad_weight


@pytest.mark.parametrize("way", ["adjoint", "transposed"])
@pytest.mark.parametrize("m, bound", [(2, 1e-6), (4, 4e-6)])
def test_float32_error_of_each_tile(monkeypatch, m, bound, way):
    """64 channels, unit-normal inputs, nn.Conv2d's initial weights: in float32, the output
    and both gradients within ``bound`` of their largest entry of the float64 results
    (F(2x2) ~4e-7, as torch; F(4x4) ~2.5e-6, where its usual points 0, +-1, +-2 give ~7e-6),
    the input gradient either way."""
    monkeypatch.setattr(conv_winograd, "INPUT_GRADIENT", way)
    arrays = _layer_arrays(4, 64, 16, 64)
    expected = _winograd_results(arrays, np.float64, m)
    got = _winograd_results(arrays, np.float32, m)
    for actual, reference in zip(got, expected):
        assert actual.dtype == np.float32
        assert np.abs(actual - reference).max() <= bound * np.abs(reference).max()


@pytest.mark.parametrize("channels, m", [(64, 4), (128, 4), (256, 2)])
@requires_torch
def test_float32_within_torchs_tolerance_of_float64(channels, m):
    """The tile dark chooses keeps a float32 Conv2d's output and input gradient within
    torch.testing's float32 tolerance (rtol 1.3e-6, atol 1e-5) of the float64 ones: F(4x4)
    at 64 and 128 channels (its worst entries at ~0.65 and ~0.8 of the tolerance), F(2x2) at
    256 (~0.2; F(4x4) would reach ~1.2)."""
    arrays = _layer_arrays(4, channels, 14, channels)
    assert winograd(arrays[0].shape, arrays[1].shape, (1, 1), (1, 1), (1, 1), 1, np.float32,
                    np).m == m
    results = []
    for dtype in (np.float32, np.float64):
        x, w, b = (dark.tensor(a.astype(dtype), requires_grad=True) for a in arrays[:3])
        out = dark.nn.functional.conv2d(x, w, b, padding=1)
        out.backward(dark.tensor(arrays[3].astype(dtype)))
        results.append([out.detach().numpy(), x.grad.numpy()])
    for actual, expected in zip(*results):
        torch.testing.assert_close(torch.tensor(actual, dtype=torch.float64),
                                   torch.tensor(expected), rtol=1.3e-6, atol=1e-5)


def _weight_gradients():
    """The weight gradient of a plain backward (from the tiles the forward kept), of a
    second one (retain_graph) and of a create_graph backward (recomputed from x, through
    ConvolutionBackwardWeight), with the float64 arrays they came from."""
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((4, 6, 9, 9)), rng.standard_normal((5, 6, 3, 3)),
              rng.standard_normal((4, 5, 9, 9))]
    x = dark.tensor(arrays[0], requires_grad=True)
    w = dark.tensor(arrays[1], requires_grad=True)
    out = dark.nn.functional.conv2d(x, w, padding=1)
    gradients = []
    for options in ({"retain_graph": True}, {"retain_graph": True}, {"create_graph": True}):
        w.grad = None
        out.backward(dark.tensor(arrays[2]), **options)
        gradients.append(w.grad.detach().numpy())
    assert w.grad.grad_fn is not None  # the last one went through the graph path
    return arrays, gradients


@requires_torch
def test_weight_gradient_from_the_forwards_tiles_and_from_x(forced):
    (x, w, grad_output), gradients = _weight_gradients()
    assert forced
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), tw, padding=1).backward(
        torch.tensor(grad_output))
    for gradient in gradients:
        np.testing.assert_allclose(gradient, tw.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_tiles_kept_only_for_the_weight_gradient_and_freed_by_backward():
    """The forward keeps its transformed input tiles when the weight needs a gradient, and
    only then; a backward without retain_graph frees them with the saved tensors."""
    import gc
    import weakref

    x = dark.randn(4, 64, 16, 16, requires_grad=True)
    frozen = dark.nn.functional.conv2d(x, dark.randn(64, 64, 3, 3), padding=1)
    assert frozen.grad_fn.saved_tensors[2] is None
    w = dark.randn(64, 64, 3, 3, requires_grad=True)
    out = dark.nn.functional.conv2d(x, w, padding=1)
    tiles = out.grad_fn.saved_tensors[2]
    assert tiles and all(t.shape == (36, 64, (stop - start) * 16) for (start, stop), t in
                         tiles.items())  # F(4x4): 6 x 6 positions, 4 x 4 tiles a sample
    kept = [weakref.ref(t) for t in tiles.values()]
    del tiles
    out.sum().backward()
    gc.collect()
    assert all(ref() is None for ref in kept)


@pytest.mark.parametrize("first, then", [("winograd", "fourier"), ("fourier", "winograd")])
@requires_torch
def test_backward_on_another_path_than_the_forward(monkeypatch, first, then):
    """A forward that kept Winograd tiles (or Fourier spectra) and a backward that takes the
    other path (the choice can change with the thread count in between): the backward does
    not read what the other path kept, and the gradients are torch's."""
    import dark._kernels.conv_fourier as conv_fourier

    def force(path):
        monkeypatch.setattr(conv_winograd.Winograd, "cost",
                            lambda self: 0 if path == "winograd" else math.inf)
        monkeypatch.setattr(conv_fourier.Fourier, "cost",
                            lambda self, samples: 0 if path == "fourier" else math.inf)

    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 6, 9, 9)), rng.standard_normal((5, 6, 3, 3)),
              rng.standard_normal((3, 5, 9, 9))]
    x, w = (dark.tensor(a, requires_grad=True) for a in arrays[:2])
    force(first)
    out = dark.nn.functional.conv2d(x, w, padding=1)
    kept = out.grad_fn.saved_tensors[2]
    assert kept and all(np.iscomplexobj(k) == (first == "fourier") for k in kept.values())
    force(then)
    out.backward(dark.tensor(arrays[2]))
    tx, tw = (torch.tensor(a, requires_grad=True) for a in arrays[:2])
    torch.nn.functional.conv2d(tx, tw, padding=1).backward(torch.tensor(arrays[2]))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
