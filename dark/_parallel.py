"""Intra-op parallelism on the CPU: ``set_num_threads`` / ``get_num_threads`` and the pool
that spreads one op's work (a convolution over a batch) over the cores.

numpy runs its copies, adds and ufunc loops on one core; only its BLAS uses several. An op
whose work is mostly such passes (im2col, col2im, the transposes around a conv's matmul)
then leaves the other cores idle, where PyTorch's OpenMP loops use them all. ``parallel_map``
runs the independent parts of such an op (chunks of the batch) in a pool of
``get_num_threads()`` threads, each with its own passes and matmuls: numpy releases the GIL
in all of them. Meanwhile BLAS is held to one thread: its own threads spin-wait for work
and would take the cores the pool needs (splitting only the copies over a pool, BLAS left
on its own threads, made the MNIST CNN step no faster; with BLAS held to one thread it ran
clearly faster). For the same reason dark's
products (``matmul``) are held to one thread, or split over the pool when large, while the
pool is in use; in a program without parallel ops they keep the BLAS's own threads.

That needs control over the BLAS's thread count: numpy's bundled OpenBLAS (the wheels' own)
or any loaded OpenBLAS built with pthreads or single-threaded, found by its
``openblas_set_num_threads`` (with the scipy-openblas prefix and 64-bit-integer suffix where
the build has them). With another BLAS (MKL, Accelerate, an OpenMP OpenBLAS, whose limit
would not reach the pool's threads) the work runs in order in the calling thread, as
before. CuPy arrays never come here: the GPU runs each op in parallel already."""
from __future__ import annotations

import ctypes
import glob
import itertools
import math
import numbers
import os
import pathlib
import threading
import time

import numpy
from numpy import matmul as numpy_matmul

_blas = None          # (set_num_threads, get_num_threads) of numpy's BLAS, or False
_blas_threads = 1     # the BLAS's own thread count outside dark's calls
_blas_core = ""       # the kernel set numpy's OpenBLAS runs, lower case ("" if unknown)
_threads = None       # set_num_threads's value, or None for the default
_workers = []        # the pool's threads, started on first need
_last_parallel = -math.inf  # time.monotonic() at the end of the last parallel_map
# The pool counts as in use for this long after a parallel_map: OpenBLAS's threads spin for
# ~0.1 s after a call, and a training step's parallel ops come every few ms.
POOL_IN_USE_SECONDS = 1.0
_lock = threading.Lock()
_local = threading.local()

_OPENBLAS_SEQUENTIAL, _OPENBLAS_PTHREADS = 0, 1


def _openblas_paths() -> list:
    """numpy's bundled OpenBLAS first, then any OpenBLAS this process has loaded."""
    package = pathlib.Path(numpy.__file__).resolve().parent
    paths = []
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        paths += sorted(glob.glob(str(folder / "*openblas*")))
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and "openblas" in os.path.basename(fields[-1]):
                    paths.append(fields[-1])
    except OSError:
        pass
    paths = list(dict.fromkeys(paths))
    return paths


def _numpy_blas_is_openblas() -> bool:
    """False when numpy's build says its BLAS is another (MKL, Accelerate): an OpenBLAS that
    another package loaded would then not be numpy's."""
    try:
        name = numpy.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except (AttributeError, KeyError, TypeError):  # older numpy: no structured config
        return True
    return "openblas" in str(name).lower()


def _find_blas():
    """(set_num_threads, get_num_threads) of numpy's OpenBLAS when it is built with pthreads
    or single-threaded, or False."""
    if not _numpy_blas_is_openblas():
        return False
    for path in _openblas_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                try:
                    setter = getattr(library, f"{prefix}_set_num_threads{suffix}")
                    getter = getattr(library, f"{prefix}_get_num_threads{suffix}")
                    parallel = getattr(library, f"{prefix}_get_parallel{suffix}")
                except AttributeError:
                    continue
                setter.argtypes, setter.restype = (ctypes.c_int,), None
                getter.restype = parallel.restype = ctypes.c_int
                if parallel() not in (_OPENBLAS_SEQUENTIAL, _OPENBLAS_PTHREADS):
                    return False
                _read_core(getattr(library, f"{prefix}_get_corename{suffix}", None))
                return setter, getter
    return False


def _read_core(corename) -> None:
    """Keep the name OpenBLAS's get_corename gives (None: this OpenBLAS has none)."""
    global _blas_core
    if corename is not None:
        corename.restype = ctypes.c_char_p
        _blas_core = (corename() or b"").decode("ascii", "replace").lower()


def blas_core() -> str:
    """The kernel set numpy's OpenBLAS picked for this CPU (its get_corename in lower case:
    "skylakex", "haswell", "zen", ...), or "" where dark does not control numpy's BLAS."""
    _blas_control()
    return _blas_core


def _blas_control():
    global _blas, _blas_threads
    if _blas is None:
        _blas = _find_blas()
        if _blas:
            _blas_threads = max(1, _blas[1]())
    return _blas


def get_num_threads() -> int:
    """The number of threads dark uses for parallelizing CPU operations (PyTorch's
    ``torch.get_num_threads``): by default numpy's BLAS's (``OMP_NUM_THREADS`` /
    ``OPENBLAS_NUM_THREADS``, else the cores)."""
    if _threads is not None:
        return _threads
    if _blas_control():
        return _blas_threads
    return os.cpu_count() or 1


def set_num_threads(num_threads: int) -> None:
    """Set the number of threads for CPU operations: the pool's and numpy's BLAS's (PyTorch's
    ``torch.set_num_threads``)."""
    global _threads, _blas_threads
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral):
        raise RuntimeError("set_num_threads expects an int, but got "
                           f"{type(num_threads).__name__}")
    num_threads = int(num_threads)
    if num_threads <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    blas = _blas_control()
    with _lock:
        _threads = num_threads
        if blas:
            _blas_threads = num_threads
            blas[0](num_threads)


class _Worker:
    """A pool thread that runs one task at a time, handed over and back by two locks: the
    quickest handoff of the threading module (ThreadPoolExecutor's queue and futures cost
    more on each parallel matmul)."""

    def __init__(self):
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._task = None
        threading.Thread(target=self._loop, name="dark-intra-op", daemon=True).start()

    def _loop(self):
        # the pool's threads only ever run inside parallel_map, where the BLAS is held
        _local.held = True
        while True:
            self._go.acquire()
            try:
                self._task()
            finally:
                self._task = None
                self._done.release()

    def start(self, task) -> None:
        self._task = task
        self._go.release()

    def join(self) -> None:
        self._done.acquire()


def _get_workers(count: int) -> list:
    while len(_workers) < count:
        _workers.append(_Worker())
    return _workers[:count]


def workers() -> int:
    """How many threads ``parallel_map`` spreads work over from this thread now: 1 where it
    would run the work in order."""
    if getattr(_local, "held", False) or not _blas_control():
        return 1
    return get_num_threads()


def parallel_map(function, items) -> list:
    """``[function(item) for item in items]``, the calls spread over ``get_num_threads()``
    threads (this one and the pool's, each taking the next item when done) with BLAS held to
    one thread meanwhile; in order in this thread when there is one item, one thread, no
    control over BLAS, or a parallel_map already running (in a pool thread or another thread
    of the program). The first exception, in item order, is raised once every call has
    ended."""
    items = list(items)
    size = min(workers(), len(items))
    if size < 2 or not _lock.acquire(blocking=False):
        return [function(item) for item in items]
    results = [None] * len(items)
    errors = [None] * len(items)
    taken = itertools.count()

    def drain():
        # itertools.count's next() is atomic under the GIL: each item is taken once
        while (index := next(taken)) < len(items):
            try:
                results[index] = function(items[index])
            except BaseException as error:  # raised below, in the caller's thread
                errors[index] = error

    global _last_parallel
    try:
        _blas[0](1)
        try:
            helpers = _get_workers(size - 1)
            for helper in helpers:
                helper.start(drain)
            _local.held = True
            try:
                drain()
            finally:
                _local.held = False
                for helper in helpers:
                    helper.join()
        finally:
            _blas[0](_blas_threads)
            _last_parallel = time.monotonic()
    finally:
        _lock.release()
    for error in errors:
        if error is not None:
            raise error
    return results


# A product smaller than this many multiply-adds runs whole in the calling thread: splitting
# it costs more in handing the parts to the pool than the second thread saves.
_SPLIT_MULTIPLY_ADDS = 1 << 25


def splits_products(multiply_adds: int) -> bool:
    """Whether ``matmul`` would now split a 2-D product of this many multiply-adds over dark's
    threads (the pool in use, two threads or more, a large product)."""
    return (multiply_adds >= _SPLIT_MULTIPLY_ADDS and bool(_blas_control()) and pool_in_use()
            and workers() >= 2)


def pool_in_use() -> bool:
    """Whether a parallel_map ran in the last POOL_IN_USE_SECONDS (a program with parallel
    ops: its BLAS calls are held to one thread, see ``matmul``)."""
    return time.monotonic() - _last_parallel <= POOL_IN_USE_SECONDS


def matmul(a, b, out=None):
    """``numpy.matmul(a, b, out=out)`` of 2-D or batched (..., n, k) @ (..., k, m) arrays. While the
    pool is in use (a parallel_map in the last POOL_IN_USE_SECONDS), with the BLAS held to one
    thread and, when the product is large, its rows (or the batch) split over dark's threads;
    otherwise by the BLAS's own threads.

    Every matrix product of dark's CPU ops comes here. A multi-threaded BLAS call leaves the
    BLAS's threads spin-waiting for ~0.1 s (OpenBLAS's thread timeout), fighting the pool's
    threads for the cores: with the MNIST CNN step's linear layers left to OpenBLAS's
    threads, the parallel convolutions made the step slower instead of faster. The BLAS's
    spinning threads take a product over faster than the pool's (a handoff there costs
    more), so a program without parallel ops (an MLP) keeps them: the MLP of
    benchmarks/mnist_epoch.py runs fastest that way, ahead of one thread and of the pool."""
    if not _blas_control() or time.monotonic() - _last_parallel > POOL_IN_USE_SECONDS:
        return numpy_matmul(a, b, out=out)
    threads = workers()
    rows = a.shape[-2] if a.ndim >= 2 else 1
    batch = math.prod(a.shape[:-2]) if a.ndim > 2 else 1
    work = batch * rows * a.shape[-1] * (b.shape[-1] if b.ndim >= 2 else 1)
    if threads < 2 or work < _SPLIT_MULTIPLY_ADDS or a.ndim < 2 or b.ndim < 2 or \
            a.shape[:-2] != b.shape[:-2] and b.ndim != 2:
        return _single_threaded(numpy_matmul, a, b, out=out)
    if batch >= threads:  # split the batch (b is a matrix or has the same batch)
        flat_a = a.reshape((batch,) + a.shape[-2:])
        flat_b = b if b.ndim == 2 else b.reshape((batch,) + b.shape[-2:])

        def part(start, stop):  # out is C-contiguous: the reshape is a view
            numpy_matmul(flat_a[start:stop], flat_b if flat_b.ndim == 2 else
                         flat_b[start:stop],
                         out=out.reshape((batch,) + out.shape[-2:])[start:stop])
        size = batch
    elif rows >= b.shape[-1]:  # split the longer side: each part packs the other side whole
        def part(start, stop):
            numpy_matmul(a[..., start:stop, :], b, out=out[..., start:stop, :])
        size = rows
    else:
        def part(start, stop):
            numpy_matmul(a, b[..., start:stop], out=out[..., start:stop])
        size = b.shape[-1]
    spans = _spans(size, threads)
    if len(spans) < 2:  # nothing to split (a one-row, one-column product)
        return _single_threaded(numpy_matmul, a, b, out=out)
    if out is None:
        out = numpy.empty(a.shape[:-1] + b.shape[-1:], dtype=numpy.result_type(a, b))
    map_ranges(part, spans)
    return out


# Entries of work below which handing a part to another thread costs more than it saves (a
# handoff takes about as long as a pass over this many float32 entries).
MIN_PART_ENTRIES = 1 << 17


def split(n: int, entries: int, minimum: int = MIN_PART_ENTRIES) -> list:
    """(start, stop) ranges of n rows holding ``entries`` entries in all: one per thread of
    dark's when each would hold at least ``minimum`` entries, else the one range (0, n)."""
    parts = max(1, min(workers(), n, entries // minimum))
    return _spans(n, parts)


def map_ranges(function, ranges: list) -> list:
    """``function(start, stop)`` of each range, in dark's threads (``parallel_map``)."""
    if len(ranges) == 1:
        return [function(*ranges[0])]
    return parallel_map(lambda span: function(*span), ranges)


def _spans(n: int, parts: int) -> list:
    step = -(-n // parts)
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def _single_threaded(function, *args, **kwargs):
    """``function(*args, **kwargs)`` with the BLAS held to one thread."""
    if getattr(_local, "held", False):  # inside parallel_map: held already
        return function(*args, **kwargs)
    _blas[0](1)
    try:
        return function(*args, **kwargs)
    finally:
        _blas[0](_blas_threads)


def _after_fork_in_child():
    """The pool's threads do not exist in a forked child (a DataLoader worker): start anew."""
    global _workers, _lock
    _workers, _lock = [], threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
