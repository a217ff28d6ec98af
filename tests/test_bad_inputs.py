"""Bad inputs (issue 13): python numbers that do not fit the dtype they go into (PyTorch's
overflow errors, and its wrap-around or inf where it has those instead), non-finite logits in
softmax and cross entropy (PyTorch's NaN and no numpy warning), NaN in binary_cross_entropy
(PyTorch's range errors).

Each case is written once for ``lib`` (dark or torch) with literal expectations: the dark run
always happens; the torch run, which checks that the literals are PyTorch's, skips without
torch."""
import math
import warnings

import numpy as np
import pytest
from harness import LIBS

import dark
from dark import _backend

inf, nan = math.inf, math.nan


@pytest.fixture(params=LIBS)
def lib(request):
    return request.param


def _set(tensor, index, value):
    tensor[index] = value
    return tensor


def _overflow(type_name):
    return RuntimeError, f"value cannot be converted to type {type_name} without overflow"


_UNPACK = (ValueError, "Overflow when unpacking long long")

# ----------------------------------------------------------------------------- overflow errors

# (call, (error type, message)). torch.tensor's data names the dtype ("int32"); a Scalar
# argument (full, fill_, masked_fill, clamp ...) names the C++ type ("int", "int8_t").
ERRORS = {
    # torch.tensor and the factories that read data the same way
    "tensor_int32": (lambda L: L.tensor([2**40], dtype=L.int32), _overflow("int32")),
    "tensor_uint8": (lambda L: L.tensor([300], dtype=L.uint8), _overflow("uint8")),
    "tensor_uint8_below": (lambda L: L.tensor([-256], dtype=L.uint8), _overflow("uint8")),
    "tensor_int8_number": (lambda L: L.tensor(128, dtype=L.int8), _overflow("int8")),
    "tensor_int32_number": (lambda L: L.tensor(2**31, dtype=L.int32), _overflow("int32")),
    "tensor_int16": (lambda L: L.tensor([2**15], dtype=L.int16), _overflow("int16")),
    "tensor_nested": (lambda L: L.tensor([[1, 2], [3, 2**40]], dtype=L.int32),
                      _overflow("int32")),
    "tensor_float_item": (lambda L: L.tensor([1.5e10], dtype=L.int32), _overflow("int32")),
    "tensor_nan_item": (lambda L: L.tensor([nan], dtype=L.int64), _overflow("int64")),
    "tensor_inf_item": (lambda L: L.tensor([1.0, inf], dtype=L.int32), _overflow("int32")),
    "tensor_negative_float_uint8": (lambda L: L.tensor([1, -1.0], dtype=L.uint8),
                                    _overflow("uint8")),
    "tensor_fraction_above_uint8": (lambda L: L.tensor(255.5, dtype=L.uint8),
                                    _overflow("uint8")),
    "tensor_numpy_number": (lambda L: L.tensor(np.int64(300), dtype=L.uint8),
                            _overflow("uint8")),
    "tensor_numpy_item": (lambda L: L.tensor([np.float64(300.0)], dtype=L.uint8),
                          _overflow("uint8")),
    "tensor_tensor_item": (lambda L: L.tensor([L.tensor(300)], dtype=L.uint8),
                           _overflow("uint8")),
    "tensor_bool_and_int": (lambda L: L.tensor([True, 300], dtype=L.uint8), _overflow("uint8")),
    "tensor_beyond_int64": (lambda L: L.tensor([1, 2**63]), _UNPACK),
    "tensor_beyond_int64_nested": (lambda L: L.tensor([[1, 2], [2**63, 1]]), _UNPACK),
    "tensor_complex_to_int": (lambda L: L.tensor([1 + 2j], dtype=L.int32),
                              (TypeError, "'complex' object cannot be interpreted as an integer")),
    "tensor_complex_to_float": (lambda L: L.tensor([1 + 0j], dtype=L.float32),
                                (TypeError, "must be real number, not complex")),
    "as_tensor_list": (lambda L: L.as_tensor([2**40], dtype=L.int32), _overflow("int32")),
    "as_tensor_number": (lambda L: L.as_tensor(2**40, dtype=L.int32), _overflow("int32")),
    "asarray": (lambda L: L.asarray([300], dtype=L.uint8), _overflow("uint8")),
    "new_tensor": (lambda L: L.zeros(2, dtype=L.int8).new_tensor([300]), _overflow("int8")),
    # full and the fills
    "full_int32": (lambda L: L.full((2,), 2**40, dtype=L.int32), _overflow("int")),
    "full_uint8": (lambda L: L.full((2,), 300, dtype=L.uint8), _overflow("uint8_t")),
    "full_uint8_below": (lambda L: L.full((2,), -256, dtype=L.uint8), _overflow("uint8_t")),
    "full_uint8_negative_float": (lambda L: L.full((2,), -1.0, dtype=L.uint8),
                                  _overflow("uint8_t")),
    "full_int16": (lambda L: L.full((2,), 2**15, dtype=L.int16), _overflow("int16_t")),
    "full_int64_inferred": (lambda L: L.full((2,), 2**63), _overflow("int64_t")),
    "full_float16": (lambda L: L.full((2,), 1e6, dtype=L.float16), _overflow("c10::Half")),
    "full_float32": (lambda L: L.full((2,), 1e40, dtype=L.float32), _overflow("float")),
    "full_nan_to_int": (lambda L: L.full((2,), nan, dtype=L.int32), _overflow("int")),
    "full_complex_to_float": (lambda L: L.full((2,), 1 + 1j, dtype=L.float32),
                              _overflow("float")),
    "full_complex64": (lambda L: L.full((2,), 1e40, dtype=L.complex64),
                       _overflow("c10::complex<float>")),
    "full_empty": (lambda L: L.full((0,), 300, dtype=L.int8), _overflow("int8_t")),
    "full_beyond_uint64": (lambda L: L.full((2,), 2**64),
                           (OverflowError, "int too big to convert")),
    "full_below_int64": (lambda L: L.full((2,), -2**63 - 1),
                         (OverflowError, "can't convert negative int to unsigned")),
    "full_like": (lambda L: L.full_like(L.zeros(2, dtype=L.int32), 2**40), _overflow("int")),
    "full_like_dtype": (lambda L: L.full_like(L.zeros(2), 300, dtype=L.uint8),
                        _overflow("uint8_t")),
    "new_full": (lambda L: L.zeros(2, dtype=L.int8).new_full((2,), 300), _overflow("int8_t")),
    "scalar_tensor": (lambda L: L.scalar_tensor(300, dtype=L.uint8), _overflow("uint8_t")),
    "scalar_tensor_float32": (lambda L: L.scalar_tensor(1e40, dtype=L.float32),
                              _overflow("float")),
    "fill_int32": (lambda L: L.zeros(2, dtype=L.int32).fill_(2**40), _overflow("int")),
    "fill_float16": (lambda L: L.zeros(2, dtype=L.float16).fill_(1e6), _overflow("c10::Half")),
    "fill_float32": (lambda L: L.zeros(2).fill_(1e40), _overflow("float")),
    "fill_numpy_number": (lambda L: L.zeros(2, dtype=L.int8).fill_(np.int64(300)),
                          _overflow("int8_t")),
    "fill_empty": (lambda L: L.zeros(0, dtype=L.int8).fill_(300), _overflow("int8_t")),
    # x[i] = number
    "setitem_int": (lambda L: _set(L.zeros(2, dtype=L.int8), 0, 300), _overflow("int8_t")),
    "setitem_slice": (lambda L: _set(L.zeros(2, dtype=L.int32), slice(None), 2**40),
                      _overflow("int")),
    "setitem_mask": (lambda L: _set(L.zeros(2, dtype=L.int32), L.tensor([True, False]), 2**40),
                     _overflow("int")),
    "setitem_index_tensor": (lambda L: _set(L.zeros(2, dtype=L.int32), L.tensor([0]), 2**40),
                             _overflow("int")),
    "setitem_nothing_selected": (lambda L: _set(L.zeros(2, dtype=L.int8), slice(0, 0), 300),
                                 _overflow("int8_t")),
    "setitem_float32": (lambda L: _set(L.zeros(2), 0, 1e40), _overflow("float")),
    "setitem_fraction_above_uint8": (lambda L: _set(L.zeros(2, dtype=L.uint8), 0, 255.5),
                                     _overflow("uint8_t")),
    "setitem_nan_to_int": (lambda L: _set(L.zeros(2, dtype=L.int32), 0, nan), _overflow("int")),
    "setitem_complex_to_float": (lambda L: _set(L.zeros(2), 0, 1 + 1j), _overflow("float")),
    "setitem_beyond_int64": (lambda L: _set(L.zeros(2), 0, 2**63), _UNPACK),
    # masked_fill, index_fill, scatter's value
    "masked_fill": (lambda L: L.zeros(2, dtype=L.int8).masked_fill(L.tensor([True, False]), 300),
                    _overflow("int8_t")),
    "masked_fill_nothing_masked": (
        lambda L: L.zeros(2, dtype=L.int8).masked_fill(L.tensor([False, False]), 300),
        _overflow("int8_t")),
    "masked_fill_": (lambda L: L.zeros(2, dtype=L.int8).masked_fill_(L.tensor([True, False]), 300),
                     _overflow("int8_t")),
    "masked_fill_0d_tensor": (
        lambda L: L.zeros(2, dtype=L.int8).masked_fill(L.tensor([True, False]), L.tensor(300)),
        _overflow("int8_t")),
    "masked_fill_float16": (
        lambda L: L.zeros(2, dtype=L.float16).masked_fill(L.tensor([True, False]), 1e6),
        _overflow("c10::Half")),
    "index_fill": (lambda L: L.zeros(2, dtype=L.int8).index_fill(0, L.tensor([0]), 300),
                   _overflow("int8_t")),
    "index_fill_0d_tensor": (
        lambda L: L.zeros(2, dtype=L.int8).index_fill(0, L.tensor([0]), L.tensor(300)),
        _overflow("int8_t")),
    "index_fill_float32": (lambda L: L.zeros(2).index_fill(0, L.tensor([0]), 1e40),
                           _overflow("float")),
    "scatter_value": (lambda L: L.zeros(2, dtype=L.int8).scatter(0, L.tensor([0]), 300),
                      _overflow("int8_t")),
    "scatter__value": (lambda L: L.zeros(2, dtype=L.int8).scatter_(0, L.tensor([0]), 300),
                       _overflow("int8_t")),
    "scatter_value_reduce": (
        lambda L: L.zeros(2, dtype=L.int8).scatter(0, L.tensor([0]), 300, reduce="add"),
        _overflow("int8_t")),
    "scatter_value_float32": (lambda L: L.zeros(2).scatter(0, L.tensor([0]), 1e40),
                              _overflow("float")),
    # clamp's bounds, where's numbers, pow's exponent, alpha, pad's value
    "clamp": (lambda L: L.zeros(2, dtype=L.int8).clamp(0, 300), _overflow("int8_t")),
    "clamp_min_keyword": (lambda L: L.zeros(2, dtype=L.int8).clamp(min=-300),
                          _overflow("int8_t")),
    "clamp_": (lambda L: L.zeros(2, dtype=L.int8).clamp_(0, 300), _overflow("int8_t")),
    "clamp_min": (lambda L: L.zeros(2, dtype=L.int8).clamp_min(300), _overflow("int8_t")),
    "clamp_max": (lambda L: L.zeros(2, dtype=L.int8).clamp_max(300), _overflow("int8_t")),
    "clip": (lambda L: L.zeros(2, dtype=L.int8).clip(0, 300), _overflow("int8_t")),
    "clamp_int32": (lambda L: L.zeros(2, dtype=L.int32).clamp(max=2**40), _overflow("int")),
    "clamp_float16": (lambda L: L.zeros(2, dtype=L.float16).clamp(0, 1e6),
                      _overflow("c10::Half")),
    "clamp_float32": (lambda L: L.zeros(2).clamp(-1e40, 5), _overflow("float")),
    "where": (lambda L: L.where(L.tensor([False]), L.tensor([1], dtype=L.int8), 300),
              _overflow("int8_t")),
    "where_number_first": (lambda L: L.where(L.tensor([True]), 300, L.tensor([1], dtype=L.int8)),
                           _overflow("int8_t")),
    "where_method": (lambda L: L.tensor([1], dtype=L.int8).where(L.tensor([False]), 300),
                     _overflow("int8_t")),
    "where_float32": (lambda L: L.where(L.tensor([False]), L.tensor([1.0]), 1e40),
                      _overflow("float")),
    "pow": (lambda L: L.tensor([1], dtype=L.int8) ** 300, _overflow("int8_t")),
    "pow_method": (lambda L: L.tensor([1], dtype=L.int32).pow(2**40), _overflow("int")),
    "pow_float16": (lambda L: L.tensor([1.0], dtype=L.float16).pow(70000),
                    _overflow("c10::Half")),
    "add_alpha": (lambda L: L.tensor([1], dtype=L.int8).add(1, alpha=300), _overflow("int8_t")),
    "sub_alpha": (lambda L: L.tensor([1], dtype=L.int8).sub(L.tensor([1], dtype=L.int8),
                                                            alpha=-129), _overflow("int8_t")),
    "add_alpha_float32": (lambda L: L.zeros(2).add(L.zeros(2), alpha=1e40), _overflow("float")),
    "add_alpha_bool": (lambda L: L.tensor([1], dtype=L.int8).add(1, alpha=True),
                       (RuntimeError, "Boolean alpha only supported for Boolean results.")),
    "add_alpha_complex": (lambda L: L.zeros(2).add(1, alpha=1j),
                          (RuntimeError, "For non-complex input tensors, argument alpha must "
                                         "not be a complex number.")),
    "pad": (lambda L: L.nn.functional.pad(L.zeros(2, dtype=L.int8), (1, 1), value=300),
            _overflow("int8_t")),
    "pad_negative_uint8": (lambda L: L.nn.functional.pad(L.zeros(2, dtype=L.uint8), (1, 1),
                                                          value=-1), _overflow("uint8_t")),
    "index_add_alpha": (lambda L: L.zeros(2, dtype=L.int8).index_add(
        0, L.tensor([0]), L.ones(1, dtype=L.int8), alpha=300), _overflow("int8_t")),
    "threshold_value": (lambda L: L.nn.functional.threshold(L.zeros(2, dtype=L.int8), 0, 300),
                        _overflow("int8_t")),
    "threshold_value_float16": (
        lambda L: L.nn.functional.threshold(L.zeros(2, dtype=L.float16), 0, 1e6),
        _overflow("c10::Half")),
    "threshold_threshold_int8": (
        lambda L: L.nn.functional.threshold(L.zeros(2, dtype=L.int8), 300, 0),
        _overflow("int8_t")),
    "threshold_": (lambda L: L.nn.functional.threshold_(L.zeros(2, dtype=L.int8), 0, 300),
                   _overflow("int8_t")),
    "hardtanh": (lambda L: L.nn.functional.hardtanh(L.zeros(2, dtype=L.int8), -300, 300),
                 _overflow("int8_t")),
    "hardtanh_float16": (lambda L: L.nn.functional.hardtanh(L.zeros(2, dtype=L.float16), -1, 1e6),
                         _overflow("c10::Half")),
    "hardtanh_uint8_negative": (
        lambda L: L.nn.functional.hardtanh(L.zeros(2, dtype=L.uint8), -1, 5),
        (RuntimeError, "cannot do hardtanh on an unsigned type with negative limits")),
    "compare_beyond_uint64": (lambda L: L.tensor([1], dtype=L.int8) < 2**64,
                              (OverflowError, "int too big to convert")),
    "add_beyond_uint64": (lambda L: L.tensor([1], dtype=L.int8) + 2**64,
                          (OverflowError, "int too big to convert")),
    "add_below_int64": (lambda L: L.tensor([1]) + (-2**63 - 1),
                        (OverflowError, "can't convert negative int to unsigned")),
    "linspace_uint8": (lambda L: L.linspace(0, 300, 3, dtype=L.uint8), _overflow("uint8_t")),
    "linspace_float32": (lambda L: L.linspace(0, 1e40, 3), _overflow("float")),
    "logspace_uint8": (lambda L: L.logspace(0, 300, 3, dtype=L.uint8), _overflow("uint8_t")),
}


@pytest.mark.parametrize("case", ERRORS)
def test_number_that_does_not_fit_raises(lib, case):
    call, (error, message) = ERRORS[case]
    with pytest.raises(error) as info:
        call(lib)
    assert str(info.value) == message


# ----------------------------------------------------------------------------- no error

# (call, dtype name, values): where PyTorch wraps around (a negative int into uint8), gives
# inf (a float16 not checked, torch.tensor's floats) or takes the number (an int beyond int64
# into a float dtype), silently: numpy's overflow warnings are errors here.
VALUES = {
    "tensor_float16_inf": (lambda L: L.tensor([1e6, -1e6], dtype=L.float16), "float16",
                           [inf, -inf]),
    "tensor_float32_inf": (lambda L: L.tensor([1e40]), "float32", [inf]),
    "tensor_big_int_to_float": (lambda L: L.tensor([2**70, 1.5], dtype=L.float64), "float64",
                                [2.0**70, 1.5]),
    "tensor_big_int_to_float16": (lambda L: L.tensor(2**63, dtype=L.float16), "float16", inf),
    "tensor_big_int_to_bool": (lambda L: L.tensor([2**70, 0], dtype=L.bool), "bool",
                               [True, False]),
    "tensor_big_int_default_float": (lambda L: L.tensor([2**70, 1.0]), "float32",
                                     [2.0**70, 1.0]),
    "Tensor_big_int": (lambda L: L.Tensor([2**70]), "float32", [2.0**70]),
    "fill_uint8_wraps": (lambda L: L.zeros(2, dtype=L.uint8).fill_(-1), "uint8", [255, 255]),
    "setitem_uint8_wraps": (lambda L: _set(L.zeros(2, dtype=L.uint8), 0, -1), "uint8",
                            [255, 0]),
    "setitem_float16_inf": (lambda L: _set(L.zeros(2, dtype=L.float16), 0, 1e6), "float16",
                            [inf, 0.0]),
    "scalar_tensor_uint8_wraps": (lambda L: L.scalar_tensor(-1, dtype=L.uint8), "uint8", 255),
    "scalar_tensor_float16_inf": (lambda L: L.scalar_tensor(1e6, dtype=L.float16), "float16",
                                  inf),
    "where_uint8_wraps": (lambda L: L.where(L.tensor([False]), L.tensor([1], dtype=L.uint8), -1),
                          "uint8", [255]),
    "where_float16_inf": (
        lambda L: L.where(L.tensor([False]), L.tensor([1.0], dtype=L.float16), 1e6), "float16",
        [inf]),
    "clamp_uint8_wraps": (lambda L: L.zeros(2, dtype=L.uint8).clamp(-1, 5), "uint8", [5, 5]),
    "scatter_uint8_wraps": (lambda L: L.zeros(2, dtype=L.uint8).scatter(0, L.tensor([0]), -1),
                            "uint8", [255, 0]),
    "full_complex_no_imaginary": (lambda L: L.full((2,), 1 + 0j, dtype=L.float32), "float32",
                                  [1.0, 1.0]),
    "float16_plus_large": (lambda L: L.tensor([1.0], dtype=L.float16) + 1e6, "float16", [inf]),
    "float16_times_large": (lambda L: L.tensor([-1.0], dtype=L.float16) * 1e6, "float16",
                            [-inf]),
    "arange_float16_inf": (lambda L: L.arange(0, 1e6, 5e5, dtype=L.float16), "float16",
                           [0.0, inf]),
    "nan_to_num_float16_inf": (
        lambda L: L.nan_to_num(L.tensor([nan, inf], dtype=L.float16), nan=1e6, posinf=-1e6),
        "float16", [inf, -inf]),
    "add__float16_inf": (lambda L: L.ones(2, dtype=L.float16).add_(1e6), "float16", [inf, inf]),
    "mul__float32_inf": (lambda L: L.ones(2).mul_(-1e40), "float32", [-inf, -inf]),
    "div__float16_tiny": (lambda L: L.ones(2, dtype=L.float16).div_(1e-8), "float16",
                          [inf, inf]),
    # an integer tensor compared with a python int: the int wraps into the dtype first, as in
    # the arithmetic (int8 < 300 is int8 < 44)
    "lt_wraps": (lambda L: L.tensor([100, -100], dtype=L.int8) < 300, "bool", [False, True]),
    "eq_wraps": (lambda L: L.tensor([100], dtype=L.int8) == 356, "bool", [True]),
    "ge_method_wraps": (lambda L: L.tensor([100, -100], dtype=L.int8).ge(2**40), "bool",
                        [True, False]),
    "gt_uint8_negative_wraps": (lambda L: L.tensor([100], dtype=L.uint8) > -1, "bool", [False]),
    "reflected_wraps": (lambda L: 300 > L.tensor([100], dtype=L.int8), "bool", [False]),
    # casts between tensors (and from arrays) are not checked: a float beyond float16 is inf
    "to_float16_inf": (lambda L: L.tensor([1e6, -1e6]).to(L.float16), "float16", [inf, -inf]),
    "half_inf": (lambda L: L.tensor([1e6], dtype=L.float64).half(), "float16", [inf]),
    "half_of_int_inf": (lambda L: L.tensor([70000, 1]).half(), "float16", [inf, 1.0]),
    "tensor_int_to_float16_inf": (lambda L: L.tensor([2**40, 1], dtype=L.float16), "float16",
                                  [inf, 1.0]),
    "copy_float16_inf": (lambda L: L.zeros(2, dtype=L.float16).copy_(L.tensor([1e6, 2.0])),
                         "float16", [inf, 2.0]),
    "fill_tensor_float16_inf": (lambda L: L.zeros(2, dtype=L.float16).fill_(L.tensor(1e6)),
                                "float16", [inf, inf]),
    "fill_tensor_float16_inf_recorded": (
        lambda L: L.zeros(2, dtype=L.float16, requires_grad=True).clone().fill_(
            L.tensor(1e6, requires_grad=True)).detach(), "float16", [inf, inf]),
    "clamp_tensor_bound_float16": (
        lambda L: L.zeros(2, dtype=L.float16).clamp(max=L.tensor(1e6)), "float16", [0.0, 0.0]),
    "tensor_of_array_float16_inf": (lambda L: L.tensor(np.array([1e6]), dtype=L.float16),
                                    "float16", [inf]),
    "as_tensor_of_array_float16_inf": (lambda L: L.as_tensor(np.array([1e6]), dtype=L.float16),
                                       "float16", [inf]),
}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("case", VALUES)
def test_number_stored_silently(lib, case):
    call, dtype, values = VALUES[case]
    out = call(lib)
    assert str(out.dtype).split(".")[-1] == dtype
    assert out.tolist() == values


def test_overflow_errors_on_device(device):
    """The checks come before any array is made, so they are the same on a GPU."""
    with pytest.raises(RuntimeError, match="type uint8 without overflow"):
        dark.tensor([300], dtype=dark.uint8, device=device)
    with pytest.raises(RuntimeError, match="type int without overflow"):
        dark.full((2,), 2**40, dtype=dark.int32, device=device)
    x = dark.zeros(2, dtype=dark.int8, device=device)
    for bad in (lambda: x.fill_(300), lambda: _set(x, 0, 300),
                lambda: x.masked_fill(dark.tensor([True, False], device=device), 300)):
        with pytest.raises(RuntimeError, match="type int8_t without overflow"):
            bad()
    y = dark.zeros(2, dtype=dark.uint8, device=device)
    y[0] = -1
    assert y.fill_(-1).tolist() == [255, 255]


# ----------------------------------------------------------------------------- softmax, CE

# Logits with +inf (or a row all -inf): PyTorch's softmax is NaN along the row, so are the
# losses and their gradients; numpy's "invalid value" warnings (inf - inf) are errors here.
_TARGET = [1, 0]
SOFTMAX_LOSSES = {
    "cross_entropy": lambda L, x: L.nn.functional.cross_entropy(x, L.tensor(_TARGET)),
    "cross_entropy_none": lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor(_TARGET), reduction="none").sum(),
    "cross_entropy_smoothing": lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor(_TARGET), label_smoothing=0.1),
    "cross_entropy_probabilities": lambda L, x: L.nn.functional.cross_entropy(
        x, L.full((2, 3), 1 / 3)),
    "log_softmax": lambda L, x: L.nn.functional.log_softmax(x, dim=1).sum(),
    "softmax": lambda L, x: L.nn.functional.softmax(x, dim=1).sum(),
    "softmin_of_negated": lambda L, x: L.nn.functional.softmin(-x, dim=1).sum(),
    "tensor_log_softmax": lambda L, x: x.log_softmax(1).sum(),
}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("logits", [[[inf, 0.0, 1.0], [inf, inf, 0.0]],
                                    [[-inf, -inf, -inf], [-inf, -inf, -inf]]],
                         ids=["plus_inf", "all_minus_inf"])
@pytest.mark.parametrize("case", SOFTMAX_LOSSES)
def test_infinite_logits_give_nan_silently(lib, case, logits):
    x = lib.tensor(logits, requires_grad=True)
    loss = SOFTMAX_LOSSES[case](lib, x)
    loss.backward()
    assert math.isnan(loss.item())
    assert all(math.isnan(g) for g in x.grad.flatten().tolist())


@pytest.mark.filterwarnings("error")
def test_cross_entropy_nan_stays_in_its_row(lib):
    """A +inf logit makes its own row's loss and gradient NaN; the other rows keep theirs."""
    x = lib.tensor([[inf, 0.0], [0.0, 0.0]], requires_grad=True)
    loss = lib.nn.functional.cross_entropy(x, lib.tensor([0, 1]), reduction="none")
    loss.sum().backward()
    assert math.isnan(loss[0].item())
    assert loss[1].item() == pytest.approx(math.log(2))
    assert x.grad[1].tolist() == pytest.approx([0.5, -0.5])


@pytest.mark.filterwarnings("error")
def test_probability_target_zero_on_minus_inf_logit(lib):
    """A masked class (-inf logit) with probability 0 in the target: its term 0 * -inf is NaN,
    so is the loss (torch's value), silently; the gradient, softmax - target, stays finite."""
    x = lib.tensor([[-inf, 0.0, 1.0]], requires_grad=True)
    loss = lib.nn.functional.cross_entropy(x, lib.tensor([[0.0, 0.5, 0.5]]))
    loss.backward()
    assert math.isnan(loss.item())
    e = math.e
    assert x.grad.tolist() == [pytest.approx([0.0, 1 / (1 + e) - 0.5, e / (1 + e) - 0.5])]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_kl_div_zero_probability_on_minus_inf_log_probability(lib, reduction):
    log_probs = lib.tensor([[-inf, -0.5, -1.0]])
    loss = lib.nn.functional.kl_div(log_probs, lib.tensor([[0.0, 0.5, 0.5]]),
                                    reduction=reduction)
    assert math.isnan(loss.flatten()[0].item())


# ----------------------------------------------------------------------------- BCE

BCE_ERRORS = {
    "nan_input": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([nan, 0.5]), L.tensor([1.0, 0.0])), "input"),
    "nan_input_no_reduction": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, nan], dtype=L.float64), L.tensor([1.0, 0.0], dtype=L.float64),
        reduction="none"), "input"),
    "nan_input_module": (lambda L: L.nn.BCELoss()(L.tensor([nan]), L.tensor([1.0])), "input"),
    "nan_input_requires_grad": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([nan], requires_grad=True), L.tensor([1.0])), "input"),
    "nan_target": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, 0.5]), L.tensor([nan, 0.0])), "target"),
    "inf_target": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, 0.5]), L.tensor([inf, 0.0])), "target"),
    "target_above_one": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, 0.5]), L.tensor([2.0, 0.0])), "target"),
    "target_below_zero": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, 0.5]), L.tensor([1.0, -0.5])), "target"),
    "nan_input_and_bad_target": (lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([nan]), L.tensor([2.0])), "input"),
}


@pytest.mark.parametrize("case", BCE_ERRORS)
def test_binary_cross_entropy_out_of_range(lib, case):
    call, which = BCE_ERRORS[case]
    with pytest.raises(RuntimeError) as info:
        call(lib)
    assert str(info.value) == f"all elements of {which} should be between 0 and 1"


def test_binary_cross_entropy_nan_on_device(device):
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        dark.nn.functional.binary_cross_entropy(dark.tensor([nan], device=device),
                                                dark.tensor([1.0], device=device))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        dark.nn.functional.binary_cross_entropy(dark.tensor([0.5], device=device),
                                                dark.tensor([nan], device=device))


def test_numpy_floating_point_warnings_do_not_leave_dark():
    """inf * 0 in an op's forward and backward: torch is silent, so is dark; numpy used by
    the caller still warns (the filter is on dark's modules only)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        _backend.quiet_floating_point_warnings()  # what import dark did
        x = dark.tensor([float("inf"), 1.0], requires_grad=True)
        (x * 0).sum().backward()
        assert [str(w.message) for w in caught] == []
        assert x.grad.tolist() == [0.0, 0.0]
        np.float32(np.inf) * np.zeros(1, np.float32)
    assert [str(w.message) for w in caught] == ["invalid value encountered in multiply"]
