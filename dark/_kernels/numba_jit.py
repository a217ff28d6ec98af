"""One way to compile dark's optional numba kernels (random_numba, optim_numba,
passes_numba): numba is imported by the caller, only once a kernel is wanted."""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np

# the float types every kernel of Kernels is compiled for (and the callers check against)
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


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


class Kernels:
    """The compiled kernels of one module (``sources``: name -> Python function;
    ``signatures``: name -> numba signature with ``{t}`` for the float type, compiled for
    float32 and float64; ``readonly``: name -> the positions of the array arguments it only
    reads, typed read-only so that read-only arrays (a broadcast gradient, numpy data
    behind a tensor) pass as well as writable ones; ``options``: numba's), loaded lazily:
    ``get(name, entries)`` counts
    ``entries`` toward ``load_after`` while none is loaded (the numpy paths serve meanwhile:
    a short program never imports numba), then compiles (or reads numba's cache) once per
    name. ``enabled`` starts as ``DARK_NUMBA`` != "0" in the environment."""

    def __init__(self, sources: dict, signatures: dict, readonly: dict, load_after: int,
                 **options):
        self.sources, self.signatures, self.options = sources, signatures, options
        self.readonly = readonly
        self.load_after = load_after
        self.enabled = os.environ.get("DARK_NUMBA", "1") != "0"
        self.compiled: dict = {}  # name -> compiled kernel, or None once it failed
        self.streamed = 0  # entries through the numpy paths while nothing was loaded
        self._lock = threading.Lock()

    def set_enabled(self, flag: bool) -> bool:
        """Turn the kernels on or off; returns the previous setting."""
        previous, self.enabled = self.enabled, bool(flag)
        return previous

    def get(self, name: str, entries: int):
        """The compiled kernel ``name`` for work of ``entries`` entries, or None (no numba,
        turned off, or not loaded yet)."""
        if not self.enabled:
            return None
        if name in self.compiled:
            return self.compiled[name]
        self.streamed += entries
        if self.streamed < self.load_after:
            return None
        with self._lock:
            if name not in self.compiled:
                self.compiled[name] = self._build(name)
        return self.compiled[name]

    def _build(self, name: str):
        try:
            import numba
        except ImportError:
            return None
        from numba.core.sigutils import normalize_signature

        signatures = []
        for t in FLOATS:
            args, result = normalize_signature(self.signatures[name].format(t=t.name))
            signatures.append(result(*(
                arg.copy(readonly=True) if i in self.readonly.get(name, ()) else arg
                for i, arg in enumerate(args))))
        return jit(numba, self.sources[name], signatures, "the numpy path is used instead",
                   **self.options)
