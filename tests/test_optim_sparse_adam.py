"""dark.optim.SparseAdam: it refuses a dense gradient (before any state is made) with torch's
error and steps on nn.Embedding(sparse=True)'s sparse gradients (more in test_sparse.py);
without gradients a step returns the closure's loss; construction errors, the fresh
state_dict and repr as torch's. Rprop and ASGD have test_optim_rprop_asgd.py."""
from __future__ import annotations

import pytest
from harness import requires_torch, torch
from test_optim import (
    TOLERANCES,
    assert_same_state_dict,
    case_id,
    check_fresh_state_dict_and_repr,
    check_option_error,
    check_tensor_lr_error,
    make_data,
    make_params,
    raised,
    run_steps,
)

import dark

ERROR_CASES = [
    ("SparseAdam", {"lr": 0.0}),
    ("SparseAdam", {"lr": -1.0}),
    ("SparseAdam", {"eps": 0.0}),
    ("SparseAdam", {"betas": (1.0, 0.9)}),
    ("SparseAdam", {"betas": (0.9, -0.5)}),
    ("SparseAdam", {"weight_decay": 0.1}),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=case_id)
@requires_torch
def test_option_errors(case):
    check_option_error(*case)


@requires_torch
def test_tensor_lr_errors():
    check_tensor_lr_error("SparseAdam")


@requires_torch
def test_fresh_state_dict_and_repr_match_torch():
    check_fresh_state_dict_and_repr("SparseAdam")


def test_sparse_adam_refuses_dense_gradients_before_any_state(device):
    init, grads = make_data("float64")
    params = make_params(dark, init, device)
    optimizer = dark.optim.SparseAdam(params, lr=0.01)
    loss = optimizer.step(lambda: (params[0] * 2).sum())
    assert float(loss) == pytest.approx(2 * init[0].sum(), rel=1e-12)
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        run_steps(dark, optimizer, params, grads[:1], device)
    assert len(optimizer.state) == 0


@requires_torch
def test_sparse_adam_refuses_dense_gradients(device):
    """dark's gradients are dense; torch's SparseAdam raises for a dense gradient, and so
    does dark's, with the same error, before any state is made; without gradients the
    step returns the closure's loss."""
    init, grads = make_data("float64")
    results = []
    for lib, dev in ((dark, device), (torch, "cpu")):
        params = make_params(lib, init, dev)
        optimizer = lib.optim.SparseAdam(params, lr=0.01)
        loss = optimizer.step(lambda params=params: (params[0] * 2).sum())
        error = raised(lambda params=params, optimizer=optimizer, lib=lib, dev=dev:
                       run_steps(lib, optimizer, params, grads[:1], dev))
        results.append((float(loss.detach()), error, optimizer))
    (my_loss, my_error, mine), (their_loss, their_error, theirs) = results
    assert my_loss == pytest.approx(their_loss, rel=1e-10)
    assert their_error[0] is RuntimeError
    assert my_error == their_error
    assert_same_state_dict(mine.state_dict(), theirs.state_dict(), TOLERANCES["float64"])


def test_sparse_adam_takes_embedding_gradients():
    """nn.Embedding(sparse=True)'s gradient is sparse: SparseAdam steps on the rows used
    only (each by about lr on its first step, Adam's normalised update)."""
    embedding = dark.nn.Embedding(10, 3, sparse=True)
    before = embedding.weight.detach().clone()
    optimizer = dark.optim.SparseAdam(embedding.parameters(), lr=0.1)
    embedding(dark.tensor([1, 2, 4])).sum().backward()
    assert embedding.weight.grad.is_sparse
    optimizer.step()
    change = (embedding.weight.detach() - before).numpy()
    assert (change[[0, 3, 5, 6, 7, 8, 9]] == 0).all()
    assert abs(change[[1, 2, 4]] + 0.1).max() < 1e-6
    assert optimizer.state[embedding.weight]["step"] == 1


def test_sparse_adam_complex_params_raise_value_error():
    with pytest.raises(ValueError):
        dark.optim.SparseAdam([dark.zeros(2, requires_grad=True),
                               dark.zeros(2, dtype=dark.complex64, requires_grad=True)])


@requires_torch
def test_sparse_adam_complex_params_error():
    theirs = raised(lambda: torch.optim.SparseAdam(
        [torch.zeros(2, requires_grad=True), torch.zeros(2, dtype=torch.complex64,
                                                         requires_grad=True)]))
    mine = raised(lambda: dark.optim.SparseAdam(
        [dark.zeros(2, requires_grad=True), dark.zeros(2, dtype=dark.complex64,
                                                       requires_grad=True)]))
    assert theirs[0] is ValueError
    assert mine == theirs
