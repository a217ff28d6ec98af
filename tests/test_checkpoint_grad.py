"""dark.utils.checkpoint (activation checkpointing) against torch.utils.checkpoint: outputs
and gradients (of the input and of the parameters) equal to the run without checkpointing
and to torch's, with dropout (the random state of the forward replayed in the
recomputation), both variants (use_reentrant True / False), checkpoint_sequential, keyword
arguments, autograd.grad, the recomputation itself, the warnings and errors."""
import importlib
import warnings

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
import dark.utils.checkpoint

RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 4)).astype(np.float32)


def _model(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Dropout(0.5),
                             lib.nn.Linear(8, 8), lib.nn.Tanh(), lib.nn.Dropout(0.3),
                             lib.nn.Linear(8, 3))


def _twins():
    tm = _model(torch)
    dm = _model(dark)
    dm.load_state_dict({k: dark.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return dm, tm


def _run(lib, model, checkpointed, reentrant, sequential=False):
    model.zero_grad()
    x = lib.tensor(X, requires_grad=True)
    lib.manual_seed(7)
    if not checkpointed:
        y = model(x)
    elif sequential:
        y = lib.utils.checkpoint.checkpoint_sequential(model, 3, x, use_reentrant=reentrant)
    else:
        y = lib.utils.checkpoint.checkpoint(model, x, use_reentrant=reentrant)
    draw_after = lib.rand(3).numpy()  # the generator moved on as without checkpointing
    (y ** 2).sum().backward()
    draw_after_backward = lib.rand(3).numpy()
    return ([y.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()],
            draw_after, draw_after_backward)


@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize("reentrant", [True, False])
def test_same_numbers_as_without_checkpointing(reentrant, sequential):
    model = _model(dark)
    plain, plain_draw, plain_draw_backward = _run(dark, model, False, reentrant)
    ckpt, draw, draw_backward = _run(dark, model, True, reentrant, sequential)
    for a, b in zip(plain, ckpt):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain_draw, draw)
    # backward restores the generator after replaying the forward's draws
    np.testing.assert_array_equal(plain_draw_backward, draw_backward)


@requires_torch
@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize("reentrant", [True, False])
def test_matches_torch(reentrant, sequential):
    import torch.utils.checkpoint  # noqa: F401

    dm, tm = _twins()
    d, _, _ = _run(dark, dm, True, reentrant, sequential)
    t, _, _ = _run(torch, tm, True, reentrant, sequential)
    for a, b in zip(d, t):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_function_is_recomputed_in_backward():
    calls = []

    def function(x, scale):
        calls.append(dark.is_grad_enabled())
        return (x * scale).sin()

    for reentrant in (True, False):
        calls.clear()
        x = dark.tensor(X, requires_grad=True)
        y = dark.utils.checkpoint.checkpoint(function, x, 2.0, use_reentrant=reentrant)
        assert len(calls) == 1
        y.sum().backward()
        assert len(calls) == 2 and calls[1] is True
        np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * X), rtol=1e-6)


def test_non_reentrant_autograd_grad_kwargs_and_parameters_without_input_grad():
    layer = dark.nn.Linear(4, 2)
    x = dark.tensor(X)  # no input needs a gradient: the parameters still get theirs

    def function(x, *, shift):
        return layer(x) + shift

    y = dark.utils.checkpoint.checkpoint(function, x, use_reentrant=False, shift=1.0)
    assert y.requires_grad
    (gw,) = dark.autograd.grad(y.sum(), [layer.weight])
    np.testing.assert_allclose(gw.numpy(), np.tile(X.sum(0), (2, 1)), rtol=1e-5)
    # the same through reentrant checkpoint: no input requires grad, no gradient flows
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = dark.utils.checkpoint.checkpoint(layer, x, use_reentrant=True)
    assert not y.requires_grad


def test_second_order_through_non_reentrant():
    x = dark.tensor(X[0].astype(np.float64), requires_grad=True)
    y = dark.utils.checkpoint.checkpoint(lambda t: (t ** 3).sum(), x, use_reentrant=False)
    (g,) = dark.autograd.grad(y, x, create_graph=True)
    (h,) = dark.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * X[0].astype(np.float64), rtol=1e-12)


@pytest.mark.parametrize("lib", LIBS)
def test_warnings_and_errors(lib):
    checkpoint = importlib.import_module(f"{lib.__name__}.utils.checkpoint")
    name = lib.__name__
    x = lib.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match=f"{name}.utils.checkpoint: the use_reentrant "
                      "parameter should be passed explicitly"):
        checkpoint.checkpoint(lambda t: t * 2, x)
    with pytest.warns(UserWarning, match=f"{name}.utils.checkpoint.checkpoint_sequential: "
                      "the use_reentrant parameter"):
        checkpoint.checkpoint_sequential([lambda t: t * 2, lambda t: t + 1], 2, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: shift"):
        checkpoint.checkpoint(lambda t, shift: t, x, use_reentrant=True, shift=1)
    with pytest.raises(ValueError, match="Passing `context_fn` or `debug` is only supported"):
        checkpoint.checkpoint(lambda t: t, x, use_reentrant=True, debug=True)
    with pytest.raises(RuntimeError, match="none of output has requires_grad=True, this "
                       "checkpoint\\(\\) is not necessary"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = checkpoint.checkpoint(lambda t: (t * 2).detach(), x, use_reentrant=True)
            (y * x).sum().backward()


W = RNG.standard_normal((4, 4))


def _chained(lib, checkpointed, captured):
    """Two checkpoints that share the input x; the second also takes the first's output
    (a dense block's pattern), as an argument or captured by the closure."""
    x = lib.tensor(X.astype(np.float64), requires_grad=True)
    w = lib.tensor(W, requires_grad=True)
    x2 = x * 1.5  # a non-leaf shared input

    def first(a):
        return (a @ w).tanh()

    def wrap(function, *args):
        if not checkpointed:
            return function(*args)
        return lib.utils.checkpoint.checkpoint(function, *args, use_reentrant=False)

    y = wrap(first, x2)
    if captured:
        z = wrap(lambda a: (lib.cat([a, y], 1) * 2).sin() * y.sum(), x2)
    else:
        z = wrap(lambda a, b: (lib.cat([a, b], 1) * 2).sin() * b.sum(), x2, y)
    (z * lib.tensor(np.arange(40.0).reshape(5, 8))).sum().backward()
    return [z.detach().numpy(), x.grad.numpy(), w.grad.numpy()]


@pytest.mark.parametrize("captured", [False, True])
def test_non_reentrant_input_shared_with_an_earlier_checkpoint(captured):
    plain = _chained(dark, False, captured)
    ckpt = _chained(dark, True, captured)
    for a, b in zip(plain, ckpt):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    if torch is not None:
        importlib.import_module("torch.utils.checkpoint")
        for a, b in zip(_chained(torch, True, captured), ckpt):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_second_order_through_chained_non_reentrant():
    def run(checkpointed):
        x = dark.tensor(X[0].astype(np.float64), requires_grad=True)

        def wrap(function, *args):
            if not checkpointed:
                return function(*args)
            return dark.utils.checkpoint.checkpoint(function, *args, use_reentrant=False)

        y = wrap(lambda t: t ** 3, x)
        z = wrap(lambda a, b: (a * b).sum(), x, y)
        (g,) = dark.autograd.grad(z, x, create_graph=True)
        (h,) = dark.autograd.grad((g ** 2).sum(), x)
        return g.detach().numpy(), h.numpy()

    for a, b in zip(run(False), run(True)):
        np.testing.assert_allclose(b, a, rtol=1e-12)


def test_nested_and_chained_non_reentrant():
    """Checkpoints inside a checkpointed function (recomputed inside the outer one's
    backward), each sharing inputs with the others' outputs."""
    def run(checkpointed):
        x = dark.tensor(X.astype(np.float64), requires_grad=True)
        w = dark.tensor(np.eye(4) * 0.5 + 0.1, requires_grad=True)

        def wrap(function, *args):
            if not checkpointed:
                return function(*args)
            return dark.utils.checkpoint.checkpoint(function, *args, use_reentrant=False)

        def inner(a):
            return (a @ w).sin()

        def outer(a):
            b = wrap(inner, a)
            return wrap(lambda c, d: (c * d).tanh(), a, b) + b

        y = wrap(outer, x)
        z = wrap(lambda p, q: p * q, y, x)
        (z ** 2).sum().backward()
        return x.grad.numpy(), w.grad.numpy()

    for a, b in zip(run(False), run(True)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
