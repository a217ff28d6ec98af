"""Elementwise ops: the op table (values, float64 gradcheck/gradgradcheck, torch parity),
type promotion, python operators and their graph nodes, in-place forms, errors."""
import math
import operator
import warnings

import numpy as np
import pytest
from harness import LIBS, Case, check_case, ids, requires_torch, torch

import dark


def ints(*shape, low=-5, high=6, dtype=np.int64):
    return lambda rng: [rng.integers(low, high, shape).astype(dtype)]


def _ties(rng):
    a = rng.standard_normal((3, 4))
    b = a.copy()
    b[0] = rng.standard_normal(4)
    return [a, b]


def _clamp_tensors(rng):
    return [rng.standard_normal((3, 4)), rng.uniform(-1, -0.2, (4,)), rng.uniform(0.2, 1, (3, 1))]


CASES = [
    # arithmetic
    Case("add", lambda t, a, b: t.add(a, b), [(3, 4), (3, 4)]),
    Case("add_broadcast_alpha", lambda t, a, b: t.add(a, b, alpha=2.5), [(2, 3, 4), (4,)]),
    Case("add_scalar_first", lambda t, a: t.add(2, a), [(3,)]),
    Case("add_scalar", lambda t, a: a + 2, [(3,)]),
    Case("radd", lambda t, a: 2 + a, [(3,)]),
    Case("add_0d_empty", lambda t, a, b: a + b, [(), (0, 3)]),
    Case("sub_broadcast", lambda t, a, b: a - b, [(3, 1), (1, 4)]),
    Case("sub_alpha", lambda t, a, b: t.sub(a, b, alpha=-2), [(3, 4), (4,)]),
    Case("rsub_scalar", lambda t, a: 1.5 - a, [(2, 2)]),
    Case("rsub_tensor", lambda t, a, b: t.rsub(a, b, alpha=3), [(2, 3), (3,)]),
    Case("mul_broadcast", lambda t, a, b: a * b, [(2, 3, 4), (3, 1)]),
    Case("mul_0d", lambda t, a, b: a * b, [(), (3,)]),
    Case("mul_scalar", lambda t, a: a * -3, [(3,)]),
    Case("div", lambda t, a, b: a / b, [(3, 4), (4,)], domain="nonzero"),
    Case("rdiv_scalar", lambda t, a: 2 / a, [(3,)], domain="nonzero"),
    Case("div_scalar_first", lambda t, a: t.div(2, a), [(3,)], domain="nonzero"),
    Case("true_divide", lambda t, a, b: t.true_divide(a, b), [(2, 3), (2, 3)], domain="nonzero"),
    Case("div_trunc", lambda t, a, b: t.div(a * 3, b, rounding_mode="trunc"), [(3, 4), (4,)],
         domain="nonzero"),
    Case("div_floor", lambda t, a: a.div(0.7, rounding_mode="floor"), [(3, 4)]),
    Case("floor_divide_values", lambda t, a, b: a // b, [(3, 4), (4,)], domain="nonzero",
         grad=False),
    Case("rfloordiv", lambda t, a: 3 // a, [(5,)], domain="nonzero", grad=False),
    Case("remainder", lambda t, a, b: t.remainder(a * 3, b), [(3, 4), (4,)], domain=(0.3, 2)),
    Case("remainder_negative", lambda t, a: a % -0.7, [(3, 4)]),
    Case("rmod", lambda t, a: 2.5 % a, [(4,)], domain="nonzero", grad=False),
    Case("fmod", lambda t, a, b: t.fmod(a * 3, b), [(3, 4), (4,)], domain="nonzero"),
    Case("fmod_scalar", lambda t, a: t.fmod(a * 3, 0.8), [(3, 4)]),
    Case("pow_scalar", lambda t, a: a ** 3, [(3, 4)]),
    Case("pow_half", lambda t, a: a ** 0.5, [(3, 4)], domain="positive"),
    Case("pow_negative", lambda t, a: t.pow(a, -1.5), [(3,)], domain="positive"),
    Case("pow_zero", lambda t, a: a ** 0, [(3,)]),
    Case("pow_tensor", lambda t, a, b: a ** b, [(3, 4), (4,)], domain="positive"),
    Case("pow_0d_exponent", lambda t, a, b: a ** b, [(3,), ()], domain="positive"),
    Case("rpow", lambda t, a: 2 ** a, [(5,)]),
    Case("square", lambda t, a: t.square(a), [(2, 3)]),
    Case("neg", lambda t, a: -a, [(2, 3)]),
    Case("negative", lambda t, a: t.negative(a), [(2, 3)]),
    # unary math
    Case("reciprocal", lambda t, a: a.reciprocal(), [(2, 3)], domain="nonzero"),
    Case("sqrt", lambda t, a: t.sqrt(a), [(2, 3)], domain="positive"),
    Case("rsqrt", lambda t, a: a.rsqrt(), [(2, 3)], domain="positive"),
    Case("exp", lambda t, a: t.exp(a), [(2, 3)]),
    Case("exp2", lambda t, a: t.exp2(a), [(2, 3)]),
    Case("expm1", lambda t, a: a.expm1(), [(2, 3)]),
    Case("log", lambda t, a: t.log(a), [(2, 3)], domain="positive"),
    Case("log1p", lambda t, a: a.log1p(), [(2, 3)], domain="positive"),
    Case("log2", lambda t, a: a.log2(), [(2, 3)], domain="positive"),
    Case("log10", lambda t, a: t.log10(a), [(2, 3)], domain="positive"),
    Case("sin", lambda t, a: a.sin(), [(4,)]),
    Case("cos", lambda t, a: t.cos(a), [(4,)]),
    Case("cos_method", lambda t, a: a.cos(), [(4,)]),
    Case("tan", lambda t, a: a.tan(), [(4,)], domain="unit"),
    Case("asin", lambda t, a: a.asin(), [(4,)], domain="unit"),
    Case("acos", lambda t, a: t.acos(a), [(4,)], domain="unit"),
    Case("atan", lambda t, a: a.atan(), [(4,)]),
    Case("arctan2", lambda t, a, b: t.arctan2(a, b), [(3, 4), (4,)]),
    Case("atan2_method", lambda t, a, b: a.atan2(b), [(3,), (3,)]),
    Case("sinh", lambda t, a: a.sinh(), [(4,)]),
    Case("cosh", lambda t, a: a.cosh(), [(4,)]),
    Case("tanh", lambda t, a: a.tanh(), [(4,)]),
    Case("asinh", lambda t, a: a.asinh(), [(4,)]),
    Case("acosh", lambda t, a: a.acosh(), [(4,)], domain=(1.5, 3.0)),
    Case("atanh", lambda t, a: a.atanh(), [(4,)], domain="unit"),
    Case("sigmoid", lambda t, a: t.sigmoid(a * 10), [(3, 4)]),
    Case("relu", lambda t, a: t.relu(a), [(3, 4)]),
    Case("erf", lambda t, a: t.erf(a * 2), [(3, 4)]),
    Case("abs", lambda t, a: abs(a), [(3, 4)], domain="nonzero"),
    Case("absolute", lambda t, a: t.absolute(a), [(3,)], domain="nonzero"),
    Case("sign", lambda t, a: a.sign(), [(3, 4)]),
    Case("floor", lambda t, a: t.floor(a * 3), [(3, 4)]),
    Case("ceil", lambda t, a: a.mul(3).ceil(), [(3, 4)]),
    Case("round", lambda t, a: t.round(a * 3), [(3, 4)]),
    Case("round_decimals", lambda t, a: t.round(a * 3, decimals=2), [(3, 4)]),
    Case("trunc", lambda t, a: (a * 3).trunc(), [(3, 4)]),
    Case("frac", lambda t, a: (a * 3).frac(), [(3, 4)]),
    Case("nan_to_num", lambda t, a: t.nan_to_num(a, posinf=5.0), [(3, 4)]),
    Case("nan_to_num_specials",
         lambda t, a: t.nan_to_num(t.log(a - 1), nan=-1.0, neginf=-9.0),
         make=lambda rng: [np.array([0.5, 1.0, 2.0, 3.0])], grad=False),
    # selection and bounds
    Case("clamp", lambda t, a: t.clamp(a, -0.5, 0.5), [(3, 4)]),
    Case("clamp_min_only", lambda t, a: a.clamp(min=0.1), [(3, 4)]),
    Case("clamp_max_only", lambda t, a: a.clamp(max=0.1), [(3, 4)]),
    Case("clip", lambda t, a: t.clip(a, -1, 1), [(3, 4)]),
    Case("clamp_tensors", lambda t, a, lo, hi: t.clamp(a, lo, hi), make=_clamp_tensors),
    Case("clamp_tensor_min", lambda t, a, lo: a.clamp(min=lo), [(3, 4), (4,)]),
    Case("clamp_tensor_max", lambda t, a, hi: t.clamp(a, max=hi), [(3, 4), (3, 1)]),
    Case("clamp_min", lambda t, a: t.clamp_min(a, 0.2), [(3, 4)]),
    Case("clamp_max", lambda t, a: a.clamp_max(0.2), [(3, 4)]),
    Case("clamp_int", lambda t, a: t.clamp(a, -2, 3), make=ints(3, 4)),
    Case("clamp_int_float_bound", lambda t, a: t.clamp(a, 2.5), make=ints(3, 4)),
    Case("maximum", lambda t, a, b: t.maximum(a, b), [(3, 4), (4,)]),
    Case("minimum", lambda t, a, b: a.minimum(b), [(3, 4), (3, 1)]),
    Case("maximum_ties", lambda t, a, b: t.maximum(a, b), make=_ties, gradgrad=False),
    Case("minimum_ties", lambda t, a, b: t.minimum(a, b), make=_ties, gradgrad=False),
    Case("where", lambda t, a, b: t.where(a > 0, a, b), [(3, 4), (4,)]),
    Case("where_scalar", lambda t, a: t.where(a > 0, a, 0.0), [(3, 4)]),
    Case("where_scalar_first", lambda t, a: t.where(a > 0, 1.5, a), [(3, 4)]),
    Case("where_method", lambda t, a, b: a.where(b > 0, b), [(3, 4), (3, 4)]),
    Case("lerp_scalar", lambda t, a, b: t.lerp(a, b, 0.3), [(3, 4), (4,)]),
    Case("lerp_scalar_high", lambda t, a, b: a.lerp(b, 0.8), [(3, 4), (3, 4)]),
    Case("lerp_tensor", lambda t, a, b, w: t.lerp(a, b, w), [(3, 4), (3, 4), (4,)],
         domain=(-0.2, 1.2)),
    Case("composite", lambda t, a, b: (a * b + a.exp() / (1 + b * b)).sigmoid().sqrt(),
         [(3, 4), (4,)]),
    # promotion and integer results
    Case("int_times_float_scalar", lambda t, a: a * 2.5, make=ints(3)),
    Case("int_div_int", lambda t, a, b: a / b, make=lambda rng: [
        rng.integers(-9, 9, (4,)), rng.integers(1, 5, (4,))]),
    Case("int_floor_div", lambda t, a, b: a // b, make=lambda rng: [
        rng.integers(-9, 9, (4,)), np.array([3, -3, 2, -2])]),
    Case("int_trunc_div", lambda t, a, b: t.div(a, b, rounding_mode="trunc"), make=lambda rng: [
        np.array([-7, 7, -7, 7]), np.array([2, 2, -2, -2])]),
    Case("int_remainder", lambda t, a: a % -3, make=lambda rng: [np.array([-7, 7, 0, 5])]),
    Case("int_fmod", lambda t, a: t.fmod(a, 3), make=lambda rng: [np.array([-7, 7, 0, 5])]),
    Case("int_pow", lambda t, a: a ** 2, make=ints(4)),
    Case("int_pow_negative_tensor", lambda t, a, b: a ** b, make=lambda rng: [
        np.array([2, 1, -1, -1, 3]), np.array([-1, -3, -3, -2, 2])]),
    Case("int_rpow", lambda t, a: 2 ** a, make=lambda rng: [np.array([0, 1, 5])]),
    Case("int32_plus_int64", lambda t, a, b: a + b,
         make=lambda rng: [np.arange(3, dtype=np.int32), np.arange(3)]),
    Case("uint8_plus_int8", lambda t, a, b: a + b,
         make=lambda rng: [np.arange(3, dtype=np.uint8), -np.arange(3, dtype=np.int8)]),
    Case("int8_overflow_scalar", lambda t, a: a + 1000,
         make=lambda rng: [np.arange(3, dtype=np.int8)]),
    Case("half_plus_float", lambda t, a, b: a.half() + b.float(), [(3,), (3,)], grad=False,
         atol=1e-3, rtol=1e-3),
    Case("zero_dim_double_plus_float", lambda t, a, b: a.double() + b.float(), [(), (3,)],
         grad=False),
    Case("int_plus_zero_dim_double", lambda t, a, b: a + b.double(),
         make=lambda rng: [np.arange(3), np.array(0.5)], grad=False),
    Case("bool_plus_bool", lambda t, a: a + a, make=lambda rng: [np.array([True, False])]),
    Case("bool_times_bool", lambda t, a: a * a, make=lambda rng: [np.array([True, False])]),
    Case("bool_plus_int", lambda t, a: a + 1, make=lambda rng: [np.array([True, False])]),
    Case("int_unary_float", lambda t, a: [t.exp(a), t.sqrt(a.abs()), t.sigmoid(a), t.erf(a),
                                          a.reciprocal(), t.atan2(a, a)], make=ints(4, low=1)),
    Case("int_unary_int", lambda t, a: [a.abs(), a.sign(), a.floor(), a.round(), -a, a.relu(),
                                        t.square(a), a.clamp(0)], make=ints(5)),
    Case("uint8_neg", lambda t, a: -a, make=ints(3, low=0, dtype=np.uint8)),
    Case("bool_exp", lambda t, a: t.exp(a), make=lambda rng: [np.array([True, False])]),
    # predicates
    Case("comparisons", lambda t, a, b: [a == b, a != b, a < b, a <= b, a > b, a >= b],
         make=lambda rng: [np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])], grad=False),
    Case("comparisons_scalar", lambda t, a: [a == 2, a != 2, a < 2, 2 <= a, 2 > a, a >= 2.5],
         make=lambda rng: [np.array([1.0, 2.0, 3.0])], grad=False),
    Case("comparison_functions", lambda t, a, b: [t.eq(a, b), t.ne(a, 1), t.lt(a, b),
                                                   t.le(a, b), t.gt(a, b), t.ge(a, b),
                                                   t.greater(a, b), t.less_equal(a, b),
                                                   t.not_equal(a, b)],
         [(3, 4), (4,)], grad=False),
    Case("compare_int_float", lambda t, a, b: a == b,
         make=lambda rng: [np.array([1, 2]), np.array([1.0, 3.0])], grad=False),
    Case("logical", lambda t, a, b: [t.logical_and(a, b), t.logical_or(a, b),
                                     t.logical_xor(a, b), t.logical_not(a), a.logical_not()],
         make=lambda rng: [np.array([0.0, 1.0, 2.0, 0.0]), np.array([0, 0, 3, 1])], grad=False),
    Case("isnan_isinf_isfinite", lambda t, a: [t.isnan(a.log()), t.isinf(a.log()),
                                               t.isfinite(a.log()), a.log().isnan()],
         make=lambda rng: [np.array([-1.0, 0.0, 1.0])], grad=False),
    Case("bitwise", lambda t, a, b: [a & b, a | b, a ^ b, ~a, 3 & a, a << 1, a >> 1,
                                     t.bitwise_and(a, b), t.bitwise_xor(a, 6)],
         make=lambda rng: [np.array([1, 2, 7, -4]), np.array([3, 3, 1, 5])]),
    Case("bitwise_bool", lambda t, a, b: [a & b, a | b, a ^ b, ~a, a & True],
         make=lambda rng: [np.array([True, False, True]), np.array([True, True, False])]),
    Case("isclose", lambda t, a, b: [t.isclose(a, b), t.isclose(a, b, rtol=0.1, atol=0.1),
                                     t.isclose(a, a.log(), equal_nan=True)],
         make=lambda rng: [np.array([1.0, -1.0, 2.0, 0.0]), np.array([1.0, -0.95, 2.5, 1e-9])],
         grad=False),
    Case("conversions", lambda t, a: [a.float(), a.double(), a.long(), a.int(), a.half(),
                                      a.bool(), a.to(t.int16), a.short(), a.byte().char()],
         [(3,)], grad=False, atol=1e-3, rtol=1e-3),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_op(case, device):
    check_case(case, device)


# ----------------------------------------------------------------------------- promotion

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
          "float64"]


def _pair(dtype, ndim, lib):
    shape = (2,) if ndim else ()
    return lib.zeros(shape, dtype=getattr(lib, dtype))


@pytest.mark.parametrize("left", DTYPES)
@pytest.mark.parametrize("dims", [(1, 1), (0, 1), (1, 0), (0, 0)])
@requires_torch
def test_result_type_grid(left, dims):
    for right in DTYPES:
        expected = torch.result_type(_pair(left, dims[0], torch), _pair(right, dims[1], torch))
        actual = dark.result_type(_pair(left, dims[0], dark), _pair(right, dims[1], dark))
        assert actual.name == str(expected).replace("torch.", ""), (left, right, dims)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [True, 3, 2.5])
@requires_torch
def test_result_type_with_scalars(dtype, scalar):
    for ndim in (0, 1):
        expected = torch.result_type(_pair(dtype, ndim, torch), scalar)
        assert dark.result_type(_pair(dtype, ndim, dark), scalar).name == \
            str(expected).replace("torch.", "")


@pytest.mark.parametrize("dtype", DTYPES)
@requires_torch
def test_binary_ops_dtypes_follow_torch(dtype):
    """add/mul/div/maximum/eq of each dtype pair give torch's dtype (and values)."""
    for other in DTYPES:
        pairs = [(lib.ones(3, dtype=getattr(lib, dtype)), lib.ones(3, dtype=getattr(lib, other)))
                 for lib in (dark, torch)]
        for op in ("add", "mul", "div", "maximum", "eq"):
            expected = getattr(torch, op)(*pairs[1])
            actual = getattr(dark, op)(*pairs[0])
            assert actual.dtype.name == str(expected.dtype).replace("torch.", ""), (
                op, dtype, other)
            np.testing.assert_allclose(actual.numpy().astype(float),
                                       expected.numpy().astype(float))


# ----------------------------------------------------------------------------- erf accuracy

def test_erf_accuracy_float64():
    x = np.concatenate([np.linspace(-7, 7, 20001), [1e-300, -1e-12, 0.0, 1.9999, 2.0001]])
    expected = np.array([math.erf(v) for v in x])
    actual = dark.erf(dark.tensor(x)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-14, atol=0)
    specials = dark.erf(dark.tensor([math.inf, -math.inf, math.nan])).numpy()
    np.testing.assert_array_equal(specials, [1.0, -1.0, math.nan])


@requires_torch
def test_erf_float32_matches_torch():
    x = np.linspace(-6, 6, 10001).astype(np.float32)
    actual = dark.erf(dark.tensor(x))
    assert actual.dtype == dark.float32
    np.testing.assert_allclose(actual.numpy(), torch.erf(torch.tensor(x)).numpy(), rtol=2e-7,
                               atol=1e-7)


# ----------------------------------------------------------------------------- graph nodes

NODE_EXPRESSIONS = [
    "x + 2", "2 + x", "x + y", "x - 2", "2 - x", "x - y", "x * 2", "2 * x", "x * y", "x / 2",
    "2 / x", "x / y", "x ** 2", "x ** y", "2 ** x", "x % 2", "x % y", "-x", "abs(x)",
    "x.sqrt()", "x.exp()", "x.log1p()", "x.expm1()", "x.sigmoid()", "x.relu()", "x.erf()",
    "x.square()", "x.reciprocal()", "x.clamp(0, 1)", "x.clamp(min=y)", "x.clamp_min(0)",
    "lib.maximum(x, y)", "lib.where(x > 0, x, 0.0)", "lib.lerp(x, y, 0.5)",
    "lib.lerp(x, y, w)", "lib.atan2(x, y)", "lib.div(x, y, rounding_mode='floor')",
    "lib.rsub(x, y)", "x.double()", "x.round(decimals=1)", "x.nan_to_num()", "lib.fmod(x, 2)",
    "x // 2", "x.sign()", "x.floor()",
]


def _node_structure(lib, expression):
    x = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = lib.tensor([1.0, 2.0, -0.5], requires_grad=True)
    w = lib.tensor([0.2, 0.4, 0.9])
    node = eval(expression, {"lib": lib, "x": x, "y": y, "w": w})
    edges = [None if n is None else type(n).__name__.replace("torch::autograd::", "")
             for n, _ in node.grad_fn.next_functions]
    return type(node.grad_fn).__name__, edges


@pytest.mark.parametrize("expression", NODE_EXPRESSIONS)
@requires_torch
def test_grad_fn_names_match_torch(expression):
    assert _node_structure(dark, expression) == _node_structure(torch, expression)


def test_conversion_to_same_dtype_returns_self():
    x = dark.ones(3, requires_grad=True)
    assert x.float() is x and x.to(dark.float32) is x
    assert x.double().grad_fn.name() == "ToCopyBackward0"


# ----------------------------------------------------------------------------- in-place

def _lib_pair(values, dtype="float32", requires_grad=False):
    return [lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=requires_grad)
            for lib in (dark, torch)]


INPLACE_CASES = [
    ("add_", lambda x, lib: x.add_(lib.tensor([1.0, 2.0, 3.0]), alpha=2)),
    ("sub_", lambda x, lib: x.sub_(1.5)),
    ("mul_", lambda x, lib: x.mul_(lib.tensor(2.0))),
    ("div_", lambda x, lib: x.div_(lib.tensor([[2.0], [4.0]]).squeeze(1)[0])),
    ("div_floor", lambda x, lib: x.div_(0.7, rounding_mode="floor")),
    ("pow_", lambda x, lib: x.pow_(2)),
    ("iadd", lambda x, lib: x.__iadd__(3)),
    ("isub", lambda x, lib: x.__isub__(lib.ones(3))),
    ("imul", lambda x, lib: x.__imul__(-1)),
    ("itruediv", lambda x, lib: x.__itruediv__(4)),
    ("ipow", lambda x, lib: x.__ipow__(3)),
    ("imod", lambda x, lib: x.__imod__(0.7)),
    ("clamp_", lambda x, lib: x.clamp_(-0.5, 1.0)),
    ("clip_", lambda x, lib: x.clip_(max=0.0)),
    ("neg_", lambda x, lib: x.neg_()),
    ("exp_", lambda x, lib: x.exp_()),
    ("sigmoid_", lambda x, lib: x.sigmoid_()),
    ("relu_", lambda x, lib: x.relu_()),
    ("abs_", lambda x, lib: x.abs_()),
    ("floor_", lambda x, lib: x.floor_()),
    ("round_", lambda x, lib: x.round_()),
    ("tanh_", lambda x, lib: x.tanh_()),
    ("erf_", lambda x, lib: x.erf_()),
    ("lerp_", lambda x, lib: x.lerp_(lib.zeros_like(x), 0.25)),
    ("add_double_into_float", lambda x, lib: x.add_(lib.ones(3, dtype=lib.float64) / 3)),
    ("zero_", lambda x, lib: x.zero_()),
    ("fill_", lambda x, lib: x.fill_(2.5)),
    ("fill_tensor", lambda x, lib: x.fill_(lib.tensor(-1.0))),
    ("copy_", lambda x, lib: x.copy_(lib.tensor([7, 8, 9]))),
    ("eq_", lambda x, lib: x.eq_(0.5)),
]


@pytest.mark.parametrize("name, fn", INPLACE_CASES, ids=[c[0] for c in INPLACE_CASES])
def test_inplace_no_grad_in_place(name, fn):
    d = dark.tensor([0.5, -1.5, 2.0])
    pointer, version = d.data_ptr(), d._version
    assert fn(d, dark) is d
    assert d.data_ptr() == pointer, "in-place op replaced the array"
    assert d._version > version


@pytest.mark.parametrize("name, fn", INPLACE_CASES, ids=[c[0] for c in INPLACE_CASES])
@requires_torch
def test_inplace_no_grad_matches_torch_in_place(name, fn):
    d, t = _lib_pair([0.5, -1.5, 2.0])
    assert fn(d, dark) is d and fn(t, torch) is t
    assert d.dtype.name == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)


GRAPH_INPLACE_CASES = [c for c in INPLACE_CASES if c[0] != "eq_"]


@pytest.mark.parametrize("name, fn", GRAPH_INPLACE_CASES, ids=[c[0] for c in GRAPH_INPLACE_CASES])
@requires_torch
def test_inplace_in_graph_matches_torch_gradients(name, fn):
    results = {}
    for lib in (dark, torch):
        leaf = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        x = leaf * 1.5
        out = fn(x, lib)
        assert out is x
        (x * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        grad = leaf.grad
        results[lib.__name__] = (x.detach().numpy().copy(),
                                 None if grad is None else grad.numpy().copy())
    np.testing.assert_allclose(results["dark"][0], results["torch"][0])
    if results["torch"][1] is None:
        assert results["dark"][1] is None or not results["dark"][1].any()
    else:
        np.testing.assert_allclose(results["dark"][1], results["torch"][1])


def test_fast_path_writes_into_own_array():
    weight = dark.randn(4, 3, requires_grad=True) if hasattr(dark, "randn") else \
        dark.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
                    requires_grad=True)
    (weight * 2).sum().backward()
    array = weight._data
    before = array.copy()
    weight.data.sub_(0.1 * weight.grad)
    assert weight._data is array
    np.testing.assert_allclose(array, before - 0.2, rtol=1e-6)
    with dark.no_grad():
        version = weight._version
        weight.mul_(0.5).add_(weight.grad, alpha=-1.0).div_(2)
        assert weight._data is array and weight._version == version + 3
    np.testing.assert_allclose(array, ((before - 0.2) * 0.5 - 2.0) / 2, rtol=1e-6)


@pytest.mark.parametrize("lib", LIBS)
def test_inplace_keeps_its_integer_dtype(lib):
    x = lib.ones(3, dtype=lib.int32)
    x.add_(lib.ones(3, dtype=lib.int64))
    x += 1
    assert x.tolist() == [3, 3, 3] and x.dtype == lib.int32


def test_inplace_casting_rules():
    for call in (lambda x, lib: x.add_(2.5), lambda x, lib: x.div_(2),
                 lambda x, lib: x.__iadd__(lib.ones(3)), lambda x, lib: x.exp_(),
                 lambda x, lib: x.mul_(lib.ones(3, dtype=lib.float64))):
        with pytest.raises(RuntimeError,
                           match="result type Float can't be cast to the desired output type "
                                 "Long|result type Double can't be cast"):
            call(dark.ones(3, dtype=dark.int64), dark)
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired "
                                           "output type Bool"):
        dark.tensor([True]).add_(1)
    x = dark.ones(3, dtype=dark.int64, requires_grad=False)
    version = x._version
    with pytest.raises(RuntimeError):
        x.add_(0.5)
    assert x._version == version and x.tolist() == [1, 1, 1]


def test_inplace_shape_and_leaf_errors():
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        dark.ones(3).add_(dark.ones(2, 3))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                           "in an in-place operation"):
        dark.ones(3, requires_grad=True).add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x = dark.ones(3, requires_grad=True)
        x += 1
    leaf = dark.ones(3, requires_grad=True)
    with dark.no_grad():
        leaf.mul_(2)
    assert leaf.tolist() == [2.0, 2.0, 2.0] and leaf.grad_fn is None


def test_inplace_invalidates_saved_tensor():
    leaf = dark.tensor([1.0, 2.0], requires_grad=True)
    x = leaf * 1
    y = x.exp()
    x.add_(1)
    y.exp_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_fill_zero_copy():
    x = dark.ones(2, 3, dtype=dark.int64)
    x.fill_(2.7)
    assert x.tolist() == [[2, 2, 2], [2, 2, 2]]
    x.fill_(dark.tensor(5.5))
    assert x.tolist() == [[5, 5, 5], [5, 5, 5]]
    x.zero_()
    assert x.tolist() == [[0, 0, 0], [0, 0, 0]]
    x.copy_(dark.tensor([1.9, -2.7, 3.0]))
    assert x.tolist() == [[1, -2, 3], [1, -2, 3]]
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor but "
                                           "got tensor with 1 dimensions"):
        x.fill_(dark.ones(2))
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                           r"tensor b \(4\) at non-singleton dimension 1"):
        x.copy_(dark.ones(4))
    with pytest.raises(TypeError):
        x.copy_(3)


@pytest.mark.parametrize("lib", LIBS)
def test_copy_and_fill_gradients_match_torch(lib):
    a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = lib.tensor([4.0], dtype=lib.float64, requires_grad=True)
    v = lib.tensor(2.0, requires_grad=True)
    x = a * 2
    x.copy_(b)
    z = a * 3
    z.fill_(v)
    (x * lib.tensor([1.0, 2.0, 3.0]) + z).sum().backward()
    assert type(x.grad_fn).__name__ == "CopyBackwards"
    # a is overwritten by both: no gradient flows to it; b is broadcast over 3 entries
    assert a.grad.tolist() == [0.0, 0.0, 0.0] and a.grad.dtype == lib.float32
    assert b.grad.tolist() == [6.0] and b.grad.dtype == lib.float64
    assert v.grad.item() == 3.0 and v.grad.shape == ()


# ----------------------------------------------------------------------------- out=

def test_out_argument():
    out = dark.empty(0)
    result = dark.add(dark.ones(2, 3), 1, out=out)
    assert result is out and out.shape == (2, 3) and out.tolist() == [[2.0] * 3] * 2
    out64 = dark.zeros(3, dtype=dark.float64)
    dark.mul(dark.ones(3), 3, out=out64)
    assert out64.dtype == dark.float64 and out64.tolist() == [3.0, 3.0, 3.0]
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        dark.div(dark.ones(3), 2, out=dark.zeros(3, dtype=dark.int64))
    with pytest.raises(RuntimeError, match="output with shape"):
        dark.exp(dark.ones(3), out=dark.zeros(4))
    bools = dark.zeros(3, dtype=dark.bool)
    dark.lt(dark.tensor([1, 5, 2]), 3, out=bools)
    assert bools.tolist() == [True, False, True]


# ----------------------------------------------------------------------------- errors

def test_broadcast_error_message():
    for op in (lambda a, b: a + b, lambda a, b: a * b, dark.maximum, dark.atan2,
               lambda a, b: a == b, lambda a, b: dark.where(a > 0, a, b)):
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size "
                                               r"of tensor b \(4\) at non-singleton dimension 1"):
            op(dark.ones(2, 3), dark.ones(2, 4))


def test_error_cases_match_torch():
    b = dark.tensor([True, False])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool "
                                           "tensors is not supported"):
        operator.sub(b, b)
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        operator.neg(b)
    with pytest.raises(TypeError, match="unsupported operand"):
        dark.ones(3) + "a"
    with pytest.raises(TypeError, match=r"add\(\): argument 'other' \(position 2\) must be "
                                        r"Tensor or Number, not str"):
        dark.add(dark.ones(3), "a")
    with pytest.raises(TypeError, match=r"maximum\(\): argument 'other' \(position 2\) must "
                                        r"be Tensor, not int"):
        dark.maximum(dark.ones(3), 2)
    with pytest.raises(TypeError, match="dtype must be a dark.dtype"):
        dark.ones(3).to(dtype="float32")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        dark.tensor([5]) // 0
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not "
                                           "allowed"):
        dark.tensor([2]) ** -1
    with pytest.raises(RuntimeError, match="div expected rounding_mode to be one of None, "
                                           "'trunc', or 'floor' but found 'bad'"):
        dark.div(dark.ones(2), 2, rounding_mode="bad")
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        dark.clamp(dark.ones(2))
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        dark.where(dark.ones(3), 1.0, 2.0)
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype "
                                           "double"):
        dark.lerp(dark.ones(3), dark.ones(3, dtype=dark.float64), 0.5)
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        dark.isclose(dark.ones(3), dark.ones(3, dtype=dark.float64))
    with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha must "
                                           "not be a floating point number"):
        dark.add(dark.ones(3, dtype=dark.int64), 1, alpha=2.5)
    with pytest.raises(TypeError, match="~ \\(operator.invert\\) is only implemented on "
                                        "integer and Boolean-type tensors"):
        ~dark.ones(3)
    with pytest.raises(NotImplementedError, match="\"bitwise_and_cpu\" not implemented for "
                                                  "'Float'"):
        dark.ones(3) & dark.ones(3)
    with pytest.raises(NotImplementedError):
        dark.abs(b)
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not "
                                           "implemented"):
        (dark.ones(2, requires_grad=True) // 2).sum().backward()


def test_comparison_with_other_types():
    x = dark.ones(3)
    assert (x == None) is False  # noqa: E711 - the operator itself is under test
    assert (x != "a") is True
    with pytest.raises(TypeError):
        operator.lt(x, "a")
    assert x in [x]


@requires_torch
def test_allclose_equal_match_torch():
    pairs = [([1.0, 2.0], [1.0, 2.000001]), ([1.0, 2.0], [1.0, 2.1]),
             ([1.0, math.inf], [1.0, math.inf]), ([math.nan], [math.nan])]
    for left, right in pairs:
        for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.1}):
            assert dark.allclose(dark.tensor(left), dark.tensor(right), **kwargs) == \
                torch.allclose(torch.tensor(left), torch.tensor(right), **kwargs)
        assert dark.equal(dark.tensor(left), dark.tensor(right)) == \
            torch.equal(torch.tensor(left), torch.tensor(right))


def test_equal_across_dtypes_and_shapes():
    assert dark.equal(dark.ones(3), dark.ones(3, dtype=dark.int64))
    assert not dark.equal(dark.ones(3), dark.ones(4))


def test_matmul_operator_uses_linalg():
    from dark.ops import linalg

    if not hasattr(linalg, "matmul"):
        pytest.skip("dark.ops.linalg.matmul is not written yet")
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose((dark.tensor(a) @ dark.tensor(b)).numpy(), a @ b)


@requires_torch
def test_real_tensor_to_complex_power_matches_torch():
    # the negative-integer-power check once compared the complex exponent with 0 (TypeError)
    for values in ([1.0, 2.0], [1, 2]):
        got = dark.tensor(values) ** 1j
        expected = torch.tensor(values) ** 1j
        assert got.dtype.name == str(expected.dtype).split(".")[1]
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_tanh_atan_asinh_warn_on_no_input():
    values = np.array([0.0, -0.0, 1e-45, 1e-310, 3e38, -3e38, np.inf, -np.inf, np.nan, 1e4])
    for dtype in (dark.float16, dark.float32, dark.float64):
        with np.errstate(all="ignore"):
            x = dark.tensor(values.astype(dtype.np))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for op in (dark.tanh, dark.atan, dark.asinh):
                op(x)


@requires_torch
@pytest.mark.parametrize("exponent", [2, 3, 2.0, 3.0])
def test_pow_square_and_cube_are_torch_bitwise(exponent):
    # torch multiplies float32/64 squares and cubes out (x*x, x*x*x): numpy's pow can
    # differ from that by an ulp; float16 rounds once in both
    values = np.random.default_rng(0).standard_normal(2000) * 10
    for np_dtype in (np.float16, np.float32, np.float64):
        got = (dark.tensor(values.astype(np_dtype)) ** exponent).numpy()
        expected = (torch.tensor(values.astype(np_dtype)) ** exponent).numpy()
        np.testing.assert_array_equal(got, expected)
