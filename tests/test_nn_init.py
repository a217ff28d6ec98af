"""dark.nn.init against torch.nn.init: gains and fans equal torch's, each initialiser fills in
place without recording a graph, and the values follow the distribution torch's formulas
give (bounds exactly, moments statistically). The values themselves equal torch's after the
same seed: tests/test_random_programs.py checks that."""
from __future__ import annotations

import math

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
from dark.nn import init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 3), ("leaky_relu", math.sqrt(5)), ("selu", None)])
@requires_torch
def test_calculate_gain_matches_torch(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    got = init.calculate_gain(nonlinearity, param)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("args", [("softmax", None), ("leaky_relu", "0.1"),
                                  ("leaky_relu", True)])
@requires_torch
def test_calculate_gain_errors(args):
    with pytest.raises(ValueError) as expected:
        torch.nn.init.calculate_gain(*args)
    with pytest.raises(ValueError, match=str(expected.value)):
        init.calculate_gain(*args)


@pytest.mark.parametrize("shape", [(3, 5), (4, 2, 3), (6, 3, 2, 5), (2, 2, 1, 2, 3), (0, 3)])
@requires_torch
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(dark.empty(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("function,args", [
    ("_calculate_fan_in_and_fan_out", ()), ("xavier_uniform_", ()), ("xavier_normal_", ()),
    ("kaiming_uniform_", ()), ("kaiming_normal_", ()), ("orthogonal_", ()), ("eye_", ()),
    ("sparse_", (0.5,)), ("dirac_", ())])
@requires_torch
def test_dimension_errors_match_torch(function, args):
    with pytest.raises(ValueError) as expected:
        getattr(torch.nn.init, function)(torch.empty(5), *args)
    with pytest.raises(ValueError) as got:
        getattr(init, function)(dark.empty(5), *args)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("lib", LIBS)
def test_mode_and_groups_errors_match_torch(lib):
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of "
                                         r"\['fan_in', 'fan_out'\]"):
        lib.nn.init.kaiming_uniform_(lib.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        lib.nn.init.dirac_(lib.empty(3, 2, 3), groups=2)


SHAPE = (400, 50, 3)  # fan_in 150, fan_out 1200, 60000 values


def _std_uniform(bound):
    return bound / math.sqrt(3.0)


def _fans(shape):
    """torch's formula (checked against torch's function below)."""
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _gain(nonlinearity, a):
    """torch's documented gains (checked against torch's function below)."""
    return {"relu": math.sqrt(2.0), "tanh": 5.0 / 3,
            "leaky_relu": math.sqrt(2.0 / (1 + a ** 2))}[nonlinearity]


@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("tanh", 0), ("leaky_relu", 0),
                                            ("leaky_relu", 0.1), ("leaky_relu", 0.3),
                                            ("leaky_relu", math.sqrt(5))])
@requires_torch
def test_reference_gains_and_fans_are_torchs(nonlinearity, a):
    """The distribution tests below take their expected bounds and stds from these."""
    assert _fans(SHAPE) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(SHAPE))
    assert _gain(nonlinearity, a) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, a),
                                                   rel=1e-15)


UNIFORM_CASES = [
    ("uniform_", {"a": -0.3, "b": 0.7}, (-0.3, 0.7)),
    ("xavier_uniform_", {}, lambda s: math.sqrt(6.0 / sum(_fans(s)))),
    ("xavier_uniform_", {"gain": 2.5}, lambda s: 2.5 * math.sqrt(6.0 / sum(_fans(s)))),
    ("kaiming_uniform_", {"a": math.sqrt(5)},
     lambda s: _gain("leaky_relu", math.sqrt(5)) * math.sqrt(3.0 / _fans(s)[0])),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"},
     lambda s: _gain("relu", 0) * math.sqrt(3.0 / _fans(s)[1])),
    ("kaiming_uniform_", {"a": 0.1, "mode": "FAN_IN"},
     lambda s: _gain("leaky_relu", 0.1) * math.sqrt(3.0 / _fans(s)[0])),
]


@pytest.mark.parametrize("name,kwargs,bounds", UNIFORM_CASES)
def test_uniform_family(name, kwargs, bounds):
    if callable(bounds):
        bound = bounds(SHAPE)
        bounds = (-bound, bound)
    low, high = bounds
    tensor = dark.empty(SHAPE)
    assert getattr(init, name)(tensor, **kwargs) is tensor
    values = tensor.numpy().astype(np.float64)
    assert tensor.dtype == dark.float32
    assert values.min() >= low and values.max() <= high
    width = high - low
    assert values.min() < low + 1e-3 * width and values.max() > high - 1e-3 * width
    np.testing.assert_allclose(values.mean(), (low + high) / 2, atol=0.02 * width)
    np.testing.assert_allclose(values.std(), _std_uniform(width / 2), rtol=0.02)


NORMAL_CASES = [
    ("normal_", {"mean": 0.5, "std": 0.2}, 0.5, 0.2),
    ("xavier_normal_", {}, 0.0, lambda s: math.sqrt(2.0 / sum(_fans(s)))),
    ("xavier_normal_", {"gain": 0.5}, 0.0, lambda s: 0.5 * math.sqrt(2.0 / sum(_fans(s)))),
    ("kaiming_normal_", {}, 0.0, lambda s: _gain("leaky_relu", 0) / math.sqrt(_fans(s)[0])),
    ("kaiming_normal_", {"a": 0.3, "mode": "fan_out", "nonlinearity": "leaky_relu"}, 0.0,
     lambda s: _gain("leaky_relu", 0.3) / math.sqrt(_fans(s)[1])),
    ("kaiming_normal_", {"nonlinearity": "tanh"}, 0.0,
     lambda s: _gain("tanh", 0) / math.sqrt(_fans(s)[0])),
]


@pytest.mark.parametrize("name,kwargs,mean,std", NORMAL_CASES)
def test_normal_family(name, kwargs, mean, std):
    if callable(std):
        std = std(SHAPE)
    tensor = dark.empty(SHAPE)
    assert getattr(init, name)(tensor, **kwargs) is tensor
    values = tensor.numpy().astype(np.float64)
    np.testing.assert_allclose(values.mean(), mean, atol=0.02 * std)
    np.testing.assert_allclose(values.std(), std, rtol=0.02)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 2.0, 0.0, 1.5),
                                          (0.0, 1.0, 2.0, 3.0), (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_moments(mean, std, a, b):
    tensor = init.trunc_normal_(dark.empty(40000), mean, std, a, b)
    values = tensor.numpy().astype(np.float64)
    assert values.min() >= a and values.max() <= b
    # the moments of the truncated normal, from its closed form
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    expected_mean = mean + std * (pdf(alpha) - pdf(beta)) / z
    expected_var = std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z
                               - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    np.testing.assert_allclose(values.mean(), expected_mean, atol=0.02 * std)
    np.testing.assert_allclose(values.std(), math.sqrt(expected_var), rtol=0.03)


def test_trunc_normal_warns_far_mean():
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(dark.empty(10), mean=10.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape,gain", [((5, 5), 1.0), ((3, 7), 2.0), ((8, 3), 1.0),
                                        ((4, 2, 3), 0.5), ((6, 2, 2, 2), 1.0)])
def test_orthogonal(shape, gain):
    tensor = init.orthogonal_(dark.empty(shape, dtype=dark.float64), gain)
    matrix = tensor.numpy().reshape(shape[0], -1) / gain
    rows, cols = matrix.shape
    if rows <= cols:
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(rows), atol=1e-10)
    else:
        np.testing.assert_allclose(matrix.T @ matrix, np.eye(cols), atol=1e-10)
    assert tensor.dtype == dark.float64


def test_orthogonal_is_haar_distributed():
    """With R's diagonal signs folded in, Q's entries are symmetric about 0 (without the
    sign fix the first column of the QR of a normal matrix is biased)."""
    firsts = np.array([init.orthogonal_(dark.empty(3, 3))[0, 0].item() for _ in range(400)])
    assert abs(firsts.mean()) < 0.1


@requires_torch
def test_constant_ones_zeros_eye_dirac_match_torch():
    cases = [("constant_", (3, 4), (0.25,)), ("ones_", (2, 3), ()), ("zeros_", (2, 3), ()),
             ("eye_", (3, 5), ()), ("eye_", (4, 2), ()), ("dirac_", (4, 2, 3), ()),
             ("dirac_", (6, 3, 3, 4), (2,)), ("dirac_", (2, 2, 3, 3, 3), ())]
    for name, shape, args in cases:
        mine = getattr(init, name)(dark.empty(shape), *args)
        theirs = getattr(torch.nn.init, name)(torch.empty(shape), *args)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=name)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 1.0])
def test_sparse(sparsity):
    tensor = init.sparse_(dark.empty(10, 40), sparsity, std=0.5)
    values = tensor.numpy()
    zeros_per_column = (values == 0).sum(axis=0)
    assert (zeros_per_column == math.ceil(sparsity * 10)).all()
    nonzero = values[values != 0]
    if nonzero.size > 100:
        np.testing.assert_allclose(nonzero.std(), 0.5, rtol=0.15)


ALL_INITS = [("uniform_", ()), ("normal_", ()), ("trunc_normal_", ()), ("constant_", (0.5,)),
             ("ones_", ()), ("zeros_", ()), ("eye_", ()), ("xavier_uniform_", ()),
             ("xavier_normal_", ()), ("kaiming_uniform_", ()), ("kaiming_normal_", ()),
             ("orthogonal_", ()), ("sparse_", (0.5,))]


@pytest.mark.parametrize("name,args", ALL_INITS)
def test_in_place_on_parameters_without_graph(name, args):
    param = dark.nn.Parameter(dark.empty(6, 4))
    data_before = param._data
    result = getattr(init, name)(param, *args)
    assert result is param
    assert param._data is data_before
    assert param.is_leaf and param.grad_fn is None and param.requires_grad
    assert np.isfinite(param.detach().numpy()).all()


@pytest.mark.parametrize("name,args", [
    a for a in ALL_INITS if a[0] not in ("constant_", "ones_", "zeros_", "eye_", "sparse_")])
def test_generator_reproducible(name, args):
    first = getattr(init, name)(dark.empty(5, 4), *args,
                                generator=dark.Generator().manual_seed(3))
    second = getattr(init, name)(dark.empty(5, 4), *args,
                                 generator=dark.Generator().manual_seed(3))
    np.testing.assert_array_equal(first.numpy(), second.numpy())


@pytest.mark.parametrize("lib", LIBS)
def test_kaiming_zero_element_warns(lib):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        lib.nn.init.kaiming_uniform_(lib.empty(0, 3))


def test_deprecated_aliases():
    with pytest.warns(FutureWarning, match=r"`nn.init.uniform` is now deprecated in favor of "
                                           r"`nn.init.uniform_`."):
        tensor = init.uniform(dark.empty(3), 0.0, 0.5)
    assert (tensor.numpy() <= 0.5).all()


def test_float64_and_float16_dtypes_kept():
    for dtype in (dark.float64, dark.float16):
        tensor = init.kaiming_uniform_(dark.empty(8, 8, dtype=dtype), a=math.sqrt(5))
        assert tensor.dtype == dtype
        bound = 1 / math.sqrt(8)
        assert float(abs(tensor).max()) <= bound * (1 + 1e-3)
