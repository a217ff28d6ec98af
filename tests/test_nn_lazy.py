"""Lazy modules (LazyLinear, LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d, LazyBatchNorm1d/2d/3d)
and UninitializedParameter / UninitializedBuffer, against PyTorch and against dark's eager
layers: the weights materialised at the first call (equal to torch's after manual_seed),
the class they become, repr, state_dict, optimizers made before the first call, moves and
casts before it, load_state_dict, pickling, and torch's errors."""
import copy
import pickle

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark

# name, constructor args, input shape, eager class, eager args (with the inferred size)
CASES = [
    ("LazyLinear", (5,), (3, 7), "Linear", (7, 5)),
    ("LazyLinear", (5, False), (2, 3, 4), "Linear", (4, 5, False)),
    ("LazyConv1d", (4, 3), (2, 6, 9), "Conv1d", (6, 4, 3)),
    ("LazyConv2d", (4, 3), (2, 6, 9, 8), "Conv2d", (6, 4, 3)),
    ("LazyConv2d", (4, 3, 2, 1, 1, 2, False), (6, 9, 8), "Conv2d", (6, 4, 3, 2, 1, 1, 2, False)),
    ("LazyConv3d", (4, 2), (2, 3, 5, 4, 4), "Conv3d", (3, 4, 2)),
    ("LazyConvTranspose1d", (4, 3), (2, 6, 9), "ConvTranspose1d", (6, 4, 3)),
    ("LazyConvTranspose2d", (4, 3, 2, 1, 1, 2), (2, 6, 5, 5), "ConvTranspose2d",
     (6, 4, 3, 2, 1, 1, 2)),
    ("LazyConvTranspose3d", (4, 2), (2, 3, 3, 4, 4), "ConvTranspose3d", (3, 4, 2)),
    ("LazyBatchNorm1d", (), (4, 3), "BatchNorm1d", (3,)),
    ("LazyBatchNorm1d", (1e-3, 0.2, False), (4, 3, 5), "BatchNorm1d", (3, 1e-3, 0.2, False)),
    ("LazyBatchNorm2d", (), (2, 3, 4, 4), "BatchNorm2d", (3,)),
    ("LazyBatchNorm3d", (1e-5, 0.1, True, False), (2, 3, 2, 2, 2), "BatchNorm3d",
     (3, 1e-5, 0.1, True, False)),
]
IDS = [f"{case[0]}-{i}" for i, case in enumerate(CASES)]


def _numpy(tensor):
    return tensor.detach().cpu().numpy()


def _input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name,args,shape,eager,eager_args", CASES, ids=IDS)
def test_first_call_gives_the_eager_layer(name, args, shape, eager, eager_args, device):
    """After manual_seed, a lazy layer's first call draws the weights the eager layer (with
    the inferred size) draws, and the module becomes that layer's class."""
    dark.manual_seed(0)
    lazy = getattr(dark.nn, name)(*args, device=device)
    assert lazy.has_uninitialized_params()
    x = dark.tensor(_input(shape), device=device)
    out = lazy(x)
    assert type(lazy) is getattr(dark.nn, eager)  # as torch: no longer a lazy module
    assert not hasattr(lazy, "has_uninitialized_params")
    assert not hasattr(lazy, "_initialize_hook") and not lazy._forward_pre_hooks
    dark.manual_seed(0)
    reference = getattr(dark.nn, eager)(*eager_args, device=device)
    assert repr(lazy) == repr(reference)
    assert list(lazy.state_dict()) == list(reference.state_dict())
    for (key, mine), theirs in zip(lazy.named_parameters(), reference.parameters()):
        assert type(mine) is dark.nn.Parameter and mine.device.type == device
        np.testing.assert_array_equal(_numpy(mine), _numpy(theirs), err_msg=key)
    np.testing.assert_allclose(_numpy(out), _numpy(reference(x)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,args,shape,eager,eager_args", CASES, ids=IDS)
@requires_torch
def test_matches_torch(name, args, shape, eager, eager_args):
    dark.manual_seed(0)
    mine = getattr(dark.nn, name)(*args)
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args)
    assert repr(mine) == repr(theirs)
    assert [(k, repr(v)) for k, v in mine.state_dict().items()] == \
        [(k, repr(v)) for k, v in theirs.state_dict().items()]
    x = _input(shape)
    out, expected = mine(dark.tensor(x)), theirs(torch.tensor(x))
    assert type(mine).__name__ == type(theirs).__name__ == eager
    assert repr(mine) == repr(theirs)
    np.testing.assert_allclose(_numpy(out), expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    expected_state = theirs.state_dict()
    for key, value in mine.state_dict().items():
        if key in dict(theirs.named_parameters()):  # drawn weights: bit-equal
            np.testing.assert_array_equal(_numpy(value), expected_state[key].numpy())
        else:  # running statistics after one batch
            np.testing.assert_allclose(_numpy(value), expected_state[key].numpy(), rtol=1e-6,
                                       atol=1e-7)


@pytest.mark.parametrize("lib", LIBS)
def test_optimizer_made_before_the_first_call(lib):
    """The parameters materialise in place: an optimizer holding them keeps working."""
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.LazyConv2d(4, 3), lib.nn.ReLU(), lib.nn.Flatten(),
                              lib.nn.LazyLinear(2))
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = lib.tensor(_input((3, 2, 5, 5)))
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert [type(m).__name__ for m in model] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    assert tuple(model[3].weight.shape) == (2, 36)
    assert losses[2] < losses[0]
    if lib is dark and torch is not None:
        expected = _torch_losses()
        np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)


def _torch_losses():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.LazyConv2d(4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.LazyLinear(2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.tensor(_input((3, 2, 5, 5)))
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("lib", LIBS)
def test_uninitialized_parameter(lib):
    layer = lib.nn.LazyLinear(3)
    weight = layer.weight
    assert isinstance(weight, lib.nn.UninitializedParameter)
    assert isinstance(weight, lib.nn.Parameter) and weight.requires_grad
    assert repr(weight) == "<UninitializedParameter>"
    assert weight.dtype == lib.float32 and weight.device.type == "cpu"
    with pytest.raises(RuntimeError, match=r"^Can't access the shape of an uninitialized "
                       r"parameter or buffer\. This error usually happens in `load_state_dict`"):
        _ = weight.shape
    with pytest.raises(ValueError, match=r"^Attempted to use an uninitialized parameter in .*"
                       r"This error happens when you are using a `LazyModule` or explicitly "
                       r"manipulating `torch\.nn\.parameter\.UninitializedParameter` objects"):
        weight.sum()
    with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
        lib.nn.functional.linear(lib.ones(2, 2), weight)
    assert repr(layer) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    state = layer.state_dict()
    assert list(state) == ["weight", "bias"] and state["weight"] is weight
    buffer = lib.nn.UninitializedBuffer()
    assert not buffer.requires_grad and repr(buffer) == "<UninitializedBuffer>"
    buffer.materialize((2, 3), dtype=lib.float64)
    assert type(buffer) is lib.Tensor and tuple(buffer.shape) == (2, 3)
    assert buffer.dtype == lib.float64
    weight.materialize((3, 4))
    assert type(weight) is lib.nn.Parameter and tuple(weight.shape) == (3, 4)


@pytest.mark.parametrize("lib", LIBS)
def test_cast_and_copy_before_the_first_call(lib):
    layer = lib.nn.LazyLinear(3).double()
    assert layer.weight.dtype == lib.float64
    assert isinstance(layer.weight, lib.nn.UninitializedParameter)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert isinstance(clone.weight, lib.nn.UninitializedParameter)
        assert clone.weight is not layer.weight and clone.has_uninitialized_params()
    out = layer(lib.ones(2, 4, dtype=lib.float64))
    assert out.dtype == lib.float64 and type(layer).__name__ == "Linear"


def test_device_argument_and_move(device):
    layer = dark.nn.LazyConv1d(2, 3, device=device)
    assert layer.weight.device.type == device
    layer = dark.nn.LazyBatchNorm1d().to(device)
    assert layer.running_mean.device.type == device
    layer(dark.ones(4, 3, device=device))
    assert layer.running_mean.device.type == device and layer.weight.device.type == device


@pytest.mark.parametrize("lib", LIBS)
def test_load_state_dict(lib):
    lib.manual_seed(0)
    source = lib.nn.Linear(4, 3)
    lazy = lib.nn.LazyLinear(3)
    lazy.load_state_dict(source.state_dict())
    assert not lazy.has_uninitialized_params() and type(lazy).__name__ == "LazyLinear"
    np.testing.assert_array_equal(_numpy(lazy.weight), _numpy(source.weight))
    lazy(lib.ones(2, 4))
    assert type(lazy).__name__ == "Linear"
    still = lib.nn.LazyLinear(3)
    still.load_state_dict(lib.nn.LazyLinear(3).state_dict())
    assert still.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="Missing key"):
        lib.nn.LazyLinear(3).load_state_dict({"weight": source.weight.detach()})
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized "
                                           "parameter"):
        lib.nn.Linear(4, 3).load_state_dict(lib.nn.LazyLinear(3).state_dict())
    norm = lib.nn.LazyBatchNorm1d()
    norm.load_state_dict(lib.nn.BatchNorm1d(5).state_dict())
    assert tuple(norm.running_var.shape) == (5,) and type(norm.running_var) is lib.Tensor


@pytest.mark.parametrize("lib", LIBS)
def test_errors(lib):
    name = lib.__name__
    with pytest.raises(RuntimeError) as error:
        lib.nn.LazyConv2d(4, 3)(lib.zeros(2, 3))
    assert str(error.value) == (f"Expected 3D (unbatched) or 4D (batched) input to LazyConv2d, "
                                f"but got input of size: {name}.Size([2, 3])")
    with pytest.raises(RuntimeError, match=r"^Expected 2D \(unbatched\) or 3D \(batched\) "
                                           r"input to LazyConvTranspose1d"):
        lib.nn.LazyConvTranspose1d(4, 3)(lib.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="^in_channels must be divisible by groups$"):
        lib.nn.LazyConv2d(4, 3, groups=2)(lib.zeros(1, 3, 5, 5))
    lib.nn.LazyConv2d(3, 3, groups=2)  # as torch: out_channels is not checked (it is 0 then)
    with pytest.raises(ValueError, match=r"^expected 4D input \(got 2D input\)$"):
        lib.nn.LazyBatchNorm2d()(lib.zeros(2, 3))
    module = lib.nn.LazyBatchNorm1d(affine=False, track_running_stats=False)
    assert list(module.state_dict()) == [] and not module.has_uninitialized_params()
