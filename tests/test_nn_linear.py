"""F.linear / F.bilinear (op table) and nn.Linear / nn.Bilinear (parity with torch)."""
import math

import numpy as np
import pytest
from harness import Case, check_case, ids, raises_like, requires_torch, torch

import dark
import dark.nn.functional as F

CASES = [
    Case("linear", lambda t, x, w, b: t.nn.functional.linear(x, w, b), [(4, 5), (3, 5), (3,)]),
    Case("linear_no_bias", lambda t, x, w: t.nn.functional.linear(x, w), [(4, 5), (3, 5)]),
    Case("linear_batched", lambda t, x, w, b: t.nn.functional.linear(x, w, b),
         [(2, 3, 5), (4, 5), (4,)]),
    Case("linear_4d", lambda t, x, w: t.nn.functional.linear(x, w), [(2, 1, 3, 5), (4, 5)]),
    Case("linear_vector_input", lambda t, x, w, b: t.nn.functional.linear(x, w, b),
         [(5,), (3, 5), (3,)]),
    Case("linear_scalar_bias", lambda t, x, w, b: t.nn.functional.linear(x, w, b),
         [(4, 5), (3, 5), ()]),
    Case("linear_vector_weight", lambda t, x, w: t.nn.functional.linear(x, w), [(4, 5), (5,)]),
    Case("linear_empty_batch", lambda t, x, w, b: t.nn.functional.linear(x, w, b),
         [(0, 5), (3, 5), (3,)], gradgrad=False),
    Case("bilinear", lambda t, x, y, w, b: t.nn.functional.bilinear(x, y, w, b),
         [(4, 3), (4, 2), (5, 3, 2), (5,)]),
    Case("bilinear_batched_no_bias", lambda t, x, y, w: t.nn.functional.bilinear(x, y, w),
         [(2, 3, 3), (2, 3, 2), (4, 3, 2)]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


def test_linear_grad_fn_names():
    x = dark.randn(4, 5, requires_grad=True)
    w = dark.randn(3, 5)
    b = dark.randn(3)
    assert F.linear(x, w, b).grad_fn.name() == "AddmmBackward0"
    assert F.linear(x, w).grad_fn.name() == "MmBackward0"
    assert F.linear(x.reshape(2, 2, 5), w, b).grad_fn.name() == "ViewBackward0"


@pytest.mark.parametrize("shapes", [
    [(64, 784), (10, 512)], [(784,), (10, 512)], [(2, 3, 784), (10, 512), (10,)],
    [(2, 3, 512), (10, 512), (7,)], [(), (10, 512)], [(3, 512), (2, 10, 512)],
])
@requires_torch
def test_linear_errors(shapes):
    arrays = [np.ones(s, dtype=np.float32) for s in shapes]
    raises_like(lambda: F.linear(*[dark.tensor(a) for a in arrays]),
                 lambda: torch.nn.functional.linear(*[torch.tensor(a) for a in arrays]))


@requires_torch
def test_linear_dtype_errors():
    x, w, b = np.ones((3, 4)), np.ones((2, 4)), np.ones(2)
    raises_like(lambda: F.linear(dark.tensor(x, dtype=dark.float32), dark.tensor(w)),
                 lambda: torch.nn.functional.linear(torch.tensor(x, dtype=torch.float32),
                                                    torch.tensor(w)))
    raises_like(lambda: F.linear(dark.tensor(x, dtype=dark.float32),
                                  dark.tensor(w, dtype=dark.float32), dark.tensor(b)),
                 lambda: torch.nn.functional.linear(torch.tensor(x, dtype=torch.float32),
                                                    torch.tensor(w, dtype=torch.float32),
                                                    torch.tensor(b)))


@pytest.mark.parametrize("shapes", [
    [(3, 4), (3, 6), (6, 4, 5)], [(3, 4), (2, 5), (6, 4, 5)], [(3, 3), (3, 5), (6, 4, 5)],
    [(3, 4), (3, 5), (6, 4, 5), (7,)],
])
@requires_torch
def test_bilinear_errors(shapes):
    arrays = [np.ones(s, dtype=np.float32) for s in shapes]
    raises_like(lambda: F.bilinear(*[dark.tensor(a) for a in arrays]),
                 lambda: torch.nn.functional.bilinear(*[torch.tensor(a) for a in arrays]))

# ----------------------------------------------------------------------------- modules


def _sync(dark_module, torch_module):
    """Load torch's state into dark's: the same keys, in the same order, of the same shapes."""
    state = torch_module.state_dict()
    assert list(dark_module.state_dict()) == list(state)
    for name, value in dark_module.state_dict().items():
        assert tuple(value.shape) == tuple(state[name].shape), name
    dark_module.load_state_dict({k: dark.tensor(v.numpy()) for k, v in state.items()})


def _check_module(dark_module, torch_module, inputs, tolerance):
    _sync(dark_module, torch_module)
    d_inputs = [dark.tensor(a, requires_grad=True) for a in inputs]
    t_inputs = [torch.tensor(a, requires_grad=True) for a in inputs]
    d_out, t_out = dark_module(*d_inputs), torch_module(*t_inputs)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), atol=tolerance,
                               rtol=tolerance)
    seed = np.random.default_rng(0).standard_normal(tuple(t_out.shape)).astype(inputs[0].dtype)
    d_out.backward(dark.tensor(seed))
    t_out.backward(torch.tensor(seed))
    for d, t in zip(d_inputs, t_inputs):
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), atol=tolerance,
                                   rtol=tolerance)
    t_params = dict(torch_module.named_parameters())
    for name, param in dark_module.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), t_params[name].grad.numpy(),
                                   atol=tolerance, rtol=tolerance, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@requires_torch
def test_linear_module(dtype, bias):
    rng = np.random.default_rng(1)
    d_module, t_module = dark.nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias)
    if dtype == np.float64:
        d_module, t_module = d_module.double(), t_module.double()
    _check_module(d_module, t_module, [rng.standard_normal((2, 4, 5)).astype(dtype)], 1e-5)
    assert repr(d_module) == repr(t_module)


@pytest.mark.parametrize("bias", [True, False])
@requires_torch
def test_bilinear_module(bias):
    rng = np.random.default_rng(2)
    d_module, t_module = dark.nn.Bilinear(3, 2, 4, bias), torch.nn.Bilinear(3, 2, 4, bias)
    inputs = [rng.standard_normal((5, 3)).astype(np.float32),
              rng.standard_normal((5, 2)).astype(np.float32)]
    _check_module(d_module, t_module, inputs, 1e-5)
    assert repr(d_module) == repr(t_module)


def test_linear_init_distribution():
    module = dark.nn.Linear(400, 300)
    weight, bias = module.weight.detach().numpy(), module.bias.detach().numpy()
    assert weight.shape == (300, 400) and weight.dtype == np.float32
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) and the bias share this bound
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.99 * bound
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(bias).max() <= bound and bias.std() > 0.4 * bound


def test_linear_options():
    module = dark.nn.Linear(3, 2, device="cpu", dtype=dark.float64)
    assert module.weight.dtype == dark.float64 and module.bias.dtype == dark.float64
    assert [name for name, _ in module.named_parameters()] == ["weight", "bias"]
    assert module.in_features == 3 and module.out_features == 2
    module = dark.nn.Linear(3, 2, bias=False)
    assert module.bias is None and list(module.state_dict()) == ["weight"]
    dark.manual_seed(0)
    first = dark.nn.Linear(3, 2).weight.detach().numpy()
    dark.manual_seed(0)
    np.testing.assert_array_equal(first, dark.nn.Linear(3, 2).weight.detach().numpy())


def test_bilinear_init_and_options():
    module = dark.nn.Bilinear(20, 3, 50)
    bound = 1 / math.sqrt(20)
    weight = module.weight.detach().numpy()
    assert weight.shape == (50, 20, 3)
    assert np.abs(weight).max() <= bound and np.abs(module.bias.detach().numpy()).max() <= bound
    with pytest.raises(ValueError, match=r"in1_features must be > 0, but got \(in1_features=0"):
        dark.nn.Bilinear(0, 3, 4)


@pytest.mark.parametrize("shape", [(5, 4), (2, 5, 4), (4,)])
def test_linear_gradients_are_contiguous_and_exact(shape, device):
    """The weight's gradient comes back through TBackward0 in the weight's own (C) layout,
    with the values of the direct formulas."""
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal(shape)
    w_np, b_np = rng.standard_normal((3, 4)), rng.standard_normal(3)
    g_np = rng.standard_normal(shape[:-1] + (3,))
    x, w, b = (dark.tensor(a, device=device, requires_grad=True) for a in (x_np, w_np, b_np))
    F.linear(x, w, b).backward(dark.tensor(g_np, device=device))
    assert w.grad.is_contiguous()
    rows, grads = x_np.reshape(-1, 4), g_np.reshape(-1, 3)
    np.testing.assert_allclose(w.grad.cpu().numpy(), grads.T @ rows, rtol=1e-12)
    np.testing.assert_allclose(b.grad.cpu().numpy(), grads.sum(0), rtol=1e-12)
    np.testing.assert_allclose(x.grad.cpu().numpy(), (grads @ w_np).reshape(shape),
                               rtol=1e-12)
