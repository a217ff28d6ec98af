"""dark.utils.hooks: the handle that every ``register_*_hook`` returns, as torch.utils.hooks.

It imports nothing from dark, so that the lowest layers (autograd's nodes and tensors) use
the same class as nn.Module and the optimizers."""
from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

__all__ = ["RemovableHandle"]


def _dead_ref() -> weakref.ref:
    """A weak reference whose dict is already gone (a handle unpickled without its dict)."""
    return weakref.ref(OrderedDict())


class RemovableHandle:
    """Removes one hook: ``remove()`` deletes key ``id`` from ``hooks_dict`` and from every
    ``extra_dict`` (a dict or a list of dicts keyed alike, e.g. a hook's flags).

    Every handle gets the next ``id`` of a counter shared by all hooks, so ``hooks_dict[id]``
    is where the registering code stores the hook. The handle holds the dicts by weak
    reference (so they must support weak references: an ``OrderedDict``, not a plain
    ``dict``), does not keep their owner alive, and ``remove()`` may be called any number of
    times, also after the dicts are gone. As a context manager it removes the hook on exit.
    Pickled, it takes its dicts along; unpickled, it refers to their copies."""

    id: int
    next_id: int = 0

    def __init__(self, hooks_dict: Any, *, extra_dict: Any = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if isinstance(extra_dict, dict):
            extra_dict = [extra_dict]
        elif not isinstance(extra_dict, list):
            extra_dict = []
        self.extra_dict_ref: tuple = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks = ref()
            if hooks is not None:
                hooks.pop(self.id, None)

    def __getstate__(self) -> tuple:
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state: tuple) -> None:
        self.hooks_dict_ref = _dead_ref() if state[0] is None else weakref.ref(state[0])
        self.id = state[1]
        # ids stay unique: a later handle must not take the id of one unpickled now
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        extra = state[2] if len(state) > 2 and state[2] is not None else ()
        self.extra_dict_ref = tuple(_dead_ref() if d is None else weakref.ref(d)
                                    for d in extra)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.remove()
