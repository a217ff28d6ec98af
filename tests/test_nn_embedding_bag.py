"""F.embedding_bag and nn.EmbeddingBag against torch: values and gradients for every mode,
input layout, padding_idx, include_last_offset and per_sample_weights; errors; the module's
state_dict, repr and from_pretrained."""
import numpy as np
import pytest
from harness import LIBS, error_of, requires_torch, torch

import dark
import dark.nn.functional as DF

TF = torch.nn.functional if torch is not None else None

ROWS, WIDTH = 9, 4
FLAT = [0, 3, 3, 8, 1, 2, 3, 5, 1, 1, 7, 4]

# (input, offsets, include_last_offset): fixed bags, 1-D with offsets (an empty bag in the
# middle and at the end), include_last_offset
LAYOUTS = {
    "fixed": (np.array(FLAT).reshape(3, 4), None, False),
    "offsets": (np.array(FLAT), [0, 2, 2, 7, 12], False),
    "last_offset": (np.array(FLAT), [0, 5, 5, 9, 12], True),
    "single_bag": (np.array(FLAT), [0], False),
}


def _numpy(tensor):
    return tensor.detach().cpu().numpy()


def _run(lib, functional, weight, per_sample, grad_output, device, index, offsets, **kwargs):
    """Output, weight gradient and per-sample-weight gradient of one embedding_bag call."""
    put = (lambda a, **k: dark.tensor(a, device=device, **k)) if lib is dark else lib.tensor
    w = put(weight, requires_grad=True)
    p = None if per_sample is None else put(per_sample, requires_grad=True)
    off = None if offsets is None else put(np.array(offsets))
    out = functional.embedding_bag(put(index), w, off, per_sample_weights=p, **kwargs)
    assert type(out.grad_fn).__name__ == "EmbeddingBagBackward0"
    out.backward(put(grad_output(tuple(out.shape))))
    return out.dtype, _numpy(out), _numpy(w.grad), None if p is None else _numpy(p.grad)


def _compare(device, index, offsets, dtype=np.float64, per_sample=False, **kwargs):
    rng = np.random.default_rng(len(FLAT) + len(kwargs))
    weight = rng.standard_normal((ROWS, WIDTH)).astype(dtype)
    samples = rng.standard_normal(np.shape(index)).astype(dtype) if per_sample else None
    grads = {}

    def grad_output(shape):
        if shape not in grads:
            grads[shape] = rng.standard_normal(shape).astype(dtype)
        return grads[shape]

    mine = _run(dark, DF, weight, samples, grad_output, device, index, offsets, **kwargs)
    theirs = _run(torch, TF, weight, samples, grad_output, device, index, offsets, **kwargs)
    assert str(mine[0]).split(".")[-1] == str(theirs[0]).split(".")[-1]
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for a, b in zip(mine[1:], theirs[1:]):
        if b is None:
            assert a is None
            continue
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("padding_idx", [None, 3, -8])
@requires_torch
def test_parity_modes_layouts_padding(device, mode, layout, padding_idx):
    index, offsets, last = LAYOUTS[layout]
    _compare(device, index, offsets, mode=mode, include_last_offset=last,
             padding_idx=padding_idx)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@requires_torch
def test_parity_float32(device, mode):
    index, offsets, _ = LAYOUTS["offsets"]
    _compare(device, index, offsets, dtype=np.float32, mode=mode)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("padding_idx", [None, 1])
@requires_torch
def test_per_sample_weights(device, layout, padding_idx):
    index, offsets, last = LAYOUTS[layout]
    _compare(device, index, offsets, per_sample=True, mode="sum", include_last_offset=last,
             padding_idx=padding_idx)


@requires_torch
def test_int32_indices_and_offsets(device):
    index, offsets, _ = LAYOUTS["offsets"]
    _compare(device, index.astype(np.int32), np.array(offsets, dtype=np.int32), mode="mean")


def test_all_padding_bag_gives_zeros(device):
    weight = dark.randn(4, 3, device=device)
    for mode in ("sum", "mean", "max"):
        out = DF.embedding_bag(dark.tensor([1, 1, 0], device=device), weight,
                               dark.tensor([0, 2], device=device), mode=mode, padding_idx=1)
        assert out[0].abs().sum().item() == 0
        assert out[1].abs().sum().item() > 0


@requires_torch
def test_scale_grad_by_freq_each_index_twice(device):
    # torch's CPU kernel scales the k-th distinct index by the count of the k-th entry of
    # the sorted indices; that is the true frequency when every index has the same count
    index = np.array([4, 2, 2, 6, 4, 6, 0, 0])
    for mode in ("sum", "mean"):
        _compare(device, index, [0, 3, 5], mode=mode, scale_grad_by_freq=True)


@pytest.mark.parametrize("mode", ["sum", "mean"])
@requires_torch
def test_scale_grad_by_freq_matches_embedding(device, mode):
    # with uneven counts, compare with the documented meaning, built from torch's
    # F.embedding(scale_grad_by_freq=True) (whose kernel is right) and per-bag reductions
    index = np.array([0, 1, 2, 6, 4, 1, 1, 3, 1])
    offsets = [0, 3, 4]
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((ROWS, WIDTH))
    grad_output = rng.standard_normal((3, WIDTH))
    w = dark.tensor(weight, requires_grad=True, device=device)
    DF.embedding_bag(dark.tensor(index, device=device), w, dark.tensor(offsets, device=device),
                     mode=mode, scale_grad_by_freq=True).backward(
        dark.tensor(grad_output, device=device))
    reference = torch.tensor(weight, requires_grad=True)
    rows = TF.embedding(torch.tensor(index), reference, scale_grad_by_freq=True)
    bounds = offsets + [len(index)]
    bags = [rows[a:b].sum(0) / (1 if mode == "sum" else b - a)
            for a, b in zip(bounds[:-1], bounds[1:])]
    torch.stack(bags).backward(torch.tensor(grad_output))
    np.testing.assert_allclose(w.grad.cpu().numpy(), reference.grad.numpy(), rtol=1e-12)


@requires_torch
def test_max_norm_renormalizes_like_torch(device):
    rng = np.random.default_rng(2)
    weight = rng.standard_normal((ROWS, WIDTH)) * 3
    index, offsets = np.array(FLAT), [0, 4]
    mine = dark.tensor(weight, device=device)
    theirs = torch.tensor(weight)
    a = DF.embedding_bag(dark.tensor(index, device=device), mine,
                         dark.tensor(offsets, device=device), max_norm=1.5, mode="sum")
    b = TF.embedding_bag(torch.tensor(index), theirs, torch.tensor(offsets), max_norm=1.5,
                         mode="sum")
    np.testing.assert_allclose(mine.cpu().numpy(), theirs.numpy(), rtol=1e-6)
    np.testing.assert_allclose(a.cpu().numpy(), b.numpy(), rtol=1e-6)


def test_empty_batch_of_fixed_bags(device):
    weight = dark.randn(4, 3, device=device)
    out = DF.embedding_bag(dark.zeros((0, 2), dtype=dark.int64, device=device), weight)
    assert tuple(out.shape) == (0, 3)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_gradcheck(device, mode):
    rng = np.random.default_rng(3)
    weight = dark.tensor(rng.standard_normal((ROWS, WIDTH)), requires_grad=True,
                         device=device)
    index = dark.tensor(FLAT, device=device)
    offsets = dark.tensor([0, 2, 2, 7], device=device)
    inputs = [weight]
    if mode == "sum":
        inputs.append(dark.tensor(rng.standard_normal(len(FLAT)), requires_grad=True,
                                  device=device))

    def f(w, *samples):
        return DF.embedding_bag(index, w, offsets, mode=mode, padding_idx=3,
                                per_sample_weights=samples[0] if samples else None)

    assert dark.autograd.gradcheck(f, inputs)
    assert dark.autograd.gradgradcheck(f, inputs)


ERRORS = {
    "psw_shape": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0, 1, 2]), w, L.tensor([0]), mode="sum",
        per_sample_weights=L.ones(2, dtype=L.float64)),
    "weight_1d": lambda L, w: L.nn.functional.embedding_bag(L.tensor([0]), w[0], L.tensor([0])),
    "offsets_with_2d": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([[0, 1]]), w, L.tensor([0])),
    "zero_width_2d": lambda L, w: L.nn.functional.embedding_bag(
        L.zeros((2, 0), dtype=L.int64), w),
    "no_offsets": lambda L, w: L.nn.functional.embedding_bag(L.tensor([0, 1]), w),
    "offsets_2d": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0, 1]), w, L.tensor([[0]])),
    "input_3d": lambda L, w: L.nn.functional.embedding_bag(L.zeros((1, 1, 1), dtype=L.int64), w),
    "bad_mode": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w, L.tensor([0]), mode="min"),
    "max_freq": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w, L.tensor([0]), mode="max", scale_grad_by_freq=True),
    "max_sparse": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w, L.tensor([0]), mode="max", sparse=True),
    "psw_mean": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w, L.tensor([0]), per_sample_weights=L.ones(1, dtype=L.float64)),
    "psw_dtype": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w, L.tensor([0]), mode="sum", per_sample_weights=L.ones(1)),
    "float_indices": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0.0]), w, L.tensor([0])),
    "int_weight": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w.long(), L.tensor([0])),
    "first_offset": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0, 1]), w, L.tensor([1])),
    "last_offset": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0, 1]), w, L.tensor([0, 3])),
    "index_high": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0, 5]), w, L.tensor([0])),
    "index_negative": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([-1, 0]), w, L.tensor([0])),
    "padding_high": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w, L.tensor([0]), padding_idx=5),
    "padding_low": lambda L, w: L.nn.functional.embedding_bag(
        L.tensor([0]), w, L.tensor([0]), padding_idx=-6),
    "module_padding": lambda L, w: L.nn.EmbeddingBag(5, 2, padding_idx=5),
    "module_weight_shape": lambda L, w: L.nn.EmbeddingBag(4, 3, _weight=w),
    "pretrained_1d": lambda L, w: L.nn.EmbeddingBag.from_pretrained(w[0]),
}


@pytest.mark.parametrize("name", list(ERRORS))
@requires_torch
def test_errors_match_torch(name):
    make = ERRORS[name]
    mine = error_of(lambda: make(dark, dark.zeros((5, 3), dtype=dark.float64)))
    theirs = error_of(lambda: make(torch, torch.zeros((5, 3), dtype=torch.float64)))
    assert theirs is not None
    assert mine == theirs


MODULE_OPTIONS = [
    {}, {"mode": "sum"}, {"mode": "max", "max_norm": 1.0}, {"norm_type": 1.0},
    {"scale_grad_by_freq": True, "padding_idx": -1}, {"include_last_offset": True},
    {"sparse": True}]


@pytest.mark.parametrize("kwargs", MODULE_OPTIONS)
def test_module_state_dict_padding_and_dense_gradient(device, kwargs):
    mine = dark.nn.EmbeddingBag(7, 3, device=device, **kwargs)
    assert list(mine.state_dict()) == ["weight"]
    assert mine.padding_idx == (None if "padding_idx" not in kwargs else 6)
    if mine.padding_idx is not None:
        assert mine.weight[mine.padding_idx].abs().sum().item() == 0
    index, offsets = np.array([1, 2, 4, 4, 0, 6]), np.array([0, 2, 6])
    out = mine(dark.tensor(index, device=device), dark.tensor(offsets, device=device))
    assert tuple(out.shape) == ((2, 3) if kwargs.get("include_last_offset") else (3, 3))
    out.sum().backward()
    # with sparse=True the gradient is a sparse COO tensor, as torch's
    assert tuple(mine.weight.grad.shape) == (7, 3)
    assert mine.weight.grad.is_sparse == bool(kwargs.get("sparse"))


@pytest.mark.parametrize("kwargs", MODULE_OPTIONS)
@requires_torch
def test_module_repr_state_dict_and_parity(device, kwargs):
    mine = dark.nn.EmbeddingBag(7, 3, device=device, **kwargs)
    theirs = torch.nn.EmbeddingBag(7, 3, **kwargs)
    assert repr(mine) == repr(theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert mine.padding_idx == theirs.padding_idx
    theirs.load_state_dict({"weight": torch.tensor(mine.weight.detach().cpu().numpy())})
    index, offsets = np.array([1, 2, 4, 4, 0, 6]), np.array([0, 2, 6])
    a = mine(dark.tensor(index, device=device), dark.tensor(offsets, device=device))
    b = theirs(torch.tensor(index), torch.tensor(offsets))
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().numpy(), rtol=1e-6)
    a.sum().backward()
    b.sum().backward()
    # with sparse=True both gradients are sparse COO tensors
    assert tuple(mine.weight.grad.shape) == (7, 3)
    assert mine.weight.grad.is_sparse == theirs.weight.grad.is_sparse
    np.testing.assert_allclose(mine.weight.grad.to_dense().cpu().numpy(),
                               theirs.weight.grad.to_dense().numpy(), rtol=1e-6)


def test_module_dtype(device):
    mine = dark.nn.EmbeddingBag(5, 2, mode="sum", dtype=dark.float64, device=device)
    assert mine.weight.dtype == dark.float64
    samples = dark.tensor([[0.5, 2.0], [1.0, -1.5]], dtype=dark.float64, device=device)
    assert mine(dark.tensor([[0, 4], [3, 3]], device=device),
                per_sample_weights=samples).dtype == dark.float64


@requires_torch
def test_module_dtype_and_forward_per_sample_weights(device):
    mine = dark.nn.EmbeddingBag(5, 2, mode="sum", dtype=dark.float64, device=device)
    theirs = torch.nn.EmbeddingBag(5, 2, mode="sum", dtype=torch.float64)
    theirs.load_state_dict({"weight": torch.tensor(mine.weight.detach().cpu().numpy())})
    index, samples = [[0, 4], [3, 3]], [[0.5, 2.0], [1.0, -1.5]]
    a = mine(dark.tensor(index, device=device),
             per_sample_weights=dark.tensor(samples, dtype=dark.float64, device=device))
    b = theirs(torch.tensor(index), per_sample_weights=torch.tensor(samples,
                                                                    dtype=torch.float64))
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("freeze", [True, False])
@pytest.mark.parametrize("lib", LIBS)
def test_from_pretrained(lib, device, freeze):
    put = (lambda a: dark.tensor(a, device=device)) if lib is dark else lib.tensor
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    module = lib.nn.EmbeddingBag.from_pretrained(put(values), freeze=freeze, mode="max",
                                                 padding_idx=2)
    assert repr(module) == "EmbeddingBag(4, 3, mode='max', padding_idx=2)"
    assert module.weight.requires_grad == (not freeze)
    # the padding row is left out of each bag's max; a bag of padding only gives zeros
    out = module(put(np.array([[1, 2], [2, 2], [3, 0]])))
    assert out.tolist() == [[3.0, 4.0, 5.0], [0.0, 0.0, 0.0], [9.0, 10.0, 11.0]]
