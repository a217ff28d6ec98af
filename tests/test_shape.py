"""Shape and movement ops: the op table (values, gradients, second derivatives, torch
parity), views sharing memory and version counters, copies not sharing, grad_fn names,
in-place view forms, and PyTorch's errors."""
import warnings

import numpy as np
import pytest
from harness import LIBS, Case, check_case, ids, requires_torch, torch

import dark


def _mixed(rng):
    return [rng.standard_normal((2, 3)), rng.integers(-5, 5, (1, 3))]


CASES = [
    # reshape / view family
    Case("reshape", lambda t, a: a.reshape(4, -1), [(2, 3, 4)]),
    Case("reshape_noncontiguous", lambda t, a: a.t().reshape(-1), [(3, 4)]),
    Case("reshape_list", lambda t, a: t.reshape(a, [2, -1]), [(3, 4)]),
    Case("reshape_0d", lambda t, a: a.reshape(1, 1), [()]),
    Case("reshape_empty", lambda t, a: a.reshape(3, 0), [(0, 3)]),
    Case("view", lambda t, a: a.view(6, 4), [(2, 3, 4)]),
    Case("view_flat", lambda t, a: a.view(-1), [(2, 3, 4)]),
    Case("view_tuple", lambda t, a: a.view((4, 6)), [(2, 3, 4)]),
    Case("view_0d", lambda t, a: a.view(1), [()]),
    Case("view_as", lambda t, a, b: a.view_as(b), [(2, 6), (3, 4)], grad_inputs=(0,)),
    Case("reshape_as", lambda t, a, b: a.t().reshape_as(b), [(2, 6), (3, 4)],
         grad_inputs=(0,)),
    Case("flatten", lambda t, a: t.flatten(a), [(2, 3, 4)]),
    Case("flatten_range", lambda t, a: a.flatten(1), [(2, 3, 4)]),
    Case("flatten_negative", lambda t, a: a.flatten(-3, -2), [(2, 3, 4)]),
    Case("flatten_same_dim", lambda t, a: a.flatten(1, 1), [(2, 3)]),
    Case("flatten_0d", lambda t, a: a.flatten(), [()]),
    Case("flatten_transposed", lambda t, a: a.mT.flatten(), [(2, 3, 4)]),
    Case("unflatten", lambda t, a: a.unflatten(1, (2, 2)), [(3, 4)]),
    Case("unflatten_inferred", lambda t, a: t.unflatten(a, -1, (-1, 2)), [(3, 4)]),
    Case("ravel_transposed", lambda t, a: t.ravel(a.t()), [(3, 4)]),
    # squeeze / unsqueeze
    Case("squeeze_all", lambda t, a: a.squeeze(), [(1, 3, 1, 2)]),
    Case("squeeze_dim", lambda t, a: t.squeeze(a, -2), [(1, 3, 1, 2)]),
    Case("squeeze_not_one", lambda t, a: a.squeeze(1), [(1, 3, 1, 2)]),
    Case("squeeze_tuple", lambda t, a: a.squeeze((0, 1, -2)), [(1, 3, 1, 2)]),
    Case("squeeze_0d", lambda t, a: a.squeeze(0), [()]),
    Case("unsqueeze", lambda t, a: t.unsqueeze(a, 1), [(3, 4)]),
    Case("unsqueeze_end", lambda t, a: a.unsqueeze(-1), [(3, 4)]),
    Case("unsqueeze_0d", lambda t, a: a.unsqueeze(0), [()]),
    Case("unsqueeze_empty", lambda t, a: a.unsqueeze(0), [(0, 2)], gradgrad=False),
    # transposes
    Case("permute_varargs", lambda t, a: a.permute(2, 0, 1), [(2, 3, 4)]),
    Case("permute_tuple_negative", lambda t, a: t.permute(a, (-1, 0, -2)), [(2, 3, 4)]),
    Case("permute_0d", lambda t, a: a.permute(()), [()]),
    Case("transpose", lambda t, a: t.transpose(a, 0, -1), [(2, 3, 4)]),
    Case("transpose_0d", lambda t, a: a.transpose(0, -1), [()]),
    Case("swapaxes", lambda t, a: t.swapaxes(a, 0, 1), [(2, 3, 4)]),
    Case("swapdims", lambda t, a: a.swapdims(-1, 1), [(2, 3, 4)]),
    Case("t_2d", lambda t, a: t.t(a), [(3, 4)]),
    Case("t_1d", lambda t, a: a.t(), [(3,)]),
    Case("t_0d", lambda t, a: a.t(), [()]),
    Case("T_2d", lambda t, a: a.T, [(3, 4)]),
    Case("mT", lambda t, a: a.mT, [(2, 3, 4)]),
    Case("mH_real", lambda t, a: a.mH, [(2, 3, 4)]),
    Case("H_real", lambda t, a: a.H, [(3, 4)]),
    Case("movedim", lambda t, a: t.movedim(a, 0, 2), [(2, 3, 4)]),
    Case("movedim_tuple", lambda t, a: a.movedim((-1, 0), (0, -1)), [(2, 3, 4)]),
    Case("moveaxis", lambda t, a: t.moveaxis(a, -1, 0), [(2, 3, 4)]),
    Case("movedim_0d", lambda t, a: a.movedim(0, -1), [()]),
    # expand / repeat
    Case("expand", lambda t, a: a.expand(2, 3, 4), [(3, 1)]),
    Case("expand_leading", lambda t, a: a.expand(2, -1, 4), [(3, 1)]),
    Case("expand_as", lambda t, a, b: a.expand_as(b), [(3, 1), (2, 3, 4)], grad_inputs=(0,)),
    Case("expand_0d", lambda t, a: a.expand(2, 3), [()]),
    Case("repeat", lambda t, a: a.repeat(2, 3), [(2, 3)]),
    Case("repeat_leading", lambda t, a: a.repeat((2, 1, 3)), [(2, 3)]),
    Case("repeat_zero", lambda t, a: a.repeat(0, 2), [(2, 3)], gradgrad=False),
    Case("repeat_0d", lambda t, a: a.repeat(2, 3), [()]),
    Case("tile_pad", lambda t, a: t.tile(a, (2,)), [(2, 3)]),
    Case("tile_more", lambda t, a: a.tile(2, 1, 2), [(2, 3)]),
    # joining
    Case("cat", lambda t, a, b: t.cat([a, b]), [(2, 3), (4, 3)]),
    Case("cat_last_dim", lambda t, a, b, c: t.cat((a, b, c), -1), [(2, 3), (2, 1), (2, 2)]),
    Case("cat_promote", lambda t, a, b: t.cat([a, b]), make=_mixed),
    Case("cat_skips_empty_1d", lambda t, a, b: t.cat([a, b], 1), [(2, 3), (0,)]),
    Case("cat_empty_2d", lambda t, a, b: t.cat([a, b]), [(0, 3), (2, 3)]),
    Case("concat", lambda t, a, b: t.concat([a, b], dim=1), [(2, 3), (2, 2)]),
    Case("concatenate_axis", lambda t, a, b: t.concatenate([a, b], axis=1), [(2, 3), (2, 2)]),
    Case("stack", lambda t, a, b: t.stack([a, b]), [(2, 3), (2, 3)]),
    Case("stack_last", lambda t, a, b: t.stack((a, b), -1), [(2, 3), (2, 3)]),
    Case("stack_0d", lambda t, a, b: t.stack([a, b]), [(), ()]),
    Case("stack_promote", lambda t, a, b: t.stack([a, b]),
         make=lambda rng: [rng.standard_normal(3), rng.integers(0, 4, 3)]),
    Case("hstack_1d", lambda t, a, b: t.hstack([a, b]), [(3,), (2,)]),
    Case("hstack_2d", lambda t, a, b: t.hstack([a, b]), [(2, 3), (2, 1)]),
    Case("vstack", lambda t, a, b: t.vstack([a, b]), [(3,), (2, 3)]),
    Case("vstack_0d", lambda t, a, b: t.vstack([a, b]), [(), ()]),
    Case("dstack", lambda t, a, b: t.dstack([a, b]), [(3,), (1, 3)]),
    Case("atleast_1d", lambda t, a: t.atleast_1d(a), [()]),
    Case("atleast_2d", lambda t, a, b: t.atleast_2d(a, b), [(3,), (2, 3)]),
    Case("atleast_3d", lambda t, a, b: t.atleast_3d([a, b]), [(3,), (2, 3)]),
    # splitting
    Case("split_int", lambda t, a: a.split(2), [(5, 3)]),
    Case("split_sizes_dim", lambda t, a: t.split(a, [1, 3], dim=-1), [(2, 4)]),
    Case("split_bigger", lambda t, a: a.split(7), [(5, 3)]),
    Case("split_one_used", lambda t, a: a.split(2)[1] * 2, [(5, 3)]),
    Case("chunk", lambda t, a: a.chunk(3), [(5,)]),
    Case("chunk_dim", lambda t, a: t.chunk(a, 2, -1), [(2, 4)]),
    Case("chunk_fewer", lambda t, a: a.chunk(4), [(6,)]),
    Case("unbind", lambda t, a: a.unbind(), [(3, 2)]),
    Case("unbind_negative", lambda t, a: t.unbind(a, -1), [(2, 3)]),
    Case("unbind_one_used", lambda t, a: a.unbind(1)[2], [(2, 3)]),
    Case("narrow", lambda t, a: a.narrow(0, 1, 2), [(4, 3)]),
    Case("narrow_negative_start", lambda t, a: t.narrow(a, -1, -2, 2), [(4, 3)]),
    Case("narrow_empty", lambda t, a: a.narrow(1, 3, 0), [(4, 3)], gradgrad=False),
    # flips and rolls (copies)
    Case("flip", lambda t, a: a.flip(0), [(3, 4)]),
    Case("flip_dims", lambda t, a: t.flip(a, (0, -1)), [(2, 3, 4)]),
    Case("flip_none", lambda t, a: a.flip(()), [(3, 4)]),
    Case("flip_0d", lambda t, a: a.flip(0), [()]),
    Case("fliplr", lambda t, a: t.fliplr(a), [(3, 4)]),
    Case("flipud", lambda t, a: a.flipud(), [(3, 4)]),
    Case("roll_flat", lambda t, a: a.roll(2), [(3, 4)]),
    Case("roll_dim", lambda t, a: t.roll(a, -1, 1), [(3, 4)]),
    Case("roll_dims", lambda t, a: a.roll((1, 5), (0, -1)), [(3, 4)]),
    Case("roll_0d", lambda t, a: a.roll(1), [()]),
    Case("roll_empty", lambda t, a: a.roll(1, 0), [(0, 3)], gradgrad=False),
    # triangles and diagonals
    Case("tril", lambda t, a: a.tril(), [(3, 4)]),
    Case("tril_offset_batched", lambda t, a: t.tril(a, -1), [(2, 3, 4)]),
    Case("triu", lambda t, a: t.triu(a), [(4, 3)]),
    Case("triu_offset", lambda t, a: a.triu(diagonal=2), [(3, 4)]),
    Case("tril_empty", lambda t, a: a.tril(), [(0, 3)], gradgrad=False),
    Case("diag_vector", lambda t, a: t.diag(a), [(3,)]),
    Case("diag_vector_offset", lambda t, a: a.diag(-2), [(3,)]),
    Case("diag_matrix", lambda t, a: t.diag(a), [(3, 4)]),
    Case("diag_matrix_offset", lambda t, a: a.diag(1), [(3, 4)]),
    Case("diag_matrix_out_of_range", lambda t, a: a.diag(5), [(3, 4)], gradgrad=False),
    Case("diagonal", lambda t, a: a.diagonal(), [(3, 4)]),
    Case("diagonal_offset", lambda t, a: t.diagonal(a, offset=-1), [(3, 4)]),
    Case("diagonal_dims", lambda t, a: a.diagonal(1, 0, 2), [(2, 3, 4)]),
    Case("diagonal_swapped_dims", lambda t, a: t.diagonal(a, 1, -1, 0), [(3, 4)]),
    Case("diag_embed", lambda t, a: t.diag_embed(a), [(2, 3)]),
    Case("diag_embed_dims", lambda t, a: a.diag_embed(1, 0, 2), [(2, 3)]),
    Case("outer", lambda t, a, b: t.outer(a, b), [(3,), (4,)]),
    Case("ger", lambda t, a, b: a.ger(b), [(3,), (2,)]),
    Case("outer_int", lambda t, a, b: t.outer(a, b),
         make=lambda rng: [rng.integers(0, 5, 2), rng.standard_normal(3)]),
    # copies
    Case("contiguous", lambda t, a: a.t().contiguous(), [(3, 4)]),
    Case("clone", lambda t, a: t.clone(a), [(3, 4)]),
    Case("clone_transposed", lambda t, a: a.t().clone(), [(3, 4)]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


def _pair(lib, shape, device=None):
    """The same tensor 0, 1, 2 ... in ``lib`` (dark on ``device``, or torch)."""
    values = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    if lib is dark:
        return dark.tensor(values, device=device)
    return torch.tensor(values)


VIEWS = [
    ("view", lambda x: x.view(4, 3), (3, 4)),
    ("reshape", lambda x: x.reshape(2, 6), (3, 4)),
    ("view_as", lambda x: x.view_as(x.t()), (3, 4)),
    ("flatten", lambda x: x.flatten(), (2, 3, 2)),
    ("unflatten", lambda x: x.unflatten(1, (2, 2)), (3, 4)),
    ("squeeze", lambda x: x.squeeze(), (1, 3, 1)),
    ("unsqueeze", lambda x: x.unsqueeze(0), (3, 4)),
    ("permute", lambda x: x.permute(1, 0, 2), (2, 3, 2)),
    ("transpose", lambda x: x.transpose(0, 1), (3, 4)),
    ("t", lambda x: x.t(), (3, 4)),
    ("T", lambda x: x.T, (3, 4)),
    ("mT", lambda x: x.mT, (2, 3, 4)),
    ("movedim", lambda x: x.movedim(0, -1), (2, 3, 4)),
    ("split", lambda x: x.split(2)[1], (4, 3)),
    ("chunk", lambda x: x.chunk(2, 1)[0], (3, 4)),
    ("unbind", lambda x: x.unbind(1)[2], (3, 4)),
    ("narrow", lambda x: x.narrow(1, 1, 2), (3, 4)),
    ("diagonal", lambda x: x.diagonal(1), (3, 4)),
    ("diagonal_3d", lambda x: x.diagonal(0, 0, 2), (3, 2, 3)),
]


@pytest.mark.parametrize("name,fn,shape", VIEWS, ids=[v[0] for v in VIEWS])
def test_view_shares_memory_and_version(name, fn, shape, device):
    """Negating the view negates exactly the base's entries it shows (the base's values are
    all distinct, so they say which entries those are)."""
    x = _pair(dark, shape, device)
    original = x.cpu().numpy().copy()
    y = fn(x)
    shown = y.cpu().numpy().copy()
    y.mul_(-1)
    assert y._version == x._version == 1
    assert y._base is x
    np.testing.assert_array_equal(y.cpu().numpy(), -shown)
    np.testing.assert_array_equal(x.cpu().numpy(),
                                  np.where(np.isin(original, shown), -original, original))


@pytest.mark.parametrize("name,fn,shape", VIEWS, ids=[v[0] for v in VIEWS])
@requires_torch
def test_view_writes_where_torchs_does(name, fn, shape, device):
    x = _pair(dark, shape, device)
    fn(x).mul_(-1)
    tx = _pair(torch, shape)
    fn(tx).mul_(-1)
    np.testing.assert_array_equal(x.cpu().numpy(), tx.numpy())


COPIES = [
    ("flip", lambda x: x.flip(0)),
    ("roll", lambda x: x.roll(1)),
    ("repeat", lambda x: x.repeat(1, 2)),
    ("tile", lambda x: x.tile(2)),
    ("cat", lambda x: dark.cat([x, x]) if isinstance(x, dark.Tensor) else torch.cat([x, x])),
    ("stack", lambda x: (dark if isinstance(x, dark.Tensor) else torch).stack([x])),
    ("tril", lambda x: x.tril()),
    ("diag", lambda x: x.diag()),
    ("clone", lambda x: x.clone()),
    ("contiguous_of_transposed", lambda x: x.t().contiguous()),
    ("reshape_of_transposed", lambda x: x.t().reshape(-1)),
]


@pytest.mark.parametrize("name,fn", COPIES, ids=[c[0] for c in COPIES])
def test_copy_does_not_share(name, fn, device):
    x = _pair(dark, (3, 4), device)
    y = fn(x)
    y.mul_(-1)
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(12.0).reshape(3, 4))
    assert x._version == 0


def test_contiguous_and_clone_identity(device):
    x = _pair(dark, (3, 4), device).requires_grad_()
    assert x.contiguous() is x
    c = x.clone()
    assert c is not x and c.data_ptr() != x.data_ptr()
    assert type(c.grad_fn).__name__ == "CloneBackward0"
    transposed = x.t()
    assert not transposed.is_contiguous()
    assert transposed.contiguous().is_contiguous()
    assert not transposed.clone().is_contiguous()  # clone keeps the layout, as torch


GRAD_FN_NAMES = [
    ("view", lambda t, x: x.view(-1)),
    ("reshape", lambda t, x: x.reshape(12)),
    ("reshape_copy", lambda t, x: x.t().reshape(-1)),
    ("flatten", lambda t, x: x.flatten()),
    ("squeeze", lambda t, x: x.unsqueeze(0).squeeze()),
    ("squeeze_dim", lambda t, x: x.unsqueeze(0).squeeze(0)),
    ("squeeze_dims", lambda t, x: x.unsqueeze(0).squeeze((0, 1))),
    ("unsqueeze", lambda t, x: x.unsqueeze(1)),
    ("permute", lambda t, x: x.permute(1, 0)),
    ("transpose", lambda t, x: x.transpose(0, 1)),
    ("t", lambda t, x: x.t()),
    ("T", lambda t, x: x.T),
    ("mT", lambda t, x: x.mT),
    ("movedim", lambda t, x: x.movedim(0, 1)),
    ("expand", lambda t, x: x.unsqueeze(0).expand(2, 3, 4)),
    ("repeat", lambda t, x: x.repeat(1, 2)),
    ("tile", lambda t, x: x.tile(2)),
    ("cat", lambda t, x: t.cat([x, x])),
    ("hstack", lambda t, x: t.hstack([x, x])),
    ("stack", lambda t, x: t.stack([x, x])),
    ("split", lambda t, x: x.split(2)[0]),
    ("split_sizes", lambda t, x: x.split([1, 2])[0]),
    ("chunk", lambda t, x: x.chunk(2)[1]),
    ("unbind", lambda t, x: x.unbind()[0]),
    ("narrow", lambda t, x: x.narrow(1, 0, 2)),
    ("flip", lambda t, x: x.flip(0)),
    ("roll", lambda t, x: x.roll(1)),
    ("tril", lambda t, x: x.tril()),
    ("triu", lambda t, x: x.triu()),
    ("diag_matrix", lambda t, x: t.diag(x)),
    ("diag_vector", lambda t, x: t.diag(x.unbind()[0])),
    ("diagonal", lambda t, x: x.diagonal()),
    ("diag_embed", lambda t, x: t.diag_embed(x)),
    ("outer", lambda t, x: t.outer(*x.unbind()[:2])),
    ("contiguous", lambda t, x: x.t().contiguous()),
    ("clone", lambda t, x: x.clone()),
]


@requires_torch
@pytest.mark.parametrize("name,fn", GRAD_FN_NAMES, ids=[g[0] for g in GRAD_FN_NAMES])
def test_grad_fn_names(name, fn):
    x = _pair(dark, (3, 4)).requires_grad_()
    tx = _pair(torch, (3, 4)).requires_grad_()
    assert type(fn(dark, x).grad_fn).__name__ == type(fn(torch, tx).grad_fn).__name__


def test_multi_output_views_and_partial_grads(device):
    x = dark.tensor(np.arange(10.0).reshape(5, 2), device=device, requires_grad=True)
    pieces = x.split(2)
    assert [tuple(p.shape) for p in pieces] == [(2, 2), (2, 2), (1, 2)]
    assert all(p._base is x for p in pieces)
    (pieces[1] * 3).sum().backward()
    expected = np.zeros((5, 2))
    expected[2:4] = 3
    np.testing.assert_array_equal(x.grad.cpu().numpy(), expected)
    rows = x.unbind()
    assert len(rows) == 5 and rows[4].shape == (2,)
    x.grad = None
    rows[0].sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy()[0], [1.0, 1.0])
    assert not x.grad.cpu().numpy()[1:].any()


def test_iteration_unbinds(device):
    x = dark.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]


INPLACE_VIEWS = [
    ("unsqueeze_", lambda x: x.unsqueeze_(0), (3, 2)),
    ("squeeze_", lambda x: x.squeeze_(), (1, 3, 1)),
    ("squeeze_dim_", lambda x: x.squeeze_(0), (1, 3, 1)),
    ("t_", lambda x: x.t_(), (3, 2)),
    ("transpose_", lambda x: x.transpose_(0, -1), (2, 3, 4)),
    ("swapaxes_", lambda x: x.swapaxes_(0, 1), (2, 3)),
    ("swapdims_", lambda x: x.swapdims_(0, 1), (2, 3)),
]


@pytest.mark.parametrize("name,fn,shape", INPLACE_VIEWS, ids=[v[0] for v in INPLACE_VIEWS])
def test_inplace_view_forms(name, fn, shape, device):
    base = dark.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape),
                       device=device, requires_grad=True)
    y = base * 1
    assert fn(y) is y
    assert y._version == 1
    weights = np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape))
    (y * dark.tensor(weights, device=device)).sum().backward()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        fn(base)
    with dark.no_grad():
        fn(base)


@pytest.mark.parametrize("name,fn,shape", INPLACE_VIEWS, ids=[v[0] for v in INPLACE_VIEWS])
@requires_torch
def test_inplace_view_forms_match_torch(name, fn, shape, device):
    base = dark.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape),
                       device=device, requires_grad=True)
    y = base * 1
    fn(y)
    weights = np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape))
    (y * dark.tensor(weights, device=device)).sum().backward()
    with dark.no_grad():
        fn(base)
    tbase = torch.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape),
                         requires_grad=True)
    ty = tbase * 1
    fn(ty)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), ty.detach().numpy())
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(base.grad.cpu().numpy(), tbase.grad.numpy())
    with torch.no_grad():
        fn(tbase)
    assert tuple(base.shape) == tuple(tbase.shape)


def test_inplace_triangles(device):
    x = dark.tensor(np.ones((3, 3)), device=device)
    assert x.tril_(-1) is x
    np.testing.assert_array_equal(x.cpu().numpy(), np.tril(np.ones((3, 3)), -1))
    y = dark.tensor(np.ones((2, 3)), device=device)
    y.triu_()
    np.testing.assert_array_equal(y.cpu().numpy(), np.triu(np.ones((2, 3))))


def test_T_warns_beyond_2d(device):
    x = _pair(dark, (2, 3, 4), device)
    with pytest.warns(UserWarning, match="x.T` on tensors of dimension other than 2"):
        assert x.T.shape == (4, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.unbind()[0].T.shape == (4, 3)


@pytest.mark.parametrize("dtype", ["float16", "int32", "int8", "float64", "bool"])
def test_view_dtype(dtype, device):
    x = dark.tensor(np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4), device=device,
                    requires_grad=True)
    y = x.view(getattr(dark, dtype))
    assert y.dtype is getattr(dark, dtype)
    assert not y.requires_grad
    assert y._base is x
    # the same bytes read as the new dtype
    np.testing.assert_array_equal(y.cpu().numpy(), x.detach().cpu().numpy().view(dtype))


@pytest.mark.parametrize("dtype", ["float16", "int32", "int8", "float64", "bool"])
@requires_torch
def test_view_dtype_matches_torch(dtype, device):
    x = dark.tensor(np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4), device=device)
    ty = torch.tensor(x.cpu().numpy()).view(getattr(torch, dtype))
    np.testing.assert_array_equal(x.view(getattr(dark, dtype)).cpu().numpy(), ty.numpy())


def test_views_of_views_share_one_counter(device):
    x = _pair(dark, (2, 3, 4), device)
    y = x.permute(2, 0, 1).unsqueeze(0).narrow(2, 1, 1).squeeze(0)
    y.mul_(0)
    assert x._version == 1 and y._base is x
    expected = np.arange(24.0).reshape(2, 3, 4)
    expected[1] = 0
    np.testing.assert_array_equal(x.cpu().numpy(), expected)


def _t(lib, shape, dtype="float32"):
    return lib.tensor(np.ones(shape, dtype=dtype))


ERRORS = [
    ("view_transposed", lambda t: _t(t, (3, 4)).t().view(-1), RuntimeError,
     r"view size is not compatible with input tensor's size and stride"),
    ("view_two_inferred", lambda t: _t(t, (3, 4)).view(-1, -1), RuntimeError,
     "only one dimension can be inferred"),
    ("reshape_bad", lambda t: _t(t, (3, 4)).reshape(5, -1), RuntimeError,
     r"shape '\[5, -1\]' is invalid for input of size 12"),
    ("view_dtype_0d", lambda t: _t(t, ()).view(t.float16), RuntimeError,
     r"self.dim\(\) cannot be 0 to view Float as Half \(different element sizes\)"),
    ("view_dtype_stride", lambda t: _t(t, (3, 4)).t().view(t.float16), RuntimeError,
     r"self.stride\(-1\) must be 1 to view Float as Half"),
    ("view_dtype_divisible", lambda t: _t(t, (3, 3)).view(t.float64), RuntimeError,
     r"self.size\(-1\) must be divisible by 2 to view Float as Double"),
    ("flatten_order", lambda t: _t(t, (2, 3, 4)).flatten(2, 1), RuntimeError,
     "flatten\\(\\) has invalid args: start_dim cannot come after end_dim"),
    ("flatten_range", lambda t: _t(t, (2, 3)).flatten(0, 2), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    ("unflatten_product", lambda t: _t(t, (2, 3, 4)).unflatten(2, (3, 2)), RuntimeError,
     r"unflatten: Provided sizes \[3, 2\] don't multiply up to the size of dim 2 \(4\)"),
    ("unflatten_empty", lambda t: _t(t, (2, 3)).unflatten(0, ()), RuntimeError,
     "unflatten: sizes must be non-empty"),
    ("squeeze_range", lambda t: _t(t, (2, 3, 4)).squeeze(5), IndexError,
     r"expected to be in range of \[-3, 2\], but got 5"),
    ("squeeze_0d_range", lambda t: _t(t, ()).squeeze(1), IndexError,
     r"expected to be in range of \[-1, 0\], but got 1"),
    ("squeeze_repeated", lambda t: _t(t, (1, 3)).squeeze((0, 0)), RuntimeError,
     "dim 0 appears multiple times in the list of dims"),
    ("unsqueeze_range", lambda t: _t(t, (2, 3, 4)).unsqueeze(4), IndexError,
     r"expected to be in range of \[-4, 3\], but got 4"),
    ("permute_count", lambda t: _t(t, (2, 3, 4)).permute(0, 1), RuntimeError,
     r"number of dimensions in the tensor input does not match the length of the desired "
     r"ordering of dimensions i.e. input.dim\(\) = 3 is not equal to len\(dims\) = 2"),
    ("permute_duplicate", lambda t: _t(t, (2, 3, 4)).permute(0, 1, 1), RuntimeError,
     r"permute\(\): duplicate dims are not allowed."),
    ("permute_range", lambda t: _t(t, (2, 3, 4)).permute(0, 1, 3), IndexError,
     r"expected to be in range of \[-3, 2\], but got 3"),
    ("transpose_range", lambda t: _t(t, (2, 3)).transpose(0, 2), IndexError,
     r"expected to be in range of \[-2, 1\], but got 2"),
    ("t_3d", lambda t: _t(t, (2, 3, 4)).t(), RuntimeError,
     r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"),
    ("mT_1d", lambda t: _t(t, (3,)).mT, RuntimeError,
     "tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor."),
    ("H_3d", lambda t: _t(t, (2, 3, 4)).H, RuntimeError,
     r"tensor.H is only supported on matrices \(2-D tensors\). Got 3-D tensor."),
    ("movedim_repeated", lambda t: _t(t, (2, 3, 4)).movedim((0, 0), (1, 2)), RuntimeError,
     r"movedim: repeated dim in `source` \(\[0, 0\]\)"),
    ("movedim_destination", lambda t: _t(t, (2, 3, 4)).movedim((0, 1), (2, 2)), RuntimeError,
     r"movedim: repeated dim in `destination` \(\[2, 2\]\)"),
    ("movedim_lengths", lambda t: _t(t, (2, 3, 4)).movedim((0, 1), (1,)), RuntimeError,
     r"movedim: Invalid source or destination dims: source \(\[0, 1\] dims\) should "
     r"contain the same number of dims as destination \(\[1\] dims\)"),
    ("expand_as_fewer", lambda t: _t(t, (3, 4)).expand_as(_t(t, (3,))), RuntimeError,
     r"the number of sizes provided \(1\) must be greater or equal to the number of "
     r"dimensions in the tensor \(2\)"),
    ("expand_mismatch", lambda t: _t(t, (3, 2)).expand(3, 4), RuntimeError,
     r"The expanded size of the tensor \(4\) must match the existing size \(2\) at "
     r"non-singleton dimension 1"),
    ("repeat_fewer", lambda t: _t(t, (3, 4)).repeat(2), RuntimeError,
     "Number of dimensions of repeat dims can not be smaller than number of dimensions "
     "of tensor"),
    ("repeat_negative", lambda t: _t(t, (3, 4)).repeat(-1, 2), RuntimeError,
     r"Trying to create tensor with negative dimension -3: \[-3, 8\]"),
    ("cat_sizes", lambda t: t.cat([_t(t, (3, 4)), _t(t, (4, 4))], 1), RuntimeError,
     r"Sizes of tensors must match except in dimension 1. Expected size 3 but got size 4 "
     r"for tensor number 1 in the list."),
    ("cat_sizes_after_skip", lambda t: t.cat([_t(t, (0,)), _t(t, (2, 3)), _t(t, (2, 4))]),
     RuntimeError, r"Expected size 3 but got size 4 for tensor number 2 in the list."),
    ("cat_ndim", lambda t: t.cat([_t(t, (3, 4)), _t(t, (3,))]), RuntimeError,
     "Tensors must have same number of dimensions: got 2 and 1"),
    ("cat_empty_list", lambda t: t.cat([]), ValueError,
     r"\.cat\(\): expected a non-empty list of Tensors"),
    ("cat_0d", lambda t: t.cat([_t(t, ()), _t(t, ())]), RuntimeError,
     r"zero-dimensional tensor \(at position 0\) cannot be concatenated"),
    ("cat_dim_range", lambda t: t.cat([_t(t, (3, 4))], 2), IndexError,
     r"expected to be in range of \[-2, 1\], but got 2"),
    ("cat_not_a_list", lambda t: t.cat(_t(t, (3, 4))), TypeError,
     r"cat\(\): argument 'tensors' \(position 1\) must be tuple of Tensors, not Tensor"),
    ("stack_sizes", lambda t: t.stack([_t(t, (3, 4)), _t(t, (3, 5))]), RuntimeError,
     r"stack expects each tensor to be equal size, but got \[3, 4\] at entry 0 and "
     r"\[3, 5\] at entry 1"),
    ("stack_empty", lambda t: t.stack([]), RuntimeError, "stack expects a non-empty TensorList"),
    ("stack_dim_range", lambda t: t.stack([_t(t, (3, 4))], 3), IndexError,
     r"expected to be in range of \[-3, 2\], but got 3"),
    ("vstack_empty", lambda t: t.vstack([]), RuntimeError,
     "vstack expects a non-empty TensorList"),
    ("split_zero", lambda t: _t(t, (3, 4)).split(0), RuntimeError,
     "split_size can only be 0 if dimension size is 0, but got dimension size of 3"),
    ("split_negative", lambda t: _t(t, (3, 4)).split(-1), RuntimeError,
     "split expects split_size be non-negative, but got split_size=-1"),
    ("split_sizes_sum", lambda t: _t(t, (3, 4)).split([1, 1]), RuntimeError,
     r"split_with_sizes expects split_sizes to sum exactly to 3 \(input tensor's size at "
     r"dimension 0\), but got split_sizes=\[1, 1\]"),
    ("split_sizes_negative", lambda t: _t(t, (3, 4)).split([4, -1]), RuntimeError,
     r"split_with_sizes expects split_sizes have only non-negative entries, but got "
     r"split_sizes=\[4, -1\]"),
    ("split_0d", lambda t: _t(t, ()).split(1), RuntimeError,
     "split expects at least a 1-dimensional tensor"),
    ("chunk_0d", lambda t: _t(t, ()).chunk(1), RuntimeError,
     "chunk expects at least a 1-dimensional tensor"),
    ("view_negative_size", lambda t: _t(t, (3, 4)).view(-2, 6), RuntimeError,
     r"invalid shape dimension -2 at index 0 of shape \[-2, 6\]"),
    ("chunk_zero", lambda t: _t(t, (3,)).chunk(0), RuntimeError,
     "chunk expects `chunks` to be greater than 0, got: 0"),
    ("unbind_0d", lambda t: _t(t, ()).unbind(), IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    ("narrow_0d", lambda t: _t(t, ()).narrow(0, 0, 1), RuntimeError,
     r"narrow\(\) cannot be applied to a 0-dim tensor."),
    ("narrow_length", lambda t: _t(t, (3, 4)).narrow(0, 0, -1), RuntimeError,
     r"narrow\(\): length must be non-negative."),
    ("narrow_start", lambda t: _t(t, (3, 4)).narrow(0, 4, 0), IndexError,
     r"start out of range \(expected to be in range of \[-3, 3\], but got 4\)"),
    ("narrow_end", lambda t: _t(t, (3, 4)).narrow(0, 2, 2), RuntimeError,
     r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)."),
    ("flip_repeated", lambda t: _t(t, (3, 4)).flip(0, 0), RuntimeError,
     "dim 0 appears multiple times in the list of dims"),
    ("fliplr_1d", lambda t: _t(t, (3,)).fliplr(), RuntimeError, "Input must be >= 2-d."),
    ("flipud_0d", lambda t: _t(t, ()).flipud(), RuntimeError, "Input must be >= 1-d."),
    ("roll_align", lambda t: _t(t, (3, 4)).roll((1, 2), 0), RuntimeError,
     "shifts and dimensions must align. shifts: 2, dims:1"),
    ("roll_no_dims", lambda t: _t(t, (3, 4)).roll((1, 2)), RuntimeError,
     "shifts and dimensions must align. shifts: 2, dims:0"),
    ("tril_1d", lambda t: _t(t, (3,)).tril(), RuntimeError,
     "tril: input tensor must have at least 2 dimensions"),
    ("triu_0d", lambda t: _t(t, ()).triu(), RuntimeError,
     "triu: input tensor must have at least 2 dimensions"),
    ("diag_3d", lambda t: t.diag(_t(t, (2, 3, 4))), RuntimeError,
     r"diag\(\): Supports 1D or 2D tensors. Got 3D"),
    ("diagonal_same_dims", lambda t: _t(t, (2, 3, 4)).diagonal(0, 1, -2), RuntimeError,
     "diagonal dimensions cannot be identical 1, -2"),
    ("outer_2d", lambda t: t.outer(_t(t, (2, 3)), _t(t, (3,))), RuntimeError,
     "outer: Expected 1-D argument self, but got 2-D"),
    ("outer_vec2", lambda t: t.outer(_t(t, (3,)), _t(t, ())), RuntimeError,
     "outer: Expected 1-D argument vec2, but got 0-D"),
]


@pytest.mark.parametrize("name,fn,error,match", ERRORS, ids=[e[0] for e in ERRORS])
@pytest.mark.parametrize("lib", LIBS)
def test_errors(lib, name, fn, error, match):
    with pytest.raises(error, match=match):
        fn(lib)


def test_public_names():
    for name in ("reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute",
                 "transpose", "swapaxes", "swapdims", "t", "tile", "cat", "concat",
                 "concatenate", "stack", "hstack", "vstack", "dstack", "split", "chunk",
                 "unbind", "flip", "fliplr", "flipud", "roll", "narrow", "movedim",
                 "moveaxis", "tril", "triu", "diag", "diagonal", "diag_embed", "outer",
                 "clone", "ravel", "atleast_1d", "atleast_2d", "atleast_3d"):
        assert callable(getattr(dark, name)), name
    for name in ("view", "view_as", "reshape_as", "expand", "expand_as", "repeat",
                 "contiguous", "squeeze_", "unsqueeze_", "t_", "transpose_"):
        assert callable(getattr(dark.Tensor, name)), name
    for name in ("view", "expand", "repeat", "contiguous"):
        assert not hasattr(dark, name), name


def test_inplace_on_view_reaches_base_gradient():
    x = dark.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    y.t().mul_(2)
    (y * dark.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
