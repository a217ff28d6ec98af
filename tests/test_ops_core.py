"""Op-table cases for the first ops of the core (the families add their own tables)."""
import pytest
from harness import Case, check_case, ids

CASES = [
    Case("add", lambda t, a, b: t.add(a, b), [(3, 4), (3, 4)]),
    Case("add_broadcast_alpha", lambda t, a, b: t.add(a, b, alpha=2.5), [(2, 3, 4), (4,)]),
    Case("add_scalar", lambda t, a: a + 2, [(3,)]),
    Case("radd_scalar", lambda t, a: 2 + a, [(3,)]),
    Case("sub_broadcast", lambda t, a, b: a - b, [(3, 1), (1, 4)]),
    Case("rsub_scalar", lambda t, a: 1.5 - a, [(2, 2)]),
    Case("mul_broadcast", lambda t, a, b: a * b, [(2, 3, 4), (3, 1)]),
    Case("mul_0d", lambda t, a, b: a * b, [(), (3,)]),
    Case("div", lambda t, a, b: a / b, [(3, 4), (4,)], domain="nonzero"),
    Case("rdiv_scalar", lambda t, a: 2 / a, [(3,)], domain="nonzero"),
    Case("pow_scalar", lambda t, a: a ** 3, [(3, 4)]),
    Case("pow_tensor", lambda t, a, b: a ** b, [(3, 4), (4,)], domain="positive"),
    Case("rpow", lambda t, a: 2 ** a, [(5,)]),
    Case("neg", lambda t, a: -a, [(2, 3)]),
    Case("exp", lambda t, a: t.exp(a), [(2, 3)]),
    Case("log", lambda t, a: t.log(a), [(2, 3)], domain="positive"),
    Case("sin", lambda t, a: a.sin(), [(4,)]),
    Case("cos", lambda t, a: a.cos(), [(4,)]),
    Case("tanh", lambda t, a: a.tanh(), [(4,)]),
    Case("where", lambda t, a, b: t.where(a > 0, a, b), [(3, 4), (4,)]),
    Case("sum_all", lambda t, a: a.sum(), [(3, 4)]),
    Case("sum_dim_keepdim", lambda t, a: a.sum(-1, keepdim=True), [(2, 3, 4)]),
    Case("sum_dims", lambda t, a: a.sum((0, 2)), [(2, 3, 4)]),
    Case("sum_0d", lambda t, a: a.sum(), [()]),
    Case("sum_empty", lambda t, a: a.sum(0), [(0, 3)], gradgrad=False),
    Case("reshape", lambda t, a: a.reshape(4, -1), [(2, 3, 4)]),
    Case("view", lambda t, a: a.view(6, 4), [(2, 3, 4)]),
    Case("expand", lambda t, a: a.expand(2, 3, 4), [(3, 1)]),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)
