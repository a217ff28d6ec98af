"""F.embedding and F.one_hot (torch.nn.functional's sparse functions; F.embedding_bag has
test_nn_embedding_bag.py): the op table, gradients, max_norm, errors; and nn.Embedding."""
import numpy as np
import pytest
from harness import Case, check_case, ids, raises_like, requires_torch, torch

import dark
import dark.nn.functional as F


def _indices(shape, rows, weight_shape):
    def make(rng):
        return [rng.integers(0, rows, shape), rng.standard_normal(weight_shape)]
    return make


CASES = [
    Case("embedding", lambda t, i, w: t.nn.functional.embedding(i, w),
         make=_indices((3, 4), 5, (5, 3))),
    # padding_idx and scale_grad_by_freq give gradients that finite differences do not
    # (by design): their gradients are compared with torch's in the module tests
    Case("embedding_padding", lambda t, i, w: t.nn.functional.embedding(i, w, padding_idx=2),
         make=_indices((4, 5), 4, (4, 2)), grad=False),
    Case("embedding_padding_negative", lambda t, i, w: t.nn.functional.embedding(
        i, w, padding_idx=-1), make=_indices((6,), 3, (3, 2)), grad=False),
    Case("embedding_0d_index", lambda t, i, w: t.nn.functional.embedding(i, w),
         make=_indices((), 4, (4, 3))),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


def test_embedding_repeated_indices_accumulate_and_padding_gets_nothing():
    weight = dark.randn(5, 3, requires_grad=True)
    indices = dark.tensor([[1, 1, 2], [0, 1, 4]])
    out = F.embedding(indices, weight, padding_idx=2)
    assert out.shape == (2, 3, 3) and out.grad_fn.name() == "EmbeddingBackward0"
    out.backward(dark.ones(2, 3, 3))
    expected = np.array([[1.0] * 3, [3.0] * 3, [0.0] * 3, [0.0] * 3, [1.0] * 3])
    np.testing.assert_array_equal(weight.grad.numpy(), expected)


def test_embedding_gradgrad():
    weight = dark.randn(4, 2, dtype=dark.float64, requires_grad=True)
    indices = dark.tensor([0, 3, 3, 1])
    function = lambda w: F.embedding(indices, w) ** 2  # noqa: E731
    assert dark.autograd.gradgradcheck(function, (weight,))


def test_embedding_max_norm_renormalizes_in_place():
    """The looked-up rows longer than max_norm (in norm_type) are scaled to it in place; the
    others are left as they were."""
    array = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32) * 3
    weight = dark.tensor(array, requires_grad=True)
    out = F.embedding(dark.tensor([[0, 2], [2, 5]]), weight, max_norm=1.5, norm_type=3.0)
    after = weight.detach().numpy()
    norms = (np.abs(array) ** 3).sum(1) ** (1 / 3)
    for row in range(6):
        if row in (0, 2, 5) and norms[row] > 1.5:
            np.testing.assert_allclose((np.abs(after[row]) ** 3).sum() ** (1 / 3), 1.5,
                                       rtol=1e-5)
            np.testing.assert_allclose(after[row] * norms[row], array[row] * 1.5, rtol=1e-5)
        else:
            np.testing.assert_array_equal(after[row], array[row])
    assert not np.allclose(after, array)  # rows 0, 2, 5 were too long
    np.testing.assert_array_equal(out.detach().numpy(), after[[[0, 2], [2, 5]]])


@requires_torch
def test_embedding_max_norm_renormalizes_in_place_as_torch():
    array = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32) * 3
    indices = np.array([[0, 2], [2, 5]])
    d_weight, t_weight = dark.tensor(array, requires_grad=True), torch.tensor(array,
                                                                             requires_grad=True)
    d_out = F.embedding(dark.tensor(indices), d_weight, max_norm=1.5, norm_type=3.0)
    t_out = torch.nn.functional.embedding(torch.tensor(indices), t_weight, max_norm=1.5,
                                          norm_type=3.0)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(d_weight.detach().numpy(), t_weight.detach().numpy(),
                               rtol=1e-5)


@pytest.mark.parametrize("call", [
    lambda t: t.nn.functional.embedding(t.tensor([1.0, 2.0]), t.ones(10, 3)),
    lambda t: t.nn.functional.embedding(t.tensor([1, 10]), t.ones(10, 3)),
    lambda t: t.nn.functional.embedding(t.tensor([1, -1]), t.ones(10, 3)),
    lambda t: t.nn.functional.embedding(t.tensor([1, 2]), t.ones(10, 3), padding_idx=10),
    lambda t: t.nn.functional.embedding(t.tensor([1, 2]), t.ones(10, 3), padding_idx=-11),
    lambda t: t.nn.functional.embedding(t.tensor([1, 2]), t.ones(10)),
    lambda t: t.nn.Embedding(10, 3, padding_idx=10),
    lambda t: t.nn.Embedding.from_pretrained(t.ones(3)),
    lambda t: t.nn.functional.one_hot(t.tensor([0, 2, 1]), 2),
    lambda t: t.nn.functional.one_hot(t.tensor([0, -2, 1]), 5),
    lambda t: t.nn.functional.one_hot(t.tensor([0.0, 2.0])),
    lambda t: t.nn.functional.one_hot(t.tensor([0, 2], dtype=t.int32)),
    lambda t: t.nn.functional.one_hot(t.tensor([], dtype=t.int64)),
])
@requires_torch
def test_errors(call):
    raises_like(lambda: call(dark), lambda: call(torch))


@pytest.mark.parametrize("values, num_classes", [
    ([0, 2, 1], -1), ([0, 2, 1], 5), ([[3], [0]], -1), (2, 3), ([], 3),
])
def test_one_hot(values, num_classes):
    out = F.one_hot(dark.tensor(values, dtype=dark.int64), num_classes)
    assert out.dtype == dark.int64 and not out.requires_grad
    classes = num_classes if num_classes >= 0 else np.max(values) + 1
    np.testing.assert_array_equal(out.numpy(), np.eye(classes, dtype=np.int64)[
        np.asarray(values, dtype=np.int64)])


@pytest.mark.parametrize("values, num_classes", [
    ([0, 2, 1], -1), ([0, 2, 1], 5), ([[3], [0]], -1), (2, 3), ([], 3),
])
@requires_torch
def test_one_hot_matches_torch(values, num_classes):
    d_out = F.one_hot(dark.tensor(values, dtype=dark.int64), num_classes)
    t_out = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes)
    np.testing.assert_array_equal(d_out.numpy(), t_out.numpy())


# ----------------------------------------------------------------------------- modules


EMBEDDING_OPTIONS = [
    {}, {"padding_idx": 1}, {"padding_idx": -2, "scale_grad_by_freq": True},
    {"max_norm": 1.0, "norm_type": 1.0}, {"sparse": True},
]


@pytest.mark.parametrize("options", EMBEDDING_OPTIONS)
def test_embedding_module_state_dict(options):
    assert list(dark.nn.Embedding(6, 3, **options).state_dict()) == ["weight"]


@pytest.mark.parametrize("options", EMBEDDING_OPTIONS)
@requires_torch
def test_embedding_module_parity(options):
    d_module, t_module = dark.nn.Embedding(6, 3, **options), torch.nn.Embedding(6, 3, **options)
    assert repr(d_module) == repr(t_module)
    d_module.load_state_dict({"weight": dark.tensor(t_module.weight.detach().numpy())})
    indices = np.array([[0, 1, 4], [4, 4, 5]])
    d_out, t_out = d_module(dark.tensor(indices)), t_module(torch.tensor(indices))
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-6)
    seed = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32)
    d_out.backward(dark.tensor(seed))
    t_out.backward(torch.tensor(seed))
    t_grad, d_grad = t_module.weight.grad, d_module.weight.grad
    assert d_grad.is_sparse == t_grad.is_sparse  # sparse=True: a sparse COO gradient
    t_grad = t_grad.to_dense() if t_grad.is_sparse else t_grad
    d_grad = d_grad.to_dense() if d_grad.is_sparse else d_grad
    np.testing.assert_allclose(d_grad.numpy(), t_grad.numpy(), rtol=1e-5, atol=1e-6)


def test_embedding_module_init():
    dark.manual_seed(0)
    module = dark.nn.Embedding(2000, 50, padding_idx=-1)
    weight = module.weight.detach().numpy()
    assert module.padding_idx == 1999 and weight.dtype == np.float32
    assert not weight[1999].any()
    assert abs(weight[:1999].mean()) < 0.01 and abs(weight[:1999].std() - 1) < 0.01
    dark.manual_seed(0)
    np.testing.assert_array_equal(dark.nn.Embedding(2000, 50, padding_idx=-1).weight.detach()
                                  .numpy(), weight)
    assert dark.nn.Embedding(3, 2, dtype=dark.float64).weight.dtype == dark.float64


def test_embedding_from_pretrained():
    table = dark.tensor([[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]])
    module = dark.nn.Embedding.from_pretrained(table)
    assert not module.weight.requires_grad and module.num_embeddings == 2
    np.testing.assert_allclose(module(dark.tensor([1])).numpy(), [[4.0, 5.1, 6.3]])
    trainable = dark.nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
    assert trainable.weight.requires_grad and trainable.padding_idx == 0
    assert trainable.weight[0].detach().numpy().any()  # pretrained rows are kept as given
