"""linspace in every dtype as torch's CPU kernel computes it (torch 2.13's
RangeFactoriesKernel: the symmetric formula; integer dtypes through a float64 step with the
multiply-add fused, then truncated; float16 and bfloat16 with every operation rounded to the
dtype): bit-equal to torch over a grid of bounds and step counts."""
import itertools

import numpy as np
import pytest
from harness import requires_torch, torch

import dark

STARTS = [0, -3, 1.5, -7.25, 0.1, 100, -1000, 3.3]
ENDS = [1, 10, -2.5, 0.99, 255, 1000.7, -100, 32752]
STEPS = [0, 1, 2, 3, 5, 7, 10, 31, 100, 257, 3001]
DTYPES = ["float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "float32",
          "float64"]


def _numbers(t, lib):
    if t.dtype == lib.bfloat16:
        t = t.float()
    return np.asarray(t.numpy() if lib is torch else t.cpu().numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@requires_torch
def test_linspace_bit_equal_to_torch(dtype):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes", reason="dark's bfloat16 needs ml_dtypes")
    checked = 0
    for start, end, steps in itertools.product(STARTS, ENDS, STEPS):
        try:
            theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dtype))
        except RuntimeError:  # a bound that does not fit the dtype: checked elsewhere
            continue
        ours = dark.linspace(start, end, steps, dtype=getattr(dark, dtype))
        assert ours.dtype == getattr(dark, dtype)
        np.testing.assert_array_equal(_numbers(ours, dark), _numbers(theirs, torch),
                                      err_msg=f"linspace({start}, {end}, {steps})")
        checked += 1
    assert checked > 300


def test_linspace_float16_rounds_every_operation():
    """float16: the step, the index and each product and sum rounded to half; the second half
    counts down from the end by n - 1 - i computed as an integer: linspace(0, 1, 3001)[2049]
    is half(1 - half(step * 951)), not with 3000 - half(2049) = 952 in half."""
    values = dark.linspace(0, 1, 3001, dtype=dark.float16).numpy()
    h, f = np.float16, np.float32
    step = f(h(f(1) / f(3000)))
    assert values[2049] == h(f(1) - f(h(step * f(951)))) != h(f(1) - f(h(step * f(952))))
    assert values[1000] == h(f(h(step * f(1000))))
    assert dark.linspace(0, 1, 1, dtype=dark.float16).tolist() == [0.0]


def test_linspace_converts_only_the_bounds_it_uses():
    """As torch: no bound is converted for 0 steps, only start for 1 (no overflow error)."""
    assert dark.linspace(0, 255, 0, dtype=dark.int8).tolist() == []
    assert dark.linspace(3, 255, 1, dtype=dark.int8).tolist() == [3]
    with pytest.raises(RuntimeError, match="value cannot be converted to type int8_t"):
        dark.linspace(0, 255, 2, dtype=dark.int8)


def test_linspace_integers_fuse_the_multiply_add():
    """int64: element 3 of linspace(-3, 1, 7) is 1 - (4/6) * 3 fused (one rounding):
    -0.9999999999999999, truncated to 0 as torch gives, where the product rounded first makes
    exactly -1."""
    assert dark.linspace(-3, 1, 7, dtype=dark.int64).numpy().tolist() == [-3, -2, -1, 0, 0, 0,
                                                                          1]
