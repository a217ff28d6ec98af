"""dark.version, as torch.version: the package's version and what its GPU tensors run on.

dark is pure Python and has no build-time CUDA: ``cuda`` is the CUDA runtime version of the
CuPy that dark's GPU tensors use ('12.4'), read when first asked (CuPy is imported only
then), and None without CuPy or a visible GPU, as torch's CPU build says None."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

from . import _backend

try:
    __version__ = _distribution_version("dark")
except PackageNotFoundError:  # a checkout on sys.path without an install
    __version__ = "0+unknown"
debug = False
hip = None


def __getattr__(name):
    if name == "cuda":
        if not _backend.cuda_available():
            return None
        number = int(_backend.cupy_module().cuda.runtime.runtimeGetVersion())
        return f"{number // 1000}.{number % 1000 // 10}"
    raise AttributeError(f"module 'dark.version' has no attribute '{name}'")
