"""F.ctc_loss and nn.CTCLoss against torch: losses and torch's gradients (which are not the
derivative for arbitrary log_probs, see dark/nn/functional/ctc.py) for padded and
concatenated targets, blank positions, repeated labels, empty targets, impossible alignments
and zero_infinity; gradcheck through log_softmax, where torch's gradient is the true one; errors."""
import numpy as np
import pytest
from harness import LIBS, error_of, requires_torch, torch

import dark
import dark.nn.functional as DF

TF = torch.nn.functional if torch is not None else None


def _log_softmax(x):
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _put(lib, device):
    if lib is dark:
        return lambda a, **k: dark.tensor(a, device=device, **k)
    return lib.tensor


def _run(lib, functional, device, values, targets, input_lengths, target_lengths, grad,
         **kwargs):
    put = _put(lib, device)
    log_probs = put(values, requires_grad=True)
    if isinstance(input_lengths, tuple):
        lengths = (input_lengths, target_lengths)
    else:
        lengths = (put(np.array(input_lengths)), put(np.array(target_lengths)))
    loss = functional.ctc_loss(log_probs, put(np.array(targets)), *lengths, **kwargs)
    loss.backward(put(grad(tuple(loss.shape))))
    return (type(loss.grad_fn).__name__, str(loss.dtype).split(".")[-1],
            loss.detach().cpu().numpy(), log_probs.grad.cpu().numpy())


# name: (T, N, C, targets, input_lengths, target_lengths, options)
CASES = {
    "padded": (6, 2, 5, [[1, 2, 3], [4, 4, 0]], [6, 5], [3, 2], {}),
    "concatenated": (6, 3, 5, [1, 2, 3, 4, 4, 2], [6, 5, 6], [3, 2, 1], {}),
    "tuples": (7, 2, 4, [[1, 1, 2], [3, 0, 0]], (7, 4), (3, 1), {}),
    "repeats_tight": (5, 2, 4, [[1, 1, 1], [2, 2, 0]], [5, 3], [3, 2], {}),
    "empty_targets": (5, 3, 4, [[1, 2], [0, 0], [3, 0]], [5, 4, 2], [2, 0, 1], {}),
    "blank_last": (6, 2, 5, [[0, 1, 3], [2, 2, 0]], [6, 6], [3, 2], {"blank": 4}),
    "blank_middle": (6, 2, 5, [[0, 1, 3], [4, 4, 1]], [6, 4], [3, 3], {"blank": 2}),
    "impossible": (4, 3, 4, [[1, 1, 1], [1, 2, 0], [3, 0, 0]], [4, 2, 4], [3, 2, 1], {}),
    "impossible_zero_inf": (4, 3, 4, [[1, 1, 1], [1, 2, 0], [3, 0, 0]], [4, 2, 4], [3, 2, 1],
                            {"zero_infinity": True}),
    "zero_input_length": (4, 3, 4, [[1, 2], [1, 0], [3, 3]], [4, 0, 0], [2, 0, 1], {}),
    "target_is_blank": (6, 2, 5, [[1, 4, 2], [4, 0, 0]], [6, 4], [3, 1], {"blank": 4}),
    "longer": (40, 4, 12, None, [40, 31, 22, 9], [12, 9, 5, 4], {}),
}


def _case_inputs(name):
    steps, batch, classes, targets, input_lengths, target_lengths, options = CASES[name]
    rng = np.random.default_rng(len(name))
    if targets is None:
        targets = rng.integers(1, classes, (batch, max(target_lengths)))
    values = rng.standard_normal((steps, batch, classes))
    return rng, values, targets, input_lengths, target_lengths, options


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("normalized", [True, False], ids=["log_softmax", "raw"])
@pytest.mark.parametrize("name", list(CASES))
@requires_torch
def test_parity_with_torch(device, name, reduction, normalized):
    rng, values, targets, input_lengths, target_lengths, options = _case_inputs(name)
    if normalized:
        values = _log_softmax(values)
    grads = {}

    def grad(shape):
        if shape not in grads:
            grads[shape] = rng.uniform(0.5, 1.5, shape)
        return grads[shape]

    mine = _run(dark, DF, device, values, targets, input_lengths, target_lengths, grad,
                reduction=reduction, **options)
    theirs = _run(torch, TF, device, values, targets, input_lengths, target_lengths, grad,
                  reduction=reduction, **options)
    assert mine[:2] == theirs[:2]
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mine[3], theirs[3], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@requires_torch
def test_float32(device, reduction):
    rng, values, targets, input_lengths, target_lengths, _ = _case_inputs("longer")
    values = _log_softmax(values).astype(np.float32)

    def grad(shape):
        return np.ones(shape, dtype=np.float32)

    mine = _run(dark, DF, device, values, targets, input_lengths, target_lengths, grad,
                reduction=reduction)
    theirs = _run(torch, TF, device, values, targets, input_lengths, target_lengths, grad,
                  reduction=reduction)
    assert mine[:2] == theirs[:2] and mine[1] == "float32"
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-5)
    np.testing.assert_allclose(mine[3], theirs[3], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@requires_torch
def test_unbatched(device, reduction):
    rng = np.random.default_rng(9)
    values = _log_softmax(rng.standard_normal((6, 4)))
    results = []
    for lib, functional in ((dark, DF), (torch, TF)):
        put = _put(lib, device)
        log_probs = put(values, requires_grad=True)
        loss = functional.ctc_loss(log_probs, put([1, 3, 3]), put(6), put(3),
                                   reduction=reduction)
        loss.backward()
        results.append((tuple(loss.shape), type(loss.grad_fn).__name__,
                        loss.detach().cpu().numpy(), log_probs.grad.cpu().numpy()))
    assert results[0][:2] == results[1][:2]
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-10)
    np.testing.assert_allclose(results[0][3], results[1][3], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["padded", "concatenated", "repeats_tight", "empty_targets",
                                  "blank_middle", "impossible_zero_inf"])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_gradcheck_through_log_softmax(device, name, reduction):
    # torch's gradient adds exp(log_probs), which log_softmax's backward cancels: after a
    # log_softmax the gradient is the true derivative, so finite differences must agree
    _, values, targets, input_lengths, target_lengths, options = _case_inputs(name)
    logits = dark.tensor(values, requires_grad=True, device=device)
    targets = dark.tensor(np.array(targets), device=device)
    input_lengths = dark.tensor(np.array(input_lengths), device=device)
    target_lengths = dark.tensor(np.array(target_lengths), device=device)

    def f(x):
        return DF.ctc_loss(x.log_softmax(2), targets, input_lengths, target_lengths,
                           reduction=reduction, **options)

    assert dark.autograd.gradcheck(f, [logits])


def test_gradient_is_not_the_derivative_for_raw_inputs(device):
    # for inputs that are not log-probabilities, torch (and so dark) returns
    # exp(log_probs) - posterior, not the derivative -posterior: gradcheck must fail
    _, values, targets, input_lengths, target_lengths, _ = _case_inputs("padded")
    log_probs = dark.tensor(values, requires_grad=True, device=device)

    def f(x):
        return DF.ctc_loss(x, dark.tensor(targets, device=device),
                           dark.tensor(input_lengths, device=device),
                           dark.tensor(target_lengths, device=device))

    assert not dark.autograd.gradcheck(f, [log_probs], raise_exception=False)


@pytest.mark.parametrize("lib", LIBS)
def test_double_backward_raises_like_torch(lib, device):
    _, values, targets, input_lengths, target_lengths, _ = _case_inputs("padded")
    put = _put(lib, device)
    log_probs = put(_log_softmax(values), requires_grad=True)
    loss = lib.nn.functional.ctc_loss(log_probs, put(targets), put(input_lengths),
                                      put(target_lengths))
    (grad,) = lib.autograd.grad(loss, log_probs, create_graph=True)
    with pytest.raises(RuntimeError, match="^derivative for aten::_ctc_loss_backward is not "
                                           "implemented$"):
        lib.autograd.grad(grad.sum(), log_probs)


def _ctc(lib, log_probs=None, targets=((1, 2), (3, 3)), input_lengths=(5, 4),
         target_lengths=(2, 2), as_tensors=True, **kwargs):
    if log_probs is None:
        log_probs = lib.zeros((5, 2, 4), dtype=lib.float64)
    lengths = [lib.tensor(v) if as_tensors and not isinstance(v, tuple | list) or (
        as_tensors and isinstance(v, tuple)) else v for v in (input_lengths, target_lengths)]
    return lib.nn.functional.ctc_loss(log_probs, lib.tensor(targets), *lengths, **kwargs)


ERRORS = {
    "reduction": lambda L: _ctc(L, reduction="bad"),
    "input_too_long": lambda L: _ctc(L, input_lengths=(6, 4)),
    "input_negative": lambda L: _ctc(L, input_lengths=(-1, 4)),
    "target_too_long": lambda L: _ctc(L, target_lengths=(3, 2)),
    "target_negative": lambda L: _ctc(L, target_lengths=(-1, 2)),
    "input_lengths_size": lambda L: _ctc(L, input_lengths=(5,)),
    "target_lengths_size": lambda L: _ctc(L, target_lengths=(2, 2, 2)),
    "blank_high": lambda L: _ctc(L, blank=4),
    "blank_negative": lambda L: _ctc(L, blank=-1),
    "float_input_lengths": lambda L: L.nn.functional.ctc_loss(
        L.zeros((5, 2, 4)), L.tensor([[1, 2], [3, 3]]), L.tensor([5.0, 4.0]),
        L.tensor([2, 2])),
    "float_target_lengths": lambda L: L.nn.functional.ctc_loss(
        L.zeros((5, 2, 4)), L.tensor([[1, 2], [3, 3]]), L.tensor([5, 4]),
        L.tensor([2.0, 2.0])),
    "log_probs_4d": lambda L: _ctc(L, log_probs=L.zeros((1, 5, 2, 4))),
    "log_probs_1d": lambda L: _ctc(L, log_probs=L.zeros((4,))),
    "log_probs_int": lambda L: _ctc(L, log_probs=L.zeros((5, 2, 4), dtype=L.int64)),
    "log_probs_empty": lambda L: _ctc(L, log_probs=L.zeros((5, 0, 4)), targets=[[1]],
                                      input_lengths=(5,), target_lengths=(1,)),
    "concat_short": lambda L: _ctc(L, targets=[1, 2, 3]),
    "concat_long": lambda L: _ctc(L, targets=[1, 2, 3, 3, 1]),
    "padded_batch": lambda L: _ctc(L, targets=[[1, 2]]),
    "targets_3d": lambda L: _ctc(L, targets=[[[1, 2], [3, 3]]]),
}


@pytest.mark.parametrize("name", list(ERRORS))
@requires_torch
def test_errors_match_torch(name):
    mine = error_of(lambda: ERRORS[name](dark))
    theirs = error_of(lambda: ERRORS[name](torch))
    assert theirs is not None
    assert mine == theirs


@pytest.mark.parametrize("lib", LIBS)
def test_mixed_length_kinds_raise_type_error(lib):
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        lib.nn.functional.ctc_loss(lib.zeros((5, 2, 4)), lib.tensor([[1, 2], [3, 3]]),
                                   lib.tensor([5, 4]), (2, 2))


def test_target_out_of_range_raises():
    # torch reads out of bounds (an arbitrary number); dark refuses
    with pytest.raises(IndexError, match="out of range"):
        DF.ctc_loss(dark.zeros((5, 2, 4)), dark.tensor([[1, 7], [3, 3]]), (5, 4), (2, 2))


MODULE_OPTIONS = [{}, {"blank": 3, "reduction": "sum"},
                  {"zero_infinity": True, "reduction": "none"}]


@pytest.mark.parametrize("kwargs", MODULE_OPTIONS)
@pytest.mark.parametrize("lib", LIBS)
def test_module_options(lib, kwargs):
    module = lib.nn.CTCLoss(**kwargs)
    assert repr(module) == "CTCLoss()" and list(module.state_dict()) == []
    assert (module.blank, module.reduction, module.zero_infinity) == (
        kwargs.get("blank", 0), kwargs.get("reduction", "mean"),
        kwargs.get("zero_infinity", False))


@pytest.mark.parametrize("kwargs", MODULE_OPTIONS)
@requires_torch
def test_module(device, kwargs):
    mine, theirs = dark.nn.CTCLoss(**kwargs), torch.nn.CTCLoss(**kwargs)
    assert repr(mine) == repr(theirs)
    rng = np.random.default_rng(4)
    values = _log_softmax(rng.standard_normal((6, 3, 5)))
    targets, input_lengths, target_lengths = [[1, 2, 2], [0, 1, 0], [2, 2, 2]], [6, 5, 3], [3, 2, 3]
    a = mine(dark.tensor(values, device=device), dark.tensor(targets, device=device),
             dark.tensor(input_lengths, device=device), dark.tensor(target_lengths,
                                                                    device=device))
    b = theirs(torch.tensor(values), torch.tensor(targets), torch.tensor(input_lengths),
               torch.tensor(target_lengths))
    np.testing.assert_allclose(a.cpu().numpy(), b.numpy(), rtol=1e-10)
