"""dark.utils.hooks.RemovableHandle, as torch.utils.hooks.RemovableHandle: the one handle
that every register_*_hook returns (modules, optimizers, tensors, graph nodes), with one id
counter, weak references to its dicts, an idempotent remove(), a context manager and
pickling."""
from __future__ import annotations

import gc
import importlib
import pickle
import weakref
from collections import OrderedDict

import pytest
from harness import LIBS

import dark
from dark.utils.hooks import RemovableHandle


def _record(*args, **kwargs):
    """A hook that pickles (module level) and changes nothing."""
    return None


def _every_kind_of_handle(lib):
    """One handle of every register_*_hook that ``lib`` (dark or torch) has."""
    module = lib.nn.Linear(2, 2)
    optimizer = lib.optim.SGD(module.parameters(), lr=0.1)
    leaf = lib.ones(2, requires_grad=True)
    out = leaf * 2
    optimizer_module = importlib.import_module(f"{lib.__name__}.optim.optimizer")
    handles = [
        module.register_forward_pre_hook(_record),
        module.register_forward_hook(_record, with_kwargs=True, always_call=True),
        module.register_full_backward_pre_hook(_record),
        module.register_full_backward_hook(_record),
        module.register_load_state_dict_post_hook(_record),
        optimizer.register_step_pre_hook(_record),
        optimizer.register_step_post_hook(_record),
        optimizer.register_state_dict_pre_hook(_record),
        optimizer.register_state_dict_post_hook(_record),
        optimizer.register_load_state_dict_pre_hook(_record),
        optimizer.register_load_state_dict_post_hook(_record),
        optimizer_module.register_optimizer_step_pre_hook(_record),
        optimizer_module.register_optimizer_step_post_hook(_record),
        leaf.register_hook(_record),
        out.register_hook(_record),
        out.grad_fn.register_hook(_record),
        out.grad_fn.register_prehook(_record),
    ]
    return handles


@pytest.mark.parametrize("lib", LIBS)
def test_every_register_hook_returns_the_one_handle_class(lib):
    handle_class = lib.utils.hooks.RemovableHandle
    handles = _every_kind_of_handle(lib)
    try:
        assert all(type(h) is handle_class for h in handles)
        ids = [h.id for h in handles]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # one counter for all kinds
        assert handle_class.next_id == ids[-1] + 1
    finally:
        for handle in handles:
            handle.remove()


def test_remove_takes_the_hook_out_of_every_dict_once_and_for_all():
    hooks, flags, more = OrderedDict(), OrderedDict(), OrderedDict()
    handle = RemovableHandle(hooks, extra_dict=[flags, more])
    hooks[handle.id], flags[handle.id], more[handle.id] = _record, True, True
    other = RemovableHandle(hooks, extra_dict=flags)
    hooks[other.id], flags[other.id] = _record, True
    handle.remove()
    assert list(hooks) == list(flags) == [other.id] and not more
    handle.remove()  # again: nothing to do, no error
    assert list(hooks) == [other.id]
    with other as entered:
        assert entered is other and other.id in hooks
    assert not hooks and not flags


def test_the_handle_does_not_keep_its_dicts_alive():
    hooks, flags = OrderedDict(), OrderedDict()
    handle = RemovableHandle(hooks, extra_dict=flags)
    hooks_ref, flags_ref = weakref.ref(hooks), weakref.ref(flags)
    del hooks, flags
    gc.collect()
    assert hooks_ref() is None and flags_ref() is None
    handle.remove()  # the dicts are gone: nothing to remove
    assert handle.__getstate__() == (None, handle.id, (None,))


def test_a_module_hook_handle_survives_the_module():
    module = dark.nn.Linear(2, 2)
    handle = module.register_forward_hook(_record, with_kwargs=True)
    module_ref = weakref.ref(module)
    del module
    gc.collect()
    assert module_ref() is None
    handle.remove()


@pytest.mark.parametrize("lib", LIBS)
def test_pickled_with_its_module_the_handle_removes_from_the_copy(lib):
    module = lib.nn.Linear(2, 2)
    handle = module.register_forward_hook(_record, with_kwargs=True, always_call=True)
    module_copy, handle_copy = pickle.loads(pickle.dumps((module, handle)))
    assert type(handle_copy) is type(handle) and handle_copy.id == handle.id
    for name in ("_forward_hooks", "_forward_hooks_with_kwargs",
                 "_forward_hooks_always_called"):
        assert list(getattr(module_copy, name)) == [handle.id]
    handle_copy.remove()
    for name in ("_forward_hooks", "_forward_hooks_with_kwargs",
                 "_forward_hooks_always_called"):
        assert not getattr(module_copy, name)
        assert list(getattr(module, name)) == [handle.id]  # the original keeps its hook


@pytest.mark.parametrize("lib", LIBS)
def test_unpickling_a_handle_moves_the_id_counter_past_its_id(lib):
    handle_class = lib.utils.hooks.RemovableHandle
    hooks = OrderedDict()
    far_id = handle_class(hooks).id + 1000  # as saved by a process that made more hooks
    far = handle_class.__new__(handle_class)
    far.__setstate__((hooks, far_id, ()))
    assert far.id == far_id and far.hooks_dict_ref() is hooks
    assert handle_class.next_id == far_id + 1
    assert handle_class(hooks).id == far_id + 1


@pytest.mark.parametrize("lib", LIBS)
def test_a_handle_unpickled_without_its_dict_removes_nothing(lib):
    handle_class = lib.utils.hooks.RemovableHandle
    hooks = OrderedDict()
    handle = handle_class.__new__(handle_class)
    handle.__setstate__((None, 7, None))
    assert handle.hooks_dict_ref() is None and handle.extra_dict_ref == ()
    handle.remove()
    assert handle_class(hooks).id >= 8


def test_removing_graph_and_tensor_hooks_stops_them():
    calls = []
    leaf = dark.ones(2, requires_grad=True)
    out = leaf * 3
    handles = [leaf.register_hook(lambda g: calls.append("leaf")),
               out.register_hook(lambda g: calls.append("out")),
               out.grad_fn.register_hook(lambda gi, go: calls.append("node")),
               out.grad_fn.register_prehook(lambda go: calls.append("pre"))]
    out.sum().backward(retain_graph=True)
    assert sorted(calls) == ["leaf", "node", "out", "pre"]
    for handle in handles:
        handle.remove()
        handle.remove()
    calls.clear()
    out.sum().backward()
    assert calls == [] and leaf.grad.tolist() == [6.0, 6.0]
