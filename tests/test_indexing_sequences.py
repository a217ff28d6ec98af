"""Indices as PyTorch accepts them beyond tensors and ints (range, lists, nested sequences,
numpy arrays and scalars, bool lists, torch's legacy list-as-tuple rule) for reading, writing
and index_put_, and gather/scatter/index_* with a 0-d index. Each case is written once for
``lib`` (dark and torch) with literal expectations, so it also runs without torch."""
import numpy as np
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


# ----------------------------------------------------------------------------- sequences

LEGACY = "non-tuple sequence for multidimensional indexing is deprecated"


def grid(lib):
    return lib.arange(24.0).reshape(4, 6)


class Index:
    """An object with __index__ (torch takes it as an int)."""

    def __index__(self):
        return 2


def rows(t):
    return t[:, 0].tolist()


@pytest.mark.parametrize("lib", LIBS)
def test_read_with_python_sequences(lib):
    x = grid(lib)
    t = lib.tensor
    assert x[range(3), [0, 2, 1]].tolist() == [0.0, 8.0, 13.0]
    assert x[range(2), t([1, 2])].tolist() == [1.0, 8.0]
    assert x[range(3)].shape == (3, 6) and rows(x[range(3)]) == [0, 6, 12]
    assert rows(x[range(0, 4, 2)]) == [0, 12]
    assert x[range(0)].shape == (0, 6) and x[[]].shape == (0, 6)
    assert x[[]].dtype == lib.float32
    assert x[[0, 1]].shape == (2, 6)        # a list: one advanced index
    assert x[(0, 1)].shape == () and x[(0, 1)].item() == 1.0   # a tuple: two ints
    assert x[(0, 1), (1, 2)].tolist() == [1.0, 8.0]
    assert rows(x[[-1, -2]]) == [18, 12]
    assert rows(x[[True, False, True, False]]) == [0, 12]
    assert rows(x[[True, 0]]) == [6, 0]         # bools mixed with ints are ints
    assert x[[True, False, True, False], [0, 1]].tolist() == [0.0, 13.0]
    assert rows(x[[0.5, 1.9]]) == [0, 6]        # numbers truncated as torch.tensor(..., long)
    assert rows(x[[np.int64(0), np.int32(3)]]) == [0, 18]
    assert rows(x[[0] * 40]) == [0] * 40        # long lists are always one index
    assert x[[[0]] * 33].shape == (33, 1, 6)
    assert x[..., [0, 2]].tolist()[1] == [6.0, 8.0]
    assert x[None, [0, 2]].shape == (1, 2, 6)
    assert x[1:, [0, 2]].tolist() == [[6.0, 8.0], [12.0, 14.0], [18.0, 20.0]]
    assert x[[0, 1], None].shape == (2, 1, 6)
    assert x[Index()].tolist() == x[2].tolist() and x[Index(), 1].item() == 13.0
    assert x[0, [1.5]].tolist() == [1.0]


@pytest.mark.parametrize("lib", LIBS)
def test_read_with_numpy_indices(lib):
    x = grid(lib)
    assert rows(x[np.array([0, 2])]) == [0, 12]
    assert rows(x[np.array([3], dtype=np.int8)]) == [18]
    assert rows(x[np.array([1], dtype=np.uint16)]) == [6]
    assert rows(x[np.array([0.7, 1.2])]) == [0, 6]
    assert x[np.array([[0, 1], [1, 2]])].shape == (2, 2, 6)   # an array is one index
    assert rows(x[np.array([True, False, True, False])]) == [0, 12]
    assert x[np.ones((4, 6), bool)].shape == (24,)
    assert x[np.int64(2)].tolist() == x[2].tolist()
    assert x[np.int32(2), 1].item() == 13.0
    assert x[np.uint64(1)].tolist() == x[1].tolist()
    assert x[np.array(1)].tolist() == x[1].tolist()
    assert x[np.int64(1), [0, 2]].tolist() == [6.0, 8.0]


@pytest.mark.parametrize("lib", LIBS)
def test_numpy_and_sequence_scalars_are_views(lib):
    x = lib.zeros(3, 4)
    x[np.array(1)].fill_(1.0)
    x[np.int64(2)][0] = 2.0
    assert x.tolist() == [[0.0] * 4, [1.0] * 4, [2.0, 0.0, 0.0, 0.0]]
    y = lib.zeros(3, 4)
    y[[1]].fill_(5.0)   # a list is advanced indexing: a copy
    assert y.sum().item() == 0.0


@pytest.mark.parametrize("lib", LIBS)
def test_legacy_list_read_as_tuple(lib):
    """torch reads a short list holding a tensor, a sequence, a slice, None or Ellipsis as a
    tuple, with a deprecation warning."""
    x = grid(lib)
    t = lib.tensor
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[[0, 1], [1, 2]]].tolist() == [1.0, 8.0]
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[t([0, 1]), t([1, 2])]].tolist() == [1.0, 8.0]
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[(0, 1), range(1, 3)]].tolist() == [1.0, 8.0]
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[np.array([0, 1]), np.array([1, 2])]].tolist() == [1.0, 8.0]
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[slice(None), 1]].tolist() == [1.0, 7.0, 13.0, 19.0]
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[Ellipsis, 1]].tolist() == [1.0, 7.0, 13.0, 19.0]
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[None, 1]].shape == (1, 6)
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[None]].shape == (1, 4, 6)
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[0, t(1)]].item() == 1.0
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[0, t([1])]].tolist() == [1.0]
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[[0, 1], [1]]].tolist() == [1.0, 7.0]   # ragged: two indices, broadcast
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[True, t([0])]].shape == (1, 6)
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[t(True), t(False)] * 2].shape == (0, 4, 6)
    with pytest.warns(UserWarning, match=LEGACY):
        assert x[[[True, False, True, False]]].shape == (2, 6)
    assert x[[0] * 31 + [t(0)]].shape == (32, 6)    # 32 long: one index, no warning


@pytest.mark.parametrize("lib", LIBS)
def test_sequence_index_errors(lib):
    x = grid(lib)
    t = lib.tensor
    kinds = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
             "are valid indices (got {})")
    assert _err(lambda: x[[0, 7]]) == (
        "IndexError", "index 7 is out of bounds for dimension 0 with size 4")
    assert _err(lambda: x[[0, -7]]) == (
        "IndexError", "index -7 is out of bounds for dimension 0 with size 4")
    assert _err(lambda: x[range(5)]) == (
        "IndexError", "index 4 is out of bounds for dimension 0 with size 4")
    assert _err(lambda: x[[0], [9]]) == (
        "IndexError", "index 9 is out of bounds for dimension 1 with size 6")
    assert _err(lambda: x[np.array([2**40])]) == (
        "IndexError", "index 1099511627776 is out of bounds for dimension 0 with size 4")
    assert _err(lambda: x[[True, False]]) == (
        "IndexError", "The shape of the mask [2] at index 0 does not match the shape of the "
        "indexed tensor [4, 6] at index 0")
    assert _err(lambda: x[np.bool_(True)]) == ("IndexError", kinds.format("numpy.bool"))
    assert _err(lambda: x[0.5]) == ("IndexError", kinds.format("float"))
    assert _err(lambda: x[0, 1.5]) == ("IndexError", kinds.format("float"))
    assert _err(lambda: x[{0, 1}]) == ("IndexError", kinds.format("set"))
    assert _err(lambda: x[{0: 1}]) == ("IndexError", kinds.format("dict"))
    assert _err(lambda: x[np.float32(1)]) == ("IndexError", kinds.format("numpy.float32"))
    assert _err(lambda: x[[[0, 1], [1, 2, 3]], 0]) == (
        "ValueError", "expected sequence of length 2 at dim 1 (got 3)")
    assert _err(lambda: x[[Index(), 1]]) == ("RuntimeError", "Could not infer dtype of Index")
    assert _err(lambda: x[[1j]]) == (
        "TypeError", "'complex' object cannot be interpreted as an integer")
    assert _err(lambda: x[[2**63]]) == ("ValueError", "Overflow when unpacking long long")
    assert _err(lambda: x[0, b"a"]) == ("TypeError", "new(): invalid data type 'bytes'")
    with pytest.warns(UserWarning, match=LEGACY):
        assert _err(lambda: x["a"]) == ("TypeError", "new(): invalid data type 'str'")
    with pytest.warns(UserWarning, match=LEGACY):
        assert _err(lambda: x[[t([1.0])]]) == (
            "IndexError", "tensors used as indices must be long, int, byte or bool tensors")


@pytest.mark.parametrize("lib", LIBS)
def test_write_with_python_sequences(lib):
    t = lib.tensor
    y = lib.zeros(4, 3)
    y[range(3), [0, 2, 1]] = 1.0
    assert y.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0]]
    y = lib.zeros(4, 3)
    y[range(3), t([0, 2, 1])] = t([1.0, 2.0, 3.0])
    assert y.tolist() == [[1, 0, 0], [0, 0, 2], [0, 3, 0], [0, 0, 0]]
    y = lib.zeros(4, 3)
    y[[0, 2]] = t([1.0, 2.0, 3.0])             # broadcast over the two rows
    y[[True, False, False, True], 1] = 5
    y[np.array([1]), np.int64(0)] = np.int64(7)
    y[(3, 2)] = 9.0
    assert y.tolist() == [[1, 5, 3], [7, 0, 0], [1, 2, 3], [0, 5, 9]]
    y = lib.zeros(2, 3, dtype=lib.int64)
    with pytest.warns(UserWarning, match=LEGACY):
        y[[slice(None), 1]] = 4
    y[range(2), [[0], [2]]] = t([[1], [2]])
    assert y.tolist() == [[1, 4, 2], [1, 4, 2]]


@pytest.mark.parametrize("lib", LIBS)
def test_write_with_sequences_errors(lib):
    y = lib.zeros(4, 6)
    assert _err(lambda: y.__setitem__([0, 9], 1)) == (
        "IndexError", "index 9 is out of bounds for dimension 0 with size 4")
    assert _err(lambda: y.__setitem__([0, 1], [1.0] * 6)) == (
        "TypeError", "can't assign a list to a dark.FloatTensor")
    assert _err(lambda: y.__setitem__([0], np.float32(2))) == (
        "TypeError", "can't assign a numpy.float32 to a dark.FloatTensor")
    assert _err(lambda: y.__setitem__([0], np.ones(6))) == (
        "TypeError", "can't assign a numpy.ndarray to a dark.FloatTensor")
    assert _err(lambda: y.__setitem__([0, 1], lib.ones(3))) == (
        "RuntimeError", "shape mismatch: value tensor of shape [3] cannot be broadcast to "
        "indexing result of shape [2, 6]")
    assert _err(lambda: y.__setitem__(range(1), lib.ones(6, dtype=lib.int64))) == (
        "RuntimeError", "Index put requires the source and destination dtypes match, got "
        "Float for the destination and Long for the source.")


@pytest.mark.parametrize("lib", LIBS)
def test_index_put_takes_tensors_only(lib):
    t = lib.tensor
    y = lib.zeros(3, 3)
    y.index_put_((t([0, 1]), t([1, 2])), t(1.0))
    y.index_put_([t([2, 2]), t([0, 0])], t(1.0), accumulate=True)
    y.index_put_((t([True, False, False]),), t(3.0), accumulate=True)
    assert y.tolist() == [[3, 4, 3], [0, 0, 1], [2, 0, 0]]
    assert lib.index_put(y, (t(1, dtype=lib.int32),), t(5.0))[1].tolist() == [5.0] * 3
    for bad, name in (([0, 1], "list"), (range(2), "range"), (np.array([0]), "numpy.ndarray"),
                      (None, "NoneType"), (1, "int")):
        assert _err(lambda bad=bad: y.index_put_((bad,), t(1.0))) == (
            "TypeError", f"expected Tensor as element 0 in argument 0, but got {name}")
    assert _err(lambda: y.index_put_(t([0]), t(1.0))) == (
        "TypeError", "index_put_(): argument 'indices' (position 1) must be tuple of Tensors, "
        "not Tensor")
    assert _err(lambda: y.index_put_((t([0]), t([0]), t([0])), t(1.0))) == (
        "IndexError", "too many indices for tensor of dimension 2 (got 3)")
    assert _err(lambda: y.index_put_((t([0]), t([7])), t(1.0))) == (
        "IndexError", "index 7 is out of bounds for dimension 1 with size 3")


@pytest.mark.parametrize("lib", LIBS)
def test_sequence_index_grad_fn_names(lib):
    a = lib.arange(12.0).reshape(3, 4).requires_grad_()
    names = [type(a[range(2)].grad_fn).__name__,
             type(a[np.int64(1)].grad_fn).__name__,
             type(a[np.array(1)].grad_fn).__name__,
             type(a[[1]].grad_fn).__name__]
    assert names == ["IndexBackward0", "SelectBackward0", "SelectBackward0", "IndexBackward0"]
    out = a[range(3), [0, 2, 0]]
    out.sum().backward()
    assert a.grad.tolist() == [[1, 0, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]]
    a.grad = None
    a[[2, 2, 0]].sum().backward()
    assert a.grad[:, 0].tolist() == [1.0, 0.0, 2.0]


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
def test_sequence_index_gradients():
    rng = np.random.default_rng(0)
    a = dark.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    b = dark.tensor(rng.standard_normal(3), requires_grad=True)
    reads = [lambda x: x[range(3), [0, 2, 0]],
             lambda x: x[[[0, 1], [1, 4]]],
             lambda x: x[np.array([0, 2, 0])],
             lambda x: x[[True, False, True, True]],
             lambda x: x[[slice(None), 1]],
             lambda x: x[1:, [4, 0]],
             lambda x: x[np.int64(3), [1, 1]]]
    for read in reads:
        assert gradcheck(read, (a,))

    def write(x, v):
        y = x * 1
        y[range(3), [0, 2, 0]] = v
        return y

    def write_number(x):
        y = x * 1
        y[[1, 3], np.array([2, 2])] = 2.0
        return y

    assert gradcheck(write, (a, b))
    assert gradcheck(write_number, (a,))
    assert gradcheck(lambda x, v: x.index_put((dark.tensor([0, 0, 1]),
                                               dark.tensor([1, 1, 2])), v, accumulate=True),
                     (a, b))
