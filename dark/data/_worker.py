"""What runs inside a DataLoader worker process: the fetchers (indices -> collated batch),
the worker loop, the per-worker seeding and ``get_worker_info``; plus the wrapper that carries
a worker's exception (type and traceback text) back to the main process."""
from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._parallel import set_num_threads
from ..random import manual_seed

# how often a waiting worker checks that the main process is still there and still wants it
# (a loader collected by the garbage collector may have lost its queues' feeder threads
# before it can send the stop message, so the done event is the signal that always arrives)
_POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its ``id`` (0 .. num_workers-1),
    ``num_workers``, the ``seed`` its RNGs got, and its own copy of the ``dataset``."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The WorkerInfo of the DataLoader worker process this runs in; None in the main
    process. An IterableDataset uses it to shard its stream over the workers."""
    return _worker_info


class _KeyErrorMessage(str):
    """KeyError shows ``repr`` of its argument; this keeps a traceback text readable."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception caught in a worker, as its type and formatted traceback, so that the main
    process can raise the same type with the original traceback in the message."""

    def __init__(self, where: str, exc_info=None):
        exc_type, exc_value, exc_tb = exc_info or sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc_value, exc_tb))
        self.where = where

    def reraise(self):
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            message = _KeyErrorMessage(message)
        try:
            exception = self.exc_type(message)
        except Exception:
            # an exception type that does not take one message argument
            raise RuntimeError(message) from None
        try:
            raise exception
        finally:
            # a frame holding its own exception is a reference cycle: it would keep the
            # DataLoader iterator (and its workers) alive until the garbage collector runs
            del exception


@dataclass(frozen=True)
class IterableEnd:
    """A worker's answer once its copy of an IterableDataset is exhausted."""
    worker_id: int


@dataclass(frozen=True)
class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch; echoed back as an ack."""


class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        dataset = self.dataset
        if not self.auto_collation:
            return self.collate_fn(dataset[index])
        if callable(getattr(dataset, "__getitems__", None)):
            data = dataset.__getitems__(index)
        else:
            data = [dataset[i] for i in index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.iterator = iter(dataset)
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(iterable: bool, dataset, auto_collation: bool, collate_fn, drop_last: bool):
    """Turns an index (a batch of indices under auto-collation) into a collated sample."""
    kind = _IterableFetcher if iterable else _MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)


def numpy_seed(base_seed: int, worker_id: int) -> list:
    """The numpy seed of a worker: 4 words hashed from (worker_id, base_seed) by a
    SeedSequence, the same state as PyTorch's ``_generate_state``."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy).generate_state(4).tolist()


def _payload(index_and_data, worker_id: int) -> bytes:
    """Pickle in the worker, so that an unpicklable batch becomes an error the main process
    sees instead of an item the queue's feeder thread would silently drop."""
    where = f"in DataLoader worker process {worker_id}"
    try:
        return pickle.dumps(index_and_data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        wrapper = ExceptionWrapper(where)
    try:
        return pickle.dumps((index_and_data[0], wrapper), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        # the exception type itself cannot be pickled (e.g. a class defined in a function)
        wrapper.exc_msg = f"{wrapper.exc_type.__name__}: {wrapper.exc_msg}"
        wrapper.exc_type = RuntimeError
        return pickle.dumps((index_and_data[0], wrapper), protocol=pickle.HIGHEST_PROTOCOL)


def worker_loop(iterable, dataset, index_queue, result_queue, done_event, auto_collation,
                collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers) -> None:
    """Body of a worker process: one intra-op thread (``set_num_threads(1)``), seed
    the RNGs (python's and dark's with base_seed + worker_id, numpy's from a hash of both),
    run ``init_fn(worker_id)``, then answer each
    ``(task_index, index)`` from ``index_queue`` with ``(task_index, batch)`` on
    ``result_queue`` until it gets None or the main process is gone."""
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    try:
        # one thread per worker, as torch's workers: the workers are the parallelism, and
        # each with a pool of its own would oversubscribe the cores
        set_num_threads(1)
        seed = base_seed + worker_id
        random.seed(seed)
        manual_seed(seed)
        np.random.seed(numpy_seed(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_error = fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where)
        ended = False
        parent = os.getppid()
        while os.getppid() == parent:
            try:
                task = index_queue.get(timeout=_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    break
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                ended = False
                if init_error is None:
                    try:
                        fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn,
                                               drop_last)
                    except Exception:
                        init_error = ExceptionWrapper(where)
                result_queue.put(_payload((task, None), worker_id))
                continue
            if done_event.is_set() or ended:
                continue
            task_index, index = task
            if init_error is not None:
                data = init_error
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where)
                    else:
                        data, ended = IterableEnd(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where)
            result_queue.put(_payload((task_index, data), worker_id))
            del data, task, index
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # the main process no longer reads: do not block exit flushing unread results
        result_queue.cancel_join_thread()
        result_queue.close()
