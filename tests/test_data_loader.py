"""dark.utils.data against torch.utils.data: datasets, samplers, collation and the DataLoader
(batching, options and their errors, shuffling determinism, worker processes: same batches,
speed-up on slow items, seeding, errors, timeouts, killed workers, shutdown, persistence,
IterableDataset sharding). The same dataset runs through both loaders and the batches are
compared as numpy. Random orders are checked for their properties and reproducibility, not
matched to torch's (different generators)."""
import collections
import math
import multiprocessing
import os
import pickle
import signal
import time

import numpy as np
import pytest
from harness import LIBS, requires_torch, torch

import dark
import dark.utils.data as ddata

tdata = torch.utils.data if torch is not None else None
TENSORS = (dark.Tensor,) + ((torch.Tensor,) if torch is not None else ())

POSIX = os.name == "posix"


# ----------------------------------------------------------------------------- helpers

def canon(value):
    """A comparable picture of a (nested) batch: tensors as (dtype name, shape, values)."""
    if isinstance(value, TENSORS):
        return ("tensor", str(value.dtype).split(".")[-1], tuple(value.shape),
                value.detach().cpu().numpy().tolist())
    if isinstance(value, dict):
        return {key: canon(item) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, tuple(canon(item) for item in value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [canon(item) for item in value])
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.tolist())
    return (type(value).__name__, value)


def both(make, **kwargs):
    """The batches of a DataLoader of dark and of torch over ``make(lib)``, canonicalised."""
    return ([canon(b) for b in ddata.DataLoader(make(dark), **kwargs)],
            [canon(b) for b in tdata.DataLoader(make(torch), **kwargs)])


def module_of(lib):
    return ddata if lib is dark else tdata


def tensor_dataset(lib, n=10):
    features = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    labels = np.arange(n, dtype=np.int64) % 4
    module = ddata if lib is dark else tdata
    return module.TensorDataset(lib.from_numpy(features.copy()), lib.from_numpy(labels.copy()))


def raises_like_torch(dark_call, torch_call, *args, **kwargs):
    """Both calls (with these arguments) raise the same exception type and message."""
    with pytest.raises(Exception) as expected:
        torch_call(*args, **kwargs)
    with pytest.raises(type(expected.value)) as got:
        dark_call(*args, **kwargs)
    assert str(got.value) == str(expected.value)


class Squares(ddata.Dataset):
    """Map-style: item i is (i, i*i as float32 array), optionally after a delay."""

    def __init__(self, n=12, delay=0.0):
        self.n, self.delay = n, delay

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if self.delay:
            time.sleep(self.delay)
        return index, np.full(2, index * index, dtype=np.float32)


class WorkerReport(ddata.Dataset):
    """Item i tells which worker made it, that worker's seed and RNG draws."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        info = ddata.get_worker_info()
        return {"id": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "init": INIT_CALLS.get(info.id, 0),
                "dark": float(dark.rand(1)), "numpy": float(np.random.rand())}


INIT_CALLS = {}


def record_init(worker_id):
    INIT_CALLS[worker_id] = INIT_CALLS.get(worker_id, 0) + 1


class Failing(ddata.Dataset):
    def __init__(self, error=ValueError):
        self.error = error

    def __len__(self):
        return 10

    def __getitem__(self, index):
        if index == 5:
            raise self.error("item 5 is broken")
        return index


class Stream(ddata.IterableDataset):
    """range(start, end), split over the workers by get_worker_info when ``shard``."""

    def __init__(self, start, end, shard=True):
        self.start, self.end, self.shard = start, end, shard

    def __iter__(self):
        info = (ddata.get_worker_info() if isinstance(self, ddata.IterableDataset)
                else tdata.get_worker_info())
        if info is None or not self.shard:
            return iter(range(self.start, self.end))
        per_worker = math.ceil((self.end - self.start) / info.num_workers)
        first = self.start + info.id * per_worker
        return iter(range(first, min(first + per_worker, self.end)))

    def __len__(self):
        return self.end - self.start


if torch is not None:
    class TorchStream(tdata.IterableDataset):
        __init__ = Stream.__init__
        __iter__ = Stream.__iter__
        __len__ = Stream.__len__


def stream(lib, start, end, shard=True):
    return (Stream if lib is dark else TorchStream)(start, end, shard)


# ----------------------------------------------------------------------------- batching

@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
@requires_torch
def test_batches_match_torch(batch_size, drop_last):
    ours, theirs = both(tensor_dataset, batch_size=batch_size, drop_last=drop_last)
    assert ours == theirs
    assert len(ddata.DataLoader(tensor_dataset(dark), batch_size=batch_size,
                                drop_last=drop_last)) == len(theirs)


@pytest.mark.parametrize("lib", LIBS)
def test_batch_size_none_converts_each_item(lib):
    loader = module_of(lib).DataLoader(Squares(5), batch_size=None)
    assert [canon(b) for b in loader] == [
        ("list", [("int", i), ("tensor", "float32", (2,), [i * i * 1.0] * 2)]) for i in range(5)]
    assert len(loader) == 5


@pytest.mark.parametrize("lib", LIBS)
def test_default_batch_size_is_one(lib):
    assert [canon(b) for b in module_of(lib).DataLoader(Squares(3))] == [
        ("list", [("tensor", "int64", (1,), [i]), ("tensor", "float32", (1, 2), [[i * i] * 2])])
        for i in range(3)]


Point = collections.namedtuple("Point", ["x", "y"])


class Nested(ddata.Dataset):
    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 6

    def __getitem__(self, i):
        lib = self.lib
        return {"pair": (lib.full((2, 2), float(i)), i, i / 2, f"s{i}"),
                "point": Point(lib.tensor([i, -i]), i * 1.5),
                "list": [np.int32(i), np.float64(i) / 4, np.bool_(i % 2)],
                "array": np.arange(3, dtype=np.int16) + i,
                "flag": i % 3 == 0, "raw": bytes([65 + i])}


@requires_torch
def test_collate_nested_structures_like_torch():
    ours, theirs = both(Nested, batch_size=4)
    assert ours == theirs


@pytest.mark.parametrize("lib", LIBS)
def test_collate_nested_structures(lib):
    first = canon(next(iter(module_of(lib).DataLoader(Nested(lib), batch_size=4))))
    assert first["pair"][0] == "list"  # tuples become lists, as in torch
    kinds = [item[1] for item in first["pair"][1][:3]]
    assert kinds == ["float32", "int64", "float64"]  # python numbers: int64 and float64
    assert first["point"][0] == "Point"
    assert first["flag"][1] == "bool"
    assert [item[1] for item in first["list"][1]] == ["int32", "float64", "bool"]


@pytest.mark.parametrize("batch", [
    [1, 2, 3], [1.5, 2.5], [True, False], ["a", "b"], [b"x", b"y"],
    [np.float32(1), np.float32(2)], [np.int64(3), np.int64(4)],
    [np.zeros((2, 3), dtype=np.float64), np.ones((2, 3), dtype=np.float64)],
    [(1, "a"), (2, "b")], [[1, 2.0], [3, 4.0]], [{"a": 1}, {"a": 2}],
    [Point(1, 2.0), Point(3, 4.0)],
])
@requires_torch
def test_default_collate_like_torch(batch):
    assert canon(ddata.default_collate(batch)) == canon(tdata.default_collate(batch))


@pytest.mark.parametrize("data", [
    np.arange(4), np.float32(2.5), [np.arange(2), "s", 3], (np.ones(2), 1),
    {"a": np.zeros(2), "b": [np.int8(1)]}, Point(np.arange(2), 1.0), "text",
    np.array(["a", "b"]),
])
@requires_torch
def test_default_convert_like_torch(data):
    assert canon(ddata.default_convert(data)) == canon(tdata.default_convert(data))


def test_default_convert_keeps_tensors():
    t = dark.ones(2)
    assert ddata.default_convert(t) is t


@pytest.mark.parametrize("make_batch", [
    lambda lib: [lib.zeros(3), lib.zeros(4)],
    lambda lib: [[1, 2], [3]],
    lambda lib: [object(), object()],
    lambda lib: [np.array(["a"]), np.array(["b"])],
    lambda lib: [{"a": lib.ones(2)}, {"a": lib.ones(1)}],
])
@requires_torch
def test_collate_errors_like_torch(make_batch):
    raises_like_torch(lambda: ddata.default_collate(make_batch(dark)),
                      lambda: tdata.default_collate(make_batch(torch)))


def test_collate_shape_error_message():
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but "
                                           r"got \[3\] at entry 0 and \[4\] at entry 1"):
        ddata.default_collate([dark.zeros(3), dark.zeros(4)])


# ----------------------------------------------------------------------------- options

OPTION_ERRORS = [
    dict(shuffle=True, sampler=[0, 1]),
    dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_sampler=[[0]], sampler=[0]),
    dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_size=None, drop_last=True),
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1),
    dict(persistent_workers=True),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="nonsense"),
    dict(num_workers=1, multiprocessing_context=3),
    dict(batch_size=0),
    dict(batch_size=2, drop_last=1),
]


@pytest.mark.parametrize("kwargs", OPTION_ERRORS, ids=[str(k) for k in OPTION_ERRORS])
@requires_torch
def test_option_errors_like_torch(kwargs):
    raises_like_torch(lambda: ddata.DataLoader(Squares(4), **kwargs),
                      lambda: tdata.DataLoader(Squares(4), **kwargs))


@pytest.mark.parametrize("kwargs", [dict(shuffle=True), dict(sampler=[0]),
                                    dict(batch_sampler=[[0]])])
@requires_torch
def test_iterable_dataset_option_errors_like_torch(kwargs):
    raises_like_torch(lambda: ddata.DataLoader(stream(dark, 0, 4), **kwargs),
                      lambda: tdata.DataLoader(stream(torch, 0, 4), **kwargs))


@requires_torch
def test_timeout_needs_workers_like_torch():
    raises_like_torch(lambda: iter(ddata.DataLoader(Squares(4), timeout=1)),
                      lambda: iter(tdata.DataLoader(Squares(4), timeout=1)))


@requires_torch
def test_attributes_frozen_after_init_like_torch():
    raises_like_torch(lambda: setattr(ddata.DataLoader(Squares(4)), "batch_size", 3),
                      lambda: setattr(tdata.DataLoader(Squares(4)), "batch_size", 3))


def test_attributes_frozen_after_init():
    with pytest.raises(ValueError, match="batch_size attribute should not be set after"):
        ddata.DataLoader(Squares(4)).batch_size = 3
    loader = ddata.DataLoader(Squares(4))
    loader.num_workers = 0  # not one of the frozen attributes
    assert loader.multiprocessing_context is None


@requires_torch
def test_sampler_and_batch_sampler_arguments_like_torch():
    order = [3, 1, 2, 0]
    ours, theirs = both(lambda lib: Squares(4), sampler=order, batch_size=3)
    assert ours == theirs
    ours, theirs = both(lambda lib: Squares(6), batch_sampler=[[5, 0], [1], [2, 3, 4]])
    assert ours == theirs


def test_sampler_and_batch_sampler_arguments():
    assert [b[0].tolist() for b in ddata.DataLoader(Squares(4), sampler=[3, 1, 2, 0],
                                                    batch_size=3)] == [[3, 1, 2], [0]]
    assert [b[0].tolist() for b in ddata.DataLoader(
        Squares(6), batch_sampler=[[5, 0], [1], [2, 3, 4]])] == [[5, 0], [1], [2, 3, 4]]
    assert len(ddata.DataLoader(Squares(6), batch_sampler=[[5, 0], [1], [2, 3, 4]])) == 3


def test_pin_memory_accepted():
    def load():
        return [b[0].tolist() for b in ddata.DataLoader(Squares(4), batch_size=2,
                                                         pin_memory=True)]

    if dark._backend.cuda_available():
        assert load() == [[0, 1], [2, 3]]
    else:  # torch warns the same way without an accelerator
        with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no "
                                             "accelerator is found"):
            assert load() == [[0, 1], [2, 3]]


# ----------------------------------------------------------------------------- shuffling

def epoch_order(loader):
    return [i for batch in loader for i in batch[0].tolist()]


def test_shuffle_reproducible_with_manual_seed():
    dark.manual_seed(123)
    first = epoch_order(ddata.DataLoader(Squares(20), batch_size=3, shuffle=True))
    dark.manual_seed(123)
    again = epoch_order(ddata.DataLoader(Squares(20), batch_size=3, shuffle=True))
    assert first == again and sorted(first) == list(range(20)) and first != list(range(20))


def test_shuffle_with_generator_and_new_order_each_epoch():
    loaders = [ddata.DataLoader(Squares(20), batch_size=4, shuffle=True,
                                generator=dark.Generator().manual_seed(5)) for _ in range(2)]
    epochs = [[epoch_order(loader) for _ in range(3)] for loader in loaders]
    assert epochs[0] == epochs[1]  # same seed, same sequence of epochs
    assert len({tuple(order) for order in epochs[0]}) == 3  # each epoch reshuffles
    assert all(sorted(order) == list(range(20)) for order in epochs[0])
    other = ddata.DataLoader(Squares(20), batch_size=4, shuffle=True,
                             generator=dark.Generator().manual_seed(6))
    assert epoch_order(other) != epochs[0][0]


def test_shuffle_same_order_with_workers():
    def order(num_workers):
        return epoch_order(ddata.DataLoader(Squares(16), batch_size=3, shuffle=True,
                                            num_workers=num_workers,
                                            generator=dark.Generator().manual_seed(9)))
    assert order(0) == order(2)


# ----------------------------------------------------------------------------- workers

@pytest.mark.parametrize("kwargs", [dict(batch_size=5), dict(batch_size=5, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=2, prefetch_factor=1),
                                    dict(batch_size=3, prefetch_factor=4, in_order=False)])
def test_workers_give_the_same_batches(kwargs):
    single = {k: v for k, v in kwargs.items() if k not in ("prefetch_factor", "in_order")}
    sequential = [canon(b) for b in ddata.DataLoader(Squares(17), **single)]
    parallel = [canon(b) for b in ddata.DataLoader(Squares(17), num_workers=2, **kwargs)]
    if kwargs.get("in_order", True):
        assert parallel == sequential
    else:  # every batch, in any order
        assert sorted(map(repr, parallel)) == sorted(map(repr, sequential))


@requires_torch
@pytest.mark.parametrize("kwargs", [dict(batch_size=5), dict(batch_size=5, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=2, prefetch_factor=1)])
@requires_torch
def test_workers_give_torchs_batches(kwargs):
    single = {k: v for k, v in kwargs.items() if k != "prefetch_factor"}
    sequential = [canon(b) for b in ddata.DataLoader(Squares(17), **single)]
    assert sequential == [canon(b) for b in tdata.DataLoader(Squares(17), num_workers=2,
                                                              **kwargs)]


@requires_torch
def test_workers_tensor_batches_match_torch():
    ours, theirs = both(tensor_dataset, batch_size=3, num_workers=2)
    assert ours == theirs


class Timed(ddata.Dataset):
    """Item i is (i, the worker's pid, when its loading started and ended): sleeping items
    show whether two workers load at the same time."""

    def __len__(self):
        return 24

    def __getitem__(self, index):
        start = time.time()
        time.sleep(0.05)
        return index, os.getpid(), start, time.time()


def test_workers_load_items_at_the_same_time():
    """Two workers are two processes loading concurrently (their items' loading intervals
    overlap): what makes workers faster on slow items. A property, not a timing, so that a
    busy machine cannot make it fail."""
    items = [item for batch in ddata.DataLoader(Timed(), batch_size=4, num_workers=2,
                                                collate_fn=list) for item in batch]
    assert sorted(i for i, *_ in items) == list(range(24))
    pids = {pid for _, pid, _, _ in items}
    assert len(pids) == 2 and os.getpid() not in pids
    first, second = ([(s, e) for _, p, s, e in items if p == pid] for pid in sorted(pids))
    overlaps = sum(1 for s1, e1 in first for s2, e2 in second if s1 < e2 and s2 < e1)
    assert overlaps > 0, "the two workers never loaded at the same time"


def test_worker_info_init_fn_and_seeds():
    INIT_CALLS.clear()

    def run(seed):
        loader = ddata.DataLoader(WorkerReport(), batch_size=2, num_workers=2,
                                  worker_init_fn=record_init,
                                  generator=dark.Generator().manual_seed(seed))
        return [{key: value.tolist() for key, value in batch.items()} for batch in loader]

    batches = run(1)
    assert ddata.get_worker_info() is None and INIT_CALLS == {}  # all of it in the workers
    by_worker = {}
    for batch in batches:
        for key in batch:
            assert len(set(batch[key])) == 1 or key in ("dark", "numpy")
        by_worker.setdefault(batch["id"][0], []).append(batch)
    assert sorted(by_worker) == [0, 1]  # round-robin: batches 0, 2 by worker 0
    assert [b["id"][0] for b in batches] == [0, 1, 0, 1]
    assert all(b["init"][0] == 1 and b["num_workers"][0] == 2 for b in batches)
    seeds = {w: bs[0]["seed"][0] for w, bs in by_worker.items()}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    assert by_worker[0][0]["dark"] != by_worker[1][0]["dark"]
    assert by_worker[0][0]["numpy"] != by_worker[1][0]["numpy"]
    assert run(1) == batches  # same loader generator: same worker seeds and draws
    assert run(2)[0]["seed"] != batches[0]["seed"]


def torch_worker_message(error, worker_id):
    """The message torch's DataLoader gives for ``error`` raised in worker ``worker_id`` (its
    ExceptionWrapper; a torch loader left with a failed worker is slow to shut down)."""
    try:
        raise error
    except type(error):
        wrapper = torch._utils.ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
    with pytest.raises(type(error)) as raised:
        wrapper.reraise()
    return str(raised.value)


WORKER_ERROR_HEAD = ["Caught ValueError in DataLoader worker process 0.",
                     "Original Traceback (most recent call last):"]
WORKER_ERROR_TAIL = "ValueError: item 5 is broken"


def test_worker_error_reraised_with_traceback():
    with pytest.raises(ValueError) as got:
        list(ddata.DataLoader(Failing(), batch_size=2, num_workers=2))
    # item 5 is in batch 2, which round-robin gives to worker 0
    message = str(got.value).splitlines()
    assert message[:2] == WORKER_ERROR_HEAD and message[-1] == WORKER_ERROR_TAIL
    assert any("__getitem__" in line for line in message)


@requires_torch
def test_worker_error_message_is_torchs():
    expected = torch_worker_message(ValueError("item 5 is broken"), 0).splitlines()
    assert expected[:2] == WORKER_ERROR_HEAD and expected[-1] == WORKER_ERROR_TAIL


def test_worker_key_error_and_iteration_goes_on():
    loader = ddata.DataLoader(Failing(KeyError), batch_size=2, num_workers=2)
    iterator = iter(loader)
    assert next(iterator).tolist() == [0, 1]
    assert next(iterator).tolist() == [2, 3]
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0"):
        next(iterator)
    assert [b.tolist() for b in iterator] == [[6, 7], [8, 9]]


def test_worker_init_error():
    def broken_init(worker_id):
        raise RuntimeError(f"init of {worker_id} failed")

    with pytest.raises(RuntimeError, match="(?s)Caught RuntimeError in DataLoader worker "
                                           "process 0.*init of 0 failed"):
        list(ddata.DataLoader(Squares(4), num_workers=2, worker_init_fn=broken_init))


class Sleeping(ddata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        time.sleep(10 if index == 1 else 0)
        return index


def test_timeout():
    loader = ddata.DataLoader(Sleeping(), num_workers=1, timeout=0.5)
    iterator = iter(loader)
    assert next(iterator).tolist() == [0]
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0\.5 seconds$"):
        next(iterator)
    assert time.perf_counter() - start < 5
    del iterator


class Killing(ddata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, index):
        if index == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return index


@pytest.mark.skipif(not POSIX, reason="needs SIGKILL")
def test_killed_worker_raises_instead_of_hanging():
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly.*SIGKILL"):
        list(ddata.DataLoader(Killing(), num_workers=2, timeout=20))
    assert time.perf_counter() - start < 10


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = ddata.DataLoader(Squares(2), num_workers=1, timeout=20,
                              collate_fn=lambda batch: lambda: batch)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError), match="pickle"):
        list(loader)


def worker_children():
    return {p.pid for p in multiprocessing.active_children()}


def test_shutdown_when_iterator_deleted_mid_epoch():
    before = worker_children()
    iterator = iter(ddata.DataLoader(Squares(40, delay=0.01), batch_size=2, num_workers=2))
    next(iterator)
    assert len(worker_children() - before) == 2
    del iterator
    assert worker_children() - before == set()


def test_workers_stop_after_epoch():
    before = worker_children()
    assert len(list(ddata.DataLoader(Squares(6), batch_size=2, num_workers=2))) == 3
    assert worker_children() - before == set()


class Pids(ddata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, index):
        return index, os.getpid()


def test_persistent_workers_are_kept_between_epochs():
    def pids(loader):
        return {pid for batch in loader for pid in batch[1].tolist()}

    persistent = ddata.DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True)
    first, second = pids(persistent), pids(persistent)
    assert first == second and len(first) == 2 and os.getpid() not in first
    # an epoch left half way does not leak stale batches into the next one
    iterator = iter(persistent)
    next(iterator)
    assert [b[0].tolist() for b in persistent] == [[0, 1], [2, 3], [4, 5]]
    fresh = ddata.DataLoader(Pids(), batch_size=2, num_workers=2)
    assert pids(fresh).isdisjoint(pids(fresh))
    before = worker_children()
    del persistent, iterator
    assert len(before - worker_children()) == 2


@pytest.mark.parametrize("context", ["spawn"])
def test_spawn_context(context):
    if context not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{context} not available")
    loader = ddata.DataLoader(Squares(6), batch_size=4, num_workers=1,
                              multiprocessing_context=context)
    assert [canon(b) for b in loader] == [canon(b) for b in ddata.DataLoader(Squares(6),
                                                                             batch_size=4)]


# ----------------------------------------------------------------------------- iterable

@pytest.mark.parametrize("kwargs", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=3, num_workers=2),
                                    dict(batch_size=2, num_workers=2, drop_last=True),
                                    dict(batch_size=None, num_workers=2)])
@pytest.mark.parametrize("shard", [True, False])
@requires_torch
def test_iterable_dataset_like_torch(kwargs, shard):
    ours, theirs = both(lambda lib: stream(lib, 3, 12, shard), **kwargs)
    assert ours == theirs


@pytest.mark.parametrize("batch_size,drop_last", [(None, False), (1, False), (4, False),
                                                  (4, True), (20, False)])
@requires_torch
def test_iterable_dataset_len_like_torch(batch_size, drop_last):
    make = {"batch_size": batch_size, "drop_last": drop_last}
    assert len(ddata.DataLoader(stream(dark, 0, 10), **make)) == \
        len(tdata.DataLoader(stream(torch, 0, 10), **make))


@pytest.mark.parametrize("lib", LIBS)
def test_iterable_dataset_overlong_warns_like_torch(lib):
    # as torch, the count of items yielded is compared with len(dataset)
    loader = module_of(lib).DataLoader(stream(lib, 0, 6, shard=False), batch_size=None,
                                       num_workers=2)
    assert len(loader) == 6
    with pytest.warns(UserWarning, match="was reported to be 6"):
        assert len(list(loader)) == 12  # each worker has the whole stream


def test_persistent_workers_iterable_restart():
    loader = ddata.DataLoader(stream(dark, 0, 8), batch_size=3, num_workers=2,
                              persistent_workers=True)
    epochs = [[b.tolist() for b in loader] for _ in range(2)]
    assert epochs[0] == epochs[1] == [[0, 1, 2], [4, 5, 6], [3], [7]]


# ----------------------------------------------------------------------------- datasets

def test_tensor_dataset():
    data = tensor_dataset(dark, 5)
    assert len(data) == 5 and canon(data[2]) == (
        "tuple", [("tensor", "float32", (3,), [6.0, 7.0, 8.0]), ("tensor", "int64", (), 2)])
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        ddata.TensorDataset(dark.zeros(3), dark.zeros(4))


@requires_torch
def test_tensor_dataset_like_torch():
    assert canon(tensor_dataset(dark, 5)[2]) == canon(tensor_dataset(torch, 5)[2])
    raises_like_torch(lambda: ddata.TensorDataset(dark.zeros(3), dark.zeros(4)),
                      lambda: tdata.TensorDataset(torch.zeros(3), torch.zeros(4)))


def _concat_parts(module):
    return module.ConcatDataset([list(range(3)), list(range(10, 15)), [], [20]])


def test_concat_dataset():
    ours = _concat_parts(ddata)
    assert ours.cumulative_sizes == [3, 8, 8, 9] and len(ours) == 9
    assert [ours[i] for i in range(-9, 9)] == [0, 1, 2, 10, 11, 12, 13, 14, 20] * 2
    joined = Squares(2) + Squares(3)
    assert isinstance(joined, ddata.ConcatDataset) and joined[-1][0] == 2 and len(joined) == 5


@requires_torch
def test_concat_dataset_like_torch():
    ours, theirs = _concat_parts(ddata), _concat_parts(tdata)
    assert ours.cumulative_sizes == theirs.cumulative_sizes and len(ours) == len(theirs) == 9
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    raises_like_torch(lambda: ours[-10], lambda: theirs[-10])
    raises_like_torch(lambda: ddata.ConcatDataset([]), lambda: tdata.ConcatDataset([]))
    raises_like_torch(lambda: ddata.ConcatDataset([stream(dark, 0, 2)]),
                      lambda: tdata.ConcatDataset([stream(torch, 0, 2)]))


def test_chain_and_iterable_add():
    chained = stream(dark, 0, 3) + stream(dark, 10, 12)
    assert isinstance(chained, ddata.ChainDataset)
    assert list(chained) == [0, 1, 2, 10, 11] and len(chained) == 5


@requires_torch
def test_chain_of_a_map_dataset_errors_like_torch():
    raises_like_torch(lambda: list(ddata.ChainDataset([[1]])),
                      lambda: list(tdata.ChainDataset([[1]])))


@requires_torch
def test_stack_dataset_like_torch():
    a, b = list(range(4)), [x * 10 for x in range(4)]
    for args, kwargs in [((a, b), {}), ((), {"x": a, "y": b})]:
        ours, theirs = ddata.StackDataset(*args, **kwargs), tdata.StackDataset(*args, **kwargs)
        assert len(ours) == len(theirs) and ours[2] == theirs[2]
        assert ours.__getitems__([3, 0]) == theirs.__getitems__([3, 0])
    for args, kwargs in [((a,), {"y": b}), ((), {}), ((a, b[:2]), {})]:
        raises_like_torch(ddata.StackDataset, tdata.StackDataset, *args, **kwargs)


def test_subset():
    subset = ddata.Subset(Squares(10), [7, 2, 5])
    assert len(subset) == 3 and subset[0][0] == 7
    assert [item[0] for item in subset.__getitems__([2, 1])] == [5, 2]
    assert [b[0].tolist() for b in ddata.DataLoader(subset, batch_size=2)] == [[7, 2], [5]]

    class OnlyGetitem(ddata.Subset):
        def __getitem__(self, index):
            return 0

    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        OnlyGetitem(Squares(3), [0])


@requires_torch
def test_base_dataset_getitem_not_implemented():
    raises_like_torch(lambda: ddata.Dataset()[0], lambda: tdata.Dataset()[0])


# ----------------------------------------------------------------------------- random_split

@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.3, 0.7]), (10, [0.33, 0.33, 0.34]),
                                       (7, [0.5, 0.5]), (11, [0.25, 0.25, 0.25, 0.25]),
                                       (5, [0.1, 0.9])])
@requires_torch
def test_random_split_lengths_like_torch(n, lengths):
    ours = ddata.random_split(list(range(n)), lengths, generator=dark.Generator().manual_seed(0))
    theirs = tdata.random_split(list(range(n)), lengths,
                                generator=torch.Generator().manual_seed(0))
    assert [len(part) for part in ours] == [len(part) for part in theirs]


@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.3, 0.7]), (10, [0.33, 0.33, 0.34]),
                                       (7, [0.5, 0.5]), (11, [0.25, 0.25, 0.25, 0.25]),
                                       (5, [0.1, 0.9])])
def test_random_split_partitions(n, lengths):
    ours = ddata.random_split(list(range(n)), lengths, generator=dark.Generator().manual_seed(0))
    assert len(ours) == len(lengths)
    assert all(isinstance(part, ddata.Subset) for part in ours)
    assert sorted(i for part in ours for i in part) == list(range(n))


def test_random_split_reproducible_and_errors():
    def split(seed):
        return [list(part) for part in ddata.random_split(
            range(20), [5, 15], generator=dark.Generator().manual_seed(seed))]

    assert split(1) == split(1) and split(1) != split(2)
    dark.manual_seed(3)
    first = [list(p) for p in ddata.random_split(range(20), [0.5, 0.5])]
    dark.manual_seed(3)
    assert first == [list(p) for p in ddata.random_split(range(20), [0.5, 0.5])]
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        ddata.random_split(range(1), [0.1, 0.9])


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [1.2, -0.2]])
@requires_torch
def test_random_split_errors_like_torch(lengths):
    raises_like_torch(ddata.random_split, tdata.random_split, range(5), lengths)


# ----------------------------------------------------------------------------- samplers

@requires_torch
def test_sequential_and_batch_sampler_like_torch():
    assert list(ddata.SequentialSampler(range(5))) == list(tdata.SequentialSampler(range(5)))
    for size, drop in [(1, False), (3, False), (3, True), (5, True), (6, False)]:
        ours = ddata.BatchSampler(ddata.SequentialSampler(range(10)), size, drop)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(range(10)), size, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    for args in [(range(3), 0, False), (range(3), 2.0, False), (range(3), True, False),
                 (range(3), 2, 1)]:
        raises_like_torch(ddata.BatchSampler, tdata.BatchSampler, *args)


def test_random_sampler():
    generator = dark.Generator().manual_seed(0)
    sampler = ddata.RandomSampler(range(10), generator=generator)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(10)) and first != second and len(sampler) == 10
    longer = list(ddata.RandomSampler(range(4), num_samples=10))
    assert len(longer) == 10 and sorted(longer[:4]) == sorted(longer[4:8]) == list(range(4))
    assert len(set(longer[8:])) == 2
    drawn = list(ddata.RandomSampler(range(3), replacement=True, num_samples=100))
    assert len(drawn) == 100 and set(drawn) == {0, 1, 2}
    assert len(list(ddata.RandomSampler(range(3), replacement=True))) == 3
    dark.manual_seed(8)
    a = list(ddata.RandomSampler(range(30)))
    dark.manual_seed(8)
    assert a == list(ddata.RandomSampler(range(30)))


@pytest.mark.parametrize("kwargs", [dict(replacement=1), dict(num_samples=0),
                                    dict(num_samples=2.0)])
@requires_torch
def test_random_sampler_errors_like_torch(kwargs):
    raises_like_torch(ddata.RandomSampler, tdata.RandomSampler, range(3), **kwargs)


def test_subset_random_sampler():
    sampler = ddata.SubsetRandomSampler([10, 20, 30, 40],
                                        generator=dark.Generator().manual_seed(1))
    orders = [list(sampler) for _ in range(4)]
    assert all(sorted(order) == [10, 20, 30, 40] for order in orders)
    assert len({tuple(order) for order in orders}) > 1 and len(sampler) == 4


def test_weighted_random_sampler():
    weights = [0.0, 1.0, 3.0, 0.0, 6.0]
    drawn = list(ddata.WeightedRandomSampler(weights, 4000,
                                             generator=dark.Generator().manual_seed(0)))
    counts = np.bincount(drawn, minlength=5) / 4000
    assert counts[0] == counts[3] == 0
    np.testing.assert_allclose(counts[[1, 2, 4]], [0.1, 0.3, 0.6], atol=0.04)
    unique = list(ddata.WeightedRandomSampler(weights, 3, replacement=False))
    assert sorted(unique) == [1, 2, 4]
    sampler = ddata.WeightedRandomSampler(dark.tensor([1.0, 2.0]), 5)
    assert len(sampler) == 5 and sampler.weights.dtype == dark.float64


WEIGHTS = [0.0, 1.0, 3.0, 0.0, 6.0]


@pytest.mark.parametrize("args", [(WEIGHTS, 0), (WEIGHTS, True), (WEIGHTS, 2, 1),
                                  ([[1.0, 2.0]], 2)])
@requires_torch
def test_weighted_random_sampler_errors_like_torch(args):
    raises_like_torch(ddata.WeightedRandomSampler, tdata.WeightedRandomSampler, *args)


@requires_torch
def test_sampler_base_like_torch():
    raises_like_torch(lambda: iter(ddata.Sampler()), lambda: iter(tdata.Sampler()))


class Reverse(ddata.Sampler):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n - 1, -1, -1))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("lib", LIBS)
def test_custom_sampler(lib):
    loader = module_of(lib).DataLoader(Squares(5), sampler=Reverse(5), batch_size=2)
    assert [b[0].tolist() for b in loader] == [[4, 3], [2, 1], [0]]


class _ThreadCount:
    """Each item: the intra-op thread count of the library in the process that loads it."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return self.lib.get_num_threads()


@pytest.mark.parametrize("lib", LIBS)
def test_workers_run_one_intra_op_thread_like_torch(lib):
    """torch's workers call set_num_threads(1): the workers are the parallelism."""
    counts = [int(b) for b in module_of(lib).DataLoader(_ThreadCount(lib), batch_size=None,
                                                         num_workers=2)]
    assert counts == [1, 1]
    assert lib.get_num_threads() >= 1  # the main process keeps its own count
