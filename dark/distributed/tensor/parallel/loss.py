"""torch.distributed.tensor.parallel.loss: ``loss_parallel``."""
from __future__ import annotations

import contextlib

__all__ = ["loss_parallel"]


@contextlib.contextmanager
def loss_parallel():
    """torch's context for cross_entropy / nll_loss on logits sharded along the class
    dimension (``Shard(-1)``, from a ColwiseParallel output with ``use_local_output=False``).
    dark needs no switch for it: log_softmax along a sharded dimension gathers it
    (redistributes to Replicate, and its backward takes each rank's piece again), so the
    loss and its gradients are the single-process ones; torch's version computes the
    log-softmax without gathering the logits (less communication, same values)."""
    yield
