"""Max/avg/adaptive/lp pooling and max_unpool2d (op table: forward, indices, gradcheck,
gradgradcheck, torch parity), pooling modules (parity, repr) and errors vs torch."""
import numpy as np
import pytest
from harness import Case, check_case, ids, requires_torch, torch
from test_nn_conv import check_module

import dark
import dark.nn as nn
import dark.nn.functional as F


def pool(name, shape, *args, **options):
    label = "_".join([name] + [str(a) for a in args]
                     + [f"{k}{v}" for k, v in options.items()] + ["x".join(map(str, shape))])
    # gradgradcheck (dark's, like its gradcheck) needs every output float: index outputs are
    # checked for values here and their pooled values for second derivatives without them
    return Case(label, lambda t, x: getattr(t.nn.functional, name)(x, *args, **options), [shape],
                gradgrad=not options.get("return_indices"))


X4 = (2, 3, 7, 8)
CASES = [
    pool("max_pool2d", (2, 3, 6, 8), 2),
    pool("max_pool2d", (2, 3, 6, 8), 2, return_indices=True),
    pool("max_pool2d", X4, 3, stride=2, padding=1, return_indices=True),
    pool("max_pool2d", X4, (3, 2), stride=(2, 1), padding=(1, 0)),
    pool("max_pool2d", X4, 3, stride=2, ceil_mode=True, return_indices=True),
    pool("max_pool2d", X4, 3, stride=2, ceil_mode=True),
    pool("max_pool2d", X4, 3, stride=2, padding=1),
    pool("max_pool2d", X4, 2, stride=1, dilation=2, return_indices=True),
    pool("max_pool2d", X4, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
    pool("max_pool2d", (3, 5, 5), 2, return_indices=True),  # unbatched
    pool("max_pool2d", (2, 3, 5, 5), 2),  # the last row/column is dropped
    pool("max_pool1d", (2, 3, 9), 3, stride=2, padding=1, return_indices=True),
    pool("max_pool1d", (3, 8), 2, ceil_mode=True),
    pool("max_pool3d", (1, 2, 4, 4, 5), 2, stride=(1, 2, 2), padding=1, return_indices=True),
    pool("avg_pool2d", (2, 3, 6, 8), 2),
    pool("avg_pool2d", X4, 3, stride=2, padding=1),
    pool("avg_pool2d", X4, 3, stride=2, padding=1, count_include_pad=False),
    pool("avg_pool2d", X4, 3, stride=2, padding=1, ceil_mode=True),
    pool("avg_pool2d", X4, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    pool("avg_pool2d", X4, (2, 3), stride=(1, 2), divisor_override=4),
    pool("avg_pool2d", (3, 5, 6), 2),
    pool("avg_pool1d", (2, 3, 9), 3, stride=2, padding=1, ceil_mode=True),
    pool("avg_pool1d", (3, 8), 4, count_include_pad=False, padding=2),
    pool("avg_pool3d", (1, 2, 4, 4, 5), 2, stride=1, padding=1, count_include_pad=False),
    pool("adaptive_avg_pool2d", X4, (3, 4)),
    pool("adaptive_avg_pool2d", X4, 1),
    pool("adaptive_avg_pool2d", (2, 3, 6, 8), (3, None)),
    pool("adaptive_avg_pool2d", (3, 5, 7), (4, 3)),
    pool("adaptive_avg_pool1d", (2, 3, 7), 3),
    pool("adaptive_avg_pool1d", (3, 8), 4),
    pool("adaptive_max_pool2d", X4, (3, 5), return_indices=True),
    pool("adaptive_max_pool2d", X4, (3, 5)),
    pool("adaptive_max_pool2d", (2, 3, 6, 8), (2, 4), return_indices=True),
    pool("adaptive_max_pool2d", (3, 5, 7), 4),
    pool("adaptive_max_pool1d", (2, 3, 7), 3, return_indices=True),
    Case("lp_pool2d", lambda t, x: t.nn.functional.lp_pool2d(x, 2, 2), [(2, 3, 6, 8)],
         domain="positive"),
    Case("lp_pool2d_p3_stride", lambda t, x: t.nn.functional.lp_pool2d(x, 3, (2, 3), stride=1),
         [(2, 3, 5, 6)], domain="positive"),
    Case("lp_pool1d", lambda t, x: t.nn.functional.lp_pool1d(x, 2, 3, stride=2), [(2, 3, 9)],
         domain="positive"),
    Case("max_unpool2d", lambda t, x: t.nn.functional.max_unpool2d(
        *t.nn.functional.max_pool2d(x, 2, return_indices=True), 2), [(2, 3, 4, 6)]),
    Case("max_unpool2d_output_size", lambda t, x: t.nn.functional.max_unpool2d(
        *t.nn.functional.max_pool2d(x, 2, 2, 1, return_indices=True), 2, 2, 1,
        output_size=(5, 6)), [(2, 3, 5, 6)]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


@requires_torch
def test_max_pool_ties_and_nan_follow_torch():
    nan = float("nan")
    array = np.array([[[[1, 1, 2, 2], [1, 3, 3, 2], [nan, 0, 1, nan], [0, nan, 1, 1]]]],
                     dtype=np.float32)
    for args in [(2,), (3, 1, 1), (2, 1)]:
        out, indices = F.max_pool2d(dark.tensor(array), *args, return_indices=True)
        t_out, t_indices = torch.nn.functional.max_pool2d(torch.tensor(array), *args,
                                                          return_indices=True)
        np.testing.assert_array_equal(out.numpy(), t_out.numpy())
        np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())


def test_max_pool_tie_gradient_goes_to_the_first_entry():
    x = dark.tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1, 0], [0, 0]]]])


def test_grad_fn_names_and_index_dtype():
    x = dark.randn(2, 3, 4, 4, requires_grad=True)
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    assert out.grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    assert indices.dtype == dark.int64 and not indices.requires_grad
    assert F.avg_pool2d(x, 2).grad_fn.name() == "AvgPool2DBackward0"
    assert F.adaptive_avg_pool2d(x, 3).grad_fn.name() == "AdaptiveAvgPool2DBackward0"
    assert F.adaptive_max_pool2d(x, 3).grad_fn.name() == "AdaptiveMaxPool2DBackward0"


def _raises_like(dark_call, torch_call):
    with pytest.raises(Exception) as expected:
        torch_call()
    with pytest.raises(type(expected.value)) as got:
        dark_call()
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("call", [
    lambda f, x: f.max_pool2d(x, 2, padding=2),
    lambda f, x: f.max_pool2d(x, (1, 2, 3)),
    lambda f, x: f.max_pool2d(x, 2, stride=(1, 2, 3)),
    lambda f, x: f.max_pool2d(x, 5),
    lambda f, x: f.max_pool2d(x[0, 0], 2),
    lambda f, x: f.max_pool2d(x, 2, stride=0),
    lambda f, x: f.max_pool2d(x, 2, dilation=0),
    lambda f, x: f.max_pool1d(x, 2),
    lambda f, x: f.avg_pool2d(x, 2, padding=2),
    lambda f, x: f.avg_pool2d(x, 5),
    lambda f, x: f.avg_pool2d(x, 2, divisor_override=0),
    lambda f, x: f.avg_pool1d(x, 2),
    lambda f, x: f.adaptive_avg_pool2d(x, (3, 2, 1)),
    lambda f, x: f.adaptive_avg_pool2d(x[0, 0], (3, 2)),
    lambda f, x: f.adaptive_avg_pool1d(x, 3),
    lambda f, x: f.adaptive_max_pool2d(x[0, 0], 3),
])
@requires_torch
def test_pool_errors(call):
    x = np.ones((2, 3, 4, 5), dtype=np.float32)
    _raises_like(lambda: call(F, dark.tensor(x)), lambda: call(torch.nn.functional,
                                                               torch.tensor(x)))


@pytest.mark.parametrize("build, shape", [
    (lambda m: m.MaxPool2d(2), (2, 3, 6, 8)),
    (lambda m: m.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True), (2, 3, 7, 8)),
    (lambda m: m.MaxPool2d((2, 3), return_indices=True), (3, 6, 9)),
    (lambda m: m.MaxPool1d(3, 2, 1, return_indices=True), (2, 3, 9)),
    (lambda m: m.MaxPool3d(2), (1, 2, 4, 4, 4)),
    (lambda m: m.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     (2, 3, 7, 8)),
    (lambda m: m.AvgPool2d(2, divisor_override=3), (2, 3, 6, 8)),
    (lambda m: m.AvgPool1d(3, stride=2, padding=1), (2, 3, 9)),
    (lambda m: m.AvgPool3d(2, stride=1), (1, 2, 3, 4, 4)),
    (lambda m: m.AdaptiveAvgPool2d((3, None)), (2, 3, 7, 8)),
    (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 7, 8)),
    (lambda m: m.AdaptiveAvgPool1d(3), (2, 3, 8)),
    (lambda m: m.AdaptiveMaxPool2d((3, 4), return_indices=True), (2, 3, 7, 8)),
    (lambda m: m.AdaptiveMaxPool1d(4), (2, 3, 9)),
    (lambda m: m.LPPool2d(2, 2), (2, 3, 6, 8)),
    (lambda m: m.LPPool1d(3, 2, stride=1), (2, 3, 7)),
])
@requires_torch
def test_module_parity(build, shape):
    check_module(build(nn), build(torch.nn), shape)


@requires_torch
def test_max_unpool_module():
    module, t_module = nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert repr(module) == repr(t_module)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    out, indices = F.max_pool2d(dark.tensor(x), 2, return_indices=True)
    t_out, t_indices = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(module(out, indices, output_size=(5, 5)).numpy(),
                                  t_module(t_out, t_indices, output_size=(5, 5)).numpy())


@pytest.mark.parametrize("name, shape, args", [
    ("max_pool2d", (3, 4, 8, 10), (2,)),
    ("max_pool2d", (3, 4, 9, 12), (3,)),
    ("max_pool2d", (3, 4, 8, 9), ((2, 3),)),
    ("max_pool2d", (3, 4, 8, 10), ((1, 2),)),
    ("max_pool2d", (3, 4, 8, 10), ((2, 1),)),
    ("max_pool2d", (3, 4, 9, 11), (2,)),
    ("max_pool2d", (3, 4, 8, 10), (3, 2, 1)),
    ("max_pool1d", (3, 4, 12), (3,)),
    ("max_pool3d", (2, 3, 4, 6, 6), (2,)),
    ("max_pool2d", (2, 3, 24, 24), (12,)),  # 144 kernel entries: a wider argmax dtype
])
@requires_torch
def test_max_pool_many_ties_and_nans_follow_torch(name, shape, args):
    # after a ReLU most windows tie at 0; rounding to halves makes ties of positive values
    rng = np.random.default_rng(0)
    array = np.maximum(np.round(rng.standard_normal(shape) * 2) / 2, 0).astype(np.float32)
    with_nan = array.copy()
    with_nan.reshape(-1)[rng.choice(array.size, array.size // 10, replace=False)] = np.nan
    grad = rng.standard_normal(getattr(torch.nn.functional, name)(
        torch.tensor(array), *args).shape).astype(np.float32)
    for values in (array, with_nan):
        x = dark.tensor(values, requires_grad=True)
        t_x = torch.tensor(values, requires_grad=True)
        out, indices = getattr(F, name)(x, *args, return_indices=True)
        t_out, t_indices = getattr(torch.nn.functional, name)(t_x, *args, return_indices=True)
        np.testing.assert_array_equal(out.detach().numpy(), t_out.detach().numpy())
        np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
        getattr(F, name)(x, *args).backward(dark.tensor(grad))
        getattr(torch.nn.functional, name)(t_x, *args).backward(torch.tensor(grad))
        # overlapping windows add several gradients into one entry, in another order than torch
        np.testing.assert_allclose(x.grad.numpy(), t_x.grad.numpy(), rtol=1e-6, atol=1e-7)
        with dark.no_grad():
            np.testing.assert_array_equal(getattr(F, name)(dark.tensor(values), *args).numpy(),
                                          t_out.detach().numpy())


@requires_torch
def test_max_pool_of_a_non_contiguous_input_follows_torch():
    rng = np.random.default_rng(1)
    array = np.maximum(rng.standard_normal((2, 8, 6, 3)), 0).astype(np.float32)
    x = dark.tensor(array, requires_grad=True)
    t_x = torch.tensor(array, requires_grad=True)
    out, indices = F.max_pool2d(x.permute(0, 3, 1, 2), 2, return_indices=True)
    t_out, t_indices = torch.nn.functional.max_pool2d(t_x.permute(0, 3, 1, 2), 2,
                                                      return_indices=True)
    np.testing.assert_array_equal(out.detach().numpy(), t_out.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t_x.grad.numpy())


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2)])
@requires_torch
def test_max_pool_backward_zeroes_nan_gradients_off_the_argmax(kernel, stride, device):
    """Only the argmax of each window receives the incoming gradient: a NaN or inf gradient
    does not leak to the other entries (torch gives them 0)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    grads = []
    g = None
    for lib, dev in ((dark, device), (torch, "cpu")):
        t = lib.tensor(x, device=dev, requires_grad=True)
        out = lib.nn.functional.max_pool2d(t, kernel, stride)
        if g is None:
            g = rng.standard_normal(tuple(out.shape)).astype(np.float32)
            g.flat[::3] = np.nan
            g.flat[::4] = np.inf
        out.backward(lib.tensor(g, device=dev))
        grads.append(t.grad.cpu().numpy())
    # overlapping windows add several gradients into one entry, in another order than torch
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=0)
