"""Sparse COO gradients (nn.Embedding / nn.EmbeddingBag with sparse=True) through dark's
optimizers and gradient clipping, as torch 2.13's: SGD (momentum, dampening, Nesterov,
maximize) and Adagrad step on them; the other optimizers raise torch's own error; LBFGS makes
them dense; EmbeddingBag(sparse=True) gives torch's sparse gradient; clip_grad_norm_ /
clip_grad_value_ raise torch's errors. Parity runs start from the same weights and compare
with torch after several steps; the messages are written out, so those tests run without
torch. SparseAdam has test_optim_sparse_adam.py."""
from __future__ import annotations

import numpy as np
import pytest
from harness import requires_torch, torch

import dark
from dark._sparse import SparseCOO
from dark.optim.optimizer import _add_sparse_

ROWS, WIDTH = 9, 4
# batches of indices: repeated indices within a batch, and index sets that change
BATCHES = [[1, 2, 1, 4], [0, 4, 4, 8, 2], [5, 1, 3], [4, 4, 4, 7, 1, 2]]


def _initial_weight(seed=1):
    return np.random.default_rng(seed).standard_normal((ROWS, WIDTH)).astype(np.float32)


def _embedding(lib, weight):
    emb = lib.nn.Embedding(ROWS, WIDTH, sparse=True)
    with lib.no_grad():
        emb.weight.copy_(lib.tensor(weight))
    return emb


def _train(lib, make_optimizer, steps=6, weight=None):
    """``steps`` steps of an Embedding(sparse=True) under the optimizer; returns the final
    weight (numpy) and the optimizer."""
    emb = _embedding(lib, _initial_weight() if weight is None else weight)
    optimizer = make_optimizer(lib, emb.parameters())
    for step in range(steps):
        optimizer.zero_grad()
        index = lib.tensor(BATCHES[step % len(BATCHES)])
        (emb(index).pow(2).sum() * (step + 1) / 4).backward()
        assert emb.weight.grad.is_sparse
        optimizer.step()
    return emb.weight.detach().numpy().copy(), optimizer


SGD_CASES = [
    {},
    {"maximize": True},
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.8, "dampening": 0.3},
    {"momentum": 0.5, "maximize": True},
]


@requires_torch
@pytest.mark.parametrize("options", SGD_CASES, ids=str)
def test_sgd_on_sparse_gradients_matches_torch(options):
    def make(lib, params):
        return lib.optim.SGD(params, lr=0.05, **options)

    expected, torch_opt = _train(torch, make)
    got, dark_opt = _train(dark, make)
    if "momentum" not in options:
        # param.add_(grad, alpha=-lr), entry after entry as torch's kernel: the same bits
        np.testing.assert_array_equal(got, expected)
    else:
        # torch's sparse + sparse (buf.mul_().add_()) merges the entries of the momentum
        # buffer in another arrangement than dark's (the same sum), so the parameter gets
        # them in another order: equal to float32 rounding
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        buffers = [opt.state[next(iter(opt.state))]["momentum_buffer"]
                   for opt in (torch_opt, dark_opt)]
        assert buffers[1].is_sparse
        np.testing.assert_allclose(buffers[1].to_dense().numpy(),
                                   buffers[0].to_dense().numpy(), rtol=1e-6, atol=1e-7)


ADAGRAD_CASES = [
    {},
    {"lr_decay": 0.1},
    {"initial_accumulator_value": 0.5, "eps": 1e-3},
    {"maximize": True},
]


@requires_torch
@pytest.mark.parametrize("options", ADAGRAD_CASES, ids=str)
def test_adagrad_on_sparse_gradients_matches_torch(options):
    def make(lib, params):
        return lib.optim.Adagrad(params, lr=0.1, **options)

    expected, torch_opt = _train(torch, make)
    got, dark_opt = _train(dark, make)
    # torch's float32 sqrt (vectorized) is not always correctly rounded, numpy's is: the
    # steps differ in the last bit now and then
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    # the sums follow the gradients, which follow the parameters
    sums = [opt.state[next(iter(opt.state))]["sum"].numpy() for opt in (torch_opt, dark_opt)]
    np.testing.assert_allclose(sums[1], sums[0], rtol=1e-6, atol=1e-7)
    rows_used = sorted({i for batch in BATCHES for i in batch})
    untouched = [r for r in range(ROWS) if r not in rows_used]
    np.testing.assert_array_equal(got[untouched], _initial_weight()[untouched])


def test_sgd_sparse_step_by_hand():
    """lr only: each index's rows move by -lr times each of its entries; the others stay."""
    weight = _initial_weight()
    param = dark.nn.Parameter(dark.tensor(weight))
    values = np.arange(12, dtype=np.float32).reshape(3, 4) / 8
    param.grad = dark.sparse_coo_tensor(dark.tensor([[2, 5, 2]]), dark.tensor(values),
                                        (ROWS, WIDTH))
    dark.optim.SGD([param], lr=0.5).step()
    expected = weight.copy()
    expected[2] -= 0.5 * (values[0] + values[2])
    expected[5] -= 0.5 * values[1]
    np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-6)
    assert param.grad.is_sparse  # the gradient is left as it was


def test_sgd_momentum_buffer_is_sparse_and_starts_as_the_gradient():
    param = dark.nn.Parameter(dark.tensor(_initial_weight()))
    values = np.ones((2, WIDTH), dtype=np.float32)
    param.grad = dark.sparse_coo_tensor(dark.tensor([[3, 1]]), dark.tensor(values),
                                        (ROWS, WIDTH))
    optimizer = dark.optim.SGD([param], lr=0.1, momentum=0.9)
    optimizer.step()
    buffer = optimizer.state[param]["momentum_buffer"]
    assert buffer.is_sparse
    np.testing.assert_array_equal(buffer.to_dense().numpy(), param.grad.to_dense().numpy())
    optimizer.step()
    dense = np.zeros((ROWS, WIDTH), dtype=np.float32)
    dense[[3, 1]] = np.float32(0.9) * 1 + 1
    np.testing.assert_allclose(optimizer.state[param]["momentum_buffer"].to_dense().numpy(),
                               dense, rtol=1e-7)


@pytest.mark.parametrize("owner", ["optimizer", "module"])
def test_zero_grad_without_set_to_none_empties_a_sparse_gradient(owner):
    """As torch's sparse zero_: the same tensor, no entries, coalesced; the next backward
    accumulates into it."""
    emb = dark.nn.Embedding(ROWS, WIDTH, sparse=True)
    optimizer = dark.optim.SGD(emb.parameters(), lr=0.1)
    emb(dark.tensor([1, 2, 1])).sum().backward()
    grad = emb.weight.grad
    (optimizer if owner == "optimizer" else emb).zero_grad(set_to_none=False)
    assert emb.weight.grad is grad
    assert grad.is_sparse and grad._nnz() == 0 and grad.is_coalesced()
    assert tuple(grad.shape) == (ROWS, WIDTH) and grad.sparse_dim() == 1
    emb(dark.tensor([3])).sum().backward()
    assert emb.weight.grad._indices().numpy().tolist() == [[3]]
    optimizer.step()


def _sparse_param():
    param = dark.nn.Parameter(dark.tensor(_initial_weight()))
    param.grad = dark.sparse_coo_tensor(dark.tensor([[1, 2]]),
                                        dark.ones(2, WIDTH), (ROWS, WIDTH))
    return param


def test_sgd_weight_decay_with_sparse_gradient_raises_torchs_error():
    param = _sparse_param()
    before = param.detach().numpy().copy()
    optimizer = dark.optim.SGD([param], lr=0.1, weight_decay=0.01)
    with pytest.raises(RuntimeError, match=r"^add\(sparse, dense\) is not supported. Use "
                                           r"add\(dense, sparse\) instead.$"):
        optimizer.step()
    np.testing.assert_array_equal(param.detach().numpy(), before)


def test_adagrad_weight_decay_with_sparse_gradient_raises_torchs_error():
    param = _sparse_param()
    optimizer = dark.optim.Adagrad([param], lr=0.1, weight_decay=0.01)
    with pytest.raises(RuntimeError, match="^weight_decay option is not compatible with "
                                           "sparse gradients$"):
        optimizer.step()
    assert float(optimizer.state[param]["step"]) == 1  # counted first, as torch's


@pytest.mark.parametrize("name,message", [
    ("SGD", "`_fused_sgd` does not support sparse gradients"),
    ("Adagrad", "`fused` does not support sparse grad or complex param")])
def test_fused_with_sparse_gradient_raises_torchs_error(name, message):
    param = _sparse_param()
    before = param.detach().numpy().copy()
    with pytest.raises(RuntimeError, match=f"^{message}$"):
        getattr(dark.optim, name)([param], lr=0.1, fused=True).step()
    np.testing.assert_array_equal(param.detach().numpy(), before)


@requires_torch
def test_fused_sparse_error_messages_are_torchs():
    param = torch.nn.Parameter(torch.tensor(_initial_weight()))
    param.grad = torch.sparse_coo_tensor(torch.tensor([[1, 2]]), torch.ones(2, WIDTH),
                                         (ROWS, WIDTH))
    with pytest.raises(RuntimeError, match="^`_fused_sgd` does not support sparse gradients$"):
        torch.optim.SGD([param], lr=0.1, fused=True).step()
    with pytest.raises(RuntimeError, match="^`fused` does not support sparse grad or complex "
                                           "param$"):
        torch.optim.Adagrad([param], lr=0.1, fused=True).step()


UNSUPPORTED = [
    ("Adam", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("AdamW", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("Adamax", "Adamax does not support sparse gradients"),
    ("Adadelta", "Adadelta does not support sparse gradients"),
    ("ASGD", "ASGD does not support sparse gradients"),
    ("NAdam", "NAdam does not support sparse gradients"),
    ("RAdam", "RAdam does not support sparse gradients"),
    ("RMSprop", "RMSprop does not support sparse gradients"),
    ("Rprop", "Rprop does not support sparse gradients"),
]


@pytest.mark.parametrize("name,message", UNSUPPORTED, ids=[c[0] for c in UNSUPPORTED])
def test_other_optimizers_raise_torchs_sparse_error(name, message):
    param = _sparse_param()
    before = param.detach().numpy().copy()
    optimizer = getattr(dark.optim, name)([param], lr=0.1)
    with pytest.raises(RuntimeError, match=f"^{message}$"):
        optimizer.step()
    np.testing.assert_array_equal(param.detach().numpy(), before)


@requires_torch
@pytest.mark.parametrize("name,message", UNSUPPORTED, ids=[c[0] for c in UNSUPPORTED])
def test_sparse_error_messages_are_torchs(name, message):
    param = torch.nn.Parameter(torch.tensor(_initial_weight()))
    param.grad = torch.sparse_coo_tensor(torch.tensor([[1, 2]]), torch.ones(2, WIDTH),
                                         (ROWS, WIDTH))
    with pytest.raises(RuntimeError, match=f"^{message}$"):
        getattr(torch.optim, name)([param], lr=0.1).step()


def test_dense_groups_before_a_sparse_one_are_updated_first():
    """torch checks each group as it comes to it: an earlier dense group has stepped."""
    dense = dark.nn.Parameter(dark.ones(3))
    dense.grad = dark.ones(3)
    optimizer = dark.optim.Adam([{"params": [dense]}, {"params": [_sparse_param()]}], lr=0.1)
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients"):
        optimizer.step()
    assert float(dense.detach()[0]) == pytest.approx(0.9, rel=1e-6)


@requires_torch
def test_lbfgs_makes_sparse_gradients_dense_as_torch():
    def run(lib):
        emb = _embedding(lib, _initial_weight())
        optimizer = lib.optim.LBFGS(emb.parameters(), lr=0.5, max_iter=5)
        index = lib.tensor([1, 2, 1, 4])

        def closure():
            optimizer.zero_grad()
            loss = (emb(index) - 0.5).pow(2).sum()
            loss.backward()
            return loss

        for _ in range(2):
            optimizer.step(closure)
        return emb.weight.detach().numpy()

    np.testing.assert_allclose(run(dark), run(torch), rtol=1e-5, atol=1e-6)


@requires_torch
def test_add_sparse_matches_torchs_dense_add_sparse_bit_for_bit():
    """param.add_(sparse, alpha): entries one after another in stored order, repeated
    indices included, each with one rounding (torch's fused multiply-add)."""
    rng = np.random.default_rng(3)
    for trial in range(40):
        param = rng.standard_normal((6, 3)).astype(np.float32)
        index = rng.integers(0, 6, size=9) if trial % 2 else rng.permutation(6)[:4]
        values = rng.standard_normal((len(index), 3)).astype(np.float32)
        expected = torch.tensor(param)
        expected.add_(torch.sparse_coo_tensor(torch.tensor(index[None]),
                                              torch.tensor(values), (6, 3)), alpha=-0.0731)
        got = param.copy()
        _add_sparse_(got, SparseCOO(index[None].astype(np.int64), values, (6, 3)), -0.0731)
        np.testing.assert_array_equal(got, expected.numpy())


def test_add_sparse_with_many_repeats_of_one_index():
    """Past the passes it makes per repeat, the entries of an index still all count."""
    param = np.zeros((3, 2), dtype=np.float32)
    count = 200
    storage = SparseCOO(np.array([[1] * count + [0]], dtype=np.int64),
                        np.ones((count + 1, 2), dtype=np.float32), (3, 2))
    _add_sparse_(param, storage, 0.5)
    np.testing.assert_array_equal(param, [[0.5, 0.5], [100, 100], [0, 0]])


# ----------------------------------------------------------------------------- EmbeddingBag

INPUT = [1, 2, 1, 4, 0, 8, 8, 3]
OFFSETS = [0, 3, 3, 5]
BAG_CASES = [("sum", None, False), ("sum", 1, False), ("sum", None, True), ("sum", 8, True),
             ("mean", None, False), ("mean", 1, False)]


def _bag_gradients(lib, mode, padding_idx, weighted):
    weight = lib.tensor(_initial_weight()).requires_grad_()
    samples = (lib.arange(8.0) / 3).requires_grad_() if weighted else None
    out = lib.nn.functional.embedding_bag(lib.tensor(INPUT), weight, lib.tensor(OFFSETS),
                                          mode=mode, sparse=True, padding_idx=padding_idx,
                                          per_sample_weights=samples)
    (out * lib.arange(16.0).reshape(4, 4) / 7).sum().backward()
    return weight.grad, None if samples is None else samples.grad


@pytest.mark.parametrize("mode,padding_idx,weighted", BAG_CASES, ids=str)
def test_embedding_bag_sparse_gradient(mode, padding_idx, weighted):
    grad, _ = _bag_gradients(dark, mode, padding_idx, weighted)
    assert grad.is_sparse and not grad.is_coalesced()
    kept = [i for i in INPUT if i != padding_idx]
    assert grad._indices().numpy().tolist() == [kept]
    dense, _ = _dense_bag_gradients(mode, padding_idx, weighted)
    np.testing.assert_allclose(grad.to_dense().numpy(), dense, rtol=1e-6)


def _dense_bag_gradients(mode, padding_idx, weighted):
    weight = dark.tensor(_initial_weight()).requires_grad_()
    samples = (dark.arange(8.0) / 3).requires_grad_() if weighted else None
    out = dark.nn.functional.embedding_bag(dark.tensor(INPUT), weight, dark.tensor(OFFSETS),
                                           mode=mode, padding_idx=padding_idx,
                                           per_sample_weights=samples)
    (out * dark.arange(16.0).reshape(4, 4) / 7).sum().backward()
    return weight.grad.numpy(), None


@requires_torch
@pytest.mark.parametrize("mode,padding_idx,weighted", BAG_CASES, ids=str)
def test_embedding_bag_sparse_gradient_matches_torch(mode, padding_idx, weighted):
    got, got_samples = _bag_gradients(dark, mode, padding_idx, weighted)
    expected, expected_samples = _bag_gradients(torch, mode, padding_idx, weighted)
    assert got._indices().numpy().tolist() == expected._indices().numpy().tolist()
    np.testing.assert_array_equal(got._values().numpy(), expected._values().numpy())
    assert tuple(got.shape) == tuple(expected.shape)
    if weighted:
        np.testing.assert_allclose(got_samples.numpy(), expected_samples.numpy(), rtol=1e-6)


def test_embedding_bag_sparse_errors():
    weight = dark.tensor(_initial_weight()).requires_grad_()
    out = dark.nn.functional.embedding_bag(dark.tensor(INPUT), weight, dark.tensor(OFFSETS),
                                           sparse=True, scale_grad_by_freq=True)
    with pytest.raises(RuntimeError, match="^embedding_backward: scale_grad_by_freq not "
                                           "supported with sparse gradients$"):
        out.sum().backward()
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        dark.nn.EmbeddingBag(ROWS, WIDTH, mode="max", sparse=True)(dark.tensor([[1, 2]]))


@requires_torch
@pytest.mark.parametrize("optimizer", ["SGD", "Adagrad", "SparseAdam"])
def test_embedding_bag_module_training_matches_torch(optimizer):
    """2-D input (fixed-size bags) and 1-D input with offsets, mode mean, 5 steps."""
    options = {"SGD": {"lr": 0.1, "momentum": 0.9}, "Adagrad": {"lr": 0.1},
               "SparseAdam": {"lr": 0.05}}[optimizer]

    def run(lib):
        bag = lib.nn.EmbeddingBag(ROWS, WIDTH, mode="mean", sparse=True)
        with lib.no_grad():
            bag.weight.copy_(lib.tensor(_initial_weight(2)))
        opt = getattr(lib.optim, optimizer)(bag.parameters(), **options)
        target = lib.tensor(np.linspace(-1, 1, 2 * WIDTH, dtype=np.float32).reshape(2, WIDTH))
        for step in range(5):
            opt.zero_grad()
            if step % 2:
                out = bag(lib.tensor(INPUT), lib.tensor([0, 5]))
            else:
                out = bag(lib.tensor(BATCHES[1][:4] + BATCHES[0]).reshape(2, 4))
            (out - target).pow(2).sum().backward()
            assert bag.weight.grad.is_sparse
            opt.step()
        return bag.weight.detach().numpy()

    np.testing.assert_allclose(run(dark), run(torch), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- clipping

def test_clip_grad_norm_refuses_sparse_gradients_as_torch():
    for norm_type in (2.0, float("inf"), 1.0):
        param = _sparse_param()
        with pytest.raises(NotImplementedError, match="^Could not run "
                           "'aten::linalg_vector_norm' with arguments from the 'SparseCPU' "
                           "backend"):
            dark.nn.utils.clip_grad_norm_([param], 0.5, norm_type=norm_type)
    with pytest.raises(NotImplementedError, match="aten::linalg_vector_norm"):
        dark.nn.utils.get_total_norm([param.grad])


def test_clip_grad_value_refuses_sparse_gradients_after_the_dense_ones_before():
    dense = dark.nn.Parameter(dark.zeros(3))
    dense.grad = dark.tensor([-1.0, 0.005, 2.0])
    with pytest.raises(NotImplementedError, match="^Could not run 'aten::clamp_min_' with "
                                                  "arguments from the 'SparseCPU' backend"):
        dark.nn.utils.clip_grad_value_([dense, _sparse_param()], 0.01)
    np.testing.assert_allclose(dense.grad.numpy(), [-0.01, 0.005, 0.01])


@requires_torch
def test_clip_grad_errors_are_torchs():
    param = torch.nn.Parameter(torch.tensor(_initial_weight()))
    param.grad = torch.sparse_coo_tensor(torch.tensor([[1, 2]]), torch.ones(2, WIDTH),
                                         (ROWS, WIDTH))
    with pytest.raises(NotImplementedError, match="^Could not run 'aten::linalg_vector_norm' "
                                                  "with arguments from the 'SparseCPU' "
                                                  "backend"):
        torch.nn.utils.clip_grad_norm_([param], 0.5)
    with pytest.raises(NotImplementedError, match="^Could not run 'aten::clamp_min_' with "
                                                  "arguments from the 'SparseCPU' backend"):
        torch.nn.utils.clip_grad_value_([param], 0.01)


# ----------------------------------------------------------------------------- devices

def test_sparse_steps_on_each_device(device):
    """SGD with momentum and Adagrad on a sparse gradient give the CPU's result."""
    results = []
    for where in ("cpu", device):
        params = [dark.nn.Parameter(dark.tensor(_initial_weight(), device=where))
                  for _ in range(2)]
        optimizers = [dark.optim.SGD([params[0]], lr=0.1, momentum=0.9),
                      dark.optim.Adagrad([params[1]], lr=0.1)]
        for step in range(3):
            for param, optimizer in zip(params, optimizers):
                index = dark.tensor([BATCHES[step]], device=where)
                values = dark.ones(len(BATCHES[step]), WIDTH, device=where) * (step + 1)
                param.grad = dark.sparse_coo_tensor(index, values, (ROWS, WIDTH))
                optimizer.step()
        results.append([p.detach().cpu().numpy() for p in params])
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
