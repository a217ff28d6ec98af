"""dark.multiprocessing: Python's multiprocessing with torch.multiprocessing's additions.

Everything of :mod:`multiprocessing` is here (Process, Queue, Pool, set_start_method,
get_context, cpu_count ...), with ``spawn`` / ``start_processes`` / ``ProcessContext`` and the
exceptions of torch.multiprocessing.spawn. Tensors put on a Queue (or passed to a Process)
arrive intact by pickling: their data is copied, not shared (``Tensor.share_memory_`` is a
no-op in dark, and the sharing strategies are accepted and recorded only). As in torch, a
non-leaf tensor that requires grad is refused (autograd does not cross processes)."""
from __future__ import annotations

import multiprocessing
import sys
from multiprocessing import *  # noqa: F403
from multiprocessing.reduction import ForkingPickler

from .._tensor import Tensor
from .spawn import (ProcessContext, ProcessException, ProcessExitedException,
                    ProcessRaisedException, SpawnContext, spawn, start_processes)

__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException",
           "ProcessRaisedException", "SpawnContext", "get_all_sharing_strategies",
           "get_sharing_strategy", "set_sharing_strategy", "spawn", "start_processes"]
__all__ += multiprocessing.__all__

if sys.platform in ("darwin", "win32"):
    _sharing_strategy = "file_system"
    _all_sharing_strategies = {"file_system"}
else:
    _sharing_strategy = "file_descriptor"
    _all_sharing_strategies = {"file_descriptor", "file_system"}


def set_sharing_strategy(new_strategy) -> None:
    """Record the strategy for sharing CPU tensors (dark copies tensors between processes
    whatever the strategy)."""
    global _sharing_strategy
    if new_strategy not in _all_sharing_strategies:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, "
                             f"expected one of {_all_sharing_strategies}")
    _sharing_strategy = new_strategy


def get_sharing_strategy():
    return _sharing_strategy


def get_all_sharing_strategies():
    return _all_sharing_strategies


def _reduce_tensor(tensor: Tensor):
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, "
                           "since autograd does not support crossing process boundaries.  If "
                           "you just want to transfer the data, call detach() on the tensor "
                           "before serializing (e.g., putting it on the queue).")
    return tensor.__reduce_ex__(2)


ForkingPickler.register(Tensor, _reduce_tensor)
