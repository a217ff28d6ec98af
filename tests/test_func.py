"""dark.func (grad, grad_and_value, vjp, jacrev, hessian, vmap, functional_call) against
torch.func: values, nesting (grad of grad, vmap of grad: per-sample gradients), argnums /
has_aux / in_dims / out_dims structures, randomness modes, functional_call's swaps and
errors; without torch, against closed forms."""
import numpy as np
import pytest
from harness import raises_like, requires_torch, torch

import dark
import dark.func

RNG = np.random.default_rng(0)
X = RNG.standard_normal(3)
W = RNG.standard_normal((4, 3))
W32 = W.astype(np.float32)


def _tf():
    import torch.func

    return torch.func


def _close(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _close(a[key], b[key])
    else:
        assert tuple(a.shape) == tuple(b.shape)
        assert a.dtype.name == str(b.dtype).replace("torch.", "")
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)


def f_scalar(x):
    return (x.sin() ** 2).sum()


def f_pair(x, w):
    return ((w * x).sum(-1) ** 2).sum()


PROGRAMS = {
    "grad": lambda F, lib: F.grad(f_scalar)(lib.tensor(X)),
    "grad_argnums_tuple": lambda F, lib: F.grad(f_pair, argnums=(0, 1))(lib.tensor(X),
                                                                       lib.tensor(W)),
    "grad_argnum_1": lambda F, lib: F.grad(f_pair, argnums=1)(lib.tensor(X), lib.tensor(W)),
    "grad_has_aux": lambda F, lib: F.grad(lambda x: (f_scalar(x), x.cos()), has_aux=True)(
        lib.tensor(X)),
    "grad_dict_input": lambda F, lib: F.grad(lambda p: (p["a"] * p["b"]).sum())(
        {"a": lib.tensor(X), "b": lib.tensor(X[::-1].copy())}),
    "grad_of_grad": lambda F, lib: F.grad(lambda x: F.grad(f_scalar)(x).sum())(lib.tensor(X)),
    "grad_and_value": lambda F, lib: F.grad_and_value(f_scalar)(lib.tensor(X)),
    "vjp": lambda F, lib: F.vjp(lambda x: x.sin() * 2, lib.tensor(X))[1](lib.tensor(X[::-1]
                                                                                   .copy())),
    "jacrev": lambda F, lib: F.jacrev(lambda x, w: w @ x.sin(), argnums=(0, 1))(
        lib.tensor(X), lib.tensor(W)),
    "jacrev_tuple_output": lambda F, lib: F.jacrev(lambda x: (x.exp(), x.sum()))(lib.tensor(X)),
    "hessian": lambda F, lib: F.hessian(f_scalar)(lib.tensor(X)),
    "hessian_pair": lambda F, lib: F.hessian(f_pair, argnums=1)(lib.tensor(X), lib.tensor(W)),
    "vmap": lambda F, lib: F.vmap(lambda w, x: (w * x).sum(-1), in_dims=(None, 0))(
        lib.tensor(X), lib.tensor(W)),
    "vmap_out_dims": lambda F, lib: F.vmap(lambda x: (x, x.sum()), in_dims=1,
                                           out_dims=(1, 0))(lib.tensor(W)),
    "vmap_nested": lambda F, lib: F.vmap(F.vmap(lambda a, b: a * b, in_dims=(0, None)),
                                         in_dims=(None, 0))(lib.tensor(X), lib.tensor(W)),
    "vmap_dict": lambda F, lib: F.vmap(lambda d: d["w"].sum() * d["s"],
                                       in_dims=({"w": 0, "s": None},))(
        {"w": lib.tensor(W), "s": lib.tensor(2.0, dtype=lib.float64)}),
    "vmap_of_grad": lambda F, lib: F.vmap(F.grad(f_pair), in_dims=(None, 0))(
        lib.tensor(X), lib.tensor(W)),
    "jacrev_of_vmap": lambda F, lib: F.jacrev(F.vmap(lambda x: x.sin().sum()))(lib.tensor(W)),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_matches_torch(name):
    got = PROGRAMS[name](dark.func, dark)
    expected = PROGRAMS[name](_tf(), torch)
    _close(got, expected)


@requires_torch
def test_per_sample_gradients_of_a_module():
    # a fixed start: unseeded, one weight draw in about five summed a per-sample gradient
    # whose float32 sums (dark's and torch's, in different orders) differ by 1.3e-6 relative
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    dm = dark.nn.Sequential(dark.nn.Linear(3, 5), dark.nn.Tanh(), dark.nn.Linear(5, 2))
    dm.load_state_dict({k: dark.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    results = []
    for F, lib, model in ((dark.func, dark, dm), (_tf(), torch, tm)):
        params = {k: v.detach() for k, v in model.named_parameters()}

        def loss(p, x, y, F=F, model=model):
            return ((F.functional_call(model, p, (x[None],)) - y) ** 2).mean()

        results.append(F.vmap(F.grad(loss), in_dims=(None, 0, 0))(
            params, lib.tensor(W32), lib.tensor(W32[:, :2] * 3)))
    _close(results[0], results[1])
    # the module's own parameters are back
    assert dm[0].weight is dict(dm.named_parameters())["0.weight"]


def test_closed_forms_without_torch():
    F = dark.func
    x = dark.tensor(X)
    np.testing.assert_allclose(F.grad(f_scalar)(x).numpy(), 2 * np.sin(X) * np.cos(X))
    np.testing.assert_allclose(F.hessian(lambda t: (t ** 3).sum())(x).numpy(),
                               np.diag(6 * X))
    out = F.vmap(lambda w: w.sum())(dark.tensor(W))
    np.testing.assert_allclose(out.numpy(), W.sum(1))
    assert not F.grad(f_scalar)(x).requires_grad
    # an argument that requires grad keeps the result differentiable (outer autograd)
    leaf = dark.tensor(X, requires_grad=True)
    F.grad(f_scalar)(leaf).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), 2 * np.cos(2 * X))


@pytest.mark.parametrize("lib", [dark, pytest.param(torch, marks=requires_torch)])
def test_randomness_modes(lib):
    F = dark.func if lib is dark else _tf()
    x = lib.ones(4, 3)
    with pytest.raises(RuntimeError, match="vmap: called random operation while in "
                       "randomness error mode"):
        F.vmap(lambda t: t * lib.rand(3))(x)
    lib.manual_seed(0)
    same = F.vmap(lambda t: t * lib.rand(3), randomness="same")(x)
    assert all(bool((same[i] == same[0]).all()) for i in range(4))
    different = F.vmap(lambda t: t * lib.rand(3), randomness="different")(x)
    assert not bool((different[1] == different[0]).all())


ERRORS = {
    "grad_not_scalar": lambda F, lib: F.grad(lambda x: x)(lib.ones(3)),
    "grad_not_tensor": lambda F, lib: F.grad(lambda x: (x, x))(lib.ones(())),
    "grad_argnum_range": lambda F, lib: F.grad(lambda x: x.sum(), argnums=2)(lib.ones(3)),
    "vmap_sizes": lambda F, lib: F.vmap(lambda x, y: x + y)(lib.ones(3, 2), lib.ones(2, 2)),
    "vmap_in_dim_range": lambda F, lib: F.vmap(lambda x: x.sum(), in_dims=2)(lib.ones(3)),
    "vmap_randomness_value": lambda F, lib: F.vmap(lambda x: x, randomness="x")(lib.ones(3)),
    "functional_call_strict": lambda F, lib: F.functional_call(
        lib.nn.Linear(2, 2), {"weight": lib.ones(2, 2)}, (lib.ones(2),), strict=True),
    "functional_call_duplicate": lambda F, lib: F.functional_call(
        lib.nn.Linear(2, 2), ({"weight": lib.ones(2, 2)}, {"weight": lib.ones(2, 2)}),
        (lib.ones(2),)),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    raises_like(lambda: ERRORS[name](dark.func, dark), lambda: ERRORS[name](_tf(), torch))
