"""DataLoader as ``torch.utils.data.DataLoader``: batches of a map-style dataset in the order of
a sampler (or a stream of an IterableDataset), collated, in the main process or in worker
processes that fetch ``prefetch_factor`` batches each ahead and deliver them in order."""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import pickle
import queue
import signal
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from .. import _backend
from .._tensor import Tensor
from ..ops.creation import empty
from . import _worker
from ._worker import ExceptionWrapper, IterableEnd, ResumeIteration, get_worker_info
from .collate import _rebuild_mapping, _rebuild_sequence, default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

T_co = TypeVar("T_co", covariant=True)

# how often the main process, waiting for a batch, checks that the workers are alive
_STATUS_INTERVAL = 0.5
# how long shutdown waits for workers to exit by themselves before terminating them
_JOIN_TIMEOUT = 1.0


class _InfiniteConstantSampler(Sampler):
    """The 'indices' of an IterableDataset: None forever (the fetcher decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


def _default_context():
    """fork where the platform has it (workers start fast and need nothing pickled), else
    spawn."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _cpu_count() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches of ``batch_size`` (None: single samples, only
    converted by ``default_convert``), in the order of ``sampler`` (sequential, or random when
    ``shuffle``, drawn from ``generator`` / dark's default generator anew each epoch) or of
    ``batch_sampler``; samples merged by ``collate_fn`` (``default_collate``). With
    ``num_workers > 0`` batches are made in that many processes, each working
    ``prefetch_factor`` (2) batches ahead; ``worker_init_fn(worker_id)`` runs first in each;
    ``persistent_workers`` keeps them between epochs; ``timeout`` > 0 bounds the wait for a
    batch. With ``pin_memory`` (and a GPU) the batches' CPU tensors are copied to pinned host
    memory, from which ``.cuda()`` copies faster; without a GPU it warns and does nothing, as
    PyTorch does."""

    __initialized = False

    def __init__(self, dataset: Dataset[T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        self._IterableDataset_len_called = None
        self._iterator = None
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers <= 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self.__multiprocessing_context = context

    def __setattr__(self, attr, value) -> None:
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler",
                                           "drop_last", "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, value)

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self) -> _BaseDataLoaderIter:
        """A new pass over the data (a new shuffle); persistent workers are reused."""
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        """Batches per epoch: those of the batch sampler; for an IterableDataset,
        len(dataset) / batch_size rounded up (down with drop_last)."""
        if not self._is_iterable:
            return len(self._index_sampler)
        length = self._IterableDataset_len_called = len(self.dataset)
        if self.batch_size is not None:
            length = length // self.batch_size if self.drop_last \
                else math.ceil(length / self.batch_size)
        return length

    def check_worker_number_rationality(self) -> None:
        """Warn when more workers are asked for than this process may use CPUs."""
        if not self.num_workers:
            return
        suggested = _cpu_count()
        if suggested is None or self.num_workers > suggested:
            detail = (f"Our suggested max number of worker in current system is {suggested}, "
                      "which is smaller than what this DataLoader is going to create."
                      if suggested is not None else "DataLoader is not able to compute a "
                      "suggested max number of worker in current system.")
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. {detail} Please be aware that excessive worker creation "
                          "might get DataLoader running slow or even freeze, lower the worker "
                          "number to avoid potential slowness/freeze if necessary.",
                          stacklevel=2)


def pin_memory(data):
    """``data`` (a batch: tensors in mappings, namedtuples and sequences, or an object with
    a ``pin_memory()`` method) with every CPU tensor copied to pinned host memory; the
    containers are rebuilt as default_convert rebuilds them (PyTorch's pin_memory)."""
    if isinstance(data, Tensor):
        return data.pin_memory() if data.is_cpu else data
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        return _rebuild_mapping(data, {key: pin_memory(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(pin_memory(item) for item in data))
    if isinstance(data, tuple):
        return tuple(pin_memory(item) for item in data)
    if isinstance(data, Sequence):
        return _rebuild_sequence(data, [pin_memory(item) for item in data])
    return data


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._is_iterable = loader._is_iterable
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._pin_memory = loader.pin_memory and _backend.cuda_available()
        if loader.pin_memory and not self._pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=3)
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = int(empty((), dtype=_backend.int64).random_(
            generator=loader.generator).item())
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def _next_data(self):
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        if self._pin_memory:
            data = pin_memory(data)
        self._num_yielded += 1
        reported = self._IterableDataset_len_called
        if self._is_iterable and reported is not None and self._num_yielded > reported:
            message = (f"Length of IterableDataset {self._dataset} was reported to be "
                       f"{reported}(when accessing len(dataloader)), but {self._num_yielded} "
                       "samples have been fetched. ")
            if self._num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not "
                            "properly configuring the IterableDataset replica at each worker.")
            warnings.warn(message, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        if self._timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._fetcher = _worker.make_fetcher(self._is_iterable, self._dataset,
                                             self._auto_collation, self._collate_fn,
                                             self._drop_last)

    def _next_data(self):
        return self._fetcher.fetch(self._next_index())


def _exit_description(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Tasks ``(task_index, index)`` go round-robin to the workers' index queues, at most
    ``prefetch_factor * num_workers`` in flight; results come back on one queue and wait in
    ``_results`` until their turn, so batches are delivered in sampler order."""

    def __init__(self, loader: DataLoader) -> None:
        self._shutdown = False
        self._workers: list = []
        self._index_queues: list = []
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        if self._prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be greater than 0 for "
                                 "MultiProcessingDataLoaderIter")
        context = loader.multiprocessing_context or _default_context()
        self._result_queue = context.Queue()
        self._done_event = context.Event()
        for worker_id in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            process = context.Process(
                target=_worker.worker_loop, daemon=True,
                args=(self._is_iterable, self._dataset, index_queue, self._result_queue,
                      self._done_event, self._auto_collation, self._collate_fn,
                      self._drop_last, self._base_seed, loader.worker_init_fn, worker_id,
                      self._num_workers))
            process.start()
            self._index_queues.append(index_queue)
            self._workers.append(process)
        self._reset(loader, first_iter=True)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_worker: dict = {}  # task index -> worker, until the result is delivered
        self._results: dict = {}  # task index -> result that came before its turn
        self._active = [True] * self._num_workers
        self._worker_tasks = [0] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # a worker answers in order, so once it acks, none of its stale results remain
            for index_queue in self._index_queues:
                index_queue.put(ResumeIteration())
            waiting = self._num_workers
            while waiting:
                task_index, _ = self._get_data()
                waiting -= isinstance(task_index, ResumeIteration)
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _check_workers(self) -> None:
        failed = [(worker_id, process) for worker_id, process in enumerate(self._workers)
                  if self._active[worker_id] and not process.is_alive()]
        if failed:
            for worker_id, _ in failed:
                self._active[worker_id] = False
            pids = ", ".join(str(process.pid) for _, process in failed)
            details = "; ".join(f"worker {worker_id}: {_exit_description(process)}"
                                for worker_id, process in failed)
            raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                               f"({details})")

    def _get_data(self):
        """The next (task_index, data) from any worker; raises if a worker died or, with a
        timeout, when none came in time."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _STATUS_INTERVAL
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                payload = self._result_queue.get(timeout=wait)
            except queue.Empty:
                self._check_workers()
                if deadline is not None and time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds") from None
                continue
            return pickle.loads(payload)

    def _try_put_index(self) -> None:
        try:
            index = self._next_index()
        except StopIteration:
            return
        share = self._prefetch_factor * self._num_workers // max(1, sum(self._active))
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if self._active[worker_id] and (
                    self._in_order or self._worker_tasks[worker_id] < share):
                break
        else:
            return
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_worker[self._send_idx] = worker_id
        self._worker_tasks[worker_id] += 1
        self._send_idx += 1

    def _next_data(self):
        while True:
            # skip tasks already delivered (out of order) or lost with an ended worker
            while self._rcvd_idx < self._send_idx:
                if self._rcvd_idx in self._results:
                    break
                worker_id = self._task_worker.get(self._rcvd_idx)
                if worker_id is not None and self._active[worker_id]:
                    break
                self._task_worker.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if self._rcvd_idx in self._results:
                return self._deliver(self._rcvd_idx, self._results.pop(self._rcvd_idx))
            task_index, data = self._get_data()
            if isinstance(data, IterableEnd):
                self._active[data.worker_id] = False
                if not self._persistent_workers:
                    self._index_queues[data.worker_id].put(None)
                self._try_put_index()
            elif task_index == self._rcvd_idx or not self._in_order:
                return self._deliver(task_index, data)
            else:
                self._results[task_index] = data

    def _deliver(self, task_index: int, data):
        worker_id = self._task_worker.pop(task_index)
        if task_index == self._rcvd_idx:
            self._rcvd_idx += 1
        self._worker_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self) -> None:
        """Ask every worker to stop, give them a moment, then terminate what is left."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            if self._workers:
                self._done_event.set()
            for index_queue in self._index_queues:
                index_queue.put(None)
            deadline = time.monotonic() + _JOIN_TIMEOUT
            for process in self._workers:
                process.join(timeout=max(0.0, deadline - time.monotonic()))
            for index_queue in self._index_queues:
                index_queue.close()
        finally:
            for process in self._workers:
                if process.is_alive():
                    process.terminate()
                    process.join(timeout=_JOIN_TIMEOUT)

    def __del__(self) -> None:
        try:
            self._shutdown_workers()
        except Exception:
            # at interpreter exit the modules this needs may be gone; daemons die anyway
            pass


__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
