"""The raw-array kernels of dark._kernels on numpy arrays alone, without Tensor or autograd:
convolution on each of its paths (im2col, flat shifts, Fourier) against a direct sum, the
adjoint identities that their backward relies on, pooling's maxima, argmax and divisors
against loops, and the resampling plans against their adjoints."""
import itertools

import numpy as np
import pytest

from dark._kernels import conv, conv_fourier, pooling, resample
from dark._kernels.windows import pad_array, window_view

RNG = np.random.default_rng(14)


def _direct_conv(x, w, stride, padding, dilation, groups):
    """conv(x, w) by its definition: a sum over the channels of a group and the taps."""
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    n, c_out, per_group = x.shape[0], w.shape[0], w.shape[1]
    kernel = w.shape[2:]
    out_shape = tuple((s - d * (k - 1) - 1) // st + 1 for s, k, st, d in
                      zip(x.shape[2:], kernel, stride, dilation))
    out = np.zeros((n, c_out) + out_shape)
    outs_per_group = c_out // groups
    for o in range(c_out):
        first = o // outs_per_group * per_group
        for position in itertools.product(*(range(s) for s in out_shape)):
            for tap in itertools.product(*(range(k) for k in kernel)):
                index = tuple(p * st + t * d for p, t, st, d in
                              zip(position, tap, stride, dilation))
                out[(slice(None), o) + position] += (
                    x[(slice(None), slice(first, first + per_group)) + index]
                    @ w[(o, slice(None)) + tap])
    return out


GEOMETRIES = [  # x shape, w shape, stride, padding, dilation, groups, the path it takes
    ((2, 4, 7, 6), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2, "im2col"),
    ((3, 2, 9), (4, 2, 3), (1,), (2,), (2,), 1, "im2col"),
    ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (1, 2), (1, 1), 1, "flat"),
    ((2, 6, 5, 5), (4, 3, 2, 3), (1, 1), (0, 1), (2, 1), 2, "flat"),
    ((2, 16, 5, 6), (3, 16, 3, 2), (1, 1), (1, 1), (1, 1), 1, "flat"),  # positions first
    ((2, 3, 8, 7), (5, 3, 5, 3), (1, 1), (2, 1), (1, 1), 1, "fourier"),
]


@pytest.fixture
def fourier_margin(monkeypatch):
    """Set the Fourier path's margin: inf takes it wherever it applies, 0 never."""
    return lambda margin: monkeypatch.setattr(conv_fourier, "FOURIER_MARGIN", margin)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, path",
                         GEOMETRIES)
def test_conv_forward_equals_the_direct_sum(fourier_margin, x_shape, w_shape, stride,
                                            padding, dilation, groups, path):
    fourier_margin(np.inf if path == "fourier" else 0.0)
    x, w, bias = (RNG.standard_normal(s) for s in (x_shape, w_shape, w_shape[:1]))
    chosen = conv.fourier(x.shape, w.shape, stride, padding, dilation, groups, x.dtype, np)
    assert (chosen is not None) == (path == "fourier")
    assert (conv._flat(x.shape, w.shape[2:], stride, padding, dilation, groups) is not None) \
        == (path != "im2col")
    expected = _direct_conv(x, w, stride, padding, dilation, groups)
    expected += bias.reshape(conv.bias_shape(bias, expected.ndim))
    got = conv.conv_forward(np, x, w, stride, padding, dilation, groups, bias)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, path",
                         GEOMETRIES)
def test_conv_gradients_are_the_adjoints(fourier_margin, x_shape, w_shape, stride, padding,
                                         dilation, groups, path):
    """<conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>, and the one-pass
    gradients (flat and Fourier paths) equal the separate ones."""
    fourier_margin(np.inf if path == "fourier" else 0.0)
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    out = conv.conv_forward(np, x, w, stride, padding, dilation, groups)
    g = RNG.standard_normal(out.shape)
    grad_x = conv.conv_input_grad(np, g, w, x.shape[2:], stride, padding, dilation, groups)
    grad_w = conv.conv_weight_grad(np, x, g, w.shape[2:], stride, padding, dilation, groups)
    assert grad_x.shape == x.shape and grad_w.shape == w.shape
    inner = np.vdot(out, g)
    np.testing.assert_allclose(np.vdot(x, grad_x), inner, rtol=1e-10)
    np.testing.assert_allclose(np.vdot(w, grad_w), inner, rtol=1e-10)
    both = conv.one_pass_gradients(np, x.shape, w.shape, x, g, w, stride, padding, dilation,
                                   groups, (True, True, True))
    assert (both is None) == (path == "im2col")
    if both is not None:
        np.testing.assert_allclose(both[0], grad_x, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(both[1], grad_w, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(both[2], g.sum(axis=(0, 2, 3)), rtol=1e-10)


def test_im2col_and_col2im_are_adjoint():
    x = RNG.standard_normal((2, 3, 6, 7))
    geometry = ((3, 2), (2, 1), (1, 1), (1, 2))  # kernel, stride, padding, dilation
    columns = conv.im2col(np, x, *geometry)
    blocks = conv.conv_output_shape(x.shape[2:], *geometry)
    assert columns.shape == (2, 3 * 6, blocks[0] * blocks[1])
    # a column is the padded input's window, taps in (channel, row, column) order
    padded = pad_array(np, x, geometry[2])
    assert padded.shape == (2, 3, 8, 9)
    np.testing.assert_array_equal(columns[:, :, 0].reshape(2, 3, 3, 2), padded[:, :, 0:3, 0:4:2])
    c = RNG.standard_normal(columns.shape)
    folded = conv.col2im_blocks(np, c, x.shape[2:], *geometry)
    np.testing.assert_allclose(np.vdot(columns, c), np.vdot(x, folded), rtol=1e-12)


def test_window_view_is_a_view_of_the_windows():
    x = np.arange(2 * 1 * 5 * 6, dtype=np.float64).reshape(2, 1, 5, 6)
    windows = window_view(np, x, (2, 2), (2, 3), (2, 2), (1, 1))
    assert np.shares_memory(windows, x)
    np.testing.assert_array_equal(windows[1, 0, 1, 1], x[1, 0, 2:4, 2:5])


def _naive_max(x, kernel, stride, padding):
    """Maxima and PyTorch's flat indices (first maximum in window order), by loops."""
    n, c, h, w = x.shape
    out_h = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    out_w = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    values, indices = np.empty((n, c, out_h, out_w)), np.empty((n, c, out_h, out_w), np.int64)
    for b, ch, i, j in itertools.product(range(n), range(c), range(out_h), range(out_w)):
        best, where = -np.inf, -1
        for di, dj in itertools.product(range(kernel[0]), range(kernel[1])):
            row, col = i * stride[0] - padding[0] + di, j * stride[1] - padding[1] + dj
            if 0 <= row < h and 0 <= col < w and x[b, ch, row, col] > best:
                best, where = x[b, ch, row, col], row * w + col
        values[b, ch, i, j], indices[b, ch, i, j] = best, where
    return values, indices


@pytest.mark.parametrize("kernel, stride, padding", [
    ((2, 2), (2, 2), (0, 0)),  # windows that tile the input: the reshape path
    ((3, 2), (2, 1), (1, 0)),  # overlapping, padded windows
])
def test_max_pool_values_and_indices_equal_loops(kernel, stride, padding):
    x = RNG.integers(0, 4, (2, 3, 6, 8)).astype(np.float64)  # many ties
    geometry = pooling.Geometry(x.shape[2:], kernel, stride, padding, (1, 1), False)
    values, local = pooling.max_pool(np, x, geometry, with_argmax=True)
    indices = geometry.flat_index(np, local).reshape(values.shape)
    expected_values, expected_indices = _naive_max(x, kernel, stride, padding)
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(indices, expected_indices)
    # the backward's scatter puts each gradient at its argmax: the adjoint of the gather
    g = RNG.standard_normal(values.shape)
    scattered = pooling.scatter_to_argmax(np, g, geometry, local)
    np.testing.assert_allclose(scattered, pooling.scatter_flat(np, g, indices, x.shape[2:]))
    np.testing.assert_allclose(np.vdot(scattered, x),
                               np.vdot(g, pooling.gather_flat(np, x, indices, x.shape[2:])))


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_divisors_and_adjoint(count_include_pad):
    x = RNG.standard_normal((2, 6, 7))
    geometry = pooling.Geometry((6, 7), (3, 3), (2, 2), (1, 1), (1, 1), True)
    assert geometry.out == (4, 4) and geometry.extra == (1, 0)  # the last row of windows
    got = pooling.avg_pool(np, x, geometry, count_include_pad, None)
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1)])
    inside = np.pad(np.ones((6, 7)), 1)
    for i, j in itertools.product(range(geometry.out[0]), range(geometry.out[1])):
        rows, cols = slice(2 * i, 2 * i + 3), slice(2 * j, 2 * j + 3)
        # the windows clipped to the padded input (ceil_mode's last row runs past it), or
        # to the input without count_include_pad
        count = (inside[rows, cols].sum() if not count_include_pad
                 else padded[0, rows, cols].size)
        np.testing.assert_allclose(got[:, i, j], padded[:, rows, cols].sum(axis=(1, 2)) / count)
    g = RNG.standard_normal(got.shape)
    spread = pooling.avg_pool_adjoint(np, g, geometry, count_include_pad, None)
    np.testing.assert_allclose(np.vdot(got, g), np.vdot(x, spread), rtol=1e-12)


def test_adaptive_matrices_average_torchs_windows():
    x = RNG.standard_normal((3, 7))
    (matrix,) = pooling.adaptive_matrices((7,), (3,))
    got = pooling.apply_matrices(np, x, (matrix,), transpose=False)
    # torch's windows: [floor(i * 7 / 3), ceil((i + 1) * 7 / 3))
    expected = np.stack([x[:, 0:3].mean(1), x[:, 2:5].mean(1), x[:, 4:7].mean(1)], axis=1)
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("plan_of", [
    lambda: ((1, 5, ((resample.pad_index("reflect", 5, 2, 3), None),)),),
    lambda: ((1, 5, ((resample.pad_index("circular", 5, 1, 2), None),)),
             (2, 4, resample.linear_terms(4, 7, None, False, np.float64))),
    lambda: ((2, 4, resample.axis_terms("bicubic", False, 4, 9, None, False, np.float64)),),
])
def test_resample_scatter_is_the_adjoint_of_gather(plan_of):
    plan = plan_of()
    x = RNG.standard_normal((2, 5, 4))
    out = resample.gather(np, x, plan)
    g = RNG.standard_normal(out.shape)
    np.testing.assert_allclose(np.vdot(out, g), np.vdot(x, resample.scatter(np, g, plan)),
                               rtol=1e-12)


def test_pad_index_and_pad_constant():
    np.testing.assert_array_equal(resample.pad_index("reflect", 4, 2, 1), [2, 1, 0, 1, 2, 3, 2])
    np.testing.assert_array_equal(resample.pad_index("replicate", 3, 2, 2),
                                  [0, 0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(resample.pad_index("circular", 3, 2, 1), [1, 2, 0, 1, 2, 0])
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(resample.pad_constant(np, x, ((1, -1),), 9.0),
                                  [[9, 0, 1], [9, 3, 4]])
