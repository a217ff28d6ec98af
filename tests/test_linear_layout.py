"""dark._kernels.matmul's x @ W.T of a few rows computed as (W @ x.T).T (the layout OpenBLAS's
AVX-512 kernels pack faster): when it is taken, that its values are x @ W.T's, and that
F.linear gives the same numbers through it with and without a graph. The rule's BLAS check
is set to an AVX-512 OpenBLAS (``avx512``) wherever a test needs the route taken, so that
the tests run the same on any CPU and after any other test."""
import numpy as np
import pytest

import dark
import dark._kernels as kernels
import dark.nn.functional as F
from dark import _parallel


@pytest.fixture
def avx512(monkeypatch):
    """numpy's OpenBLAS as if it ran its SkylakeX kernels, and no product split over dark's
    threads (whether one would be depends on what ran in the last second)."""
    monkeypatch.setattr(_parallel, "blas_core", lambda: "skylakex")
    monkeypatch.setattr(_parallel, "splits_products", lambda multiply_adds: False)


def test_blas_core_names_numpy_s_openblas_kernels():
    core = _parallel.blas_core()
    assert isinstance(core, str) and core == core.lower()
    if not _parallel._blas_control():
        assert core == ""


@pytest.mark.parametrize("core", ["haswell", "zen", ""])
def test_the_rule_is_off_for_other_blas_kernels(core, monkeypatch):
    monkeypatch.setattr(_parallel, "blas_core", lambda: core)
    x, w = _operands(64, 784, 512, np.float32)
    assert not kernels._transposes_product(x, w.T)


def _operands(rows, k, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, k)).astype(dtype),
            rng.standard_normal((n, k)).astype(dtype))


@pytest.mark.parametrize("rows, k, n, taken", [
    (64, 784, 512, True),      # the MLP's first layer at batch 64
    (128, 784, 512, True),
    (16, 512, 256, True),
    (4, 9216, 128, True),      # the MNIST CNN's fc1 at a small batch
    (2, 1024, 1024, True),
    (1, 784, 512, False),      # one row: a matrix-vector product either way
    (4, 512, 256, False),      # < 100**3 multiply-adds: OpenBLAS's small-matrix kernels
    (128, 512, 256, False),    # 2 rows / k + rows / n = 1: even
    (64, 256, 10, False),      # a narrow output
    (256, 784, 512, False),    # many rows: x @ W.T is as fast
])
def test_the_rule_takes_few_rows_against_a_wide_transposed_weight(rows, k, n, taken,
                                                                    avx512):
    x, w = _operands(rows, k, n, np.float32)
    assert kernels._transposes_product(x, w.T) is taken


def test_the_rule_leaves_a_product_split_over_dark_s_threads(avx512, monkeypatch):
    """Split in parts over the pool, each part would pack the whole of x.T: x @ W.T then."""
    x, w = _operands(64, 784, 512, np.float32)
    assert kernels._transposes_product(x, w.T)
    monkeypatch.setattr(_parallel, "splits_products", lambda work: True)
    assert not kernels._transposes_product(x, w.T)


@pytest.mark.parametrize("case", ["c matrix", "f-ordered weight", "mixed dtypes",
                                  "strided rows", "integers"])
def test_the_rule_leaves_other_operands_to_numpy(case, avx512):
    x, w = _operands(64, 784, 1024, np.float32)
    b = {"c matrix": np.ascontiguousarray(w.T),            # no transposed operand
         "f-ordered weight": np.asfortranarray(w).T,       # its transpose is a C matrix
         "mixed dtypes": w.T.astype(np.float64),           # numpy's casting path
         "strided rows": np.concatenate([w, w]).T[:, ::2],  # W's rows not contiguous
         "integers": w.T.astype(np.int32)}[case]
    assert b.shape == (784, 1024)
    assert not kernels._transposes_product(x.astype(np.int32) if case == "integers" else x, b)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("rows, k, n", [(64, 784, 512), (3, 1000, 700), (100, 2048, 300)])
def test_the_transposed_product_is_x_at_w_t(rows, k, n, dtype, tol, avx512):
    x, w = _operands(rows, k, n, dtype, seed=rows)
    assert kernels._transposes_product(x, w.T)
    got = kernels.matmul(x, w.T)
    assert got.shape == (rows, n) and got.dtype == dtype and got.flags.c_contiguous
    exact = x.astype(np.float64) @ w.T.astype(np.float64)
    scale = np.abs(x).astype(np.float64) @ np.abs(w.T).astype(np.float64)
    assert np.max(np.abs(got - exact) / scale) < tol
    np.testing.assert_allclose(got, x @ w.T, rtol=0, atol=tol * scale.max())


def test_the_transposed_product_writes_into_out(avx512):
    x, w = _operands(32, 784, 512, np.float32)
    assert kernels._transposes_product(x, w.T)
    out = np.full((32, 512), np.nan, np.float32)
    result = kernels.matmul(x, w.T, out=out)
    assert result is out
    np.testing.assert_array_equal(out, kernels.matmul(x, w.T))


def test_linear_gives_the_same_numbers_with_and_without_a_graph(avx512):
    dark.manual_seed(0)
    layer = dark.nn.Linear(784, 512)
    x = dark.randn(64, 784)
    assert kernels._transposes_product(x.numpy(), layer.weight.detach().numpy().T)
    recorded = layer(x)
    assert recorded.grad_fn is not None and recorded.is_contiguous()
    with dark.no_grad():
        plain = layer(x)
    np.testing.assert_array_equal(recorded.detach().numpy(), plain.numpy())
    reference = (x.numpy().astype(np.float64) @ layer.weight.detach().numpy().T.astype(
        np.float64) + layer.bias.detach().numpy())
    np.testing.assert_allclose(plain.numpy(), reference, rtol=1e-5, atol=1e-5)
    recorded.sum().backward()  # the backward is unchanged: dW = g.T @ x, dx = g @ W
    np.testing.assert_allclose(layer.weight.grad.numpy(),
                               np.broadcast_to(x.numpy().sum(0), (512, 784)), rtol=1e-5)


def test_linear_matches_torch_through_the_transposed_product(avx512):
    torch = pytest.importorskip("torch")
    dark.manual_seed(1)
    layer = dark.nn.Linear(1024, 1024)
    x = dark.randn(8, 1024, requires_grad=True)
    out = layer(x)
    reference = torch.nn.functional.linear(
        torch.from_numpy(x.detach().numpy()), torch.from_numpy(layer.weight.detach().numpy()),
        torch.from_numpy(layer.bias.detach().numpy()))
    torch.testing.assert_close(torch.from_numpy(out.detach().numpy()), reference)
    F.linear(x, layer.weight, layer.bias).pow(2).sum().backward()
    assert x.grad.shape == (8, 1024)
