"""The Fourier path of 2-D convolutions (dark/_kernels/conv_fourier.py): which convolutions take
it, and, with it forced on, the op table's convolutions (forward, gradcheck, gradgradcheck,
torch parity) and torch's outputs and gradients for many geometries, in chunks."""
import numpy as np
import pytest
from harness import check_case, ids, requires_torch, torch
from test_nn_conv import CASES

import dark
import dark._kernels.conv as conv_ops
import dark._kernels.conv_fourier as conv_fourier
from dark._kernels.conv import fourier


@pytest.fixture
def forced(monkeypatch):
    """Every convolution the Fourier path can take takes it (thin ones too: no per-sample
    flat path); the list counts its forwards."""
    calls = []
    original = conv_ops._fourier_forward
    monkeypatch.setattr(conv_fourier.Fourier, "cost", lambda self, samples: 0)
    monkeypatch.setattr(conv_ops, "_SAMPLE_ROWS", 0)
    monkeypatch.setattr(conv_ops, "_fourier_forward",
                        lambda *args: calls.append(args[0]) or original(*args))
    return calls


@pytest.mark.parametrize("x_shape, weight_shape, options, expected", [
    ((64, 16, 14, 14), (32, 16, 5, 5), {"padding": (2, 2)}, True),  # the MNIST CNN's conv2
    ((64, 1, 28, 28), (16, 1, 5, 5), {"padding": (2, 2)}, False),  # conv1: 1 channel in
    ((64, 32, 14, 14), (64, 32, 5, 5), {"padding": (2, 2)}, True),
    ((16, 16, 28, 28), (32, 16, 7, 7), {"padding": (3, 3)}, True),
    ((8, 128, 14, 14), (128, 128, 5, 5), {"padding": (2, 2)}, False),  # a large spectrum
    ((16, 64, 32, 32), (64, 64, 3, 3), {"padding": (1, 1)}, False),  # 3x3: im2col wins
    ((8, 3, 32, 32), (16, 3, 3, 3), {}, False),  # few channels, small kernel
    ((64, 16, 14, 14), (32, 16, 5, 5), {"stride": (2, 2)}, False),
    ((64, 16, 14, 14), (32, 8, 5, 5), {"groups": 2}, False),
    ((64, 16, 14, 14), (32, 16, 5, 5), {"dtype": np.float16}, False),
    ((64, 16, 14, 14), (32, 16, 5, 5), {"xp": None}, False),  # not numpy: the GPU
])
def test_which_convolutions_take_the_fourier_path(x_shape, weight_shape, options, expected):
    arguments = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1,
                 "dtype": np.float32, "xp": np} | options
    plan = fourier(x_shape, weight_shape, arguments["stride"], arguments["padding"],
                   arguments["dilation"], arguments["groups"], arguments["dtype"],
                   arguments["xp"])
    assert (plan is not None) is expected


FOURIER_CASES = [case for case in CASES if case.name.startswith(("conv2d", "conv_transpose2d"))]


@pytest.mark.parametrize("case", FOURIER_CASES, ids=ids(FOURIER_CASES))
def test_op_table_on_the_fourier_path(case, forced):
    check_case(case, "cpu")
    stride_one = "stride" not in case.name and "groups" not in case.name
    assert bool(forced) == stride_one


@pytest.mark.parametrize("chunk", [1, 3000, 1 << 24])
@pytest.mark.parametrize("x_shape, weight_shape, options", [
    ((5, 16, 14, 14), (32, 16, 5, 5), {"padding": 2}),
    ((3, 4, 7, 6), (6, 4, 3, 2), {"padding": (1, 0), "dilation": (2, 1)}),
    ((3, 4, 9, 8), (5, 4, 4, 3), {"padding": 3}),  # odd and even periods
    ((2, 1, 12, 12), (8, 1, 5, 5), {}),
    ((2, 3, 5, 6), (4, 3, 5, 6), {}),  # the kernel covers the input: a 1x1 output
    ((2, 3, 4, 4), (5, 3, 1, 1), {"padding": 1}),
    ((2, 3, 5, 5), (4, 3, 2, 3), {"padding": "same", "dilation": (1, 2)}),
    ((0, 4, 6, 6), (5, 4, 3, 3), {"padding": 1}),  # an empty batch
])
@pytest.mark.parametrize("bias", [True, False])
@requires_torch
def test_fourier_path_gives_torchs_numbers(monkeypatch, forced, chunk, x_shape,
                                           weight_shape, options, bias):
    """Output and the three gradients in float64 to 1e-10, in chunks of one sample, of a
    few and of the whole batch (each chunk's input spectrum kept for the backward)."""
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


@requires_torch
def test_fourier_path_float32_matches_torch():
    """The MNIST CNN's conv2 in float32 (its own choice of path): within float32 rounding of
    torch's output and gradients."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((16, 16, 14, 14)).astype(np.float32),
              (rng.standard_normal((32, 16, 5, 5)) * 0.05).astype(np.float32),
              rng.standard_normal(32).astype(np.float32)]
    assert fourier(arrays[0].shape, arrays[1].shape, (1, 1), (2, 2), (1, 1), 1, np.float32,
                   np) is not None
    g = rng.standard_normal((16, 32, 14, 14)).astype(np.float32)
    results = []
    for lib in (dark, torch):
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = lib.nn.functional.conv2d(*inputs, padding=2)
        out.backward(lib.tensor(g))
        assert out.dtype == lib.float32 and inputs[1].grad.dtype == lib.float32
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in inputs])
    for got, expected in zip(*results):
        scale = np.abs(expected).max()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale)


def _weight_gradients():
    """The weight gradient of a plain backward (from the spectra the forward kept), of a
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


def test_weight_gradient_from_the_forwards_spectra_and_from_x(forced):
    """The three weight gradients agree (the spectra path and the graph path)."""
    _, gradients = _weight_gradients()
    assert forced
    for gradient in gradients[1:]:
        np.testing.assert_allclose(gradient, gradients[0], rtol=1e-10, atol=1e-10)


@requires_torch
def test_weight_gradient_from_the_forwards_spectra_and_from_x_is_torchs(forced):
    (x, w, grad_output), gradients = _weight_gradients()
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), tw, padding=1).backward(
        torch.tensor(grad_output))
    for gradient in gradients:
        np.testing.assert_allclose(gradient, tw.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_spectra_kept_only_for_the_weight_gradient_and_freed_by_backward():
    """The forward keeps its input spectra when the weight needs a gradient, and only then;
    a backward without retain_graph frees them with the saved tensors (a training loop that
    keeps its losses does not hold them)."""
    import gc
    import weakref

    x = dark.randn(8, 16, 14, 14, requires_grad=True)
    frozen = dark.nn.functional.conv2d(x, dark.randn(32, 16, 5, 5), padding=2)
    assert frozen.grad_fn.saved_tensors[2] is None
    w = dark.randn(32, 16, 5, 5, requires_grad=True)
    out = dark.nn.functional.conv2d(x, w, padding=2)
    spectra = out.grad_fn.saved_tensors[2]
    assert spectra and all(s.shape[1:] == (stop - start, 16) for (start, stop), s in
                           spectra.items())
    kept = [weakref.ref(spectrum) for spectrum in spectra.values()]
    del spectra
    out.sum().backward()
    gc.collect()
    assert all(ref() is None for ref in kept)
