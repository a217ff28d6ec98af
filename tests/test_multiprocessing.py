"""dark.multiprocessing as torch.multiprocessing: the re-exported multiprocessing API, spawn /
start_processes / ProcessContext with the child's traceback in ProcessRaisedException, and
tensors through a Queue (dark copies them by pickling). The process functions live in
tests/mp_workers.py; with torch installed the same programs run with torch.multiprocessing."""
import gc
import importlib
import multiprocessing
import os

import mp_workers
import numpy as np
import pytest
from harness import requires_torch, torch

import dark
import dark.multiprocessing as dmp


def test_reexports_multiprocessing():
    for name in ("Process", "Queue", "SimpleQueue", "Pool", "Pipe", "Lock", "Event", "Manager",
                 "set_start_method", "get_start_method", "get_context", "cpu_count",
                 "get_all_start_methods", "current_process", "Value", "Array"):
        assert getattr(dmp, name) is getattr(multiprocessing, name), name
        assert name in dmp.__all__
    for name in ("spawn", "start_processes", "ProcessContext", "ProcessRaisedException",
                 "ProcessExitedException", "SpawnContext", "set_sharing_strategy"):
        assert name in dmp.__all__
    assert dmp.cpu_count() == os.cpu_count()
    assert dark.multiprocessing is dmp


@requires_torch
def test_names_are_torchs():
    import torch.multiprocessing as tmp
    assert set(tmp.__all__) <= set(dmp.__all__)
    assert dmp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert dmp.get_sharing_strategy() == tmp.get_sharing_strategy()
    for strategy in ("file_system", "nothing"):
        mine = theirs = None
        try:
            tmp.set_sharing_strategy(strategy)
        except AssertionError as error:
            theirs = str(error)
        try:
            dmp.set_sharing_strategy(strategy)
        except AssertionError as error:
            mine = str(error)
        assert mine == theirs
    tmp.set_sharing_strategy("file_descriptor")
    dmp.set_sharing_strategy("file_descriptor")


def test_spawn_calls_fn_with_index_and_args(tmp_path):
    assert dmp.spawn(mp_workers.write_rank, args=(str(tmp_path), 1.5), nprocs=2) is None
    for i in range(2):
        assert dark.load(str(tmp_path / f"{i}.pt")).tolist() == [1.5 * i, 1.5 * i]


def test_start_processes_without_join_returns_the_context(tmp_path):
    context = dmp.start_processes(mp_workers.write_rank, args=(str(tmp_path), 2.0), nprocs=2,
                                  join=False, start_method="fork")
    assert isinstance(context, dmp.ProcessContext)
    assert len(context.pids()) == 2 and all(isinstance(p, int) for p in context.pids())
    while not context.join(timeout=30):
        pass
    assert context.join() is True
    assert dark.load(str(tmp_path / "1.pt")).tolist() == [2.0, 2.0]


def test_spawn_raises_the_childs_exception():
    with pytest.raises(dmp.ProcessRaisedException) as raised:
        dmp.spawn(mp_workers.fail_on_one, nprocs=2)
    message = str(raised.value)
    assert message.startswith("\n\n-- Process 1 terminated with the following error:\n"
                              "Traceback (most recent call last):\n")
    assert "in fail_on_one" in message
    assert message.endswith("ValueError: process 1 says no\n")
    assert raised.value.error_index == 1 and raised.value.error_pid > 0


def test_spawn_exit_code_and_signal():
    with pytest.raises(dmp.ProcessExitedException, match="^process 0 terminated with exit "
                       "code 3$") as exited:
        dmp.spawn(mp_workers.exit_with, args=(3,), nprocs=1)
    assert exited.value.exit_code == 3
    with pytest.raises(dmp.ProcessExitedException, match="^process 0 terminated with signal "
                       "SIGKILL$") as killed:
        dmp.start_processes(mp_workers.kill_self, nprocs=1, start_method="fork")
    assert killed.value.signal_name == "SIGKILL" and killed.value.exit_code == -9


def test_spawn_other_start_method_warns(tmp_path):
    with pytest.warns(FutureWarning, match=r"^This method only supports start_method=spawn "
                      r"\(got: fork\).\nTo use a different start_method use:\n\t\t "
                      r"dark.multiprocessing.start_processes\(...\)$"):
        dmp.spawn(mp_workers.write_rank, args=(str(tmp_path), 1.0), nprocs=1,
                  start_method="fork")
    assert dark.load(str(tmp_path / "0.pt")).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_tensors_through_a_queue(method):
    context = dmp.get_context(method)
    inbox, outbox = context.Queue(), context.Queue()
    worker = context.Process(target=mp_workers.echo_tensors, args=(inbox, outbox))
    worker.start()
    try:
        sent = [dark.arange(6, dtype=dark.float64).view(2, 3),
                dark.tensor([1, 2], dtype=dark.int8),
                dark.arange(10.0)[::3], dark.ones(2, requires_grad=True)]
        for t in sent:
            inbox.put(t)
        for t in sent:
            back = outbox.get(timeout=60)
            assert isinstance(back, dark.Tensor) and back.dtype == t.dtype
            np.testing.assert_array_equal(back.detach().numpy(), t.detach().numpy() * 2)
        inbox.put(None)
        worker.join(60)
        assert worker.exitcode == 0
    finally:
        if worker.is_alive():
            worker.kill()


@pytest.mark.parametrize("lib", ["dark", pytest.param("torch", marks=requires_torch)])
def test_queue_refuses_non_leaf_that_requires_grad(lib):
    module = dark if lib == "dark" else torch
    from multiprocessing.reduction import ForkingPickler
    if lib == "torch":
        importlib.import_module("torch.multiprocessing")  # registers torch's reducers
    t = module.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="^Cowardly refusing to serialize non-leaf tensor "
                       "which requires_grad, since autograd does not support crossing process "
                       "boundaries.  If you just want to transfer the data, call detach"):
        ForkingPickler.dumps(t)
    assert ForkingPickler.loads(ForkingPickler.dumps(t.detach())).tolist() == [2.0, 2.0]


# ----------------------------------------------------------------------------- shared memory

@pytest.mark.parametrize("lib", ["dark", pytest.param("torch", marks=requires_torch)])
def test_share_memory_in_place(lib):
    module = dark if lib == "dark" else torch
    t = module.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.is_shared() is False
    assert t.share_memory_() is t
    assert t.is_shared() is True and t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert t.share_memory_() is t and t.is_shared()
    assert t[1].is_shared()  # a view of shared memory is in it
    assert (t + 1).is_shared() is False
    net = module.nn.Linear(2, 2)
    assert net.share_memory() is net
    assert all(p.is_shared() for p in net.parameters())
    assert net(t).shape == (2, 2)


def test_share_memory_of_a_view_is_refused():
    t = dark.zeros(4)
    with pytest.raises(RuntimeError, match="^dark cannot move a view to shared memory"):
        t[1:].share_memory_()


def test_shared_file_removed_with_the_tensor():
    from dark.multiprocessing import _sharing
    t = dark.zeros(3).share_memory_()
    path, _ = _sharing._segment_of(t._data)
    assert os.path.exists(path)
    del t
    gc.collect()
    assert not os.path.exists(path)


def test_forked_child_writes_into_shared_tensor():
    shared, private = dark.zeros(3).share_memory_(), dark.zeros(3)
    context = dmp.get_context("fork")
    for amount in (1.0, 2.0):  # one after the other: the sum is exact
        child = context.Process(target=mp_workers.add_in_place, args=(shared, amount))
        child.start()
        child.join(60)
        assert child.exitcode == 0
    assert shared.tolist() == [3.0, 3.0, 3.0]
    child = context.Process(target=mp_workers.add_in_place, args=(private, 1.0))
    child.start()
    child.join(60)
    assert private.tolist() == [0.0, 0.0, 0.0]  # not shared: the child had a copy


def test_hogwild_spawned_training_updates_the_shared_model():
    """mnist_hogwild's pattern: model.share_memory(), then processes train it in place."""
    dark.manual_seed(0)
    model = dark.nn.Sequential(dark.nn.Linear(3, 4), dark.nn.Tanh(), dark.nn.Linear(4, 2))
    reference = dark.nn.Sequential(dark.nn.Linear(3, 4), dark.nn.Tanh(), dark.nn.Linear(4, 2))
    reference.load_state_dict(model.state_dict())
    initial_weight = reference[0].weight.detach().clone()
    model.share_memory()
    dmp.spawn(mp_workers.sgd_steps, args=(model, 3), nprocs=1)
    mp_workers.sgd_train(reference, 3)  # the same steps here
    assert not dark.equal(initial_weight, reference[0].weight)  # the steps changed it
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy(),
                                      err_msg=key)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_shared_tensor_through_a_queue(method):
    context = dmp.get_context(method)
    inbox, done = context.Queue(), context.Queue()
    child = context.Process(target=mp_workers.write_through_queue, args=(inbox, done))
    child.start()
    try:
        shared = dark.zeros(2).share_memory_()
        inbox.put(shared)
        assert done.get(timeout=60) is True
        assert shared.tolist() == [7.0, 0.0]  # the child's write is seen here
        child.join(60)
        child = context.Process(target=mp_workers.write_through_queue, args=(inbox, done))
        child.start()
        private = dark.zeros(2)
        inbox.put(private)
        assert done.get(timeout=60) is False
        assert private.tolist() == [0.0, 0.0]  # sent as a copy (torch would share it)
        child.join(60)
    finally:
        if child.is_alive():
            child.kill()
