"""Dropout functionals and modules: statistics of the masks, scaling, gradients, eval mode,
determinism under dark.manual_seed, channel-wise variants, in-place forms and errors."""
import math
import re

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
import dark.nn.functional as F

SELU_ALPHA = 1.7580993408473766


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_fraction_and_scale(p, device):
    x = dark.ones(200, 500, device=device)
    out = F.dropout(x, p).cpu().numpy()
    assert out.dtype == np.float32
    zeroed = (out == 0).mean()
    assert abs(zeroed - p) < 0.01
    np.testing.assert_allclose(np.unique(out[out != 0]), [1 / (1 - p)], rtol=1e-6)
    assert abs(out.mean() - 1) < 0.03


def test_dropout_gradient_is_the_mask():
    x = dark.randn(50, 40, requires_grad=True)
    out = F.dropout(x, 0.3)
    out.sum().backward()
    kept = out.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)
    assert out.grad_fn.name() == "MulBackward0"


def test_dropout_gradcheck():
    x = dark.randn(4, 5, dtype=dark.float64, requires_grad=True)

    def function(x):
        dark.manual_seed(7)  # the same mask for every evaluation
        return F.dropout(x, 0.4)

    assert dark.autograd.gradcheck(function, (x,))
    assert dark.autograd.gradgradcheck(function, (x,))


def test_dropout_determinism():
    dark.manual_seed(123)
    first = F.dropout(dark.ones(1000)).numpy()
    second = F.dropout(dark.ones(1000)).numpy()
    dark.manual_seed(123)
    np.testing.assert_array_equal(F.dropout(dark.ones(1000)).numpy(), first)
    assert not np.array_equal(first, second)


def test_dropout_identity_cases():
    x = dark.randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    ones = dark.ones(3, 4, requires_grad=True)
    zeros = F.dropout(ones, 1.0)
    assert not zeros.detach().numpy().any()
    zeros.sum().backward()
    assert not ones.grad.numpy().any()


@pytest.mark.parametrize("lib", LIBS)
def test_dropout_of_zero_returns_its_input(lib):
    t = lib.ones(2)
    assert lib.nn.functional.dropout(t, 0.0) is t


def test_dropout_float64_and_no_float64_temporaries():
    out = F.dropout(dark.ones(10, 10, dtype=dark.float64), 0.5)
    assert out.dtype == dark.float64
    assert F.dropout(dark.ones(10, 10), 0.5).dtype == dark.float32


def test_dropout_inplace():
    base = dark.ones(100, requires_grad=True)
    x = base * 1
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x
    out.sum().backward()
    np.testing.assert_allclose(base.grad.numpy(), out.detach().numpy())
    plain = dark.ones(100)
    version = plain._version
    F.dropout(plain, 0.5, inplace=True)
    assert plain._version > version and set(np.unique(plain.numpy())) <= {0.0, 2.0}


@pytest.mark.parametrize("function", ["dropout", "dropout1d", "dropout2d", "dropout3d",
                                      "alpha_dropout", "feature_alpha_dropout"])
@pytest.mark.parametrize("p", [1.5, -0.1])
@pytest.mark.parametrize("lib", LIBS)
def test_probability_errors(lib, function, p):
    with pytest.raises(ValueError, match=re.escape(
            f"dropout probability has to be between 0 and 1, but got {p}") + "$"):
        getattr(lib.nn.functional, function)(lib.ones(2, 3, 4, 5), p)


@pytest.mark.parametrize("lib", LIBS)
def test_integer_input_error(lib):
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired "
                                           "output type Long$"):
        lib.nn.functional.dropout(lib.arange(3), 0.5)


def _channels_constant(out, batched=True):
    """Each channel (dims 0 and 1, or dim 0 unbatched) is all zeros or all the scale."""
    flat = out.reshape(out.shape[0] * out.shape[1] if batched else out.shape[0], -1)
    assert (flat == flat[:, :1]).all()
    return flat[:, 0]


@pytest.mark.parametrize("function, shape, batched", [
    ("dropout1d", (40, 30, 6), True), ("dropout1d", (300, 6), False),
    ("dropout2d", (40, 30, 3, 2), True), ("dropout3d", (40, 30, 2, 2, 2), True),
    ("dropout3d", (300, 2, 2, 2), False),
])
def test_channel_dropout(function, shape, batched):
    out = getattr(F, function)(dark.ones(*shape), 0.25).numpy()
    assert out.shape == shape
    channels = _channels_constant(out, batched)
    assert abs((channels == 0).mean() - 0.25) < 0.06
    np.testing.assert_allclose(np.unique(channels[channels != 0]), [1 / 0.75], rtol=1e-6)


@pytest.mark.parametrize("lib", LIBS)
def test_channel_dropout_dims_error(lib):
    with pytest.raises(RuntimeError, match=re.escape(
            "dropout1d: Expected 2D or 3D input, but received a 4D input. Note that dropout1d "
            "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
            "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).") + "$"):
        lib.nn.functional.dropout1d(lib.ones(2, 3, 4, 5))


def test_channel_dropout_warnings():
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        out = F.dropout2d(dark.ones(20, 30, 4)).numpy()
    _channels_constant(out)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(dark.ones(3, 4))
    with pytest.warns(UserWarning, match="Received a 6-D input to dropout3d"):
        F.dropout3d(dark.ones(2, 2, 2, 2, 2, 2))


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_alpha_dropout_values(p):
    a = 1.0 / math.sqrt((SELU_ALPHA ** 2 * p + 1) * (1 - p))
    array = np.random.default_rng(0).standard_normal((300, 300)).astype(np.float32)
    x = dark.tensor(array)
    out = F.alpha_dropout(x, p, training=True).numpy()
    dropped = np.isclose(out, SELU_ALPHA * a * (p - 1), atol=1e-6)
    kept = np.isclose(out, array * a + SELU_ALPHA * a * p, atol=1e-5)
    assert (dropped | kept).all() and abs(dropped.mean() - p) < 0.01
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1) < 0.02  # SELU's fixed point
    assert F.alpha_dropout(x, p) is x  # training defaults to False


@pytest.mark.parametrize("p", [0.2, 0.6])
@requires_torch
def test_alpha_dropout_values_are_torchs_two_kinds(p):
    a = 1.0 / math.sqrt((SELU_ALPHA ** 2 * p + 1) * (1 - p))
    array = np.random.default_rng(0).standard_normal((300, 300)).astype(np.float32)
    t_out = torch.nn.functional.alpha_dropout(torch.tensor(array), p, training=True).numpy()
    assert (np.isclose(t_out, SELU_ALPHA * a * (p - 1), atol=1e-6)
            | np.isclose(t_out, array * a + SELU_ALPHA * a * p, atol=1e-5)).all()


def test_feature_alpha_dropout_channels():
    out = F.feature_alpha_dropout(dark.zeros(30, 40, 5), 0.5, training=True).numpy()
    _channels_constant(out)


def test_alpha_dropout_gradient():
    x = dark.randn(20, 10, requires_grad=True)
    out = F.alpha_dropout(x, 0.5, training=True)
    out.sum().backward()
    a = 1.0 / math.sqrt((SELU_ALPHA ** 2 * 0.5 + 1) * 0.5)
    dropped = np.isclose(out.detach().numpy(), -SELU_ALPHA * a * 0.5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0, a), rtol=1e-6)

# ----------------------------------------------------------------------------- modules


MODULES = [
    ("Dropout", (20, 30)), ("Dropout1d", (20, 30, 4)), ("Dropout2d", (20, 30, 2, 2)),
    ("Dropout3d", (20, 30, 2, 2, 2)), ("AlphaDropout", (20, 30)),
    ("FeatureAlphaDropout", (20, 30, 2)),
]


@pytest.mark.parametrize("name", [name for name, _ in MODULES])
@pytest.mark.parametrize("lib", LIBS)
def test_module_reprs(lib, name):
    assert repr(getattr(lib.nn, name)(0.3)) == f"{name}(p=0.3, inplace=False)"
    assert repr(getattr(lib.nn, name)()) == f"{name}(p=0.5, inplace=False)"


@pytest.mark.parametrize("name, shape", MODULES)
def test_modules_train_and_eval(name, shape):
    module = getattr(dark.nn, name)(0.3)
    assert list(module.state_dict()) == [] and list(module.parameters()) == []
    x = dark.randn(*shape)
    assert not np.array_equal(module(x).numpy(), x.numpy())
    module.eval()
    np.testing.assert_array_equal(module(x).numpy(), x.numpy())


def test_dropout_module_options():
    module = dark.nn.Dropout(p=0.2, inplace=True)
    assert repr(module) == "Dropout(p=0.2, inplace=True)"
    x = dark.ones(1000)
    assert module(x) is x
    assert abs((x.numpy() == 0).mean() - 0.2) < 0.05
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                         "but got 1.5"):
        dark.nn.Dropout(1.5)
