"""Tensor factories: values, dtypes, shapes and errors against PyTorch; memory sharing of
from_numpy / as_tensor; the *_like and new_* forms; device= and requires_grad=."""
import warnings

import numpy as np
import pytest
from harness import requires_torch, torch

import dark

# Each call is written once and run with lib=dark and lib=torch: same dtype, shape, values.
CALLS = {
    "tensor_int_nested": lambda L: L.tensor([[1, 2], [3, 4]]),
    "tensor_float_int_mix": lambda L: L.tensor([1, 2.5]),
    "tensor_bool_int_mix": lambda L: L.tensor([True, 1]),
    "tensor_bool": lambda L: L.tensor([True, False]),
    "tensor_scalar_float": lambda L: L.tensor(1.5),
    "tensor_scalar_int": lambda L: L.tensor(7),
    "tensor_complex": lambda L: L.tensor([1 + 2j, 3]),
    "tensor_empty": lambda L: L.tensor([]),
    "tensor_empty_nested": lambda L: L.tensor([[]]),
    "tensor_numpy_float64_scalar": lambda L: L.tensor([np.float64(1.0), 2]),
    "tensor_numpy_int32": lambda L: L.tensor(np.arange(6, dtype=np.int32).reshape(2, 3)),
    "tensor_numpy_float64": lambda L: L.tensor(np.linspace(0, 1, 5)),
    "tensor_of_0d_tensors": lambda L: L.tensor([L.tensor(1.5), L.tensor(2)]),
    "tensor_of_1elem_tensors": lambda L: L.tensor([L.tensor([1.0]), L.tensor([2.0])]),
    "tensor_dtype_float64": lambda L: L.tensor([0.1, 0.2], dtype=L.float64),
    "tensor_dtype_trunc": lambda L: L.tensor([1.7, -1.7], dtype=L.int64),
    "tensor_dtype_wrap_uint8": lambda L: L.tensor([-1, 255], dtype=L.uint8),
    "tensor_dtype_python_float": lambda L: L.tensor([1, 2], dtype=float),
    "tensor_tuple": lambda L: L.tensor(((1, 2), (3, 4)), dtype=L.int32),
    "zeros_varargs": lambda L: L.zeros(2, 3),
    "zeros_tuple": lambda L: L.zeros((2, 3), dtype=L.int32),
    "zeros_list": lambda L: L.zeros([4]),
    "zeros_size_kw": lambda L: L.zeros(size=(2, 1)),
    "zeros_0d": lambda L: L.zeros(()),
    "zeros_empty": lambda L: L.zeros(0, 3),
    "zeros_size_object": lambda L: L.zeros(L.ones(2, 5).shape),
    "zeros_numpy_int": lambda L: L.zeros(np.int64(3)),
    "ones_bool": lambda L: L.ones(2, dtype=L.bool),
    "ones_float64": lambda L: L.ones(2, 2, dtype=L.float64),
    "full_int": lambda L: L.full((2,), 1),
    "full_float": lambda L: L.full((2, 2), 1.5),
    "full_bool": lambda L: L.full((2,), True),
    "full_complex": lambda L: L.full((2,), 1 + 1j),
    "full_numpy_scalar": lambda L: L.full((2,), np.float64(2.5)),
    "full_0d_tensor": lambda L: L.full((3,), L.tensor(2.0, dtype=L.float64)),
    "full_dtype_wrap": lambda L: L.full((2,), -1, dtype=L.uint8),
    "full_bool_dtype": lambda L: L.full((2,), 1, dtype=L.bool),
    "eye": lambda L: L.eye(3),
    "eye_rect": lambda L: L.eye(2, 4, dtype=L.int64),
    "eye_empty": lambda L: L.eye(0),
    "arange_end": lambda L: L.arange(5),
    "arange_start_end": lambda L: L.arange(2, 7),
    "arange_negative_step": lambda L: L.arange(10, 0, -3),
    "arange_float_step": lambda L: L.arange(1, 2.5, 0.5),
    "arange_tenth": lambda L: L.arange(0, 1, 0.1),
    "arange_float_end": lambda L: L.arange(0, 1.05, 0.25),
    "arange_int_dtype_float_step": lambda L: L.arange(0, 5, 1.5, dtype=L.int64),
    "arange_int_dtype_float_end": lambda L: L.arange(0, 4.5, dtype=L.int64),
    "arange_int_dtype_float_start": lambda L: L.arange(-0.5, 3, dtype=L.int64),
    "arange_empty": lambda L: L.arange(5, 5),
    "arange_float64": lambda L: L.arange(4, dtype=L.float64),
    "arange_0d_tensor_int": lambda L: L.arange(L.tensor(4)),
    "arange_0d_tensor_float": lambda L: L.arange(L.tensor(3.0)),
    "arange_bool": lambda L: L.arange(True),
    "linspace": lambda L: L.linspace(0, 10, 5),
    "linspace_descending": lambda L: L.linspace(3, 1, 4),
    "linspace_odd": lambda L: L.linspace(-1.3, 7.7, 11),
    "linspace_one": lambda L: L.linspace(0, 1, 1),
    "linspace_zero": lambda L: L.linspace(0, 1, 0),
    "linspace_int64": lambda L: L.linspace(-5, 5, 4, dtype=L.int64),
    "linspace_int32": lambda L: L.linspace(0, 10, 4, dtype=L.int32),
    "linspace_float64": lambda L: L.linspace(0, 1, 7, dtype=L.float64),
    "logspace": lambda L: L.logspace(0, 2, 3),
    "logspace_base2": lambda L: L.logspace(-1, 3, 5, base=2),
    "logspace_int": lambda L: L.logspace(0, 2, 3, dtype=L.int64),
    "scalar_tensor": lambda L: L.scalar_tensor(1),
    "scalar_tensor_dtype": lambda L: L.scalar_tensor(2.5, dtype=L.float64),
    "zeros_like": lambda L: L.zeros_like(L.ones(2, 3, dtype=L.int32)),
    "ones_like_dtype": lambda L: L.ones_like(L.zeros(2), dtype=L.float64),
    "full_like": lambda L: L.full_like(L.ones(2, dtype=L.int64), 7.9),
    "new_zeros_varargs": lambda L: L.ones(2, dtype=L.float64).new_zeros(2, 3),
    "new_zeros_tuple": lambda L: L.ones(2).new_zeros((1, 3)),
    "new_ones_dtype": lambda L: L.ones(2).new_ones(3, dtype=L.int32),
    "new_full_self_dtype": lambda L: L.ones(2, dtype=L.int64).new_full((2,), 1.5),
    "new_full": lambda L: L.ones(2).new_full([2, 2], 3),
    "new_tensor_self_dtype": lambda L: L.ones(2).new_tensor([1, 2]),
    "new_tensor_dtype": lambda L: L.ones(2).new_tensor([1, 2], dtype=L.int16),
    "as_tensor_list": lambda L: L.as_tensor([1, 2], dtype=L.float64),
    "as_tensor_numpy_cast": lambda L: L.as_tensor(np.arange(3), dtype=L.float32),
    "asarray_list": lambda L: L.asarray([1, 2.0]),
    "asarray_numpy": lambda L: L.asarray(np.ones((2, 2), dtype=np.float16)),
    "from_numpy_uint8": lambda L: L.from_numpy(np.arange(4, dtype=np.uint8)),
    "from_numpy_bool": lambda L: L.from_numpy(np.array([True, False])),
}


def _name(dtype) -> str:
    return str(dtype).split(".")[-1]


@pytest.mark.parametrize("name", sorted(CALLS))
@requires_torch
def test_matches_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = CALLS[name](dark), CALLS[name](torch)
    assert _name(ours.dtype) == _name(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


# uninitialised results: only the shape and dtype can be compared
EMPTY_CALLS = [
    lambda L: L.empty(2, 3), lambda L: L.empty((0,), dtype=L.int32), lambda L: L.empty(()),
    lambda L: L.empty_like(L.ones(3, 1, dtype=L.float64)),
    lambda L: L.empty_like(L.ones(2), dtype=L.int16),
    lambda L: L.ones(2, dtype=L.int64).new_empty(4, 2), lambda L: L.ones(2).new_empty((3,)),
]


@pytest.mark.parametrize("call", EMPTY_CALLS)
@requires_torch
def test_empty_shapes_and_dtypes(call):
    ours, theirs = call(dark), call(torch)
    assert _name(ours.dtype) == _name(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)


def test_default_dtype_float64():
    previous = dark.get_default_dtype()
    dark.set_default_dtype(dark.float64)
    try:
        assert dark.tensor([1.5]).dtype is dark.float64
        assert dark.zeros(2).dtype is dark.float64
        assert dark.full((2,), 1.5).dtype is dark.float64
        assert dark.arange(0, 1, 0.5).dtype is dark.float64
        assert dark.linspace(0, 1, 3).dtype is dark.float64
        assert dark.tensor([1]).dtype is dark.int64
    finally:
        dark.set_default_dtype(previous)


def test_tensor_copies_its_data():
    array = np.zeros(3, dtype=np.float32)
    t = dark.tensor(array)
    array[0] = 5
    assert t[0].item() == 0
    source = dark.ones(2)
    with pytest.warns(UserWarning, match="copy construct"):
        copy = dark.tensor(source)
    copy.numpy()[0] = 5.0
    assert source.numpy().tolist() == [1.0, 1.0]


def test_from_numpy_shares_memory_both_ways():
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = dark.from_numpy(array)
    assert t.dtype is dark.float64 and t.shape == (2, 3)
    array[0, 1] = 100.0
    assert t.numpy()[0, 1] == 100.0
    t.numpy()[1, 2] = -7.0
    assert array[1, 2] == -7.0
    assert t.numpy() is array


def test_as_tensor_shares_when_possible():
    array = np.arange(3, dtype=np.float32)
    shared = dark.as_tensor(array)
    array[0] = 9
    assert shared.numpy()[0] == 9
    converted = dark.as_tensor(array, dtype=dark.float64)
    array[1] = 9
    assert converted.numpy()[1] == 1
    t = dark.ones(2)
    assert dark.as_tensor(t) is t
    assert dark.asarray(t) is t
    assert dark.as_tensor(t, dtype=dark.int64).dtype is dark.int64


def test_asarray_copy_flags():
    array = np.arange(3, dtype=np.float32)
    copied = dark.asarray(array, copy=True)
    array[0] = 5
    assert copied.numpy()[0] == 0
    with pytest.raises(ValueError):
        dark.asarray(array, dtype=dark.float64, copy=False)
    assert dark.asarray([1.0, 2.0], requires_grad=True).requires_grad


def test_out_argument():
    out = dark.empty(1)
    result = dark.zeros(2, 3, out=out)
    assert result is out and out.shape == (2, 3) and not out.numpy().any()
    same = dark.zeros(2, 3)
    version = same._version
    dark.ones(2, 3, out=same)
    assert same.numpy().all() and same._version > version
    assert dark.arange(4, out=dark.empty(4, dtype=dark.int64)).tolist() == [0, 1, 2, 3]


FACTORIES = [
    lambda L, **k: L.zeros(2, **k), lambda L, **k: L.ones(2, **k),
    lambda L, **k: L.empty(2, **k), lambda L, **k: L.full((2,), 1.0, **k),
    lambda L, **k: L.eye(2, **k), lambda L, **k: L.arange(0.0, 2.0, **k),
    lambda L, **k: L.linspace(0, 1, 3, **k), lambda L, **k: L.logspace(0, 1, 3, **k),
    lambda L, **k: L.tensor([1.0, 2.0], **k), lambda L, **k: L.scalar_tensor(1.0, **k),
    lambda L, **k: L.zeros_like(L.ones(2), **k), lambda L, **k: L.ones(2).new_ones(2, **k),
    lambda L, **k: L.ones(2).new_tensor([1.0], **k),
]


@pytest.mark.parametrize("factory", FACTORIES)
def test_device_and_requires_grad(factory, device):
    t = factory(dark, device=device, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad_fn is None
    assert t.device.type == device
    plain = factory(dark, device=device)
    assert not plain.requires_grad


@pytest.mark.parametrize("factory", FACTORIES)
@requires_torch
def test_factory_dtypes_match_torch(factory, device):
    plain = factory(dark, device=device)
    assert str(plain.dtype).split(".")[-1] == str(factory(torch).dtype).split(".")[-1]


def test_factories_on_device_keep_values(device):
    assert dark.arange(5, device=device).cpu().tolist() == list(range(5))
    t = dark.tensor([[1, 2], [3, 4]], device=device)
    assert t.device.type == device and t.dtype is dark.int64
    with pytest.warns(UserWarning):
        assert dark.tensor(t).device == t.device
    assert dark.zeros_like(t).device == t.device
    assert dark.full((2,), 3, device=device).cpu().tolist() == [3, 3]


# (call, exception type, message pattern); torch must raise the same type for the call.
ERRORS = {
    "ragged": (lambda L: L.tensor([[1, 2], [3, 4, 5]]), ValueError,
               r"expected sequence of length 2 at dim 1 \(got 3\)"),
    "ragged_deep": (lambda L: L.tensor([[[1], [2]], [[1], [2, 3]]]), ValueError,
                    r"expected sequence of length 1 at dim 2 \(got 2\)"),
    "ragged_short_first": (lambda L: L.tensor([[1], [2, 3]]), ValueError,
                           r"expected sequence of length 1 at dim 1 \(got 2\)"),
    "scalar_where_sequence": (lambda L: L.tensor([[1, 2], 3]), TypeError, "not a sequence"),
    "multi_element_tensor_item": (lambda L: L.tensor([L.ones(2), L.ones(2)]), ValueError,
                                  "only one element tensors"),
    "string": (lambda L: L.tensor("a"), TypeError, "invalid data type 'str'"),
    "none": (lambda L: L.tensor(None), RuntimeError, "Could not infer dtype of NoneType"),
    "overflow": (lambda L: L.tensor([2 ** 63]), ValueError, "Overflow"),
    "from_numpy_scalar": (lambda L: L.from_numpy(np.float64(1)), TypeError,
                          r"expected np.ndarray \(got numpy.float64\)"),
    "from_numpy_list": (lambda L: L.from_numpy([1]), TypeError,
                        r"expected np.ndarray \(got list\)"),
    "from_numpy_str": (lambda L: L.from_numpy(np.array(["a"])), TypeError,
                       "can't convert np.ndarray of type"),
    "zeros_negative": (lambda L: L.zeros(-1, 2), RuntimeError, "must be non-negative"),
    "ones_negative": (lambda L: L.ones(2, -3), RuntimeError,
                      r"Trying to create tensor with negative dimension -3: \[2, -3\]"),
    "empty_negative": (lambda L: L.empty((-2,)), RuntimeError, "negative dimension -2"),
    "full_negative": (lambda L: L.full([-1], 1), RuntimeError, "negative dimension -1"),
    "new_zeros_negative": (lambda L: L.ones(2).new_zeros(-1), RuntimeError,
                           "negative dimension -1"),
    "zeros_float_size": (lambda L: L.zeros(2.5), TypeError, "float"),
    "zeros_float_in_tuple": (lambda L: L.zeros((2, 2.5)), TypeError, "float"),
    "dtype_string": (lambda L: L.zeros(2, dtype="float32"), TypeError, "float32"),
    "dtype_numpy": (lambda L: L.ones(2, dtype=np.float32), TypeError, "float32"),
    "full_int_size": (lambda L: L.full(2, 1.0), TypeError, "must be tuple of ints"),
    "int_requires_grad": (lambda L: L.zeros(2, dtype=L.int64, requires_grad=True),
                          RuntimeError, "floating point and complex dtype"),
    "eye_negative_n": (lambda L: L.eye(-1), RuntimeError,
                       "n must be greater or equal to 0, got -1"),
    "eye_negative_m": (lambda L: L.eye(2, -1), RuntimeError,
                       "m must be greater or equal to 0, got -1"),
    "arange_step_zero": (lambda L: L.arange(0, 5, 0), RuntimeError, "step must be nonzero"),
    "arange_wrong_sign": (lambda L: L.arange(5, 0), RuntimeError,
                          "upper bound and lower bound inconsistent with step sign"),
    "arange_wrong_sign_negative": (lambda L: L.arange(0, 5, -1), RuntimeError,
                                   "inconsistent with step sign"),
    "arange_nan": (lambda L: L.arange(0, float("nan")), RuntimeError,
                   "unsupported range: 0 -> nan"),
    "arange_inf": (lambda L: L.arange(0, float("inf")), RuntimeError,
                   "unsupported range: 0 -> inf"),
    "linspace_negative": (lambda L: L.linspace(0, 1, -1), RuntimeError,
                          "number of steps must be non-negative"),
    "linspace_no_steps": (lambda L: L.linspace(0, 1), TypeError, "steps"),
    "bad_device": (lambda L: L.zeros(2, device="gpu"), RuntimeError, "device"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors(name):
    call, kind, pattern = ERRORS[name]
    with pytest.raises(kind, match=pattern):
        call(dark)


@pytest.mark.parametrize("name", sorted(ERRORS))
@requires_torch
def test_errors_torch_raises_the_same_type(name):
    call, kind, _ = ERRORS[name]
    with pytest.raises(kind):
        call(torch)


def test_linspace_values_are_fused_as_torch():
    """torch's CPU linspace computes each value as one fused multiply-add; two of
    linspace(0, 0.99, 31)'s float32 values (indices 19 and 25) differ by an ulp otherwise.
    The values are torch 2.13's, written bit for bit."""
    values = dark.linspace(0, 0.99, 31).numpy()
    assert float(values[19]).hex() == "0x1.4106260000000p-1"
    assert float(values[25]).hex() == "0x1.a666660000000p-1"


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_bit_equal_to_torch(dtype):
    rng = np.random.default_rng(0)
    for _ in range(200):
        start, end = rng.uniform(-100, 100, 2) * rng.choice([1e-3, 1.0, 1e3])
        steps = int(rng.integers(0, 300))
        ours = dark.linspace(float(start), float(end), steps, dtype=getattr(dark, dtype))
        theirs = torch.linspace(float(start), float(end), steps, dtype=getattr(torch, dtype))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(),
                                      err_msg=f"linspace({start}, {end}, {steps})")
