"""dark.autograd.gradcheck itself: it must perturb the input the function reads."""
import numpy as np
import pytest

import dark
from dark.autograd import gradcheck, gradgradcheck


def _inputs():
    base = dark.arange(12, dtype=dark.float64).reshape(3, 4) / 7 - 0.5
    return {
        "transposed": base.mT.clone().requires_grad_(),  # clone keeps the strides
        "strided": base[:, ::2].requires_grad_(),
        "0-d": dark.tensor(0.3, dtype=dark.float64, requires_grad=True),
        "contiguous": base.clone().requires_grad_(),
    }


@pytest.mark.parametrize("name", ["transposed", "strided", "0-d", "contiguous"])
def test_gradcheck_on_any_layout(name):
    x = _inputs()[name]
    assert gradcheck(lambda t: t.exp() * 2, (x,))
    assert gradgradcheck(lambda t: (t * t * t).sum(), (x,))


@pytest.mark.parametrize("name", ["transposed", "strided"])
def test_gradcheck_still_catches_a_wrong_gradient_on_non_contiguous_inputs(name):
    class Wrong(dark.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = _inputs()[name]
    assert not x.is_contiguous()
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        gradcheck(Wrong.apply, (x,))
    assert not gradcheck(Wrong.apply, (x,), raise_exception=False)


def test_gradcheck_leaves_the_input_unchanged():
    x = _inputs()["transposed"]
    before = x.detach().numpy().copy()
    gradcheck(lambda t: t.sin(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
