"""Tensor.unfold(dimension, size, step): the sliding-window view (values, shapes and strides
against a numpy reference and torch), memory and version counter shared with the base,
gradients (overlapping windows add) with gradcheck and against torch, the 0-d case, and
PyTorch's errors."""
import numpy as np
import pytest
from harness import LIBS, raises_like, requires_torch, torch

import dark


def _windows(a, dim, size, step):
    """numpy reference: the windows one by one, stacked at ``dim``, window entries last."""
    if a.ndim == 0:
        return a.reshape(1)[:size]
    count = (a.shape[dim] - size) // step + 1
    windows = [np.moveaxis(a.take(np.arange(w * step, w * step + size), axis=dim), dim, -1)
               for w in range(count)]
    return np.stack(windows, axis=dim)


# (input shape, a layout made of it, dimension, size, step)
LAYOUTS = {
    "contiguous": lambda x: x,
    "transposed": lambda x: x.transpose(0, -1),
    "sliced": lambda x: x[..., ::2],
    "narrowed": lambda x: x.narrow(0, 1, x.shape[0] - 1),
}
CASES = [
    ((10,), "contiguous", 0, 3, 1),
    ((10,), "contiguous", 0, 3, 2),
    ((10,), "contiguous", -1, 2, 5),   # step > size: gaps between windows
    ((10,), "contiguous", 0, 10, 1),   # size == dim size: one window
    ((10,), "contiguous", 0, 10, 4),
    ((10,), "contiguous", 0, 1, 1),
    ((10,), "contiguous", 0, 0, 3),    # empty windows
    ((10,), "contiguous", 0, 8, 1),    # more entries per window than windows
    ((10,), "sliced", 0, 2, 2),
    ((4, 6), "contiguous", 0, 2, 1),
    ((4, 6), "contiguous", 1, 4, 1),
    ((4, 6), "contiguous", -2, 3, 3),
    ((4, 6), "transposed", 0, 3, 2),
    ((4, 6), "transposed", 1, 4, 1),
    ((4, 6), "sliced", 1, 2, 1),
    ((4, 6), "narrowed", 0, 3, 1),
    ((2, 5, 7), "contiguous", 1, 2, 2),
    ((2, 5, 7), "contiguous", 2, 7, 2),
    ((2, 5, 7), "contiguous", -1, 3, 4),
    ((2, 5, 7), "transposed", 1, 3, 1),
    ((2, 5, 7), "sliced", 2, 2, 1),
    ((3, 0, 4), "contiguous", 1, 0, 1),
    ((3, 0, 4), "contiguous", 2, 2, 3),
]
DTYPES = ["float32", "float64", "int64", "int32", "bool"]


def _case_id(case):
    shape, layout, dim, size, step = case
    return f"{'x'.join(map(str, shape)) or '0d'}-{layout}-d{dim}-s{size}-t{step}"


def _base_array(shape, dtype):
    values = np.arange(int(np.prod(shape))).reshape(shape)
    return (values % 2 == 1) if dtype == "bool" else values.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_values_shape_strides(case, dtype, device):
    shape, layout, dim, size, step = case
    a = _base_array(shape, dtype)
    x = LAYOUTS[layout](dark.tensor(a, device=device))
    u = x.unfold(dim, size, step)
    reference = _windows(LAYOUTS[layout](dark.tensor(a)).numpy(), dim % x.ndim, size, step)
    assert u.dtype == x.dtype
    assert tuple(u.shape) == reference.shape
    np.testing.assert_array_equal(u.cpu().numpy(), reference)
    d = dim % x.ndim
    strides = list(x.stride())
    strides[d] *= step
    assert u.stride() == tuple(strides) + (x.stride()[d],)
    assert u.storage_offset() == x.storage_offset()


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_torch(case, dtype, device):
    shape, layout, dim, size, step = case
    a = _base_array(shape, dtype)
    u = LAYOUTS[layout](dark.tensor(a, device=device)).unfold(dim, size, step)
    tu = LAYOUTS[layout](torch.tensor(a)).unfold(dim, size, step)
    assert tuple(u.shape) == tuple(tu.shape)
    assert u.stride() == tu.stride()
    assert u.storage_offset() == tu.storage_offset()
    assert u.is_contiguous() == tu.is_contiguous()
    assert str(u.dtype).split(".")[1] == str(tu.dtype).split(".")[1]
    np.testing.assert_array_equal(u.cpu().numpy(), tu.numpy())


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("dimension", [0, -1])
def test_0d(lib, dimension):
    x = lib.tensor(3.5)
    one = x.unfold(dimension, 1, 1)
    assert tuple(one.shape) == (1,) and one.stride() == (1,)
    assert one.tolist() == [3.5]
    empty = x.unfold(dimension, 0, 2)
    assert tuple(empty.shape) == (0,) and empty.stride() == (1,)
    one[0] = 7.0
    assert x.item() == 7.0


@pytest.mark.parametrize("lib", LIBS)
def test_0d_gradient(lib):
    x = lib.tensor(3.0, dtype=lib.float64, requires_grad=True)
    (x.unfold(0, 1, 1) * 5).sum().backward()
    assert x.grad.item() == 5.0 and tuple(x.grad.shape) == ()
    x.grad = None
    (x.unfold(-1, 0, 1).sum() + x).backward()
    assert x.grad.item() == 1.0


def test_view_writes_through_both_ways(device):
    x = dark.tensor(np.arange(12.0).reshape(3, 4), device=device)
    u = x.unfold(1, 2, 2)  # windows [0, 1], [2, 3] of each row: no overlap
    assert u._base is x
    assert u.data_ptr() == x.data_ptr()
    u.mul_(-1)  # through the view into the base
    assert x._version == u._version == 1
    np.testing.assert_array_equal(x.cpu().numpy(), -np.arange(12.0).reshape(3, 4))
    x[1, 3] = 100.0  # through the base into the view
    assert u[1, 1, 1].item() == 100.0
    assert x._version == u._version == 2
    u[2, 0] = dark.tensor([5.0, 6.0], device=device)
    np.testing.assert_array_equal(x[2, :2].cpu().numpy(), [5.0, 6.0])


def test_overlapping_windows_share_entries(device):
    x = dark.tensor(np.arange(6.0), device=device)
    u = x.unfold(0, 3, 1)
    u[0, 2] = -1.0  # entry 2 of the base: also u[1, 1] and u[2, 0]
    assert u[1, 1].item() == u[2, 0].item() == x[2].item() == -1.0
    assert x._version == u._version == 1


def test_view_of_view_and_of_noncontiguous(device):
    x = dark.tensor(np.arange(20.0).reshape(4, 5), device=device)
    t = x.t()
    u = t.unfold(1, 2, 2)  # t's dim 1 is x's dim 0: windows down x's columns
    assert u._base is x
    u[0, 1, 0] = 50.0  # t[0, 2] = x[2, 0]
    assert x[2, 0].item() == 50.0


def test_chained_unfold(device):
    a = np.arange(30.0).reshape(5, 6)
    x = dark.tensor(a, device=device)
    u = x.unfold(0, 2, 1).unfold(1, 3, 2)
    expected = _windows(_windows(a, 0, 2, 1), 1, 3, 2)
    assert tuple(u.shape) == expected.shape == (4, 2, 2, 3)
    np.testing.assert_array_equal(u.cpu().numpy(), expected)
    assert u._base is x


@requires_torch
def test_chained_unfold_matches_torch(device):
    a = np.random.default_rng(0).standard_normal((5, 6))
    x = dark.tensor(a, device=device, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    u, tu = x.unfold(0, 2, 1).unfold(1, 3, 2), tx.unfold(0, 2, 1).unfold(1, 3, 2)
    assert tuple(u.shape) == tuple(tu.shape) and u.stride() == tu.stride()
    np.testing.assert_array_equal(u.detach().cpu().numpy(), tu.detach().numpy())
    g = np.random.default_rng(1).standard_normal(tuple(tu.shape))
    u.backward(dark.tensor(g, device=device))
    tu.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


# (shape, dimension, size, step): overlapping (step < size) with more windows than window
# entries and fewer, non-overlapping, gaps, one window, non-contiguous through transpose
GRAD_CASES = [
    ((7,), 0, 3, 1),
    ((7,), 0, 3, 2),
    ((10,), 0, 8, 1),
    ((10,), 0, 6, 3),
    ((7,), 0, 2, 2),
    ((9,), 0, 2, 4),
    ((7,), 0, 7, 1),
    ((3, 6), 1, 4, 1),
    ((3, 6), -2, 2, 1),
    ((2, 5, 4), 1, 3, 1),
    ((2, 5, 4), -1, 2, 3),
    ((2, 5, 4), 1, 5, 2),
]


def _grad_id(case):
    shape, dim, size, step = case
    return f"{'x'.join(map(str, shape))}-d{dim}-s{size}-t{step}"


@pytest.mark.parametrize("case", GRAD_CASES, ids=[_grad_id(c) for c in GRAD_CASES])
def test_gradcheck(case, device):
    shape, dim, size, step = case
    a = np.random.default_rng(2).standard_normal(shape)
    x = dark.tensor(a, dtype=dark.float64, device=device, requires_grad=True)

    def function(t):
        return t.unfold(dim, size, step) ** 2

    assert dark.autograd.gradcheck(function, (x,))
    assert dark.autograd.gradgradcheck(function, (x,))


def test_gradcheck_noncontiguous_and_chained(device):
    a = np.random.default_rng(3).standard_normal((5, 6))
    x = dark.tensor(a, dtype=dark.float64, device=device, requires_grad=True)
    assert dark.autograd.gradcheck(lambda t: t.t().unfold(1, 3, 1).sin(), (x,))
    assert dark.autograd.gradcheck(lambda t: t.unfold(0, 2, 1).unfold(1, 3, 2).cos(), (x,))
    assert dark.autograd.gradgradcheck(lambda t: t.unfold(0, 3, 1).unfold(1, 3, 2) ** 3, (x,))


def test_gradient_counts_windows(device):
    """Each input entry's gradient of unfold(...).sum() is the number of windows holding it."""
    x = dark.zeros(9, dtype=dark.float64, device=device, requires_grad=True)
    x.unfold(0, 4, 2).sum().backward()
    # windows [0..3], [2..5], [4..7]; entry 8 is in none
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [1, 1, 2, 2, 2, 2, 1, 1, 0])


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", GRAD_CASES, ids=[_grad_id(c) for c in GRAD_CASES])
def test_gradients_match_torch(case, dtype, device):
    shape, dim, size, step = case
    rng = np.random.default_rng(4)
    a = rng.standard_normal(shape).astype(dtype)
    x = dark.tensor(a, device=device, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    u, tu = x.unfold(dim, size, step), tx.unfold(dim, size, step)
    assert type(u.grad_fn).__name__ == type(tu.grad_fn).__name__ == "UnfoldBackward0"
    g = rng.standard_normal(tuple(tu.shape)).astype(dtype)
    (gx,) = dark.autograd.grad(u, x, dark.tensor(g, device=device, requires_grad=True),
                               create_graph=True)
    (tgx,) = torch.autograd.grad(tu, tx, torch.tensor(g, requires_grad=True),
                                 create_graph=True)
    assert gx.dtype == x.dtype
    assert type(gx.grad_fn).__name__ == type(tgx.grad_fn).__name__
    tolerance = 1e-6 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(gx.detach().cpu().numpy(), tgx.detach().numpy(),
                               rtol=tolerance, atol=tolerance)


ERRORS = [
    ((7,), (0, 8, 1), RuntimeError, "maximum size for tensor at dimension 0 is 7 but size is 8"),
    ((3, 4), (-1, 5, 1), RuntimeError,
     "maximum size for tensor at dimension 1 is 4 but size is 5"),
    ((7,), (0, 2, 0), RuntimeError, "step is 0 but must be > 0"),
    ((7,), (0, 2, -1), RuntimeError, "step is -1 but must be > 0"),
    ((7,), (0, -1, 1), RuntimeError, "size is -1 but must be >= 0"),
    ((7,), (0, 8, 0), RuntimeError, "maximum size for tensor at dimension 0 is 7 but size is 8"),
    ((7,), (1, 2, 1), IndexError,
     "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    ((3, 4), (-3, 2, 1), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ((3, 4), (2, 9, 0), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ((), (0, 2, 1), RuntimeError, "maximum size for tensor at dimension 0 is 1 but size is 2"),
    ((), (1, 1, 1), IndexError,
     "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    ((), (-2, 1, 1), IndexError,
     "Dimension out of range (expected to be in range of [-1, 0], but got -2)"),
    ((), (0, 1, 0), RuntimeError, "step is 0 but must be > 0"),
    ((3, 0), (1, 1, 1), RuntimeError,
     "maximum size for tensor at dimension 1 is 0 but size is 1"),
    ((7,), (0, 2.0, 1), TypeError, "unfold(): argument 'size' (position 2) must be int, not float"),
    ((7,), (0.0, 2, 1), TypeError,
     "unfold(): argument 'dimension' (position 1) must be int, not float"),
    ((7,), (0, 2, True), TypeError, "unfold(): argument 'step' (position 3) must be int, not bool"),
]


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("shape,args,kind,message", ERRORS,
                         ids=[f"{e[0]}-{e[1]}" for e in ERRORS])
def test_errors(lib, shape, args, kind, message):
    x = lib.zeros(shape)
    with pytest.raises(kind) as error:
        x.unfold(*args)
    assert str(error.value) == message


@requires_torch
@pytest.mark.parametrize("shape,args", [(e[0], e[1]) for e in ERRORS],
                         ids=[f"{e[0]}-{e[1]}" for e in ERRORS])
def test_errors_match_torch(shape, args):
    raises_like(lambda: dark.zeros(shape).unfold(*args),
                lambda: torch.zeros(shape).unfold(*args))


@pytest.mark.parametrize("lib", LIBS)
def test_arguments(lib):
    x = lib.arange(7.0)
    assert tuple(x.unfold(dimension=0, size=3, step=2).shape) == (3, 3)
    assert tuple(x.unfold(0, lib.tensor(2), np.int64(3)).shape) == (2, 2)
    with pytest.raises(TypeError, match=r"argument 'size' \(position 2\) must be int, not Tensor"):
        x.unfold(0, lib.tensor(2.0), 1)


@pytest.mark.parametrize("lib", LIBS)
def test_no_function_form(lib):
    """torch has Tensor.unfold only (torch.unfold is not a function of these arguments)."""
    assert not hasattr(lib, "unfold")
