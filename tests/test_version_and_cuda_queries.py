"""dark.__version__ / dark.version and the CUDA queries torch programs make
(torch.cuda.is_bf16_supported, torch.cuda.nccl, get_device_capability): torch's answers on a
machine without CUDA; on a GPU, dark's own (its GPU tensors are CuPy arrays)."""
from __future__ import annotations

from importlib.metadata import version

import pytest

import dark

NO_GPU = not dark.cuda.is_available()


def test_version_is_the_installed_distributions():
    assert dark.__version__ == version("dark") == dark.version.__version__
    assert dark.version.debug is False and dark.version.hip is None
    with pytest.raises(AttributeError, match="has no attribute 'rocm_build'"):
        dark.version.rocm_build  # noqa: B018


@pytest.mark.skipif(not NO_GPU, reason="the answers without CUDA")
def test_without_cuda_as_torch_cpu_build():
    assert dark.version.cuda is None
    assert dark.cuda.is_bf16_supported() is False
    assert dark.cuda.is_bf16_supported(including_emulation=False) is False
    assert dark.cuda.nccl.is_available([dark.zeros(2)]) is False
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        dark.cuda.nccl.version()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        dark.cuda.get_device_capability()


def test_torch_cpu_build_gives_the_same_answers():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available() or not NO_GPU:
        pytest.skip("compares the CPU-only answers")
    assert torch.version.cuda is None and dark.version.cuda is None
    assert torch.cuda.is_bf16_supported() is dark.cuda.is_bf16_supported() is False


@pytest.mark.skipif(NO_GPU, reason="needs CUDA (CuPy and a GPU)")
def test_on_a_gpu():
    major, minor = dark.cuda.get_device_capability()
    assert major >= 3 and minor >= 0
    assert dark.version.cuda.count(".") == 1
    assert isinstance(dark.cuda.is_bf16_supported(), bool)
    assert len(dark.cuda.nccl.version()) == 3
    x = dark.zeros(4, device="cuda")
    assert dark.cuda.nccl.is_available([x]) is True
    assert dark.cuda.nccl.is_available([x, x]) is False  # two on one GPU
