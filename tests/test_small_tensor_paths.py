"""The small-tensor fast paths of issue 20: F.linear outside a graph and the LSTM step's
fused gate arithmetic give the values of the general paths, keep their checks, and the
fused node's gradients (and gradients of gradients) are right."""
from __future__ import annotations

import weakref

import numpy as np
import pytest

import dark
import dark.nn.functional as F
from dark.autograd.function import Op
from dark.autograd.graph import register_node_observer
from dark.nn.modules.rnn import _LSTMPointwise
from dark.ops import elementwise as _elementwise


def _composed(gates, cell):
    """The LSTM step's gate arithmetic as separate ops (the path before the fusion)."""
    i, f, g, o = gates.chunk(4, 1)
    new_cell = f.sigmoid() * cell + i.sigmoid() * g.tanh()
    return o.sigmoid() * new_cell.tanh(), new_cell


def _inputs(dtype, batch=3, hidden=5, seed=0):
    rng = np.random.default_rng(seed)
    gates = dark.tensor(rng.standard_normal((batch, 4 * hidden)).astype(dtype),
                        requires_grad=True)
    cell = dark.tensor(rng.standard_normal((batch, hidden)).astype(dtype), requires_grad=True)
    return gates, cell


def test_lstm_cell_records_one_fused_node():
    cell = dark.nn.LSTMCell(4, 6)
    h, c = cell(dark.randn(2, 4))
    assert type(h.grad_fn).__name__ == "ThnnFusedLstmCellBackward0"
    assert h.grad_fn is c.grad_fn
    assert type(h.grad_fn.next_functions[0][0]).__name__ == "AddmmBackward0"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_pointwise_matches_the_composed_ops(dtype):
    gates, cell = _inputs(dtype)
    h, c = _LSTMPointwise.apply(gates, cell)
    h_ref, c_ref = _composed(gates, cell)
    np.testing.assert_array_equal(h.detach().numpy(), h_ref.detach().numpy())
    np.testing.assert_array_equal(c.detach().numpy(), c_ref.detach().numpy())
    rng = np.random.default_rng(1)
    weights = [dark.tensor(rng.standard_normal(h.shape).astype(dtype)) for _ in range(2)]
    fused = dark.autograd.grad((h * weights[0] + c * weights[1]).sum(), (gates, cell))
    ref = dark.autograd.grad((h_ref * weights[0] + c_ref * weights[1]).sum(), (gates, cell))
    tolerance = 1e-6 if dtype == "float32" else 1e-13
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tolerance, atol=tolerance)


def test_lstm_pointwise_gradcheck_and_gradgradcheck():
    gates, cell = _inputs("float64", batch=2, hidden=3, seed=2)
    assert dark.autograd.gradcheck(lambda g, c: _LSTMPointwise.apply(g, c), (gates, cell))
    assert dark.autograd.gradgradcheck(lambda g, c: _LSTMPointwise.apply(g, c), (gates, cell))


def test_lstm_pointwise_one_output_used_and_retain_graph():
    gates, cell = _inputs("float64", seed=3)
    h, c = _LSTMPointwise.apply(gates, cell)
    h.sum().backward(retain_graph=True)
    first = gates.grad.clone(), cell.grad.clone()
    gates.grad = cell.grad = None
    h.sum().backward()
    np.testing.assert_array_equal(gates.grad.numpy(), first[0].numpy())
    np.testing.assert_array_equal(cell.grad.numpy(), first[1].numpy())
    h_ref, _ = _composed(gates, cell)
    expected = dark.autograd.grad(h_ref.sum(), (gates, cell))
    np.testing.assert_allclose(first[0].numpy(), expected[0].numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(first[1].numpy(), expected[1].numpy(), rtol=1e-13, atol=1e-13)


def test_lstm_pointwise_sees_an_inplace_change_of_its_cell():
    gates, cell = _inputs("float32", seed=4)
    previous = cell * 1
    h, _ = _LSTMPointwise.apply(gates, previous)
    previous.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        h.sum().backward()


@pytest.mark.parametrize("bias_shape", [None, (7,), (1,), ()])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_without_graph_gives_the_graph_path_values(bias_shape, dtype):
    rng = np.random.default_rng(5)
    x = dark.tensor(rng.standard_normal((4, 6)).astype(dtype))
    weight = dark.tensor(rng.standard_normal((7, 6)).astype(dtype), requires_grad=True)
    bias = None if bias_shape is None else dark.tensor(
        rng.standard_normal(bias_shape).astype(dtype), requires_grad=True)
    recorded = F.linear(x, weight, bias)
    assert recorded.grad_fn is not None
    with dark.no_grad():
        plain = F.linear(x, weight, bias)
    assert plain.grad_fn is None and not plain.requires_grad
    np.testing.assert_array_equal(plain.numpy(), recorded.detach().numpy())
    frozen = F.linear(x, weight.detach(), None if bias is None else bias.detach())
    assert frozen.grad_fn is None
    np.testing.assert_array_equal(frozen.numpy(), recorded.detach().numpy())


def test_linear_without_graph_keeps_the_checks():
    x = dark.randn(2, 3)
    with dark.no_grad():
        with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                               r"\(2x3 and 4x5\)"):
            F.linear(x, dark.randn(5, 4))
        with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype"):
            F.linear(x, dark.randn(5, 3, dtype=dark.float64))
        with pytest.raises(RuntimeError, match="self and mat2 must have the same dtype"):
            F.linear(x, dark.randn(5, 3), dark.randn(5, dtype=dark.float64))
        with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
            F.linear(x, dark.randn(5, 3), dark.randn(4))
        with pytest.raises(TypeError, match="argument 'bias'"):
            F.linear(x, dark.randn(5, 3), 1.0)


# --- AccumulateGrad takes a leaf's first gradient without a copy when nobody else sees it --

class _Scale(dark.autograd.Function):
    """``x * 3`` whose backward remembers (weakly) the array it returns."""

    returned: list = []

    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        out = grad * 3
        _Scale.returned.append(weakref.ref(out.numpy()))
        return out


def test_first_gradient_is_taken_without_a_copy():
    x = dark.randn(5, requires_grad=True)
    _Scale.returned.clear()
    _Scale.apply(x).sum().backward()
    assert x.grad.numpy() is _Scale.returned[0]()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(5, 3, np.float32))
    _Scale.apply(x).sum().backward()  # accumulated in place, still a plain writeable grad
    np.testing.assert_array_equal(x.grad.numpy(), np.full(5, 6, np.float32))


def _no_shared_memory(a, b):
    return not np.shares_memory(a.numpy(), b.numpy())


def test_a_gradient_a_hook_kept_is_copied():
    x = dark.randn(4, requires_grad=True)
    kept = []
    x.register_hook(kept.append)
    (x * 2).sum().backward()
    assert _no_shared_memory(x.grad, kept[0])
    (x * 2).sum().backward()
    np.testing.assert_array_equal(kept[0].numpy(), np.full(4, 2, np.float32))


def test_a_tensor_a_hook_returned_and_kept_is_copied():
    x = dark.randn(4, requires_grad=True)
    kept = []

    def hook(grad):
        kept.append(grad * 1)
        return kept[-1]

    x.register_hook(hook)
    (x * 2).sum().backward()
    assert _no_shared_memory(x.grad, kept[0])
    x.grad.add_(1)
    np.testing.assert_array_equal(kept[0].numpy(), np.full(4, 2, np.float32))


def test_one_gradient_for_two_leaves_is_not_shared():
    a2, b2 = dark.randn(3, requires_grad=True), dark.randn(3, requires_grad=True)
    (a2 + b2).backward(dark.ones(3) * 5)
    assert _no_shared_memory(a2.grad, b2.grad)
    a2.grad.add_(1)
    np.testing.assert_array_equal(b2.grad.numpy(), np.full(3, 5, np.float32))


def test_a_retained_gradient_passed_on_to_a_leaf_is_not_shared():
    x = dark.randn(3, requires_grad=True)
    y = x.clone()
    y.retain_grad()
    y.backward(dark.ones(3) * 2)
    assert _no_shared_memory(x.grad, y.grad)
    y.grad.add_(1)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2, np.float32))


def test_a_gradient_a_function_kept_or_viewed_is_copied():
    kept = []

    class Keep(dark.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            out = grad * 2
            kept.append(out.numpy()[1:])  # a view of the returned gradient
            return out

    x = dark.randn(3, requires_grad=True)
    Keep.apply(x).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), kept[0])
    x.grad.add_(1)
    np.testing.assert_array_equal(kept[0], np.full(2, 2, np.float32))


def test_a_broadcast_gradient_is_copied_and_writeable():
    x = dark.randn(3, requires_grad=True)
    x.sum().backward()
    assert x.grad.numpy().flags.writeable and x.grad.numpy().flags.owndata
    x.grad.add_(1)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2, np.float32))


def test_a_gradient_for_an_input_of_autograd_grad_is_not_shared():
    x = dark.randn(3, requires_grad=True)
    y = (x * 2).sum()
    (gx,) = dark.autograd.grad(y, (x,), retain_graph=True)
    y.backward()
    assert _no_shared_memory(x.grad, gx)


def test_a_view_gradient_whose_base_a_hook_kept_is_copied():
    x = dark.randn(2, 3)
    weight = dark.randn(4, 3, requires_grad=True)
    weight_t = weight.t()
    kept = []
    weight_t.register_hook(kept.append)
    (x @ weight_t).sum().backward()
    assert _no_shared_memory(weight.grad, kept[0])
    weight_t2 = weight.t()
    weight_t2.retain_grad()
    weight.grad = None
    (x @ weight_t2).sum().backward()
    assert _no_shared_memory(weight.grad, weight_t2.grad)
    weight.grad.add_(1)
    np.testing.assert_array_equal(weight_t2.grad.numpy(), kept[0].numpy())


def test_linear_weight_gradient_is_right_without_a_copy():
    rng = np.random.default_rng(6)
    x = dark.tensor(rng.standard_normal((5, 3)).astype("float32"))
    layer = dark.nn.Linear(3, 4)
    layer(x).pow(2).sum().backward()
    first = layer.weight.grad.numpy().copy()
    assert layer.weight.grad.numpy().flags.c_contiguous
    layer(x).pow(2).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), 2 * first, rtol=1e-6)
    out = x.numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(first, 2 * out.T @ x.numpy(), rtol=1e-5, atol=1e-6)


# ---- one-ufunc ops (sin, exp, tanh ...) on float numpy tensors: Op.apply's _apply_ufunc

_UFUNC_OPS = sorted((name for name, op in vars(_elementwise).items()
                     if isinstance(op, type) and issubclass(op, Op) and op._ufunc is not None))


def _general_path():
    """While a node observer is registered, recorded ops take the general path."""
    return register_node_observer(lambda node, inputs: None)


def test_the_ufunc_ops_are_the_ones_named():
    assert {"Sin", "Cos", "Exp", "Log", "Sqrt", "Tanh", "Atan", "Asinh", "Sigmoid",
            "Relu"} <= set(_UFUNC_OPS)
    assert _elementwise.Abs._ufunc is None and _elementwise.Sign._ufunc is None


@pytest.mark.parametrize("name", _UFUNC_OPS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,)])
def test_ufunc_path_gives_the_general_path(name, dtype, shape):
    op = getattr(_elementwise, name)
    values = np.array([0.3, -0.7, 1.5, 0.0, np.inf, -np.inf, np.nan], dtype)
    data = values[:1].reshape(()) if shape == () else values
    with np.errstate(all="raise"):  # no warning may leave the op
        fast = dark.tensor(data, requires_grad=True)
        y = op.apply(fast)
        y.backward(dark.ones_like(y))
        plain = op.apply(dark.tensor(data))
    general = dark.tensor(data, requires_grad=True)
    with _general_path(), np.errstate(all="ignore"):
        expected = op.apply(general)
        expected.backward(dark.ones_like(expected))
    assert type(y.grad_fn) is type(expected.grad_fn) and y.grad_fn.name().endswith("Backward0")
    for got in (y, plain):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())
    assert not plain.requires_grad and plain.grad_fn is None
    np.testing.assert_array_equal(fast.grad.numpy(), general.grad.numpy())
    assert fast.grad.dtype == general.grad.dtype


@pytest.mark.parametrize("name, saved", [("Sin", "input"), ("Exp", "output")])
def test_ufunc_path_sees_an_inplace_change_of_what_it_saved(name, saved):
    op = getattr(_elementwise, name)
    x = dark.tensor([0.5, 1.0], requires_grad=True)
    base = x * 1.0
    y = op.apply(base)
    (base if saved == "input" else y).add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_ufunc_path_double_backward_and_no_grad_and_integers():
    x = dark.tensor([0.25, 1.0, 2.0], dtype=dark.float64, requires_grad=True)
    (g,) = dark.autograd.grad(x.sin().sum(), x, create_graph=True)
    (gg,) = dark.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), np.cos(x.detach().numpy()))
    np.testing.assert_allclose(gg.numpy(), -np.sin(x.detach().numpy()))
    with dark.no_grad():
        assert x.exp().grad_fn is None and not x.exp().requires_grad
    ints = dark.tensor([1, 2])  # not float: the general path's cast to the default dtype
    assert ints.sin().dtype == dark.float32


# ---- x[i] with a python int: getitem's shortcut gives _parse's answer
@pytest.mark.parametrize("requires_grad", [False, True])
def test_int_index_shortcut_gives_the_general_path(requires_grad):
    base = dark.arange(12.0).reshape(4, 3).clone().requires_grad_(requires_grad)
    for i in range(-4, 4):
        fast, general = base[i], base[i, ...]  # a tuple takes the general path
        np.testing.assert_array_equal(fast.detach().numpy(), general.detach().numpy())
        assert type(fast.grad_fn) is type(general.grad_fn)
        assert fast._base is base and fast.requires_grad == requires_grad
    for i in (4, -5):
        with pytest.raises(IndexError) as fast_error:
            base[i]
        with pytest.raises(IndexError) as general_error:
            base[i, ...]
        assert str(fast_error.value) == str(general_error.value)
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        dark.tensor(1.0)[0]
    if requires_grad:
        base[1].sum().backward()
        np.testing.assert_array_equal(base.grad.numpy(), [[0, 0, 0], [1, 1, 1], [0, 0, 0],
                                                          [0, 0, 0]])
    else:  # a view: writing through it changes the base and its version
        version = base._version
        base[2].add_(1)
        assert base[2, 0].item() == 7.0 and base._version == version + 1


# ---- add_/sub_/mul_/div_ outside a graph on float32/64 numpy tensors: inplace's shortcut
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dtype", [dark.float32, dark.float64])
def test_inplace_shortcut_gives_the_out_of_place_values(name, dtype):
    rng = np.random.default_rng(3)
    start = rng.standard_normal((3, 4))
    others = [dark.tensor(rng.standard_normal((3, 4)), dtype=dtype), 0.37, -3, 1e39, 0.0,
              2 ** 60, dark.tensor(rng.standard_normal(4), dtype=dtype)]  # last: broadcast
    for other in others:
        x = dark.tensor(start, dtype=dtype, requires_grad=True)
        expected = getattr(dark, name)(x.detach(), other)
        version = x._version
        view = x[1]
        with dark.no_grad(), np.errstate(all="raise"):  # no numpy warning leaves the op
            out = getattr(x, name + "_")(other)
        assert out is x and x.dtype == dtype and x._version == version + 1
        assert view._version == x._version  # a view shares its base's counter
        np.testing.assert_array_equal(x.detach().numpy(), expected.numpy())


def test_inplace_shortcut_keeps_the_checks():
    leaf = dark.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        leaf.sub_(dark.ones(3))
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        with dark.no_grad():
            dark.ones(1).expand(3).add_(dark.ones(3))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        dark.ones(3, dtype=dark.int64).mul_(0.5)
    x = dark.ones(3)
    x.div_(0.0)
    assert np.isinf(x.numpy()).all()


# ---- add/sub/mul/div of two float32 or two float64 numpy tensors: Op.apply's _apply_ufunc2
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((), (5,)), ((), ())])
def test_arithmetic_path_gives_the_general_path(name, dtype, shapes):
    rng = np.random.default_rng(4)
    data = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    data[1][data[1] == 0] = 0.5

    def run(grad_b=True):
        a = dark.tensor(data[0], requires_grad=True)
        b = dark.tensor(data[1], requires_grad=grad_b)
        out = getattr(dark, name)(a, b)
        out.backward(dark.ones_like(out))
        return out, a.grad, b.grad

    for grad_b in (True, False):
        fast = run(grad_b)
        with _general_path():
            general = run(grad_b)
        assert type(fast[0].grad_fn) is type(general[0].grad_fn)
        assert fast[0].dtype == general[0].dtype and fast[0].shape == general[0].shape
        for got, expected in zip(fast, general):
            if expected is None:
                assert got is None
            else:
                np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())


def test_arithmetic_path_keeps_errors_and_sees_inplace_changes():
    a = dark.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size "
                                           r"of tensor b \(4\)"):
        a * dark.ones(4)
    x = a * 1.0
    y = x * a
    x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    z = a / dark.zeros(3)  # silenced: inf, as torch, no warning
    assert np.isinf(z.detach().numpy()).all()
    w = a + a  # one tensor twice: both edges to one leaf
    w.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("number", [0.37, -3, 0, 2 ** 60, 1e39, float("nan"), float("inf")])
def test_arithmetic_path_with_a_number_gives_the_general_path(name, dtype, number):
    data = np.array([[0.5, -1.25, 3.0]], dtype)

    def run():
        a = dark.tensor(data, requires_grad=True)
        out = getattr(dark, name)(a, number)
        out.backward(dark.ones_like(out))
        return out, a.grad

    fast = run()
    with _general_path(), np.errstate(all="ignore"):
        general = run()
    assert type(fast[0].grad_fn) is type(general[0].grad_fn)
    assert fast[0].dtype == general[0].dtype
    for got, expected in zip(fast, general):
        np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())
