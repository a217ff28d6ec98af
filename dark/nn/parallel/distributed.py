"""``DistributedDataParallel`` as torch's: one model replica per process, gradients
averaged across the processes during backward.

At construction the parameters and buffers are broadcast from rank 0 (after checking that
every rank has the same parameter names, shapes and dtypes) and grouped into buckets in
reverse registration order (the order in which backward produces their gradients): the
first bucket holds up to 1 MiB, the others up to ``bucket_cap_mb``. During backward each
parameter's post-accumulate-grad hook marks it ready; when a bucket's last gradient is
ready its gradients (divided by the world size) are packed into one flat buffer and its
all-reduce starts without blocking, so communication overlaps the rest of backward. At the
end of backward (an engine callback) the launches are waited for and the averaged values
written back into ``.grad`` (or ``.grad`` becomes a view of the bucket, with
``gradient_as_bucket_view``).
"""
from __future__ import annotations

import contextlib
import time

from ... import _backend
from ... import distributed as dist
from ..._tensor import Tensor, nested_tensors
from ...autograd import engine
from ...autograd.grad_mode import is_grad_enabled
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024


class _Bucket:
    def __init__(self, params, index):
        self.params = params
        self.index = index
        self.pending = set()
        self.buffer = None  # flat, allocated once
        self.work = None
        self.sizes = [p.numel() for p in params]

    def reset(self):
        self.pending = {id(p) for p in self.params}
        self.work = None


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model after ``init_process_group``;
    each process runs it on its own share of the batch and ``backward()`` leaves the
    gradients averaged over all of them, so every replica takes the same optimizer step.
    ``no_sync()`` skips the averaging (gradient accumulation); the next synchronised backward
    averages the accumulated gradients. ``find_unused_parameters``: parameters that took no
    part in this forward's output count as ready (their gradients as zero)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, skip_all_reduce_unused_params=False):
        super().__init__()
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        self.module = module
        self.process_group = dist._group(process_group)
        self.device_ids = list(device_ids) if device_ids is not None else None
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        self._named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._verify_replicas()
        if init_sync:
            self._sync_states()
        self._buckets = self._make_buckets()
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._name_of = {id(p): n for n, p in self._named}
        self._armed = False  # a synchronised backward is expected (set by forward)
        self._queued = False
        self._unfinished = None
        self.comm_stats = {"launch_s": 0.0, "wait_s": 0.0, "bytes": 0, "steps": 0}
        for _, p in self._named:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    # ------------------------------------------------------------------------- set up
    def _verify_replicas(self):
        signature = [(n, tuple(p.shape), str(p.dtype)) for n, p in self._named]
        everyone = [None] * self.process_group.size()
        dist.all_gather_object(everyone, signature, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != signature:
                mine = dict((n, (s, d)) for n, s, d in signature)
                other = dict((n, (s, d)) for n, s, d in theirs)
                diff = sorted(set(mine.items()) ^ set(other.items()))[:3]
                raise RuntimeError(
                    f"DistributedDataParallel: the model differs across ranks: rank "
                    f"{self.process_group.ranks[rank]} and rank "
                    f"{self.process_group.global_rank} disagree on {diff} (every rank must "
                    "build the same model)")

    def _sync_states(self):
        """Every replica starts from rank 0's parameters and buffers."""
        group = self.process_group
        if group.size() == 1:
            return
        for tensor in [p for _, p in self.module.named_parameters()] + list(
                self.module.buffers()):
            dist.broadcast(tensor.detach(), src=group.ranks[0], group=group)

    def _make_buckets(self):
        buckets, current, size = [], [], 0
        cap = min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)
        key = None
        for _, p in reversed(self._named):
            nbytes = p.numel() * p.element_size()
            pkey = (str(p.dtype), str(p.device))
            if current and (size + nbytes > cap or pkey != key):
                buckets.append(_Bucket(current, len(buckets)))
                current, size, cap = [], 0, self.bucket_bytes_cap
            current.append(p)
            size += nbytes
            key = pkey
        if current:
            buckets.append(_Bucket(current, len(buckets)))
        return buckets

    # ------------------------------------------------------------------------- forward
    def forward(self, *inputs, **kwargs):
        if self._unfinished:
            names = self._unfinished
            self._unfinished = None
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a "
                "new one. This error indicates that your module has parameters that were not "
                "used in producing loss. You can enable unused parameter detection by passing "
                "the keyword argument `find_unused_parameters=True` to "
                "`torch.nn.parallel.DistributedDataParallel`, and by making sure all "
                "`forward` function outputs participate in calculating loss. Parameters "
                f"which did not receive grad for rank {self.process_group.global_rank}: "
                f"{', '.join(names)}")
        if self.device_ids:
            device = _backend.to_device(self.device_ids[0])
            inputs = tuple(i.to(device) if isinstance(i, Tensor) else i for i in inputs)
        if self.broadcast_buffers and self.require_forward_param_sync and \
                self.process_group.size() > 1:
            for buffer in self.module.buffers():
                dist.broadcast(buffer, src=self.process_group.ranks[0],
                               group=self.process_group)
        output = self.module(*inputs, **kwargs)
        sync = is_grad_enabled() and self.require_backward_grad_sync
        self._armed = sync
        self._queued = False
        if sync:
            for bucket in self._buckets:
                bucket.reset()
            if self.find_unused_parameters:
                self._mark_unused(output)
        return output

    def _mark_unused(self, output):
        """Parameters the output's graph does not reach are ready now (zero gradients)."""
        reached = set()
        stack = [t.grad_fn for t in nested_tensors(output) if t.grad_fn is not None]
        seen = set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            variable = getattr(node, "variable", None)
            if variable is not None:
                reached.add(id(variable))
            stack.extend(child for child, _ in node.next_functions if child is not None)
        self._unused = [p for _, p in self._named if id(p) not in reached]
        for p in self._unused:
            self._mark(p, unused=True)

    # ------------------------------------------------------------------------ backward
    def _grad_ready(self, param):
        if not self._armed:
            return
        bucket = self._bucket_of[id(param)]
        if id(param) not in bucket.pending:
            return
        if not self._queued:  # the first gradient of this backward
            self._queued = True
            engine.queue_callback(self._finish)
        self._mark(param)

    def _mark(self, param, unused=False):
        bucket = self._bucket_of[id(param)]
        bucket.pending.discard(id(param))
        if not bucket.pending:
            self._launch(bucket)
        else:
            for other in self._buckets:  # let MPI progress the all-reduces already started
                if other.work is not None and not other.work._done:
                    other.work.is_completed()
                    break

    def _launch(self, bucket):
        start = time.perf_counter()
        first = bucket.params[0]
        xp = _backend.array_module(first._data)
        total = sum(bucket.sizes)
        if bucket.buffer is None:
            bucket.buffer = Tensor._make(xp.empty(total, dtype=first._data.dtype))
        flat = bucket.buffer._data
        world = self.process_group.size()
        offset = 0
        for p, n in zip(bucket.params, bucket.sizes):
            slot = flat[offset:offset + n]
            grad = p.grad
            if grad is None:
                slot[...] = 0
            else:
                xp.divide(grad._data.reshape(-1), world, out=slot)
            offset += n
        nccl = dist._nccl_of(self.process_group)
        if nccl is not None and bucket.buffer.is_cuda:
            bucket.work = nccl.all_reduce(bucket.buffer, dist.ReduceOp.SUM)
        else:
            bucket.work = self.process_group.all_reduce(bucket.buffer, dist.ReduceOp.SUM,
                                                        check=False)
        self.comm_stats["launch_s"] += time.perf_counter() - start
        self.comm_stats["bytes"] += flat.nbytes

    def _finish(self):
        """End of backward: every bucket launched (a missing gradient is an error as in
        torch, unless find_unused_parameters), waited for, written back."""
        self._armed = False
        missing = [self._name_of[i] for b in self._buckets for i in b.pending]
        if missing:
            self._unfinished = missing
            for bucket in self._buckets:
                if bucket.pending:
                    bucket.reset()
            return
        start = time.perf_counter()
        for bucket in self._buckets:
            bucket.work.wait()
        self.comm_stats["wait_s"] += time.perf_counter() - start
        self.comm_stats["steps"] += 1
        unused = {id(p) for p in getattr(self, "_unused", ())} if \
            self.find_unused_parameters else set()
        for bucket in self._buckets:
            flat = bucket.buffer._data
            offset = 0
            for p, n in zip(bucket.params, bucket.sizes):
                slot = flat[offset:offset + n].reshape(p._data.shape)
                offset += n
                if p.grad is None:
                    if id(p) in unused and not slot.any():
                        continue  # unused everywhere: left as None, as torch
                    p.grad = Tensor._make(slot if self.gradient_as_bucket_view else
                                          slot.copy())
                elif self.gradient_as_bucket_view:
                    p.grad = Tensor._make(slot)
                else:
                    p.grad._data[...] = slot
                    p.grad._bump_version()

    # --------------------------------------------------------------------------- misc
    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward only accumulates local gradients; the first synchronised
        backward after it averages what was accumulated."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _get_ddp_logging_data(self) -> dict:
        return {"world_size": self.process_group.size(), "bucket_count": len(self._buckets),
                "bucket_sizes": [sum(b.sizes) for b in self._buckets],
                "find_unused_parameters": self.find_unused_parameters}

    def join(self, *args, **kwargs):
        raise NotImplementedError("DistributedDataParallel.join (uneven inputs) is not "
                                  "available in dark; give every rank the same number of "
                                  "batches (DistributedSampler with drop_last does)")


