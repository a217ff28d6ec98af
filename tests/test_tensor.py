"""Tensor attributes, conversions and printing, compared with torch where it is installed."""
import numpy as np
import pytest
from harness import LIBS, requires_torch, same_error, torch

import dark

lib_param = pytest.mark.parametrize("lib", LIBS)


# ----------------------------------------------------------------------- autograd attributes

def test_data_shares_memory_and_does_not_require_grad():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    data = x.data
    assert not data.requires_grad and data.grad_fn is None
    data.mul_(2)
    np.testing.assert_array_equal(x.detach().numpy(), [2.0, 4.0])
    assert x._version == 0  # changes through .data are not tracked
    x.data = dark.tensor([7.0, 8.0, 9.0])
    assert x.shape == (3,) and x.requires_grad


def test_grad_assignment_checks():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    x.grad = dark.tensor([0.5, 0.5])
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.5])
    x.grad = None
    assert x.grad is None


@lib_param
def test_grad_assignment_errors(lib):
    same_error(lib, lambda lib: setattr(lib.tensor([1.0, 2.0], requires_grad=True), "grad",
                                        lib.tensor([1.0, 2.0, 3.0])),
                    r"attempting to assign a gradient of size '\[3\]' to a tensor of size '\[2\]'")
    same_error(lib, lambda lib: setattr(lib.tensor([1.0, 2.0], requires_grad=True), "grad",
                                        lib.tensor([1.0, 2.0], dtype=lib.float64)),
                    "attempting to assign a gradient with dtype")
    same_error(lib, lambda lib: setattr(lib.tensor([1.0], requires_grad=True), "grad", [1.0]),
                    "assigned grad expected to be a Tensor or None but got grad of type list")


def test_requires_grad_setter():
    x = dark.tensor([1.0, 2.0])
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad and x.is_leaf
    assert x.requires_grad_(False) is x and not x.requires_grad


@lib_param
def test_requires_grad_setter_errors(lib):
    same_error(lib, lambda lib: setattr(lib.tensor([1, 2]), "requires_grad", True),
                    "only Tensors of floating point and complex dtype can require gradients")

    def non_leaf(lib):
        y = lib.tensor([1.0], requires_grad=True) * 2
        y.requires_grad = False

    same_error(lib, non_leaf, "you can only change requires_grad flags of leaf variables")


@lib_param
def test_grad_fn_and_is_leaf(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.grad_fn is None and x.is_leaf
    assert type(y.grad_fn).__name__ == "MulBackward0" and not y.is_leaf
    assert lib.tensor([1.0]).is_leaf


def test_detach_shares_memory_and_version_counter():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    d.add_(1)
    np.testing.assert_array_equal(y.detach().numpy(), [2.0, 3.0])
    assert y._version == d._version == 1


@lib_param
def test_detached_change_breaks_the_backward(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 1
        z = y * y
        y.detach().add_(1)
        z.sum().backward()

    same_error(lib, program, "modified by an inplace operation")


def test_detach_in_place():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.detach_() is y
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


@lib_param
def test_clone_is_differentiable_copy(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert type(c.grad_fn).__name__ == "CloneBackward0"
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    d = lib.tensor([1.0, 2.0])
    e = d.clone()
    e.add_(1)
    np.testing.assert_array_equal(d.numpy(), [1.0, 2.0])


# ----------------------------------------------------------------------- metadata

@lib_param
def test_shape_size_dim_numel(lib):
    x = lib.zeros(2, 3, 4)
    assert type(x.shape).__name__ == "Size" and x.shape == (2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24
    assert lib.tensor(1.0).shape == () and lib.tensor(1.0).dim() == 0
    assert repr(x.shape) == f"{lib.__name__}.Size([2, 3, 4])"
    assert x.shape[1:] == (3, 4) and type(x.shape[1:]).__name__ == "Size"
    assert x.shape.numel() == 24


@lib_param
def test_size_dim_out_of_range(lib):
    same_error(lib, lambda lib: lib.zeros(2, 3).size(2),
                    r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")


@lib_param
def test_dtype_and_device(lib):
    x = lib.tensor([1.0, 2.0])
    assert x.dtype == lib.float32 and x.dtype is lib.float32
    assert lib.tensor([1, 2]).dtype == lib.int64
    assert lib.tensor([True]).dtype == lib.bool
    assert x.device == lib.device("cpu") and str(x.device) == "cpu" and x.device.type == "cpu"
    assert x.is_floating_point() and not lib.tensor([1]).is_floating_point()


@lib_param
def test_dtype_aliases(lib):
    assert lib.float is lib.float32 and lib.double is lib.float64
    assert lib.half is lib.float16 and lib.long is lib.int64
    assert lib.int is lib.int32 and lib.short is lib.int16
    assert lib.cfloat is lib.complex64 and lib.cdouble is lib.complex128
    assert repr(lib.float64) == f"{lib.__name__}.float64"
    assert lib.float32.is_floating_point and not lib.int64.is_floating_point
    assert lib.float32.itemsize == 4


def test_default_dtype_can_be_changed_and_restored():
    assert dark.get_default_dtype() is dark.float32
    try:
        dark.set_default_dtype(dark.float64)
        assert dark.tensor([1.0]).dtype is dark.float64
        assert dark.get_default_dtype() is dark.float64
        assert repr(dark.tensor([1.5])) == "tensor([1.5000])"
        assert repr(dark.tensor([1.5], dtype=dark.float32)) == \
            "tensor([1.5000], dtype=dark.float32)"
    finally:
        dark.set_default_dtype(dark.float32)
    assert dark.tensor([1.0]).dtype is dark.float32
    with pytest.raises(TypeError, match="only floating-point types"):
        dark.set_default_dtype(dark.int64)


# ----------------------------------------------------------------------- python conversion

@lib_param
def test_item_tolist_numpy(lib):
    assert lib.tensor([[2.5]]).item() == 2.5
    assert isinstance(lib.tensor(3).item(), int)
    assert lib.tensor([[1.5, 2.0]]).tolist() == [[1.5, 2.0]]
    assert lib.tensor(4).tolist() == 4
    x = lib.tensor([1.0, 2.0])
    array = x.numpy()
    array[0] = 9.0  # numpy() shares memory on the CPU
    assert x.tolist() == [9.0, 2.0]
    assert array.dtype == np.float32
    assert np.asarray(x).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(x, dtype=np.float64), [9.0, 2.0])


@lib_param
def test_conversion_errors(lib):
    same_error(lib, lambda lib: lib.tensor([1.0, 2.0]).item(),
                    "a Tensor with 2 elements cannot be converted to Scalar")
    same_error(lib, lambda lib: lib.tensor([1.0], requires_grad=True).numpy(),
                    r"Can't call numpy\(\) on Tensor that requires grad. Use "
                    r"tensor.detach\(\).numpy\(\) instead.")
    same_error(lib, lambda lib: np.asarray(lib.tensor([1.0], requires_grad=True)),
                    r"Can't call numpy\(\) on Tensor that requires grad")
    same_error(lib, lambda lib: float(lib.tensor([1.0, 2.0])),
                    "only one element tensors can be converted to Python scalars")
    same_error(lib, lambda lib: bool(lib.tensor([1.0, 2.0])),
                    "Boolean value of Tensor with more than one value is ambiguous")
    same_error(lib, lambda lib: bool(lib.tensor([])), "Boolean value of Tensor with no values")
    same_error(lib, lambda lib: len(lib.tensor(1.0)), "len\\(\\) of a 0-d tensor")
    same_error(lib, lambda lib: iter(lib.tensor(1.0)), "iteration over a 0-d tensor")
    same_error(lib, lambda lib: [1, 2][lib.tensor(1.5)],
                    "only integer tensors of a single element can be converted to an index")


@lib_param
def test_python_protocols(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(x) == 3 and len(lib.zeros(0, 3)) == 0
    rows = list(x)
    assert len(rows) == 3 and rows[1].tolist() == [3.0, 4.0]
    assert bool(lib.tensor([0.5])) and not bool(lib.tensor(0))
    assert float(lib.tensor([2.5])) == 2.5 and int(lib.tensor([2.7])) == 2
    assert [10, 20, 30][lib.tensor(2)] == 30
    assert f"{lib.tensor(2.5):.2f}" == "2.50"


# ----------------------------------------------------------------------- dtype / device moves

@lib_param
def test_to_and_dtype_shortcuts(lib):
    x = lib.tensor([1.7, -2.5, 0.0])
    assert x.to(lib.float64).dtype == lib.float64
    assert x.to("cpu") is x and x.to(lib.float32) is x
    assert x.to("cpu", lib.float16).dtype == lib.float16
    assert x.to(lib.tensor([1], dtype=lib.int32)).dtype == lib.int32
    assert x.to(dtype=lib.float64, copy=True).dtype == lib.float64
    assert x.float() is x and x.cpu() is x
    assert x.double().dtype == lib.float64 and x.half().dtype == lib.float16
    assert x.long().tolist() == [1, -2, 0] and x.int().dtype == lib.int32
    assert x.bool().tolist() == [True, True, False]
    assert lib.tensor([1, 2]).type_as(x).dtype == lib.float32
    assert lib.tensor([1, 2]).float().dtype == lib.float32


def test_to_is_differentiable():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert type(y.grad_fn).__name__ == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.dtype is dark.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_contiguous():
    x = dark.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.contiguous() is x
    t = x.t()
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]


# ----------------------------------------------------------------------- printing

def _repr_cases(np_module):
    rng = np_module.random.default_rng(0)
    f32 = np_module.float32
    return {
        "int_valued": np_module.array([1.0, 2.0], f32),
        "fractions": np_module.array([1.5, 2.25], f32),
        "negative": np_module.array([-1.5, 2.0, 0.125], f32),
        "large": np_module.array([1e10, 1.0], f32),
        "small": np_module.array([1e-6, 1.0], f32),
        "wide_range": np_module.array([123456.789, 0.001], f32),
        "int_valued_big": np_module.array([2.0 ** 40, 1.0], f32),
        "matrix": rng.standard_normal((3, 4)).astype(f32),
        "cube": rng.standard_normal((2, 3, 4)).astype(f32),
        "4d": rng.standard_normal((2, 2, 2, 2)).astype(f32),
        "scalar": np_module.array(3.5, f32),
        "scalar_int_valued": np_module.array(3.0, f32),
        "empty": np_module.array([], f32),
        "empty_2d": np_module.zeros((0, 3), f32),
        "empty_int": np_module.zeros((0, 3), np_module.int64),
        "int64": np_module.array([1, 2, -30]),
        "int64_scalar": np_module.array(7),
        "int32": np_module.array([1, 2], np_module.int32),
        "uint8": np_module.array([[1, 255]], np_module.uint8),
        "bool": np_module.array([True, False]),
        "float64": np_module.array([1.5, 2.0]),
        "float16": np_module.array([1.0, 2.5], np_module.float16),
        "nonfinite": np_module.array([np_module.nan, np_module.inf, -np_module.inf, 1.0], f32),
        "zeros": np_module.zeros(3, f32),
        "wrapping_row": (rng.standard_normal(30) * 1000).astype(f32),
        "wrapping_matrix": (rng.standard_normal((4, 30)) * 1e5).astype(f32),
        "summarised_vector": rng.standard_normal(2000).astype(f32),
        "summarised_matrix": rng.standard_normal((40, 40)).astype(f32),
        "summarised_3d": rng.standard_normal((12, 12, 12)),
        "summarised_int": np_module.arange(1500),
        "complex": np_module.array([1 + 2j, 3 - 4.5j], np_module.complex64),
    }


REPR_CASES = _repr_cases(np)


@requires_torch
@pytest.mark.parametrize("name", list(REPR_CASES))
def test_repr_matches_torch(name):
    array = REPR_CASES[name]
    expected = repr(torch.from_numpy(array.copy())).replace("torch.", "dark.")
    assert repr(dark.from_numpy(array.copy())) == expected
    assert str(dark.from_numpy(array.copy())) == expected


@requires_torch
@pytest.mark.parametrize("program", [
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True) * 2,
    lambda lib: (lib.tensor([[1.5, 2.0]] * 3, requires_grad=True) * 2).sum(),
    lambda lib: lib.tensor([123456.5] * 9, requires_grad=True) * 3,
    lambda lib: lib.tensor([[0.1234567] * 7] * 2, dtype=lib.float64, requires_grad=True),
], ids=["requires_grad", "grad_fn", "dtype_and_grad_fn", "sum", "suffix_wraps",
        "matrix_dtype"])
def test_repr_suffixes_match_torch(program):
    expected = repr(program(torch)).replace("torch.", "dark.")
    assert repr(program(dark)) == expected


def test_repr_known_strings():
    assert repr(dark.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(dark.tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
    assert repr(dark.tensor([])) == "tensor([])"
    assert repr(dark.tensor([1, 2], dtype=dark.int32)) == "tensor([1, 2], dtype=dark.int32)"
    assert repr(dark.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    assert repr(dark.tensor(2.0, requires_grad=True) * 3) == \
        "tensor(6., grad_fn=<MulBackward0>)"
    assert repr(dark.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert "..." in repr(dark.zeros(1001))


def test_print_options():
    from dark._tensor_str import printoptions

    with printoptions(precision=2, threshold=5, edgeitems=2):
        assert repr(dark.tensor([1.12345])) == "tensor([1.12])"
        assert repr(dark.tensor([0.0, 1, 2, 3, 4, 5])) == "tensor([0., 1.,  ..., 4., 5.])"
    with printoptions(sci_mode=True):
        assert repr(dark.tensor([1.5])) == "tensor([1.5000e+00])"
    assert repr(dark.tensor([1.12345])) == "tensor([1.1235])"


def test_repr_on_device(device):
    x = dark.tensor([1.0, 2.0], device=device)
    if device == "cpu":
        assert repr(x) == "tensor([1., 2.])"
    else:
        assert repr(x) == "tensor([1., 2.], device='cuda:0')"
