"""One way to compile dark's optional numba kernels (random_numba, optim_numba,
passes_numba): numba is imported by the caller, only once a kernel is wanted."""
from __future__ import annotations

import warnings


def jit(numba, function, signature, fallback: str, **options):
    """``function`` compiled for ``signature`` (nogil, plus ``options``), cached on disk where
    numba finds a writable folder, else without a cache (numba's "cannot cache function ...:
    no locator available"), or after any other failure of the cache; None, with a warning
    that ends with ``fallback`` (what dark does instead), where it cannot be compiled."""
    try:
        return numba.njit(signature, cache=True, nogil=True, **options)(function)
    except Exception:  # noqa: BLE001 - no writable cache folder, or a broken cache
        pass
    try:
        return numba.njit(signature, nogil=True, **options)(function)
    except Exception as error:  # noqa: BLE001 - a numba that cannot build it
        warnings.warn(f"dark: numba {numba.__version__} could not compile the kernel "
                      f"{function.__name__} ({type(error).__name__}: {error}); {fallback}",
                      RuntimeWarning, stacklevel=3)
        return None
