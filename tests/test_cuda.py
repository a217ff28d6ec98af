"""dark.cuda: device queries, seeding and memory statistics. Without CuPy or a GPU the
queries answer as PyTorch's do on a CPU-only build and the GPU-only functions raise
RuntimeError with the reason; with a GPU they are exercised for real."""
import numpy as np
import pytest

import dark

HAS_GPU = dark._backend.cuda_available()
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="CUDA is not available (no CuPy or GPU)")
no_gpu = pytest.mark.skipif(HAS_GPU, reason="checks the behaviour without a GPU")


def test_is_available_agrees_with_backend():
    assert dark.cuda.is_available() is HAS_GPU
    assert (dark.cuda.device_count() > 0) is HAS_GPU


@no_gpu
def test_without_gpu_answers_like_torch_cpu_build():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU")
    assert dark.cuda.is_available() is torch.cuda.is_available() is False
    assert dark.cuda.device_count() == torch.cuda.device_count() == 0
    assert dark.cuda.memory_allocated() == torch.cuda.memory_allocated() == 0
    assert dark.cuda.max_memory_allocated() == torch.cuda.max_memory_allocated() == 0
    assert dark.cuda.memory_reserved() == 0
    dark.cuda.empty_cache()
    dark.cuda.manual_seed(1)
    dark.cuda.manual_seed_all(1)
    dark.cuda.seed()
    dark.cuda.seed_all()


@no_gpu
@pytest.mark.parametrize("call", [
    dark.cuda.current_device, dark.cuda.synchronize, dark.cuda.get_device_name,
    lambda: dark.cuda.set_device(0), dark.cuda.initial_seed, dark.cuda.get_rng_state,
    lambda: dark.zeros(2, device="cuda"), lambda: dark.rand(2, device="cuda"),
    lambda: dark.Generator("cuda"), lambda: dark.ones(2).cuda(),
])
def test_gpu_only_functions_raise_with_reason(call):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        call()


@no_gpu
def test_cuda_seeds_are_kept_until_the_generator_exists():
    dark.cuda.manual_seed(123)  # the current device (0) is not used yet
    assert dark.random.cuda_default_generator(0).initial_seed() == 123
    dark.manual_seed(77)
    assert dark.random.cuda_default_generator(0).initial_seed() == 77
    assert dark.random.cuda_default_generator(1).initial_seed() == 77
    dark.cuda.manual_seed_all(5)
    assert dark.random.cuda_default_generator(0).initial_seed() == 5


def test_cuda_generator_state_is_seed_and_offset():
    generator = dark.Generator(dark.device("cuda", 0))
    generator.manual_seed(9)
    generator._offset = 41  # as after 41 draws
    state = generator.get_state()
    assert state.dtype is dark.uint8 and state.shape == (16,)
    generator.manual_seed(1)
    assert generator._offset == 0
    generator.set_state(state)
    assert generator.initial_seed() == 9 and generator._offset == 41
    with pytest.raises(RuntimeError, match="size"):
        generator.set_state(dark.Generator().get_state())


# ----------------------------------------------------------------------------- with a GPU

@needs_gpu
def test_device_queries():
    count = dark.cuda.device_count()
    assert count >= 1
    index = dark.cuda.current_device()
    assert 0 <= index < count
    dark.cuda.set_device(index)
    assert isinstance(dark.cuda.get_device_name(), str) and dark.cuda.get_device_name(0)
    dark.cuda.synchronize()
    with dark.cuda.device(0):
        assert dark.cuda.current_device() == 0


@needs_gpu
def test_memory_statistics():
    dark.cuda.empty_cache()
    before = dark.cuda.memory_allocated()
    x = dark.zeros(1024, 1024, device="cuda")
    assert dark.cuda.memory_allocated() >= before + 4 * 1024 * 1024
    assert dark.cuda.max_memory_allocated() >= dark.cuda.memory_allocated()
    assert dark.cuda.memory_reserved() >= dark.cuda.memory_allocated()
    del x
    dark.cuda.empty_cache()
    assert dark.cuda.memory_allocated() < before + 4 * 1024 * 1024


@needs_gpu
def test_cuda_seeding_and_state():
    dark.cuda.manual_seed(3)
    first = dark.rand(8, device="cuda").cpu().numpy()
    dark.cuda.manual_seed(3)
    np.testing.assert_array_equal(dark.rand(8, device="cuda").cpu().numpy(), first)
    assert dark.cuda.initial_seed() == 3
    state = dark.cuda.get_rng_state()
    expected = dark.randn(5, device="cuda").cpu().numpy()
    dark.cuda.set_rng_state(state)
    np.testing.assert_array_equal(dark.randn(5, device="cuda").cpu().numpy(), expected)
    # the CPU generator is separate: seeding the GPU does not change CPU draws
    dark.manual_seed(0)
    cpu = dark.rand(3).numpy()
    dark.manual_seed(0)
    dark.cuda.manual_seed(99)
    np.testing.assert_array_equal(dark.rand(3).numpy(), cpu)
