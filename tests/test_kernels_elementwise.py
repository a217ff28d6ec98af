"""ReLU's raw kernels (dark._kernels.elementwise) on numpy arrays: the forward's blocked
maximum against numpy's own ``maximum(a, 0)`` bit for bit, and the backward's select against
PyTorch's threshold_backward rule, on every path (small, whole blocks, blocks and a tail, in
parts over the threads, strided)."""
import numpy as np
import pytest

import dark
from dark._kernels import elementwise

BLOCK = elementwise._ZERO_BLOCK
PARTS = elementwise._ELEMENTWISE_PART_ENTRIES
SIZES = [7, BLOCK - 1, BLOCK, 3 * BLOCK, 3 * BLOCK + 5, PARTS + 3]


def _values(size, dtype, seed=0):
    """Random values with the awkward ones sprinkled in: +-0, +-inf, NaN of both signs."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(size).astype(dtype)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan], dtype=dtype)
    a[rng.integers(0, size, size // 5 + 1)] = specials[rng.integers(0, 6, size // 5 + 1)]
    return a


def _same_bits(mine, expected):
    assert mine.dtype == expected.dtype and mine.shape == expected.shape
    bits = np.dtype(f"u{mine.dtype.itemsize}")
    np.testing.assert_array_equal(mine.view(bits), expected.view(bits))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("size", SIZES)
def test_relu_forward_is_numpys_maximum(size, dtype, threads):
    previous = dark.get_num_threads()
    dark.set_num_threads(threads)
    try:
        a = _values(size, dtype)
        _same_bits(elementwise.relu_forward(np, a), np.maximum(a, 0))
        shaped = a[:size - size % 7].reshape(7, -1)
        _same_bits(elementwise.relu_forward(np, shaped), np.maximum(shaped, 0))
    finally:
        dark.set_num_threads(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_relu_forward_other_layouts_and_dtypes(dtype):
    a = (_values(6 * BLOCK, np.float32) * 10).astype(dtype) if dtype != np.float32 else \
        _values(6 * BLOCK, np.float32)
    strided = a.reshape(6, BLOCK)[:, ::3]
    transposed = a.reshape(BLOCK, 6).T
    for array in (a, strided, transposed):
        _same_bits(elementwise.relu_forward(np, array), np.maximum(array, 0))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", SIZES)
def test_relu_backward_selects_where_the_output_is_not_zero(size, dtype, threads):
    """threshold_backward(grad, output, 0): grad where not output <= 0 (a NaN output passes
    it), else exactly 0 even for a NaN or inf gradient."""
    previous = dark.get_num_threads()
    dark.set_num_threads(threads)
    try:
        output = np.maximum(_values(size, dtype, seed=1), 0)
        grad = _values(size, dtype, seed=2)
        expected = np.where(output <= 0, np.zeros((), dtype), grad)
        _same_bits(elementwise.positive_or_zero(np, output, grad), expected)
    finally:
        dark.set_num_threads(previous)


@pytest.mark.parametrize("size", SIZES)
def test_relu_backward_of_the_forward_matches_torch(size):
    torch = pytest.importorskip("torch")
    x = _values(size, np.float32, seed=3)
    grad = _values(size, np.float32, seed=4)
    output = elementwise.relu_forward(np, x)
    mine = elementwise.positive_or_zero(np, output, grad)
    theirs = torch.ops.aten.threshold_backward(torch.from_numpy(grad),
                                                torch.from_numpy(output), 0).numpy()
    _same_bits(mine, theirs)
