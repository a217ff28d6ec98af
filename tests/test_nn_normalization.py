"""Batch, instance, layer, group and RMS normalization and F.normalize: functionals (op
table) and modules (parity with torch over several training steps, running statistics,
errors)."""
import numpy as np
import pytest
from harness import Case, check_case, ids, raises_like, requires_torch, torch

import dark
import dark.nn.functional as F


def _stats(shape, channels):
    """Inputs plus positive running statistics for eval-mode cases."""
    def make(rng):
        return [rng.standard_normal(shape), rng.standard_normal(channels),
                rng.uniform(0.5, 2.0, channels), rng.standard_normal(channels),
                rng.standard_normal(channels)]
    return make


CASES = [
    Case("batch_norm_train_2d", lambda t, x, w, b: t.nn.functional.batch_norm(
        x, None, None, w, b, training=True), [(5, 3), (3,), (3,)]),
    Case("batch_norm_train_3d_no_affine", lambda t, x: t.nn.functional.batch_norm(
        x, None, None, training=True, eps=1e-3), [(4, 3, 5)]),
    Case("batch_norm_train_4d", lambda t, x, w, b: t.nn.functional.batch_norm(
        x, None, None, w, b, training=True), [(3, 2, 3, 2), (2,), (2,)]),
    Case("batch_norm_train_weight_only", lambda t, x, w: t.nn.functional.batch_norm(
        x, None, None, w, training=True), [(3, 2, 4), (2,)]),
    Case("batch_norm_eval", lambda t, x, m, v, w, b: t.nn.functional.batch_norm(
        x, m, v, w, b, training=False), make=_stats((4, 3, 2), 3), grad_inputs=(0, 3, 4)),
    Case("instance_norm", lambda t, x, w, b: t.nn.functional.instance_norm(
        x, weight=w, bias=b), [(2, 3, 5), (3,), (3,)]),
    Case("instance_norm_2d_no_affine", lambda t, x: t.nn.functional.instance_norm(x),
         [(2, 3, 2, 3)]),
    Case("instance_norm_running", lambda t, x, m, v, w, b: t.nn.functional.instance_norm(
        x, m, v, w, b, use_input_stats=False), make=_stats((2, 3, 4), 3),
        grad_inputs=(0, 3, 4)),
    Case("layer_norm", lambda t, x, w, b: t.nn.functional.layer_norm(x, (4,), w, b),
         [(3, 4), (4,), (4,)]),
    Case("layer_norm_2_dims", lambda t, x, w, b: t.nn.functional.layer_norm(
        x, [3, 2], w, b, eps=1e-3), [(2, 3, 2), (3, 2), (3, 2)]),
    Case("layer_norm_no_affine", lambda t, x: t.nn.functional.layer_norm(x, [5]),
         [(2, 2, 5)]),
    Case("group_norm", lambda t, x, w, b: t.nn.functional.group_norm(x, 2, w, b),
         [(3, 4, 3), (4,), (4,)]),
    Case("group_norm_4d_no_affine", lambda t, x: t.nn.functional.group_norm(x, 3),
         [(2, 6, 2, 2)]),
    Case("group_norm_2d", lambda t, x, w, b: t.nn.functional.group_norm(x, 2, w, b),
         [(3, 4), (4,), (4,)]),
    Case("rms_norm", lambda t, x, w: t.nn.functional.rms_norm(x, [4], w), [(3, 4), (4,)]),
    Case("rms_norm_eps", lambda t, x: t.nn.functional.rms_norm(x, (2, 3), eps=1e-4),
         [(2, 2, 3)]),
    Case("normalize", lambda t, x: t.nn.functional.normalize(x), [(3, 4)]),
    Case("normalize_p1_dim0", lambda t, x: t.nn.functional.normalize(x, p=1.0, dim=0),
         [(3, 4, 2)], domain="nonzero"),
    Case("normalize_eps", lambda t, x: t.nn.functional.normalize(x, dim=-1, eps=10.0),
         [(3, 4)]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


def _pair(array):
    return dark.tensor(array), torch.tensor(array)


@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_running_stats_updated_in_place(momentum):
    """running = (1 - momentum) * running + momentum * batch statistic (the variance
    unbiased), in place and in float32."""
    rng = np.random.default_rng(0)
    mean, var = dark.zeros(3), dark.ones(3)
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for _ in range(3):
        array = rng.standard_normal((4, 3, 5)).astype(np.float32) * 2 + 1
        version = mean._version
        F.batch_norm(dark.tensor(array), mean, var, training=True, momentum=momentum)
        assert mean._version > version  # updated in place
        values = array.transpose(1, 0, 2).reshape(3, -1).astype(np.float64)
        expected_mean = (1 - momentum) * expected_mean + momentum * values.mean(1)
        expected_var = (1 - momentum) * expected_var + momentum * values.var(1, ddof=1)
    assert mean.dtype == dark.float32 and var.dtype == dark.float32
    np.testing.assert_allclose(mean.numpy(), expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var.numpy(), expected_var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum", [0.1, 0.5])
@requires_torch
def test_batch_norm_running_stats_functional(momentum):
    rng = np.random.default_rng(0)
    d_mean, t_mean = _pair(np.zeros(3, np.float32))
    d_var, t_var = _pair(np.ones(3, np.float32))
    for _ in range(3):
        d_x, t_x = _pair(rng.standard_normal((4, 3, 5)).astype(np.float32) * 2 + 1)
        version = d_mean._version
        F.batch_norm(d_x, d_mean, d_var, training=True, momentum=momentum)
        torch.nn.functional.batch_norm(t_x, t_mean, t_var, training=True, momentum=momentum)
        assert d_mean._version > version  # updated in place
    assert d_mean.dtype == dark.float32 and d_var.dtype == dark.float32
    np.testing.assert_allclose(d_mean.numpy(), t_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_var.numpy(), t_var.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
def test_instance_norm_running_stats_functional():
    rng = np.random.default_rng(1)
    d_mean, t_mean = _pair(np.zeros(3, np.float32))
    d_var, t_var = _pair(np.ones(3, np.float32))
    d_x, t_x = _pair(rng.standard_normal((4, 3, 5)).astype(np.float32) * 3)
    d_out = F.instance_norm(d_x, d_mean, d_var, momentum=0.3)
    t_out = torch.nn.functional.instance_norm(t_x, t_mean, t_var, momentum=0.3)
    np.testing.assert_allclose(d_out.numpy(), t_out.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d_mean.numpy(), t_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_var.numpy(), t_var.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_no_grad_through_running_stats_and_gradgrad():
    x = dark.randn(4, 3, 2, dtype=dark.float64, requires_grad=True)
    w = dark.randn(3, dtype=dark.float64, requires_grad=True)
    mean, var = dark.zeros(3, dtype=dark.float64), dark.ones(3, dtype=dark.float64)
    function = lambda x, w: F.batch_norm(x, mean, var, w, None, training=True)  # noqa: E731
    assert dark.autograd.gradgradcheck(function, (x, w))


def test_normalize_out():
    x = dark.tensor([[3.0, 4.0]])
    out = dark.empty(1, 2)
    F.normalize(x, out=out)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8]], rtol=1e-6)

# ----------------------------------------------------------------------------- modules


def _sync(dark_module, torch_module):
    """Load torch's state into dark's: the same keys, in the same order, of the same shapes."""
    state = torch_module.state_dict()
    assert list(dark_module.state_dict()) == list(state)
    for name, value in dark_module.state_dict().items():
        assert tuple(value.shape) == tuple(state[name].shape), name
        assert value.dtype.name == str(state[name].dtype).replace("torch.", ""), name
    dark_module.load_state_dict({k: dark.tensor(v.numpy()) for k, v in state.items()})


def _step(dark_module, torch_module, array, tolerance):
    """One forward/backward of both modules; outputs and all gradients must agree."""
    d_x = dark.tensor(array, requires_grad=True)
    t_x = torch.tensor(array, requires_grad=True)
    d_out, t_out = dark_module(d_x), torch_module(t_x)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(),
                               atol=tolerance, rtol=tolerance)
    seed = np.random.default_rng(0).standard_normal(tuple(t_out.shape)).astype(array.dtype)
    d_out.backward(dark.tensor(seed))
    t_out.backward(torch.tensor(seed))
    np.testing.assert_allclose(d_x.grad.numpy(), t_x.grad.numpy(), atol=tolerance,
                               rtol=tolerance)
    t_params = dict(torch_module.named_parameters())
    for name, param in dark_module.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), t_params[name].grad.numpy(),
                                   atol=tolerance, rtol=tolerance, err_msg=name)


def _check_states(dark_module, torch_module, tolerance):
    t_state = torch_module.state_dict()
    for name, value in dark_module.state_dict().items():
        np.testing.assert_allclose(value.numpy(), t_state[name].numpy(), atol=tolerance,
                                   rtol=tolerance, err_msg=name)


BATCH_NORMS = [
    ("BatchNorm1d", (6, 3), {}),
    ("BatchNorm1d", (4, 3, 5), {"momentum": None}),
    ("BatchNorm2d", (3, 3, 4, 2), {"affine": False}),
    ("BatchNorm2d", (3, 3, 2, 2), {"track_running_stats": False, "eps": 1e-3}),
    ("BatchNorm3d", (2, 3, 2, 2, 2), {"momentum": 0.3, "bias": False}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, shape, options", BATCH_NORMS)
@requires_torch
def test_batch_norm_module(name, shape, options, dtype):
    rng = np.random.default_rng(3)
    d_module = getattr(dark.nn, name)(3, **options)
    t_module = getattr(torch.nn, name)(3, **options)
    if dtype == np.float64:
        d_module, t_module = d_module.double(), t_module.double()
    assert repr(d_module) == repr(t_module)
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    _sync(d_module, t_module)
    for _ in range(3):
        _step(d_module, t_module, (rng.standard_normal(shape) * 2 + 0.5).astype(dtype),
              tolerance)
    _check_states(d_module, t_module, tolerance)
    if d_module.track_running_stats:
        assert d_module.num_batches_tracked.dtype == dark.int64
        assert int(d_module.num_batches_tracked) == 3
    d_module.eval()
    t_module.eval()
    _step(d_module, t_module, rng.standard_normal(shape).astype(dtype), tolerance)
    _check_states(d_module, t_module, tolerance)


def test_batch_norm_buffers_and_defaults():
    module = dark.nn.BatchNorm2d(4)
    assert [n for n, _ in module.named_buffers()] == ["running_mean", "running_var",
                                                      "num_batches_tracked"]
    assert list(module.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"]
    assert (module.eps, module.momentum, module.affine, module.track_running_stats) == (
        1e-5, 0.1, True, True)
    np.testing.assert_array_equal(module.weight.detach().numpy(), np.ones(4, np.float32))
    np.testing.assert_array_equal(module.running_var.numpy(), np.ones(4, np.float32))
    bare = dark.nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    assert list(bare.state_dict()) == [] and bare.running_mean is None
    module.running_mean.fill_(3.0)
    module.num_batches_tracked.fill_(5)
    module.reset_running_stats()
    assert float(module.running_mean.sum()) == 0 and int(module.num_batches_tracked) == 0


def test_batch_norm_eval_without_running_stats_uses_batch():
    module = dark.nn.BatchNorm1d(2, track_running_stats=False).eval()
    out = module(dark.tensor([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(out.detach().numpy(), [[-1, -1], [1, 1]], atol=1e-4)


NORMS = [
    ("LayerNorm", (3, 4, 5), ([4, 5],), {}),
    ("LayerNorm", (3, 5), (5,), {"elementwise_affine": False, "eps": 1e-3}),
    ("LayerNorm", (2, 5), (5,), {"bias": False}),
    ("GroupNorm", (3, 6, 4), (3, 6), {}),
    ("GroupNorm", (2, 4, 2, 3), (2, 4), {"affine": False}),
    ("GroupNorm", (2, 4, 3), (4, 4), {"bias": False, "eps": 1e-2}),
    ("InstanceNorm1d", (3, 4, 5), (4,), {}),
    ("InstanceNorm1d", (4, 5), (4,), {"affine": True}),
    ("InstanceNorm2d", (2, 3, 3, 2), (3,), {"affine": True, "track_running_stats": True}),
    ("InstanceNorm3d", (2, 2, 2, 2, 3), (2,), {"track_running_stats": True,
                                               "momentum": 0.4}),
    ("RMSNorm", (3, 4), ([4],), {}),
    ("RMSNorm", (2, 3, 4), ((3, 4),), {"eps": 1e-3, "elementwise_affine": False}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, shape, args, options", NORMS)
@requires_torch
def test_norm_module(name, shape, args, options, dtype):
    rng = np.random.default_rng(4)
    d_module = getattr(dark.nn, name)(*args, **options)
    t_module = getattr(torch.nn, name)(*args, **options)
    if dtype == np.float64:
        d_module, t_module = d_module.double(), t_module.double()
    assert repr(d_module) == repr(t_module)
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    _sync(d_module, t_module)
    for param in t_module.parameters():  # not the default ones and zeros
        with torch.no_grad():
            param.copy_(torch.tensor(rng.standard_normal(tuple(param.shape))))
    _sync(d_module, t_module)
    for _ in range(2):
        _step(d_module, t_module, (rng.standard_normal(shape) * 3 + 1).astype(dtype),
              tolerance)
    _check_states(d_module, t_module, tolerance)
    d_module.eval()
    t_module.eval()
    _step(d_module, t_module, rng.standard_normal(shape).astype(dtype), tolerance)


@pytest.mark.parametrize("build, shape", [
    (lambda nn: nn.BatchNorm1d(3), (2, 3, 4, 5)),
    (lambda nn: nn.BatchNorm1d(3), (1, 3)),
    (lambda nn: nn.BatchNorm2d(3), (2, 3, 4)),
    (lambda nn: nn.BatchNorm3d(3), (2, 3, 4)),
    (lambda nn: nn.BatchNorm1d(3), (2, 4)),
    (lambda nn: nn.GroupNorm(2, 4), (2, 6, 3)),
    (lambda nn: nn.LayerNorm(4), (2, 3)),
    (lambda nn: nn.InstanceNorm2d(3), (2, 3, 1, 1)),
    (lambda nn: nn.InstanceNorm1d(3, affine=True), (2, 4, 5)),
    (lambda nn: nn.InstanceNorm2d(3), (2, 3)),
])
@requires_torch
def test_module_errors(build, shape):
    array = np.ones(shape, dtype=np.float32)
    raises_like(lambda: build(dark.nn)(dark.tensor(array)),
                lambda: build(torch.nn)(torch.tensor(array)))


@pytest.mark.parametrize("call", [
    lambda t, x: t.nn.functional.group_norm(x, 4),
    lambda t, x: t.nn.functional.group_norm(x, 3, t.ones(4)),
    lambda t, x: t.nn.functional.layer_norm(x, [4]),
    lambda t, x: t.nn.functional.layer_norm(x, [3], t.ones(4)),
    lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True, eps=0.0),
    lambda t, x: t.nn.functional.batch_norm(x, t.zeros(3), t.ones(3)),
])
@requires_torch
def test_functional_errors(call):
    array = np.ones((2, 6, 3), dtype=np.float32)
    raises_like(lambda: call(dark, dark.tensor(array)),
                lambda: call(torch, torch.tensor(array)))


def test_group_norm_module_errors():
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by "
                                         r"num_groups \(3\)"):
        dark.nn.GroupNorm(3, 4)


@requires_torch
def test_instance_norm_unbatched_matches_torch():
    module = dark.nn.InstanceNorm1d(3)
    array = np.random.default_rng(5).standard_normal((3, 6)).astype(np.float32)
    expected = torch.nn.InstanceNorm1d(3)(torch.tensor(array)).numpy()
    np.testing.assert_allclose(module(dark.tensor(array)).numpy(), expected, atol=1e-5)


def test_instance_norm_unbatched_and_warning():
    module = dark.nn.InstanceNorm1d(3)
    array = np.random.default_rng(5).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_array_equal(module(dark.tensor(array)).numpy(),
                                  module(dark.tensor(array[None])).numpy()[0])
    with pytest.warns(UserWarning, match="does not match num_features"):
        module(dark.tensor(np.ones((2, 4, 5), np.float32)))


def test_layer_norm_float32_stays_float32():
    x = dark.randn(4, 8, requires_grad=True)
    module = dark.nn.LayerNorm(8)
    out = module(x)
    out.sum().backward()
    assert out.dtype == dark.float32 and x.grad.dtype == dark.float32
    assert module.weight.grad.dtype == dark.float32
