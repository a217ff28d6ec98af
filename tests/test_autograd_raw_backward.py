"""The raw-array backward (Op.raw_backward): when no graph of the backward is built, simple
elementwise ops, reductions and views run their one derivative on the gradients' arrays
instead of Tensors; the answers are those of the Tensor backward, bit for bit."""
import numpy as np
import pytest

import dark
from dark.autograd import function


@pytest.fixture(autouse=True)
def _no_op_dispatch():
    """The raw-array backward runs only while no op dispatch is set; dark.amp's (autocast,
    bfloat16) stays set for the rest of the process once bfloat16 was loaded, as an earlier
    test may have done: these tests run without it, then put it back."""
    previous = function.Op.__dict__["apply"].__func__
    function.set_op_dispatch(None)
    yield
    function.set_op_dispatch(None if previous is function.plain_op_apply else previous)

# (name, function of one tensor): every op whose backward may take the raw-array path
UNARY = [
    ("add", lambda x: x + 0.5), ("add_alpha", lambda x: dark.add(x, x * 3, alpha=2)),
    ("sub", lambda x: x - 0.5), ("rsub", lambda x: 0.5 - x),
    ("sub_alpha", lambda x: dark.sub(x, x * 3, alpha=2)),
    ("mul", lambda x: x * x), ("mul_scalar", lambda x: x * 1.5),
    ("div", lambda x: x / (x + 2)), ("rdiv", lambda x: 3 / x), ("neg", lambda x: -x),
    ("pow2", lambda x: x ** 2), ("pow3", lambda x: x ** 3), ("pow_half", lambda x: x ** 0.5),
    ("pow0", lambda x: x ** 0), ("sqrt", dark.sqrt), ("rsqrt", dark.rsqrt),
    ("reciprocal", dark.reciprocal), ("exp", dark.exp), ("exp2", dark.exp2),
    ("expm1", dark.expm1), ("log", dark.log), ("log1p", dark.log1p), ("log2", dark.log2),
    ("log10", dark.log10), ("sin", dark.sin), ("cos", dark.cos), ("tan", dark.tan),
    ("atan", dark.atan), ("sinh", dark.sinh), ("cosh", dark.cosh), ("tanh", dark.tanh),
    ("atanh", lambda x: dark.atanh(x * 0.5)), ("sigmoid", dark.sigmoid), ("frac", dark.frac),
    ("floor", dark.floor), ("ceil", dark.ceil), ("trunc", dark.trunc), ("sign", dark.sign),
    ("sum", lambda x: x.sum()), ("sum_dim", lambda x: x.reshape(1, -1).sum(1)),
    ("sum_keepdim", lambda x: x.reshape(1, -1).sum(0, keepdim=True)),
    ("mean", lambda x: x.mean()), ("mean_dim", lambda x: x.reshape(-1, 1).mean(0)),
    ("reshape", lambda x: x.reshape(-1, 1) * 2), ("view", lambda x: x.view(1, -1) * 2),
    ("squeeze", lambda x: x.reshape(1, -1).squeeze(0) * 2),
    ("chunk", lambda x: dark.cat([p * (i + 1) for i, p in enumerate(
        x.reshape(1, -1).repeat(4, 1).chunk(3, 1))], 1)),
    ("chunk_unused", lambda x: x.reshape(-1, 1).repeat(1, 4).chunk(2, 1)[1] * 3),
]


def _gradients(function, dtype, shape, create_graph):
    x = dark.tensor(np.linspace(0.2, 0.9, int(np.prod(shape))).reshape(shape), dtype=dtype,
                    requires_grad=True)
    y = function(x)
    weights = dark.linspace(0.5, 1.5, y.numel(), dtype=y.dtype).reshape(y.shape)
    (grad,) = dark.autograd.grad((y * weights).sum(), x, create_graph=create_graph)
    return grad.detach().numpy()


@pytest.mark.parametrize("name, function", UNARY, ids=[name for name, _ in UNARY])
@pytest.mark.parametrize("dtype", [dark.float16, dark.float32, dark.float64])
@pytest.mark.parametrize("shape", [(), (3,)])
def test_raw_backward_is_the_tensor_backward(name, function, dtype, shape):
    raw = _gradients(function, dtype, shape, create_graph=False)
    graph = _gradients(function, dtype, shape, create_graph=True)  # the Tensor backward
    assert raw.dtype == graph.dtype == dtype.np and raw.shape == shape
    np.testing.assert_array_equal(raw, graph)


def test_simple_backward_makes_no_tensor_ops(monkeypatch):
    """A chain of elementwise ops, a sum and a reshape: the backward runs on arrays (no
    Tensor arithmetic) and gives the same gradient as the graph-building backward."""
    x = dark.linspace(0.1, 1.0, 10).requires_grad_()
    y = x
    for _ in range(3):
        y = (y * 1.01 + 0.1).sin().exp().tanh() / 2 - 1
    loss = y.reshape(2, 5).mean()
    (expected,) = dark.autograd.grad(loss, x, retain_graph=True, create_graph=True)
    calls = []
    for method in ("__mul__", "__rmul__", "__add__", "__radd__", "__sub__", "__rsub__",
                   "__truediv__", "__rtruediv__", "__neg__", "reshape", "expand", "cos"):
        original = getattr(dark.Tensor, method)

        def counting(*args, _original=original, _method=method, **kwargs):
            calls.append(_method)
            return _original(*args, **kwargs)

        monkeypatch.setattr(dark.Tensor, method, counting)
    loss.backward()
    assert calls == []
    np.testing.assert_array_equal(x.grad.numpy(), expected.detach().numpy())


def test_raw_backward_keeps_in_place_check():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y
    y.detach().add_(1)
    with pytest.raises(RuntimeError, match="output 0 of Mul, is at version 1; expected "
                                           "version 0 instead"):
        z.sum().backward()


def test_raw_backward_hooks_see_tensors():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    seen = []
    y.register_hook(lambda grad: seen.append(type(grad)) or grad * 2)
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: seen.append(
        tuple(type(g) for g in grad_inputs + grad_outputs)))
    y.sum().backward()
    assert seen == [dark.Tensor, (dark.Tensor, dark.Tensor)]
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_raw_backward_anomaly_nan_check():
    x = dark.tensor([0.0, 1.0], requires_grad=True)
    with dark.autograd.detect_anomaly(), pytest.warns(UserWarning, match="SqrtBackward0"):
        y = x.sqrt() * 0  # sqrt's derivative at 0 is inf, times 0: nan
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan"):
            y.sum().backward()


def test_user_code_in_backward_keeps_numpy_warnings():
    """The backward silences numpy only for dark's own ops: a hook or a Function's backward
    doing float arithmetic that overflows still gets numpy's warning."""

    class Loud(dark.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            np.float32(3e38) * np.float32(10)  # overflows: numpy warns
            return grad

    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = Loud.apply(x.exp()).sin()
    with pytest.warns(RuntimeWarning, match="overflow"):
        y.sum().backward()
    z = x.exp().sin()
    z.register_hook(lambda grad: np.float32(3e38) * np.float32(10) and None)
    with pytest.warns(RuntimeWarning, match="overflow"):
        z.cos().sum().backward()


@pytest.mark.parametrize("name", ["log2", "exp2", "log10", "log1p", "exp", "sin", "tan",
                                  "sigmoid", "reciprocal", "rsqrt"])
@pytest.mark.parametrize("shape", [(), (3,)])
def test_float16_backward_keeps_torch_opmath(name, shape):
    """float16 stays on the Tensor backward: torch computes ``x * log(2)`` there in float32
    and rounds once (numpy on raw float16 arrays would round the number first)."""
    torch = pytest.importorskip("torch", reason="torch not installed: parity check")
    values = np.linspace(0.2, 0.9, int(np.prod(shape))).reshape(shape)
    x = dark.tensor(values, dtype=dark.float16, requires_grad=True)
    getattr(dark, name)(x).sum().backward()
    t = torch.tensor(values, dtype=torch.float16, requires_grad=True)
    getattr(torch, name)(t).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
