"""Activations: the functional op table (values, float64 gradcheck/gradgradcheck, torch
parity of values and gradients), in-place forms, modules vs torch (outputs, gradients,
repr), errors."""
import warnings

import numpy as np
import pytest
from harness import LIBS, Case, check_case, ids, requires_torch, torch

import dark


def F(lib):
    return lib.nn.functional


WIDE = (-5.0, 5.0)

CASES = [
    Case("relu", lambda t, a: F(t).relu(a), [(3, 4)]),
    Case("relu6", lambda t, a: F(t).relu6(a * 4), [(3, 4)]),
    Case("leaky_relu", lambda t, a: F(t).leaky_relu(a), [(3, 4)]),
    Case("leaky_relu_slope", lambda t, a: F(t).leaky_relu(a, 0.2), [(2, 3, 4)]),
    Case("leaky_relu_0d", lambda t, a: F(t).leaky_relu(a, negative_slope=-0.5), [()]),
    Case("prelu_shared", lambda t, a, w: F(t).prelu(a, w), [(3, 4), (1,)]),
    Case("prelu_channels", lambda t, a, w: F(t).prelu(a, w), [(2, 3, 4), (3,)]),
    Case("prelu_1d", lambda t, a, w: F(t).prelu(a, w), [(5,), (1,)]),
    Case("elu", lambda t, a: F(t).elu(a), [(3, 4)]),
    Case("elu_alpha", lambda t, a: F(t).elu(a, alpha=0.5), [(3, 4)]),
    Case("selu", lambda t, a: F(t).selu(a), [(3, 4)]),
    Case("celu", lambda t, a: F(t).celu(a, alpha=2.0), [(3, 4)]),
    Case("gelu", lambda t, a: F(t).gelu(a), [(3, 4)], domain=WIDE),
    Case("gelu_tanh", lambda t, a: F(t).gelu(a, approximate="tanh"), [(3, 4)], domain=WIDE),
    Case("silu", lambda t, a: F(t).silu(a), [(3, 4)], domain=WIDE),
    Case("mish", lambda t, a: F(t).mish(a), [(3, 4)], domain=WIDE),
    Case("sigmoid", lambda t, a: F(t).sigmoid(a), [(3, 4)]),
    Case("tanh", lambda t, a: F(t).tanh(a), [(3, 4)]),
    Case("hardtanh", lambda t, a: F(t).hardtanh(a * 2), [(3, 4)]),
    Case("hardtanh_range", lambda t, a: F(t).hardtanh(a, -0.5, 0.25), [(3, 4)]),
    Case("hardsigmoid", lambda t, a: F(t).hardsigmoid(a), [(4, 5)], domain=WIDE),
    Case("hardswish", lambda t, a: F(t).hardswish(a), [(4, 5)], domain=WIDE),
    Case("softplus", lambda t, a: F(t).softplus(a), [(3, 4)], domain=WIDE),
    Case("softplus_beta", lambda t, a: F(t).softplus(a, beta=2.0, threshold=3.0), [(4, 5)],
         domain=WIDE),
    Case("softplus_large", lambda t, a: F(t).softplus(a * 100), [(3, 4)]),
    Case("softsign", lambda t, a: F(t).softsign(a), [(3, 4)]),
    Case("softmax", lambda t, a: F(t).softmax(a, dim=1), [(3, 4)]),
    Case("softmax_neg_dim_dtype", lambda t, a: F(t).softmax(a, -1, dtype=t.float64),
         [(2, 3, 4)]),
    Case("log_softmax", lambda t, a: F(t).log_softmax(a, 0), [(3, 4)]),
    Case("softmin", lambda t, a: F(t).softmin(a, 1), [(3, 4)]),
    Case("threshold", lambda t, a: F(t).threshold(a, 0.1, 20.0), [(3, 4)]),
    Case("logsigmoid", lambda t, a: F(t).logsigmoid(a * 10), [(3, 4)]),
    Case("tanhshrink", lambda t, a: F(t).tanhshrink(a), [(3, 4)]),
    Case("softshrink", lambda t, a: F(t).softshrink(a), [(3, 4)]),
    Case("softshrink_lambd", lambda t, a: F(t).softshrink(a, 1.0), [(3, 4)]),
    Case("hardshrink", lambda t, a: F(t).hardshrink(a), [(3, 4)]),
    Case("hardshrink_lambd", lambda t, a: F(t).hardshrink(a, lambd=1.0), [(3, 4)]),
    Case("glu", lambda t, a: F(t).glu(a), [(3, 4)]),
    Case("glu_dim0", lambda t, a: F(t).glu(a, 0), [(4, 3)]),
    Case("rrelu_eval", lambda t, a: F(t).rrelu(a), [(3, 4)]),
    Case("relu_empty", lambda t, a: F(t).gelu(a), [(0, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_functional(case, device):
    check_case(case, device)


def _pair(values, requires_grad=False, dtype=np.float32):
    return (dark.tensor(values.astype(dtype), requires_grad=requires_grad),
            torch.tensor(values.astype(dtype), requires_grad=requires_grad))


INPLACE = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.3}), ("elu", {}),
    ("selu", {}), ("celu", {"alpha": 0.7}), ("silu", {}), ("mish", {}), ("hardtanh", {}),
    ("hardsigmoid", {}), ("hardswish", {}), ("rrelu", {}),
    ("threshold", {"threshold": 0.2, "value": -1.0}),
]


@pytest.mark.parametrize("name,kwargs", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_is_the_out_of_place_op(name, kwargs):
    """inplace=True returns its input, holding the values and gradients of the op."""
    values = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    function = getattr(dark.nn.functional, name)
    leaf, reference_leaf = (dark.tensor(values, requires_grad=True) for _ in range(2))
    x = leaf * 1.5
    assert function(x, inplace=True, **kwargs) is x
    reference = function(reference_leaf * 1.5, **kwargs)
    np.testing.assert_array_equal(x.detach().numpy(), reference.detach().numpy())
    (x * x).sum().backward()
    (reference * reference).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), reference_leaf.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name,kwargs", INPLACE, ids=[n for n, _ in INPLACE])
@requires_torch
def test_inplace_matches_torch(name, kwargs):
    values = np.random.default_rng(0).standard_normal((3, 4))
    leaf_d, leaf_t = _pair(values, requires_grad=True)
    x_d, x_t = leaf_d * 1.5, leaf_t * 1.5
    out_d = getattr(dark.nn.functional, name)(x_d, inplace=True, **kwargs)
    getattr(torch.nn.functional, name)(x_t, inplace=True, **kwargs)
    assert out_d is x_d
    np.testing.assert_allclose(x_d.detach().numpy(), x_t.detach().numpy(), rtol=1e-6,
                               atol=1e-6)
    (x_d * x_d).sum().backward()
    (x_t * x_t).sum().backward()
    np.testing.assert_allclose(leaf_d.grad.numpy(), leaf_t.grad.numpy(), rtol=1e-5, atol=1e-6)


UNDERSCORE_FORMS = ["relu_", "leaky_relu_", "elu_", "selu_", "celu_", "hardtanh_", "rrelu_"]


@pytest.mark.parametrize("name", UNDERSCORE_FORMS)
def test_underscore_forms_are_the_op_in_place(name):
    values = np.random.default_rng(1).standard_normal((5,)).astype(np.float32)
    x = dark.tensor(values)
    assert getattr(dark.nn.functional, name)(x) is x
    expected = getattr(dark.nn.functional, name[:-1])(dark.tensor(values))
    np.testing.assert_array_equal(x.numpy(), expected.numpy())
    x = dark.tensor(values)
    dark.nn.functional.threshold_(x, 0.0, 5.0)
    np.testing.assert_array_equal(x.numpy(), np.where(values > 0, values, 5.0))


@pytest.mark.parametrize("name", UNDERSCORE_FORMS)
@requires_torch
def test_underscore_forms(name):
    values = np.random.default_rng(1).standard_normal((5,))
    x_d, x_t = _pair(values)
    getattr(dark.nn.functional, name)(x_d)
    getattr(torch.nn.functional, name)(x_t)
    np.testing.assert_allclose(x_d.numpy(), x_t.numpy(), rtol=1e-6)
    x_d, x_t = _pair(values)
    dark.nn.functional.threshold_(x_d, 0.0, 5.0)
    torch.nn.functional.threshold_(x_t, 0.0, 5.0)
    np.testing.assert_allclose(x_d.numpy(), x_t.numpy())


def test_inplace_on_leaf_requiring_grad_raises():
    x = dark.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        dark.nn.functional.relu(x, inplace=True)


def test_rrelu_training_slopes_in_range():
    x = -dark.rand(1000) - 0.1
    out = dark.nn.functional.rrelu(x, 0.1, 0.3, training=True)
    ratio = (out / x).numpy()
    assert ratio.min() >= 0.1 - 1e-6 and ratio.max() <= 0.3 + 1e-6
    assert ratio.std() > 0.01
    positive = dark.rand(10) + 0.1
    assert dark.equal(dark.nn.functional.rrelu(positive, training=True), positive)


@pytest.mark.parametrize("ndim,expected", [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1)])
def test_softmax_implicit_dim(ndim, expected):
    x = dark.randn(*([3] * ndim))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = dark.nn.functional.softmax(x)
    np.testing.assert_allclose(out.numpy(), dark.softmax(x, expected).numpy())


@pytest.mark.parametrize("name", ["gelu", "leaky_relu", "elu", "selu", "silu", "mish",
                                  "hardsigmoid", "hardswish", "softplus", "logsigmoid",
                                  "softshrink", "hardshrink", "glu"])
@requires_torch
def test_integer_input_errors_as_torch(name):
    with pytest.raises(NotImplementedError) as torch_error:
        getattr(torch.nn.functional, name)(torch.tensor([1, 2]))
    with pytest.raises(NotImplementedError) as dark_error:
        getattr(dark.nn.functional, name)(dark.tensor([1, 2]))
    assert str(dark_error.value) == str(torch_error.value)


@pytest.mark.parametrize("name,expected", [("relu", [0, 2, 9]), ("relu6", [0, 2, 6]),
                                           ("hardtanh", [-1, 1, 1])])
@pytest.mark.parametrize("lib", LIBS)
def test_integer_input_allowed_as_torch(lib, name, expected):
    out = getattr(lib.nn.functional, name)(lib.tensor([-3, 2, 9]))
    assert out.dtype == lib.int64
    assert out.tolist() == expected


ERRORS = [
    (lambda t: F(t).gelu(t.randn(3), approximate="foo"), RuntimeError, "approximate argument"),
    (lambda t: F(t).hardtanh(t.randn(3), 2.0, 1.0), ValueError, "min_val cannot be greater"),
    (lambda t: F(t).glu(t.randn(3, 5)), RuntimeError, "Halving dimension must be even"),
    (lambda t: F(t).glu(t.tensor(1.0)), RuntimeError, "does not support scalars"),
    (lambda t: F(t).prelu(t.randn(3, 5), t.ones(3)), RuntimeError,
     "Found parameter numbers = 3 and channel size = 5"),
    (lambda t: F(t).prelu(t.randn(3, 5), t.ones(1, 5)), RuntimeError, "scalar or 1D"),
    (lambda t: F(t).softshrink(t.randn(3), -1.0), RuntimeError, "lambda must be in range"),
    (lambda t: F(t).softmax(t.randn(3), 1), IndexError, "Dimension out of range"),
]


@pytest.mark.parametrize("make,error,match", ERRORS, ids=[e[2] for e in ERRORS])
@pytest.mark.parametrize("lib", LIBS)
def test_errors_as_torch(lib, make, error, match):
    with pytest.raises(error, match=match):
        make(lib)


# ----------------------------------------------------------------------------- modules

MODULES = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("ReLU6", (), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2,), {"inplace": True}),
    ("PReLU", (), {}), ("PReLU", (), {"num_parameters": 3, "init": 0.1}),
    ("ELU", (), {"alpha": 0.5}), ("SELU", (), {}), ("CELU", (1.5,), {}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("Mish", (), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("Hardtanh", (-2.0, 0.5), {}),
    ("Hardsigmoid", (), {}), ("Hardswish", (), {}), ("Softplus", (), {"beta": 2.0}),
    ("Softplus", (0.5, 3.0), {}), ("Softsign", (), {}), ("Softmax", (), {"dim": 1}),
    ("Softmax", (-1,), {}), ("LogSoftmax", (1,), {}), ("Softmin", (), {"dim": 2}),
    ("Softmax2d", (), {}), ("Threshold", (0.1, 20.0), {}), ("LogSigmoid", (), {}),
    ("Tanhshrink", (), {}), ("Softshrink", (), {}), ("Softshrink", (0.2,), {}),
    ("Hardshrink", (), {"lambd": 0.3}), ("GLU", (), {}), ("GLU", (2,), {}),
    ("RReLU", (), {}), ("RReLU", (0.1, 0.2), {"inplace": True}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(MODULES)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@requires_torch
def test_module_matches_torch(name, args, kwargs, dtype):
    module_d = getattr(dark.nn, name)(*args, **kwargs)
    module_t = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(module_d) == repr(module_t)
    module_d.eval()
    module_t.eval()
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    module_t.to(torch_dtype)
    for (name_d, p_d), (name_t, p_t) in zip(module_d.named_parameters(),
                                            module_t.named_parameters()):
        assert name_d == name_t and tuple(p_d.shape) == tuple(p_t.shape)
        np.testing.assert_allclose(p_d.detach().numpy(), p_t.detach().numpy())
    module_d.to(dark.float64 if dtype == np.float64 else dark.float32)
    assert list(module_d.state_dict()) == list(module_t.state_dict())
    values = np.random.default_rng(2).standard_normal((2, 3, 4, 2))
    x_d, x_t = _pair(values, True, dtype)
    in_d, in_t = x_d * 2, x_t * 2
    out_d, out_t = module_d(in_d), module_t(in_t)
    # torch's float64 hardsigmoid gradient uses 1/6 rounded to float32
    tol = 1e-5 if dtype == np.float32 else 1e-7
    np.testing.assert_allclose(out_d.detach().numpy(), out_t.detach().numpy(), rtol=tol,
                               atol=tol)
    seed = np.random.default_rng(3).standard_normal(tuple(out_t.shape)).astype(dtype)
    out_d.backward(dark.tensor(seed))
    out_t.backward(torch.tensor(seed))
    np.testing.assert_allclose(x_d.grad.numpy(), x_t.grad.numpy(), rtol=tol, atol=tol)
    for p_d, p_t in zip(module_d.parameters(), module_t.parameters()):
        np.testing.assert_allclose(p_d.grad.numpy(), p_t.grad.numpy(), rtol=tol, atol=tol)


def test_softmax_module_without_dim_uses_legacy_rule():
    x = dark.randn(2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = dark.nn.Softmax()(x)
        out_log = dark.nn.LogSoftmax()(x)
    np.testing.assert_allclose(out.numpy(), dark.softmax(x, 0).numpy())
    np.testing.assert_allclose(out_log.numpy(), dark.log_softmax(x, 0).numpy())


@pytest.mark.parametrize("lib", LIBS)
def test_softmax_module_without_dim_repr(lib):
    assert repr(lib.nn.Softmax()) == "Softmax(dim=None)"


@pytest.mark.parametrize("lib", LIBS)
def test_softmax2d_requires_3d_or_4d(lib):
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D"):
        lib.nn.Softmax2d()(lib.randn(3, 4))


def test_prelu_parameter_and_gradient():
    module = dark.nn.PReLU(3, init=0.5)
    assert isinstance(module.weight, dark.nn.Parameter)
    assert module.weight.shape == (3,) and module.weight.tolist() == [0.5] * 3
    module.weight.data.fill_(0.0)
    module.reset_parameters()
    assert module.weight.tolist() == [0.5] * 3


@pytest.mark.parametrize("lib", LIBS)
def test_hardtanh_module_rejects_inverted_range(lib):
    with pytest.raises(AssertionError):
        lib.nn.Hardtanh(1.0, -1.0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@requires_torch
def test_relu_backward_zeroes_nan_and_inf_gradients_like_torch(dtype, device):
    """threshold_backward gives 0 where the output is not positive, whatever the incoming
    gradient holds there (NaN and inf included), and the gradient itself elsewhere."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7, 9)).astype(dtype)
    x[0, 0, :3] = 0.0
    g = rng.standard_normal(x.shape).astype(dtype)
    g.flat[::5] = np.nan
    g.flat[::7] = np.inf
    grads = []
    for lib, dev in ((dark, device), (torch, "cpu")):
        t = lib.tensor(x, device=dev, requires_grad=True)
        lib.nn.functional.relu(t).backward(lib.tensor(g, device=dev))
        grads.append(t.grad.cpu().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_where_or_zero_matches_where():
    from dark._kernels.elementwise import where_or_zero

    rng = np.random.default_rng(1)
    for dtype in ("float16", "float32", "float64", "int32", "int64", "uint8"):
        values = (rng.standard_normal((4, 6)) * 50).astype(dtype)
        if values.dtype.kind == "f":
            values[0, :3] = [np.nan, np.inf, -np.inf]
        keep = rng.standard_normal((4, 6)) > 0
        expected = np.where(keep, values, np.zeros((), dtype))
        got = where_or_zero(np, keep, values)
        assert got.dtype == values.dtype
        np.testing.assert_array_equal(got, expected)
        out = np.full((6, 4), 7, dtype).T  # a non-contiguous target
        assert where_or_zero(np, keep, values, out=out) is out
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("create_graph", [False, True])
def test_relu_backward_passes_the_gradient_of_a_nan_output(create_graph):
    """threshold_backward zeroes where output <= 0: a NaN output (not <= 0) passes g, and an
    inf or NaN g where the output is 0 gives 0."""
    data = np.array([np.nan, -1.0, 0.0, 2.0, -0.0], dtype=np.float32)
    upstream = [1.0, np.inf, np.nan, 4.0, -np.inf]
    x = dark.tensor(data, requires_grad=True)
    (grad,) = dark.autograd.grad(dark.relu(x), x, dark.tensor(upstream),
                                 create_graph=create_graph)
    np.testing.assert_array_equal(grad.detach().numpy(), [1.0, 0.0, 0.0, 4.0, 0.0])


@requires_torch
def test_relu_backward_of_a_nan_output_matches_torch():
    data = np.array([np.nan, -1.0, 0.0, 2.0, -0.0], dtype=np.float32)
    upstream = [1.0, np.inf, np.nan, 4.0, -np.inf]
    x = dark.tensor(data, requires_grad=True)
    (grad,) = dark.autograd.grad(dark.relu(x), x, dark.tensor(upstream))
    t = torch.tensor(data, requires_grad=True)
    (expected,) = torch.autograd.grad(torch.relu(t), t, torch.tensor(upstream))
    np.testing.assert_array_equal(grad.detach().numpy(), expected.numpy())
