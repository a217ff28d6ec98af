"""The small-tensor fast paths of issue 20: F.linear outside a graph and the LSTM step's
fused gate arithmetic give the values of the general paths, keep their checks, and the
fused node's gradients (and gradients of gradients) are right."""
from __future__ import annotations

import numpy as np
import pytest

import dark
import dark.nn.functional as F
from dark.nn.modules.rnn import _LSTMPointwise


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
