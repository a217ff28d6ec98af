"""float16 from a double as torch 2.13 makes it: through float32 (c10::Half takes a float), two
roundings to nearest even, in python numbers (full, fill_, setitem, where, masked_fill, clamp,
torch.tensor) and in casts of float64 (or complex128) tensors (to, half, copy_, setitem)."""
from __future__ import annotations

import numpy as np
import pytest
from harness import requires_torch, torch

import dark

# 1 + 2**-11 is a float16 midpoint: the double just above it rounds up directly, but to the
# float32 1 + 2**-11 first, which then rounds to the even 1.0
ABOVE_MIDPOINT = 1 + 2.0 ** -11 + 2.0 ** -30
# doubles near float16's limits: just below 65520 (float16's overflow threshold) is 65520.0
# as a float32, then inf; a subnormal midpoint (2**-25, half the smallest subnormal) plus a
# little is 2**-25 as a float32, then 0.0; 2**-24 + 2**-25 + tiny is 2**-24 + 2**-25 then 2**-23
VALUES = [ABOVE_MIDPOINT, -ABOVE_MIDPOINT, 3 + 2.0 ** -10 + 2.0 ** -40, 65519.999999,
          -65519.999999, 65520.0 - 2.0 ** -12, 2.0 ** -25 + 2.0 ** -60, -(2.0 ** -25 + 2.0 ** -60),
          2.0 ** -24 + 2.0 ** -25 + 2.0 ** -50, 1.0 / 3, 0.1, 65504.0, 1e39, -1e300,
          float("inf"), 0.0]
# the values an op's Scalar may take (torch's overflow check allows up to float16's max)
SMALL = [v for v in VALUES if abs(v) <= 65504]


def _twice(value: float) -> float:
    """The double made a float32 and then a float16 (numpy's rounding, each to nearest even)."""
    with np.errstate(over="ignore"):
        return float(np.float16(np.float32(value)))


# ----------------------------------------------------------------------------- literal values

def test_python_numbers_round_through_float32():
    assert dark.tensor([ABOVE_MIDPOINT], dtype=dark.float16).item() == 1.0
    assert dark.tensor([-ABOVE_MIDPOINT], dtype=dark.float16).item() == -1.0
    assert dark.full((2,), ABOVE_MIDPOINT, dtype=dark.float16).tolist() == [1.0, 1.0]
    assert dark.zeros(2, dtype=dark.float16).fill_(ABOVE_MIDPOINT).tolist() == [1.0, 1.0]
    x = dark.zeros(2, dtype=dark.float16)
    x[0] = ABOVE_MIDPOINT
    assert x.tolist() == [1.0, 0.0]
    assert dark.tensor([65519.999999], dtype=dark.float16).item() == float("inf")
    assert dark.tensor([2.0 ** -25 + 2.0 ** -60], dtype=dark.float16).item() == 0.0
    assert dark.scalar_tensor(2.0 ** -25 + 2.0 ** -60, dtype=dark.float16).item() == 0.0
    assert dark.where(dark.tensor([False]), dark.zeros(1, dtype=dark.float16),
                      ABOVE_MIDPOINT).item() == 1.0
    assert dark.zeros(1, dtype=dark.float16).masked_fill(
        dark.tensor([True]), ABOVE_MIDPOINT).item() == 1.0
    assert dark.zeros(1, dtype=dark.float16).clamp(min=ABOVE_MIDPOINT).item() == 1.0


def test_float64_tensors_cast_through_float32():
    doubles = dark.tensor(VALUES, dtype=dark.float64)
    expected = [_twice(v) for v in VALUES]
    assert expected[:2] == [1.0, -1.0] and expected[3] == float("inf")
    assert doubles.half().tolist() == expected
    assert doubles.to(dark.float16).tolist() == expected
    assert doubles.to(dtype=dark.float16).tolist() == expected
    assert doubles.type(dark.float16).tolist() == expected
    assert dark.tensor(np.array(VALUES), dtype=dark.float16).tolist() == expected
    assert dark.as_tensor(np.array(VALUES), dtype=dark.float16).tolist() == expected
    assert dark.tensor(VALUES, dtype=dark.complex128).real.half().tolist() == expected
    x = dark.zeros(len(VALUES), dtype=dark.float16)
    x.copy_(doubles)
    assert x.tolist() == expected
    x = dark.zeros(len(VALUES), dtype=dark.float16)
    x[:] = doubles
    assert x.tolist() == expected
    x = dark.zeros(len(VALUES), dtype=dark.float16)
    x[1] = doubles[0]
    assert x[1].item() == 1.0
    # a float32 is rounded once: 1 + 2**-11 + 2**-23 (a float32) rounds up to 1 + 2**-10
    single = 1 + 2.0 ** -11 + 2.0 ** -23
    assert dark.tensor([single], dtype=dark.float32).half().item() == 1 + 2.0 ** -10
    assert dark.tensor([single], dtype=dark.float16).item() == 1 + 2.0 ** -10


def test_setitem_with_grad_casts_through_float32():
    x = dark.zeros(3, dtype=dark.float16, requires_grad=True).clone()
    x[0] = dark.tensor(ABOVE_MIDPOINT, dtype=dark.float64)
    x[1:] = dark.tensor([ABOVE_MIDPOINT, 0.1], dtype=dark.float64)
    assert x.tolist() == [1.0, 1.0, _twice(0.1)]
    y = dark.tensor([ABOVE_MIDPOINT], dtype=dark.float64, requires_grad=True)
    z = y.to(dark.float16)
    assert z.item() == 1.0
    z.sum().backward()
    assert y.grad.tolist() == [1.0]


def test_scalar_overflow_rule_kept():
    """An op's Scalar beyond float16's max is an error (torch's check on the double); a
    value of torch.tensor's data or of x[i] = v becomes inf."""
    with pytest.raises(RuntimeError, match="c10::Half without overflow"):
        dark.full((2,), 65504.5, dtype=dark.float16)
    with pytest.raises(RuntimeError, match="c10::Half without overflow"):
        dark.zeros(2, dtype=dark.float16).fill_(65519.999999)
    x = dark.zeros(2, dtype=dark.float16)
    x[0] = 65519.999999
    assert x[0].item() == float("inf")


# ----------------------------------------------------------------------------- against torch

@requires_torch
def test_python_numbers_as_torch():
    got, want = [], []
    for lib, out, value in [(lib, out, v) for lib, out in ((dark, got), (torch, want))
                            for v in VALUES]:
        out.append(lib.tensor([value], dtype=lib.float16).item())
        out.append(lib.scalar_tensor(value, dtype=lib.float16).item())
        out.append(lib.where(lib.tensor([False]), lib.zeros(1, dtype=lib.float16),
                             value).item())
        x = lib.zeros(2, dtype=lib.float16)
        x[0] = value
        out.append(x[0].item())
        out.append(lib.tensor([value], dtype=lib.float64).half().item())
        out.append(lib.tensor([value], dtype=lib.float64).to(lib.float16).item())
        x = lib.zeros(2, dtype=lib.float16)
        x.copy_(lib.tensor([value, value], dtype=lib.float64))
        out.append(x[0].item())
        x = lib.zeros(2, dtype=lib.float16)
        x[0] = lib.tensor(value, dtype=lib.float64)
        out.append(x[0].item())
    assert got == want


@requires_torch
def test_op_scalars_as_torch():
    got, want = [], []
    for lib, out, value in [(lib, out, v) for lib, out in ((dark, got), (torch, want))
                            for v in SMALL]:
        out.append(lib.full((2,), value, dtype=lib.float16)[0].item())
        out.append(lib.zeros(2, dtype=lib.float16).fill_(value)[0].item())
        out.append(lib.zeros(2, dtype=lib.float16).masked_fill(
            lib.tensor([True, False]), value)[0].item())
        out.append(lib.zeros(2, dtype=lib.float16).clamp(min=value)[0].item())
        out.append(lib.zeros(2, dtype=lib.float16).clamp(max=value)[0].item())
        out.append(lib.zeros(2, dtype=lib.float16).index_fill(
            0, lib.tensor([0]), value)[0].item())
    assert got == want


# ----------------------------------------------------------------------------- addcmul, addcdiv

def test_addcmul_addcdiv_round_once():
    """torch's CPU kernel computes float16 addcmul / addcdiv in float32 and rounds once: the
    product 2**-11 * (1 + 2**-10) * (1 - 2**-11) is 2**-11 in float16 (then 1 + 2**-11 is a
    tie: 1.0), fused it is 2**-11 + 2**-22 - ... and the sum rounds up; addcdiv's value is a
    float32 (1 + 2**-12), not a float16 (1.0)."""
    one = dark.tensor([1.0], dtype=dark.float16)
    t1 = dark.tensor([1 + 2.0 ** -10], dtype=dark.float16)
    t2 = dark.tensor([2.0 ** -11 - 2.0 ** -22], dtype=dark.float16)
    assert dark.addcmul(one, t1, t2).item() == 1 + 2.0 ** -10
    assert one.clone().addcmul_(t1, t2).item() == 1 + 2.0 ** -10
    two11 = dark.tensor([2048.0], dtype=dark.float16)
    assert dark.addcdiv(one, one, two11, value=1 + 2.0 ** -12).item() == 1 + 2.0 ** -10
    assert one.clone().addcdiv_(one, two11, value=1 + 2.0 ** -12).item() == 1 + 2.0 ** -10
    a = one.clone().requires_grad_()
    result = dark.addcmul(a, t1, t2, value=2.0)
    assert type(result.grad_fn).__name__ == "AddcmulBackward0"
    result.sum().backward()
    assert a.grad.tolist() == [1.0]


@requires_torch
def test_addcmul_addcdiv_as_torch():
    generator = np.random.default_rng(3)
    arrays = [generator.standard_normal(shape).astype(np.float32) * scale
              for shape, scale in (((6, 9), 1.0), ((6, 9), 3.0), ((9,), 0.7))]
    for name in ("addcmul", "addcdiv"):
        for value in (1, 0.1, -2.5, ABOVE_MIDPOINT, 3):
            results = {}
            for lib in (dark, torch):
                a, t1, t2 = (lib.tensor(x).to(lib.float16) for x in arrays)
                results[lib] = [getattr(lib, name)(a, t1, t2, value=value),
                                getattr(a.clone(), name + "_")(t1, t2, value=value)]
            for ours, theirs in zip(results[dark], results[torch], strict=True):
                assert ours.dtype == dark.float16
                np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# ----------------------------------------------------------------------------- python operands

def test_arithmetic_with_python_floats_as_torch_kernels():
    """A python float operand of a float16 tensor: add/sub/comparisons make it a float16
    through float32 (1 + 2**-11 + 2**-30 is 1.0); mul/div (and floor/trunc division, number /
    x) keep it a float32 and compute in float32, rounded once (3 * 0.1 is 0.300048828125, not
    3 * float16(0.1) = 0.2999267578125)."""
    x = dark.tensor([1.0, 3.0], dtype=dark.float16)
    assert (x + ABOVE_MIDPOINT).tolist() == [2.0, 4.0]
    assert (ABOVE_MIDPOINT - x).tolist() == [0.0, -2.0]
    assert x.clone().add_(ABOVE_MIDPOINT).tolist() == [2.0, 4.0]
    assert (x * 0 + 1 == ABOVE_MIDPOINT).tolist() == [True, True]
    assert (x * 0.1).tolist() == [0.0999755859375, 0.300048828125]
    assert (0.1 * x).tolist() == [0.0999755859375, 0.300048828125]
    assert x.clone().mul_(0.1).tolist() == [0.0999755859375, 0.300048828125]
    assert (x / 10.000001).tolist() == [0.0999755859375, 0.300048828125]
    assert x.clone().div_(10.000001).tolist() == [0.0999755859375, 0.300048828125]
    assert (x // 0.1).tolist() == [9.0, 29.0]
    assert dark.div(x, 0.1, rounding_mode="trunc").tolist() == [10.0, 30.0]


def test_lerp_in_float32_as_torch_kernel():
    """float16 lerp computes in float32 with the weight a float32 and fma(weight, end - start,
    start), rounded once: 7.30078125 -> 21.90625 at 0.1 is 8.7578125 (8.765625 in float16
    steps); a float16 weight tensor the same."""
    start = dark.tensor([7.30078125], dtype=dark.float16)
    end = dark.tensor([21.90625], dtype=dark.float16)
    assert dark.lerp(start, end, 0.1).item() == 8.7578125
    assert start.clone().lerp_(end, 0.1).item() == 8.7578125
    assert dark.lerp(start, end, dark.tensor([0.1], dtype=dark.float16)).item() == 8.7578125


@requires_torch
def test_arithmetic_with_python_floats_as_torch():
    values = np.array([3.0, 1.5, -2.25, 0.7, 5.3, 1000.0, -0.1, 1.0009765625, 7.3, 0.3],
                      np.float32)
    paths = {"add": lambda x, v: x + v, "radd": lambda x, v: v + x,
             "sub": lambda x, v: x - v, "rsub": lambda x, v: v - x,
             "mul": lambda x, v: x * v, "rmul": lambda x, v: v * x,
             "div": lambda x, v: x / v, "rdiv": lambda x, v: v / x,
             "add_": lambda x, v: x.add_(v), "sub_": lambda x, v: x.sub_(v),
             "mul_": lambda x, v: x.mul_(v), "div_": lambda x, v: x.div_(v),
             "add_alpha": lambda x, v: x.add(x, alpha=v),
             "floordiv": lambda x, v: x // v, "fmod": lambda x, v: x.fmod(v),
             "trunc": lambda x, v: x.div(v, rounding_mode="trunc"),
             "floor_": lambda x, v: x.div_(v, rounding_mode="floor"),
             "pow": lambda x, v: x.abs().pow(v),
             "gt": lambda x, v: (x > v).half(), "eq": lambda x, v: (x * 0 + 1 == v).half(),
             "clamp": lambda x, v: x.clamp(-abs(v), abs(v)),
             "masked_fill": lambda x, v: x.masked_fill(x > 1, v),
             "lerp": lambda x, v: x.lerp(x * 3 + 0.1, v),
             "lerp_tensor": lambda x, v: x.lerp(x * 3, x * 0 + v)}
    mismatches = []
    for name, path in paths.items():
        for value in (ABOVE_MIDPOINT, 0.1, 1 / 3, 7.3, 3 + 2.0 ** -10 + 2.0 ** -40, 0.7):
            ours = path(dark.tensor(values).half(), value).float().numpy()
            theirs = path(torch.tensor(values).half(), value).float().numpy()
            if not np.array_equal(ours, theirs):
                mismatches.append(f"{name}({value!r}): dark {ours} torch {theirs}")
    assert not mismatches, "\n".join(mismatches)


def test_one_element_fill_unchecked_as_torch_cpu():
    """torch's CPU fill of a single element (full, fill_, full_like of one element) does not
    check a float16 value: 65504.5 is 65504 and 1e300 inf there; two elements check it."""
    assert dark.full((1,), 65504.5, dtype=dark.float16).item() == 65504.0
    assert dark.full((), 1e300, dtype=dark.float16).item() == float("inf")
    assert dark.full((1, 1), 65519.999999, dtype=dark.float16).item() == float("inf")
    assert dark.zeros(1, dtype=dark.float16).fill_(-1e39).item() == -float("inf")
    assert dark.zeros(3, dtype=dark.float16)[1:2].fill_(7e4).tolist() == [float("inf")]
    assert dark.full_like(dark.zeros(1, dtype=dark.float16), 7e4).item() == float("inf")
    with pytest.raises(RuntimeError, match="c10::Half without overflow"):
        dark.full((2,), 65504.5, dtype=dark.float16)
    with pytest.raises(RuntimeError, match="c10::Half without overflow"):
        dark.zeros(2, dtype=dark.float16).fill_(7e4)
    with pytest.raises(RuntimeError, match="c10::Half without overflow"):
        dark.zeros(1, dtype=dark.float16).masked_fill(dark.tensor([True]), 7e4)


@requires_torch
def test_one_element_fill_as_torch():
    paths = [lambda L, v: L.full((1,), v, dtype=L.float16),
             lambda L, v: L.full((), v, dtype=L.float16),
             lambda L, v: L.zeros(1, dtype=L.float16).fill_(v),
             lambda L, v: L.zeros(3, dtype=L.float16)[1:2].fill_(v),
             lambda L, v: L.full((2,), v, dtype=L.float16),
             lambda L, v: L.zeros(2, dtype=L.float16).index_fill(0, L.tensor([0]), v)]
    for path in paths:
        for value in (65504.5, 65519.999999, -7e4, 1e39, 1e300, ABOVE_MIDPOINT):
            outcome = {}
            for lib in (dark, torch):
                try:
                    outcome[lib] = path(lib, value).flatten()[0].item()
                except RuntimeError as error:
                    outcome[lib] = str(error)
            assert outcome[dark] == outcome[torch], (value, outcome)


def test_float16_rsqrt_is_computed_in_float32_and_rounded_once():
    """torch's CPU rsqrt of float16 computes 1 / sqrt in float32 and rounds once (1 / sqrt in
    float16 rounds twice: 1060 of these 4000 values differ); its gradient is torch's formula
    (-0.5 * grad) * result.pow(3), the cube in float32 rounded once."""
    values = np.linspace(0.05, 3, 4000).astype(np.float16)
    x = dark.tensor(values, requires_grad=True)
    y = dark.rsqrt(x)
    expected = (1 / np.sqrt(values.astype(np.float32))).astype(np.float16)
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    y.sum().backward()
    cube = (expected.astype(np.float32) ** 3).astype(np.float16)
    np.testing.assert_array_equal(x.grad.numpy(), np.float16(-0.5) * cube)
