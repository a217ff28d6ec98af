"""dark.cuda: CUDA device queries (being written)."""
from __future__ import annotations

from ._backend import cuda_available


def is_available() -> bool:
    return cuda_available()
