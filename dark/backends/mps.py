"""dark.backends.mps: Apple's Metal backend, which dark does not have."""
from __future__ import annotations


def is_available() -> bool:
    """Always False: dark has no MPS backend."""
    return False


def is_built() -> bool:
    """Always False: dark is not built with MPS."""
    return False
