"""Indices as PyTorch accepts them beyond tensors and ints (range, lists, nested sequences,
numpy arrays and scalars, bool lists, torch's legacy list-as-tuple rule) for reading, writing
and index_put_, and gather/scatter/index_* with a 0-d index. Each case is written once for
``lib`` (dark and torch) with literal expectations, so it also runs without torch."""
import pytest
from harness import LIBS

import dark
from dark.autograd import gradcheck


def _err(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        return type(error).__name__, str(error).replace("torch.", "dark.")
    return None


# ----------------------------------------------------------------------------- 0-d index

@pytest.mark.parametrize("lib", LIBS)
def test_scatter_one_hot_with_0d_index(lib):
    """PyTorch's transforms tutorial: zeros(10).scatter_(0, tensor(y), value=1)."""
    out = lib.zeros(10, dtype=lib.float).scatter_(0, lib.tensor(7), value=1)
    assert out.dtype == lib.float32
    assert out.tolist() == [0.0] * 7 + [1.0] + [0.0] * 2
    assert lib.zeros(4).scatter_(-1, lib.tensor(1), value=2).tolist() == [0, 2, 0, 0]
    assert lib.zeros(4).scatter(0, lib.tensor(2, dtype=lib.int32), 3.0).tolist() == [0, 0, 3, 0]


@pytest.mark.parametrize("lib", LIBS)
def test_scatter_0d_index_with_src(lib):
    t = lib.tensor
    assert lib.zeros(4).scatter_(0, t(3), t(5.0)).tolist() == [0, 0, 0, 5]
    assert lib.zeros(4).scatter_(0, t(3), t([5.0, 6.0])).tolist() == [0, 0, 0, 5]
    assert lib.scatter(lib.zeros(4), 0, t(1), t([5.0])).tolist() == [0, 5, 0, 0]
    assert lib.zeros(4).scatter_(0, t([3]), t(5.0)).tolist() == [0, 0, 0, 5]
    assert lib.zeros(4).scatter_add(0, t(3), t(5.0)).tolist() == [0, 0, 0, 5]
    assert lib.ones(4).scatter_add_(0, t(0), t([5.0, 1.0])).tolist() == [6, 1, 1, 1]
    assert lib.ones(4).scatter_(0, t(3), 2.0, reduce="multiply").tolist() == [1, 1, 1, 2]
    assert lib.zeros(()).scatter_(0, t(0), value=1).tolist() == 1.0


@pytest.mark.parametrize("lib", LIBS)
def test_gather_and_index_ops_with_0d_index(lib):
    t = lib.tensor
    x = lib.arange(10.0)
    out = x.gather(0, t(3))
    assert out.shape == () and out.item() == 3.0
    assert lib.gather(x, -1, t(9)).item() == 9.0
    assert t(3.0).gather(0, t([0, 0])).tolist() == [3.0, 3.0]
    assert x.index_select(0, t(3)).tolist() == [3.0]
    assert lib.zeros(3).index_add(0, t(1), t([2.0])).tolist() == [0, 2, 0]
    assert lib.zeros(3).index_copy(0, t(1), t(2.0)).tolist() == [0, 2, 0]
    assert lib.zeros(3).index_fill(0, t(1), 2.0).tolist() == [0, 2, 0]


@pytest.mark.parametrize("lib", LIBS)
def test_0d_index_errors(lib):
    t = lib.tensor
    same_self = ("RuntimeError", "Index tensor must have the same number of dimensions as self "
                 "tensor")
    assert _err(lambda: lib.zeros(3, 4).scatter_(0, t(1), value=1)) == same_self
    assert _err(lambda: lib.zeros(3, 4).scatter_(1, t(1), lib.ones(3, 4))) == same_self
    assert _err(lambda: lib.zeros(4).scatter_(0, t([[1]]), value=1)) == same_self
    assert _err(lambda: lib.arange(6.0).reshape(2, 3).gather(0, t(1))) == (
        "RuntimeError", "Index tensor must have the same number of dimensions as input tensor")
    assert _err(lambda: lib.zeros(4).scatter_(1, t(1), value=1)) == (
        "IndexError", "Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    assert _err(lambda: lib.arange(4.0).gather(1, t(1))) == (
        "IndexError", "Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    assert _err(lambda: lib.zeros(4).scatter_(0, t(4), value=1)) == (
        "RuntimeError", "index 4 is out of bounds for dimension 0 with size 4")
    assert _err(lambda: lib.arange(4.0).gather(0, t(-1))) == (
        "RuntimeError", "index -1 is out of bounds for dimension 0 with size 4")
    assert _err(lambda: lib.zeros(4).scatter_(0, t([2, 3]), t(5.0))) == (
        "RuntimeError", "Expected index [2] to be no larger than self [4] apart from dimension 0"
        " and to be no larger size than src []")
    assert _err(lambda: lib.zeros(4).scatter_(0, t(3), t([[5.0]]))) == (
        "RuntimeError", "Index tensor must have the same number of dimensions as src tensor")
    assert _err(lambda: lib.zeros(3, 4).scatter_(0, t([[1]]), t(5.0))) == (
        "RuntimeError", "Index tensor must have the same number of dimensions as src tensor")


def test_0d_index_gradients():
    t = dark.tensor
    x = dark.arange(5.0, dtype=dark.float64).requires_grad_()
    assert gradcheck(lambda a: a.gather(0, t(3)), (x,))
    out = x.gather(0, t(3))
    assert type(out.grad_fn).__name__ == "GatherBackward0"
    out.backward()
    assert x.grad.tolist() == [0, 0, 0, 1, 0]
    src = t(2.0, dtype=dark.float64).requires_grad_()
    assert gradcheck(lambda a, s: a.scatter(0, t(1), s), (x, src))
    assert gradcheck(lambda a, s: a.scatter_add(0, t(4), s), (x, src))
    assert gradcheck(lambda a: a.scatter(0, t(1), 3.0), (x,))
