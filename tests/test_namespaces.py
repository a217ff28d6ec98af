"""The device and backend namespaces of torch that programs touch before any math:
torch.accelerator, torch.backends.{cudnn,mps,mkldnn}, deterministic algorithms, float32 matmul
precision, finfo / iinfo, torch.testing (assert_close, make_tensor), torch.compile and
torch.jit. Each check is written once for ``lib`` (dark and torch) with literal expectations,
so it runs without torch and, with torch, also checks that the literals are torch's."""
import importlib
import warnings

import numpy as np
import pytest
from harness import LIBS, raises_like, requires_torch, torch

import dark

CPU_ONLY = pytest.mark.skipif(dark.cuda.is_available(), reason="the answers of a machine "
                              "without an accelerator")
NEEDS_CUDA = pytest.mark.skipif(not dark.cuda.is_available(), reason="needs a CUDA GPU")


# ----------------------------------------------------------------------------- accelerator

@CPU_ONLY
@pytest.mark.parametrize("lib", LIBS)
def test_accelerator_without_one(lib):
    assert lib.accelerator.is_available() is False
    assert lib.accelerator.current_accelerator() is None
    assert lib.accelerator.current_accelerator(check_available=True) is None
    assert lib.accelerator.device_count() == 0
    assert lib.accelerator.set_device_index(-1) is None
    with pytest.raises(RuntimeError, match="^Cannot access accelerator device when none"):
        lib.accelerator.synchronize()
    with pytest.raises(RuntimeError, match="^Accelerator expected$"):
        lib.accelerator.synchronize("cuda:0")
    with pytest.raises(RuntimeError, match="^Cannot access accelerator device when none is "
                       "available.$"):
        lib.accelerator.current_device_index()
    with pytest.raises(RuntimeError, match="^Cannot access accelerator device when none"):
        lib.accelerator.set_device_index(0)
    with pytest.raises(ValueError, match="with a specified index or an integer, but got:None"):
        lib.accelerator.set_device_index(None)


@CPU_ONLY
@requires_torch
def test_accelerator_errors_are_torchs():
    raises_like(lambda: dark.accelerator.set_device_index(None),
                lambda: torch.accelerator.set_device_index(None))
    raises_like(dark.accelerator.current_device_index, torch.accelerator.current_device_index)
    for args in [(), (0,), ("cuda:0",), ("cpu",)]:
        raises_like(lambda a=args: dark.accelerator.synchronize(*a),
                    lambda a=args: torch.accelerator.synchronize(*a))
    for args in [(0,), ("cuda",), (None,)]:
        raises_like(lambda a=args: dark.accelerator.set_device_index(*a),
                    lambda a=args: torch.accelerator.set_device_index(*a))


@CPU_ONLY
@pytest.mark.parametrize("lib", LIBS)
def test_accelerator_device_index_without_one(lib):
    """torch.accelerator.device_index: None switches nothing; an index needs an accelerator
    (the error comes on entering: building the object alone, as two pytorch/examples
    distributed programs do, is harmless)."""
    with lib.accelerator.device_index(None):
        pass
    lib.accelerator.device_index(0)
    with pytest.raises(RuntimeError, match="^Cannot access accelerator device when none is "
                       "available.$"):
        with lib.accelerator.device_index(0):
            pass


@NEEDS_CUDA
def test_accelerator_device_index_switches_and_restores():
    acc = dark.accelerator
    acc.set_device_index(0)
    last = acc.device_count() - 1
    with acc.device_index(last):
        assert acc.current_device_index() == last
    assert acc.current_device_index() == 0
    with acc.device_index(None):
        assert acc.current_device_index() == 0


@NEEDS_CUDA
def test_accelerator_is_cuda():
    acc = dark.accelerator
    assert acc.is_available() is True
    assert acc.current_accelerator() == dark.device("cuda")
    assert acc.device_count() == dark.cuda.device_count() >= 1
    acc.set_device_index(0)
    assert acc.current_device_index() == 0 == dark.cuda.current_device()
    x = dark.ones(1000, device=acc.current_accelerator()) * 2
    acc.synchronize()
    acc.synchronize(0)
    assert x.sum().item() == 2000.0


# ----------------------------------------------------------------------------- backends

@pytest.mark.parametrize("lib", LIBS)
def test_backend_flags_and_queries(lib):
    cudnn = lib.backends.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, False, False)
    cudnn.benchmark = True
    assert lib.backends.cudnn.benchmark is True
    cudnn.benchmark = False
    assert lib.backends.mps.is_available() is False
    assert lib.backends.mps.is_built() is False


@CPU_ONLY
@pytest.mark.parametrize("lib", LIBS)
def test_cudnn_without_a_gpu(lib):
    assert lib.backends.cudnn.is_available() is False
    assert lib.backends.cudnn.version() is None


@NEEDS_CUDA
def test_cudnn_version_is_an_int_when_available():
    if dark.backends.cudnn.is_available():
        assert isinstance(dark.backends.cudnn.version(), int)
    else:
        assert dark.backends.cudnn.version() is None


def test_mkldnn_is_not_used():
    # torch's CPU build has oneDNN (True there); dark never uses it.
    assert dark.backends.mkldnn.is_available() is False


# ----------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("lib", LIBS)
def test_deterministic_algorithms(lib):
    assert lib.are_deterministic_algorithms_enabled() is False
    assert lib.is_deterministic_algorithms_warn_only_enabled() is False
    try:
        lib.use_deterministic_algorithms(True)
        assert lib.are_deterministic_algorithms_enabled() is True
        assert lib.is_deterministic_algorithms_warn_only_enabled() is False
        lib.use_deterministic_algorithms(True, warn_only=True)
        assert lib.is_deterministic_algorithms_warn_only_enabled() is True
        with pytest.raises(TypeError, match=r"argument 'mode' \(position 1\) must be bool, "
                           "not int"):
            lib.use_deterministic_algorithms(1)
        with pytest.raises(TypeError, match="argument 'warn_only' must be bool, not NoneType"):
            lib.use_deterministic_algorithms(True, warn_only=None)
    finally:
        lib.use_deterministic_algorithms(False)
    assert lib.are_deterministic_algorithms_enabled() is False
    assert lib.is_deterministic_algorithms_warn_only_enabled() is False


@requires_torch
@pytest.mark.parametrize("args", [(1,), ("x",), (None,)])
def test_deterministic_algorithms_errors_are_torchs(args):
    raises_like(lambda: dark.use_deterministic_algorithms(*args),
                lambda: torch.use_deterministic_algorithms(*args))


@pytest.mark.parametrize("lib", LIBS)
def test_float32_matmul_precision(lib):
    assert lib.get_float32_matmul_precision() == "highest"
    try:
        for value in ("high", "medium", "highest"):
            lib.set_float32_matmul_precision(value)
            assert lib.get_float32_matmul_precision() == value
        lib.set_float32_matmul_precision("high")
        with pytest.warns(UserWarning, match="HIGH is not one of 'highest', 'high', or "
                          "'medium'; the currentsetFloat32MatmulPrecision call has no effect"):
            lib.set_float32_matmul_precision("HIGH")
        assert lib.get_float32_matmul_precision() == "high"
        with pytest.raises(RuntimeError, match="^set_float32_matmul_precision expects a str, "
                           "but got int$"):
            lib.set_float32_matmul_precision(1)
    finally:
        lib.set_float32_matmul_precision("highest")


# ----------------------------------------------------------------------------- finfo, iinfo

FLOATS = ["float16", "float32", "float64", "complex64", "complex128"]
INTS = ["int8", "int16", "int32", "int64", "uint8"]


def test_finfo_literal():
    f = dark.finfo(dark.float32)
    assert (f.bits, f.eps, f.max, f.min) == (32, 2.0 ** -23, float(np.finfo(np.float32).max),
                                              -float(np.finfo(np.float32).max))
    assert f.tiny == f.smallest_normal == 2.0 ** -126 and f.resolution == 1e-06
    assert f.dtype == "float32" and dark.finfo() == f
    assert repr(dark.finfo(dark.float16)) == (
        "finfo(resolution=0.001, min=-65504, max=65504, eps=0.000976562, "
        "smallest_normal=6.10352e-05, tiny=6.10352e-05, dtype=float16)")
    assert dark.finfo(dark.complex128).dtype == "float64"
    i = dark.iinfo(dark.int32)
    assert (i.bits, i.min, i.max, i.dtype) == (32, -2 ** 31, 2 ** 31 - 1, "int32")
    assert repr(i) == "iinfo(min=-2.14748e+09, max=2.14748e+09, dtype=int32)"
    assert repr(dark.iinfo(dark.uint8)) == "iinfo(min=0, max=255, dtype=uint8)"


@requires_torch
@pytest.mark.parametrize("name", FLOATS)
def test_finfo_is_torchs(name):
    f, g = dark.finfo(getattr(dark, name)), torch.finfo(getattr(torch, name))
    assert repr(f) == repr(g)
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(f, field) == getattr(g, field), field
        assert type(getattr(f, field)) is type(getattr(g, field)), field


@requires_torch
@pytest.mark.parametrize("name", INTS)
def test_iinfo_is_torchs(name):
    i, j = dark.iinfo(getattr(dark, name)), torch.iinfo(getattr(torch, name))
    assert repr(i) == repr(j)
    for field in ("bits", "max", "min", "dtype"):
        assert getattr(i, field) == getattr(j, field), field
        assert type(getattr(i, field)) is type(getattr(j, field)), field


@pytest.mark.parametrize("lib", LIBS)
def test_info_errors(lib):
    with pytest.raises(TypeError, match=r"finfo\(\) requires a floating point input type"):
        lib.finfo(lib.int32)
    with pytest.raises(TypeError, match=r"iinfo\(\) requires an integer input type"):
        lib.iinfo(lib.float32)
    with pytest.raises(TypeError, match="bool is not supported by"):
        lib.iinfo(lib.bool)


@requires_torch
@pytest.mark.parametrize("call", [
    lambda lib: lib.finfo(lib.int32), lambda lib: lib.finfo(lib.bool),
    lambda lib: lib.finfo(lib.uint8), lambda lib: lib.iinfo(lib.float32),
    lambda lib: lib.iinfo(lib.complex64), lambda lib: lib.iinfo(lib.bool),
    lambda lib: lib.finfo("float32"), lambda lib: lib.iinfo(1)])
def test_info_errors_are_torchs(call):
    raises_like(lambda: call(dark), lambda: call(torch))


# ----------------------------------------------------------------------------- testing

def _assert_close_cases(lib):
    t = lib.tensor
    return {
        "float32": lambda: lib.testing.assert_close(t([1., 2., 3.]), t([1., 2.5, 3.])),
        "2d": lambda: lib.testing.assert_close(t([[1., 2.], [3., 4.]]),
                                               t([[1., 2.5], [3., 5.]])),
        "int": lambda: lib.testing.assert_close(t([1, 2, 3]), t([1, 2, 4])),
        "bool": lambda: lib.testing.assert_close(t([True, False]), t([True, True])),
        "0-d": lambda: lib.testing.assert_close(t(1.), t(2.)),
        "0-d int": lambda: lib.testing.assert_close(t(1), t(2)),
        "dtype": lambda: lib.testing.assert_close(t([1., 2.]), t([1., 2.], dtype=lib.float64)),
        "shape": lambda: lib.testing.assert_close(t([1., 2.]), t([1., 2., 3.])),
        "stride": lambda: lib.testing.assert_close(t([[1., 2.], [3., 4.]]).t(),
                                                   t([[1., 3.], [2., 4.]]), check_stride=True),
        "stride ignored": lambda: lib.testing.assert_close(t([[1., 2.], [3., 4.]]).t(),
                                                           t([[1., 3.], [2., 4.]])),
        "promoted": lambda: lib.testing.assert_close(t([1, 2]), t([1., 2.5]),
                                                     check_dtype=False),
        "promoted equal": lambda: lib.testing.assert_close(t([1., 2.]),
                                                           t([1., 2.], dtype=lib.float64),
                                                           check_dtype=False),
        "python floats": lambda: lib.testing.assert_close(1.0, 1.1),
        "python ints": lambda: lib.testing.assert_close(1, 2),
        "int vs float": lambda: lib.testing.assert_close(1, 1.0),
        "booleans": lambda: lib.testing.assert_close(True, False),
        "numpy": lambda: lib.testing.assert_close(np.array([1., 2.]), np.array([1., 3.])),
        "numpy scalar": lambda: lib.testing.assert_close(np.float32(1.5), 1.5),
        "list": lambda: lib.testing.assert_close([t([1.])], [t([2.])]),
        "nested": lambda: lib.testing.assert_close([[t([1.])]], [[t([2.])]]),
        "dict": lambda: lib.testing.assert_close({"a": t([1.])}, {"a": t([2.])}),
        "length": lambda: lib.testing.assert_close([t([1.]), t([2.])], [t([1.])]),
        "keys": lambda: lib.testing.assert_close({"a": 1}, {"b": 1}),
        "nan": lambda: lib.testing.assert_close(t([float("nan")]), t([float("nan")])),
        "nan equal": lambda: lib.testing.assert_close(t([float("nan"), 1.]),
                                                      t([float("nan"), 1.]), equal_nan=True),
        "inf": lambda: lib.testing.assert_close(t([1., float("inf")]), t([1., float("-inf")])),
        "inf equal": lambda: lib.testing.assert_close(t([float("inf")]), t([float("inf")])),
        "zero expected": lambda: lib.testing.assert_close(t([1.]), t([0.])),
        "within atol": lambda: lib.testing.assert_close(t([0., 1.]), t([1e-9, 1.])),
        "float16": lambda: lib.testing.assert_close(t([1.], dtype=lib.float16),
                                                    t([1.01], dtype=lib.float16)),
        "float16 within": lambda: lib.testing.assert_close(t([1.], dtype=lib.float16),
                                                           t([1.0009], dtype=lib.float16)),
        "float64": lambda: lib.testing.assert_close(t([1.], dtype=lib.float64),
                                                    t([1. + 2e-7], dtype=lib.float64)),
        "complex": lambda: lib.testing.assert_close(t([1. + 1j]), t([1. + 2j])),
        "msg": lambda: lib.testing.assert_close(t([1., 2.]), t([1., 3.]), msg="custom"),
        "msg callable": lambda: lib.testing.assert_close(t([1., 2.]), t([1., 3.]),
                                                         msg=lambda m: "X" + m[:20]),
        "msg in list": lambda: lib.testing.assert_close([t([1.])], [t([2.])], msg="m"),
        "rtol only": lambda: lib.testing.assert_close(t([1., 2.]), t([1., 3.]), rtol=1e-3),
        "atol only": lambda: lib.testing.assert_close(1.0, 1.0, atol=1e-3),
        "exact": lambda: lib.testing.assert_close(t([1., 2.]), t([1., 3.]), atol=0, rtol=0),
        "loose": lambda: lib.testing.assert_close(t([1., 2.]), t([1., 2.1]), atol=0.2,
                                                  rtol=0),
        "strings": lambda: lib.testing.assert_close("a", "a"),
        "nones": lambda: lib.testing.assert_close(None, None),
        "empty": lambda: lib.testing.assert_close(t([]), t([])),
        "max ties": lambda: lib.testing.assert_close(t([[0., 5.], [5., 1.]]),
                                                     t([[1., 4.], [4., 1.]])),
        "requires grad": lambda: lib.testing.assert_close(
            t([1., 2.], requires_grad=True), t([1., 2.5])),
    }


CASES = list(_assert_close_cases(dark))


def _outcome(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        return type(error), str(error).replace("torch.", "dark.")
    return None


@requires_torch
@pytest.mark.parametrize("name", CASES)
def test_assert_close_is_torchs(name):
    got = _outcome(_assert_close_cases(dark)[name])
    expected = _outcome(_assert_close_cases(torch)[name])
    assert got == expected


def _allclose_cases(lib):
    """assert_allclose (deprecated): its own default tolerances, no dtype check, NaNs equal,
    lists made tensors."""
    return {
        "float32 within 1e-4": (lib.ones(3), lib.ones(3) + 5e-5, {}),
        "list in actual's dtype": (lib.ones(3), [1.0, 1.0, 1.00005], {}),
        "two lists": ([1, 2], [1, 2], {}),
        "nan equal": (lib.tensor([float("nan")]), lib.tensor([float("nan")]), {}),
        "nan unequal": (lib.tensor([float("nan")]), lib.tensor([float("nan")]),
                        {"equal_nan": False}),
        "dtypes differ": (lib.ones(3, dtype=lib.float64), lib.ones(3), {}),
        "given tolerances": (lib.ones(2), lib.ones(2) * 1.1, {"rtol": 0.2, "atol": 0.0}),
        "one tolerance": (lib.ones(2), lib.ones(2), {"rtol": 0.2}),
        "msg": (lib.ones(2), lib.ones(2) * 1.1, {"msg": "custom"}),
        "float32 beyond": (lib.ones(2), lib.ones(2) * 1.001, {}),
        "float64 beyond 1e-5": (lib.ones(2, dtype=lib.float64),
                                lib.ones(2, dtype=lib.float64) + 2e-5, {}),
        "int exact": (lib.tensor([1, 2]), lib.tensor([1, 3]), {}),
    }


def _allclose_outcome(lib, case):
    actual, expected, kwargs = case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _outcome(lambda: lib.testing.assert_allclose(actual, expected, **kwargs))
    assert [w.category for w in caught] == [FutureWarning]
    assert str(caught[0].message).startswith(
        f"`{lib.__name__}.testing.assert_allclose()` is deprecated since 1.12")
    return outcome


@pytest.mark.parametrize("lib", LIBS)
def test_assert_allclose_literal(lib):
    cases = _allclose_cases(lib)
    for name in ["float32 within 1e-4", "list in actual's dtype", "two lists", "nan equal",
                 "dtypes differ", "given tolerances"]:
        assert _allclose_outcome(lib, cases[name]) is None, name
    for name in ["nan unequal", "float32 beyond", "float64 beyond 1e-5"]:
        kind, text = _allclose_outcome(lib, cases[name])
        assert kind is AssertionError and text.startswith("Tensor-likes are not close!"), name
    kind, text = _allclose_outcome(lib, cases["int exact"])
    assert kind is AssertionError and text.startswith("Tensor-likes are not equal!")
    assert _allclose_outcome(lib, cases["msg"]) == (AssertionError, "custom")
    kind, text = _allclose_outcome(lib, cases["one tolerance"])
    assert kind is ValueError and "must be either specified or omitted" in text


@requires_torch
def test_assert_allclose_is_torchs():
    ours, theirs = _allclose_cases(dark), _allclose_cases(torch)
    for name in ours:
        assert _allclose_outcome(dark, ours[name]) == _allclose_outcome(torch, theirs[name]), name


@pytest.mark.parametrize("lib", LIBS)
def test_assert_close_messages_literal(lib):
    cases = _assert_close_cases(lib)
    for name in ("stride ignored", "promoted equal", "nan equal", "inf equal", "within atol",
                 "float16 within", "numpy scalar", "nones", "empty", "loose"):
        cases[name]()
    with pytest.raises(AssertionError) as error:
        cases["2d"]()
    assert str(error.value) == (
        "Tensor-likes are not close!\n\nMismatched elements: 2 / 4 (50.0%)\n"
        "Greatest absolute difference: 1.0 at index (1, 1) (up to 1e-05 allowed)\n"
        "Greatest relative difference: 0.20000000298023224 at index (0, 1) "
        "(up to 1.3e-06 allowed)")
    with pytest.raises(AssertionError) as error:
        cases["int"]()
    assert str(error.value) == (
        "Tensor-likes are not equal!\n\nMismatched elements: 1 / 3 (33.3%)\n"
        "Greatest absolute difference: 1 at index (2,)\n"
        "Greatest relative difference: 0.25 at index (2,)")
    with pytest.raises(AssertionError) as error:
        cases["0-d"]()
    assert str(error.value) == (
        "Scalars are not close!\n\nExpected 2.0 but got 1.0.\n"
        "Absolute difference: 1.0 (up to 1e-05 allowed)\n"
        "Relative difference: 0.5 (up to 1.3e-06 allowed)")
    with pytest.raises(AssertionError) as error:
        cases["dict"]()
    assert str(error.value).endswith("\n\nThe failure occurred for item ['a']")
    with pytest.raises(AssertionError, match=r"^The values for attribute 'stride\(\)' do not "
                       r"match: \(1, 2\) != \(2, 1\)\.$"):
        cases["stride"]()
    with pytest.raises(AssertionError, match=r"^The \(d\)types do not match: <class 'int'> "
                       r"!= <class 'float'>\.$"):
        cases["int vs float"]()
    with pytest.raises(AssertionError, match="^Booleans mismatch: True is not False$"):
        cases["booleans"]()
    with pytest.raises(AssertionError, match="^The length of the sequences mismatch: 2 != 1$"):
        cases["length"]()
    with pytest.raises(ValueError, match="^Both 'rtol' and 'atol' must be either specified or "
                       "omitted, but got no atol.$"):
        cases["rtol only"]()
    with pytest.raises(TypeError, match="^No comparison pair was able to handle inputs of "
                       "type <class 'str'> and <class 'str'>.$"):
        cases["strings"]()
    with pytest.raises(AssertionError, match="^custom$"):
        cases["msg"]()


def test_assert_close_tensor_and_list_is_a_type_error():
    with pytest.raises(TypeError, match="No comparison pair was able to handle inputs of type "
                       "<class 'dark._tensor.Tensor'> and <class 'list'>."):
        dark.testing.assert_close(dark.tensor([1., 2.]), [1., 2.])


@NEEDS_CUDA
def test_assert_close_devices():
    a, b = dark.tensor([1., 2.]), dark.tensor([1., 2.], device="cuda")
    with pytest.raises(AssertionError, match="^The values for attribute 'device' do not match: "
                       "cpu != cuda:0.$"):
        dark.testing.assert_close(a, b)
    dark.testing.assert_close(a, b, check_device=False)
    with pytest.raises(AssertionError, match="Greatest absolute difference: 0.5 at index"):
        dark.testing.assert_close(a.cuda(), dark.tensor([1., 2.5], device="cuda"))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool",
                                   "complex64"])
def test_make_tensor(dtype):
    d = getattr(dark, dtype)
    x = dark.testing.make_tensor(3, 4, dtype=d, device="cpu")
    assert x.shape == (3, 4) and x.dtype == d and x.device == dark.device("cpu")
    values = x.numpy()
    if dtype == "bool":
        return
    low, high = (0, 10) if dtype == "uint8" else (-9, 10 if dtype.startswith("int") else 9)
    for part in ((values.real, values.imag) if dtype == "complex64" else (values,)):
        assert part.min() >= low and part.max() < high
    y = dark.testing.make_tensor((5,), dtype=d, device="cpu", low=2, high=4, exclude_zero=True)
    assert y.shape == (5,) and (y.numpy().real >= 2).all() and (y.numpy().real < 4).all()


def test_make_tensor_options():
    x = dark.testing.make_tensor(2, 3, dtype=dark.float32, device="cpu", noncontiguous=True,
                                 requires_grad=True)
    assert x.shape == (2, 3) and x.stride() == (6, 2) and x.requires_grad
    with pytest.raises(ValueError, match=r"^`low` must be less than `high`, but got 3 >= 2$"):
        dark.testing.make_tensor(2, dtype=dark.int64, device="cpu", low=3, high=2)
    with pytest.raises(ValueError, match="`requires_grad=True` is not supported for boolean "
                       "and integral dtypes"):
        dark.testing.make_tensor(2, dtype=dark.int64, device="cpu", requires_grad=True)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool",
                                   "int8", "complex64"])
def test_make_tensor_draws_torchs_values(dtype):
    for lib in (dark, torch):
        lib.manual_seed(7)
    kwargs = dict(low=-3, high=5) if dtype != "bool" else {}
    x = dark.testing.make_tensor(4, 5, dtype=getattr(dark, dtype), device="cpu",
                                 noncontiguous=True, **kwargs)
    y = torch.testing.make_tensor(4, 5, dtype=getattr(torch, dtype), device="cpu",
                                  noncontiguous=True, **kwargs)
    assert x.stride() == y.stride()
    np.testing.assert_array_equal(x.numpy(), y.numpy())


# ----------------------------------------------------------------------------- compile, jit

@pytest.mark.parametrize("lib", LIBS)
def test_compile_eager(lib):
    model = lib.nn.Linear(3, 2)
    compiled = lib.compile(model, backend="eager")
    x = lib.ones(4, 3)
    assert (compiled(x) == model(x)).all()
    if lib is dark:  # torch wraps the module in an OptimizedModule; dark returns it
        assert compiled is model
        assert lib.compile(model, mode="max-autotune", fullgraph=True) is model

    @lib.compile(backend="eager")
    def double(t):
        return t * 2

    assert double(x).sum().item() == 24.0
    with pytest.raises(RuntimeError, match="^Either mode or options can be specified, but "
                       "both can't be specified at the same time.$"):
        lib.compile(model, backend="eager", mode="default", options={})
    with pytest.raises(RuntimeError, match="^Model can't be None$"):
        lib.compile(backend="eager")(None)


def test_compile_returns_functions_unchanged():
    def f(t):
        return t + 1
    assert dark.compile(f) is f
    assert dark.compile()(f) is f
    assert dark.compile(disable=True)(f) is f


def test_jit_is_the_eager_program():
    model = dark.nn.Sequential(dark.nn.Linear(3, 2), dark.nn.ReLU())
    x = dark.ones(2, 3)
    assert dark.jit.script(model) is model
    assert dark.jit.trace(model, (x,)) is model
    assert dark.jit.trace(model, example_inputs=x) is model

    def f(t):
        return t * 3
    assert dark.jit.script(f) is f and dark.jit.trace(f, (x,)) is f
    assert dark.jit.ignore(f) is f and dark.jit.ignore(drop=True)(f) is f
    assert dark.jit.unused(f) is f and dark.jit.export(f) is f
    assert dark.jit.is_scripting() is False and dark.jit.is_tracing() is False


def test_jit_archives_are_a_clear_error(tmp_path):
    model = dark.nn.Linear(3, 2)
    with pytest.raises(NotImplementedError, match="dark has no TorchScript.*no TorchScript "
                       "archive to save.*dark.save"):
        dark.jit.save(dark.jit.script(model), tmp_path / "m.pt")
    with pytest.raises(NotImplementedError, match="cannot load a TorchScript archive"):
        dark.jit.load(tmp_path / "m.pt")


def test_namespaces_are_reexported():
    for name in ("accelerator", "backends", "testing", "jit", "compile", "finfo", "iinfo",
                 "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
                 "is_deterministic_algorithms_warn_only_enabled",
                 "set_float32_matmul_precision", "get_float32_matmul_precision"):
        assert hasattr(dark, name), name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert importlib.import_module("dark.backends.cudnn") is dark.backends.cudnn
