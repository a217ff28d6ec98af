"""The programs tests/test_distributed.py runs on several processes (under mpiexec, the
launcher or dark.multiprocessing.spawn): `python tests/dist_worker.py SCENARIO [ARGS]`.
Each checks its results itself (assertions against numpy) and prints "RANK ok SCENARIO"."""
from __future__ import annotations

import datetime
import os
import sys

import numpy as np

import dark
import dark.distributed as dist
from dark import nn
from dark.nn.parallel import DistributedDataParallel as DDP

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
          "complex64"]
try:
    import ml_dtypes  # noqa: F401 - dark.bfloat16 tensors need it

    DTYPES.append("bfloat16")
except ImportError:
    pass


def values(rank, dtype, shape=(2, 3)):
    """Rank-dependent inputs every rank can recompute."""
    base = (np.arange(int(np.prod(shape))).reshape(shape) % 4 + rank + 1)
    if dtype == "bool":
        return (base + rank) % 2 == 0
    return base.astype(dtype)


def make(array):
    """A tensor of ``array`` (bfloat16 through float32: from_numpy takes numpy's dtypes)."""
    if array.dtype.name == "bfloat16":
        return dark.from_numpy(array.astype(np.float32)).to(dark.bfloat16)
    return dark.from_numpy(array.copy())


def check(got, expected, what):
    got = got.numpy() if isinstance(got, dark.Tensor) else got
    if got.dtype.name == "bfloat16":
        ok = np.allclose(got.astype(np.float32), np.asarray(expected).astype(np.float32),
                         rtol=1e-2, atol=1e-2)
        assert ok and np.asarray(expected).dtype == got.dtype, f"{what}: {got!r}"
        return
    if got.dtype.kind == "f" or got.dtype.kind == "c":
        tol = 1e-2 if got.dtype == np.float16 else 1e-6
        ok = np.allclose(got, expected, rtol=tol, atol=tol)
    else:
        ok = np.array_equal(got, expected)
    assert ok and got.dtype == np.asarray(expected).dtype, \
        f"{what}: got {got!r}, expected {np.asarray(expected)!r}"


def collectives():
    dist.init_process_group("gloo")
    r, n = dist.get_rank(), dist.get_world_size()
    ops = {"SUM": np.sum, "PRODUCT": np.prod, "MIN": np.min, "MAX": np.max}
    for dtype in DTYPES:
        stacked = np.stack([values(k, dtype) for k in range(n)])
        names = ["SUM", "PRODUCT", "MIN", "MAX"]
        if dtype not in ("bool", "complex64") and not dtype.startswith(("float", "bfloat")):
            names += ["BAND", "BOR", "BXOR"]
        if dtype.startswith(("float", "bfloat", "complex")):
            names.append("AVG")
        if dtype == "complex64":
            names = ["SUM", "PRODUCT", "AVG"]
        for name in names:
            t = make(values(r, dtype))
            dist.all_reduce(t, op=getattr(dist.ReduceOp, name))
            if dtype == "bool":
                expected = {"SUM": np.any, "MAX": np.any, "MIN": np.all,
                            "PRODUCT": np.all}[name](stacked, axis=0)
            elif name == "AVG":
                expected = (stacked.sum(0) / n).astype(dtype)
            elif name in ("BAND", "BOR", "BXOR"):
                ufunc = {"BAND": np.bitwise_and, "BOR": np.bitwise_or,
                         "BXOR": np.bitwise_xor}[name]
                expected = ufunc.reduce(stacked, axis=0)
            else:
                expected = ops[name](stacked, axis=0).astype(dtype)
            check(t, expected, f"all_reduce {name} {dtype}")
        # broadcast / reduce / gathers and scatters move every dtype
        t = make(values(r, dtype))
        dist.broadcast(t, src=n - 1)
        check(t, values(n - 1, dtype), f"broadcast {dtype}")
        if dtype != "bool":
            t = make(values(r, dtype))
            dist.reduce(t, dst=1, op=dist.ReduceOp.SUM)
            if r == 1:
                check(t, stacked.sum(0).astype(dtype), f"reduce {dtype}")
        out = [make(np.zeros((2, 3), dtype)) for _ in range(n)]
        dist.all_gather(out, make(values(r, dtype)))
        for k in range(n):
            check(out[k], values(k, dtype), f"all_gather {dtype}")
        flat = make(np.zeros((2 * n, 3), dtype))
        dist.all_gather_into_tensor(flat, make(values(r, dtype)))
        check(flat, np.concatenate([values(k, dtype) for k in range(n)]),
              f"all_gather_into_tensor {dtype}")
        gathered = [make(np.zeros((2, 3), dtype)) for _ in range(n)] if r == 0 \
            else None
        dist.gather(make(values(r, dtype)), gathered, dst=0)
        if r == 0:
            for k in range(n):
                check(gathered[k], values(k, dtype), f"gather {dtype}")
        mine = make(np.zeros((2, 3), dtype))
        dist.scatter(mine, [make(values(10 + k, dtype)) for k in range(n)]
                     if r == 0 else None, src=0)
        check(mine, values(10 + r, dtype), f"scatter {dtype}")
    # reduce_scatter(_tensor), all_to_all(_single), uneven splits
    for dtype in ("float32", "int64"):
        inputs = [dark.from_numpy(values(r * n + k, dtype)) for k in range(n)]
        out = make(np.zeros((2, 3), dtype))
        dist.reduce_scatter(out, inputs)
        check(out, sum(values(k * n + r, dtype) for k in range(n)).astype(dtype),
              f"reduce_scatter {dtype}")
        big = dark.from_numpy(np.concatenate([values(r * n + k, dtype) for k in range(n)]))
        dist.reduce_scatter_tensor(out, big)
        check(out, sum(values(k * n + r, dtype) for k in range(n)).astype(dtype),
              f"reduce_scatter_tensor {dtype}")
        outs = [make(np.zeros((2, 3), dtype)) for _ in range(n)]
        dist.all_to_all(outs, [dark.from_numpy(values(100 * r + k, dtype)) for k in range(n)])
        for k in range(n):
            check(outs[k], values(100 * k + r, dtype), f"all_to_all {dtype}")
    # all_to_all_single with uneven splits: rank r sends k+1 rows to rank k
    rows_in = [k + 1 for k in range(n)]
    source = dark.from_numpy(np.full((sum(rows_in), 2), r, np.float32))
    target = dark.from_numpy(np.zeros(((r + 1) * n, 2), np.float32))
    dist.all_to_all_single(target, source, [r + 1] * n, rows_in)
    check(target, np.repeat(np.arange(n, dtype=np.float32), r + 1)[:, None].repeat(2, 1),
          "all_to_all_single uneven")
    # non-contiguous and async
    base = dark.from_numpy(np.arange(12.0).reshape(3, 4) * (r + 1))
    view = base[:, ::2]
    dist.all_reduce(view)
    expected = np.arange(12.0).reshape(3, 4)
    expected[:, ::2] *= sum(k + 1 for k in range(n))
    expected[:, 1::2] *= r + 1
    check(base, expected, "all_reduce of a strided view")
    works = [dist.all_reduce(dark.ones(4) * (r + 1), async_op=True) for _ in range(3)]
    for w in works:
        w.wait()
        assert w.is_completed()
    check(works[0].result()[0], np.full(4, sum(k + 1 for k in range(n)), np.float32),
          "async all_reduce result")
    # point to point, objects, barrier, groups
    if r == 0:
        for k in range(1, n):
            dist.send(dark.full((3,), float(k)), dst=k)
    else:
        t = dark.zeros(3)
        assert dist.recv(t, src=0) == 0
        check(t, np.full(3, float(r), np.float32), "send/recv")
    if r == 1:
        request = dist.isend(dark.arange(4.0), dst=0)
        request.wait()
    elif r == 0:
        t = dark.zeros(4)
        request = dist.irecv(t)
        request.wait()
        check(t, np.arange(4.0, dtype=np.float32), "isend/irecv")
    objects = [None] * n
    dist.all_gather_object(objects, {"rank": r, "list": list(range(r))})
    assert objects == [{"rank": k, "list": list(range(k))} for k in range(n)], objects
    box = [f"from {r}", r] if r == 0 else [None, None]
    dist.broadcast_object_list(box, src=0)
    assert box == ["from 0", 0], box
    dist.barrier()
    sub = dist.new_group([0, n - 1])
    if r in (0, n - 1):
        t = dark.tensor([float(r)])
        dist.all_reduce(t, group=sub)
        check(t, np.array([float(n - 1)], np.float32), "new_group all_reduce")
        assert dist.get_world_size(sub) == 2
    else:
        assert sub is dist.GroupMember.NON_GROUP_MEMBER
    # errors: mismatched shapes, bad root, integer AVG, init twice
    try:
        dist.all_reduce(dark.ones(2 + r))
        raise AssertionError("mismatched shapes were not refused")
    except RuntimeError as error:
        assert "differ across ranks" in str(error) and "rank 1 has shape (3,)" in str(error), \
            error
    try:
        dist.all_reduce(dark.ones(2, dtype=dark.int64), op=dist.ReduceOp.AVG)
        raise AssertionError("integer AVG was not refused")
    except RuntimeError as error:
        assert "can't be cast to the desired output type Long" in str(error)
    try:
        dist.init_process_group("gloo")
        raise AssertionError("a second init was not refused")
    except ValueError as error:
        assert str(error) == "trying to initialize the default process group twice!"
    assert dist.get_backend() == "gloo" and dist.is_initialized()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    print(f"{r} ok collectives", flush=True)


class Net(nn.Module):
    def __init__(self, dtype, unused=False, norm=False):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.bn = nn.BatchNorm1d(32) if norm else nn.Identity()
        self.fc2 = nn.Linear(32, 3)
        self.extra = nn.Linear(3, 3) if unused else None
        self.to(dtype)

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x)).tanh())


def ddp_equivalence(dtype_name="float64", accumulate="0"):
    """20 SGD and 20 Adam steps of DDP on the rank's share of each batch equal one process's
    steps on the whole batch (the reference runs in every rank, on the global batch)."""
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
    r, n = dist.get_rank(), dist.get_world_size()
    dtype = getattr(dark, dtype_name)
    tol = 1e-10 if dtype_name == "float64" else 1e-5
    micro = 2 if accumulate == "1" else 1
    generator = dark.Generator().manual_seed(1)
    X = dark.randn(20, micro, 4 * n, 10, generator=generator).to(dtype)
    Y = dark.randint(0, 3, (20, micro, 4 * n), generator=generator)
    for optimizer_name in ("sgd", "adam"):
        def optimizer(parameters, optimizer_name=optimizer_name):
            if optimizer_name == "sgd":
                return dark.optim.SGD(parameters, lr=0.1, momentum=0.9)
            return dark.optim.Adam(parameters, lr=1e-2)

        for view in (False, True):
            dark.manual_seed(r)  # different initial weights: DDP must broadcast rank 0's
            model = DDP(Net(dtype), bucket_cap_mb=0.001, gradient_as_bucket_view=view)
            dark.manual_seed(0)
            reference = Net(dtype)
            reference.load_state_dict(model.module.state_dict())
            opt, ref_opt = optimizer(model.parameters()), optimizer(reference.parameters())
            for step in range(20):
                ref_opt.zero_grad()
                for m in range(micro):
                    loss = nn.functional.cross_entropy(reference(X[step, m]), Y[step, m])
                    (loss / micro).backward()
                ref_opt.step()
                opt.zero_grad()
                for m in range(micro):
                    xs = X[step, m, r * 4:(r + 1) * 4]
                    ys = Y[step, m, r * 4:(r + 1) * 4]
                    if m < micro - 1:
                        with model.no_sync():
                            (nn.functional.cross_entropy(model(xs), ys) / micro).backward()
                    else:
                        (nn.functional.cross_entropy(model(xs), ys) / micro).backward()
                opt.step()
            worst = max((a - b).abs().max().item() for a, b in
                        zip(reference.parameters(), model.module.parameters()))
            assert worst <= tol, f"{optimizer_name} {dtype_name} view={view}: {worst}"
            assert len(model._buckets) > 1
    assert list(model.state_dict())[0] == "module.fc1.weight"
    # buffers: each forward starts from rank 0's (BatchNorm's running statistics)
    normed = DDP(Net(dtype, norm=True))
    normed(dark.randn(4, 10).to(dtype) + r)  # each rank's statistics move differently
    with dark.no_grad():
        normed.eval()
        normed(dark.randn(2, 10).to(dtype))
    stats = [None] * n
    dist.all_gather_object(stats, normed.module.bn.running_mean.tolist())
    assert all(s == stats[0] for s in stats), stats
    dist.destroy_process_group()
    print(f"{r} ok ddp {dtype_name} accumulate={accumulate}", flush=True)


def ddp_unused():
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    r = dist.get_rank()
    model = DDP(Net(dark.float32, unused=True), find_unused_parameters=True)
    loss = model(dark.randn(4, 10)).sum()
    loss.backward()
    assert model.module.extra.weight.grad is None
    assert model.module.fc1.weight.grad is not None
    strict = DDP(Net(dark.float32, unused=True))
    strict(dark.randn(4, 10)).sum().backward()
    try:
        strict(dark.randn(4, 10))
        raise AssertionError("the unused parameter was not reported")
    except RuntimeError as error:
        assert "Expected to have finished reduction in the prior iteration" in str(error)
        assert "extra.weight" in str(error)
    dist.destroy_process_group()
    print(f"{r} ok ddp_unused", flush=True)


def die():
    """Rank 1 dies after the first all-reduce; the others must fail fast, naming it."""
    import time

    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=30))
    r = dist.get_rank()
    t = dark.ones(2)
    dist.all_reduce(t)
    if r == 1:
        os._exit(7)
    start = time.monotonic()
    try:
        dist.all_reduce(t)
    except RuntimeError as error:
        print(f"{r} failed after {time.monotonic() - start:.1f}s: {error}", flush=True)
        sys.exit(3)
    raise AssertionError("the all_reduce with a dead rank returned")


def timeout():
    """Rank 1 is stuck (sleeps) past the group's timeout: rank 0's all_reduce fails at the
    timeout with an error saying so, instead of waiting forever."""
    import time

    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=2))
    r = dist.get_rank()
    if r == 1:
        time.sleep(6)
        sys.exit(0)
    start = time.monotonic()
    try:
        dist.all_reduce(dark.ones(2))
    except RuntimeError as error:
        print(f"{r} failed after {time.monotonic() - start:.1f}s: {error}", flush=True)
        sys.exit(3)


def cuda(backend="gloo"):
    """CUDA tensors: through MPI's host staging ("gloo") or NCCL ("nccl": one GPU per rank)."""
    dist.init_process_group(backend)
    r, n = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{r % dark.cuda.device_count()}" if backend == "nccl" else "cuda"
    t = dark.full((1000,), float(r + 1), device=device)
    dist.all_reduce(t)
    check(t.cpu(), np.full(1000, float(sum(range(1, n + 1))), np.float32), f"{backend} sum")
    t = dark.arange(6.0, device=device) * (r + 1)
    dist.broadcast(t, src=n - 1)
    check(t.cpu(), np.arange(6.0, dtype=np.float32) * n, f"{backend} broadcast")
    work = dist.all_reduce(dark.ones(4, device=device), op=dist.ReduceOp.AVG, async_op=True)
    work.wait()
    check(work.result()[0].cpu(), np.ones(4, np.float32), f"{backend} async avg")
    model = DDP(Net(dark.float32).to(device), device_ids=[device] if backend == "nccl" else None)
    model(dark.randn(4, 10, device=device)).sum().backward()
    grads = [None] * n
    dist.all_gather_object(grads, model.module.fc1.weight.grad.cpu().tolist())
    assert all(g == grads[0] for g in grads)
    dist.destroy_process_group()
    print(f"{r} ok cuda {backend}", flush=True)


def spawned(rank, world_size, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    t = dark.ones(3) * (rank + 1)
    dist.all_reduce(t)
    assert t.tolist() == [float(sum(range(1, world_size + 1)))] * 3
    dist.destroy_process_group()
    print(f"{rank} ok spawned", flush=True)
    if world_size == 2:  # and DDP equals one process here too
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size))
        ddp_equivalence("float64", "1")


if __name__ == "__main__":
    scenario, *rest = sys.argv[1:]
    {"collectives": collectives, "ddp": ddp_equivalence, "ddp_unused": ddp_unused,
     "die": die, "timeout": timeout, "cuda": cuda}[scenario](*rest)
