"""F.cosine_similarity, F.pairwise_distance and F.pdist (the op table, integer inputs, the
clamped norm's gradient, errors) and the modules nn.CosineSimilarity, nn.PairwiseDistance."""
import numpy as np
import pytest
from harness import Case, check_case, ids, raises_like, requires_torch, torch

import dark
import dark.nn.functional as F

CASES = [
    Case("cosine_similarity", lambda t, a, b: t.nn.functional.cosine_similarity(a, b),
         [(4, 5), (4, 5)]),
    Case("cosine_similarity_broadcast", lambda t, a, b: t.nn.functional.cosine_similarity(
        a, b, dim=-1), [(3, 1, 5), (4, 5)]),
    # torch clamps the norms without a gradient: compared with torch's below, not gradcheck
    Case("cosine_similarity_eps", lambda t, a, b: t.nn.functional.cosine_similarity(
        a, b, dim=0, eps=3.0), [(4, 2), (4, 2)], grad=False),
    Case("pairwise_distance", lambda t, a, b: t.nn.functional.pairwise_distance(a, b),
         [(4, 5), (4, 5)]),
    Case("pairwise_distance_p1_keepdim", lambda t, a, b: t.nn.functional.pairwise_distance(
        a, b, p=1.0, keepdim=True), [(3, 4), (4,)], domain="nonzero", gradgrad=False),
    Case("pairwise_distance_p3", lambda t, a, b: t.nn.functional.pairwise_distance(
        a, b, p=3.0, eps=1e-3), [(2, 3, 4), (2, 3, 4)]),
    Case("pdist", lambda t, x: t.nn.functional.pdist(x), [(4, 3)]),
    Case("pdist_p1", lambda t, x: t.nn.functional.pdist(x, p=1.0), [(3, 5)], gradgrad=False),
    Case("pdist_one_row", lambda t, x: t.nn.functional.pdist(x), [(1, 3)], grad=False),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


@pytest.mark.parametrize("call", [
    lambda t: t.nn.functional.cosine_similarity(t.ones(3, 4), t.ones(5)),
    lambda t: t.nn.functional.cosine_similarity(t.ones(3, 4), t.ones(3, 4), dim=2),
    lambda t: t.nn.functional.cosine_similarity(t.ones(3, 4, dtype=t.int64),
                                                t.ones(3, 4, dtype=t.int64)),
    lambda t: t.nn.functional.pdist(t.ones(4, 3, 2)),
])
@requires_torch
def test_errors(call):
    raises_like(lambda: call(dark), lambda: call(torch))


def test_cosine_similarity_integer_inputs_and_bounds():
    a = dark.tensor([[1, 2, 3]])
    b = dark.tensor([[2.0, 4.0, 6.0]]) * 1e15
    out = F.cosine_similarity(a, b)
    assert out.dtype == dark.float32 and float(out) <= 1.0
    np.testing.assert_allclose(out.numpy(), [1.0], rtol=1e-6)


@requires_torch
def test_cosine_similarity_clamped_norm_gradient_as_torch():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((4, 3)) * 0.1, rng.standard_normal((4, 3))
    d_a, d_b = dark.tensor(a, requires_grad=True), dark.tensor(b, requires_grad=True)
    t_a, t_b = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    F.cosine_similarity(d_a, d_b, eps=0.5).sum().backward()
    torch.nn.functional.cosine_similarity(t_a, t_b, eps=0.5).sum().backward()
    np.testing.assert_allclose(d_a.grad.numpy(), t_a.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(d_b.grad.numpy(), t_b.grad.numpy(), rtol=1e-10)


# ----------------------------------------------------------------------------- modules


DISTANCES = [
    ("CosineSimilarity", {}), ("CosineSimilarity", {"dim": 0, "eps": 1e-6}),
    ("PairwiseDistance", {}), ("PairwiseDistance", {"p": 1.0, "eps": 1e-3, "keepdim": True}),
]


@pytest.mark.parametrize("name, args", DISTANCES)
def test_distance_modules_are_their_functionals(name, args):
    module = getattr(dark.nn, name)(**args)
    assert list(module.state_dict()) == []
    rng = np.random.default_rng(3)
    a, b = dark.tensor(rng.standard_normal((4, 5))), dark.tensor(rng.standard_normal((4, 5)))
    functional = F.cosine_similarity if name == "CosineSimilarity" else F.pairwise_distance
    np.testing.assert_array_equal(module(a, b).numpy(), functional(a, b, **args).numpy())


@pytest.mark.parametrize("name, args", DISTANCES)
@requires_torch
def test_distance_modules(name, args):
    module = getattr(dark.nn, name)(**args)
    t_module = getattr(torch.nn, name)(**args)
    assert repr(module) == repr(t_module)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(module(dark.tensor(a), dark.tensor(b)).numpy(),
                               t_module(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-10)
