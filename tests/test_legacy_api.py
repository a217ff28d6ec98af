"""The legacy entry surface older programs use, as torch 2.13 has it: the legacy tensor types
(dark.FloatTensor ... and dark.cuda.FloatTensor ...), Tensor.type, autograd.Variable, the
deprecated positional-alpha call forms, set_default_device / get_default_device and
set_default_tensor_type. Checks written once for ``lib`` (dark and torch) hold literal
expectations, so they run without torch and, with torch, also check that the literals are
torch's."""
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from harness import LIBS, error_of, raises_like, requires_torch, torch

import dark

CPU_ONLY = pytest.mark.skipif(dark.cuda.is_available(), reason="the answers of a machine "
                              "without a GPU")
NEEDS_CUDA = pytest.mark.skipif(not dark.cuda.is_available(), reason="needs a CUDA GPU")

# legacy type name: dtype name
TYPES = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16",
         "LongTensor": "int64", "IntTensor": "int32", "ShortTensor": "int16",
         "CharTensor": "int8", "ByteTensor": "uint8", "BoolTensor": "bool"}


def _name(lib, text: str) -> str:
    """A name written with dark's module name as ``lib`` spells it."""
    return text.replace("dark.", f"{lib.__name__}.")


# ----------------------------------------------------------------------------- construction

@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("name", list(TYPES))
def test_legacy_type_from_sizes_and_data(lib, name):
    legacy = getattr(lib, name)
    dtype = getattr(lib, TYPES[name])
    assert legacy.dtype == dtype
    assert legacy.is_cuda is False and legacy.is_sparse is False
    uninitialised = legacy(2, 3)
    assert type(uninitialised) is lib.Tensor
    assert uninitialised.shape == (2, 3) and uninitialised.dtype == dtype
    assert legacy(lib.Size([4, 1])).shape == (4, 1)
    assert legacy((2,)).tolist() == legacy([2]).tolist()  # a tuple is data, not a size
    assert legacy().shape == (0,) and legacy().dtype == dtype
    assert legacy(0).shape == (0,)
    assert legacy(np.int64(3)).shape == (3,)
    assert legacy(size=(1, 2)).shape == (1, 2)
    data = legacy([[1, 0], [2, 1]])
    assert data.dtype == dtype and data.shape == (2, 2)
    expected = np.array([[1, 0], [2, 1]]).astype(TYPES[name]).tolist()
    assert data.tolist() == expected
    assert legacy(range(3)).tolist() == np.arange(3).astype(TYPES[name]).tolist()
    from_numpy = legacy(np.array([1.0, 0.0]))
    assert from_numpy.dtype == dtype and from_numpy.tolist() == np.array(
        [1.0, 0.0]).astype(TYPES[name]).tolist()
    assert legacy([1], device="cpu").device == lib.device("cpu")


@pytest.mark.parametrize("lib", LIBS)
def test_legacy_type_data_values(lib):
    assert lib.FloatTensor([1, 2]).tolist() == [1.0, 2.0]
    assert lib.LongTensor([1.7, -2.2]).tolist() == [1, -2]
    assert lib.BoolTensor([1, 0, 3]).tolist() == [True, False, True]
    assert lib.DoubleTensor([0.1]).item() == 0.1
    assert lib.FloatTensor([lib.tensor(1.5), 2]).tolist() == [1.5, 2.0]


@pytest.mark.parametrize("lib", LIBS)
def test_legacy_type_from_tensor_is_an_alias(lib):
    base = lib.ones(3, requires_grad=True)
    alias = lib.FloatTensor(base)
    assert alias is not base
    assert alias.requires_grad and not alias.is_leaf
    assert type(alias.grad_fn).__name__ == "AliasBackward0"
    plain = lib.zeros(2, dtype=lib.int64)
    view = lib.LongTensor(plain)
    view[0] = 7
    assert plain.tolist() == [7, 0]
    alias.sum().backward()
    assert base.grad.tolist() == [1.0, 1.0, 1.0]
    assert lib.FloatTensor(lib.tensor(2.0)).shape == ()


@pytest.mark.parametrize("lib", LIBS)
def test_isinstance_of_legacy_types(lib):
    for dtype_name in set(TYPES.values()):
        x = lib.zeros(2, dtype=getattr(lib, dtype_name))
        for name, type_dtype in TYPES.items():
            assert isinstance(x, getattr(lib, name)) is (type_dtype == dtype_name)
            assert isinstance(x, getattr(lib.cuda, name)) is False
    assert isinstance(lib.nn.Parameter(lib.ones(2)), lib.FloatTensor)
    assert not isinstance([1.0], lib.FloatTensor)
    assert not isinstance(np.ones(2, np.float32), lib.FloatTensor)
    assert isinstance(lib.FloatTensor(2), lib.Tensor)
    assert not issubclass(lib.FloatTensor, lib.Tensor)
    assert not issubclass(lib.Tensor, lib.FloatTensor)
    assert lib.cuda.FloatTensor.is_cuda is True and lib.cuda.LongTensor.dtype == lib.int64


@pytest.mark.parametrize("lib", LIBS)
def test_legacy_type_names(lib):
    assert repr(lib.FloatTensor) == _name(lib, "<class 'dark.FloatTensor'>")
    assert repr(lib.cuda.ByteTensor) == _name(lib, "<class 'dark.cuda.ByteTensor'>")
    assert lib.LongTensor.__name__ == "LongTensor"
    assert lib.LongTensor.__module__ == lib.__name__


# ----------------------------------------------------------------------------- Tensor.type

@pytest.mark.parametrize("lib", LIBS)
def test_tensor_type_names(lib):
    for name, dtype_name in TYPES.items():
        x = lib.zeros(1, dtype=getattr(lib, dtype_name))
        assert x.type() == _name(lib, f"dark.{name}")
        assert x.long().type(x.type()).dtype == x.dtype
    assert lib.zeros(1, dtype=lib.complex64).type() == _name(lib, "dark.ComplexFloatTensor")


@pytest.mark.parametrize("lib", LIBS)
def test_tensor_type_converts(lib):
    x = lib.tensor([1.5, -2.5])
    assert x.type(lib.LongTensor).tolist() == [1, -2]
    assert x.type(lib.LongTensor).dtype == lib.int64
    assert x.type("torch.DoubleTensor").dtype == lib.float64
    assert x.type(_name(lib, "dark.ByteTensor")).dtype == lib.uint8
    assert x.type(lib.float16).dtype == lib.float16
    assert x.type(dtype=lib.IntTensor).dtype == lib.int32
    assert x.type(lib.LongTensor, non_blocking=True).dtype == lib.int64
    assert x.type(lib.FloatTensor) is x
    assert x.type("torch.FloatTensor") is x
    assert x.long().type(lib.Tensor).dtype == lib.float32
    grad = lib.ones(2, requires_grad=True)
    converted = grad.type(lib.DoubleTensor)
    assert type(converted.grad_fn).__name__ == "ToCopyBackward0"
    converted.sum().backward()
    assert grad.grad.dtype == lib.float32 and grad.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("lib", LIBS)
def test_module_type_takes_legacy_types(lib):
    net = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))
    assert net.type(lib.DoubleTensor) is net
    assert {t.dtype for t in net.state_dict().values()} == {lib.float64}
    net.type("torch.FloatTensor")
    assert {t.dtype for t in net.state_dict().values()} == {lib.float32}
    net.type(lib.float16)
    assert net[0].weight.dtype == lib.float16


BAD_TYPE_CALLS = [
    "x.type('float')", "x.type('torch.Foo')", "x.type('foo.Bar')", "x.type(int)", "x.type(3)",
    "x.type('torch.float64')",
]

BAD_CONSTRUCTIONS = [
    "lib.FloatTensor(2.5)", "lib.FloatTensor(None)", "lib.FloatTensor(True)",
    "lib.FloatTensor('a')", "lib.FloatTensor(-1)", "lib.FloatTensor(-2, 3)",
    "lib.FloatTensor(2, [3])", "lib.FloatTensor(2, 3.0)",
    "lib.FloatTensor(2, dtype=lib.float64)", "lib.FloatTensor([1.0], requires_grad=True)",
    "lib.FloatTensor(2, foo=1)", "lib.FloatTensor(lib.ones(2, dtype=lib.int64))",
    "lib.LongTensor(lib.ones(2))", "lib.FloatTensor(lib.ones(2), 3)",
    "lib.FloatTensor(lib.ones(2), device='cpu')", "lib.FloatTensor(2, device='cuda')",
    "lib.ByteTensor([1, 300])",
]


@requires_torch
@pytest.mark.parametrize("call", BAD_TYPE_CALLS + BAD_CONSTRUCTIONS)
def test_legacy_errors_are_torchs(call):
    mine = call.replace("'torch.", "'dark.")  # a type name as a dark program writes it
    raises_like(lambda: eval(mine, {"lib": dark, "x": dark.ones(2)}),  # noqa: S307
                lambda: eval(call, {"lib": torch, "x": torch.ones(2)}))  # noqa: S307


def test_legacy_errors_without_torch():
    """The messages (torch's, checked above when torch is installed) of a few of them."""
    with pytest.raises(TypeError, match=r"^new\(\): data must be a sequence \(got float\)$"):
        dark.FloatTensor(2.5)
    with pytest.raises(ValueError, match="^invalid type: 'torch.Foo'$"):
        dark.ones(2).type("torch.Foo")
    with pytest.raises(RuntimeError, match="^legacy constructor expects device type: cpu but "
                       "device type: cuda was passed$"):
        dark.FloatTensor(2, device="cuda")
    with pytest.raises(TypeError, match=r"^expected TensorOptions\(dtype=float, device=cpu"):
        dark.FloatTensor(dark.ones(2, dtype=dark.int64))


@CPU_ONLY
def test_cuda_legacy_types_need_cuda():
    for call in (lambda: dark.cuda.FloatTensor(2), lambda: dark.cuda.LongTensor([1]),
                 lambda: dark.cuda.FloatTensor()):
        with pytest.raises(TypeError, match="^type dark.cuda.(Float|Long)Tensor not available. "
                           "CUDA is not available"):
            call()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        dark.ones(2).type(dark.cuda.FloatTensor)
    if torch is not None:
        with pytest.raises(TypeError, match="^type torch.cuda.FloatTensor not available"):
            torch.cuda.FloatTensor(2)


@NEEDS_CUDA
def test_cuda_legacy_types_on_the_gpu():
    x = dark.cuda.FloatTensor(2, 3)
    assert x.device.type == "cuda" and x.dtype == dark.float32 and x.shape == (2, 3)
    assert isinstance(x, dark.cuda.FloatTensor) and not isinstance(x, dark.FloatTensor)
    y = dark.cuda.LongTensor([1, 2])
    assert y.device.type == "cuda" and y.cpu().tolist() == [1, 2]
    assert isinstance(y, dark.cuda.LongTensor)
    assert y.type() == "dark.cuda.LongTensor"
    moved = dark.tensor([1.5]).type(dark.cuda.DoubleTensor)
    assert moved.device.type == "cuda" and moved.dtype == dark.float64
    assert moved.type("torch.FloatTensor").device.type == "cpu"
    assert dark.cuda.FloatTensor(x) is not x and dark.cuda.FloatTensor(x).device == x.device


# ----------------------------------------------------------------------------- set_default_*

def _run_isolated(code: str) -> str:
    """Run ``code`` in a fresh interpreter (default-type state, torch's once-only warnings)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


DEFAULT_TENSOR_TYPE = """
import warnings
import {lib} as lib
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    lib.set_default_tensor_type(lib.DoubleTensor)
print([str(w.message) for w in caught if w.category is UserWarning])
print(lib.get_default_dtype(), lib.zeros(1).dtype, lib.tensor([1.0]).dtype, lib.Tensor(1).dtype)
print(lib.FloatTensor(1).dtype)
lib.set_default_tensor_type("torch.HalfTensor")
print(lib.get_default_dtype())
lib.set_default_tensor_type({quote}{lib}.FloatTensor{quote})
print(lib.get_default_dtype())
for bad in (lib.LongTensor, "torch.LongTensor", lib.float64, 3):
    try:
        lib.set_default_tensor_type(bad)
    except TypeError as error:
        print(error)
print(lib.get_default_dtype())
"""


@pytest.mark.parametrize("lib", LIBS)
def test_set_default_tensor_type(lib):
    out = _run_isolated(DEFAULT_TENSOR_TYPE.format(lib=lib.__name__, quote="'")).splitlines()
    name = lib.__name__
    assert out[0].startswith(f"['{name}.set_default_tensor_type() is deprecated as of PyTorch "
                             f"2.1, please use {name}.set_default_dtype() and "
                             f"{name}.set_default_device() as alternatives.")
    assert out[1:] == [f"{name}.float64 {name}.float64 {name}.float64 {name}.float64",
                       f"{name}.float32", f"{name}.float16", f"{name}.float32",
                       "only floating-point types are supported as the default type",
                       "only floating-point types are supported as the default type",
                       "invalid type object: only floating-point types are supported as the "
                       "default type",
                       "invalid type object: only floating-point types are supported as the "
                       "default type", f"{name}.float32"]


@CPU_ONLY
def test_set_default_tensor_type_cuda_needs_cuda():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="^type dark.cuda.FloatTensor not available"):
            dark.set_default_tensor_type(dark.cuda.FloatTensor)
        if torch is not None:
            with pytest.raises(TypeError, match="^type torch.cuda.FloatTensor not available"):
                torch.set_default_tensor_type(torch.cuda.FloatTensor)
    assert dark.get_default_dtype() == dark.float32
    assert dark.get_default_device() == dark.device("cpu")


@NEEDS_CUDA
def test_set_default_tensor_type_cuda():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dark.set_default_tensor_type(dark.cuda.DoubleTensor)
            made = dark.zeros(2)
            assert made.device.type == "cuda" and made.dtype == dark.float64
            dark.set_default_tensor_type("torch.FloatTensor")  # back to the CPU
            made = dark.zeros(2)
            assert made.device.type == "cpu" and made.dtype == dark.float32
    finally:
        dark.set_default_dtype(dark.float32)
        dark.set_default_device(None)


@pytest.fixture
def restore_default_device():
    yield
    dark.set_default_device(None)
    if torch is not None:
        torch.set_default_device(None)


@pytest.mark.usefixtures("restore_default_device")
@pytest.mark.parametrize("lib", LIBS)
def test_default_device_cpu(lib):
    assert lib.get_default_device() == lib.device("cpu")
    lib.set_default_device("cpu")
    assert lib.get_default_device() == lib.device("cpu")
    assert lib.zeros(2).device == lib.device("cpu")
    lib.set_default_device(lib.device("cpu"))
    assert lib.get_default_device() == lib.device("cpu")
    lib.set_default_device(None)
    assert lib.get_default_device() == lib.device("cpu")
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        lib.set_default_device("foo")


@pytest.mark.parametrize("lib", LIBS)
def test_device_flags_of_a_cpu_tensor(lib):
    """The flags programs test before picking a path (dcgan: ``input.is_cuda or
    input.is_xpu``): a CPU tensor is on none of the accelerators, nor on the meta device."""
    x = lib.zeros(2, device="cpu")
    flags = ("is_cpu", "is_cuda", "is_xpu", "is_mps", "is_meta")
    assert [getattr(x, f) for f in flags] == [True, False, False, False, False]


@NEEDS_CUDA
def test_device_flags_of_a_cuda_tensor():
    x = dark.zeros(2, device="cuda")
    flags = ("is_cpu", "is_cuda", "is_xpu", "is_mps", "is_meta")
    assert [getattr(x, f) for f in flags] == [False, True, False, False, False]


@CPU_ONLY
@pytest.mark.usefixtures("restore_default_device")
def test_default_device_cuda_without_gpu():
    dark.set_default_device("cuda")  # accepted, as torch: the factories say why not
    factories = [lambda: dark.zeros(2), lambda: dark.ones(2, 3), lambda: dark.tensor([1.0]),
                 lambda: dark.randn(2), lambda: dark.arange(3), lambda: dark.empty(1),
                 lambda: dark.full((2,), 1.0), lambda: dark.as_tensor(np.ones(2)),
                 lambda: dark.as_tensor(dark.ones(2, device="cpu")),
                 lambda: dark.asarray([1.0]), dark.get_default_device]
    for factory in factories:
        with pytest.raises(RuntimeError, match="^CUDA is not available"):
            factory()
    assert dark.zeros(2, device="cpu").device == dark.device("cpu")  # an explicit device wins
    assert dark.from_numpy(np.ones(2)).device == dark.device("cpu")  # shares memory: no move
    # the legacy constructors ignore the default device, as torch's
    assert dark.Tensor(2).device == dark.device("cpu")
    assert dark.FloatTensor([1.0]).device == dark.device("cpu")
    if torch is not None:  # torch's CPU build also fails at the factory, not at the setter
        torch.set_default_device("cuda")
        with pytest.raises((AssertionError, RuntimeError), match="CUDA"):
            torch.zeros(2)


@NEEDS_CUDA
@pytest.mark.usefixtures("restore_default_device")
def test_default_device_cuda():
    dark.set_default_device("cuda")
    assert dark.get_default_device() == dark.device("cuda", dark.cuda.current_device())
    for made in (dark.zeros(2), dark.tensor([1.0]), dark.randn(2), dark.arange(3),
                 dark.as_tensor(np.ones(2)), dark.as_tensor(dark.ones(2, device="cpu")),
                 dark.nn.Linear(2, 3).weight):
        assert made.device.type == "cuda"
    assert dark.zeros(2, device="cpu").device.type == "cpu"
    assert dark.Tensor(2).device.type == "cpu"  # the legacy constructor, as torch's


@pytest.mark.usefixtures("restore_default_device")
@pytest.mark.parametrize("lib", LIBS)
def test_default_device_meta_shows_torchs_choices(lib):
    """Which calls follow the default device, shown with torch's 'meta' device where torch
    is installed (dark has no meta device: its run checks the CPU default only)."""
    if lib is torch:
        torch.set_default_device("meta")
        followed = [torch.zeros(1), torch.tensor([1.0]), torch.as_tensor(np.ones(1)),
                    torch.asarray([1.0]), torch.randn(1), torch.arange(2)]
        assert all(t.device.type == "meta" for t in followed)
        stayed = [torch.Tensor(1), torch.FloatTensor(1), torch.from_numpy(np.ones(1)),
                  torch.ones(1, device="cpu").new_tensor([1.0])]
        assert all(t.device.type == "cpu" for t in stayed)
    else:
        dark.set_default_device("cpu")
        assert dark.as_tensor(np.ones(1)).device == dark.device("cpu")
        assert dark.Tensor(1).device == dark.device("cpu")


@pytest.mark.usefixtures("restore_default_device")
@pytest.mark.parametrize("lib", LIBS)
def test_default_device_is_per_thread(lib):
    lib.set_default_device("cpu:0" if lib is dark else "cpu")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(lib.get_default_device()))
    thread.start()
    thread.join()
    assert seen == [lib.device("cpu")]


# ----------------------------------------------------------------------------- Variable

@pytest.mark.parametrize("lib", LIBS)
def test_variable_is_a_tensor(lib):
    Variable = lib.autograd.Variable
    x = lib.ones(2)
    v = Variable(x)
    assert type(v) is lib.Tensor and v is not x
    assert v.tolist() == [1.0, 1.0] and v.requires_grad is False
    assert Variable(x).data.tolist() == [1.0, 1.0]
    w = Variable(x, requires_grad=True)
    assert w.requires_grad and w.is_leaf
    assert Variable(x, True).requires_grad
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]
    w.data[0] = 5.0
    assert x.tolist() == [5.0, 1.0]  # the same memory
    leaf = lib.ones(2, requires_grad=True)
    detached = Variable(leaf * 2)
    assert detached.grad_fn is None and detached.requires_grad is False
    assert Variable(leaf * 2, requires_grad=True).is_leaf
    assert Variable(data=x).shape == (2,)
    assert Variable().shape == (0,) and Variable().dtype == lib.float32
    assert isinstance(x, Variable) and isinstance(lib.nn.Parameter(x), Variable)
    assert not isinstance(3, Variable) and not isinstance(np.ones(1), Variable)
    assert not issubclass(lib.Tensor, Variable)
    assert isinstance(lib.nn.Parameter(Variable(x)), lib.nn.Parameter)


@pytest.mark.parametrize("lib", LIBS)
def test_variable_volatile_warns(lib):
    name = lib.__name__
    x = lib.ones(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v = lib.autograd.Variable(x, volatile=True)
        lib.autograd.Variable(x, volatile=False)
    assert v.tolist() == [1.0, 1.0] and not v.requires_grad
    assert [(w.category, str(w.message)) for w in caught] == [
        (UserWarning, f"volatile was removed and now has no effect. Use `with {name}.no_grad():`"
                      " instead.")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="^Variable can't be volatile and require_grad at "
                           "the same time!$"):
            lib.autograd.Variable(x, True, True)
    with pytest.raises(TypeError, match="^Variable data has to be a tensor, but got list$"):
        lib.autograd.Variable([1, 2])
    with pytest.raises(TypeError, match="^Variable data has to be a tensor, but got int$"):
        lib.autograd.Variable(3)


@requires_torch
def test_variable_errors_are_torchs():
    for call in ("V(x.long(), requires_grad=True)", "V(x, requires_grad=None)", "V(x, foo=1)"):
        mine = error_of(lambda c=call: eval(c, {"V": dark.autograd.Variable,  # noqa: S307
                                                "x": dark.ones(2)}))
        theirs = error_of(lambda c=call: eval(c, {"V": torch.autograd.Variable,  # noqa: S307
                                                  "x": torch.ones(2)}))
        assert mine is not None and theirs is not None and mine[0] is theirs[0], call


# ----------------------------------------------------------------------------- scale first

def _deprecation(name, scale, tensors, method):
    """torch's deprecation warning of the scale-first overload of ``name``."""
    listed = ", ".join(f"Tensor {t}" for t in tensors)
    if method:
        old, new = f"{name}(Number {scale}, {listed})", f"{name}({listed}, *, Number {scale} = 1)"
    else:
        old = f"{name}(Tensor input, Number {scale}, {listed}, *, Tensor out = None)"
        new = f"{name}(Tensor input, {listed}, *, Number {scale} = 1, Tensor out = None)"
    return (f"This overload of {name} is deprecated:\n\t{old}\nConsider using one of the "
            f"following signatures instead:\n\t{new}")


ALPHA, VALUE = ("alpha", ["other"]), ("value", ["tensor1", "tensor2"])
# (deprecated call, the same call in today's form, op name, its scale and tensors, method?)
SCALE_FIRST = [
    ("x.clone().add_(-0.5, y)", "x.clone().add_(y, alpha=-0.5)", "add_", ALPHA, True),
    ("x.add(2, y)", "x.add(y, alpha=2)", "add", ALPHA, True),
    ("lib.add(x, 2, y)", "lib.add(x, y, alpha=2)", "add", ALPHA, False),
    ("lib.add(x, 2, y, out=lib.empty(3))", "lib.add(x, y, alpha=2)", "add", ALPHA, False),
    ("x.clone().sub_(3, y)", "x.clone().sub_(y, alpha=3)", "sub_", ALPHA, True),
    ("x.sub(0.25, y)", "x.sub(y, alpha=0.25)", "sub", ALPHA, True),
    ("lib.sub(x, 2, y)", "lib.sub(x, y, alpha=2)", "sub", ALPHA, False),
    ("x.clone().addcmul_(0.5, y, z)", "x.clone().addcmul_(y, z, value=0.5)", "addcmul_", VALUE,
     True),
    ("x.clone().addcdiv_(-2, y, z)", "x.clone().addcdiv_(y, z, value=-2)", "addcdiv_", VALUE,
     True),
    ("x.addcmul(2, y, z)", "x.addcmul(y, z, value=2)", "addcmul", VALUE, True),
    ("x.addcdiv(2, y, z)", "x.addcdiv(y, z, value=2)", "addcdiv", VALUE, True),
    ("lib.addcmul(x, 3, y, z)", "lib.addcmul(x, y, z, value=3)", "addcmul", VALUE, False),
    ("lib.addcdiv(x, 3, y, z, out=lib.empty(3))", "lib.addcdiv(x, y, z, value=3)", "addcdiv",
     VALUE, False),
]


def _operands(lib):
    return {"lib": lib, "x": lib.tensor([1.0, -2.0, 3.0]), "y": lib.tensor([0.5, 4.0, -1.0]),
            "z": lib.tensor([2.0, -0.5, 8.0])}


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("case", SCALE_FIRST, ids=[c[0] for c in SCALE_FIRST])
def test_scale_first_forms_warn_and_compute(lib, case):
    deprecated, current, name, (scale, tensors), method = case
    if lib is torch:
        torch.set_warn_always(True)  # torch warns once per process otherwise
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = eval(deprecated, _operands(lib))  # noqa: S307
    finally:
        if lib is torch:
            torch.set_warn_always(False)
    expected = eval(current, _operands(lib))  # noqa: S307
    assert got.dtype == expected.dtype and got.tolist() == expected.tolist()
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    assert len(messages) == 1, messages
    # torch appends " (Triggered internally at <its C++ source>)"
    assert messages[0].startswith(_deprecation(name, scale, tensors, method))


@pytest.mark.parametrize("lib", LIBS)
def test_scale_first_in_place_writes_in_place(lib):
    x, y = lib.ones(3), lib.full((3,), 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert x.add_(-0.5, y) is x
        assert x.addcmul_(2, y, y) is x
    assert x.tolist() == [8.0, 8.0, 8.0]


SCALE_FIRST_ERRORS = [
    "x.add(y, 2)", "x.add(2, y, alpha=3)", "lib.add(x, 2, y, alpha=3)", "x.add(2, y, y)",
    "x.clone().add_(2, y, y)", "x.sub(y, y)", "lib.addcmul(x, y, z, 2)",
    "x.addcmul(2, y, z, value=3)", "lib.addcmul(x, 2.0, y)", "x.addcmul(y, 2)",
    "lib.addcmul(2.0, x, y)", "lib.addcdiv(x.long(), x.long(), y.long())",
    "lib.addcmul(x.bool(), y.bool(), z.bool())", "x.long().addcmul_(y, z)",
    "x.clone().addcmul_(y.expand(2, 3), z)", "lib.addcmul(x, y, z, value=1j)",
    "x.long().add(2.5, y.long())", "lib.subtract(x, 2, y)", "x.subtract(2, y)",
    "x.clone().subtract_(2, y)",
]


@requires_torch
@pytest.mark.parametrize("call", SCALE_FIRST_ERRORS)
def test_scale_first_errors_are_torchs(call):
    """The same error type, and torch's message where both give one in the same words."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = error_of(lambda: eval(call, _operands(dark)))  # noqa: S307
        theirs = error_of(lambda: eval(call, _operands(torch)))  # noqa: S307
    assert mine is not None and theirs is not None
    assert mine[0] is theirs[0], (mine, theirs)
    if "received an invalid combination" not in theirs[1]:  # torch's argument-parser dump
        assert mine[1] == theirs[1]


def test_scale_first_errors_without_torch():
    x, y = dark.ones(3), dark.ones(3)
    with pytest.raises(TypeError, match=r"^add\(\) takes 1 positional argument but 2 were "):
        x.add(y, 2)
    with pytest.raises(TypeError, match=r"^addcmul\(\) takes 3 positional arguments but 4 "):
        dark.addcmul(x, y, y, 2)
    with pytest.raises(NotImplementedError, match="\"addcmul_cpu_out\" not implemented for "
                       "'Bool'"):
        dark.addcmul(x.bool(), y.bool(), y.bool())
    with pytest.raises(RuntimeError, match="^Integer division with addcdiv is no longer "):
        dark.addcdiv(x, y.long(), y.long())


# ----------------------------------------------------------------------------- addcmul/addcdiv

# the dtypes of input, tensor1, tensor2 and of the result (torch's promotion)
ADDC_DTYPES = [("float32", "float32", "float32", "float32"),
               ("float64", "float32", "float32", "float64"),
               ("float32", "float64", "int64", "float64"),
               ("int64", "int64", "int64", "int64"),
               ("int32", "float32", "int64", "float32"),
               ("float16", "float32", "float32", "float32")]


@pytest.mark.parametrize("dtypes", ADDC_DTYPES, ids=["-".join(d[:3]) for d in ADDC_DTYPES])
@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv_values_and_dtypes(op, dtypes):
    *dtypes, result = dtypes
    rng = np.random.default_rng(3)
    arrays = [rng.integers(1, 5, size) * rng.choice([-1, 1], size)
              for size in ((2, 3), (3,), (2, 1))]
    arrays = [a.astype(d) for a, d in zip(arrays, dtypes)]
    if op == "addcdiv" and all(d.startswith("int") for d in dtypes[1:]):
        pytest.skip("integer addcdiv is an error (tested above)")
    value = 0.5 if any(d.startswith("float") for d in dtypes) else 3
    got = getattr(dark, op)(*[dark.tensor(a) for a in arrays], value=value)
    result = np.dtype(result)
    wide = [a.astype(np.float64) for a in arrays]
    reference = wide[0] + value * (wide[1] * wide[2] if op == "addcmul" else wide[1] / wide[2])
    assert got.dtype == dark._backend.from_numpy_dtype(result)
    np.testing.assert_allclose(got.numpy(), reference.astype(result), rtol=1e-6)
    if torch is not None:
        theirs = getattr(torch, op)(*[torch.tensor(a) for a in arrays], value=value)
        assert str(theirs.dtype).replace("torch.", "dark.") == str(got.dtype)
        np.testing.assert_array_equal(got.numpy(), theirs.numpy())


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv_gradients(lib, op):
    x = lib.tensor([[1.0, -2.0, 3.0]], dtype=lib.float64, requires_grad=True)
    y = lib.tensor([[0.5], [4.0]], dtype=lib.float64, requires_grad=True)
    z = lib.tensor([2.0, -0.5, 8.0], dtype=lib.float64, requires_grad=True)
    out = getattr(lib, op)(x, y, z, value=-1.5)
    assert out.shape == (2, 3)
    weights = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=lib.float64)
    (out * weights).sum().backward()
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ys, zs = np.array([[0.5], [4.0]]), np.array([2.0, -0.5, 8.0])
    np.testing.assert_allclose(x.grad.numpy(), w.sum(0, keepdims=True))
    if op == "addcmul":
        np.testing.assert_allclose(y.grad.numpy(), (-1.5 * w * zs).sum(1, keepdims=True))
        np.testing.assert_allclose(z.grad.numpy(), (-1.5 * w * ys).sum(0))
    else:
        np.testing.assert_allclose(y.grad.numpy(), (-1.5 * w / zs).sum(1, keepdims=True))
        np.testing.assert_allclose(z.grad.numpy(), (1.5 * w * ys / zs ** 2).sum(0))
    assert dark.autograd.gradcheck(
        lambda a, b, c: getattr(dark, op)(a, b, c, value=0.7),
        [dark.tensor(np.array(v), dtype=dark.float64, requires_grad=True)
         for v in ([1.0, 2.0], [[0.3], [-1.2]], [1.5, -2.5])])


@pytest.mark.parametrize("lib", LIBS)
def test_addcmul_in_place_and_out(lib):
    x = lib.ones(2, 2)
    t1, t2 = lib.tensor([1.0, 2.0]), lib.tensor([[2.0], [4.0]])
    assert x.addcmul_(t1, t2, value=2) is x
    assert x.tolist() == [[5.0, 9.0], [9.0, 17.0]]
    assert x.addcdiv_(t1, t2).tolist() == [[5.5, 10.0], [9.25, 17.5]]
    out = lib.empty(0)
    assert lib.addcmul(lib.zeros(2), t1, t1, out=out) is out
    assert out.tolist() == [1.0, 4.0]
