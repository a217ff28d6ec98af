"""Host memory tuning for numpy's large temporaries.

A training step allocates and frees the same large arrays (im2col columns, activations,
gradients) every step. glibc's malloc serves blocks above its mmap threshold with fresh
mmap()ed pages and gives freed memory at the top of the heap back to the kernel, so every
step touches pages the kernel must fault in and zero again (in a VM, pages the hypervisor
must back): measured on the MNIST CNN step here, 4,000 page faults per step and 30% of the
step's time. Raising the mmap and trim thresholds keeps freed blocks in the heap for the
next step, as the caching allocators of PyTorch (jemalloc/tcmalloc on CPU, its CUDA cache)
do. The memory a process holds then stays at its peak instead of shrinking between steps.

Done once, at import, on Linux with glibc only; ``DARK_MALLOC_TUNING=0`` in the environment
turns it off."""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# blocks up to this size come from the heap; freed memory is returned to the kernel only when
# this much is free at the top of the heap
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = 1 << 31

tuned = False


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds; True when it was done."""
    global tuned
    if tuned or os.environ.get("DARK_MALLOC_TUNING", "1") == "0" or \
            not sys.platform.startswith("linux"):
        return tuned
    try:
        # the symbols the process already has: glibc's mallopt, without find_library's
        # subprocess at import
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned
