"""Losses: the functional op table (values, float64 gradcheck/gradgradcheck, torch parity of
values and gradients) over reductions, weights, ignore_index, label smoothing, K-dim and
probability targets; legacy size_average/reduce; modules vs torch; errors vs torch."""
import warnings

import numpy as np
import pytest
from harness import LIBS, Case, check_case, ids, requires_torch, torch

import dark


def F(lib):
    return lib.nn.functional


def classes(input_shape, target_shape, count, ignore=None, weight=False):
    """Logits, class indices in [0, count) (some set to ``ignore``), optionally weights."""
    def make(rng):
        target = rng.integers(0, count, target_shape)
        if ignore is not None:
            target.reshape(-1)[::3] = ignore
        arrays = [rng.standard_normal(input_shape), target]
        if weight:
            arrays.append(rng.uniform(0.2, 2.0, (count,)))
        return arrays
    return make


def probabilities(shape, class_dim=1, weight=False):
    def make(rng):
        target = rng.uniform(0.1, 1.0, shape)
        target /= target.sum(axis=class_dim, keepdims=True)
        arrays = [rng.standard_normal(shape), target]
        if weight:
            arrays.append(rng.uniform(0.2, 2.0, (shape[class_dim],)))
        return arrays
    return make


def pair(shape, low=-1.0, high=1.0):
    return lambda rng: [rng.standard_normal(shape), rng.uniform(low, high, shape)]


def signs(*shapes):
    def make(rng):
        return [rng.standard_normal(s) for s in shapes[:-1]] + [
            rng.choice([-1.0, 1.0], shapes[-1])]
    return make


REDUCTIONS = ["none", "mean", "sum"]
CASES = []
for r in REDUCTIONS:
    CASES += [
        Case(f"mse_{r}", lambda t, a, b, r=r: F(t).mse_loss(a, b, reduction=r), [(3, 4)] * 2),
        Case(f"l1_{r}", lambda t, a, b, r=r: F(t).l1_loss(a, b, reduction=r), [(3, 4)] * 2),
        Case(f"smooth_l1_{r}", lambda t, a, b, r=r: F(t).smooth_l1_loss(a, b, reduction=r,
                                                                        beta=0.7),
             [(3, 4)] * 2),
        Case(f"huber_{r}", lambda t, a, b, r=r: F(t).huber_loss(a, b, reduction=r, delta=0.6),
             [(3, 4)] * 2),
        Case(f"ce_{r}", lambda t, x, y, r=r: F(t).cross_entropy(x, y, reduction=r),
             make=classes((4, 5), (4,), 5)),
        Case(f"ce_weight_ignore_{r}",
             lambda t, x, y, w, r=r: F(t).cross_entropy(x, y, w, ignore_index=2, reduction=r),
             make=classes((6, 5), (6,), 5, ignore=2, weight=True), grad_inputs=(0,)),
        Case(f"ce_smoothing_{r}",
             lambda t, x, y, r=r: F(t).cross_entropy(x, y, reduction=r, label_smoothing=0.2),
             make=classes((4, 5), (4,), 5, ignore=-100)),
        Case(f"ce_smoothing_weight_kdim_{r}",
             lambda t, x, y, w, r=r: F(t).cross_entropy(x, y, weight=w, reduction=r,
                                                        label_smoothing=0.3),
             make=classes((2, 4, 3, 2), (2, 3, 2), 4, ignore=-100, weight=True),
             grad_inputs=(0,)),
        Case(f"ce_kdim3_{r}", lambda t, x, y, r=r: F(t).cross_entropy(x, y, reduction=r),
             make=classes((2, 3, 4), (2, 4), 3, ignore=-100)),
        Case(f"ce_kdim5_{r}", lambda t, x, y, r=r: F(t).cross_entropy(x, y, reduction=r),
             make=classes((2, 3, 2, 2, 2), (2, 2, 2, 2), 3)),
        Case(f"ce_unbatched_{r}", lambda t, x, y, r=r: F(t).cross_entropy(x, y, reduction=r),
             make=classes((5,), (), 5)),
        Case(f"ce_probs_{r}", lambda t, x, p, r=r: F(t).cross_entropy(x, p, reduction=r),
             make=probabilities((4, 5))),
        Case(f"ce_probs_weight_smoothing_kdim_{r}",
             lambda t, x, p, w, r=r: F(t).cross_entropy(x, p, w, reduction=r,
                                                        label_smoothing=0.1),
             make=probabilities((2, 3, 4), weight=True), grad_inputs=(0, 1)),
        Case(f"nll_{r}", lambda t, x, y, r=r: F(t).nll_loss(x, y, reduction=r),
             make=classes((4, 5), (4,), 5)),
        Case(f"nll_weight_ignore_kdim_{r}",
             lambda t, x, y, w, r=r: F(t).nll_loss(x, y, w, ignore_index=1, reduction=r),
             make=classes((2, 3, 4, 2), (2, 4, 2), 3, ignore=1, weight=True),
             grad_inputs=(0,)),
        Case(f"bce_{r}", lambda t, a, b, r=r: F(t).binary_cross_entropy(t.sigmoid(a), b,
                                                                        reduction=r),
             make=pair((3, 4), 0.0, 1.0)),
        Case(f"bce_weight_{r}", lambda t, a, b, w, r=r: F(t).binary_cross_entropy(
            t.sigmoid(a), b, w, reduction=r),
            make=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4)),
                              rng.uniform(0.5, 2, (4,))], grad_inputs=(0, 1)),
        Case(f"bce_logits_{r}", lambda t, a, b, r=r: F(t).binary_cross_entropy_with_logits(
            a * 5, b, reduction=r), make=pair((3, 4), 0.0, 1.0)),
        Case(f"bce_logits_weights_{r}", lambda t, a, b, w, pw, r=r:
             F(t).binary_cross_entropy_with_logits(a * 5, b, w, reduction=r, pos_weight=pw),
             make=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4)),
                               rng.uniform(0.5, 2, (3, 1)), rng.uniform(0.5, 3, (4,))],
             grad_inputs=(0, 1)),
        Case(f"kl_div_{r}", lambda t, a, b, r=r: F(t).kl_div(t.log_softmax(a, 1), b,
                                                             reduction=r),
             make=probabilities((3, 4))),
        Case(f"kl_div_log_target_{r}", lambda t, a, b, r=r: F(t).kl_div(
            t.log_softmax(a, 1), t.log(b), reduction=r, log_target=True),
            make=probabilities((3, 4))),
        Case(f"cosine_embedding_{r}", lambda t, a, b, y, r=r: F(t).cosine_embedding_loss(
            a, b, y, margin=0.1, reduction=r), make=signs((4, 3), (4, 3), (4,))),
        Case(f"margin_ranking_{r}", lambda t, a, b, y, r=r: F(t).margin_ranking_loss(
            a, b, y, margin=0.3, reduction=r), make=signs((5,), (5,), (5,))),
        Case(f"triplet_{r}", lambda t, a, p, n, r=r: F(t).triplet_margin_loss(
            a, p, n, margin=2.0, reduction=r), [(4, 3)] * 3),
        Case(f"soft_margin_{r}", lambda t, a, y, r=r: F(t).soft_margin_loss(a, y, reduction=r),
             make=signs((3, 4), (3, 4)), grad_inputs=(0,)),
        Case(f"hinge_embedding_{r}", lambda t, a, y, r=r: F(t).hinge_embedding_loss(
            a, y, margin=0.5, reduction=r), make=signs((3, 4), (3, 4))),
        Case(f"poisson_nll_{r}", lambda t, a, b, r=r: F(t).poisson_nll_loss(a, b, reduction=r),
             make=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 3, (3, 4))]),
        Case(f"gaussian_nll_{r}", lambda t, a, b, v, r=r: F(t).gaussian_nll_loss(
            a, b, v, reduction=r), make=lambda rng: [
                rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                rng.uniform(0.5, 2, (3, 4))]),
        Case(f"multi_margin_{r}", lambda t, x, y, r=r: F(t).multi_margin_loss(x, y, reduction=r),
             make=classes((4, 5), (4,), 5)),
        Case(f"multilabel_soft_margin_{r}", lambda t, x, y, r=r:
             F(t).multilabel_soft_margin_loss(x, y, reduction=r),
             make=lambda rng: [rng.standard_normal((3, 4)), rng.integers(0, 2, (3, 4)) * 1.0],
             grad_inputs=(0,)),
    ]

CASES += [
    Case("mse_broadcast", lambda t, a, b: F(t).mse_loss(a, b), [(3, 4), (4,)]),
    Case("mse_weight_mean", lambda t, a, b, w: F(t).mse_loss(a, b, weight=w),
         make=lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                           rng.uniform(0.5, 2, (3, 4))], grad_inputs=(0, 1)),
    Case("l1_weight_sum", lambda t, a, b, w: F(t).l1_loss(a, b, reduction="sum", weight=w),
         make=lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                           rng.uniform(0.5, 2, (3, 4))], grad_inputs=(0, 1)),
    Case("huber_weight_mean", lambda t, a, b, w: F(t).huber_loss(a, b, weight=w),
         make=lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                           rng.uniform(0.5, 2, (3, 4))], grad_inputs=(0, 1)),
    Case("smooth_l1_beta0", lambda t, a, b: F(t).smooth_l1_loss(a, b, beta=0.0),
         [(3, 4)] * 2),
    Case("mse_0d", lambda t, a, b: F(t).mse_loss(a, b), [(), ()]),
    Case("ce_ignore_all", lambda t, x, y: F(t).cross_entropy(x, y * 0 - 100),
         make=classes((3, 4), (3,), 4), grad=False),
    Case("ce_ignore_all_sum", lambda t, x, y: F(t).cross_entropy(x, y * 0 - 100,
                                                                 reduction="sum"),
         make=classes((3, 4), (3,), 4)),
    Case("ce_smoothing_ignore_weight_mean",
         lambda t, x, y, w: F(t).cross_entropy(x, y, w, ignore_index=0, label_smoothing=0.5),
         make=classes((6, 4), (6,), 4, ignore=0, weight=True), grad_inputs=(0,)),
    Case("ce_probs_unbatched", lambda t, x, p: F(t).cross_entropy(x, p),
         make=probabilities((5,), class_dim=0)),
    Case("ce_large_logits", lambda t, x, y: F(t).cross_entropy(x * 1000, y),
         make=classes((4, 5), (4,), 5), grad=False),
    Case("ce_uint8_target", lambda t, x, y: F(t).cross_entropy(x, y.to(t.uint8)),
         make=classes((4, 5), (4,), 5)),
    Case("nll_unbatched", lambda t, x, y: F(t).nll_loss(x, y), make=classes((5,), (), 5)),
    Case("nll_kdim3_none", lambda t, x, y: F(t).nll_loss(x, y, reduction="none"),
         make=classes((2, 3, 4), (2, 4), 3)),
    Case("bce_extremes", lambda t, a, b: F(t).binary_cross_entropy(a * 0 + t.tensor(
        [0.0, 1.0, 0.5], dtype=a.dtype), b), make=pair((3,), 0.0, 1.0), grad=False),
    Case("bce_logits_extreme", lambda t, a, b: F(t).binary_cross_entropy_with_logits(
        a * 1000, b), make=pair((3, 4), 0.0, 1.0), grad=False),
    Case("kl_div_batchmean", lambda t, a, b: F(t).kl_div(t.log_softmax(a, 1), b,
                                                         reduction="batchmean"),
         make=probabilities((3, 4))),
    Case("kl_div_zero_target", lambda t, a, b: F(t).kl_div(a, b * (b > 0.3), reduction="sum"),
         make=probabilities((3, 4)), grad_inputs=(0,)),
    Case("cosine_embedding_unbatched", lambda t, a, b, y: F(t).cosine_embedding_loss(a, b, y),
         make=signs((3,), (3,), ())),
    Case("triplet_p1_swap", lambda t, a, p, n: F(t).triplet_margin_loss(a, p, n, p=1,
                                                                        swap=True),
         [(4, 3)] * 3),
    Case("triplet_with_distance", lambda t, a, p, n: F(t).triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda x, y: ((x - y) ** 2).sum(-1), margin=0.5,
        swap=True), [(4, 3)] * 3),
    Case("triplet_with_default_distance", lambda t, a, p, n:
         F(t).triplet_margin_with_distance_loss(a, p, n, reduction="sum"), [(4, 3)] * 3),
    Case("poisson_nll_full_nolog", lambda t, a, b: F(t).poisson_nll_loss(
        a, b, log_input=False, full=True), make=lambda rng: [
            rng.uniform(0.5, 2, (3, 4)), rng.uniform(0, 4, (3, 4))]),
    Case("gaussian_nll_homoscedastic_full", lambda t, a, b, v: F(t).gaussian_nll_loss(
        a, b, v, full=True), make=lambda rng: [
            rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
            rng.uniform(0.5, 2, (3,))]),
    Case("gaussian_nll_float_var", lambda t, a, b: F(t).gaussian_nll_loss(a, b, 0.5),
         [(3, 4)] * 2),
    Case("multi_margin_p2_weight", lambda t, x, y, w: F(t).multi_margin_loss(
        x, y, p=2, margin=0.5, weight=w), make=classes((4, 5), (4,), 5, weight=True),
        grad_inputs=(0,)),
    Case("multi_margin_unbatched_none", lambda t, x, y: F(t).multi_margin_loss(
        x, y, reduction="none"), make=classes((5,), (), 5)),
    Case("multilabel_soft_margin_weight", lambda t, x, y, w: F(t).multilabel_soft_margin_loss(
        x, y, w), make=lambda rng: [rng.standard_normal((3, 4)),
                                    rng.integers(0, 2, (3, 4)) * 1.0, rng.uniform(0.5, 2, (4,))],
        grad_inputs=(0,)),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_functional(case, device):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_case(case, device)


def test_cross_entropy_grad_fn_and_dtype():
    x = dark.randn(4, 5, requires_grad=True)
    loss = dark.nn.functional.cross_entropy(x, dark.tensor([0, 1, 2, 3]))
    assert loss.dtype == dark.float32 and loss.shape == ()
    assert loss.grad_fn.name() == "NllLossBackward0"
    loss.backward()
    assert x.grad.dtype == dark.float32


def test_cross_entropy_equals_nll_of_log_softmax():
    rng = np.random.default_rng(5)
    x = dark.tensor(rng.standard_normal((6, 4)))
    y = dark.tensor(rng.integers(0, 4, 6))
    w = dark.tensor(rng.uniform(0.5, 2, 4))
    f = dark.nn.functional
    expected = f.nll_loss(f.log_softmax(x, 1), y, w, ignore_index=3)
    np.testing.assert_allclose(f.cross_entropy(x, y, w, ignore_index=3).item(),
                               expected.item(), rtol=1e-12)


@pytest.mark.parametrize("size_average,reduce,reduction", [
    (None, False, "none"), (False, None, "sum"), (True, True, "mean"), (False, True, "sum"),
    (True, False, "none")])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "soft_margin_loss"])
@pytest.mark.parametrize("lib", LIBS)
def test_legacy_reduction_arguments(lib, name, size_average, reduce, reduction):
    values = np.random.default_rng(6).standard_normal((2, 3, 3))
    loss = getattr(lib.nn.functional, name)
    inputs = lib.tensor(values[0]), lib.tensor(np.sign(values[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy = loss(*inputs, size_average=size_average, reduce=reduce)
    np.testing.assert_array_equal(legacy.numpy(), loss(*inputs, reduction=reduction).numpy())


def test_legacy_reduction_warns():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        dark.nn.functional.mse_loss(dark.ones(2), dark.zeros(2), reduce=False)


def test_size_mismatch_warns():
    with pytest.warns(UserWarning, match="Using a target size"):
        dark.nn.functional.mse_loss(dark.ones(2, 3), dark.zeros(3))


@requires_torch
def test_second_derivative_of_cross_entropy_matches_torch():
    rng = np.random.default_rng(7)
    x_np, y_np = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    w_np = rng.uniform(0.5, 2, 5)
    results = []
    for lib in (dark, torch):
        x = lib.tensor(x_np, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(y_np), lib.tensor(w_np),
                                               label_smoothing=0.1)
        (grad,) = lib.autograd.grad(loss, x, create_graph=True)
        (hessian_row,) = lib.autograd.grad((grad * grad).sum(), x)
        results.append((grad.detach().numpy(), hessian_row.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


def _logits(*shape):
    return lambda t: t.randn(*shape)


ERRORS = [
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.tensor([1, 10, 2])), IndexError,
     "Target 10 is out of bounds."),
    (lambda t: F(t).nll_loss(t.randn(3, 5), t.tensor([1, -1, 2])), IndexError,
     "Target -1 is out of bounds."),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.tensor([1.0, 2.0, 2.0])), RuntimeError,
     "expected target dtype to be Long or Byte, but got Float"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.tensor([1, 2, 3], dtype=t.int32)),
     RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.tensor([1, 2])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(2\)."),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.rand(3, 4)), RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.rand(3, 5), ignore_index=1), RuntimeError,
     "ignore_index is not supported for floating point target"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.ones(3, 5, dtype=t.int64)), RuntimeError,
     "Expected floating point type for target with class probabilities, got Long"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.tensor([1, 2, 3]), weight=t.ones(4)),
     RuntimeError, "weight tensor should be defined either for all 5 classes or no classes"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5).double(), t.tensor([1, 2, 3]),
                                  weight=t.ones(5)), RuntimeError,
     "expected scalar type Double but found Float"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.tensor([1, 2, 3]), reduction="foo"),
     ValueError, "foo is not a valid value for reduction"),
    (lambda t: F(t).cross_entropy(t.randn(3, 5), t.tensor([1, 2, 3]), label_smoothing=1.5),
     RuntimeError, "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    (lambda t: F(t).cross_entropy(t.randn(2, 3, 4, 5), t.randint(0, 3, (2, 4, 6))),
     RuntimeError, r"size mismatch \(got input: \[2, 3, 4, 5\] , target: \[2, 4, 6\]"),
    (lambda t: F(t).nll_loss(t.randn(2, 3, 4, 5), t.randint(0, 3, (2, 4))), RuntimeError,
     "only batches of spatial targets supported"),
    (lambda t: F(t).nll_loss(t.randn(3, 5, 2), t.tensor([0, 0, 0])), RuntimeError,
     r"Expected target size \[3, 2\], got \[3\]"),
    (lambda t: F(t).nll_loss(t.randn(3, 5, 2), t.zeros(3, 2, dtype=t.int64) + 7), IndexError,
     "Target 7 is out of bounds."),
    (lambda t: F(t).mse_loss(t.randn(3, 4), t.randn(3, 5)), RuntimeError,
     r"The size of tensor a \(4\) must match the size of tensor b \(5\) at non-singleton "
     "dimension 1"),
    (lambda t: F(t).mse_loss(t.randn(3, 4), t.randn(3, 4), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
    (lambda t: F(t).mse_loss(t.randn(3, 4), t.randn(3, 4), weight=t.ones(4)), ValueError,
     "Weights and input must have the same size."),
    (lambda t: F(t).smooth_l1_loss(t.randn(3), t.randn(3), beta=-1.0), RuntimeError,
     "does not support negative values for beta"),
    (lambda t: F(t).huber_loss(t.randn(3), t.randn(3), delta=0.0), RuntimeError,
     "does not support non-positive values for delta"),
    (lambda t: F(t).binary_cross_entropy(t.rand(3, 4), t.rand(3)), ValueError,
     "that is different to the input size"),
    (lambda t: F(t).binary_cross_entropy(t.rand(3) + 1.5, t.rand(3)), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda t: F(t).binary_cross_entropy(t.rand(3), t.rand(3).double()), RuntimeError,
     "Found dtype Double but expected Float"),
    (lambda t: F(t).binary_cross_entropy_with_logits(t.rand(3, 4), t.rand(3)), ValueError,
     "must be the same as input size"),
    (lambda t: F(t).kl_div(t.randn(3), t.rand(3), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
    (lambda t: F(t).cosine_embedding_loss(t.randn(3, 2), t.randn(3, 2), t.ones(3, 1)),
     RuntimeError, "0D or 1D target tensor expected"),
    (lambda t: F(t).cosine_embedding_loss(t.randn(3), t.randn(3), t.ones(3)), RuntimeError,
     "1D target tensor expects 2D input tensors"),
    (lambda t: F(t).margin_ranking_loss(t.randn(3), t.randn(3), t.ones(3, 1)), RuntimeError,
     "All input tensors should have same dimension"),
    (lambda t: F(t).triplet_margin_loss(t.randn(3, 2), t.randn(3, 2), t.randn(3, 2),
                                        margin=0.0), ValueError, "margin must be greater than 0"),
    (lambda t: F(t).triplet_margin_loss(t.randn(3, 2), t.randn(3, 2), t.randn(2)),
     RuntimeError, "same number of dimensions"),
    (lambda t: F(t).multi_margin_loss(t.randn(3, 5), t.tensor([2, 1, 7])), RuntimeError,
     "target out of range"),
    (lambda t: F(t).multi_margin_loss(t.randn(3, 5), t.tensor([2, 1])), RuntimeError,
     r"Expected target size \[3\], but got \[2\]"),
    (lambda t: F(t).multi_margin_loss(t.randn(3, 5), t.tensor([2, 1, 0]), p=3), ValueError,
     "only p == 1 and p == 2 supported"),
    (lambda t: F(t).gaussian_nll_loss(t.randn(3, 4), t.randn(3, 4), t.ones(2)), ValueError,
     "var is of incorrect size"),
    (lambda t: F(t).gaussian_nll_loss(t.randn(3, 4), t.randn(3, 4), -1.0), ValueError,
     "var has negative entry"),
    (lambda t: F(t).poisson_nll_loss(t.randn(3), t.rand(3), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
]


@pytest.mark.parametrize("make,error,match", ERRORS, ids=[e[2][:40] for e in ERRORS])
@pytest.mark.parametrize("lib", LIBS)
def test_errors_as_torch(lib, make, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            make(lib)


# ----------------------------------------------------------------------------- modules


def _weights(count):
    return np.random.default_rng(9).uniform(0.5, 2.0, count)


MODULES = [
    ("MSELoss", {}, "regression"), ("MSELoss", {"reduction": "sum"}, "regression"),
    ("L1Loss", {"reduction": "none"}, "regression"),
    ("SmoothL1Loss", {"beta": 0.5}, "regression"),
    ("HuberLoss", {"delta": 0.5, "reduction": "sum"}, "regression"),
    ("CrossEntropyLoss", {}, "classes"),
    ("CrossEntropyLoss", {"weight": "w", "ignore_index": 1, "label_smoothing": 0.2,
                          "reduction": "sum"}, "classes"),
    ("NLLLoss", {"weight": "w", "reduction": "none"}, "classes"),
    ("NLLLoss", {"ignore_index": 2}, "classes"),
    ("BCELoss", {}, "binary"), ("BCELoss", {"weight": "w", "reduction": "none"}, "binary"),
    ("BCEWithLogitsLoss", {"pos_weight": "w"}, "binary"),
    ("KLDivLoss", {"reduction": "batchmean"}, "binary"),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, "binary"),
    ("SoftMarginLoss", {}, "signs"), ("HingeEmbeddingLoss", {"margin": 0.5}, "signs"),
    ("PoissonNLLLoss", {"log_input": True, "full": True}, "binary"),
    ("GaussianNLLLoss", {"full": True, "eps": 1e-3}, "gaussian"),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": "w"}, "classes"),
    ("MultiLabelSoftMarginLoss", {"weight": "w"}, "binary"),
    ("CosineEmbeddingLoss", {"margin": 0.2}, "pairs"),
    ("MarginRankingLoss", {"margin": 0.1}, "ranking"),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}, "triplet"),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5, "swap": True}, "triplet"),
]


def _module_inputs(kind, rng):
    if kind == "regression":
        return [rng.standard_normal((4, 5)), rng.standard_normal((4, 5))]
    if kind == "classes":
        return [rng.standard_normal((4, 5)), rng.integers(0, 5, 4)]
    if kind == "binary":
        return [1 / (1 + np.exp(-rng.standard_normal((4, 5)))), rng.uniform(0, 1, (4, 5))]
    if kind == "signs":
        return [rng.standard_normal((4, 5)), rng.choice([-1.0, 1.0], (4, 5))]
    if kind == "gaussian":
        return [rng.standard_normal((4, 5)), rng.standard_normal((4, 5)),
                rng.uniform(0.5, 2, (4, 5))]
    if kind == "pairs":
        return [rng.standard_normal((4, 5)), rng.standard_normal((4, 5)),
                rng.choice([-1.0, 1.0], 4)]
    if kind == "ranking":
        return [rng.standard_normal(4), rng.standard_normal(4), rng.choice([-1.0, 1.0], 4)]
    return [rng.standard_normal((4, 5)) for _ in range(3)]


@pytest.mark.parametrize("name,kwargs,kind", MODULES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(MODULES)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@requires_torch
def test_module_matches_torch(name, kwargs, kind, dtype):
    def build(lib):
        options = {k: (lib.tensor(_weights(5).astype(dtype)) if v == "w" else v)
                   for k, v in kwargs.items()}
        return getattr(lib.nn, name)(**options)

    module_d, module_t = build(dark), build(torch)
    assert repr(module_d) == repr(module_t)
    assert list(module_d.state_dict()) == list(module_t.state_dict())
    for key, value in module_t.state_dict().items():
        np.testing.assert_array_equal(module_d.state_dict()[key].numpy(), value.numpy())
    arrays = _module_inputs(kind, np.random.default_rng(10))
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    # targets take no gradient (torch refuses one for some losses)
    grads = [a.dtype.kind == "f" and (i == 0 or kind in ("gaussian", "triplet")
                                      or i == 1 and kind in ("pairs", "ranking"))
             for i, a in enumerate(arrays)]
    inputs_d = [dark.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    inputs_t = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    out_d, out_t = module_d(*inputs_d), module_t(*inputs_t)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out_d.detach().numpy(), out_t.detach().numpy(), rtol=tol,
                               atol=tol)
    out_d.sum().backward()
    out_t.sum().backward()
    for x_d, x_t in zip(inputs_d, inputs_t):
        if x_t.grad is not None:
            np.testing.assert_allclose(x_d.grad.numpy(), x_t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("lib", LIBS)
def test_loss_module_legacy_arguments(lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert lib.nn.MSELoss(size_average=False).reduction == "sum"
        assert lib.nn.CrossEntropyLoss(reduce=False).reduction == "none"
        assert lib.nn.NLLLoss(size_average=True, reduce=True).reduction == "mean"


def test_weight_is_a_buffer():
    module = dark.nn.CrossEntropyLoss(weight=dark.ones(3))
    assert list(module.state_dict()) == ["weight"]
    assert list(module.parameters()) == []
    assert dark.nn.CrossEntropyLoss().weight is None
    module.to(dark.float64)
    assert module.weight.dtype == dark.float64


def test_nll_loss_2d_is_deprecated_nll_loss():
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        module = dark.nn.NLLLoss2d(ignore_index=1)
    assert isinstance(module, dark.nn.NLLLoss) and module.ignore_index == 1
