"""dark.multiprocessing: Python's multiprocessing with torch.multiprocessing's additions.

Everything of :mod:`multiprocessing` is here (Process, Queue, Pool, set_start_method,
get_context, cpu_count ...), with ``spawn`` / ``start_processes`` / ``ProcessContext`` and the
exceptions of torch.multiprocessing.spawn. A tensor moved to shared memory
(``Tensor.share_memory_``, ``Module.share_memory``: see _sharing) is shared with the
processes it is sent to (queues, pipes, spawn arguments) or forked into; any other tensor
arrives as a copy (torch would move it to shared memory when sent). The sharing strategies
are accepted and recorded only (dark shares through files of /dev/shm). As in torch, a
non-leaf tensor that requires grad is refused (autograd does not cross processes)."""
from __future__ import annotations

import multiprocessing
import sys
from multiprocessing import *  # noqa: F403
from multiprocessing.reduction import ForkingPickler

from .._tensor import Tensor
from ._sharing import reduce_shared
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
    shared = reduce_shared(tensor)
    return shared if shared is not None else tensor.__reduce_ex__(2)


ForkingPickler.register(Tensor, _reduce_tensor)
