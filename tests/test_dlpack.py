"""DLPack exchange (dark.from_dlpack, Tensor.__dlpack__, dark.utils.dlpack): zero-copy both
ways with numpy and torch, memory shared, owners kept alive, gradients not carried."""
import gc

import numpy as np
import pytest
from harness import requires_torch, torch

import dark
from dark.utils import dlpack

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _sample(dtype, shape=(2, 3)):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_round_trip_shares_memory(dtype):
    array = _sample(dtype)
    t = dark.from_dlpack(array)
    assert t.dtype == getattr(dark, dtype) and t.shape == (2, 3) and not t.requires_grad
    assert np.shares_memory(t.numpy(), array)
    back = np.from_dlpack(t)
    assert np.shares_memory(back, array) and back.dtype == array.dtype
    t[0, 0] = 1
    assert array[0, 0] == 1 and back[0, 0] == 1  # one memory, seen from all three


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (5,), (2, 3, 4)])
def test_shapes_zero_d_and_empty(shape):
    array = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    t = dark.from_dlpack(array)
    assert t.shape == shape
    np.testing.assert_array_equal(t.numpy(), array)
    np.testing.assert_array_equal(np.from_dlpack(t), array)


def test_non_contiguous_keeps_strides():
    base = np.arange(24.0).reshape(4, 6)
    view = base[:, ::2].T  # transposed and strided
    t = dark.from_dlpack(view)
    assert t.stride() == (2, 6) and np.shares_memory(t.numpy(), base)
    np.testing.assert_array_equal(t.numpy(), view)
    exported = np.from_dlpack(dark.from_numpy(base).t()[::2])
    np.testing.assert_array_equal(exported, base.T[::2])
    assert np.shares_memory(exported, base)


def test_owner_kept_alive():
    t = dark.from_dlpack(np.arange(1000.0))
    gc.collect()
    np.testing.assert_array_equal(t.numpy(), np.arange(1000.0))
    source = dark.arange(1000.0)
    array = np.from_dlpack(source)
    del source
    gc.collect()
    np.testing.assert_array_equal(array, np.arange(1000.0))


def test_capsules_legacy_and_versioned():
    capsule = dlpack.to_dlpack(dark.arange(4))
    assert type(capsule).__name__ == "PyCapsule"
    np.testing.assert_array_equal(dark.from_dlpack(capsule).numpy(), np.arange(4))
    with pytest.raises(RuntimeError, match="consumed only once"):
        dark.from_dlpack(capsule)  # a capsule is consumed once
    versioned = np.arange(3.0).__dlpack__(max_version=(1, 0))
    np.testing.assert_array_equal(dark.from_dlpack(versioned).numpy(), np.arange(3.0))
    with pytest.raises(AssertionError, match="device and copy kwargs not supported"):
        dark.from_dlpack(dlpack.to_dlpack(dark.ones(2)), copy=True)


def test_copy_and_device_arguments():
    array = np.arange(4.0)
    copied = dark.from_dlpack(array, copy=True)
    assert not np.shares_memory(copied.numpy(), array)
    shared = dark.from_dlpack(array, copy=False, device="cpu")
    assert np.shares_memory(shared.numpy(), array)


def test_read_only_producer_is_copied():
    array = np.arange(3.0)
    array.flags.writeable = False
    t = dark.from_dlpack(array)
    t[0] = 5.0  # dark's tensors are writable: a copy, the read-only memory is untouched
    assert array[0] == 0.0 and t[0].item() == 5.0


def test_errors():
    with pytest.raises(BufferError, match="Can't export tensors that require gradient"):
        dark.ones(2, requires_grad=True).__dlpack__()
    np.from_dlpack(dark.ones(2, requires_grad=True).detach())  # detached: fine
    with pytest.raises(TypeError, match="expected an object with __dlpack__"):
        dark.from_dlpack([1, 2])
    with pytest.raises(TypeError, match="uint32"):
        dark.from_dlpack(np.zeros(2, np.uint32))
    with pytest.raises(TypeError, match="to_dlpack.*must be Tensor"):
        dlpack.to_dlpack(np.ones(2))


def test_device_tuple():
    assert dark.ones(2).__dlpack_device__() == (dlpack.DLDeviceType.kDLCPU, 0)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_round_trip_shares_memory(dtype):
    t = dark.from_numpy(_sample(dtype))
    x = torch.from_dlpack(t)
    assert str(x.dtype) == f"torch.{dtype}" and x.shape == (2, 3)
    x[1, 1] = 1
    assert t[1, 1].item() == 1
    y = torch.from_dlpack(np.ascontiguousarray(_sample(dtype)))
    d = dark.from_dlpack(y)
    assert str(d.dtype) == f"dark.{dtype}"
    d[0, 1] = 0
    assert y[0, 1].item() == 0
    np.testing.assert_array_equal(d.numpy(), y.numpy())


@requires_torch
def test_torch_gradients_not_carried_and_capsules():
    w = torch.ones(3, requires_grad=True)
    d = dark.from_dlpack(w.detach())
    assert not d.requires_grad
    with pytest.raises(BufferError):
        torch.from_dlpack(dark.ones(2, requires_grad=True))
    x = torch.utils.dlpack.from_dlpack(dlpack.to_dlpack(dark.arange(5.0)))
    np.testing.assert_array_equal(x.numpy(), np.arange(5.0))
    d = dark.from_dlpack(torch.utils.dlpack.to_dlpack(torch.arange(5)))
    np.testing.assert_array_equal(d.numpy(), np.arange(5))
    strided = torch.arange(12.0).reshape(3, 4)[:, 1::2]
    d = dark.from_dlpack(strided)
    assert d.stride() == strided.stride()
    np.testing.assert_array_equal(d.numpy(), strided.numpy())


@pytest.mark.skipif(not dark.cuda.is_available(), reason="CUDA is not available")
def test_cupy_round_trip_on_gpu():
    import cupy

    array = cupy.arange(6, dtype=cupy.float32)
    t = dark.from_dlpack(array)
    assert t.is_cuda
    t[0] = 9
    assert float(array[0]) == 9.0
    stream = cupy.cuda.Stream()
    with stream:
        back = cupy.from_dlpack(t)
    assert back.data.ptr == array.data.ptr
    assert dark.from_dlpack(np.arange(3.0), device="cuda").is_cuda
