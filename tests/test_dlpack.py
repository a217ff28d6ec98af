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


@pytest.mark.parametrize("array", [np.arange(3.0), np.array(2.0), np.zeros((0, 2)),
                                   np.array([True, False, True]),
                                   np.arange(12.0).reshape(3, 4)[:, ::2].T])
def test_read_only_producer_is_shared_as_torch(array):
    """torch.from_dlpack shares a read-only numpy array and lets writes through: so does
    dark (the tensor is writable); copy=True gives a private copy."""
    array.flags.writeable = False
    t = dark.from_dlpack(array)
    assert t.shape == array.shape
    if array.size:
        assert t.stride() == tuple(s // array.itemsize for s in array.strides)
        assert np.shares_memory(t.numpy(), array)
        last = tuple(n - 1 for n in array.shape)
        value = (not array[last]) if array.dtype == bool else array[last] + 5
        t[last] = value
        assert array[last] == value  # the write went through
    copied = dark.from_dlpack(array, copy=True)
    assert not array.size or not np.shares_memory(copied.numpy(), array)


@requires_torch
def test_read_only_producer_written_through_as_torch():
    ours, theirs = np.arange(3.0), np.arange(3.0)
    ours.flags.writeable = theirs.flags.writeable = False
    dark.from_dlpack(ours)[1] = 7.0
    torch.from_dlpack(theirs)[1] = 7.0
    np.testing.assert_array_equal(ours, theirs)
    assert ours[1] == 7.0


def test_jax_round_trip_shares_memory():
    jax = pytest.importorskip("jax", reason="the JAX case needs jax (pip install jax)")
    jnp = jax.numpy
    x = jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3)
    t = dark.from_dlpack(x)  # JAX marks its buffers read-only: shared anyway, as torch
    assert t.dtype is dark.float32 and t.shape == (2, 3)
    assert t.numpy().ctypes.data == x.unsafe_buffer_pointer()
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    del x
    gc.collect()
    assert t.sum().item() == 15.0  # the JAX buffer is kept alive by the tensor
    # dark -> JAX: XLA takes CPU memory without a copy when it is 64-byte aligned (numpy's
    # allocations are 16-byte aligned: JAX copies those), so the source is placed aligned
    raw = np.zeros(4 + 16, np.int32)
    start = (-raw.ctypes.data % 64) // 4
    source = dark.from_numpy(raw[start:start + 4])
    source.copy_(dark.arange(4, dtype=dark.int32) * 3)
    y = jnp.from_dlpack(source)
    assert y.dtype == jnp.int32 and y.unsafe_buffer_pointer() == source.numpy().ctypes.data
    source[0] = 9  # JAX sees dark's write (zero copy)
    assert y.tolist() == [9, 3, 6, 9]
    np.testing.assert_array_equal(jnp.from_dlpack(dark.arange(5.0)[1:]), np.arange(1.0, 5.0))
    b = jnp.from_dlpack(dark.tensor([True, False]))
    assert b.dtype == jnp.bool_ and b.tolist() == [True, False]


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
