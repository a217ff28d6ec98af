"""The compiled memory passes (dark._kernels.passes_numba: ReLU's forward and backward, the
2x2 max pooling backward whose windows tile the input, Winograd's input-gradient tiles added
back into the input): the numpy paths' bits (the kernels turned off) through the public ops,
float32 and float64, with NaN, inf and -0.0 among the inputs, outputs and gradients, in parts
in dark's threads and whole; the kernel is really the one that ran; numba is loaded only
after enough work; and turned off (or without numba) the numpy paths serve."""
import numpy as np
import pytest

import dark
import dark.nn.functional as F
from dark._kernels import passes_numba


def _special(array):
    """array with NaN, +-inf and -0.0 in its first entries."""
    flat = array.reshape(-1)
    values = [np.nan, np.inf, -np.inf, -0.0, 0.0, np.nan]
    flat[:len(values)] = values[:flat.size]
    return array


def _relu_grads(dtype, shape, compiled: bool):
    previous = passes_numba.set_enabled(compiled)
    try:
        rng = np.random.default_rng(3)
        x = dark.tensor(_special(rng.standard_normal(shape).astype(dtype)), requires_grad=True)
        grad = _special(rng.standard_normal(shape).astype(dtype)[::-1].copy())
        F.relu(x).backward(dark.tensor(grad))
        return x.grad.numpy()
    finally:
        passes_numba.set_enabled(previous)


def _pool_grads(dtype, shape, compiled: bool):
    previous = passes_numba.set_enabled(compiled)
    try:
        rng = np.random.default_rng(4)
        data = rng.standard_normal(shape).astype(dtype)
        flat = data.reshape(-1)
        flat[:-1:7] = flat[1::7]  # ties inside windows
        x = dark.tensor(_special(data), requires_grad=True)
        out = F.max_pool2d(x, 2)
        grad = _special(rng.standard_normal(tuple(out.shape)).astype(dtype))
        out.backward(dark.tensor(grad))
        return x.grad.numpy()
    finally:
        passes_numba.set_enabled(previous)


def _counting(monkeypatch, name):
    kernel = getattr(passes_numba, name)()
    assert kernel is not None
    calls = []

    def counted(*args):
        calls.append(args[-1].size)
        return kernel(*args)

    monkeypatch.setattr(passes_numba, name, lambda entries: counted)
    return calls


def _relu_values(dtype, shape, compiled: bool):
    previous = passes_numba.set_enabled(compiled)
    try:
        rng = np.random.default_rng(5)
        data = _special(rng.standard_normal(shape).astype(dtype))
        if data.size >= 8:  # NaNs with other payloads and signs
            data.reshape(-1)[6:8] = np.array([0x7FC00001, 0xFFC00002], np.uint32).view(
                np.float32).astype(dtype)
        return F.relu(dark.from_numpy(data)).numpy()
    finally:
        passes_numba.set_enabled(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 4000), (2, 3, 1 << 19)])
def test_compiled_relu_is_numpys_maximum_bit_for_bit(dtype, shape, monkeypatch):
    """The compiled forward is numpy's maximum(x, +0.0): -0.0 gives +0.0, a NaN keeps its
    bits; below 8192 entries the numpy path serves."""
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    plain = _relu_values(dtype, shape, compiled=False)
    calls = _counting(monkeypatch, "relu")
    compiled = _relu_values(dtype, shape, compiled=True)
    size = int(np.prod(shape))
    assert sum(calls) == (size if size >= 8192 else 0)
    np.testing.assert_array_equal(compiled.view(np.uint8), plain.view(np.uint8))
    data = np.array([-0.0, np.nan, -1.0, 2.0] * 4096, dtype)
    np.testing.assert_array_equal(F.relu(dark.from_numpy(data)).numpy().view(np.uint8),
                                  np.maximum(data, np.zeros_like(data)).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 4), (2, 3, 1 << 19)])  # small, and in parts
def test_compiled_relu_backward_is_the_numpy_path_bit_for_bit(dtype, shape, monkeypatch):
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    plain = _relu_grads(dtype, shape, compiled=False)
    calls = _counting(monkeypatch, "relu_backward")
    compiled = _relu_grads(dtype, shape, compiled=True)
    assert sum(calls) == int(np.prod(shape))
    assert compiled.dtype == plain.dtype
    np.testing.assert_array_equal(compiled.view(np.uint8), plain.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 4, 2), (2, 3, 6, 8), (16, 32, 48, 48)])
def test_compiled_max_pool_backward_is_the_numpy_path_bit_for_bit(dtype, shape, monkeypatch):
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    plain = _pool_grads(dtype, shape, compiled=False)
    calls = _counting(monkeypatch, "max_pool_2x2_backward")
    compiled = _pool_grads(dtype, shape, compiled=True)
    assert sum(calls) == int(np.prod(shape))
    np.testing.assert_array_equal(compiled.view(np.uint8), plain.view(np.uint8))


def test_other_pools_keep_the_numpy_path(monkeypatch):
    """A 3x3 kernel, or windows that do not tile the input, never reach the 2x2 kernel."""
    def refused(entries):
        raise AssertionError("the 2x2 kernel was asked for")

    monkeypatch.setattr(passes_numba, "max_pool_2x2_backward", refused)
    for kernel, shape in ((3, (1, 2, 6, 6)), (2, (1, 2, 5, 6))):
        x = dark.randn(*shape, requires_grad=True)
        F.max_pool2d(x, kernel).sum().backward()
        assert x.grad.shape == x.shape


def test_numba_is_loaded_only_after_enough_work(monkeypatch):
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    monkeypatch.setattr(passes_numba._KERNELS, "compiled", {})
    monkeypatch.setattr(passes_numba._KERNELS, "streamed", 0)
    assert passes_numba.relu_backward(passes_numba.LOAD_AFTER_ENTRIES - 10) is None
    assert passes_numba.max_pool_2x2_backward(5) is None
    assert passes_numba._KERNELS.compiled == {}
    assert passes_numba.relu_backward(5) is not None
    assert passes_numba.max_pool_2x2_backward(1) is not None
    assert passes_numba.relu(1) is not None
    assert passes_numba.add_tiles(1) is not None


def test_turned_off_or_without_numba_there_is_no_kernel():
    previous = passes_numba.set_enabled(False)
    try:
        assert passes_numba.relu_backward() is None
        assert passes_numba.max_pool_2x2_backward() is None
        assert passes_numba.relu() is None
    finally:
        passes_numba.set_enabled(previous)
    try:
        import numba  # noqa: F401
    except ImportError:
        assert passes_numba.relu_backward() is None
        grads = _relu_grads(np.float32, (3, 4), compiled=True)  # the numpy path serves
        assert grads.shape == (3, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("x_shape, padding", [((3, 5, 9, 11), 1), ((2, 4, 12, 12), 0),
                                              ((2, 3, 6, 7), (2, 0))])
def test_compiled_winograd_tiles_add_is_the_numpy_path_bit_for_bit(dtype, m, x_shape, padding,
                                                                   monkeypatch):
    """The input gradient of a 3x3 convolution on the Winograd path (forced, by the adjoint):
    the compiled overlap-add of its tiles gives the numpy passes' bits, partial tiles and
    padding included, and really ran."""
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")
    import dark._kernels.conv as conv_ops
    import dark._kernels.conv_winograd as conv_winograd

    monkeypatch.setattr(conv_winograd, "TILE", m)
    monkeypatch.setattr(conv_winograd, "INPUT_GRADIENT", "adjoint")
    monkeypatch.setattr(conv_winograd.Winograd, "cost", lambda self: 0)
    monkeypatch.setattr(conv_ops, "_SAMPLE_ROWS", 0)  # thin ones too
    rng = np.random.default_rng(6)
    x = _special(rng.standard_normal(x_shape).astype(dtype))
    w = rng.standard_normal((6, x_shape[1], 3, 3)).astype(dtype)

    def grad_input(compiled):
        previous = passes_numba.set_enabled(compiled)
        try:
            inputs = dark.tensor(x, requires_grad=True)
            out = F.conv2d(inputs, dark.tensor(w), padding=padding)
            out.backward(dark.tensor(np.cos(np.arange(out.numel())).reshape(
                tuple(out.shape)).astype(dtype)))
            return inputs.grad.numpy()
        finally:
            passes_numba.set_enabled(previous)

    plain = grad_input(False)
    calls = _counting(monkeypatch, "add_tiles")
    compiled = grad_input(True)
    assert calls
    np.testing.assert_array_equal(compiled.view(np.uint8), plain.view(np.uint8))


def test_compiled_passes_take_read_only_arrays(monkeypatch):
    """Arrays the kernels only read may be read-only (numpy data behind a tensor, a
    gradient of such data, the broadcast gradient of a sum): each pass takes them, with the
    numpy path's values."""
    pytest.importorskip("numba", reason="the compiled kernels need numba (dark[numba])")

    def read_only(array):
        array.flags.writeable = False
        return dark.from_numpy(array)

    data = np.linspace(-1, 1, 1 << 14, dtype=np.float32).reshape(1, 1, 128, 128)
    for name in ("relu", "relu_backward", "max_pool_2x2_backward"):
        calls = _counting(monkeypatch, name)
        x = read_only(data.copy()).requires_grad_(True)
        out = F.max_pool2d(x, 2) if name == "max_pool_2x2_backward" else F.relu(x)
        out.backward(read_only(np.full(tuple(out.shape), 2, np.float32)))
        expected = np.kron(np.ones((64, 64)), [[0, 0], [0, 2]]).reshape(data.shape) \
            if name == "max_pool_2x2_backward" else 2 * (data > 0)
        np.testing.assert_array_equal(x.grad.numpy(), expected.astype(np.float32))
        assert calls, name
    one = dark.tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    F.max_pool2d(one, 2).sum().backward()  # a (1, 1, 1, 1) gradient: read-only, contiguous
    np.testing.assert_array_equal(one.grad.numpy(), [[[[1, 0], [0, 0]]]])
