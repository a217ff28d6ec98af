"""One way to compile dark's optional numba kernels (random_numba, optim_numba,
passes_numba): numba is imported by the caller, only once a kernel is wanted."""
from __future__ import annotations

import os
import threading
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


class Kernels:
    """The compiled kernels of one module (``sources``: name -> Python function;
    ``signatures``: name -> numba signature with ``{t}`` for the float type, compiled for
    float32 and float64; ``options``: numba's), loaded lazily: ``get(name, entries)`` counts
    ``entries`` toward ``load_after`` while none is loaded (the numpy paths serve meanwhile:
    a short program never imports numba), then compiles (or reads numba's cache) once per
    name. ``enabled`` starts as ``DARK_NUMBA`` != "0" in the environment."""

    def __init__(self, sources: dict, signatures: dict, load_after: int, **options):
        self.sources, self.signatures, self.options = sources, signatures, options
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
        return jit(numba, self.sources[name],
                   [self.signatures[name].format(t=t) for t in ("float32", "float64")],
                   "the numpy path is used instead", **self.options)
