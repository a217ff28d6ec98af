"""Reductions: op-table cases (forward, gradcheck, gradgradcheck, torch parity) and the
behaviours a table cannot express (ties, zeros, named tuples, errors)."""
import math

import numpy as np
import pytest
from harness import LIBS, Case, check_case, host, ids, requires_torch, torch

import dark

INF = math.inf


def _with(values, shape=None):
    """A ``make`` giving one fixed float array (ties, zeros, nans placed on purpose)."""
    array = np.array(values, dtype=np.float64)
    return lambda rng: [array.reshape(shape) if shape else array]


def _ints(rng, shape=(3, 4)):
    return [rng.integers(-3, 4, shape)]


def _with_zeros(rng, shape, zeros):
    a = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    for index in zeros:
        a[index] = 0.0
    return [a]


def _pair_ties(rng):
    """Ties of two (a central difference shares the gradient evenly between two; the mask
    jumps at a tie, so these cases are not twice differentiable)."""
    a = rng.standard_normal((3, 4))
    a[0, 1] = a[0, 3] = 3.0  # a tie for the overall maximum
    a[2, 0] = a[2, 2] = -3.0  # and for the minimum
    return [a]


def _distinct(rng, shape):
    return [rng.permutation(np.arange(math.prod(shape), dtype=np.float64)).reshape(shape)
            / 3.0]


CASES = [
    # sum / mean / nansum / nanmean
    Case("sum_all", lambda t, a: a.sum(), [(3, 4)]),
    Case("sum_dim_keepdim", lambda t, a: a.sum(-1, keepdim=True), [(2, 3, 4)]),
    Case("sum_dims", lambda t, a: a.sum((0, 2)), [(2, 3, 4)]),
    Case("sum_neg_dim", lambda t, a: t.sum(a, -2), [(2, 3, 4)]),
    Case("sum_dim_list_keepdim", lambda t, a: a.sum([0, -1], keepdim=True), [(2, 3, 4)]),
    Case("sum_dtype", lambda t, a: a.sum(1, dtype=t.float32), [(2, 3)], grad=False),
    Case("sum_int", lambda t, a: t.sum(a, 0), make=_ints, grad=False),
    Case("sum_0d", lambda t, a: a.sum(), [()]),
    Case("sum_0d_dim", lambda t, a: a.sum(-1, keepdim=True), [()]),
    Case("sum_empty", lambda t, a: a.sum(0), [(0, 3)], gradgrad=False),
    Case("sum_empty_all", lambda t, a: a.sum(), [(0, 3)], gradgrad=False),
    Case("mean_all", lambda t, a: t.mean(a), [(3, 4)]),
    Case("mean_dims_keepdim", lambda t, a: a.mean((0, 2), keepdim=True), [(2, 3, 4)]),
    Case("mean_neg_dim", lambda t, a: a.mean(-1), [(2, 3, 4)]),
    Case("mean_0d", lambda t, a: a.mean(0), [()]),
    Case("mean_empty", lambda t, a: a.mean(), [(0,)], grad=False),
    Case("mean_empty_dim", lambda t, a: a.mean(0), [(0, 3)], grad=False),
    Case("mean_int_dtype", lambda t, a: a.mean(1, dtype=t.float64), make=_ints, grad=False),
    Case("nansum", lambda t, a: t.nansum(a, 1),
         make=_with([[1.0, math.nan, 2.0], [math.nan, math.nan, 0.5]])),
    Case("nanmean", lambda t, a: t.nanmean(a, 1),
         make=_with([[1.0, math.nan, 2.0], [4.0, math.nan, 0.5]])),
    Case("nanmean_all_nan_row", lambda t, a: a.nanmean(0), grad=False,
         make=_with([[math.nan, 1.0], [math.nan, 3.0]])),
    # prod
    Case("prod_all", lambda t, a: a.prod(), [(2, 3)], domain="nonzero"),
    Case("prod_dim", lambda t, a: t.prod(a, -1, keepdim=True), [(2, 3, 4)], domain="nonzero"),
    Case("prod_one_zero", lambda t, a: a.prod(1),
         make=lambda rng: _with_zeros(rng, (3, 4), [(0, 1), (2, 3)])),
    Case("prod_two_zeros", lambda t, a: a.prod(1),
         make=lambda rng: _with_zeros(rng, (3, 4), [(0, 1), (0, 2), (1, 0)])),
    Case("prod_three_zeros_all", lambda t, a: a.prod(),
         make=lambda rng: _with_zeros(rng, (2, 3), [(0, 1), (1, 2), (1, 0)])),
    Case("prod_int", lambda t, a: a.prod(0), make=_ints, grad=False),
    Case("prod_0d_zero", lambda t, a: a.prod(0), make=_with(0.0)),
    # max / min / amax / amin / argmax / argmin
    Case("max_all", lambda t, a: t.max(a), [(3, 4)]),
    Case("max_all_ties", lambda t, a: a.max(), make=_pair_ties, gradgrad=False),
    Case("min_all_ties", lambda t, a: a.min(), make=_pair_ties, gradgrad=False),
    Case("max_dim", lambda t, a: t.max(a, 1).values, [(3, 4)]),
    Case("max_dim_indices", lambda t, a: t.max(a, 1).indices, [(3, 4)], grad=False),
    Case("max_dim_keepdim_kw", lambda t, a: a.max(dim=-1, keepdim=True)[0], [(2, 3, 4)]),
    Case("max_dim_keepdim_both", lambda t, a: tuple(a.max(dim=-1, keepdim=True)), [(2, 3, 4)],
         grad=False),
    Case("min_dim", lambda t, a: t.min(a, 0).values, [(3, 4)]),
    Case("min_dim_both", lambda t, a: tuple(t.min(a, 0)), [(3, 4)], grad=False),
    Case("max_0d_dim", lambda t, a: a.max(0).values, [()]),
    Case("max_0d_dim_both", lambda t, a: tuple(a.max(0)), [()], grad=False),
    Case("max_dim_ties_first_index", lambda t, a: tuple(a.max(1)), grad=False,
         make=_with([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0]])),
    Case("amax_dims", lambda t, a: t.amax(a, (0, 2)), [(2, 3, 4)]),
    Case("amax_all_ties", lambda t, a: a.amax(), make=_pair_ties, gradgrad=False),
    Case("amin_dim_keepdim", lambda t, a: a.amin(-1, keepdim=True), make=_pair_ties,
         gradgrad=False),
    Case("amax_int", lambda t, a: a.amax(1), make=_ints, grad=False),
    Case("amax_nan", lambda t, a: a.amax(1),
         make=_with([[1.0, math.nan, 2.0], [0.0, 1.0, 2.0]]), grad=False),
    Case("argmax_flat", lambda t, a: t.argmax(a), [(3, 4)], grad=False),
    Case("argmax_flat_keepdim", lambda t, a: a.argmax(keepdim=True), [(3, 4)], grad=False),
    Case("argmax_dim", lambda t, a: a.argmax(-1, keepdim=True), [(2, 3, 4)], grad=False),
    Case("argmin_dim", lambda t, a: t.argmin(a, 0), [(3, 4)], grad=False),
    Case("argmax_ties", lambda t, a: a.argmax(1), grad=False,
         make=_with([[1.0, 5.0, 5.0], [2.0, 2.0, 0.0]])),
    Case("argmax_0d", lambda t, a: a.argmax(0), [()], grad=False),
    # median / mode
    Case("median_all_even", lambda t, a: a.median(), make=lambda rng: _distinct(rng, (2, 3))),
    Case("median_all_odd", lambda t, a: t.median(a), make=lambda rng: _distinct(rng, (5,))),
    Case("median_dim", lambda t, a: t.median(a, 1).values,
         make=lambda rng: _distinct(rng, (3, 4))),
    Case("median_dim_both", lambda t, a: tuple(t.median(a, 1)), grad=False,
         make=lambda rng: _distinct(rng, (3, 4))),
    Case("median_dim_keepdim", lambda t, a: tuple(a.median(-1, keepdim=True)), grad=False,
         make=lambda rng: _distinct(rng, (2, 2, 5))),
    Case("median_nan", lambda t, a: tuple(a.median(1)), grad=False,
         make=_with([[1.0, math.nan, 3.0, math.nan], [4.0, 1.0, 2.0, 3.0]])),
    Case("median_0d", lambda t, a: (a.median(), a.median(0).values), [()]),
    Case("median_0d_both", lambda t, a: tuple(a.median(0)), [()], grad=False),
    Case("mode_dim", lambda t, a: tuple(t.mode(a, 1)), grad=False,
         make=_with([[1.0, 2.0, 2.0, 3.0, 2.0, 3.0, 3.0], [5.0, 1.0, 5.0, 1.0, 0.0, 7.0, 7.0]])),
    Case("mode_default_dim_keepdim", lambda t, a: tuple(a.mode(keepdim=True)), grad=False,
         make=lambda rng: [rng.integers(0, 3, (2, 3, 6))]),
    Case("mode_dim0", lambda t, a: tuple(a.mode(0)), grad=False,
         make=lambda rng: [rng.integers(0, 3, (6, 4)).astype(np.float64)]),
    # var / std
    Case("var_all", lambda t, a: t.var(a), [(3, 4)]),
    Case("var_dim_biased_positional", lambda t, a: t.var(a, 1, False, True), [(3, 4)]),
    Case("var_unbiased_only", lambda t, a: a.var(False), [(3, 4)]),
    Case("var_correction", lambda t, a: a.var((0, 2), correction=2, keepdim=True),
         [(2, 3, 4)]),
    Case("std_all", lambda t, a: t.std(a), [(3, 4)]),
    Case("std_dim_keepdim", lambda t, a: a.std(-1, keepdim=True), [(2, 3, 4)]),
    Case("std_correction0", lambda t, a: a.std(0, correction=0), [(3, 4)]),
    Case("std_constant_row", lambda t, a: a.std(1), make=_with([[2.0, 2.0, 2.0],
                                                                [1.0, 2.0, 4.0]]),
         gradgrad=False),
    Case("var_mean", lambda t, a: t.var_mean(a, 1), [(3, 4)]),
    Case("std_mean", lambda t, a: t.std_mean(a, (0, 1), keepdim=True, correction=0),
         [(3, 4)]),
    # logsumexp
    Case("logsumexp_dim", lambda t, a: t.logsumexp(a, 1), [(3, 4)]),
    Case("logsumexp_dims_keepdim", lambda t, a: a.logsumexp((0, -1), keepdim=True),
         [(2, 3, 4)]),
    Case("logsumexp_large", lambda t, a: (a * 1000).logsumexp(-1), [(3, 4)]),
    Case("logsumexp_inf_row", lambda t, a: a.logsumexp(1), grad=False,
         make=_with([[-INF, -INF], [1.0, -INF], [INF, 1.0]])),
    Case("logsumexp_int", lambda t, a: a.logsumexp(1), make=_ints, grad=False),
    Case("logsumexp_0d", lambda t, a: a.logsumexp(0), [()]),
    # norm
    Case("norm_default", lambda t, a: t.norm(a), [(3, 4)]),
    Case("norm_dim", lambda t, a: a.norm(dim=1), [(3, 4)]),
    Case("norm_p1", lambda t, a: a.norm(1, -1, keepdim=True), [(3, 4)], domain="nonzero"),
    Case("norm_p3", lambda t, a: t.norm(a, 3, 0), [(3, 4)], domain="nonzero"),
    Case("norm_p_half", lambda t, a: a.norm(0.5), [(3, 4)], domain="nonzero"),
    Case("norm_inf", lambda t, a: a.norm(INF, 1), [(3, 4)]),
    Case("norm_neg_inf", lambda t, a: a.norm(-INF), [(3, 4)]),
    Case("norm_inf_ties", lambda t, a: a.norm(INF), make=_with([1.0, -3.0, 3.0, 2.0]),
         gradgrad=False),
    Case("norm_p0", lambda t, a: a.norm(0, 1), make=_with([[1.0, 0.0], [0.0, 0.0]]),
         grad=False),
    Case("norm_fro_dims", lambda t, a: t.norm(a, "fro", (0, 2)), [(2, 3, 4)]),
    Case("norm_zero_row", lambda t, a: a.norm(dim=1), gradgrad=False,
         make=_with([[0.0, 0.0, 0.0], [1.0, 2.0, -2.0]])),
    Case("norm_p3_with_zero", lambda t, a: a.norm(3), make=_with([0.0, 1.0, -2.0]),
         gradgrad=False),
    Case("norm_dtype", lambda t, a: a.norm(dtype=t.float64), [(3,)], grad=False),
    # all / any / count_nonzero
    Case("all_any", lambda t, a: (t.all(a), t.any(a, 1), a.all(0, keepdim=True)), grad=False,
         make=_with([[1.0, 0.0, 2.0], [1.0, 1.0, 1.0]])),
    Case("all_dims_tuple", lambda t, a: a.any((0, 1)), make=_ints, grad=False),
    Case("all_uint8", lambda t, a: (a.to(t.uint8).all(), a.to(t.uint8).any(1)), make=_ints,
         grad=False),
    Case("all_empty", lambda t, a: (a.all(), a.any()), [(0, 2)], grad=False),
    Case("count_nonzero", lambda t, a: (t.count_nonzero(a), a.count_nonzero((0, 1)),
                                        a.count_nonzero(-1)), make=_ints, grad=False),
    # cumsum / cumprod
    Case("cumsum", lambda t, a: t.cumsum(a, 1), [(3, 4)]),
    Case("cumsum_neg_dim", lambda t, a: a.cumsum(-3), [(2, 3, 4)]),
    Case("cumsum_0d", lambda t, a: a.cumsum(0), [()]),
    Case("cumsum_int", lambda t, a: (a.cumsum(0), a.cumsum(1, dtype=t.float64)), make=_ints,
         grad=False),
    Case("cumprod", lambda t, a: t.cumprod(a, 1), [(3, 4)], domain="nonzero"),
    Case("cumprod_0d", lambda t, a: a.cumprod(-1), [()]),
    Case("cumprod_zeros", lambda t, a: a.cumprod(1), gradgrad=False,
         make=lambda rng: _with_zeros(rng, (3, 5), [(0, 1), (1, 2), (1, 4), (2, 4)])),
    Case("cumprod_leading_zero", lambda t, a: a.cumprod(0), gradgrad=False,
         make=lambda rng: _with_zeros(rng, (4, 2), [(0, 0), (2, 0), (3, 1)])),
    # softmax / log_softmax
    Case("softmax", lambda t, a: t.softmax(a, 1), [(3, 4)]),
    Case("softmax_neg_dim", lambda t, a: a.softmax(-1), [(2, 3, 4)]),
    Case("softmax_dim0", lambda t, a: a.softmax(0), [(2, 3, 4)]),
    Case("softmax_large", lambda t, a: (a * 1000).softmax(1), [(2, 5)], gradgrad=False),
    Case("softmax_0d", lambda t, a: a.softmax(0), [()]),
    Case("softmax_dtype", lambda t, a: t.softmax(a, 0, dtype=t.float64), [(4,)]),
    Case("softmax_empty", lambda t, a: a.softmax(1), [(0, 3)], grad=False),
    Case("log_softmax", lambda t, a: t.log_softmax(a, 1), [(3, 4)]),
    Case("log_softmax_neg_dim", lambda t, a: a.log_softmax(-2), [(2, 3, 4)]),
    Case("log_softmax_large", lambda t, a: (a * 1000).log_softmax(1), [(2, 5)]),
    Case("log_softmax_0d", lambda t, a: a.log_softmax(0), [()]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


# gradgradcheck cannot take a (values, indices) output yet (it makes grad_outputs that
# require grad for the int64 indices too): cases with indices check values' gradients alone.

# ----------------------------------------------------------------------------- by hand


def _both(values, device, requires_grad=True):
    array = np.array(values, dtype=np.float64)
    d = dark.tensor(array, device=device, requires_grad=requires_grad)
    t = torch.tensor(array, requires_grad=requires_grad)
    return d, t


def _close(actual, expected):
    np.testing.assert_allclose(host(actual), host(expected), rtol=1e-6, atol=1e-9,
                               equal_nan=True)


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
@requires_torch
def test_gradient_shared_among_three_ties(name, device):
    d, t = _both([[3.0, 1.0, 3.0, 3.0], [-2.0, -2.0, 0.0, -2.0]], device)
    getattr(dark, name)(d).backward()
    getattr(torch, name)(t).backward()
    _close(d.grad, t.grad)


@requires_torch
def test_max_with_dim_gradient_goes_to_the_index(device):
    d, t = _both([[3.0, 1.0, 3.0], [0.0, 2.0, 2.0]], device)
    d.max(1).values.sum().backward()
    t.max(1).values.sum().backward()
    _close(d.grad, t.grad)


@requires_torch
def test_mode_and_median_gradients(device):
    values = [[1.0, 2.0, 2.0, 3.0, 2.0], [4.0, 4.0, 1.0, 1.0, 0.0]]
    d, t = _both(values, device)
    (dark.mode(d, 1).values.sum() + d.median() + d.median(1).values.sum()).backward()
    (torch.mode(t, 1).values.sum() + t.median() + t.median(1).values.sum()).backward()
    _close(d.grad, t.grad)


@requires_torch
def test_logsumexp_gradient_of_minus_inf_row(device):
    d, t = _both([[-INF, -INF], [0.0, -INF]], device)
    dark.logsumexp(d, 1).sum().backward()
    torch.logsumexp(t, 1).sum().backward()
    _close(d.grad, t.grad)


@pytest.mark.parametrize("p", [2, 1, 3, INF])
@requires_torch
def test_norm_gradient_at_zero_vector(p, device):
    d, t = _both([0.0, 0.0, 0.0], device)
    dark.norm(d, p).backward()
    torch.norm(t, p).backward()
    _close(d.grad, t.grad)


@requires_torch
def test_prod_double_backward_with_zeros_matches_torch(device):
    values = [[0.0, 2.0, -1.5, 0.5], [0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    d, t = _both(values, device)
    (gd,) = dark.autograd.grad(d.prod(1).sum(), d, create_graph=True)
    (gt,) = torch.autograd.grad(t.prod(1).sum(), t, create_graph=True)
    _close(gd, gt)
    weights = np.arange(12.0).reshape(3, 4)
    (gd * dark.tensor(weights, device=device)).sum().backward()
    (gt * torch.tensor(weights)).sum().backward()
    _close(d.grad, t.grad)


def test_named_tuples(device):
    x = dark.tensor([[1.0, 4.0], [3.0, 2.0]], device=device)
    for name in ("max", "min", "median", "mode"):
        result = getattr(x, name)(1)
        values, indices = result
        assert type(result).__name__ == name
        assert result.values is values and result.indices is indices
        assert result[0] is values
        assert indices.dtype == dark.int64
        assert repr(result).startswith(f"dark.return_types.{name}(\nvalues=tensor(")
    assert x.max(1).indices.tolist() == [1, 0]


@requires_torch
def test_var_std_overloads_match_torch(device):
    d, t = _both([[1.0, 2.0, 4.0], [0.5, 0.0, 3.0]], device, requires_grad=False)
    for call in (lambda m, x: m.var(x, True), lambda m, x: m.var(x, 1, True, True),
                 lambda m, x: m.std(x, dim=0, unbiased=False),
                 lambda m, x: m.std(x, 1, correction=0.5, keepdim=True),
                 lambda m, x: x.var(dim=(0, 1), correction=0)):
        _close(call(dark, d), call(torch, t))


def _on(lib, device):
    """lib.tensor on ``device`` for dark; torch's tensors stay on the CPU."""
    return lambda values: lib.tensor(values, dtype=lib.float64,
                                     device=device if lib is dark else "cpu")


@pytest.mark.parametrize("lib", LIBS)
def test_var_with_no_degrees_of_freedom_warns_and_is_nan(lib, device):
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        result = lib.var(_on(lib, device)([2.0]))
    assert math.isnan(result.item())


@pytest.mark.parametrize("lib", LIBS)
def test_cumsum_inplace(lib, device):
    x = _on(lib, device)([[1.0, 2.0], [3.0, 4.0]])
    assert x.cumsum_(1) is x
    assert x.tolist() == [[1.0, 3.0], [3.0, 7.0]]


@pytest.mark.parametrize("lib", LIBS)
def test_max_binary_form(lib, device):
    put = _on(lib, device)
    x, y = put([1.0, 5.0, -2.0]), put([3.0, 0.0, -1.0])
    assert lib.max(x, y).tolist() == [3.0, 5.0, -1.0]
    assert x.min(y).tolist() == [1.0, 0.0, -2.0]


def test_empty_reductions(device):
    empty = dark.zeros(0, 3, device=device)
    assert empty.sum().item() == 0
    assert math.isnan(empty.mean().item())
    assert empty.prod(0).tolist() == [1.0, 1.0, 1.0]
    assert empty.amax(1).shape == (0,)
    assert dark.logsumexp(empty, 0).tolist() == [-INF] * 3
    assert math.isnan(dark.median(empty).item())


def test_dtypes(device):
    x = dark.tensor([[1, 2], [3, 4]], device=device)
    assert x.sum().dtype == dark.int64
    assert x.to(dark.int32).sum(0).dtype == dark.int64
    assert x.prod().dtype == dark.int64
    assert x.cumsum(0).dtype == dark.int64
    assert dark.tensor([True, False]).sum().dtype == dark.int64
    assert x.sum(dtype=dark.float32).dtype == dark.float32
    f = dark.tensor([1.0, 2.0], device=device)
    for result in (f.mean(), f.std(), f.norm(), f.logsumexp(0), f.softmax(0), f.amax(),
                   f.max(0).values, f.cumprod(0), f.var(), dark.var_mean(f)[1]):
        assert result.dtype == dark.float32
    assert x.argmax().dtype == dark.int64
    assert x.count_nonzero().dtype == dark.int64
    assert x.all().dtype == dark.bool


ERRORS = [
    (lambda m, x, e: m.sum(x, 2), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    (lambda m, x, e: x.mean((0, -2)), RuntimeError, "dim 0 appears multiple times"),
    (lambda m, x, e: m.max(e), RuntimeError,
     r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0"),
    (lambda m, x, e: m.amax(e, 0), IndexError,
     r"amax\(\): Expected reduction dim 0 to have non-zero size"),
    (lambda m, x, e: e.max(0), IndexError,
     r"max\(\): Expected reduction dim 0 to have non-zero size"),
    (lambda m, x, e: e.argmax(), IndexError,
     r"argmax\(\): Expected reduction dim to be specified"),
    (lambda m, x, e: x.long().mean(), RuntimeError,
     "mean\\(\\): could not infer output dtype. Input dtype must be either a floating point "
     "or complex dtype. Got: Long"),
    (lambda m, x, e: x.long().nanmean(), RuntimeError, "nanmean"),
    (lambda m, x, e: x.long().var(), RuntimeError,
     "std and var only support floating point and complex dtypes"),
    (lambda m, x, e: x.long().norm(), RuntimeError,
     "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"),
    (lambda m, x, e: x.long().softmax(-1), NotImplementedError,
     "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"),
    (lambda m, x, e: x.long().log_softmax(0), NotImplementedError,
     "\"log_softmax_kernel_impl\" not implemented for 'Long'"),
    (lambda m, x, e: m.softmax(x), TypeError, "dim"),
    (lambda m, x, e: m.logsumexp(x), TypeError, "dim"),
    (lambda m, x, e: m.cumsum(x, (0, 1)), TypeError, "cumsum\\(\\): argument 'dim' must be int"),
    (lambda m, x, e: m.argmax(x, (0, 1)), TypeError, "argmax\\(\\): argument 'dim' must be int"),
    (lambda m, x, e: m.var(x, 0, True, correction=1), TypeError, "var\\(\\)"),
    (lambda m, x, e: m.norm(e, INF, 0), RuntimeError, "cannot compute the inf norm"),
    (lambda m, x, e: m.mode(e, 0), IndexError, "mode\\(\\): Expected reduction dim 0"),
]


@pytest.mark.parametrize("call, error, match", ERRORS)
def test_errors(call, error, match, device):
    put = _on(dark, device)
    with pytest.raises(error, match=match):
        call(dark, put(np.arange(6.0).reshape(2, 3)), put(np.zeros((0, 3))))


@pytest.mark.parametrize("call, error, match", ERRORS)
@requires_torch
def test_errors_match_torch(call, error, match):
    """torch raises the same type (for a tuple dim its message also names the position:
    "argument 'dim' (position 2) must be int, not tuple")."""
    with pytest.raises(error):
        call(torch, torch.tensor(np.arange(6.0).reshape(2, 3)), torch.zeros(0, 3))
