"""Sparse COO tensors (dark.sparse_coo) against PyTorch's behaviour: the expected values are
torch 2.13's (written out, so the tests run without torch); where torch is installed, random
cases are compared with it too."""
import numpy as np
import pytest

import dark


def _s(dtype=None):
    return dark.sparse_coo_tensor(dark.tensor([[0, 1, 1], [2, 0, 2]]),
                                  dark.tensor([3., 4., 5.]), (2, 3), dtype=dtype)


def _dup(requires_grad=False):
    """Uncoalesced: (0, 2) twice."""
    return dark.sparse_coo_tensor(dark.tensor([[0, 1, 1, 0], [2, 0, 2, 2]]),
                                  dark.tensor([3., 4., 5., 1.]), (2, 3),
                                  requires_grad=requires_grad)


def test_repr_as_torch():
    assert repr(_s()) == ("tensor(indices=tensor([[0, 1, 1],\n"
                          "                       [2, 0, 2]]),\n"
                          "       values=tensor([3., 4., 5.]),\n"
                          "       size=(2, 3), nnz=3, layout=dark.sparse_coo)")
    assert repr(_s(dark.float64)) == (
        "tensor(indices=tensor([[0, 1, 1],\n"
        "                       [2, 0, 2]]),\n"
        "       values=tensor([3., 4., 5.]),\n"
        "       size=(2, 3), nnz=3, dtype=dark.float64, layout=dark.sparse_coo)")
    empty = dark.sparse_coo_tensor(dark.zeros(2, 0, dtype=dark.int64), dark.zeros(0), (2, 3))
    assert repr(empty) == ("tensor(indices=tensor([], size=(2, 0)),\n"
                           "       values=tensor([], size=(0,)),\n"
                           "       size=(2, 3), nnz=0, layout=dark.sparse_coo)")
    leaf = _s(dark.float64).requires_grad_()
    assert repr(leaf).endswith("size=(2, 3), nnz=3, dtype=dark.float64, "
                               "layout=dark.sparse_coo,\n       requires_grad=True)")


def test_metadata():
    s = _s()
    assert s.is_sparse and s.layout is dark.sparse_coo and str(s.layout) == "dark.sparse_coo"
    assert not dark.ones(2).is_sparse and dark.ones(2).layout is dark.strided
    assert s.shape == dark.Size([2, 3]) and s.size() == (2, 3) and s.size(1) == 3
    assert s.dtype is dark.float32 and s.device == dark.device("cpu") and s.is_cpu
    assert not s.is_cuda and s.dim() == 2 and len(s) == 2 and s.numel() == 6
    assert s._nnz() == 3 and s.sparse_dim() == 2 and s.dense_dim() == 0
    assert dark.ones(2, 3).sparse_dim() == 0 and dark.ones(2, 3).dense_dim() == 2
    assert isinstance(s, dark.Tensor) and type(s) is dark.Tensor
    assert dark.sparse_coo_tensor([[0, 1]], [1., 2.], (3,), is_coalesced=True).is_coalesced()


def test_size_inferred_and_hybrid():
    s = dark.sparse_coo_tensor(dark.tensor([[0, 4], [2, 1]]), dark.tensor([1., 2.]))
    assert s.shape == (5, 3)
    h = dark.sparse_coo_tensor([[0, 1]], [[1., 2.], [3., 4.]], (3, 2))
    assert h.sparse_dim() == 1 and h.dense_dim() == 1
    assert h.to_dense().tolist() == [[1., 2.], [3., 4.], [0., 0.]]


@pytest.mark.parametrize("args, message", [
    (([[0, 1]], [1., 2., 3.], (3,)),
     "indices and values must have same nnz, but got nnz from indices: 2, nnz from values: 3"),
    (([[0, 1]], [1., 2.], (3, 3)),
     "'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = 2, sparse_dim = 1, "
     "dense_dim = 0"),
    (([[0, 1]], [[1., 2.], [3., 4.]], (3, 3)),
     "values has incorrect size, expected [2, 3], got [2, 2]"),
    (([[0, -1]], [1., 2.], (3,)), "found negative index -1 for dim 0"),
    (([[0, -1]], [1., 2.]), "found negative index -1 for dim 0"),
    (([[0, 5]], [1., 2.], (3,)),
     "size is inconsistent with indices: for dim 0, size is 3 but found index 5"),
    (([0, 1], [1., 2.]), "indices must be sparse_dim x nnz, but got: [2]"),
])
def test_construction_errors(args, message):
    with pytest.raises(RuntimeError) as info:
        dark.sparse_coo_tensor(*args)
    assert str(info.value) == message


def test_coalesce_indices_values():
    s = dark.sparse_coo_tensor([[0, 0, 1], [1, 1, 0]], [1., 2., 3.], (2, 2))
    assert not s.is_coalesced()
    with pytest.raises(RuntimeError, match="Cannot get indices on an uncoalesced tensor, "
                                           r"please call .coalesce\(\) first"):
        s.indices()
    with pytest.raises(RuntimeError, match="Cannot get values on an uncoalesced tensor"):
        s.values()
    assert s._indices().tolist() == [[0, 0, 1], [1, 1, 0]]
    assert s._values().tolist() == [1., 2., 3.]
    c = s.coalesce()
    assert c.is_coalesced() and c.coalesce() is c
    assert c.indices().tolist() == [[0, 1], [1, 0]] and c.values().tolist() == [3., 3.]
    # unsorted input: sorted row-major
    u = dark.sparse_coo_tensor([[1, 0, 1], [0, 2, 0]], [1., 2., 3.], (2, 3)).coalesce()
    assert u.indices().tolist() == [[0, 1], [2, 0]] and u.values().tolist() == [2., 4.]
    with pytest.raises(RuntimeError, match="indices expected sparse coordinate tensor layout "
                                           "but got Strided"):
        dark.ones(2).indices()


def test_dense_sparse_conversions():
    d = dark.tensor([[0., 1.], [2., 0.]])
    s = d.to_sparse()
    assert s.is_coalesced() and s.indices().tolist() == [[0, 1], [1, 0]]
    assert s.values().tolist() == [1., 2.] and s.to_dense().tolist() == d.tolist()
    assert d.to_sparse_coo().values().tolist() == [1., 2.]
    rows = dark.ones(2, 3).to_sparse(1)
    assert rows.indices().tolist() == [[0, 1]] and rows.values().shape == (2, 3)
    assert d.to_dense() is d and s.to_sparse() is s
    with pytest.raises(RuntimeError, match=r"dense_to_sparse: sparse_dim argument must be in "
                                           r"\[0,2\] range, but 3 is given"):
        d.to_sparse(3)
    assert _dup().to_dense().tolist() == [[0., 0., 4.], [4., 0., 5.]]


def test_device_dtype_copies():
    s = _s()
    assert s.to("cpu") is s and s.cpu() is s
    d = s.double()
    assert d.is_sparse and d.dtype is dark.float64 and d._values().dtype is dark.float64
    assert s.to(dark.float64).to_dense().tolist() == [[0., 0., 3.], [4., 0., 5.]]
    c = s.clone()
    c._values()[0] = 7.
    assert s._values().tolist() == [3., 4., 5.]
    assert s.detach().is_sparse and not s.detach().requires_grad


def test_arithmetic():
    s = _s()
    assert (s * 2)._values().tolist() == [6., 8., 10.] and (s * 2).is_sparse
    assert (2 * s)._values().tolist() == [6., 8., 10.]
    assert (s / 2)._values().tolist() == [1.5, 2., 2.5]
    assert (-s)._values().tolist() == [-3., -4., -5.]
    assert (dark.ones(2, 3) + s).tolist() == [[1., 1., 4.], [5., 1., 6.]]
    assert (dark.ones(2, 3) - s).tolist() == [[1., 1., -2.], [-3., 1., -4.]]
    assert (s + s).to_dense().tolist() == [[0., 0., 6.], [8., 0., 10.]]
    c = s.coalesce()
    assert (c + c).is_coalesced() and (c + c)._nnz() == 3
    # float32 dense + int64 sparse is float32 (torch's promotion), as in gcn's eye(V) + adj
    adj = dark.sparse_coo_tensor([[0, 1], [1, 0]], dark.ones(2), (2, 2), dtype=dark.int64)
    assert adj.dtype is dark.int64
    out = dark.eye(2) + adj
    assert out.dtype is dark.float32 and out.tolist() == [[1., 1.], [1., 1.]]
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported. Use "
                                           r"add\(dense, sparse\) instead."):
        s + dark.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"add: expected 'self' and 'other' to have same "
                                           r"size, but self has size \[3\] while other has "
                                           r"size \[2, 3\]"):
        dark.ones(3) + s
    prod = s * dark.sparse_coo_tensor([[1, 0], [2, 1]], [2., 9.], (2, 3))
    assert prod.to_dense().tolist() == [[0., 0., 0.], [0., 0., 10.]]


def test_sparse_times_dense():
    s = _dup(requires_grad=True)
    d = dark.arange(6.).reshape(2, 3).requires_grad_()
    out = s * d
    assert out.is_sparse and type(out.grad_fn).__name__ == "MulBackward0"
    assert out._indices().tolist() == [[0, 1, 1, 0], [2, 0, 2, 2]]
    assert out._values().tolist() == [6., 12., 25., 2.]
    assert (d * s.detach())._values().tolist() == [6., 12., 25., 2.]
    out.to_dense().sum().backward()
    # both gradients sparse, as torch's: s's on its coalesced entries, d's on s's entries
    assert s.grad.indices().tolist() == [[0, 1, 1], [2, 0, 2]]
    assert s.grad.values().tolist() == [2., 3., 5.]
    assert d.grad.is_sparse and d.grad._values().tolist() == [3., 4., 5., 1.]
    row = dark.ones(3, requires_grad=True)  # broadcast: a dense gradient, summed down
    (s.detach() * row).to_dense().sum().backward()
    assert row.grad.tolist() == [4., 0., 9.]


def test_sums():
    s = _s()
    total = dark.sum(s)
    assert not total.is_sparse and total.item() == 12.
    rows = dark.sum(s, dim=1)
    assert rows.is_sparse and rows.shape == (2,) and rows.to_dense().tolist() == [3., 9.]
    assert s.sum(dim=-1).to_dense().tolist() == [3., 9.]
    cols = dark.sparse.sum(s, dim=0)
    assert cols.indices().tolist() == [[0, 2]] and cols.values().tolist() == [4., 8.]
    assert dark.sparse.sum(s).item() == 12.
    assert dark.sum(s, dim=(0, 1)).item() == 12.
    assert dark.sum(dark.sparse_coo_tensor([[0, 1]], [1, 2], (2,))).dtype is dark.int64


def test_transposes():
    t = _s().t()
    assert t.shape == (3, 2) and t._indices().tolist() == [[2, 0, 2], [0, 1, 1]]
    assert not t.is_coalesced()
    assert t.coalesce().indices().tolist() == [[0, 2, 2], [1, 0, 1]]
    assert _s().transpose(0, 1).to_dense().tolist() == [[0., 4.], [0., 0.], [3., 5.]]


def test_products():
    s = _s()
    d = dark.ones(3, 2)
    assert dark.spmm(s, d).tolist() == [[3., 3.], [9., 9.]]
    assert dark.mm(s, d).tolist() == [[3., 3.], [9., 9.]]
    assert (s @ d).tolist() == [[3., 3.], [9., 9.]]
    assert dark.sparse.mm(s, d).tolist() == [[3., 3.], [9., 9.]]
    assert dark.matmul(s, dark.ones(3)).tolist() == [3., 9.]
    assert dark.sparse.mm(dark.ones(2, 3), d).tolist() == [[3., 3.], [3., 3.]]
    assert dark.spmm(dark.ones(2, 3), d).tolist() == [[3., 3.], [3., 3.]]
    assert (dark.ones(2, 2) @ s).tolist() == [[4., 0., 8.], [4., 0., 8.]]
    ss = s @ s.t()
    assert ss.is_sparse and ss.indices().tolist() == [[0, 0, 1, 1], [0, 1, 0, 1]]
    assert ss.values().tolist() == [9., 15., 15., 41.]
    assert dark.mm(s, s.t()).to_dense().tolist() == [[9., 15.], [15., 41.]]
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied"):
        dark.mm(s, dark.ones(2, 2))
    with pytest.raises(RuntimeError):
        dark.mm(s, dark.ones(3, 2, dtype=dark.float64))


def test_unsupported_ops_raise():
    s = _s()
    with pytest.raises(NotImplementedError, match=r"Could not run 'exp' with arguments from "
                                                  r"the 'SparseCPU' backend.*sparse_coo"):
        dark.exp(s)
    with pytest.raises(NotImplementedError, match="'SparseCPU'"):
        s.mean()
    with pytest.raises(NotImplementedError, match="'SparseCPU'"):
        s.view(6)
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        s + 1
    with pytest.raises(TypeError, match="can't convert Sparse layout tensor to numpy. Use "
                                        r"Tensor.to_dense\(\) first."):
        s.numpy()
    with pytest.raises(TypeError, match="can't convert Sparse layout tensor to numpy"):
        np.asarray(s._data)
    with pytest.raises(RuntimeError, match="a Tensor with 6 elements cannot be converted to "
                                           "Scalar"):
        s.item()


# ----------------------------------------------------------------------------- gradients

def test_values_gradient_through_products():
    for mm, name in ((dark.sparse.mm, "SparseAddmmBackward0"), (dark.mm, "MmBackward0")):
        v = dark.tensor([3., 4., 5., 1.], requires_grad=True)
        s = dark.sparse_coo_tensor(dark.tensor([[0, 1, 1, 0], [2, 0, 2, 2]]), v, (2, 3))
        assert type(s.grad_fn).__name__ == "SparseCooTensorWithDimsAndTensorsBackward0"
        d = dark.arange(6.).reshape(3, 2).requires_grad_()
        out = mm(s, d)
        assert type(out.grad_fn).__name__ == name
        out.sum().backward()
        # each uncoalesced entry gets the gradient of its position
        assert v.grad.tolist() == [9., 1., 9., 9.]
        assert d.grad.tolist() == [[4., 4.], [0., 0.], [9., 9.]]


def test_sparse_leaf_gradients():
    sl = _dup(requires_grad=True)
    d = dark.arange(6.).reshape(3, 2)
    # torch.sparse.mm: sparse, on the (coalesced) entries
    dark.sparse.mm(sl, d).sum().backward()
    assert sl.grad.is_sparse and sl.grad.indices().tolist() == [[0, 1, 1], [2, 0, 2]]
    assert sl.grad.values().tolist() == [9., 1., 9.]
    sl.grad = None
    # torch.mm / spmm: dense
    dark.spmm(sl, d).sum().backward()
    assert not sl.grad.is_sparse and sl.grad.tolist() == [[1., 5., 9.], [1., 5., 9.]]
    sl.grad = None
    (sl.to_dense() * dark.arange(6.).reshape(2, 3)).sum().backward()
    assert sl.grad.is_sparse and sl.grad.values().tolist() == [2., 3., 5.]
    sl.grad = None
    (dark.ones(2, 3) + sl).sum().backward()
    assert not sl.grad.is_sparse and sl.grad.tolist() == [[1.] * 3] * 2
    sl.grad = None
    dark.sparse.sum(sl).backward()
    assert sl.grad.is_sparse and sl.grad.values().tolist() == [1., 1., 1.]
    sl.grad = None
    dark.sum(sl).backward()
    assert not sl.grad.is_sparse and sl.grad.tolist() == [[1.] * 3] * 2
    sl.grad = None
    dark.sum(sl, dim=(0, 1)).backward()
    assert not sl.grad.is_sparse and sl.grad.tolist() == [[1.] * 3] * 2
    sl.grad = None
    (sl * 2).to_dense().sum().backward()
    assert sl.grad.values().tolist() == [2., 2., 2.]
    # a second backward adds sparse to sparse
    (sl * 2).to_dense().sum().backward()
    assert sl.grad.to_dense().tolist() == [[0., 0., 4.], [4., 0., 4.]]
    sl.grad = None
    (dark.ones(2, 2) @ sl).sum().backward()
    assert sl.grad.tolist() == [[2.] * 3] * 2
    sl.grad = None
    (sl.t().to_dense() * dark.arange(6.).reshape(3, 2)).sum().backward()
    assert sl.grad.to_dense().tolist() == [[0., 0., 4.], [1., 0., 5.]]
    sl.grad = None
    dark.sparse.sum(sl, dim=1).to_dense().sum().backward()
    assert sl.grad.values().tolist() == [1., 1., 1.]
    assert type(dark.sparse.sum(sl, dim=1).grad_fn).__name__ == "SparseSumBackward0"
    assert type(dark.sum(sl, dim=1).grad_fn).__name__ == "SumBackward1"


def test_to_sparse_gradient():
    x = dark.tensor([[0., 1.], [2., 0.]], requires_grad=True)
    s = x.to_sparse()
    assert type(s.grad_fn).__name__ == "ToSparseBackward1"
    dark.sparse.mm(s, dark.ones(2, 1)).sum().backward()
    assert x.grad.tolist() == [[0., 1.], [1., 0.]]  # sparse.mm: on the entries only
    x.grad = None
    dark.mm(x.to_sparse(), dark.ones(2, 1)).sum().backward()
    assert x.grad.tolist() == [[1., 1.], [1., 1.]]


def test_softmax():
    sl = _s().requires_grad_()
    out = dark.sparse.softmax(sl, 1)
    assert type(out.grad_fn).__name__ == "SparseSoftmaxBackward0"
    np.testing.assert_allclose(out._values().tolist(), [1.0, 0.26894142, 0.73105858],
                               rtol=1e-6)
    (out.to_dense() * dark.arange(6.).reshape(2, 3)).sum().backward()
    np.testing.assert_allclose(sl.grad._values().tolist(), [0., -0.39322388, 0.39322388],
                               atol=1e-6)
    np.testing.assert_allclose(dark.sparse.log_softmax(_s(), 1)._values().tolist(),
                               [0., -1.31326169, -0.31326169], rtol=1e-6)


def test_huge_shapes_never_densify():
    """A 10^7 x 10^7 matrix with a few entries: products, sums, coalescing and transposes work
    on the entries alone (a dense copy would need 400 TB)."""
    n = 10 ** 7
    s = dark.sparse_coo_tensor([[5, n - 1, 5], [n - 1, 0, n - 1]], [1., 2., 3.], (n, n))
    c = s.coalesce()
    assert c.indices().tolist() == [[5, n - 1], [n - 1, 0]] and c.values().tolist() == [4., 2.]
    rows = dark.sum(s, dim=1)
    assert rows._indices().tolist() == [[5, n - 1]] and rows._values().tolist() == [4., 2.]
    v = dark.zeros(n, 1)
    v[0, 0], v[n - 1, 0] = 10., 1.
    out = dark.sparse.mm(s, v)
    assert out[5, 0].item() == 4. and out[n - 1, 0].item() == 20. and out.sum().item() == 24.
    square = s @ s.t()
    assert square.indices().tolist() == [[5, n - 1], [5, n - 1]]
    assert square.values().tolist() == [16., 4.]


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(0)
    n, k, m, nnz = 40, 30, 5, 200
    idx = np.stack([rng.randint(0, n, nnz), rng.randint(0, k, nnz)])
    vals = rng.randn(nnz).astype(np.float32)
    dense = rng.randn(k, m).astype(np.float32)
    ts = torch.sparse_coo_tensor(torch.from_numpy(idx), torch.from_numpy(vals), (n, k))
    ds = dark.sparse_coo_tensor(idx, vals, (n, k))
    tc, dc = ts.coalesce(), ds.coalesce()
    np.testing.assert_array_equal(dc.indices().numpy(), tc.indices().numpy())
    np.testing.assert_allclose(dc.values().numpy(), tc.values().numpy(), rtol=1e-6)
    for sparse_mm in ("mm", "sparse_mm"):
        tl = tc.clone().requires_grad_()
        dl = dc.clone().requires_grad_()
        td = torch.from_numpy(dense).requires_grad_()
        dd = dark.tensor(dense, requires_grad=True)
        t_out = torch.sparse.mm(tl, td) if sparse_mm == "sparse_mm" else torch.mm(tl, td)
        d_out = dark.sparse.mm(dl, dd) if sparse_mm == "sparse_mm" else dark.mm(dl, dd)
        np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        weights = rng.randn(n, m).astype(np.float32)
        (t_out * torch.from_numpy(weights)).sum().backward()
        (d_out * dark.tensor(weights)).sum().backward()
        np.testing.assert_allclose(dd.grad.numpy(), td.grad.numpy(), rtol=1e-5, atol=1e-6)
        t_grad = tl.grad.to_dense().numpy() if tl.grad.is_sparse else tl.grad.numpy()
        d_grad = dl.grad.to_dense().numpy() if dl.grad.is_sparse else dl.grad.numpy()
        assert dl.grad.is_sparse == tl.grad.is_sparse
        np.testing.assert_allclose(d_grad, t_grad, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dark.sum(ds, dim=0).to_dense().numpy(),
                               torch.sum(ts, dim=0).to_dense().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dark.sparse.softmax(ds, 1).to_dense().numpy(),
                               torch.sparse.softmax(ts, 1).to_dense().numpy(), rtol=1e-5,
                               atol=1e-6)
    other = np.stack([rng.randint(0, k, 50), rng.randint(0, 7, 50)])
    other_vals = rng.randn(50).astype(np.float32)
    mine = ds @ dark.sparse_coo_tensor(other, other_vals, (k, 7))
    theirs = torch.sparse.mm(ts, torch.sparse_coo_tensor(torch.from_numpy(other),
                                                         torch.from_numpy(other_vals), (k, 7)))
    theirs = theirs.coalesce()
    np.testing.assert_array_equal(mine.indices().numpy(), theirs.indices().numpy())
    np.testing.assert_allclose(mine.values().numpy(), theirs.values().numpy(), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose((dark.tensor(dense.T) @ ds.t()).numpy(),
                               (torch.from_numpy(dense.T) @ ts.t()).numpy(), rtol=1e-5,
                               atol=1e-5)


# ----------------------------------------------------------------------------- Embedding

def test_embedding_sparse_gradient():
    e = dark.nn.Embedding(5, 2, sparse=True, padding_idx=1)
    e(dark.tensor([[0, 1, 3], [3, 4, 1]])).sum().backward()
    grad = e.weight.grad
    assert grad.is_sparse and not grad.is_coalesced() and grad.shape == (5, 2)
    # one entry per index used, padding_idx's left out (torch's)
    assert grad._indices().tolist() == [[0, 3, 3, 4]]
    assert grad._values().tolist() == [[1., 1.]] * 4
    # a second backward merges the sorted entries in order, as torch's sparse add
    e(dark.tensor([2])).sum().backward()
    assert e.weight.grad._indices().tolist() == [[0, 2, 3, 3, 4]]
    assert e.weight.grad.to_dense().tolist() == [[1., 1.], [0., 0.], [1., 1.], [2., 2.],
                                                 [1., 1.]]
    dense = dark.nn.Embedding(5, 2)
    dense(dark.tensor([0])).sum().backward()
    assert not dense.weight.grad.is_sparse
    freq = dark.nn.Embedding(5, 2, sparse=True, scale_grad_by_freq=True)
    with pytest.raises(RuntimeError, match="embedding_backward: scale_grad_by_freq not "
                                           "supported with sparse gradients"):
        freq(dark.tensor([0, 0])).sum().backward()


def test_sparse_add_merges_sorted_entries():
    s = _s()
    twice = s + s  # sorted, uncoalesced: entry k of an index meets entry k of the other
    assert twice._indices().tolist() == [[0, 1, 1], [2, 0, 2]] and not twice.is_coalesced()
    assert twice._values().tolist() == [6., 8., 10.]
    # unsorted operands: dark puts the entries side by side (torch's merge walk pairs some
    # of them: 4 entries here); the tensor is the same
    assert (_dup() + s).to_dense().tolist() == [[0., 0., 7.], [8., 0., 10.]]


def test_sparse_adam_on_embedding_against_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        lib.manual_seed(0)
        e = lib.nn.Embedding(20, 4, sparse=True, padding_idx=3)
        head = lib.nn.Linear(4, 1)
        optimizers = [lib.optim.SparseAdam(e.parameters(), lr=0.05),
                      lib.optim.Adam(head.parameters(), lr=0.05)]
        rng = np.random.RandomState(0)
        for _ in range(5):
            x = lib.tensor(rng.randint(0, 20, (6, 3)))
            for optimizer in optimizers:
                optimizer.zero_grad()
            head(e(x)).pow(2).mean().backward()
            for optimizer in optimizers:
                optimizer.step()
        state = optimizers[0].state_dict()["state"][0]
        return (e.weight.detach().numpy().copy(), state["step"],
                state["exp_avg"].numpy(), state["exp_avg_sq"].numpy())

    mine, theirs = run(dark), run(torch)
    assert mine[1] == theirs[1] == 5
    for a, b in zip(mine[::2] + mine[3:], theirs[::2] + theirs[3:]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- saving

def test_pickle_and_save_round_trip(tmp_path):
    import pickle
    s = _dup(requires_grad=True)
    back = pickle.loads(pickle.dumps(s))
    assert back.is_sparse and back.requires_grad and not back.is_coalesced()
    assert back._indices().tolist() == s._indices().tolist()
    assert back._values().tolist() == s._values().tolist()
    path = tmp_path / "adj.pt"
    dark.save({"adj": _s().coalesce(), "raw": _dup()}, path)
    loaded = dark.load(path)
    assert loaded["adj"].is_coalesced() and loaded["adj"].indices().tolist() == [[0, 1, 1],
                                                                                  [2, 0, 2]]
    assert loaded["raw"]._nnz() == 4 and not loaded["raw"].is_coalesced()
    assert loaded["raw"].to_dense().tolist() == [[0., 0., 4.], [4., 0., 5.]]


def test_save_load_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "dark.pt"
    dark.save(_s().coalesce(), path)
    theirs = torch.load(path)  # weights_only: torch's own sparse record
    assert theirs.is_sparse and theirs.is_coalesced()
    assert theirs.to_dense().tolist() == [[0., 0., 3.], [4., 0., 5.]]
    path = tmp_path / "torch.pt"
    torch.save(torch.tensor([[0., 2.], [1., 0.]]).to_sparse(), path)
    mine = dark.load(path)
    assert mine.is_sparse and mine.is_coalesced() and mine.values().tolist() == [2., 1.]


def test_factories_with_the_sparse_layout():
    z = dark.zeros(2, 3, layout=dark.sparse_coo, requires_grad=True)
    assert z.is_sparse and z._nnz() == 0 and z.shape == (2, 3) and z.is_coalesced()
    assert z.requires_grad and z._indices().shape == (2, 0)
    assert dark.empty(2, layout=dark.sparse_coo).is_sparse
    s = _s()
    like = dark.zeros_like(s)
    assert like.is_sparse and like._nnz() == 0 and like.shape == (2, 3)
    assert dark.empty_like(s).is_sparse
    assert not dark.zeros_like(s, layout=dark.strided).is_sparse
    assert dark.zeros_like(dark.ones(2), layout=dark.sparse_coo).is_sparse
    hybrid = dark.sparse_coo_tensor([[0]], [[1., 2.]], (2, 2))
    assert dark.zeros_like(hybrid)._values().shape == (0, 2)
    assert not dark.zeros(2).is_sparse and not dark.zeros_like(dark.ones(2)).is_sparse
    with pytest.raises(RuntimeError, match=r"full\(...\) is not implemented for sparse layout"):
        dark.ones(2, layout=dark.sparse_coo)
    with pytest.raises(RuntimeError, match=r"full\(...\) is not implemented for sparse layout"):
        dark.full((2,), 1., layout=dark.sparse_coo)
    for make in (lambda: dark.ones_like(s), lambda: dark.full_like(s, 2.),
                 lambda: dark.eye(2, layout=dark.sparse_coo)):
        with pytest.raises(NotImplementedError, match="'SparseCPU'"):
            make()
