"""dark.autograd.functional (jacobian, hessian, vjp, jvp, vhp, hvp) against
torch.autograd.functional: the same programs, the same values, the nesting of tuple results,
create_graph (results that are differentiable again), strict mode's errors and the argument
errors; and, without torch, against finite differences and closed forms."""
import numpy as np
import pytest
from harness import raises_like, requires_torch, torch

import dark

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 2))
Y = RNG.standard_normal((3, 2))
V2 = RNG.standard_normal(2)
S = RNG.standard_normal(1)


def f_single(x):
    return (x * x.sin()).sum(0) ** 2


def f_pair(x, y):
    return (x * y.exp()).sum(1), (x - y).pow(3).mean()


def scalar(x):
    return (x ** 3).sum() * x.cos().sum()


def scalar_pair(x, y):
    return (x * y.tanh()).sum() + (x ** 2).sum() * (y ** 2).sum()


def _lib_tensors(lib, *arrays, requires_grad=False):
    return tuple(lib.tensor(a, requires_grad=requires_grad) for a in arrays)


def _flatten(result):
    if isinstance(result, (tuple, list)):
        return [x for item in result for x in _flatten(item)]
    return [result]


def _structure(result):
    if isinstance(result, (tuple, list)):
        return tuple(_structure(r) for r in result)
    return tuple(result.shape)


PROGRAMS = {
    "jacobian_single": lambda F, lib: F.jacobian(f_single, _lib_tensors(lib, X)[0]),
    "jacobian_pair": lambda F, lib: F.jacobian(f_pair, _lib_tensors(lib, X, Y)),
    "jacobian_tuple_of_one": lambda F, lib: F.jacobian(f_single, _lib_tensors(lib, X)),
    "jacobian_vectorize": lambda F, lib: F.jacobian(f_pair, _lib_tensors(lib, X, Y),
                                                    vectorize=True),
    "jacobian_unused_input": lambda F, lib: F.jacobian(lambda x, y: x.exp(),
                                                       _lib_tensors(lib, X, Y)),
    "hessian_single": lambda F, lib: F.hessian(scalar, _lib_tensors(lib, X)[0]),
    "hessian_pair": lambda F, lib: F.hessian(scalar_pair, _lib_tensors(lib, X, Y)),
    "vjp": lambda F, lib: F.vjp(f_single, _lib_tensors(lib, X)[0], lib.tensor(V2)),
    "vjp_pair": lambda F, lib: F.vjp(f_pair, _lib_tensors(lib, X, Y),
                                     (lib.tensor(Y[:, 0]), lib.tensor(2.0, dtype=lib.float64))),
    "vjp_scalar_no_v": lambda F, lib: F.vjp(scalar, _lib_tensors(lib, X)[0]),
    "jvp": lambda F, lib: F.jvp(f_single, _lib_tensors(lib, X)[0], lib.tensor(Y)),
    "jvp_pair": lambda F, lib: F.jvp(f_pair, _lib_tensors(lib, X, Y),
                                     _lib_tensors(lib, Y, X)),
    "jvp_scalar_input": lambda F, lib: F.jvp(lambda s: (s * 3).exp(), lib.tensor(S)),
    "vhp": lambda F, lib: F.vhp(scalar, _lib_tensors(lib, X)[0], lib.tensor(Y)),
    "vhp_pair": lambda F, lib: F.vhp(scalar_pair, _lib_tensors(lib, X, Y),
                                     _lib_tensors(lib, Y, X)),
    "hvp": lambda F, lib: F.hvp(scalar, _lib_tensors(lib, X)[0], lib.tensor(Y)),
    "hvp_pair": lambda F, lib: F.hvp(scalar_pair, _lib_tensors(lib, X, Y),
                                     _lib_tensors(lib, Y, X)),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_matches_torch(name):
    program = PROGRAMS[name]
    got = program(dark.autograd.functional, dark)
    expected = program(torch.autograd.functional, torch)
    assert _structure(got) == _structure(expected)
    for g, e in zip(_flatten(got), _flatten(expected)):
        assert not g.requires_grad and not e.requires_grad
        assert g.dtype.name == str(e.dtype).replace("torch.", "")
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12, atol=1e-12)


CREATE_GRAPH = {
    "jacobian": lambda F, x, y: F.jacobian(f_pair, (x, y), create_graph=True)[0][1],
    "hessian": lambda F, x, y: F.hessian(scalar_pair, (x, y), create_graph=True)[1][0],
    "vjp": lambda F, x, y: F.vjp(f_single, x, y[0], create_graph=True)[1],
    "jvp": lambda F, x, y: F.jvp(f_single, x, y, create_graph=True)[1],
    "vhp": lambda F, x, y: F.vhp(scalar, x, y, create_graph=True)[1],
    "hvp": lambda F, x, y: F.hvp(scalar, x, y, create_graph=True)[1],
}


@requires_torch
@pytest.mark.parametrize("name", sorted(CREATE_GRAPH))
def test_create_graph_results_are_differentiable_as_torch(name):
    program = CREATE_GRAPH[name]
    grads = []
    for F, lib in ((dark.autograd.functional, dark), (torch.autograd.functional, torch)):
        x, y = _lib_tensors(lib, X, Y, requires_grad=True)
        result = program(F, x, y)
        assert result.requires_grad
        (result ** 2).sum().backward()
        grads.append((x.grad.numpy(), y.grad))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-11, atol=1e-12)
    if grads[1][1] is None:
        assert grads[0][1] is None
    else:
        np.testing.assert_allclose(grads[0][1].numpy(), grads[1][1].numpy(), rtol=1e-11,
                                   atol=1e-12)


def test_jacobian_and_hessian_without_torch():
    F = dark.autograd.functional
    x = dark.tensor(X)
    J = F.jacobian(lambda t: t.exp(), x)
    assert J.shape == (3, 2, 3, 2)
    expected = np.zeros((3, 2, 3, 2))
    for i in range(3):
        for j in range(2):
            expected[i, j, i, j] = np.exp(X[i, j])
    np.testing.assert_allclose(J.numpy(), expected, rtol=1e-14)
    H = F.hessian(lambda t: (t ** 3).sum(), x)
    np.testing.assert_allclose(H.reshape(6, 6).numpy(), np.diag(6 * X.reshape(-1)),
                               rtol=1e-14)
    out, hv = F.hvp(lambda t: (t ** 3).sum(), x, dark.tensor(Y))
    np.testing.assert_allclose(hv.numpy(), 6 * X * Y, rtol=1e-14)
    np.testing.assert_allclose(out.item(), (X ** 3).sum(), rtol=1e-14)
    _, jv = F.jvp(lambda t: t.exp().sum(1), x, dark.tensor(Y))
    np.testing.assert_allclose(jv.numpy(), (np.exp(X) * Y).sum(1), rtol=1e-14)
    _, vj = F.vjp(lambda t: t.exp().sum(1), x, dark.tensor(Y[:, 0]))
    np.testing.assert_allclose(vj.numpy(), np.exp(X) * Y[:, :1], rtol=1e-14)
    # the inputs' own requires_grad and graph are left alone
    x = dark.tensor(X, requires_grad=True)
    F.jacobian(lambda t: t * 2, x)
    assert x.grad is None


def _linear(x):
    return x * 2


ERRORS = {
    "vjp_v_none": lambda F, lib: F.vjp(f_single, lib.tensor(X)),
    "vjp_v_size": lambda F, lib: F.vjp(f_single, lib.tensor(X), lib.tensor(Y)),
    "vjp_v_tuple_length": lambda F, lib: F.vjp(f_pair, (lib.tensor(X), lib.tensor(Y)),
                                               (lib.tensor(Y[:, 0]),)),
    "jvp_v_none": lambda F, lib: F.jvp(f_single, lib.tensor(X)),
    "jvp_v_entry_size": lambda F, lib: F.jvp(f_pair, (lib.tensor(X), lib.tensor(Y)),
                                             (lib.tensor(Y), lib.tensor(V2))),
    "inputs_type": lambda F, lib: F.jacobian(f_single, [lib.tensor(X), 3]),
    "input_not_tensor": lambda F, lib: F.jacobian(f_single, 3.0),
    "hessian_not_scalar": lambda F, lib: F.hessian(f_single, lib.tensor(X)),
    "hessian_tuple_output": lambda F, lib: F.hessian(lambda x: (x.sum(), x.sum()),
                                                     lib.tensor(X)),
    "hvp_not_scalar": lambda F, lib: F.hvp(f_single, lib.tensor(X), lib.tensor(X)),
    "vhp_tuple_output": lambda F, lib: F.vhp(lambda x: (x.sum(),), lib.tensor(X),
                                             lib.tensor(X)),
    "strict_independent_input": lambda F, lib: F.jacobian(
        lambda x, y: x.exp(), (lib.tensor(X), lib.tensor(Y)), strict=True),
    "strict_output_without_grad": lambda F, lib: F.vjp(
        lambda x: lib.ones(2), lib.tensor(X), lib.ones(2), strict=True),
    "strict_linear_hessian": lambda F, lib: F.hessian(
        lambda x: (x * 2).sum(), lib.tensor(X), strict=True),
    "strict_vectorize": lambda F, lib: F.jacobian(f_single, lib.tensor(X), strict=True,
                                                  vectorize=True),
    "strategy_bad": lambda F, lib: F.jacobian(f_single, lib.tensor(X), strategy="x"),
    "forward_mode_create_graph": lambda F, lib: F.jacobian(
        f_single, lib.tensor(X), create_graph=True, strategy="forward-mode"),
    "forward_mode_not_vectorized": lambda F, lib: F.jacobian(
        f_single, lib.tensor(X), strategy="forward-mode"),
    "forward_mode_strict": lambda F, lib: F.jacobian(
        f_single, lib.tensor(X), strict=True, strategy="forward-mode"),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    program = ERRORS[name]
    raises_like(lambda: program(dark.autograd.functional, dark),
                lambda: program(torch.autograd.functional, torch))


def test_forward_mode_says_what_dark_lacks():
    with pytest.raises(NotImplementedError, match="needs forward-mode AD"):
        dark.autograd.functional.jacobian(f_single, dark.tensor(X), vectorize=True,
                                          strategy="forward-mode")
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        dark.autograd.functional.vjp(f_single, dark.tensor(X))
