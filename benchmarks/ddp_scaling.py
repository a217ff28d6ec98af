"""DistributedDataParallel on this machine: the MNIST CNN (examples/mnist.py's) trained for
one epoch slice with 1 process x 2 threads, and with 2 ranks x 1 thread (mpiexec), the same
global batch; the communication per step (the all-reduce wait left after backward, the
packing), the bytes handed to MPI per step against the model's gradient size, and the
all-reduce cost model t(n) = alpha + n / beta fitted on this machine, with what it predicts
for P processes (ring all-reduce: 2 (P - 1) alpha + 2 (P - 1) / P * n / beta).

    python benchmarks/ddp_scaling.py [--samples 6400] [--batch 64]

Needs mpi4py and mpiexec (pip install dark[mpi]). Uses the real MNIST files when DARK_DATA
holds them, else random images (the timing does not depend on the pixels).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))


def data(samples):
    import dark
    from dark.data import datasets, transforms

    root = os.environ.get("DARK_DATA")
    if root and os.path.isdir(os.path.join(root, "MNIST", "raw")):
        ds = datasets.MNIST(root, train=True, transform=transforms.Compose([
            transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]))
        images = dark.stack([ds[i][0] for i in range(samples)])
        labels = dark.tensor([ds[i][1] for i in range(samples)])
        return images, labels, "MNIST"
    generator = dark.Generator().manual_seed(0)
    return (dark.randn(samples, 1, 28, 28, generator=generator),
            dark.randint(0, 10, (samples,), generator=generator), "random images")


def train_epoch(model, images, labels, batch, rank, world, steps_out):
    import dark
    import dark.nn.functional as F

    optimizer = dark.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    per_rank = batch // world
    start = time.perf_counter()
    steps = 0
    for first in range(0, len(images) - batch + 1, batch):
        lo = first + rank * per_rank
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images[lo:lo + per_rank]), labels[lo:lo + per_rank])
        loss.backward()
        optimizer.step()
        steps += 1
    steps_out.append(steps)
    return time.perf_counter() - start


def single(args):
    from mnist import CNN

    import dark

    dark.set_num_threads(2)
    images, labels, source = data(args.samples)
    dark.manual_seed(0)
    model = CNN()
    train_epoch(model, images[:args.batch * 3], labels[:args.batch * 3], args.batch, 0, 1, [])
    steps = []
    seconds = min(train_epoch(model, images, labels, args.batch, 0, 1, steps)
                  for _ in range(args.repeat))
    grad_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"seconds": seconds, "steps": steps[-1], "source": source,
            "grad_bytes": grad_bytes}


def worker(args):
    from mnist import CNN

    import dark
    import dark.distributed as dist
    from dark.nn.parallel import DistributedDataParallel as DDP

    dark.set_num_threads(1)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    images, labels, _ = data(args.samples)
    result = {}
    for name, cap in (("buckets of 0.1 MB (overlapped)", 0.1), ("one bucket (at the end)",
                                                                100.0)):
        dark.manual_seed(0)
        model = DDP(CNN(), bucket_cap_mb=cap)
        if cap > 1:  # one bucket: the first-bucket limit too
            from dark.nn.parallel import distributed as ddp_module

            ddp_module._FIRST_BUCKET_BYTES, keep = 2**30, ddp_module._FIRST_BUCKET_BYTES
            model = DDP(CNN(), bucket_cap_mb=cap)
            ddp_module._FIRST_BUCKET_BYTES = keep
        train_epoch(model, images[:args.batch * 3], labels[:args.batch * 3], args.batch,
                    rank, world, [])
        best = None
        for _ in range(args.repeat):
            model.comm_stats.update(launch_s=0.0, wait_s=0.0, bytes=0, steps=0)
            steps = []
            dist.barrier()
            seconds = train_epoch(model, images, labels, args.batch, rank, world, steps)
            stats = dict(model.comm_stats)
            if best is None or seconds < best["seconds"]:
                best = {"seconds": seconds, "steps": steps[-1], "buckets": len(model._buckets),
                        **stats}
        result[name] = best
    # the all-reduce alone, blocking, for a range of sizes: t(n) = alpha + n / beta
    sizes = [2**k for k in range(8, 23, 2)]  # 256 B .. 4 MiB of float32
    times = []
    for nbytes in sizes:
        t = dark.zeros(nbytes // 4)
        for _ in range(3):
            dist.all_reduce(t)
        reps = 20 if nbytes < 2**20 else 5
        dist.barrier()
        start = time.perf_counter()
        for _ in range(reps):
            dist.all_reduce(t)
        times.append((time.perf_counter() - start) / reps)
    result["allreduce"] = {"bytes": sizes, "seconds": times}
    everything = [None] * world
    dist.all_gather_object(everything, result)
    if rank == 0:
        with open(args.worker, "w") as f:
            json.dump(everything, f)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=6400)
    parser.add_argument("--batch", type=int, default=64, help="global batch")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    from dark.distributed.run import find_mpiexec

    one = single(args)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "ranks.json")
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
        subprocess.run([find_mpiexec(), "-n", "2", sys.executable, os.path.abspath(__file__),
                        "--worker", out, "--samples", str(args.samples), "--batch",
                        str(args.batch), "--repeat", str(args.repeat)], check=True, env=env)
        with open(out) as f:
            ranks = json.load(f)
    print(f"MNIST CNN, {args.samples} {one['source']}, global batch {args.batch}, "
          f"{one['steps']} steps; gradient size {one['grad_bytes'] / 2**20:.3f} MiB")
    print(f"1 process x 2 threads: {one['seconds']:.2f} s "
          f"({one['seconds'] / one['steps'] * 1e3:.1f} ms a step)")
    for name in ranks[0]:
        if name == "allreduce":
            continue
        slowest = max(r[name]["seconds"] for r in ranks)
        stats = ranks[0][name]
        print(f"2 ranks x 1 thread, {name}, {stats['buckets']} bucket(s): {slowest:.2f} s "
              f"({slowest / stats['steps'] * 1e3:.1f} ms a step, {one['seconds'] / slowest:.2f}x "
              f"the single process); per step: waiting for the all-reduce after backward "
              f"{stats['wait_s'] / stats['steps'] * 1e3:.2f} ms, packing "
              f"{stats['launch_s'] / stats['steps'] * 1e3:.2f} ms, handed to MPI "
              f"{stats['bytes'] / stats['steps'] / 2**20:.3f} MiB "
              f"({stats['bytes'] / stats['steps'] / one['grad_bytes']:.2f}x the gradients)")
    sizes = np.array(ranks[0]["allreduce"]["bytes"], float)
    seconds = np.array(ranks[0]["allreduce"]["seconds"])
    beta_inv, alpha = np.polyfit(sizes, seconds, 1)
    print("all_reduce, 2 ranks (blocking): " + ", ".join(
        f"{int(b) // 1024 if b >= 1024 else int(b)}{'KiB' if b >= 1024 else 'B'} "
        f"{s * 1e6:.0f}us" for b, s in zip(sizes, seconds)))
    print(f"fit t(n) = alpha + n / beta: alpha = {alpha * 1e6:.1f} us, beta = "
          f"{1 / beta_inv / 2**30:.2f} GiB/s (shared memory here; a network is slower)")
    # the ring all-reduce of 2 processes moves 2 (P-1)/P n = n per rank; t_2 = alpha + n/beta
    # is one step of the ring: alpha_step = alpha / 2, beta as measured for n bytes
    n = one["grad_bytes"]
    for p in (2, 4, 8, 16, 64):
        ring = 2 * (p - 1) * alpha / 2 + 2 * (p - 1) / p * n * beta_inv
        compute = one["seconds"] / one["steps"] * 2 / p  # per-step compute at 1 thread / rank
        print(f"  P = {p:3d}: all-reduce of the gradients {ring * 1e3:.2f} ms a step "
              f"against {compute * 1e3:.1f} ms of compute per rank (global batch fixed)")


if __name__ == "__main__":
    main()
