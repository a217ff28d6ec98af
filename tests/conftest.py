import os
import pathlib

import pytest

import dark

DEVICES = ["cpu"] + (["cuda"] if dark._backend.cuda_available() else [])


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Every test that touches tensors runs on each device present; 'cuda' skips without a
    GPU (and CuPy)."""
    if request.param == "cuda" and "cuda" not in DEVICES:
        pytest.skip("CUDA is not available (no CuPy or no GPU)")
    return request.param


@pytest.fixture
def data_root():
    """The folder with MNIST/ and FashionMNIST/ (DARK_DATA, or ../shared/data beside the repo)."""
    root = os.environ.get("DARK_DATA") or str(
        pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
    if not pathlib.Path(root, "MNIST", "raw").is_dir():
        pytest.skip(f"MNIST files not found under {root} (set DARK_DATA)")
    return root
